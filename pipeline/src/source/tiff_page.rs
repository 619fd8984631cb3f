//! TIFF pages to pixels, a strip (or a row of tiles) at a time through [`Reducer`]: the page is never
//! held whole as samples next to its RGB copy, and a page with more resolution than reading needs comes
//! out reduced (see [`reduce::factor`]). The `tiff` crate decodes each chunk (and already inverts
//! WhiteIsZero samples, so every page comes out black-is-zero here).

use std::io::Cursor;

use image::RgbImage;
use tiff::decoder::{ChunkType, Decoder, DecodingResult, Limits};
use tiff::ColorType;

use super::reduce::{self, samples_to_rgb, Reducer};
use super::{over_limit, plausible_dpi, SourceOptions};

pub(super) type TiffDecoder<'a> = Decoder<Cursor<&'a [u8]>>;

/// The most one strip or tile of a page may take decoded: an A4 colour page at 600 dpi stored as one
/// strip (104 MB) fits; a larger page in one strip is refused (its rows cannot be had any other way).
pub(super) const MAX_CHUNK_BYTES: usize = 128 << 20;

pub(super) fn limits(max_pixels: u64) -> Limits {
    let mut limits = Limits::default();
    // 4 samples of 16 bits is the widest page we convert; the pixel limit itself is checked per page.
    let bytes = (max_pixels as usize).saturating_mul(8).min(MAX_CHUNK_BYTES);
    limits.decoding_buffer_size = bytes;
    limits.intermediate_buffer_size = bytes;
    limits
}

/// The page's resolution from XResolution and ResolutionUnit, if plausible.
pub(super) fn dpi(decoder: &mut TiffDecoder) -> Option<f32> {
    use tiff::decoder::ifd::Value;
    use tiff::tags::Tag;
    let x = match decoder.find_tag(Tag::XResolution).ok()?? {
        Value::Rational(n, d) if d > 0 => n as f32 / d as f32,
        other => other.into_f32().ok()?,
    };
    // ResolutionUnit: 1 none, 2 inch (default), 3 centimetre.
    let unit = decoder.find_tag_unsigned::<u16>(Tag::ResolutionUnit).ok().flatten().unwrap_or(2);
    let dpi = match unit {
        2 => x,
        3 => x * 2.54,
        _ => return None,
    };
    plausible_dpi(dpi)
}

/// How one pixel's samples are laid out in a chunk.
#[derive(Clone, Copy)]
enum Layout {
    /// One bit per pixel, rows padded to whole bytes.
    Bilevel,
    /// `channels` samples per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) of 8 or 16 bits.
    Samples { channels: usize },
}

