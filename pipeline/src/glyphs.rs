//! The glyph reader: the blank-number reader that is not Tesseract. It cuts the printed line into
//! characters (pieces of ink) and tells each digit by its shape against templates of the digits 0–9 in
//! many typefaces (`data/digit-glyphs.txt`, written by `scripts/glyph-templates.py`; serif, sans,
//! monospace and condensed faces, regular and bold, from the URW, Liberation, FreeFont, Noto, TeX Gyre,
//! Caladea/Carlito and Libertine families). It shares nothing with Tesseract but the line's crop, so the
//! two fail differently: Tesseract reads a line with a language model and a whitelist and may turn a
//! serif 5 into a 3 with confidence; the glyph reader compares whole shapes and says "unsure" when the
//! best digit is not clearly ahead of the next best. It needs no learning from the stack, so it works on
//! a stack of one page.
//!
//! A character's shape is its bounding box scaled (aspect kept) into a 20×20 grid by area, blurred
//! slightly, centred and normalised; two shapes compare by correlation, less a penalty for a different
//! width-to-height ratio (a 1 is narrow in every typeface). The DejaVu family is deliberately not among
//! the templates: the project's simulator prints in DejaVu faces, so its figures are on unseen typefaces.

use std::sync::OnceLock;

use image::GrayImage;

/// Side of the square grid a character's shape is scaled into.
const GRID: usize = 20;
/// A character counts as read when its best digit correlates at least this well with a template…
const MIN_SIMILARITY: f32 = 0.7;
/// …and the best other digit scores at least this much lower (held-out DejaVu faces at 34–60 px: the
/// smallest margin of a correct digit 0.01–0.03 for bold faces, 0.07+ for the others).
const MIN_MARGIN: f32 = 0.03;
/// Weight of the difference in aspect (|ln(ratio)|) against correlation.
const ASPECT_WEIGHT: f32 = 0.5;

/// One character as the glyph reader saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CharGuess {
    /// The digit whose templates fit best.
    pub best: char,
    /// How well it fits (correlation less the aspect penalty, ≤ 1).
    pub similarity: f32,
    /// How far ahead of the next best digit.
    pub margin: f32,
}

impl CharGuess {
    /// Clearly this digit and no other.
    pub fn sure(&self) -> bool {
        self.similarity >= MIN_SIMILARITY && self.margin >= MIN_MARGIN
    }
}

/// What the glyph reader read on one line: one guess per character, grouped as the template's example.
#[derive(Debug, Clone, PartialEq)]
pub struct GlyphReading {
    pub chars: Vec<CharGuess>,
    /// Characters per group (`77 0012345` → [2, 7]).
    pub groups: Vec<usize>,
}

impl GlyphReading {
    /// The text with `?` for a character the reader is not sure of, grouped like the template's example.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut at = 0;
        for (i, &g) in self.groups.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            for c in &self.chars[at..at + g] {
                out.push(if c.sure() { c.best } else { '?' });
            }
            at += g;
        }
        out
    }

    /// Every character read for sure.
    pub fn complete(&self) -> bool {
        self.chars.iter().all(CharGuess::sure)
    }
}

struct Template {
    digit: char,
    shape: Vec<f32>,
    aspect: f32,
}

fn templates() -> &'static [Template] {
    static TEMPLATES: OnceLock<Vec<Template>> = OnceLock::new();
    TEMPLATES.get_or_init(|| parse_templates(include_str!("../data/digit-glyphs.txt")))
}

/// `name digit width height row…` lines, each row hex with the leftmost pixel in the top bit.
fn parse_templates(text: &str) -> Vec<Template> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let bad = || -> usize { malformed(n + 1) };
        if fields.len() < 4 {
            bad();
        }
        let digit = fields[1].chars().next().filter(char::is_ascii_digit).unwrap_or_else(|| malformed(n + 1));
        let (w, h): (usize, usize) = (fields[2].parse().unwrap_or_else(|_| bad()), fields[3].parse().unwrap_or_else(|_| bad()));
        let rows = &fields[4..];
        if rows.len() != h || w == 0 {
            bad();
        }
        let mut ink = vec![false; w * h];
        for (y, row) in rows.iter().enumerate() {
            for (i, c) in row.chars().enumerate() {
                let nibble = c.to_digit(16).unwrap_or_else(|| malformed(n + 1));
                for b in 0..4 {
                    let x = i * 4 + b;
                    if x < w {
                        ink[y * w + x] = nibble & (8 >> b) != 0;
                    }
                }
            }
        }
        let (shape, aspect) = shape(&ink, w, h);
        out.push(Template { digit, shape, aspect });
    }
    out
}

