//! The stack's print as a book of glyphs: what the numbers read for sure teach (each character's shape
//! and place), and how a candidate number fits a page's zone by it (see the parent module for the
//! whole check).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use image::GrayImage;

use super::characters;
use super::runs::Settled;
use crate::blank_number::PrintFit;
use crate::ocr::{crossed_at_otsu, ink_and_paper, pieces};
use crate::raster;

/// How well a text must fit an image.
struct Bar {
    /// Mean share of the shared characters' cores on ink for the line to be placed.
    place: f32,
    /// Share of each glyph's core on ink.
    cover: f32,
    /// Ink in a character's cell that neither its glyph nor a mark explains, as a share of the glyph's ink
    /// (and at least `stray_min` pixels).
    stray_share: f32,
    stray_min: usize,
    /// Rule out a glyph that fails on both counts at once (core less inked than `cover`, stray ink over
    /// the allowance), not only one that fails either clearly.
    out_on_both: bool,
}

/// How one candidate (or one of its glyphs) fits an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    /// Clearly not what is printed: a glyph missing, or another character's ink.
    Out,
    /// Whole, but another digit's print is as whole there, with strokes of its own (see
    /// [`GlyphBook::another_digit_present`]): the page may show that digit.
    Shadowed,
    /// Neither clearly in nor clearly out.
    Unclear,
    Fits,
}

/// Where a series' candidates were looked for in an image.
enum Placed {
    /// The line found by the characters they share; each candidate's verdict.
    Judged(Vec<(String, Verdict)>),
    /// Those characters are printed nowhere in the image.
    NotFound,
}

/// A candidate, its characters, and per character whether it is in question and its verdict (None for a
/// character the book never learned).
type Judged = (String, Vec<char>, Vec<(bool, Option<Verdict>)>);

/// How far below a bar a glyph's coverage (or above it its stray ink) must be to rule it out.
const COVER_MARGIN: f32 = 0.1;

/// To take an unread number: every glyph found whole, nothing unexplained. Choosing among candidates, a
/// glyph both partly missing and with another character's ink in its cell is ruled out (a 0 on a 6): the
/// true character's core is inked whatever a mark adds, so it falls short only where the print itself is
/// thin, and bits of a mark inside its cell are a second accident. A wrong glyph needs the mark to draw its
/// missing strokes to fit, and those bits are stray ink for the true one far beyond the allowance anyway.
const ACCEPT: Bar = Bar { place: 0.9, cover: 0.9, stray_share: 0.05, stray_min: 6, out_on_both: true };
/// To overrule OCR: only a glyph clearly missing or another character's ink clearly there counts;
/// scans differ in stroke weight, so a sure reading's own line fits loosely.
const CONTRADICT: Bar = Bar { place: 0.8, cover: 0.75, stray_share: 0.1, stray_min: 10, out_on_both: false };
/// Grey levels between the darkest ink and the paper below which a zone holds no print.
const MIN_CONTRAST: u8 = 40;
/// Ink in a cell that no character explains (bits of a mark) is let pass up to this many times the
/// stray allowance.
const MARK_BITS: usize = 3;
/// Prints of a character pooled before [`GlyphBook::settle`] keeps the agreeing ones.
const POOL: usize = 12;
/// Two prints of one character overlap at least this much (intersection over union, best shift).
const SAME_SHAPE: f32 = 0.8;
/// A lone print this close to another character's agreeing prints may be that character misread.
const LIKE_ANOTHER: f32 = 0.85;
/// Glyph variants kept per character (several blanks' prints of it).
const VARIANTS: usize = 4;
/// Samples the layout is learned from.
const LAYOUT_SAMPLES: usize = 24;

/// One printed character as a set of ink pixels around its anchor (the centre of its box at the bottom).
#[derive(Debug, Clone)]
struct Glyph {
    /// All ink pixels, (dx, dy) from the anchor; dy ≤ 0.
    ink: Vec<(i32, i32)>,
    /// Ink pixels whose four neighbours are ink too (all of them for a very thin print).
    core: Vec<(i32, i32)>,
    height: i32,
}

/// What the numbers read for sure teach about the stack's print.
#[derive(Debug, Clone, Default)]
pub struct GlyphBook {
    /// Characters per number (spaces left out), set by the first sample.
    length: usize,
    glyphs: HashMap<char, Vec<Glyph>>,
    /// Per character position: its anchor relative to the first character's, one entry per sample.
    offsets: Vec<Vec<(i32, i32)>>,
    samples: usize,
}

