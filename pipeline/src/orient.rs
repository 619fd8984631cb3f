//! Which way up the sheet lies and how skewed it is. With a code, from the code's corners: rqrr lists
//! them in symbol order, so fitting them to where the template put the symbol gives the quarter turn,
//! the skew, the scale and the translation at once. Without one, from the page itself: the aspect ratio
//! picks portrait (0/180) or landscape (90/270); a projection profile of the ink at candidate angles
//! gives the skew; the template's text lines, correlated with the page's ink rows, rank up against
//! down (the blank-number reader then confirms by reading both). Talks to nothing.

use image::GrayImage;

use certscan_templates::Template;

use crate::locate::SheetPose;
use crate::pixels::Pixels;
use crate::qr::FoundCode;
use crate::raster;

/// The pose that puts the template's symbol corners onto the corners found on the page.
pub fn pose_from_code(code: &FoundCode, template: &Template) -> Option<SheetPose> {
    let r = template.code.symbol_rect();
    // rqrr's corners run from grid point 0 to modules + 1 (see `DecodedCode::corners`).
    let modules = code.modules.max(21) as f64;
    let far = r.w as f64 * (modules + 1.0) / modules;
    let (x, y) = (r.x as f64, r.y as f64);
    let sheet = [(x, y), (x + far, y), (x + far, y + far), (x, y + far)];
    let pairs: Vec<_> = sheet.into_iter().zip(code.corners).collect();
    SheetPose::fit(&pairs)
}

/// The page's own estimate of its pose when no code was read: candidates ranked best first (the two
/// quarter turns that fit the aspect ratio, deskewed and vertically aligned with the template).
#[derive(Debug, Clone, PartialEq)]
pub struct PageOrientation {
    pub candidates: Vec<SheetPose>,
    /// How sure the up/down ranking is: the score margin between the two candidates, 0..1.
    pub margin: f32,
}

/// Resolution the page analysis works at: enough for text lines 3 mm tall, cheap to scan.
const ANALYSIS_DPI: f64 = 50.0;

/// A reduced, binarised page for the layout analysis (ink = true).
#[derive(Debug, Clone)]
pub struct InkMap {
    width: usize,
    height: usize,
    ink: Vec<bool>,
    /// Full-resolution pixels per map pixel.
    factor: f64,
}

impl InkMap {
    pub fn new(gray: &GrayImage, dpi: f64) -> InkMap {
        let factor = (dpi / ANALYSIS_DPI).max(1.0);
        InkMap::from_reduced(raster::downscale(gray, factor as f32), gray.width())
    }

    /// The map straight from a page as decoded (colour or grey), sampling every few pixels (text and frame
    /// lines are several pixels wide at scanning resolutions, so none is missed); no full grey page needed.
    pub fn from_page<'a>(page: impl Into<Pixels<'a>>, dpi: f64) -> InkMap {
        let page = page.into();
        let k = (dpi / ANALYSIS_DPI).max(1.0).round() as u32;
        InkMap::from_reduced(page.reduced_luminance(k, (k / 3).max(1)), page.width())
    }

    fn from_reduced(small: GrayImage, full_width: u32) -> InkMap {
        let factor = full_width as f64 / small.width() as f64;
        // Otsu is wrong on an almost empty page (it splits paper noise); ink must be clearly dark.
        let level = raster::otsu(&small).min(150);
        let ink = small.as_raw().iter().map(|&v| v <= level).collect();
        InkMap { width: small.width() as usize, height: small.height() as usize, ink, factor }
    }

    fn at(&self, x_px: f64, y_px: f64) -> Option<bool> {
        let (x, y) = (x_px / self.factor, y_px / self.factor);
        if x < 0.0 || y < 0.0 || x >= self.width as f64 || y >= self.height as f64 {
            return None;
        }
        Some(self.ink[y as usize * self.width + x as usize])
    }

    /// Share of ink away from the page edges (where scanners leave shadows): ~0 for a blank page.
    pub fn inner_ink_fraction(&self) -> f32 {
        let border_x = self.width / 20;
        let border_y = self.height / 20;
        let (mut ink, mut all) = (0usize, 0usize);
        for y in border_y..self.height.saturating_sub(border_y) {
            for x in border_x..self.width.saturating_sub(border_x) {
                all += 1;
                ink += self.ink[y * self.width + x] as usize;
            }
        }
        ink as f32 / all.max(1) as f32
    }

    fn points(&self) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        for y in 0..self.height {
            for x in 0..self.width {
                if self.ink[y * self.width + x] {
                    out.push((x as f64, y as f64));
                }
            }
        }
        out
    }
}