/// The template file is part of the program: a malformed line is a build defect, caught by the tests.
fn malformed(line: usize) -> ! {
    panic!("data/digit-glyphs.txt line {line}: malformed template")
}

/// A character's normalised shape and aspect (width / height) from its ink mask.
fn shape(ink: &[bool], w: usize, h: usize) -> (Vec<f32>, f32) {
    let g = GRID as f32;
    let scale = g / w.max(h) as f32;
    let (ox, oy) = ((g - w as f32 * scale) / 2.0, (g - h as f32 * scale) / 2.0);
    const SUB: usize = 4;
    let mut grid = vec![0f32; GRID * GRID];
    for cy in 0..GRID {
        for cx in 0..GRID {
            let mut n = 0;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let x = (cx as f32 + (sx as f32 + 0.5) / SUB as f32 - ox) / scale;
                    let y = (cy as f32 + (sy as f32 + 0.5) / SUB as f32 - oy) / scale;
                    if x >= 0.0 && y >= 0.0 && (x as usize) < w && (y as usize) < h && ink[y as usize * w + x as usize] {
                        n += 1;
                    }
                }
            }
            grid[cy * GRID + cx] = n as f32 / (SUB * SUB) as f32;
        }
    }
    // A [1 2 1] blur each way: a stroke a pixel off still overlaps its template.
    let blur = |src: &[f32], dx: usize, dy: usize| -> Vec<f32> {
        let mut out = vec![0f32; GRID * GRID];
        for y in 0..GRID {
            for x in 0..GRID {
                let at = |xx: isize, yy: isize| {
                    if xx < 0 || yy < 0 || xx >= GRID as isize || yy >= GRID as isize {
                        0.0
                    } else {
                        src[yy as usize * GRID + xx as usize]
                    }
                };
                let (x, y) = (x as isize, y as isize);
                let (dx, dy) = (dx as isize, dy as isize);
                out[y as usize * GRID + x as usize] = (at(x - dx, y - dy) + 2.0 * at(x, y) + at(x + dx, y + dy)) / 4.0;
            }
        }
        out
    };
    let mut v = blur(&blur(&grid, 1, 0), 0, 1);
    let mean = v.iter().sum::<f32>() / v.len() as f32;
    v.iter_mut().for_each(|x| *x -= mean);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter_mut().for_each(|x| *x /= norm);
    (v, w as f32 / h as f32)
}

/// The digit a character's ink mask shows.
pub fn classify(ink: &[bool], w: usize, h: usize) -> CharGuess {
    let (v, aspect) = shape(ink, w, h);
    let mut best = [f32::MIN; 10];
    for t in templates() {
        let correlation: f32 = v.iter().zip(&t.shape).map(|(a, b)| a * b).sum();
        let score = correlation - ASPECT_WEIGHT * (aspect / t.aspect).ln().abs();
        let d = t.digit as usize - '0' as usize;
        best[d] = best[d].max(score);
    }
    let mut order: Vec<usize> = (0..10).collect();
    order.sort_by(|&a, &b| best[b].total_cmp(&best[a]));
    CharGuess { best: (b'0' + order[0] as u8) as char, similarity: best[order[0]], margin: best[order[0]] - best[order[1]] }
}

/// Reads a line crop (grey, dark ink on light paper, tight around the characters) as `groups` of digits,
/// cut at two levels: half way between the print and the paper, and nearer the print (a lighter stamp or
/// pen over the digits drops out); the cuts merged as by [`merge`].
pub fn read(line: &GrayImage, groups: &[usize]) -> Option<GlyphReading> {
    let cuts: Vec<GlyphReading> = [0.5, 0.3].iter().filter_map(|&share| read_line(line, groups, share)).collect();
    merge(&cuts)
}