impl GlyphBook {
    /// Learns from a line read for sure as `text` (a grey crop tight around the characters). A line
    /// whose pieces of ink are not one per character (touching or broken print) teaches nothing.
    pub fn learn(&mut self, text: &str, line: &GrayImage) {
        let chars = characters(text);
        if chars.is_empty() || (self.length != 0 && chars.len() != self.length) {
            return;
        }
        // The line was settled by variants thresholded near the print's own darkness, which drop a
        // lighter mark (a stamp's ring, grey writing); at the book's level that mark is ink again, and its
        // pieces would be taken for characters (a ring's arc learned as a 4, a 2 joined to a word below it).
        if crossed_at_otsu(line) {
            return;
        }
        let (w, h) = (line.width() as usize, line.height() as usize);
        let level = raster::otsu(line);
        let ink: Vec<bool> = line.as_raw().iter().map(|&v| v <= level).collect();
        let mut found = pieces(&ink, w, h);
        let tallest = found.iter().map(|p| p.height()).max().unwrap_or(0);
        found.retain(|p| p.height() * 2 >= tallest);
        found.sort_by_key(|p| p.x0);
        // Pieces one above the other are one broken character.
        let mut boxes: Vec<(usize, usize, usize, usize)> = Vec::new();
        for p in found {
            match boxes.last_mut() {
                Some(b) if p.x0 <= b.2 => *b = (b.0.min(p.x0), b.1.min(p.y0), b.2.max(p.x1), b.3.max(p.y1)),
                _ => boxes.push((p.x0, p.y0, p.x1, p.y1)),
            }
        }
        if boxes.len() != chars.len() {
            return;
        }
        self.length = chars.len();
        if self.offsets.is_empty() {
            self.offsets = vec![Vec::new(); chars.len()];
        }
        let anchor = |b: &(usize, usize, usize, usize)| (((b.0 + b.2) / 2) as i32, b.3 as i32);
        let first = anchor(&boxes[0]);
        for (i, (b, c)) in boxes.iter().zip(&chars).enumerate() {
            let a = anchor(b);
            if self.samples < LAYOUT_SAMPLES {
                self.offsets[i].push((a.0 - first.0, a.1 - first.1));
            }
            let pool = self.glyphs.entry(*c).or_default();
            if pool.len() < POOL {
                pool.push(glyph(&ink, w, *b, a));
            }
        }
        self.samples += 1;
    }

    /// Lines learned from.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// Keeps, for each character, only the prints that agree with most of the others: a line OCR misread
    /// (a 9 taken for a 1) must not teach the book its wrong shape. A character printed once (or whose
    /// prints disagree) keeps its most typical print only when that print looks like no other character
    /// the book knows from agreeing prints.
    pub fn settle(&mut self) {
        let mut lone: Vec<char> = Vec::new();
        for (c, pool) in self.glyphs.iter_mut() {
            let n = pool.len();
            let mut sim = vec![vec![0.0f32; n]; n];
            for i in 0..n {
                for j in i + 1..n {
                    let s = similarity(&pool[i], &pool[j]);
                    (sim[i][j], sim[j][i]) = (s, s);
                }
            }
            let Some(medoid) = (0..n).max_by(|&a, &b| sim[a].iter().sum::<f32>().total_cmp(&sim[b].iter().sum::<f32>())) else {
                continue;
            };
            let mut kept: Vec<usize> = (0..n).filter(|&j| j == medoid || sim[medoid][j] >= SAME_SHAPE).collect();
            kept.sort_by(|&a, &b| (b == medoid).cmp(&(a == medoid)).then(sim[medoid][b].total_cmp(&sim[medoid][a])));
            kept.truncate(VARIANTS);
            if kept.len() < 2 {
                lone.push(*c);
            }
            *pool = kept.into_iter().map(|j| pool[j].clone()).collect();
        }
        for c in lone {
            let print = &self.glyphs[&c][0];
            let like_another =
                self.glyphs.iter().any(|(other, pool)| *other != c && pool.len() >= 2 && similarity(print, &pool[0]) >= LIKE_ANOTHER);
            if like_another {
                self.glyphs.remove(&c);
            }
        }
    }

    /// Whether the image (grey, 10 px/mm) may show `text` by the stack's print; false only when it clearly
    /// does not (a glyph missing, another character's ink). `None` when the book cannot tell (too few
    /// lines learned, a character it does not know, the line not found in the image).
    pub fn check(&self, image: &GrayImage, text: &str) -> Option<bool> {
        let chars = characters(text);
        if !self.usable() || chars.len() != self.length || !chars.iter().all(|c| self.glyphs.contains_key(c)) {
            return None;
        }
        let page = Zone::new(image);
        match self.fitting_series(&page, &[text.to_string()], &CONTRADICT, &Settled::default())? {
            Placed::Judged(judged) => Some(judged.iter().all(|(_, v)| *v != Verdict::Out)),
            // The line was not found: nothing to check against (as before, not a contradiction).
            Placed::NotFound => None,
        }
    }

    pub(super) fn usable(&self) -> bool {
        self.samples >= 2 && !self.offsets.is_empty() && self.offsets.iter().all(|o| !o.is_empty())
    }

    /// Each position's anchor relative to the first (the median over the samples).
    fn layout(&self) -> Vec<(i32, i32)> {
        self.offsets
            .iter()
            .map(|v| {
                let median = |mut xs: Vec<i32>| {
                    xs.sort_unstable();
                    xs[xs.len() / 2]
                };
                (median(v.iter().map(|o| o.0).collect()), median(v.iter().map(|o| o.1).collect()))
            })
            .collect()
    }

