//! A PNG page to pixels a row at a time through [`Reducer`] (the `png` crate's streaming reader, every
//! colour type expanded to 8-bit samples): the page is never held whole next to its RGB copy, and a page
//! with more resolution than reading needs comes out reduced (see [`reduce::factor`]). An interlaced
//! PNG, whose rows come in seven passes, is decoded whole first and reduced after (scanners do not write them).

use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use png::{ColorType, Transformations};

use super::reduce::{self, samples_to_rgb, Reducer};
use super::{check_before_decoding, decode_checked, ScanFormat, SourceOptions};

/// Decodes a PNG page, `dpi` its resolution when stated, reduced as `options` say ([`reduce::factor`]).
/// Returns the (maybe reduced) image and the factor it was reduced by.
pub(super) fn decode(data: &[u8], options: SourceOptions, dpi: Option<f32>) -> Result<(RgbImage, u32), String> {
    let max_pixels = options.max_pixels;
    let (w, h) = check_before_decoding(data, ScanFormat::Png, max_pixels)?;
    let failed = |e: png::DecodingError| format!("cannot decode the Png image: {e}");
    let mut decoder = png::Decoder::new(Cursor::new(data));
    decoder.set_transformations(Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(failed)?;
    let k = reduce::factor(w, h, dpi, options.decode_dpi, options.keep_pixels);
    if reader.info().interlaced {
        let image = decode_checked(data, ImageFormat::Png, (w, h), max_pixels)?;
        return Ok((if k > 1 { crate::raster::downscale_rgb(&image, k) } else { image }, k));
    }
    let (colour, _) = reader.output_color_type();
    let channels = match colour {
        ColorType::Grayscale => 1,
        ColorType::GrayscaleAlpha => 2,
        ColorType::Rgb => 3,
        ColorType::Rgba => 4,
        // EXPAND turns a palette into RGB(A); anything else is not a PNG this crate reads.
        ColorType::Indexed => return Err("cannot decode the Png image: its palette was not expanded".into()),
    };
    let mut reducer = Reducer::new(w, h, k);
    let width = w as usize;
    let mut rgb = vec![0u8; width * 3];
    while let Some(row) = reader.next_row().map_err(failed)? {
        let samples = row.data();
        if samples.len() < width * channels {
            return Err("cannot decode the Png image: a row is shorter than the image".into());
        }
        samples_to_rgb(samples.iter().copied(), channels, &mut rgb);
        reducer.push(&rgb);
    }
    let image = reducer.finish().map_err(|reason| format!("the Png image is truncated: {reason}"))?;
    Ok((image, k))
}
