//! JPEG page data to pixels. libjpeg-turbo (through `turbojpeg`, built from its bundled source) decodes
//! in the DCT domain at the smallest of its scales M/8 that keeps the page at the resolution reading
//! needs ([`super::SourceOptions::decode_dpi`]): a 600-dpi scan comes out at 300 dpi with a quarter of the
//! pixels, for less time and memory than decoding it whole. What libjpeg-turbo does not decode to RGB
//! (CMYK, YCCK) or refuses goes to the `image` crate's decoder, whole. The parent module's
//! [`check_before_decoding`] runs first for both; this module adds its count of a progressive JPEG's scans.

use image::{GrayImage, ImageFormat, RgbImage};
use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor};

use crate::pixels::PagePixels;

use super::{check_before_decoding, decode_checked, jpeg_segments, ScanFormat};

/// Scans a progressive JPEG may have. Each scan is a pass over the whole image's coefficients, so a small
/// file of thousands of (nearly empty) scans costs minutes of CPU (libjpeg-turbo's own advice is to cap
/// them); encoders write about 10.
pub(super) const MAX_SCANS: usize = 100;

/// A scaled page may fall this far below `decode_dpi`: a 590-dpi scan still halves to 295.
const DPI_SLACK: f32 = 0.02;

/// Decodes a JPEG page whose resolution is `dpi`, at a reduced scale that keeps at least `decode_dpi`
/// (`f32::INFINITY`: whole), and in any case at most `keep_pixels` large. Returns the image and its dpi. Refused before decoding: what
/// [`check_before_decoding`] refuses (checked on the full size). When both decoders fail, the reason
/// gives both.
pub(super) fn decode(data: &[u8], dpi: f32, decode_dpi: f32, max_pixels: u64, keep_pixels: u64) -> Result<(PagePixels, f32), String> {
    let size = check_before_decoding(data, ScanFormat::Jpeg, max_pixels)?;
    let turbo_reason = match decode_scaled(data, dpi, decode_dpi, keep_pixels) {
        Ok(decoded) => return Ok(decoded),
        Err(reason) => reason,
    };
    match decode_checked(data, ImageFormat::Jpeg, size, max_pixels) {
        Ok(image) => Ok((PagePixels::Rgb(image), dpi)),
        Err(reason) => Err(format!("{turbo_reason}; {reason}")),
    }
}

/// libjpeg-turbo's decoding at the scale [`scale_for`] picks, straight into RGB, or for a grey JPEG into
/// grey (a third of the memory, and no pass spreading it to RGB).
fn decode_scaled(data: &[u8], dpi: f32, decode_dpi: f32, keep_pixels: u64) -> Result<(PagePixels, f32), String> {
    let failed = |e: turbojpeg::Error| format!("libjpeg-turbo cannot decode the JPEG: {e}");
    let mut decompressor = Decompressor::new().map_err(failed)?;
    let header = decompressor.read_header(data).map_err(failed)?;
    if matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
        return Err(format!("libjpeg-turbo does not decode a {:?} JPEG to RGB", header.colorspace));
    }
    // A lossless JPEG cannot be scaled in the DCT domain: it has none.
    let supported = Decompressor::supported_scaling_factors();
    let scale = if header.is_lossless {
        ScalingFactor::ONE
    } else {
        // A large-format page is decoded at most `keep_pixels` large (at a lower dpi).
        within_pixels((header.width, header.height), scale_for(dpi, decode_dpi, &supported), keep_pixels, &supported)
    };
    decompressor.set_scaling_factor(scale).map_err(failed)?;
    decompressor.set_scan_limit(MAX_SCANS as u32).map_err(failed)?;
    let scaled = header.scaled(scale);
    let (width, height) = (scaled.width, scaled.height);
    let (Ok(w), Ok(h)) = (u32::try_from(width), u32::try_from(height)) else {
        return Err(format!("libjpeg-turbo: {width}x{height} pixels is too large"));
    };
    let dpi = dpi * scale.num() as f32 / scale.denom() as f32;
    let grey = header.colorspace == Colorspace::Gray;
    let (channels, format) = if grey { (1, PixelFormat::GRAY) } else { (3, PixelFormat::RGB) };
    let mut pixels = vec![0u8; channels * width * height];
    let output = turbojpeg::Image { pixels: pixels.as_mut_slice(), width, pitch: channels * width, height, format };
    decompressor.decompress(data, output).map_err(failed)?;
    let misfit = "libjpeg-turbo: the pixel buffer does not fit the image";
    let image = if grey {
        PagePixels::Gray(GrayImage::from_raw(w, h, pixels).ok_or(misfit)?)
    } else {
        PagePixels::Rgb(RgbImage::from_raw(w, h, pixels).ok_or(misfit)?)
    };
    Ok((image, dpi))
}