    /// The candidates (texts in the pattern's format) the zone image (grey, 10 px/mm) does not rule out,
    /// and whether each fits outright. Candidates of one series (the text before the last space) are
    /// placed together, by the characters they share. A candidate's character that every number of
    /// its run has at that position (`settled`) is not in question: only its print being there counts,
    /// not ink a mark left in its cell.
    ///
    /// None when any candidate cannot be judged (the book too thin, a character it never learned that no
    /// other character of that candidate rules out, the line not placed in the image): a candidate the
    /// book cannot rule out is not ruled out, so nothing may be chosen among them.
    pub fn fitting(&self, zone: &GrayImage, candidates: &[String], settled: &Settled) -> Option<Vec<(String, bool)>> {
        Some(self.print_fits(zone, candidates, settled)?.into_iter().map(|(t, f)| (t, f == PrintFit::Whole)).collect())
    }

    /// As [`GlyphBook::fitting`], with how each candidate not ruled out fits.
    pub fn print_fits(&self, zone: &GrayImage, candidates: &[String], settled: &Settled) -> Option<Vec<(String, PrintFit)>> {
        let mut series: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in candidates {
            series.entry(c.rsplit_once(' ').map_or("", |(head, _)| head)).or_default().push(c.clone());
        }
        let page = Zone::new(zone);
        let mut out = Vec::new();
        let mut placed = false;
        for group in series.values() {
            match self.fitting_series(&page, group, &ACCEPT, settled)? {
                Placed::Judged(judged) => {
                    placed = true;
                    out.extend(judged.into_iter().filter_map(|(t, v)| {
                        let fit = match v {
                            Verdict::Out => return None,
                            Verdict::Shadowed => PrintFit::Shadowed,
                            Verdict::Unclear => PrintFit::Unclear,
                            Verdict::Fits => PrintFit::Whole,
                        };
                        Some((t, fit))
                    }));
                }
                // The characters a series' candidates share are not printed anywhere in the zone: the
                // print rules that series out (a mark only adds ink). Unless no series is found at all.
                Placed::NotFound => {}
            }
        }
        placed.then_some(out)
    }

    /// The one candidate that fits the zone image outright while every other is ruled out.
    pub fn only_fit(&self, zone: &GrayImage, candidates: &[String], settled: &Settled) -> Option<String> {
        only_fit(&self.fitting(zone, candidates, settled)?)
    }

    /// Each candidate's verdict by `bar` once the line is placed by the characters they share, or
    /// [`Placed::NotFound`] when those characters are printed nowhere in the image; `None` when any
    /// candidate cannot be judged: the book too thin, a character it does not know, too few shared
    /// characters to place the line by.
    fn fitting_series(&self, page: &Zone, candidates: &[String], bar: &Bar, settled: &Settled) -> Option<Placed> {
        if !self.usable() {
            return None;
        }
        let candidates: Vec<(&String, Vec<char>)> = candidates.iter().map(|t| (t, characters(t))).collect();
        if candidates.iter().any(|(_, chars)| chars.len() != self.length) {
            return None;
        }
        if candidates.is_empty() {
            return Some(Placed::Judged(Vec::new()));
        }
        let known = |c: &char| self.glyphs.contains_key(c);
        let layout = self.layout();
        // The positions every candidate shares (with a character the book knows) place the line.
        let common: Vec<(usize, char)> = (0..self.length)
            .filter(|&i| candidates.iter().all(|(_, c)| c[i] == candidates[0].1[i]) && known(&candidates[0].1[i]))
            .map(|i| (i, candidates[0].1[i]))
            .collect();
        if common.len() < 2 {
            return None;
        }
        let Some(origin) = self.place(page, &layout, &common, bar.place) else {
            return Some(Placed::NotFound);
        };
        let height = self.glyphs.values().flatten().map(|g| g.height).max().unwrap_or(1);
        let pitch = {
            let mut steps: Vec<i32> = layout.windows(2).map(|p| p[1].0 - p[0].0).collect();
            steps.sort_unstable();
            steps[steps.len() / 2].max(1)
        };
        let expected = |i: usize| (origin.0 + layout[i].0, origin.1 + layout[i].1);
        let play = (pitch / 6).max(2);
        // A character the book never learned has no verdict (None): its candidate is judged by the others,
        // and vetoes the choice unless one of them rules it out.
        let mut verdicts: HashMap<(usize, char, bool), Option<Verdict>> = HashMap::new();
        let mut judged: Vec<Judged> = candidates
            .into_iter()
            .map(|(t, chars)| {
                let settled = settled.of(t);
                let each = chars
                    .iter()
                    .enumerate()
                    .map(|(i, &c)| {
                        let in_question = settled.get(i).is_none_or(|s| *s != Some(c));
                        let verdict = *verdicts
                            .entry((i, c, in_question))
                            .or_insert_with(|| known(&c).then(|| self.glyph_fits(page, c, expected(i), (height, pitch), bar, in_question)));
                        (in_question, verdict)
                    })
                    .collect();
                (t.clone(), chars, each)
            })
            .collect();
        // A glyph that fits whole where a rival digit is printed whole too, with strokes of its own, is
        // only shadowed. A rival is what another candidate has at that position when nothing else rules
        // that candidate out: its verdict there may be wrong (a 6 whose own stroke a stamp's ring joins
        // is "out" as a 6, while a 5 "fits"), so it is a rival whatever that verdict.
        let rivals: Vec<BTreeSet<char>> = (0..self.length)
            .map(|i| {
                let elsewhere_in =
                    |each: &[(bool, Option<Verdict>)]| each.iter().enumerate().all(|(j, (_, v))| j == i || *v != Some(Verdict::Out));
                judged.iter().filter(|(_, _, each)| elsewhere_in(each)).map(|(_, chars, _)| chars[i]).collect()
            })
            .collect();
        revise(&mut judged, Verdict::Fits, Verdict::Shadowed, |i, c| {
            let others: Vec<char> = rivals[i].iter().copied().filter(|&r| r != c).collect();
            self.another_digit_present(page, c, &others, expected(i), play, bar)
        });
        // A glyph only unclear where another digit fits outright is out when the strokes that tell it
        // from that digit are bare paper: its core is inked only because its best placement slides onto
        // the fitting digit's strokes (a 7 on a printed 1, an 8 on a 9). A mark only adds ink, so strokes
        // of the page's character cannot be missing; only a print dropping out could leave them bare.
        let fits_at: Vec<BTreeSet<char>> = (0..self.length)
            .map(|i| judged.iter().filter(|(_, _, each)| each[i] == (true, Some(Verdict::Fits))).map(|(_, chars, _)| chars[i]).collect())
            .collect();
        revise(&mut judged, Verdict::Unclear, Verdict::Out, |i, c| {
            let fitting: Vec<char> = fits_at[i].iter().copied().filter(|&w| w != c).collect();
            !fitting.is_empty() && self.own_strokes_bare(page, c, &fitting, expected(i), play, bar)
        });
        let mut out = Vec::new();
        for (t, _, each) in judged {
            let verdicts: Vec<Option<Verdict>> = each.into_iter().map(|(_, v)| v).collect();
            let worst = if verdicts.contains(&Some(Verdict::Out)) {
                Verdict::Out
            } else if verdicts.contains(&None) {
                // Not ruled out, and a character of it the book cannot judge: nothing may be chosen.
                return None;
            } else {
                verdicts.into_iter().flatten().min().unwrap_or(Verdict::Out)
            };
            out.push((t, worst));
        }
        let judged = out;
        Some(Placed::Judged(judged))
    }

