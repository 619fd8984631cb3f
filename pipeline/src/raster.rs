//! Pixel helpers shared by the stages: grey conversions (luminance, and the "ink" channel that drops
//! light coloured stamps), fast downscaling, binarisation (global Otsu, local mean), quarter turns and
//! ink statistics. Pure functions on `image` buffers; talks to nothing.

use image::{GrayImage, Luma, RgbImage};
use rayon::prelude::*;

/// Luminance (ITU-R 601 weights), the usual grey.
pub fn luminance(rgb: &RgbImage) -> GrayImage {
    map_pixels(rgb, luma)
}

/// One pixel's luminance (ITU-R 601 weights).
#[inline]
fn luma([r, g, b]: [u8; 3]) -> u8 {
    ((r as u32 * 77 + g as u32 * 150 + b as u32 * 29) >> 8) as u8
}

/// The brightest channel of each pixel (HSV value). Black, dark blue and dark red ink stay dark; a
/// blue or violet stamp, which is bright in at least one channel, turns light and drops out.
pub fn ink_channel(rgb: &RgbImage) -> GrayImage {
    map_pixels(rgb, |[r, g, b]| r.max(g).max(b))
}

fn map_pixels(rgb: &RgbImage, f: impl Fn([u8; 3]) -> u8 + Sync) -> GrayImage {
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut data = vec![0u8; w * h];
    if w > 0 {
        // Bands of rows: per-pixel parallel iterators cost more in bookkeeping than the pixel work.
        let rows = 64;
        data.par_chunks_mut(w * rows).zip(rgb.as_raw().par_chunks(w * 3 * rows)).for_each(|(out, src)| {
            // Eight pixels at a time with fixed indices, which the compiler turns into vector code.
            let mut outs = out.chunks_exact_mut(8);
            let mut ins = src.chunks_exact(24);
            for (o, p) in (&mut outs).zip(&mut ins) {
                let o: &mut [u8; 8] = o.try_into().expect("chunks of 8");
                let p: &[u8; 24] = p.try_into().expect("chunks of 24");
                for i in 0..8 {
                    o[i] = f([p[3 * i], p[3 * i + 1], p[3 * i + 2]]);
                }
            }
            for (o, p) in outs.into_remainder().iter_mut().zip(ins.remainder().chunks_exact(3)) {
                *o = f([p[0], p[1], p[2]]);
            }
        });
    }
    GrayImage::from_raw(w as u32, h as u32, data).expect("same dimensions")
}

/// Spreads a grey image into RGB (for pages that came grey and are read as colour pages).
pub fn gray_to_rgb(gray: &GrayImage) -> RgbImage {
    let mut data = vec![0u8; gray.as_raw().len() * 3];
    for (o, &v) in data.chunks_exact_mut(3).zip(gray.as_raw()) {
        o.copy_from_slice(&[v, v, v]);
    }
    RgbImage::from_raw(gray.width(), gray.height(), data).expect("same dimensions")
}

/// Whether the page carries colour at all (a colour scan of a colour stamp); grey scans skip the ink
/// channel variants.
/// Every 97th pixel is sampled; more than 0.1 % of the samples tinted is colour. The count stops as soon
/// as that share is reached (the samples' number is known beforehand): on a colour page the printed frame
/// settles it within the first rows, instead of a walk over the whole freshly decoded page.
pub fn has_colour(rgb: &RgbImage) -> bool {
    const STEP: usize = 97;
    let pixels = rgb.as_raw().len() / 3;
    let samples = pixels.div_ceil(STEP);
    let mut coloured = 0usize;
    for p in rgb.as_raw().chunks_exact(3).step_by(STEP) {
        let (lo, hi) = (p[0].min(p[1]).min(p[2]), p[0].max(p[1]).max(p[2]));
        if hi - lo > 40 {
            coloured += 1;
            if coloured * 1000 > samples {
                return true;
            }
        }
    }
    false
}

