//! A page's pixels as its file gave them: colour, or grey when the scan is grey. A grey JPEG page (a
//! third of a typical office's scans) is decoded straight to one channel instead of being spread to
//! three: a third of the memory, no grey-to-RGB pass, and its luminance is the page itself. Everything
//! a page is read through ([`Pixels`]) gives on a grey page exactly what it gives on the same page
//! spread to RGB (the luminance of a grey pixel is itself, and so is its brightest channel), so how a
//! page is held never changes what is read on it. Pure; talks to nothing.

use std::borrow::Cow;

use image::{GrayImage, RgbImage};

use certscan_templates::Rect;

use crate::locate::{self, SheetPose};
use crate::raster;

/// A decoded page's pixels.
#[derive(Debug, Clone, PartialEq)]
pub enum PagePixels {
    Rgb(RgbImage),
    Gray(GrayImage),
}

impl PagePixels {
    /// An RGB page, held grey when every pixel is neutral (R = G = B): a black-and-white or grey scan
    /// that came as RGB (PDFium renders a CCITT G4 page to RGB; a grey PNG or TIFF). Exact: the grey page
    /// reads as the RGB one does (see [`Pixels`]). A colour page is usually told from its first row.
    pub fn neutral_as_grey(rgb: RgbImage) -> PagePixels {
        let (w, h) = rgb.dimensions();
        let raw = rgb.as_raw();
        let mut grey = Vec::with_capacity(raw.len() / 3);
        let row = w as usize * 3;
        for line in raw.chunks_exact(row.max(1)) {
            let mut differ = 0u8;
            // Eight pixels at a time with fixed indices, which the compiler turns into vector code.
            let mut pixels = line.chunks_exact(24);
            for p in &mut pixels {
                let p: &[u8; 24] = p.try_into().expect("chunks of 24");
                let mut out = [0u8; 8];
                for i in 0..8 {
                    differ |= (p[3 * i] ^ p[3 * i + 1]) | (p[3 * i + 1] ^ p[3 * i + 2]);
                    out[i] = p[3 * i];
                }
                grey.extend_from_slice(&out);
            }
            for p in pixels.remainder().chunks_exact(3) {
                differ |= (p[0] ^ p[1]) | (p[1] ^ p[2]);
                grey.push(p[0]);
            }
            if differ != 0 {
                return PagePixels::Rgb(rgb);
            }
        }
        match GrayImage::from_raw(w, h, grey) {
            Some(gray) => PagePixels::Gray(gray),
            None => PagePixels::Rgb(rgb),
        }
    }

    pub fn view(&self) -> Pixels<'_> {
        Pixels::from(self)
    }

    pub fn width(&self) -> u32 {
        self.view().width()
    }

    pub fn height(&self) -> u32 {
        self.view().height()
    }

    pub fn dimensions(&self) -> (u32, u32) {
        self.view().dimensions()
    }

    /// The page in RGB (a grey page spread to three equal channels).
    pub fn to_rgb(&self) -> Cow<'_, RgbImage> {
        match self {
            PagePixels::Rgb(rgb) => Cow::Borrowed(rgb),
            PagePixels::Gray(gray) => Cow::Owned(raster::gray_to_rgb(gray)),
        }
    }
}

/// A page's pixels, borrowed: what the reading stages take.
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    Rgb(&'a RgbImage),
    Gray(&'a GrayImage),
}

impl<'a> From<&'a RgbImage> for Pixels<'a> {
    fn from(rgb: &'a RgbImage) -> Self {
        Pixels::Rgb(rgb)
    }
}

impl<'a> From<&'a GrayImage> for Pixels<'a> {
    fn from(gray: &'a GrayImage) -> Self {
        Pixels::Gray(gray)
    }
}

impl<'a> From<&'a PagePixels> for Pixels<'a> {
    fn from(page: &'a PagePixels) -> Self {
        match page {
            PagePixels::Rgb(rgb) => Pixels::Rgb(rgb),
            PagePixels::Gray(gray) => Pixels::Gray(gray),
        }
    }
}

impl<'a> Pixels<'a> {
    pub fn width(self) -> u32 {
        self.dimensions().0
    }

    pub fn height(self) -> u32 {
        self.dimensions().1
    }

    pub fn dimensions(self) -> (u32, u32) {
        match self {
            Pixels::Rgb(rgb) => rgb.dimensions(),
            Pixels::Gray(gray) => gray.dimensions(),
        }
    }

    /// Whether the page carries colour ([`raster::has_colour`]); a grey page never does.
    pub fn has_colour(self) -> bool {
        match self {
            Pixels::Rgb(rgb) => raster::has_colour(rgb),
            Pixels::Gray(_) => false,
        }
    }