    /// The first character's anchor in the zone where the shared characters are best found inked.
    fn place(&self, page: &Zone, layout: &[(i32, i32)], common: &[(usize, char)], bar: f32) -> Option<(i32, i32)> {
        let score = |origin: (i32, i32), all_variants: bool, give_up: bool| -> f32 {
            let mut total = 0.0;
            for (n, &(i, c)) in common.iter().enumerate() {
                let at = (origin.0 + layout[i].0, origin.1 + layout[i].1);
                let variants = &self.glyphs[&c];
                let take = if all_variants { variants.len() } else { 1 };
                let cov = variants[..take].iter().map(|g| page.coverage(&g.core, at)).fold(0.0, f32::max);
                // Most places miss the first glyph already: stop there.
                if give_up && n == 0 && cov < 0.6 {
                    return 0.0;
                }
                total += cov;
            }
            total / common.len() as f32
        };
        let (min_x, max_x) = (layout.iter().map(|o| o.0).min()?, layout.iter().map(|o| o.0).max()?);
        let (min_y, max_y) = (layout.iter().map(|o| o.1).min()?, layout.iter().map(|o| o.1).max()?);
        // A place where the first glyph's core cannot be 60 % inked scores nothing (`give_up`): one whose
        // core's bounding box holds too little ink is passed over without looking at the core.
        let sums = InkSums::new(page);
        let first = common.first().and_then(|&(i, c)| Some((layout[i], self.glyphs[&c].first()?)));
        let first = first.and_then(|(offset, g)| Some((offset, CoreBox::of(&g.core)?)));
        let mut best = (0.0f32, (0, 0));
        for y in (-min_y..page.h - max_y).step_by(2) {
            for x in (-min_x..page.w - max_x).step_by(2) {
                if first.as_ref().is_some_and(|(offset, core)| core.cannot_reach(&sums, (x + offset.0, y + offset.1), 0.6)) {
                    continue;
                }
                let s = score((x, y), false, true);
                if s > best.0 {
                    best = (s, (x, y));
                }
            }
        }
        let coarse = best.1;
        for dy in -2..=2 {
            for dx in -2..=2 {
                let at = (coarse.0 + dx, coarse.1 + dy);
                let s = score(at, true, false);
                if s > best.0 {
                    best = (s, at);
                }
            }
        }
        (best.0 >= bar).then_some(best.1)
    }