/// Downscales by about `factor` (≥ 1): by the nearest whole factor, averaging each block (fast, and it
/// smooths scanner noise). Use the returned image's size for the exact ratio.
pub fn downscale(gray: &GrayImage, factor: f32) -> GrayImage {
    let k = factor.round().max(1.0) as usize;
    if k == 1 {
        return gray.clone();
    }
    let (w, h) = (gray.width() as usize / k, gray.height() as usize / k);
    if w == 0 || h == 0 {
        return gray.clone();
    }
    let src = gray.as_raw();
    let stride = gray.width() as usize;
    let mut out = vec![0u8; w * h];
    let area = (k * k) as u32;
    out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        let mut sums = vec![0u32; w];
        for line in src[y * k * stride..][..k * stride].chunks_exact(stride) {
            for (x, sum) in sums.iter_mut().enumerate() {
                *sum += line[x * k..x * k + k].iter().map(|&v| v as u32).sum::<u32>();
            }
        }
        for (o, s) in row.iter_mut().zip(sums) {
            *o = (s / area) as u8;
        }
    });
    GrayImage::from_raw(w as u32, h as u32, out).expect("sized above")
}

/// Downscales a colour page by a whole factor, averaging each block (a 600 dpi scan to 300 in a few
/// milliseconds, where resampling takes a hundred).
pub fn downscale_rgb(rgb: &RgbImage, k: u32) -> RgbImage {
    let k = k.max(1) as usize;
    let (w, h) = (rgb.width() as usize / k, rgb.height() as usize / k);
    if k == 1 || w == 0 || h == 0 {
        return rgb.clone();
    }
    let src = rgb.as_raw();
    let stride = rgb.width() as usize * 3;
    let area = (k * k) as u32;
    let mut out = vec![0u8; w * h * 3];
    out.par_chunks_mut(w * 3).enumerate().for_each(|(y, row)| {
        let mut sums = vec![0u32; w * 3];
        for line in src[y * k * stride..][..k * stride].chunks_exact(stride) {
            for x in 0..w {
                for dx in 0..k {
                    let p = &line[(x * k + dx) * 3..][..3];
                    sums[x * 3] += p[0] as u32;
                    sums[x * 3 + 1] += p[1] as u32;
                    sums[x * 3 + 2] += p[2] as u32;
                }
            }
        }
        for (o, s) in row.iter_mut().zip(sums) {
            *o = (s / area) as u8;
        }
    });
    RgbImage::from_raw(w as u32, h as u32, out).expect("sized above")
}

/// The luminance of a colour page reduced by a whole factor `k`, each block averaged over every
/// `step`-th pixel in both directions: a layout map needs no more, and it costs a fraction of a full
/// grey page.
pub fn reduced_luminance(rgb: &RgbImage, k: u32, step: u32) -> GrayImage {
    reduced_mean::<3>(rgb.as_raw(), rgb.dimensions(), k, step, |p| luma([p[0], p[1], p[2]]))
}

/// [`reduced_luminance`] of a grey page: the same as of that page spread to RGB.
pub fn reduced_gray(gray: &GrayImage, k: u32, step: u32) -> GrayImage {
    reduced_mean::<1>(gray.as_raw(), gray.dimensions(), k, step, |p| p[0])
}

/// The mean of `value` over each `k` x `k` block of a page of `C` interleaved channels, sampled at every
/// `step`-th pixel in both directions.
fn reduced_mean<const C: usize>(
    src: &[u8],
    (src_w, src_h): (u32, u32),
    k: u32,
    step: u32,
    value: impl Fn(&[u8]) -> u8 + Sync,
) -> GrayImage {
    let (k, step) = (k.max(1) as usize, step.clamp(1, k.max(1)) as usize);
    let (src_w, src_h) = (src_w as usize, src_h as usize);
    let (w, h) = ((src_w / k).max(1), (src_h / k).max(1));
    let mut out = vec![255u8; w * h];
    out.par_chunks_mut(w).enumerate().for_each(|(by, row)| {
        // Row by row through the sampled source rows, each block's samples summed in place: the
        // source is read front to back (a block at a time over `k` rows cost more than the sums).
        let (mut sums, mut counts) = (vec![0u32; w], vec![0u32; w]);
        for y in (by * k..(by * k + k).min(src_h)).step_by(step) {
            let line = &src[y * src_w * C..][..src_w * C];
            for ((sum, n), block) in sums.iter_mut().zip(counts.iter_mut()).zip(line.chunks(C * k)) {
                // Every `step`-th pixel of the block: the first C bytes of each chunk.
                for p in block.chunks(C * step) {
                    *sum += value(p) as u32;
                    *n += 1;
                }
            }
        }
        for ((o, sum), n) in row.iter_mut().zip(sums).zip(counts) {
            if let Some(mean) = sum.checked_div(n) {
                *o = mean as u8;
            }
        }
    });
    GrayImage::from_raw(w as u32, h as u32, out).expect("sized above")
}