    /// The page's luminance ([`raster::luminance`]); a grey page is its own.
    pub fn luminance(self) -> Cow<'a, GrayImage> {
        match self {
            Pixels::Rgb(rgb) => Cow::Owned(raster::luminance(rgb)),
            Pixels::Gray(gray) => Cow::Borrowed(gray),
        }
    }

    /// The page's brightest channel ([`raster::ink_channel`]); a grey page is its own.
    pub fn ink_channel(self) -> Cow<'a, GrayImage> {
        match self {
            Pixels::Rgb(rgb) => Cow::Owned(raster::ink_channel(rgb)),
            Pixels::Gray(gray) => Cow::Borrowed(gray),
        }
    }

    /// A rectangle of the page (clamped to it) as luminance; None if nothing of it is inside.
    pub fn crop_luminance(self, x: i64, y: i64, w: i64, h: i64) -> Option<GrayImage> {
        match self {
            Pixels::Rgb(rgb) => raster::crop_luminance(rgb, x, y, w, h),
            Pixels::Gray(gray) => raster::crop(gray, x, y, w, h),
        }
    }

    /// A rectangle of the page (clamped to it) as its brightest channel ([`raster::ink_channel`]: a blue or
    /// violet stamp drops out); None if nothing of it is inside, or on a grey page, which has no channel
    /// but its luminance.
    pub fn crop_ink(self, x: i64, y: i64, w: i64, h: i64) -> Option<GrayImage> {
        match self {
            Pixels::Rgb(rgb) => raster::crop(rgb, x, y, w, h).map(|c| raster::ink_channel(&c)),
            Pixels::Gray(_) => None,
        }
    }

    /// The luminance reduced by a whole factor `k`, sampling every `step`-th pixel
    /// ([`raster::reduced_luminance`]).
    pub fn reduced_luminance(self, k: u32, step: u32) -> GrayImage {
        match self {
            Pixels::Rgb(rgb) => raster::reduced_luminance(rgb, k, step),
            Pixels::Gray(gray) => raster::reduced_gray(gray, k, step),
        }
    }

    /// The page reduced by a whole factor `k`, each block averaged ([`raster::downscale_rgb`]).
    pub fn downscale(self, k: u32) -> PagePixels {
        match self {
            Pixels::Rgb(rgb) => PagePixels::Rgb(raster::downscale_rgb(rgb, k)),
            Pixels::Gray(gray) => PagePixels::Gray(raster::downscale(gray, k.max(1) as f32)),
        }
    }

    /// A template rectangle cut out upright through `pose` ([`locate::cut`]), in RGB.
    pub fn cut(self, pose: &SheetPose, rect: &Rect, px_per_mm: f64) -> RgbImage {
        match self {
            Pixels::Rgb(rgb) => locate::cut(rgb, pose, rect, px_per_mm),
            Pixels::Gray(gray) => raster::gray_to_rgb(&locate::cut_gray(gray, pose, rect, px_per_mm)),
        }
    }

    /// [`Pixels::cut`] as luminance.
    pub fn cut_luminance(self, pose: &SheetPose, rect: &Rect, px_per_mm: f64) -> GrayImage {
        match self {
            Pixels::Rgb(rgb) => raster::luminance(&locate::cut(rgb, pose, rect, px_per_mm)),
            Pixels::Gray(gray) => locate::cut_gray(gray, pose, rect, px_per_mm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::tests::noise;

    /// A grey page with some structure: noise, a dark bar and a gradient.
    fn grey_page(w: u32, h: u32) -> GrayImage {
        let mut next = noise(11);
        GrayImage::from_fn(w, h, |x, y| {
            let bar = if (40..70).contains(&x) && y > 20 { 30 } else { 0 };
            image::Luma([(next() / 8).saturating_add((x + y) as u8 / 2).saturating_add(90).saturating_sub(bar)])
        })
    }

    #[test]
    fn an_rgb_page_is_held_grey_only_when_every_pixel_is_neutral() {
        let gray = grey_page(301, 233);
        let rgb = raster::gray_to_rgb(&gray);
        assert_eq!(PagePixels::neutral_as_grey(rgb.clone()), PagePixels::Gray(gray));
        // One pixel a level off neutral, in the last row, after the last whole eight of it: kept in RGB.
        let mut tinted = rgb.clone();
        tinted.get_pixel_mut(300, 232).0[2] ^= 1;
        assert_eq!(PagePixels::neutral_as_grey(tinted.clone()), PagePixels::Rgb(tinted));
        let mut tinted = rgb;
        tinted.get_pixel_mut(17, 100).0[1] ^= 64;
        assert_eq!(PagePixels::neutral_as_grey(tinted.clone()), PagePixels::Rgb(tinted));
        let empty = RgbImage::new(0, 0);
        assert_eq!(PagePixels::neutral_as_grey(empty).dimensions(), (0, 0));
    }

    #[test]
    fn a_grey_page_reads_exactly_as_the_same_page_spread_to_rgb() {
        let gray = grey_page(301, 233);
        let rgb = raster::gray_to_rgb(&gray);
        let (g, c) = (Pixels::from(&gray), Pixels::from(&rgb));
        assert_eq!(g.dimensions(), c.dimensions());
        assert!(!g.has_colour() && !c.has_colour());
        assert_eq!(*g.luminance(), *c.luminance());
        assert_eq!(*g.ink_channel(), *c.ink_channel());
        assert_eq!(g.crop_luminance(-5, 17, 120, 90), c.crop_luminance(-5, 17, 120, 90));
        assert_eq!(g.crop_luminance(400, 17, 120, 90), None);
        for (k, step) in [(1, 1), (3, 1), (4, 2), (7, 3)] {
            assert_eq!(g.reduced_luminance(k, step), c.reduced_luminance(k, step), "k {k} step {step}");
        }
        for k in [1, 2, 3] {
            assert_eq!(g.downscale(k).to_rgb().into_owned(), c.downscale(k).to_rgb().into_owned(), "k {k}");
        }
        // A turned, skewed pose whose rectangle runs off the page: the edge's white is mixed in too.
        let pose = SheetPose::centred((210.0, 297.0), gray.dimensions(), 30.0, 180, 2.5);
        let rect = Rect { x: -4.0, y: 150.0, w: 80.0, h: 40.0 };
        assert_eq!(g.cut(&pose, &rect, 3.0), c.cut(&pose, &rect, 3.0));
        assert_eq!(g.cut_luminance(&pose, &rect, 3.0), c.cut_luminance(&pose, &rect, 3.0));
    }
}