    /// Whether character `c` is printed near `expected`: its core inked, and (when the character is
    /// `in_question`) the ink around it that it does not explain part of a mark.
    fn glyph_fits(&self, page: &Zone, c: char, expected: (i32, i32), (height, pitch): (i32, i32), bar: &Bar, in_question: bool) -> Verdict {
        // A character other than the samples' at this position may sit a little off their centre.
        let play = (pitch / 6).max(2);
        let Some((cov, g, at)) = best_placement(page, &self.glyphs[&c], expected, play) else {
            return Verdict::Out;
        };
        if cov < bar.cover - COVER_MARGIN {
            return Verdict::Out;
        }
        // A character the whole stack shares there: the line is placed and its print is there; a mark's
        // ink in its cell (however it lies) cannot make it another character of this stack's numbers.
        if !in_question {
            return if cov >= bar.cover { Verdict::Fits } else { Verdict::Unclear };
        }
        // Ink in the character's cell that the glyph (grown by two pixels) does not explain. A mark's
        // ink leaves the cell: in the cell's window (the line's rows and `reach` more above and below)
        // what is left once the glyph is taken away reaches the window's edge. What stays inside is
        // another character's stroke. Taking the glyph away first matters:
        // a pen through a 3 joins all of the 3 to the pen, and a 7 (inside the 3) must still not fit.
        let reach = (height / 5).max(3);
        let (x0, x1) = (at.0 - pitch / 2, at.0 + pitch / 2);
        let (top, bottom) = (at.1 - height - 1, at.1 + 1);
        let (wy0, wy1) = (top - reach - 2, bottom + reach + 2);
        let (ww, wh) = ((x1 - x0 + 1) as usize, (wy1 - wy0 + 1) as usize);
        let mut left = vec![false; ww * wh];
        for y in wy0..=wy1 {
            for x in x0..=x1 {
                left[(y - wy0) as usize * ww + (x - x0) as usize] = page.ink(x, y);
            }
        }
        for &(dx, dy) in &g.ink {
            for ey in -2..=2 {
                for ex in -2..=2 {
                    let (x, y) = (at.0 + dx + ex, at.1 + dy + ey);
                    if (x0..=x1).contains(&x) && (wy0..=wy1).contains(&y) {
                        left[(y - wy0) as usize * ww + (x - x0) as usize] = false;
                    }
                }
            }
        }
        // Only ink about as dark as the print itself can be another character: a grey scan's stamp is lighter.
        let mut under: Vec<u8> = g.core.iter().filter_map(|&(dx, dy)| page.gray(at.0 + dx, at.1 + dy)).collect();
        under.sort_unstable();
        let print = under.get(under.len() / 2).copied().unwrap_or(0) as i32;
        let dark_enough = print + (page.paper as i32 - print) / 4;
        let mut seen = vec![false; ww * wh];
        let mut stray = 0usize;
        let complete = ('0'..='9').all(|d| self.glyphs.contains_key(&d));
        let mut others = Others::default();
        let mut unexplained = 0usize;
        for start in 0..ww * wh {
            if !left[start] || seen[start] {
                continue;
            }
            // One piece of what is left (8-connected), its extent and its dark pixels on the line's rows.
            let (mut stack, mut leaves, mut dark) = (vec![start], false, Vec::new());
            seen[start] = true;
            while let Some(i) = stack.pop() {
                let (x, y) = (i % ww, i / ww);
                if y == 0 || y == wh - 1 || x == 0 || x == ww - 1 {
                    leaves = true;
                }
                let (px, py) = (x0 + x as i32, wy0 + y as i32);
                if (top..=bottom).contains(&py) && page.gray(px, py).is_some_and(|v| v as i32 <= dark_enough) {
                    dark.push((px, py));
                }
                for (nx, ny) in [(-1i32, -1i32), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                    let (qx, qy) = (x as i32 + nx, y as i32 + ny);
                    if qx < 0 || qy < 0 || qx >= ww as i32 || qy >= wh as i32 {
                        continue;
                    }
                    let q = qy as usize * ww + qx as usize;
                    if left[q] && !seen[q] {
                        seen[q] = true;
                        stack.push(q);
                    }
                }
            }
            // A piece that stays inside is another character's stroke only if another character's print
            // would explain it; a pen cut into bits by the glyph's strokes (through a 6's bowl, between a
            // 0's sides) is explained by none. Only a book that knows every digit can tell.
            if leaves || dark.is_empty() {
                continue;
            }
            if complete && !others.explain(self, page, c, expected, play, bar, &dark) {
                unexplained += dark.len();
            } else {
                stray += dark.len();
            }
        }
        let allowed = ((g.ink.len() as f32 * bar.stray_share) as usize).max(bar.stray_min);
        // Bits of a mark are small; as much ink as a large part of a character is counted all the same.
        if unexplained > MARK_BITS * allowed {
            stray += unexplained;
        }
        if stray > 2 * allowed || (bar.out_on_both && cov < bar.cover && stray > allowed) {
            Verdict::Out
        } else if cov >= bar.cover && stray <= allowed {
            Verdict::Fits
        } else {
            Verdict::Unclear
        }
    }
}

impl GlyphBook {
    /// Whether another digit that a candidate has here (one of `rivals`) is printed as whole as `c`
    /// (at its best placement near `expected`), with strokes of its own that `c` lacks also inked: a 6 on the page under a stamp's ring, where a 5 "fits" because
    /// the 6's own lower stroke touches the ring and leaves the cell with it. Then `c` does not fit
    /// outright: the page may show the other digit, and only a mark would make it `c`.
    #[allow(clippy::too_many_arguments)]
    fn another_digit_present(&self, page: &Zone, c: char, rivals: &[char], expected: (i32, i32), play: i32, bar: &Bar) -> bool {
        if rivals.is_empty() {
            return false;
        }
        let Some((_, g, at)) = best_placement(page, &self.glyphs[&c], expected, play) else {
            return false;
        };
        let on_c = Grown::new(g, at);
        self.glyphs.iter().filter(|(other, _)| rivals.contains(other)).any(|(_, variants)| {
            let Some((cov, other, oat)) = best_placement(page, variants, expected, play) else {
                return false;
            };
            if cov < bar.cover {
                return false;
            }
            let (own, inked) = off_strokes(page, &other.core, oat, &on_c);
            own >= bar.stray_min.max(other.core.len() / OWN_STROKES) && inked as f32 >= bar.cover * own as f32
        })
    }