/// The smallest of the `supported` scales M/8 at or under 1 at which a page of `dpi` keeps at least
/// `decode_dpi` (less [`DPI_SLACK`]); 1 when none is smaller, or when `decode_dpi` is not finite.
fn scale_for(dpi: f32, decode_dpi: f32, supported: &[ScalingFactor]) -> ScalingFactor {
    if !decode_dpi.is_finite() || !dpi.is_finite() || dpi <= decode_dpi {
        return ScalingFactor::ONE;
    }
    let floor = decode_dpi * (1.0 - DPI_SLACK);
    reductions(supported).filter(|f| dpi * f.num() as f32 / f.denom() as f32 >= floor).min_by_key(eighths).unwrap_or(ScalingFactor::ONE)
}

/// The `supported` scales that are multiples of 1/8 up to 1 (libjpeg-turbo also lists upscaling ones, and
/// gives them in lowest terms).
fn reductions(supported: &[ScalingFactor]) -> impl Iterator<Item = ScalingFactor> + '_ {
    supported.iter().copied().filter(|f| f.num() <= f.denom() && (8 * f.num()) % f.denom() == 0)
}

/// A scale M/8 as M.
fn eighths(f: &ScalingFactor) -> usize {
    8 * f.num() / f.denom()
}

/// `scale`, or when a `width` x `height` page decoded at it has more than `cap` pixels, the largest of
/// the `supported` eighths under it that keeps within `cap` (the smallest eighth when none does).
fn within_pixels((width, height): (usize, usize), scale: ScalingFactor, cap: u64, supported: &[ScalingFactor]) -> ScalingFactor {
    let pixels = |f: &ScalingFactor| {
        let (w, h) = ((width * f.num()).div_ceil(f.denom()), (height * f.num()).div_ceil(f.denom()));
        w as u64 * h as u64
    };
    if pixels(&scale) <= cap {
        return scale;
    }
    let under: Vec<ScalingFactor> = reductions(supported).filter(|f| eighths(f) < eighths(&scale)).collect();
    under
        .iter()
        .copied()
        .filter(|f| pixels(f) <= cap)
        .max_by_key(eighths)
        .or_else(|| under.iter().copied().min_by_key(eighths))
        .unwrap_or(scale)
}

/// Refuses a progressive JPEG of more than [`MAX_SCANS`] scans (a CPU bomb). A baseline JPEG is not
/// counted: scanners write those, and walking their data would cost time on every page.
pub(super) fn check_scans(data: &[u8]) -> Result<(), String> {
    // SOF2, SOF6, SOF10, SOF14: the progressive frames (Huffman or arithmetic, plain or differential).
    let progressive = jpeg_segments(data).any(|(marker, _)| matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE));
    if !progressive {
        return Ok(());
    }
    let scans = count_scans(data);
    if scans > MAX_SCANS {
        return Err(format!(
            "the progressive JPEG has {scans} scans, over the limit of {MAX_SCANS} (decoding it would take far longer than a page should)"
        ));
    }
    Ok(())
}