/// Several readings of one number (images of it the reader saw: the grey line, inks separated by
/// colour) as one: a character is sure where at least one reading is sure of it and no other is sure of
/// another digit.
pub fn merge(readings: &[GlyphReading]) -> Option<GlyphReading> {
    let first = readings.first()?;
    let n = first.chars.len();
    let mut merged = first.clone();
    for (i, c) in merged.chars.iter_mut().enumerate() {
        let sure: Vec<&CharGuess> = readings.iter().filter_map(|r| r.chars.get(i)).filter(|g| g.sure()).collect();
        let contested = sure.iter().any(|g| g.best != sure[0].best) || readings.iter().any(|r| r.chars.len() != n);
        *c = match sure.first() {
            Some(g) if !contested => **g,
            // Not sure, or contested: unsure.
            _ => CharGuess { margin: 0.0, ..*c },
        };
    }
    Some(merged)
}

/// One cut of [`read`]: ink is what is darker than `share` of the way from the print to the paper. None
/// when the line does not cut into exactly that many characters with the widest spacing between the
/// groups (a mark joining characters, a character broken apart, another line in the crop).
pub fn read_line(line: &GrayImage, groups: &[usize], share: f32) -> Option<GlyphReading> {
    let (w, h) = (line.width() as usize, line.height() as usize);
    if w < 8 || h < 8 {
        return None;
    }
    let [dark, paper] = crate::raster::gray_percentiles(line, [1, 50]);
    if paper.saturating_sub(dark) < 40 {
        return None;
    }
    let level = (dark as f32 + (paper as f32 - dark as f32) * share).round() as u8;
    let ink: Vec<bool> = line.as_raw().iter().map(|&v| v < level).collect();
    let mask = GrayImage::from_raw(w as u32, h as u32, ink.iter().map(|&b| if b { 255 } else { 0 }).collect())?;
    let labels =
        imageproc::region_labelling::connected_components(&mask, imageproc::region_labelling::Connectivity::Eight, image::Luma([0u8]));
    let count = labels.as_raw().iter().copied().max().unwrap_or(0) as usize;
    // Boxes (x0, y0, x1, y1 inclusive) and ink of each piece.
    let mut boxes = vec![(usize::MAX, usize::MAX, 0usize, 0usize, 0usize); count + 1];
    for (x, y, l) in labels.enumerate_pixels() {
        let b = &mut boxes[l.0[0] as usize];
        let (x, y) = (x as usize, y as usize);
        *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y), b.4 + 1);
    }
    let height = |b: &(usize, usize, usize, usize, usize)| b.3 - b.1 + 1;
    let width = |b: &(usize, usize, usize, usize, usize)| b.2 - b.0 + 1;
    // The characters' height: the height most pieces of a character's shape share (within 15 %). A frame
    // edge or a pen stroke is taller or wider, a speck or a broken-off serif smaller.
    let shaped: Vec<usize> =
        boxes.iter().skip(1).filter(|b| b.4 > 0 && height(b) >= 8 && width(b) * 10 <= height(b) * 12).map(height).collect();
    let share_of = |h: usize| shaped.iter().filter(|&&o| o * 100 >= h * 85 && o * 100 <= h * 118).count();
    let char_height = shaped.iter().copied().max_by_key(|&h| (share_of(h), h))?;
    // Characters: pieces about that tall; smaller pieces join the character whose columns they stand in
    // (a serif or a bar the threshold broke off), or are specks.
    let mut chars: Vec<(usize, usize, usize, usize, Vec<usize>)> = Vec::new();
    let mut marks: Vec<(usize, usize, usize, usize)> = Vec::new();
    for (label, b) in boxes.iter().enumerate().skip(1) {
        if b.4 == 0 {
            continue;
        }
        if height(b) * 10 > char_height * 13 || width(b) * 10 > char_height * 12 {
            marks.push((b.0, b.1, b.2, b.3));
        } else if height(b) * 10 >= char_height * 6 {
            chars.push((b.0, b.1, b.2, b.3, vec![label]));
        }
    }
    chars.sort_by_key(|c| c.0);
    // Pieces standing mostly in one another's columns are one character.
    let mut merged: Vec<(usize, usize, usize, usize, Vec<usize>)> = Vec::new();
    for c in chars {
        if let Some(last) = merged.last_mut() {
            let overlap = (last.2.min(c.2) + 1).saturating_sub(last.0.max(c.0));
            let narrower = (last.2 - last.0 + 1).min(c.2 - c.0 + 1);
            if overlap * 2 > narrower {
                *last = (last.0.min(c.0), last.1.min(c.1), last.2.max(c.2), last.3.max(c.3), [last.4.clone(), c.4].concat());
                continue;
            }
        }
        merged.push(c);
    }
    // A piece too tall or too wide for a character among the characters (a pen, a stamp's ring, a
    // frame crossing the line) may hide one: no reading. Beside the line (a frame's edge) it is no matter.
    let (first, last) = (merged.first()?.0, merged.last()?.2);
    let (top, bottom) = (merged.iter().map(|c| c.1).min()?, merged.iter().map(|c| c.3).max()?);
    if marks.iter().any(|&(x0, y0, x1, y1)| x1 >= first && x0 <= last && y1 >= top && y0 <= bottom) {
        return None;
    }
    for (label, b) in boxes.iter().enumerate().skip(1) {
        if b.4 == 0 || height(b) * 10 >= char_height * 6 || height(b) * 10 > char_height * 13 || b.4 < 4 {
            continue;
        }
        let centre = (b.0 + b.2) / 2;
        if let Some(c) = merged.iter_mut().find(|c| c.0 <= centre && centre <= c.2 && b.0 + 1 >= c.0 && b.2 <= c.2 + 1) {
            c.1 = c.1.min(b.1);
            c.3 = c.3.max(b.3);
            c.4.push(label);
        }
    }
    let total: usize = groups.iter().sum();
    if merged.len() != total || total == 0 {
        return None;
    }
    // A character much wider than its height is two characters joined, or a mark.
    if merged.iter().any(|c| (c.2 - c.0 + 1) * 10 > (c.3 - c.1 + 1) * 12) {
        return None;
    }
    // The widest spacing of centres falls between groups and nowhere else.
    let centres: Vec<f32> = merged.iter().map(|c| (c.0 + c.2) as f32 / 2.0).collect();
    let steps: Vec<f32> = centres.windows(2).map(|p| p[1] - p[0]).collect();
    let mut boundaries = Vec::new();
    let mut at = 0;
    for &g in &groups[..groups.len() - 1] {
        at += g;
        boundaries.push(at - 1);
    }
    if !boundaries.is_empty() {
        let inside = steps.iter().enumerate().filter(|(i, _)| !boundaries.contains(i)).map(|(_, &s)| s).fold(0f32, f32::max);
        if boundaries.iter().any(|&i| steps[i] <= inside * 1.15) {
            return None;
        }
    }
    let guesses = merged
        .iter()
        .map(|c| {
            let (cw, ch) = (c.2 - c.0 + 1, c.3 - c.1 + 1);
            let mut mask = vec![false; cw * ch];
            for y in c.1..=c.3 {
                for x in c.0..=c.2 {
                    let l = labels.get_pixel(x as u32, y as u32).0[0] as usize;
                    mask[(y - c.1) * cw + (x - c.0)] = l != 0 && c.4.contains(&l);
                }
            }
            classify(&mask, cw, ch)
        })
        .collect();
    Some(GlyphReading { chars: guesses, groups: groups.to_vec() })
}