/// Crops a rectangle of a colour page (clamped to the image) as luminance; None if nothing of it is
/// inside.
pub fn crop_luminance(rgb: &RgbImage, x: i64, y: i64, w: i64, h: i64) -> Option<GrayImage> {
    crop(rgb, x, y, w, h).map(|c| luminance(&c))
}

/// Downscales by `factor` as exactly as needed: whole factors by block averaging, others by resampling.
pub fn rescale(gray: &GrayImage, factor: f32) -> GrayImage {
    if (factor - factor.round()).abs() < 0.15 {
        return downscale(gray, factor);
    }
    let (w, h) = ((gray.width() as f32 / factor).round() as u32, (gray.height() as f32 / factor).round() as u32);
    resize(gray, w, h)
}

/// Resamples to an exact size with a triangle filter as wide as the reduction (bilinear when enlarging):
/// `image::imageops::resize` with `FilterType::Triangle`, pixel for pixel (the same taps, weights and
/// float operations in the same order), a row at a time. `image` keeps its whole vertical pass as four
/// f32 channels a pixel: reducing a 300-dpi page to 200 dpi (the code search's pyramid) took 93 MB for
/// a moment and most of a page's time; here a row of f32 is all there is between source and result.
pub fn resize(gray: &GrayImage, w: u32, h: u32) -> GrayImage {
    let (w, h) = (w.max(1), h.max(1));
    let (src_w, src_h) = gray.dimensions();
    if src_w == 0 || src_h == 0 {
        return GrayImage::new(w, h);
    }
    if (w, h) == (src_w, src_h) {
        return gray.clone();
    }
    let (rows, columns) = (triangle_taps(src_h, h), triangle_taps(src_w, w));
    let src = gray.as_raw();
    let stride = src_w as usize;
    let mut out = vec![0u8; w as usize * h as usize];
    out.par_chunks_mut(w as usize).zip(rows.par_iter()).for_each_init(
        || vec![0f32; stride],
        |line, (row, (top, weights))| {
            line.fill(0.0);
            for (i, &weight) in weights.iter().enumerate() {
                let source = &src[(*top as usize + i) * stride..][..stride];
                for (l, &v) in line.iter_mut().zip(source) {
                    *l += v as f32 * weight;
                }
            }
            for (o, (left, weights)) in row.iter_mut().zip(&columns) {
                let mut t = 0.0f32;
                for (&v, &weight) in line[*left as usize..].iter().zip(weights) {
                    t += v * weight;
                }
                *o = t.clamp(0.0, 255.0).round() as u8;
            }
        },
    );
    GrayImage::from_raw(w, h, out).expect("sized above")
}

/// For each of `dst` output samples along a side of `src` samples: the first source sample it takes
/// and the normalised triangle weights of the samples from there, as `image`'s resampling computes them.
fn triangle_taps(src: u32, dst: u32) -> Vec<(u32, Vec<f32>)> {
    let ratio = src as f32 / dst as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let support = sratio;
    let triangle = |x: f32| if x.abs() < 1.0 { 1.0 - x.abs() } else { 0.0 };
    (0..dst)
        .map(|o| {
            let centre = (o as f32 + 0.5) * ratio;
            let left = ((centre - support).floor() as i64).clamp(0, src as i64 - 1);
            let right = ((centre + support).ceil() as i64).clamp(left + 1, src as i64);
            let centre = centre - 0.5;
            let mut weights: Vec<f32> = (left..right).map(|i| triangle((i as f32 - centre) / sratio)).collect();
            let mut sum = 0.0;
            for w in &weights {
                sum += w;
            }
            for w in weights.iter_mut() {
                *w /= sum;
            }
            (left as u32, weights)
        })
        .collect()
}

/// Otsu's global threshold: pixels at or below it are ink.
pub fn otsu(gray: &GrayImage) -> u8 {
    imageproc::contrast::otsu_level(gray)
}

/// Binarises with one global threshold: ink → 0, paper → 255.
pub fn threshold(gray: &GrayImage, level: u8) -> GrayImage {
    let data = gray.as_raw().iter().map(|&v| if v <= level { 0 } else { 255 }).collect();
    GrayImage::from_raw(gray.width(), gray.height(), data).expect("same dimensions")
}