/// Decodes the decoder's current page, `dpi` its resolution when stated, reduced as `options` say
/// ([`reduce::factor`]). Returns the (maybe reduced) image and the factor it was reduced by.
pub(super) fn decode_page(decoder: &mut TiffDecoder, options: SourceOptions, dpi: Option<f32>) -> Result<(RgbImage, u32), String> {
    let (w, h) = decoder.dimensions().map_err(|e| format!("unreadable TIFF page header: {e}"))?;
    if let Some(reason) = over_limit(w, h, options.max_pixels) {
        return Err(reason);
    }
    let colour = decoder.colortype().map_err(|e| e.to_string())?;
    let layout = match colour {
        ColorType::Gray(1) => Layout::Bilevel,
        ColorType::Gray(8 | 16) => Layout::Samples { channels: 1 },
        ColorType::GrayA(8 | 16) => Layout::Samples { channels: 2 },
        ColorType::RGB(8 | 16) => Layout::Samples { channels: 3 },
        ColorType::RGBA(8 | 16) => Layout::Samples { channels: 4 },
        other => return Err(format!("unsupported TIFF colour type {other:?}")),
    };
    let planar = decoder.find_tag_unsigned::<u16>(tiff::tags::Tag::PlanarConfiguration).ok().flatten() == Some(2);
    if planar && !matches!(layout, Layout::Bilevel | Layout::Samples { channels: 1 }) {
        return Err("unsupported TIFF layout: colour samples stored in separate planes".into());
    }
    let k = reduce::factor(w, h, dpi, options.decode_dpi, options.keep_pixels);
    let mut reducer = Reducer::new(w, h, k);
    let failed = |e: tiff::TiffError| match e {
        tiff::TiffError::LimitsExceeded => {
            format!("cannot decode the TIFF page: one of its strips or tiles is over {} MB decoded", MAX_CHUNK_BYTES >> 20)
        }
        e => format!("cannot decode the TIFF page: {e}"),
    };
    let (width, height) = (w as usize, h as usize);
    let mut row = vec![0u8; width * 3];
    match decoder.get_chunk_type() {
        ChunkType::Strip => {
            let strips = decoder.strip_count().map_err(failed)?;
            let mut rows_done = 0usize;
            for strip in 0..strips {
                if rows_done >= height {
                    break;
                }
                let data = decoder.read_chunk(strip).map_err(failed)?;
                let rows = decoder.chunk_data_dimensions(strip).1 as usize;
                for r in 0..rows.min(height - rows_done) {
                    convert_row(&data, layout, width, r, &mut row)?;
                    reducer.push(&row);
                }
                rows_done += rows;
            }
        }
        ChunkType::Tile => {
            let (tile_w, tile_h) = decoder.chunk_dimensions();
            let (tile_w, tile_h) = (tile_w as usize, tile_h as usize);
            if tile_w == 0 || tile_h == 0 {
                return Err("the TIFF page has empty tiles".into());
            }
            let across = width.div_ceil(tile_w);
            let down = height.div_ceil(tile_h);
            let tiles = decoder.tile_count().map_err(failed)? as usize;
            if tiles < across * down {
                return Err(format!("the TIFF page has {tiles} tiles, its size needs {}", across * down));
            }
            // One row of tiles at a time, as full-width RGB rows.
            let mut band = vec![0u8; width * tile_h * 3];
            let mut tile_row = vec![0u8; tile_w * 3];
            for ty in 0..down {
                let band_rows = tile_h.min(height - ty * tile_h);
                for tx in 0..across {
                    let index = (ty * across + tx) as u32;
                    let data = decoder.read_chunk(index).map_err(failed)?;
                    let (data_w, data_h) = decoder.chunk_data_dimensions(index);
                    let (data_w, data_h) = (data_w as usize, (data_h as usize).min(band_rows));
                    let x0 = tx * tile_w;
                    let cols = data_w.min(width - x0);
                    for r in 0..data_h {
                        convert_row(&data, layout, data_w, r, &mut tile_row[..data_w * 3])?;
                        band[(r * width + x0) * 3..][..cols * 3].copy_from_slice(&tile_row[..cols * 3]);
                    }
                }
                for r in 0..band_rows {
                    reducer.push(&band[r * width * 3..][..width * 3]);
                }
            }
        }
    }
    let image = reducer.finish().map_err(|reason| format!("the TIFF page is truncated: {reason}"))?;
    Ok((image, k))
}

/// Row `r` of a chunk `width` pixels wide, as RGB into `out`.
fn convert_row(data: &DecodingResult, layout: Layout, width: usize, r: usize, out: &mut [u8]) -> Result<(), String> {
    let truncated = || "the TIFF page is truncated".to_string();
    match (layout, data) {
        (Layout::Bilevel, DecodingResult::U8(bytes)) => {
            let stride = width.div_ceil(8);
            let line = bytes.get(r * stride..(r + 1) * stride).ok_or_else(truncated)?;
            for (x, px) in out.chunks_exact_mut(3).take(width).enumerate() {
                let bit = line[x / 8] >> (7 - x % 8) & 1;
                px.fill(if bit == 1 { 255 } else { 0 });
            }
        }
        (Layout::Samples { channels }, DecodingResult::U8(samples)) => {
            let line = samples.get(r * width * channels..(r + 1) * width * channels).ok_or_else(truncated)?;
            samples_to_rgb(line.iter().copied(), channels, out);
        }
        (Layout::Samples { channels }, DecodingResult::U16(samples)) => {
            let line = samples.get(r * width * channels..(r + 1) * width * channels).ok_or_else(truncated)?;
            samples_to_rgb(line.iter().map(|&s| (s >> 8) as u8), channels, out);
        }
        _ => return Err("unsupported TIFF sample format".into()),
    }
    Ok(())
}