/// The groups of characters of a template's example (`77 0012345` → [2, 7]).
pub fn groups_of(example: &str) -> Vec<usize> {
    example.split_whitespace().map(|g| g.chars().count()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

    const DEJAVU_SANS: &[u8] = certscan_templates::fonts::DEJAVU_SANS;
    const DEJAVU_SANS_BOLD: &[u8] = certscan_templates::fonts::DEJAVU_SANS_BOLD;

    /// A line of text drawn with `font` at `px` per em, dark on white, tight.
    fn draw(font: &[u8], px: f32, text: &str) -> GrayImage {
        let font = FontRef::try_from_slice(font).expect("font");
        let scaled = font.as_scaled(PxScale::from(px));
        let width = text.chars().map(|c| scaled.h_advance(font.glyph_id(c))).sum::<f32>().ceil() as u32 + 20;
        let height = (px * 1.4) as u32;
        let mut img = GrayImage::from_pixel(width, height, image::Luma([245]));
        let mut x = 10.0;
        for c in text.chars() {
            let glyph = font.glyph_id(c).with_scale_and_position(PxScale::from(px), ab_glyph::point(x, px));
            x += scaled.h_advance(font.glyph_id(c));
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    let (px_, py_) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                    if px_ >= 0 && py_ >= 0 && (px_ as u32) < width && (py_ as u32) < height {
                        let p = img.get_pixel_mut(px_ as u32, py_ as u32);
                        p.0[0] = (p.0[0] as f32 * (1.0 - cov.min(1.0))) as u8;
                    }
                });
            }
        }
        img
    }

    #[test]
    fn the_templates_are_ten_digits_of_each_typeface() {
        let t = templates();
        assert!(t.len() >= 400, "{} templates", t.len());
        for (i, template) in t.iter().enumerate() {
            assert_eq!(template.digit as usize - '0' as usize, i % 10, "the file lists 0-9 per typeface");
        }
    }

    #[test]
    fn reads_numbers_in_typefaces_it_has_no_template_of() {
        // DejaVu Sans and Sans Bold are not among the templates.
        for font in [DEJAVU_SANS, DEJAVU_SANS_BOLD] {
            for px in [36.0, 48.0, 60.0] {
                for text in ["51 0375170", "98 2468013", "52 0533596", "30 9871234"] {
                    let reading = read(&draw(font, px, text), &[2, 7]).expect("cut into characters");
                    assert_eq!(reading.text(), text, "at {px} px");
                    assert!(reading.complete());
                }
            }
        }
    }

    #[test]
    fn readings_of_one_number_merge_character_by_character() {
        let guess = |best: char, margin: f32| CharGuess { best, similarity: 0.9, margin };
        let reading = |chars: &[CharGuess]| GlyphReading { chars: chars.to_vec(), groups: vec![1, 2] };
        let a = reading(&[guess('5', 0.2), guess('1', 0.01), guess('7', 0.2)]);
        let b = reading(&[guess('5', 0.2), guess('1', 0.2), guess('1', 0.2)]);
        // Sure in one and unsure in the other: sure. Sure of two digits: unsure.
        assert_eq!(merge(&[a.clone(), b.clone()]).unwrap().text(), "5 1?");
        assert_eq!(merge(&[b, a.clone()]).unwrap().text(), "5 1?");
        assert_eq!(merge(&[a]).unwrap().text(), "5 ?7");
        assert_eq!(merge(&[]), None);
    }

    #[test]
    fn a_pen_joining_characters_gives_no_reading() {
        let mut img = draw(DEJAVU_SANS, 48.0, "51 0375170");
        let y = img.height() / 2;
        for x in 20..img.width() - 20 {
            for dy in 0..4 {
                img.put_pixel(x, y + dy, image::Luma([20]));
            }
        }
        assert_eq!(read(&img, &[2, 7]), None);
    }

    #[test]
    fn each_typeface_is_read_by_the_templates_of_the_others() {
        // Leave one typeface out: its digits must be told by the other typefaces' templates alone, and
        // none may be read as another digit for sure.
        let t = templates();
        let mut unsure = 0;
        for (i, probe) in t.iter().enumerate() {
            let face = i / 10;
            let mut best = [f32::MIN; 10];
            for (j, other) in t.iter().enumerate().filter(|(j, _)| j / 10 != face) {
                let _ = j;
                let correlation: f32 = probe.shape.iter().zip(&other.shape).map(|(a, b)| a * b).sum();
                let score = correlation - ASPECT_WEIGHT * (probe.aspect / other.aspect).ln().abs();
                let d = other.digit as usize - '0' as usize;
                best[d] = best[d].max(score);
            }
            let mut order: Vec<usize> = (0..10).collect();
            order.sort_by(|&a, &b| best[b].total_cmp(&best[a]));
            let guess =
                CharGuess { best: (b'0' + order[0] as u8) as char, similarity: best[order[0]], margin: best[order[0]] - best[order[1]] };
            assert!(guess.best == probe.digit || !guess.sure(), "template {i} ({}) read as {:?}", probe.digit, guess);
            unsure += usize::from(!guess.sure());
        }
        assert!(unsure * 20 < t.len(), "{unsure} of {} unsure", t.len());
    }
}