/// Start-of-scan markers in a JPEG. Walks the marker segments by their lengths and skips each scan's
/// entropy-coded data (where 0xFF is followed by a stuffed 0x00 or a restart marker), so bytes inside a
/// segment (an EXIF thumbnail's own scan) are never counted. Stray bytes where a marker should be are
/// skipped up to the next 0xFF, as libjpeg does.
pub(super) fn count_scans(data: &[u8]) -> usize {
    let next_ff = |from: usize| data.get(from..).and_then(|rest| rest.iter().position(|&b| b == 0xFF)).map(|i| from + i);
    let mut scans = 0;
    // After SOI.
    let mut at = 2;
    loop {
        let Some(ff) = next_ff(at) else { return scans };
        at = ff;
        // Fill bytes (0xFF) may precede a marker.
        while data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = data.get(at + 1) else { return scans };
        match marker {
            0xD9 => return scans,
            // Standalone markers (and a stray stuffed zero): no length follows.
            0x00 | 0x01 | 0xD0..=0xD8 => {
                at += 2;
                continue;
            }
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (data.get(at + 2), data.get(at + 3)) else { return scans };
        at += 2 + u16::from_be_bytes([hi, lo]) as usize;
        if marker != 0xDA {
            continue;
        }
        scans += 1;
        // The entropy-coded data runs to the first marker that is neither stuffing nor a restart.
        loop {
            let Some(ff) = next_ff(at) else { return scans };
            match data.get(ff + 1) {
                None => return scans,
                Some(0x00 | 0xD0..=0xD7) => at = ff + 2,
                Some(_) => {
                    at = ff;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::RENDER_MAX_PIXELS;

    #[test]
    fn the_scale_is_the_smallest_eighth_that_keeps_the_decode_dpi() {
        let supported = Decompressor::supported_scaling_factors();
        assert_eq!(eighths(&scale_for(600.0, 300.0, &supported)), 4);
        assert_eq!(eighths(&scale_for(590.0, 300.0, &supported)), 4, "2 % slack: 295 dpi is enough");
        assert_eq!(eighths(&scale_for(400.0, 300.0, &supported)), 6);
        assert_eq!(eighths(&scale_for(1200.0, 300.0, &supported)), 2);
        assert_eq!(eighths(&scale_for(300.0, 300.0, &supported)), 8);
        assert_eq!(eighths(&scale_for(320.0, 300.0, &supported)), 8, "7/8 of 320 is 280: under 294");
        assert_eq!(eighths(&scale_for(200.0, 300.0, &supported)), 8, "never enlarged");
        assert_eq!(eighths(&scale_for(600.0, f32::INFINITY, &supported)), 8);
    }

    #[test]
    fn without_six_eighths_a_400_dpi_page_is_decoded_whole() {
        let only_halves = [ScalingFactor::ONE, ScalingFactor::ONE_HALF, ScalingFactor::ONE_QUARTER];
        assert_eq!(eighths(&scale_for(400.0, 300.0, &only_halves)), 8);
        assert_eq!(eighths(&scale_for(600.0, 300.0, &only_halves)), 4);
    }

    #[test]
    fn a_large_format_page_is_decoded_no_larger_than_a_rendered_page() {
        let supported = Decompressor::supported_scaling_factors();
        // A4 at 300 dpi (8.7 MP) stays whole; A3 at 300 dpi (17.4 MP) goes to 6/8 (9.8 MP).
        assert_eq!(eighths(&within_pixels((2480, 3508), ScalingFactor::ONE, 10_000_000, &supported)), 8);
        assert_eq!(eighths(&within_pixels((3508, 4961), ScalingFactor::ONE, 10_000_000, &supported)), 6);
        // A poster at 600 dpi halved for its dpi is still far too large: 1/8.
        assert_eq!(eighths(&within_pixels((15000, 30000), ScalingFactor::ONE_HALF, 10_000_000, &supported)), 1);
        assert_eq!(eighths(&within_pixels((9000, 12000), ScalingFactor::ONE_HALF, 10_000_000, &supported)), 2);
    }

    #[test]
    fn a_large_page_decodes_within_the_rendered_pages_pixels_at_a_lower_dpi() {
        let page = image::RgbImage::from_pixel(4000, 3200, image::Rgb([240, 240, 240]));
        let mut data = Vec::new();
        page.write_to(&mut std::io::Cursor::new(&mut data), ImageFormat::Jpeg).expect("encoded");
        let (image, dpi) = decode(&data, 300.0, 300.0, 60_000_000, RENDER_MAX_PIXELS).expect("decoded");
        assert!(u64::from(image.width()) * u64::from(image.height()) <= RENDER_MAX_PIXELS, "{}x{}", image.width(), image.height());
        assert_eq!((image.width(), image.height(), dpi), (3500, 2800, 262.5));
        // Export (whole, within its own larger cap) keeps every pixel.
        let (image, _) = decode(&data, 300.0, f32::INFINITY, 60_000_000, crate::source::EXPORT_MAX_PIXELS).expect("decoded");
        assert_eq!((image.width(), image.height()), (4000, 3200));
        // Over export's cap it is reduced too: within 8 MP, 7/8 (9.8 MP) is too large, 6/8 (7.2 MP) fits.
        let (image, _) = decode(&data, 300.0, f32::INFINITY, 60_000_000, 8_000_000).expect("decoded");
        assert_eq!((image.width(), image.height()), (3000, 2400));
    }

    #[test]
    fn a_grey_jpeg_is_held_grey_with_the_values_an_rgb_decoding_spreads() {
        let gray = image::GrayImage::from_fn(160, 120, |x, y| image::Luma([((x * 7 + y * 13) % 256) as u8]));
        let mut data = Vec::new();
        gray.write_to(&mut std::io::Cursor::new(&mut data), ImageFormat::Jpeg).expect("encoded");
        let (image, dpi) = decode(&data, 300.0, 300.0, 60_000_000, RENDER_MAX_PIXELS).expect("decoded");
        assert_eq!(dpi, 300.0);
        let PagePixels::Gray(held) = &image else { panic!("a grey JPEG is held in RGB") };
        let rgb = turbojpeg::decompress(&data, PixelFormat::RGB).expect("libjpeg-turbo decodes it to RGB");
        assert_eq!((rgb.width, rgb.height), (160, 120));
        let spread: Vec<u8> = held.as_raw().iter().flat_map(|&v| [v, v, v]).collect();
        assert_eq!(spread, rgb.pixels, "each grey value is what RGB decoding puts in all three channels");
        // A colour JPEG stays in colour.
        let colour = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, 90, (y * 5) as u8]));
        let mut data = Vec::new();
        colour.write_to(&mut std::io::Cursor::new(&mut data), ImageFormat::Jpeg).expect("encoded");
        let (image, _) = decode(&data, 300.0, 300.0, 60_000_000, RENDER_MAX_PIXELS).expect("decoded");
        assert!(matches!(image, PagePixels::Rgb(_)));
    }

    /// A marker segment: marker, big-endian length (counting itself), body.
    fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, marker];
        out.extend(((body.len() + 2) as u16).to_be_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn scans_are_counted_by_their_markers_not_by_bytes_inside_segments_or_data() {
        let mut data = vec![0xFF, 0xD8];
        // An APP1 holding the bytes of a start-of-scan marker (an embedded thumbnail's).
        data.extend(segment(0xE1, &[0xFF, 0xDA, 0x00, 0x08, 1, 2, 3, 4, 5, 6]));
        data.extend(segment(0xC2, &[8, 0, 16, 0, 16, 1, 1, 0x11, 0]));
        for _ in 0..3 {
            data.extend(segment(0xDA, &[1, 1, 0, 0, 63, 0]));
            // Entropy-coded data with a stuffed 0xFF, a restart marker and fill bytes before the next marker.
            data.extend([0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD3, 0x56, 0xFF, 0xFF]);
        }
        data.extend([0xFF, 0xD9]);
        assert_eq!(count_scans(&data), 3);
    }
}