/// Local-mean (Bradley) binarisation: a pixel is ink when it is `percent`% darker than the mean of the
/// `window`×`window` square around it. Survives uneven lighting and grey paper.
pub fn local_mean_binarise(gray: &GrayImage, window: u32, percent: u32) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let mut integral = vec![0u64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0u64;
        for x in 0..w {
            row += gray.as_raw()[y * w + x] as u64;
            integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row;
        }
    }
    let half = (window / 2).max(1) as usize;
    let mut out = vec![255u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(half), (y + half + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(half), (x + half + 1).min(w));
            let sum = integral[y1 * (w + 1) + x1] + integral[y0 * (w + 1) + x0] - integral[y0 * (w + 1) + x1] - integral[y1 * (w + 1) + x0];
            let count = ((x1 - x0) * (y1 - y0)) as u64;
            let v = gray.as_raw()[y * w + x] as u64;
            if v * count * 100 <= sum * (100 - percent as u64) {
                out[y * w + x] = 0;
            }
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).expect("same dimensions")
}

/// The grey levels at the given percentiles (0–100) of an image, in the order asked.
pub fn gray_percentiles<const N: usize>(gray: &GrayImage, percents: [usize; N]) -> [u8; N] {
    let mut histogram = [0usize; 256];
    for &v in gray.as_raw() {
        histogram[v as usize] += 1;
    }
    let total = gray.as_raw().len().max(1);
    percents.map(|p| {
        let mut seen = 0;
        for (v, &n) in histogram.iter().enumerate() {
            seen += n;
            if seen * 100 >= total * p {
                return v as u8;
            }
        }
        255
    })
}

/// Stretches the grey range so the darkest percentile is black and the brightest is white.
pub fn stretch_contrast(gray: &GrayImage) -> GrayImage {
    let [lo, hi] = gray_percentiles(gray, [1, 99]).map(i32::from);
    if hi - lo < 16 {
        return gray.clone();
    }
    let mut out = gray.clone();
    for v in out.iter_mut() {
        *v = ((*v as i32 - lo) * 255 / (hi - lo)).clamp(0, 255) as u8;
    }
    out
}

/// Rotates by a quarter-turn multiple, clockwise.
pub fn rotate_quarter(gray: &GrayImage, degrees_clockwise: u32) -> GrayImage {
    match degrees_clockwise % 360 {
        90 => image::imageops::rotate90(gray),
        180 => image::imageops::rotate180(gray),
        270 => image::imageops::rotate270(gray),
        _ => gray.clone(),
    }
}

/// Fraction of pixels darker than `level`.
pub fn ink_fraction(gray: &GrayImage, level: u8) -> f32 {
    let n = gray.as_raw().len().max(1);
    gray.as_raw().iter().filter(|&&v| v < level).count() as f32 / n as f32
}

/// Crops a rectangle of a grey or colour image (clamped to the image); None if nothing of it is inside.
pub fn crop<P: image::Pixel + 'static>(
    img: &image::ImageBuffer<P, Vec<P::Subpixel>>,
    x: i64,
    y: i64,
    w: i64,
    h: i64,
) -> Option<image::ImageBuffer<P, Vec<P::Subpixel>>> {
    let (x0, y0) = (x.max(0), y.max(0));
    let (x1, y1) = ((x + w).min(img.width() as i64), (y + h).min(img.height() as i64));
    if x1 - x0 < 8 || y1 - y0 < 8 {
        return None;
    }
    // Row by row from the raw buffer: `image`'s sub-image copy goes pixel by pixel, several times slower.
    let channels = P::CHANNEL_COUNT as usize;
    let (stride, (cw, ch)) = (img.width() as usize * channels, ((x1 - x0) as usize, (y1 - y0) as usize));
    let raw = img.as_raw();
    let mut out = Vec::with_capacity(cw * ch * channels);
    for row in y0 as usize..y1 as usize {
        let start = row * stride + x0 as usize * channels;
        out.extend_from_slice(&raw[start..start + cw * channels]);
    }
    image::ImageBuffer::from_raw(cw as u32, ch as u32, out)
}