    /// Whether, for one of `fitting` (digits that fit outright near `expected`), `c`'s own strokes are
    /// mostly bare: `c`'s core at its best placement, less what lies within two pixels of that digit's
    /// ink at its own best placement, is at least [`OWN_STROKES`]'s share of the core (and `stray_min`
    /// pixels) and less than half of it is inked.
    fn own_strokes_bare(&self, page: &Zone, c: char, fitting: &[char], expected: (i32, i32), play: i32, bar: &Bar) -> bool {
        let Some((_, g, at)) = best_placement(page, &self.glyphs[&c], expected, play) else {
            return false;
        };
        fitting.iter().filter_map(|w| self.glyphs.get(w)).any(|variants| {
            let Some((_, other, oat)) = best_placement(page, variants, expected, play) else {
                return false;
            };
            let (own, inked) = off_strokes(page, &g.core, at, &Grown::new(other, oat));
            own >= bar.stray_min.max(g.core.len() / OWN_STROKES) && inked * 2 < own
        })
    }
}

/// A glyph's ink placed at an anchor and grown by two pixels (Chebyshev), on a grid around it.
struct Grown {
    at: (i32, i32),
    min: (i32, i32),
    max: (i32, i32),
    w: usize,
    grid: Vec<bool>,
}

impl Grown {
    fn new(g: &Glyph, at: (i32, i32)) -> Grown {
        let (min_x, max_x) = (g.ink.iter().map(|p| p.0).min().unwrap_or(0) - 2, g.ink.iter().map(|p| p.0).max().unwrap_or(0) + 2);
        let (min_y, max_y) = (g.ink.iter().map(|p| p.1).min().unwrap_or(0) - 2, g.ink.iter().map(|p| p.1).max().unwrap_or(0) + 2);
        let w = (max_x - min_x + 1) as usize;
        let mut grid = vec![false; w * (max_y - min_y + 1) as usize];
        for &(x, y) in &g.ink {
            for ey in -2..=2 {
                for ex in -2..=2 {
                    grid[(y + ey - min_y) as usize * w + (x + ex - min_x) as usize] = true;
                }
            }
        }
        Grown { at, min: (min_x, min_y), max: (max_x, max_y), w, grid }
    }

    /// Whether the page pixel (x, y) lies on the grown ink.
    fn covers(&self, x: i32, y: i32) -> bool {
        let (rx, ry) = (x - self.at.0, y - self.at.1);
        (self.min.0..=self.max.0).contains(&rx)
            && (self.min.1..=self.max.1).contains(&ry)
            && self.grid[(ry - self.min.1) as usize * self.w + (rx - self.min.0) as usize]
    }
}

/// Another digit's strokes count as its own (see [`GlyphBook::another_digit_present`]) when at least
/// this fraction of its core lies off the fitting glyph's ink.
const OWN_STROKES: usize = 10;

/// The other characters' best placements at one position, found when a piece first needs them.
#[derive(Default)]
struct Others<'a> {
    placed: Option<Vec<(&'a Glyph, (i32, i32))>>,
}

impl<'a> Others<'a> {
    /// Whether at least half of `dark` lies on the ink (grown by two pixels) of a character other than
    /// `c` whose core is inked near `expected` as well as a fitting glyph's would be.
    #[allow(clippy::too_many_arguments)]
    fn explain(
        &mut self,
        book: &'a GlyphBook,
        page: &Zone,
        c: char,
        expected: (i32, i32),
        play: i32,
        bar: &Bar,
        dark: &[(i32, i32)],
    ) -> bool {
        let placed = self.placed.get_or_insert_with(|| {
            book.glyphs
                .iter()
                .filter(|(&other, _)| other != c)
                .filter_map(|(_, variants)| {
                    let (cov, g, at) = best_placement(page, variants, expected, play)?;
                    (cov >= bar.cover - COVER_MARGIN).then_some((g, at))
                })
                .collect()
        });
        placed.iter().any(|(g, at)| {
            let near = |&(x, y): &(i32, i32)| g.ink.iter().any(|&(dx, dy)| (at.0 + dx - x).abs() <= 2 && (at.1 + dy - y).abs() <= 2);
            dark.iter().filter(|p| near(p)).count() * 2 >= dark.len()
        })
    }
}

