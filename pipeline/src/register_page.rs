//! A page of the issuance register (issue 14, items 3 and 4): its code says which register, version, page
//! and rows it is; the layout (`certscan_templates::register`, data) says where each row's signature cell
//! lies. The pose comes from the code's corners as on a certificate; then every row's cell is cut out,
//! its printed borders found and left out, and what ink is left inside is measured: a cell is `signed`,
//! `empty` or `unclear` ([`judge_cell`], a pure rule with its thresholds). The check reports, it never
//! approves: the reviewer decides. A crop of each cell (PNG) goes with the verdict. Talks to nothing.

use std::sync::OnceLock;

use image::{GrayImage, RgbImage};

use certscan_domain::register_scan::SignatureVerdict;
use certscan_domain::RegisterPagePayload;
use certscan_templates::register::RegisterTemplate;
use certscan_templates::Rect;

use crate::locate::{grow, SheetPose};
use crate::pixels::Pixels;
use crate::qr::FoundCode;

/// What was read on one register page.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterPageReading {
    pub payload: RegisterPagePayload,
    /// One per row the page carries, in row order.
    pub cells: Vec<SignatureCell>,
}

/// The signature check of one row's cell.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureCell {
    /// The register row (№).
    pub row: u32,
    pub verdict: SignatureVerdict,
    pub ink: CellInk,
    /// The cell with a little of its surroundings, upright, as PNG (for the reviewer).
    pub crop_png: Vec<u8>,
}

/// What the inside of a cell holds, its printed borders left out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CellInk {
    /// Share of the inside that is ink in marks of some size (specks of noise are not counted), 0..1.
    pub fraction: f32,
    /// How wide the ink reaches, as a share of the inside's width, 0..1.
    pub span: f32,
}

/// A cell with less ink than this is empty (about 1.5 mm² in a 57 × 9 mm cell: a speck or two).
pub const EMPTY_BELOW: f32 = 0.003;
/// A signature inks at least this share of the cell...
pub const SIGNED_FROM: f32 = 0.012;
/// ...and reaches across at least this share of its width (a tick or a dot does not).
pub const SIGNED_SPAN: f32 = 0.15;

/// The verdict on a cell's ink: empty, signed, or unclear in between (the reviewer looks).
pub fn judge_cell(ink: CellInk) -> SignatureVerdict {
    if ink.fraction < EMPTY_BELOW {
        SignatureVerdict::Empty
    } else if ink.fraction >= SIGNED_FROM && ink.span >= SIGNED_SPAN {
        SignatureVerdict::Signed
    } else {
        SignatureVerdict::Unclear
    }
}

/// The embedded register layout (the one `certscan` prints).
pub fn register_layout() -> &'static RegisterTemplate {
    static LAYOUT: OnceLock<RegisterTemplate> = OnceLock::new();
    LAYOUT.get_or_init(RegisterTemplate::reference)
}

/// Pixels per millimetre the cells are measured at (~200 dpi) and cropped at for the reviewer (~150 dpi).
const MEASURE_PX_PER_MM: f64 = 8.0;
const CROP_PX_PER_MM: f64 = 6.0;
/// Around each cell: room for the pose's error when looking for the printed borders.
const SEARCH_MARGIN_MM: f32 = 2.5;
/// Left out inside the borders found (the line, its blur, a little skew).
const INSET_MM: f64 = 0.9;
/// Ink marks smaller than this (mm²) are noise.
const MIN_MARK_MM2: f64 = 0.25;

/// The pose that puts the layout's code onto the code found (rqrr's corners run from grid point 0 to
/// modules + 1, as on a certificate).
pub fn pose_from_register_code(code: &FoundCode, layout: &RegisterTemplate) -> Option<SheetPose> {
    let r = layout.code_rect();
    let modules = code.modules.max(21) as f64;
    let far = r.w as f64 * (modules + 1.0) / modules;
    let (x, y) = (r.x as f64, r.y as f64);
    let sheet = [(x, y), (x + far, y), (x + far, y + far), (x, y + far)];
    let pairs: Vec<_> = sheet.into_iter().zip(code.corners).collect();
    SheetPose::fit(&pairs)
}

/// Checks every row's signature cell of a register page whose code was read (`image` at the pose's
/// scale). `None` when the code's corners give no pose.
pub fn read_register_page<'a>(
    image: impl Into<Pixels<'a>>,
    code: &FoundCode,
    payload: RegisterPagePayload,
) -> Option<(SheetPose, RegisterPageReading)> {
    let image = image.into();
    let layout = register_layout();
    let pose = pose_from_register_code(code, layout)?;
    let rows = payload.first_row..=payload.last_row;
    let cells = rows
        .enumerate()
        .map(|(i, row)| {
            let cell = layout.signature_cell(i);
            let ink = measure_cell(image, &pose, &cell);
            let crop = image.cut(&pose, &grow(&cell, 1.5), CROP_PX_PER_MM);
            SignatureCell { row, verdict: judge_cell(ink), ink, crop_png: png(&crop) }
        })
        .collect();
    Some((pose, RegisterPageReading { payload, cells }))
}

fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("an RGB image encodes as PNG in memory");
    out.into_inner()
}

/// The ink inside a cell: cut with a margin, the printed borders found near where the layout puts them,
/// the inside binarised against the paper around it, specks dropped.
pub fn measure_cell<'a>(image: impl Into<Pixels<'a>>, pose: &SheetPose, cell: &Rect) -> CellInk {
    let k = MEASURE_PX_PER_MM;
    let crop = image.into().cut_luminance(pose, &grow(cell, SEARCH_MARGIN_MM), k);
    let ink = ink_mask(&crop);
    let (w, h) = (crop.width() as usize, crop.height() as usize);
    let margin = SEARCH_MARGIN_MM as f64 * k;
    let search = 1.8 * k;
    let row_share = |y: usize| (w / 10..w - w / 10).filter(|&x| ink[y * w + x]).count() as f64 / (w - w / 5).max(1) as f64;
    let col_share = |x: usize| (h / 5..h - h / 5).filter(|&y| ink[y * w + x]).count() as f64 / (h - 2 * (h / 5)).max(1) as f64;
    let best = |expected: f64, len: usize, share: &dyn Fn(usize) -> f64| -> f64 {
        let lo = (expected - search).max(0.0) as usize;
        let hi = ((expected + search) as usize).min(len.saturating_sub(1));
        let found = (lo..=hi).map(|i| (i, share(i))).max_by(|a, b| a.1.total_cmp(&b.1));
        match found {
            // A printed border inks most of the line; else keep where the layout says.
            Some((i, s)) if s > 0.5 => i as f64,
            _ => expected,
        }
    };
    let top = best(margin, h, &row_share);
    let bottom = best(h as f64 - margin, h, &row_share);
    let left = best(margin, w, &col_share);
    let right = best(w as f64 - margin, w, &col_share);
    let inset = INSET_MM * k;
    let (x0, x1) = ((left + inset).ceil() as usize, (right - inset).floor().max(0.0) as usize);
    let (y0, y1) = ((top + inset).ceil() as usize, (bottom - inset).floor().max(0.0) as usize);
    if x1 <= x0 + 2 || y1 <= y0 + 2 || x1 > w || y1 > h {
        return CellInk::default();
    }
    inside_ink(&ink, w, (x0, y0, x1, y1), (MIN_MARK_MM2 * k * k) as usize)
}

/// Ink where a pixel is clearly darker than the paper of its vertical strip (a lid shadow or uneven
/// lighting shifts the paper, not the verdict).
fn ink_mask(gray: &GrayImage) -> Vec<bool> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let strip = (4.0 * MEASURE_PX_PER_MM) as usize;
    let mut mask = vec![false; w * h];
    let raw = gray.as_raw();
    let mut x0 = 0;
    while x0 < w {
        let x1 = (x0 + strip).min(w);
        let mut values: Vec<u8> = (0..h).flat_map(|y| raw[y * w + x0..y * w + x1].iter().copied()).collect();
        values.sort_unstable();
        let paper = values[values.len() * 3 / 4] as i32;
        let level = paper - (paper / 3).max(45);
        for y in 0..h {
            for x in x0..x1 {
                mask[y * w + x] = (raw[y * w + x] as i32) < level;
            }
        }
        x0 = x1;
    }
    mask
}