/// Adds a white border (Tesseract reads text touching the edge badly).
pub fn pad_white(gray: &GrayImage, border: u32) -> GrayImage {
    let mut out = GrayImage::from_pixel(gray.width() + 2 * border, gray.height() + 2 * border, Luma([255]));
    image::imageops::replace(&mut out, gray, border as i64, border as i64);
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Pseudo-random bytes (a fixed linear congruential sequence): the same every run.
    pub(crate) fn noise(seed: u64) -> impl FnMut() -> u8 {
        let mut state = seed;
        move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        }
    }

    #[test]
    fn a_crop_is_images_own_sub_image_copy() {
        let mut next = noise(31);
        let rgb = RgbImage::from_fn(53, 37, |_, _| image::Rgb([next(), next(), next()]));
        let gray = GrayImage::from_fn(53, 37, |_, _| image::Luma([next()]));
        for (x, y, w, h) in [(0, 0, 53, 37), (3, 5, 20, 11), (-4, -6, 30, 30), (40, 25, 50, 50), (10, 10, 8, 8), (45, 0, 8, 37)] {
            let theirs = |x0: i64, y0: i64| ((x + w).min(53) - x0, (y + h).min(37) - y0);
            let (x0, y0) = (x.max(0), y.max(0));
            let (cw, ch) = theirs(x0, y0);
            let expected_rgb = image::imageops::crop_imm(&rgb, x0 as u32, y0 as u32, cw as u32, ch as u32).to_image();
            let expected_gray = image::imageops::crop_imm(&gray, x0 as u32, y0 as u32, cw as u32, ch as u32).to_image();
            assert_eq!(crop(&rgb, x, y, w, h).expect("inside"), expected_rgb, "({x}, {y}) {w}x{h}");
            assert_eq!(crop(&gray, x, y, w, h).expect("inside"), expected_gray, "({x}, {y}) {w}x{h}");
        }
        // Less than 8 pixels of it inside either way: none.
        assert!(crop(&gray, 50, 0, 20, 20).is_none() && crop(&rgb, 0, -10, 20, 15).is_none());
    }

    #[test]
    fn a_page_has_colour_when_over_a_thousandth_of_its_sampled_pixels_are_tinted() {
        // Every 97th pixel of a 970 x 100 page is sampled: 1,000 samples, so two tinted samples are colour
        // and one is not, wherever they lie (the count may stop early, never with another answer).
        let (w, h) = (970u32, 100u32);
        let grey = |_: u32, _: u32| image::Rgb([120u8, 118, 121]);
        let sampled = |k: u32| ((k * 97) % w, (k * 97) / w);
        let with_tinted = |ks: &[u32]| {
            let spots: Vec<(u32, u32)> = ks.iter().map(|&k| sampled(k)).collect();
            RgbImage::from_fn(w, h, |x, y| if spots.contains(&(x, y)) { image::Rgb([200, 40, 40]) } else { grey(x, y) })
        };
        assert!(!has_colour(&RgbImage::from_fn(w, h, grey)));
        assert!(!has_colour(&with_tinted(&[999])));
        assert!(!has_colour(&with_tinted(&[0])));
        assert!(has_colour(&with_tinted(&[0, 1])));
        assert!(has_colour(&with_tinted(&[3, 999])));
        // A tinted pixel between samples is never seen.
        assert!(!has_colour(&RgbImage::from_fn(w, h, |x, y| if x % 97 == 5 { image::Rgb([200, 40, 40]) } else { grey(x, y) })));
        // A frame of colour round a page: colour.
        let framed = RgbImage::from_fn(w, h, |x, y| if y < 3 || x < 3 { image::Rgb([150, 30, 40]) } else { grey(x, y) });
        assert!(has_colour(&framed));
        assert!(!has_colour(&RgbImage::new(0, 0)));
    }

    #[test]
    fn resize_is_images_triangle_resampling_pixel_for_pixel() {
        let mut next = noise(12345);
        let noise = GrayImage::from_fn(301, 207, |_, _| image::Luma([next()]));
        let gradient = GrayImage::from_fn(240, 350, |x, y| image::Luma([((x * 3 + y * 7) % 256) as u8]));
        let sizes = [(200, 138), (100, 69), (125, 86), (301, 100), (450, 300), (97, 400), (1, 1), (3, 500), (301, 207)];
        for source in [&noise, &gradient] {
            for (w, h) in sizes {
                let theirs = image::imageops::resize(source, w, h, image::imageops::FilterType::Triangle);
                let ours = resize(source, w, h);
                assert_eq!(ours.dimensions(), theirs.dimensions());
                let differ = ours.pixels().zip(theirs.pixels()).filter(|(a, b)| a != b).count();
                assert_eq!(differ, 0, "{}x{} -> {w}x{h}", source.width(), source.height());
            }
        }
        // A lone pixel and a line, enlarged.
        for source in [GrayImage::from_pixel(1, 1, image::Luma([77])), GrayImage::from_fn(7, 1, |x, _| image::Luma([(x * 30) as u8]))] {
            let theirs = image::imageops::resize(&source, 5, 3, image::imageops::FilterType::Triangle);
            assert_eq!(resize(&source, 5, 3).as_raw(), theirs.as_raw());
        }
    }

    #[test]
    fn a_blue_stamp_is_light_in_the_ink_channel_and_black_ink_stays_dark() {
        let mut rgb = RgbImage::from_pixel(2, 1, image::Rgb([255, 255, 255]));
        rgb.put_pixel(0, 0, image::Rgb([60, 70, 210]));
        rgb.put_pixel(1, 0, image::Rgb([20, 20, 30]));
        let ink = ink_channel(&rgb);
        assert!(ink.get_pixel(0, 0).0[0] > 200);
        assert!(ink.get_pixel(1, 0).0[0] < 40);
        assert!(luminance(&rgb).get_pixel(0, 0).0[0] < 110);
    }

    #[test]
    fn the_fast_grey_paths_agree_with_plain_luminance() {
        // A page with a dark 3-pixel line every 10 rows and a blue stamp patch.
        let rgb = RgbImage::from_fn(61, 47, |x, y| {
            if y % 10 < 3 {
                image::Rgb([20, 25, 30])
            } else if x > 40 && y > 30 {
                image::Rgb([70, 80, 200])
            } else {
                image::Rgb([250, 248, 245])
            }
        });
        let full = luminance(&rgb);
        // Eight-pixel blocks and the remainder both give the same values as the formula.
        for (p, g) in rgb.pixels().zip(full.pixels()) {
            let [r, gr, b] = p.0;
            assert_eq!(g.0[0], ((r as u32 * 77 + gr as u32 * 150 + b as u32 * 29) >> 8) as u8);
        }
        assert_eq!(gray_to_rgb(&full).get_pixel(5, 1).0, [full.get_pixel(5, 1).0[0]; 3]);
        // Every pixel sampled: exactly the block average of the luminance.
        let reduced = reduced_luminance(&rgb, 5, 1);
        assert_eq!(reduced.dimensions(), downscale(&full, 5.0).dimensions());
        for (a, b) in reduced.pixels().zip(downscale(&full, 5.0).pixels()) {
            assert!(a.0[0].abs_diff(b.0[0]) <= 1, "{a:?} vs {b:?}");
        }
        // Every other pixel: the lines still show as ink.
        let sampled = reduced_luminance(&rgb, 5, 2);
        assert!(sampled.get_pixel(0, 0).0[0] < 200 && sampled.get_pixel(0, 1).0[0] > 240, "{sampled:?}");
        // Every other (or third) pixel in both directions: the mean of exactly those pixels' luminance.
        for (k, step) in [(5u32, 2u32), (6, 2), (6, 3), (4, 1)] {
            let sampled = reduced_luminance(&rgb, k, step);
            assert_eq!(sampled.dimensions(), (61 / k, 47 / k));
            for (bx, by, got) in sampled.enumerate_pixels() {
                let (mut sum, mut n) = (0u32, 0u32);
                for y in (by * k..by * k + k).step_by(step as usize) {
                    for x in (bx * k..bx * k + k).step_by(step as usize) {
                        sum += full.get_pixel(x, y).0[0] as u32;
                        n += 1;
                    }
                }
                assert_eq!(got.0[0] as u32, sum / n, "k {k} step {step} block ({bx}, {by})");
            }
        }
        // A page narrower and lower than one block: one block of all of it.
        let narrow = reduced_luminance(&RgbImage::from_pixel(3, 2, image::Rgb([100, 100, 100])), 6, 2);
        assert_eq!((narrow.dimensions(), narrow.get_pixel(0, 0).0[0]), ((1, 1), 100));
        let crop = crop_luminance(&rgb, 40, 30, 100, 100).unwrap();
        assert_eq!(crop.dimensions(), (21, 17));
        assert_eq!(crop.get_pixel(5, 5), full.get_pixel(45, 35));
        assert!(crop_luminance(&rgb, 58, 0, 10, 10).is_none());
    }

    #[test]
    fn local_mean_binarisation_finds_dark_text_on_grey_paper_with_a_gradient() {
        let mut gray = GrayImage::from_fn(200, 100, |x, _| Luma([120 + (x / 2) as u8]));
        for x in 90..110 {
            for y in 40..60 {
                gray.put_pixel(x, y, Luma([40]));
            }
        }
        let bin = local_mean_binarise(&gray, 41, 15);
        assert_eq!(bin.get_pixel(100, 50).0[0], 0);
        assert_eq!(bin.get_pixel(10, 10).0[0], 255);
        assert_eq!(bin.get_pixel(190, 90).0[0], 255);
    }
}
