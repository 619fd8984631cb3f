//! Blank numbers checked against the stack's own print. Blanks in a stack are numbered consecutively
//! (domain.md) and all carry the print house's typeface at the same spacing, so once a file has been read:
//! 1. the numbers read for sure on this exam's pages teach a [`GlyphBook`]: each character's shape as
//!    printed on these blanks (only prints that agree with each other, so one misread line cannot teach a
//!    wrong shape) and where the characters stand relative to the first. The lines whose clean variants
//!    agreed teach first, then those of other sure readings that no mark crosses;
//! 2. every sure OCR reading is checked against the book: one the print clearly contradicts (a glyph's
//!    core on bare paper, another character's stroke beside it), or a lone reading far from the stack's
//!    run, is demoted to a hint;
//! 3. the run's unread numbers (the gaps between and just beyond the numbers read for sure), the number
//!    already read for the same application (a sheet scanned twice) and the OCR's own hint are the
//!    candidates for a page whose code was read but whose number was not. A
//!    candidate fits when each of its glyphs is found inked on the page (a mark adds ink, it never takes
//!    the print away) and whatever ink is left in a character's cell once its glyph is taken away leaves
//!    the cell (a pen, a stamp's ring), rather than staying inside it like another character's stroke.
//!    A character every number of the run shares at that position (the series, the leading digits:
//!    [`Settled`]) is not in question, so there only its print counts, not a mark's ink in its cell.
//!
//! A page takes a number only when exactly one candidate fits and every other is clearly ruled out (a
//! glyph clearly missing, clearly another character's ink in its cell, or a glyph both partly missing and
//! with another character's ink); anything else stays in review. Two pages that end up with one number are a conflict the decision step
//! sends to review. Reported with `blank_number_read_by: "stack"` and confidence [`STACK_CONFIDENCE`].

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;

pub use crate::blank_number::STACK_CONFIDENCE;
use crate::blank_number::{glyphs_allow, stack_choice, PrintOnTesseract, HINT_CONFIDENCE_CAP, LONE_READING};
use crate::matching::sure_blank_number;
use crate::ocr::{clean_line, BlankNumberReading, NumberImage};
use crate::page::PageReading;
use crate::raster;

mod book;
mod runs;

pub use book::GlyphBook;
pub use runs::{unread_numbers, Settled};
/// Unread pages whose zone images are kept for the check; a file with more has worse trouble than marks.
pub const MAX_UNREAD_KEPT: usize = 64;