/// Turns every in-question verdict `from` into `to` where `test(position, character)` holds (asked once
/// per position and character).
fn revise(judged: &mut [Judged], from: Verdict, to: Verdict, mut test: impl FnMut(usize, char) -> bool) {
    let mut answers: HashMap<(usize, char), bool> = HashMap::new();
    for (_, chars, each) in judged.iter_mut() {
        for (i, (in_question, verdict)) in each.iter_mut().enumerate() {
            if *in_question && *verdict == Some(from) && *answers.entry((i, chars[i])).or_insert_with(|| test(i, chars[i])) {
                *verdict = Some(to);
            }
        }
    }
}

/// Of a glyph's `core` placed at `at`, the pixels off `other`'s grown ink, and how many of them are inked.
fn off_strokes(page: &Zone, core: &[(i32, i32)], at: (i32, i32), other: &Grown) -> (usize, usize) {
    let own: Vec<(i32, i32)> = core.iter().map(|&(dx, dy)| (at.0 + dx, at.1 + dy)).filter(|&(x, y)| !other.covers(x, y)).collect();
    (own.len(), own.iter().filter(|&&(x, y)| page.ink(x, y)).count())
}

/// The variant and place (within `play` pixels across and two up or down of `expected`) where a
/// character's core is best inked, with that coverage.
fn best_placement<'g>(page: &Zone, variants: &'g [Glyph], expected: (i32, i32), play: i32) -> Option<(f32, &'g Glyph, (i32, i32))> {
    let mut best: Option<(f32, &Glyph, (i32, i32))> = None;
    for g in variants {
        for dy in -2..=2 {
            for dx in -play..=play {
                let at = (expected.0 + dx, expected.1 + dy);
                let cov = page.coverage(&g.core, at);
                if best.is_none_or(|b| cov > b.0) {
                    best = Some((cov, g, at));
                }
            }
        }
    }
    best
}

/// Intersection over union of two glyphs' ink, at the best shift of up to two pixels.
fn similarity(a: &Glyph, b: &Glyph) -> f32 {
    let (min_x, max_x) = (b.ink.iter().map(|p| p.0).min().unwrap_or(0) - 2, b.ink.iter().map(|p| p.0).max().unwrap_or(0) + 2);
    let (min_y, max_y) = (b.ink.iter().map(|p| p.1).min().unwrap_or(0) - 2, b.ink.iter().map(|p| p.1).max().unwrap_or(0) + 2);
    let w = (max_x - min_x + 1) as usize;
    let mut grid = vec![false; w * (max_y - min_y + 1) as usize];
    for &(x, y) in &b.ink {
        grid[(y - min_y) as usize * w + (x - min_x) as usize] = true;
    }
    let mut best = 0usize;
    for dy in -2..=2 {
        for dx in -2..=2 {
            let both = a
                .ink
                .iter()
                .filter(|&&(x, y)| {
                    let (x, y) = (x + dx, y + dy);
                    (min_x..=max_x).contains(&x) && (min_y..=max_y).contains(&y) && grid[(y - min_y) as usize * w + (x - min_x) as usize]
                })
                .count();
            best = best.max(both);
        }
    }
    let union = a.ink.len() + b.ink.len() - best;
    if union == 0 {
        0.0
    } else {
        best as f32 / union as f32
    }
}

/// A glyph from a clean line's ink inside one character's box.
fn glyph(ink: &[bool], w: usize, (x0, y0, x1, y1): (usize, usize, usize, usize), anchor: (i32, i32)) -> Glyph {
    let at = |x: usize, y: usize| (x0..=x1).contains(&x) && (y0..=y1).contains(&y) && ink[y * w + x];
    let mut all = Vec::new();
    let mut core = Vec::new();
    for y in y0..=y1 {
        for x in x0..=x1 {
            if !at(x, y) {
                continue;
            }
            let rel = (x as i32 - anchor.0, y as i32 - anchor.1);
            all.push(rel);
            if x > 0 && y > 0 && at(x - 1, y) && at(x + 1, y) && at(x, y - 1) && at(x, y + 1) {
                core.push(rel);
            }
        }
    }
    if core.len() * 5 < all.len() {
        core = all.clone();
    }
    Glyph { ink: all, core, height: (y1 - y0 + 1) as i32 }
}

/// A page's zone: its grey levels and its ink.
struct Zone {
    w: i32,
    h: i32,
    gray: Vec<u8>,
    paper: u8,
    ink: Vec<bool>,
}

impl Zone {
    fn new(gray: &GrayImage) -> Zone {
        let (dark, paper) = ink_and_paper(gray);
        // Without contrast there is no print in the zone, only paper.
        let level = if paper.saturating_sub(dark) < MIN_CONTRAST { 0 } else { (dark as u16 + paper as u16) / 2 };
        let ink: Vec<bool> = gray.as_raw().iter().map(|&v| (v as u16) < level).collect();
        let (w, h) = (gray.width(), gray.height());
        Zone { w: w as i32, h: h as i32, gray: gray.as_raw().clone(), paper, ink }
    }

    fn gray(&self, x: i32, y: i32) -> Option<u8> {
        (x >= 0 && y >= 0 && x < self.w && y < self.h).then(|| self.gray[(y * self.w + x) as usize])
    }

    fn ink(&self, x: i32, y: i32) -> bool {
        x >= 0 && y >= 0 && x < self.w && y < self.h && self.ink[(y * self.w + x) as usize]
    }

