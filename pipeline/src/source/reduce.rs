//! Image-file pages (TIFF, PNG) taken a row at a time and reduced by a whole factor on the way, so a
//! page is never held at full size next to its decoder's own buffer: a 600-dpi page arrives at 300 dpi,
//! a poster-sized one at most as large as a rendered page.

use image::RgbImage;

/// The whole factor a `width` x `height` page is reduced by while decoding. `dpi` is `None` when the
/// file does not state it (then only the pixel cap reduces). Over `decode_dpi` (5 % slack) a page is
/// reduced by the factor page reading would reduce it by anyway (`PageOptions::max_working_dpi`, 300 by
/// default, the same block average), so nothing read changes: 600 dpi → 2, 400 dpi → 2; `decode_dpi` not
/// finite (export): no reduction for the dpi. Whatever the dpi, the result has at most `keep_pixels`.
pub(super) fn factor(width: u32, height: u32, dpi: Option<f32>, decode_dpi: f32, keep_pixels: u64) -> u32 {
    let mut k = match dpi {
        Some(dpi) if decode_dpi.is_finite() && decode_dpi > 0.0 && dpi.is_finite() && dpi > decode_dpi * 1.05 => {
            (dpi / decode_dpi).ceil() as u32
        }
        _ => 1,
    };
    while (width / k) as u64 * (height / k) as u64 > keep_pixels.max(1) {
        k += 1;
    }
    k
}

/// Takes a page's RGB rows in order and keeps the average of each `k` x `k` block (the page's last
/// rows and columns that do not fill a block are dropped, as `raster::downscale_rgb` does).
pub(super) struct Reducer {
    k: usize,
    width: usize,
    out_width: usize,
    out_height: usize,
    /// Sums of the output row being filled (3 per pixel).
    sums: Vec<u32>,
    rows_in: usize,
    out: Vec<u8>,
}

impl Reducer {
    pub(super) fn new(width: u32, height: u32, k: u32) -> Self {
        let k = k.max(1) as usize;
        let (width, height) = (width as usize, height as usize);
        let (out_width, out_height) = (width / k, height / k);
        Reducer {
            k,
            width,
            out_width,
            out_height,
            sums: vec![0; if k > 1 { out_width * 3 } else { 0 }],
            rows_in: 0,
            out: Vec::with_capacity(out_width * out_height * 3),
        }
    }

    /// The next row: `width` RGB pixels.
    pub(super) fn push(&mut self, row: &[u8]) {
        debug_assert_eq!(row.len(), self.width * 3);
        let k = self.k;
        if self.rows_in / k >= self.out_height {
            self.rows_in += 1;
            return;
        }
        self.rows_in += 1;
        if k == 1 {
            self.out.extend_from_slice(&row[..self.width * 3]);
            return;
        }
        for (x, sum) in self.sums.chunks_exact_mut(3).enumerate() {
            for p in row[x * k * 3..][..k * 3].chunks_exact(3) {
                sum[0] += p[0] as u32;
                sum[1] += p[1] as u32;
                sum[2] += p[2] as u32;
            }
        }
        if self.rows_in.is_multiple_of(k) {
            let area = (k * k) as u32;
            self.out.extend(self.sums.iter().map(|&s| (s / area) as u8));
            self.sums.fill(0);
        }
    }

    /// The reduced page, or why not: fewer rows came than the page has.
    pub(super) fn finish(self) -> Result<RgbImage, String> {
        if self.out.len() < self.out_width * self.out_height * 3 {
            return Err(format!("the page data ends after {} rows", self.rows_in));
        }
        RgbImage::from_raw(self.out_width as u32, self.out_height as u32, self.out).ok_or_else(|| "the page is empty".to_string())
    }
}

/// One row of `channels` samples per pixel (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA; alpha dropped) as RGB
/// into `out`, a pixel per 3 bytes; samples that run out read as 0.
pub(super) fn samples_to_rgb(mut samples: impl Iterator<Item = u8>, channels: usize, out: &mut [u8]) {
    let mut px = [0u8; 4];
    for o in out.chunks_exact_mut(3) {
        for s in px.iter_mut().take(channels) {
            *s = samples.next().unwrap_or(0);
        }
        if channels < 3 {
            o.fill(px[0]);
        } else {
            o.copy_from_slice(&px[..3]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reduced(page: &RgbImage, k: u32) -> RgbImage {
        let mut reducer = Reducer::new(page.width(), page.height(), k);
        for row in page.as_raw().chunks_exact(page.width() as usize * 3) {
            reducer.push(row);
        }
        reducer.finish().unwrap()
    }

    #[test]
    fn rows_reduced_on_the_way_equal_the_whole_page_block_averaged() {
        // Odd sizes, so the dropped last rows and columns are exercised too.
        let page = RgbImage::from_fn(37, 23, |x, y| image::Rgb([(x * 7 + y * 3) as u8, (x * y) as u8, (255 - x * 5) as u8]));
        for k in [1, 2, 3, 5] {
            assert_eq!(reduced(&page, k), crate::raster::downscale_rgb(&page, k), "factor {k}");
        }
    }

    #[test]
    fn a_page_that_ends_early_is_an_error_not_a_grey_page() {
        let mut reducer = Reducer::new(4, 6, 2);
        for _ in 0..3 {
            reducer.push(&[0; 12]);
        }
        assert!(reducer.finish().unwrap_err().contains("after 3 rows"));
    }

    #[test]
    fn the_factor_follows_the_reading_resolution_and_the_pixel_cap() {
        let a4 = |dpi: f32| ((8.27 * dpi) as u32, (11.69 * dpi) as u32);
        let (w, h) = a4(600.0);
        let mp = 10_000_000;
        assert_eq!(factor(w, h, Some(600.0), 300.0, mp), 2);
        let (w, h) = a4(400.0);
        assert_eq!(factor(w, h, Some(400.0), 300.0, mp), 2);
        let (w, h) = a4(300.0);
        assert_eq!(factor(w, h, Some(300.0), 300.0, mp), 1);
        assert_eq!(factor(w, h, Some(310.0), 300.0, mp), 1, "within 5 % of 300 is not reduced");
        // No stated dpi: the 35-MP page is reduced only to fit 10 MP.
        let (w, h) = a4(600.0);
        assert_eq!(factor(w, h, None, 300.0, mp), 2);
        // A 7000 x 8500 page said to be 300 dpi (a poster) still fits 10 MP: 59.5 MP → factor 3.
        assert_eq!(factor(7000, 8500, Some(300.0), 300.0, mp), 3);
        // Export: not reduced for its dpi; A4 at 600 dpi fits export's 36 MP whole, the poster does not.
        assert_eq!(factor(w, h, Some(600.0), f32::INFINITY, 36_000_000), 1);
        assert_eq!(factor(7000, 8500, Some(600.0), f32::INFINITY, 36_000_000), 2);
    }
}