/// Skew (degrees clockwise, within ±`max_deg`) that makes the ink's text lines sharpest along the
/// sheet's rows; `landscape` when the rows run down the page.
pub fn skew_from_profile(map: &InkMap, landscape: bool, max_deg: f64) -> f64 {
    let points = map.points();
    if points.len() < 50 {
        return 0.0;
    }
    let sharpness = |deg: f64| {
        let (s, c) = deg.to_radians().sin_cos();
        let span = (map.width + map.height) * 2;
        let mut bins = vec![0u32; span];
        for &(x, y) in &points {
            // Distance along the normal of the text lines.
            let r = if landscape { x * c + y * s } else { -x * s + y * c };
            let i = (r + map.width.max(map.height) as f64) as usize;
            if i < span {
                bins[i] += 1;
            }
        }
        bins.iter().map(|&b| (b as f64) * (b as f64)).sum::<f64>()
    };
    let best = |from: f64, to: f64, step: f64| {
        let mut best = (f64::MIN, 0.0);
        let mut a = from;
        while a <= to + 1e-9 {
            let v = sharpness(a);
            if v > best.0 {
                best = (v, a);
            }
            a += step;
        }
        best.1
    };
    let coarse = best(-max_deg, max_deg, 0.5);
    best(coarse - 0.5, coarse + 0.5, 0.1)
}

/// Rows of the sheet (mm, upright) where the template expects text, and the clean gaps between them.
fn expected_rows(template: &Template) -> Vec<(f64, f64, f64)> {
    const MM_PER_PT: f64 = 25.4 / 72.0;
    let mut rows = Vec::new();
    for field in &template.fields {
        let cap = field.size_pt as f64 * MM_PER_PT * 0.72;
        rows.push((field.y_mm as f64 - cap, field.y_mm as f64, 1.0));
    }
    let bn = template.recognition.blank_number.rect;
    rows.push((bn.y as f64 + 2.0, bn.bottom() as f64 - 2.0, 0.5));
    let title = template.blank.title_baseline_mm as f64;
    rows.push((title - template.blank.title_size_pt as f64 * MM_PER_PT * 0.72, title, 1.0));
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows
}

/// Ranks the two quarter turns the aspect ratio allows, deskewed, and aligns each vertically.
pub fn orientation_from_page(map: &InkMap, page_px: (u32, u32), dpi: f64, template: &Template) -> PageOrientation {
    let landscape = page_px.0 > page_px.1;
    let skew = skew_from_profile(map, landscape, 6.0);
    let sheet = (template.page.width_mm as f64, template.page.height_mm as f64);
    let rows = expected_rows(template);
    let (x_from, x_to) = (template.printable.rect.x as f64, template.printable.rect.right() as f64);
    let pair: [u32; 2] = if landscape { [90, 270] } else { [0, 180] };
    let step = 0.5;
    let mut scored: Vec<(f64, SheetPose)> = pair
        .iter()
        .map(|&o| {
            let pose = SheetPose::centred(sheet, page_px, dpi, o, skew);
            // Ink per sheet row (0.5 mm), over the printable width.
            let n_rows = (sheet.1 / step) as usize;
            let mut profile = vec![0f64; n_rows];
            for (i, value) in profile.iter_mut().enumerate() {
                let y = i as f64 * step;
                let (mut ink, mut all) = (0usize, 0usize);
                let mut x = x_from;
                while x < x_to {
                    let (px, py) = pose.to_page(x, y);
                    if let Some(v) = map.at(px, py) {
                        all += 1;
                        ink += v as usize;
                    }
                    x += 1.0;
                }
                *value = ink as f64 / all.max(1) as f64;
            }
            let mean = profile.iter().sum::<f64>() / n_rows as f64;
            // Expected: +weight inside a text row, -1 in the 1.5 mm just above and below it.
            let score_at = |dy: f64| {
                let mut score = 0.0;
                for &(top, bottom, weight) in &rows {
                    let sample = |y: f64| {
                        let i = ((y + dy) / step) as isize;
                        if i < 0 || i as usize >= n_rows {
                            mean
                        } else {
                            profile[i as usize]
                        }
                    };
                    let mut y = top;
                    while y <= bottom {
                        score += weight * (sample(y) - mean);
                        y += step;
                    }
                    for k in 1..=3 {
                        score -= sample(top - k as f64 * step) - mean;
                        score -= sample(bottom + k as f64 * step) - mean;
                    }
                }
                score
            };
            let mut best = (f64::MIN, 0.0);
            let mut dy = -5.0;
            while dy <= 5.0 {
                let s = score_at(dy);
                if s > best.0 {
                    best = (s, dy);
                }
                dy += step;
            }
            (best.0, pose.shifted_mm(0.0, best.1))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (a, b) = (scored[0].0, scored[1].0);
    let margin = if a.abs() + b.abs() > 1e-9 { ((a - b) / (a.abs() + b.abs())) as f32 } else { 0.0 };
    PageOrientation { candidates: scored.into_iter().map(|(_, p)| p).collect(), margin }
}