    /// Share of `points` (relative to `at`) that lie on ink.
    fn coverage(&self, points: &[(i32, i32)], at: (i32, i32)) -> f32 {
        if points.is_empty() {
            return 0.0;
        }
        let on = points.iter().filter(|&&(dx, dy)| self.ink(at.0 + dx, at.1 + dy)).count();
        on as f32 / points.len() as f32
    }
}

/// Inked pixels of a zone summed over every rectangle from its top-left corner (a summed-area table).
struct InkSums {
    w: i32,
    h: i32,
    /// (w + 1) x (h + 1): entry (x, y) counts the ink left of x and above y.
    sums: Vec<u32>,
}

impl InkSums {
    fn new(page: &Zone) -> InkSums {
        let (w, h) = (page.w.max(0), page.h.max(0));
        let stride = w as usize + 1;
        let mut sums = vec![0u32; stride * (h as usize + 1)];
        for y in 0..h as usize {
            let mut row = 0u32;
            for x in 0..w as usize {
                row += page.ink[y * w as usize + x] as u32;
                sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] + row;
            }
        }
        InkSums { w, h, sums }
    }

    /// Inked pixels in the rectangle x0..=x1, y0..=y1 (clipped to the zone: outside is no ink).
    fn count(&self, (x0, y0): (i32, i32), (x1, y1): (i32, i32)) -> u32 {
        let (x0, y0) = (x0.max(0), y0.max(0));
        let (x1, y1) = ((x1 + 1).min(self.w), (y1 + 1).min(self.h));
        if x0 >= x1 || y0 >= y1 {
            return 0;
        }
        let stride = self.w as usize + 1;
        let at = |x: i32, y: i32| self.sums[y as usize * stride + x as usize];
        at(x1, y1) + at(x0, y0) - at(x0, y1) - at(x1, y0)
    }
}

/// A glyph core's bounding box (offsets from its anchor) and its pixel count.
struct CoreBox {
    min: (i32, i32),
    max: (i32, i32),
    points: usize,
}

impl CoreBox {
    fn of(core: &[(i32, i32)]) -> Option<CoreBox> {
        let min = (core.iter().map(|p| p.0).min()?, core.iter().map(|p| p.1).min()?);
        let max = (core.iter().map(|p| p.0).max()?, core.iter().map(|p| p.1).max()?);
        Some(CoreBox { min, max, points: core.len() })
    }

    /// Whether the core placed at `at` is sure to be less than `share` inked ([`Zone::coverage`] under
    /// it): its bounding box holds less ink than that share of its points. The same division as the
    /// coverage's, so the answer is exact.
    fn cannot_reach(&self, sums: &InkSums, at: (i32, i32), share: f32) -> bool {
        let inked = sums.count((at.0 + self.min.0, at.1 + self.min.1), (at.0 + self.max.0, at.1 + self.max.1));
        (inked as f32 / self.points as f32) < share
    }
}

/// Of [`GlyphBook::fitting`]'s verdicts, the one candidate that fits outright when it is the only one
/// not ruled out.
fn only_fit(fitting: &[(String, bool)]) -> Option<String> {
    match fitting {
        [(text, true)] => Some(text.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::tests::noise;

    #[test]
    fn a_place_passed_over_for_too_little_ink_could_never_have_scored() {
        let mut next = noise(77);
        for (w, h, dense) in [(60u32, 30u32, 128u8), (41, 17, 40), (25, 60, 90), (1, 1, 128)] {
            let gray = GrayImage::from_fn(w, h, |_, _| image::Luma([if next() < dense { 20 } else { 230 }]));
            let zone = Zone::new(&gray);
            let sums = InkSums::new(&zone);
            // The summed-area table counts what the zone's own ink says, rectangle by rectangle.
            for (x0, y0, x1, y1) in [(0, 0, w as i32 - 1, h as i32 - 1), (-3, -2, 4, 5), (2, 1, 2, 1), (5, 5, 3, 3), (-9, -9, -1, -1)] {
                let direct = (y0..=y1).flat_map(|y| (x0..=x1).map(move |x| (x, y))).filter(|&(x, y)| zone.ink(x, y)).count() as u32;
                assert_eq!(sums.count((x0, y0), (x1, y1)), direct, "{w}x{h} ({x0},{y0})-({x1},{y1})");
            }
            // A core (dy ≤ 0, like a glyph's): wherever it is passed over, its coverage is under the share.
            let core: Vec<(i32, i32)> = (0..25).map(|_| ((next() % 9) as i32 - 2, -((next() % 11) as i32))).collect();
            let bounds = CoreBox::of(&core).expect("a core");
            let (mut passed, mut kept) = (0, 0);
            for y in -12..h as i32 + 12 {
                for x in -12..w as i32 + 12 {
                    if bounds.cannot_reach(&sums, (x, y), 0.6) {
                        passed += 1;
                        assert!(zone.coverage(&core, (x, y)) < 0.6, "{w}x{h} at ({x}, {y})");
                    } else {
                        kept += 1;
                    }
                }
            }
            assert!(passed > 0 && (kept > 0 || w == 1), "{w}x{h}: {passed} passed over, {kept} kept");
        }
        assert!(CoreBox::of(&[]).is_none());
    }
}