/// The share of the box inked by marks of at least `min_pixels` (4-connected), and how wide they reach.
fn inside_ink(mask: &[bool], w: usize, (x0, y0, x1, y1): (usize, usize, usize, usize), min_pixels: usize) -> CellInk {
    let (bw, bh) = (x1 - x0, y1 - y0);
    let mut seen = vec![false; bw * bh];
    let (mut inked, mut min_x, mut max_x) = (0usize, usize::MAX, 0usize);
    let mut stack = Vec::new();
    for start in 0..bw * bh {
        if seen[start] || !mask[(y0 + start / bw) * w + x0 + start % bw] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut size, mut lo, mut hi) = (0usize, usize::MAX, 0usize);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % bw, i / bw);
            size += 1;
            lo = lo.min(x);
            hi = hi.max(x);
            let mut visit = |nx: usize, ny: usize| {
                let j = ny * bw + nx;
                if !seen[j] && mask[(y0 + ny) * w + x0 + nx] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(x - 1, y);
            }
            if x + 1 < bw {
                visit(x + 1, y);
            }
            if y > 0 {
                visit(x, y - 1);
            }
            if y + 1 < bh {
                visit(x, y + 1);
            }
        }
        if size >= min_pixels {
            inked += size;
            min_x = min_x.min(lo);
            max_x = max_x.max(hi);
        }
    }
    let span = if inked > 0 { (max_x + 1 - min_x) as f32 / bw as f32 } else { 0.0 };
    CellInk { fraction: inked as f32 / (bw * bh) as f32, span }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn a_cell_is_empty_signed_or_unclear_by_its_ink() {
        assert_eq!(judge_cell(CellInk { fraction: 0.0, span: 0.0 }), SignatureVerdict::Empty);
        assert_eq!(judge_cell(CellInk { fraction: 0.002, span: 0.5 }), SignatureVerdict::Empty);
        assert_eq!(judge_cell(CellInk { fraction: 0.06, span: 0.4 }), SignatureVerdict::Signed);
        // A tick: some ink, but it reaches across little of the cell.
        assert_eq!(judge_cell(CellInk { fraction: 0.02, span: 0.05 }), SignatureVerdict::Unclear);
        // A faint stroke: wide, but little ink.
        assert_eq!(judge_cell(CellInk { fraction: 0.006, span: 0.6 }), SignatureVerdict::Unclear);
    }

    /// A printed cell (borders) on white paper at 8 px/mm with the identity pose, with `strokes` drawn inside.
    fn page_with_cell(cell: &Rect, strokes: &[(f32, f32, f32, f32)], specks: bool) -> RgbImage {
        let k = 8.0f32;
        let (w, h) = (((cell.right() + 10.0) * k) as u32, ((cell.bottom() + 10.0) * k) as u32);
        let mut img = RgbImage::from_pixel(w, h, Rgb([235, 233, 228]));
        let mut dot = |x: f32, y: f32, r: f32, c: u8| {
            for dy in -(r as i32)..=(r as i32) {
                for dx in -(r as i32)..=(r as i32) {
                    let (px, py) = ((x * k) as i32 + dx, (y * k) as i32 + dy);
                    if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        img.put_pixel(px as u32, py as u32, Rgb([c, c, c + 20]));
                    }
                }
            }
        };
        let line = |dot: &mut dyn FnMut(f32, f32, f32, u8), (ax, ay, bx, by): (f32, f32, f32, f32), r: f32, c: u8| {
            let n = ((bx - ax).hypot(by - ay) * 8.0) as usize + 1;
            for i in 0..=n {
                let t = i as f32 / n as f32;
                dot(ax + (bx - ax) * t, ay + (by - ay) * t, r, c);
            }
        };
        for border in [
            (cell.x, cell.y, cell.right(), cell.y),
            (cell.x, cell.bottom(), cell.right(), cell.bottom()),
            (cell.x, cell.y, cell.x, cell.bottom()),
            (cell.right(), cell.y, cell.right(), cell.bottom()),
        ] {
            line(&mut dot, border, 0.0, 30);
        }
        for s in strokes {
            line(&mut dot, (cell.x + s.0, cell.y + s.1, cell.x + s.2, cell.y + s.3), 2.0, 40);
        }
        if specks {
            for i in 0..12 {
                dot(cell.x + 3.0 + i as f32 * 4.3, cell.y + 2.0 + (i % 5) as f32 * 1.5, 0.0, 60);
            }
        }
        img
    }

    #[test]
    fn a_signed_cell_an_empty_one_and_one_with_specks_are_told_apart_even_when_the_pose_is_off_a_little() {
        let cell = Rect { x: 10.0, y: 10.0, w: 59.0, h: 11.0 };
        let signature = [(8.0, 8.0, 16.0, 2.5), (16.0, 2.5, 22.0, 8.5), (22.0, 8.5, 35.0, 4.0), (35.0, 4.0, 44.0, 6.0)];
        // The layout's cell 1 mm off where it was printed: the borders are found, not assumed.
        let pose = SheetPose { px_per_mm: 8.0, rotation_deg: 0.0, origin_px: (8.0, -6.0) };
        let signed = measure_cell(&page_with_cell(&cell, &signature, false), &pose, &cell);
        assert_eq!(judge_cell(signed), SignatureVerdict::Signed, "{signed:?}");
        let empty = measure_cell(&page_with_cell(&cell, &[], true), &pose, &cell);
        assert_eq!(judge_cell(empty), SignatureVerdict::Empty, "{empty:?}");
        let tick = measure_cell(&page_with_cell(&cell, &[(5.0, 3.0, 8.0, 8.0)], false), &pose, &cell);
        assert_eq!(judge_cell(tick), SignatureVerdict::Unclear, "{tick:?}");
    }
}