/// A number's characters, spaces left out: what glyphs and positions count.
fn characters(text: &str) -> Vec<char> {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The stack check over a whole file's readings: settles the book, checks every number OCR read for sure
/// against the stack's print (one the print contradicts becomes a hint, and a file where many are
/// contradicted has a book that is not to be trusted), then gives each page whose code was read but
/// whose number was not the one unread number of the stack's runs that fits its print, where exactly
/// one does. Drops every kept image.
pub fn check_numbers(mut book: GlyphBook, readings: &mut [PageReading]) {
    // Numbers read for sure without two clean variants agreeing still show the print when no mark runs
    // through their line: they teach the characters the cleanest readings did not contain (a digit that
    // only such pages carry could not be checked otherwise). `settle` keeps only agreeing prints.
    for r in readings.iter() {
        if let (Some(b), Some(NumberImage::Unread { zone })) = (sure_blank_number(r), r.number_image.as_ref()) {
            if let Some(line) = clean_line(zone) {
                book.learn(&b.text, &line);
            }
        }
    }
    book.settle();
    if book.usable() && confirm_readings(&book, readings) {
        complete_numbers(&book, readings);
    }
    for r in readings.iter_mut() {
        r.number_image = None;
    }
}

fn sure(r: &PageReading) -> bool {
    sure_blank_number(r).is_some()
}

/// Checks the sure readings; demotes the contradicted ones to hints (their image becomes a zone for the
/// completion). False when too many are contradicted for the book to be right.
fn confirm_readings(book: &GlyphBook, readings: &mut [PageReading]) -> bool {
    let verdicts: Vec<Option<bool>> = readings
        .par_iter()
        .map(|r| {
            let text = &r.blank_number.as_ref().filter(|_| sure(r))?.text;
            match r.number_image.as_ref()? {
                NumberImage::Read { line, .. } => book.check(&raster::pad_white(line, LINE_PAD), text),
                NumberImage::Unread { zone } => book.check(zone, text),
            }
        })
        .collect();
    // A lone OCR reading (no two variants agreed) far from every other number of a stack that forms a
    // run is more likely a misread digit than a blank from another pack.
    let numbers: BTreeSet<String> =
        readings.iter().filter(|r| sure(r)).filter_map(|r| r.blank_number.as_ref().map(|b| b.text.clone())).collect();
    let runs = runs::runs(&numbers);
    let stack_has_run = runs.iter().any(|r| r.members >= 3);
    let verdicts: Vec<Option<bool>> = readings
        .iter()
        .zip(verdicts)
        .map(|(r, verdict)| {
            let lone = r.blank_number.as_ref().filter(|b| sure(r) && b.confidence < LONE_READING && r.number_image.is_some());
            let isolated = lone.is_some_and(|b| runs.iter().any(|run| run.members == 1 && run.contains(&b.text)));
            if stack_has_run && isolated {
                Some(false)
            } else {
                verdict
            }
        })
        .collect();
    let checked = verdicts.iter().filter(|v| v.is_some()).count();
    let contradicted = verdicts.iter().filter(|v| **v == Some(false)).count();
    if contradicted * MAX_CONTRADICTED_PART > checked {
        return false;
    }
    for (r, verdict) in readings.iter_mut().zip(verdicts) {
        if verdict != Some(false) {
            continue;
        }
        if let Some(b) = r.blank_number.as_mut() {
            b.confidence = b.confidence.min(HINT_CONFIDENCE_CAP);
        }
        if let Some(NumberImage::Read { line, .. }) = &r.number_image {
            r.number_image = Some(NumberImage::Unread { zone: raster::pad_white(line, LINE_PAD) });
        }
    }
    true
}

/// Paper added around a tight line before it is checked like a zone.
const LINE_PAD: u32 = 12;
/// More than one sure reading in this many contradicted: the book, not the readings, is wrong.
const MAX_CONTRADICTED_PART: usize = 5;

/// The completion step of [`check_numbers`]. Runs are made of one exam's pages: another exam's sheet in
/// the stack is another print run, and its number says nothing about this stack's gaps.
fn complete_numbers(book: &GlyphBook, readings: &mut [PageReading]) {
    let exam = |r: &PageReading| r.code.as_ref().and_then(|c| c.payload.as_ref().ok()).map(|p| p.exam_id.clone());
    let pending = |r: &PageReading| {
        !sure(r) && r.code.as_ref().is_some_and(|c| c.payload.is_ok()) && matches!(r.number_image, Some(NumberImage::Unread { .. }))
    };
    let exams: BTreeSet<String> = readings.iter().filter(|r| pending(r)).filter_map(exam).collect();
    for exam_id in exams {
        let of_exam = |r: &PageReading| exam(r).as_deref() == Some(exam_id.as_str());
        let read: BTreeSet<String> =
            readings.iter().filter(|r| sure(r) && of_exam(r)).filter_map(|r| r.blank_number.as_ref().map(|b| b.text.clone())).collect();
        let count = readings.iter().filter(|r| pending(r) && of_exam(r)).count() as u64;
        let gaps = unread_numbers(&read, count);
        let settled = Settled::new(&read);
        // The numbers already read for each application: a page of the same application may be the same
        // sheet scanned again, and then it carries that number.
        let application = |r: &PageReading| r.code.as_ref().and_then(|c| c.payload.as_ref().ok()).map(|p| p.application_id.clone());
        let mut read_for: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in readings.iter().filter(|r| sure(r) && of_exam(r)) {
            if let (Some(app), Some(b)) = (application(r), r.blank_number.as_ref()) {
                read_for.entry(app).or_default().push(b.text.clone());
            }
        }
        let placed = placed_numbers(readings, |r| pending(r) && of_exam(r), |r| sure(r) && of_exam(r));
        readings.par_iter_mut().zip(placed).filter(|(r, _)| pending(r) && of_exam(r)).for_each(|(r, placed)| {
            let Some(NumberImage::Unread { zone }) = &r.number_image else {
                return;
            };
            let mut candidates = gaps.clone();
            // The number read for the same application stays a candidate: it vetoes a gap the ink fits no
            // better (a second scan of that sheet), and when the ink is the gap's alone, the gap wins and
            // the two sheets of one application go to review as conflicting scans.
            if let Some(same) = application(r).and_then(|app| read_for.get(&app)) {
                candidates.extend(same.iter().cloned());
            }
            // What each reader read is a candidate too (it vetoes where it fits as well as a gap).
            if let Some(b) = r.blank_number.as_ref() {
                let complete_glyphs = b.glyphs.as_ref().filter(|g| !g.contains('?'));
                let whole_text = Some(&b.text).filter(|t| !t.contains('?'));
                for text in [whole_text, b.tesseract.as_ref(), complete_glyphs].into_iter().flatten() {
                    if !candidates.contains(text) && !read.contains(text) {
                        candidates.push(text.clone());
                    }
                }
            }
            // The glyph reader's sure characters are a reader's evidence: a candidate they contradict is
            // out whatever the print says (the glyph reader fails differently from the stack's print).
            // Tesseract's own text stays a candidate whatever the glyph reader read: where the two readers
            // disagree, a mark may have fooled either, and only the print may rule one of them out.
            let tesseract = r.blank_number.as_ref().and_then(|b| b.tesseract.clone());
            candidates.retain(|c| glyphs_allow(r.blank_number.as_ref(), c) || tesseract.as_deref() == Some(c.as_str()));
            let Some(fitting) = book.print_fits(zone, &candidates, &settled) else {
                return;
            };
            // Tesseract's own text, a candidate like the others, ruled out by the print.
            let print = match r.blank_number.as_ref().and_then(|b| b.tesseract.as_ref()) {
                Some(t) if candidates.contains(t) && !fitting.iter().any(|(c, _)| c == t) => PrintOnTesseract::Contradicts,
                _ => PrintOnTesseract::Silent,
            };
            let in_sequence = |text: &str| gaps.iter().any(|g| g == text);
            if let Some(text) = stack_choice(&fitting, r.blank_number.as_ref(), print, placed.as_deref(), &in_sequence) {
                r.blank_number = Some(match &r.blank_number {
                    Some(b) => b.settled_by_stack(text),
                    None => BlankNumberReading::stack_only(text),
                });
            }
        });
    }
}

/// The number each page's place in the file gives it (None for most pages). From a page, the walk goes
/// to the nearest page on each side whose number both readers read (`anchor`), over pages like this one
/// (`between`: this exam's certificates with their number unread) and blank sheets; any other page (a
/// code not read, another exam's sheet) ends it with nothing. When both anchors carry numbers of one
/// series exactly as far apart as the certificate pages between them, the blanks ran in order there and
/// the page is the one the count lands on (counting down for a stack scanned last page first). A sheet
/// scanned twice, a blank out of order or a missing page breaks the count, and the place says nothing.
fn placed_numbers(
    readings: &[PageReading],
    between: impl Fn(&PageReading) -> bool,
    anchor: impl Fn(&PageReading) -> bool,
) -> Vec<Option<String>> {
    let walk = |indices: &mut dyn Iterator<Item = usize>| -> Option<(String, usize, u64, u64)> {
        let mut steps = 1;
        for j in indices {
            let r = &readings[j];
            if r.blank_page {
                continue;
            }
            if between(r) {
                steps += 1;
                continue;
            }
            if !anchor(r) {
                return None;
            }
            let (prefix, width, n) = runs::split_number(&r.blank_number.as_ref()?.text)?;
            return Some((prefix, width, n, steps));
        }
        None
    };
    (0..readings.len())
        .map(|i| {
            if !between(&readings[i]) {
                return None;
            }
            let (prefix, width, before, up) = walk(&mut (0..i).rev())?;
            let (prefix_after, width_after, after, down) = walk(&mut (i + 1..readings.len()))?;
            if (prefix_after.as_str(), width_after) != (prefix.as_str(), width) {
                return None;
            }
            let n = if after > before && after - before == up + down {
                before + up
            } else if before > after && before - after == up + down {
                before - up
            } else {
                return None;
            };
            Some(format!("{prefix}{n:0width$}"))
        })
        .collect()
}

#[cfg(test)]
mod tests;
