//! A scan file, start to finish: every page read (in parallel, bounded memory) and every page decided
//! against the exam. The caller stores the results; nothing here touches files.

use certscan_domain::{FisRecord, Roster};
use certscan_templates::Template;

use crate::matching::{decide, Decision, PageEvidence};
use crate::ocr::{NumberImage, Ocr};
use crate::page::PageReading;
use crate::pdf::PdfEngine;
use crate::scan::{read_file_with, ScanError, ScanOptions};
use crate::source::ScanInput;
use crate::stack::{check_numbers, GlyphBook, MAX_UNREAD_KEPT};

/// What a scan file turned out to hold.
#[derive(Debug, Clone)]
pub struct Processed {
    /// In page order.
    pub readings: Vec<PageReading>,
    /// One per page, in page order.
    pub decisions: Vec<(usize, Decision)>,
}

impl Processed {
    pub fn reading(&self, page: usize) -> Option<&PageReading> {
        self.readings.iter().find(|r| r.page == page)
    }

    /// The clockwise display rotation that shows a page upright (undoing the quarter turn it was found in).
    pub fn upright(&self, page: usize) -> u32 {
        self.reading(page).map_or(0, upright)
    }
}

/// The clockwise display rotation that shows the page of `reading` upright.
pub fn upright(reading: &PageReading) -> u32 {
    (360 - reading.orientation_deg % 360) % 360
}

/// Reads and decides every page; `on_page` sees each reading as it completes (for progress).
#[allow(clippy::too_many_arguments)]
pub fn process_scan<'a>(
    scan: impl Into<ScanInput<'a>>,
    pdf: Option<&'a PdfEngine>,
    template: &Template,
    ocr: &dyn Ocr,
    options: &ScanOptions,
    roster: &Roster,
    records: &[FisRecord],
    mut on_page: impl FnMut(&PageReading),
) -> Result<Processed, ScanError> {
    let mut readings = Vec::new();
    // Numbers read for sure teach the stack's print as they come; the zones of numbers a mark crossed
    // wait for the stack check (a bounded number of them).
    let mut book = GlyphBook::default();
    let mut kept = 0usize;
    read_file_with(scan, pdf, template, ocr, options, |mut reading| {
        on_page(&reading);
        // Only this exam's certificates are this stack's blanks (another exam's page may be another print).
        let ours = reading.code.as_ref().is_some_and(|c| c.payload.as_ref().is_ok_and(|p| p.exam_id == roster.exam_id));
        let keep = match reading.number_image.as_ref().filter(|_| ours) {
            // A sure line teaches the book and is kept to be checked against it (~20 KB).
            Some(NumberImage::Read { text, line }) => {
                book.learn(text, line);
                true
            }
            Some(NumberImage::Unread { .. }) if kept < MAX_UNREAD_KEPT => {
                kept += 1;
                true
            }
            _ => false,
        };
        if !keep {
            reading.number_image = None;
        }
        readings.push(reading);
    })?;
    check_numbers(book, &mut readings);
    let evidence: Vec<PageEvidence> = readings.iter().map(PageEvidence::from_reading).collect();
    let decisions = decide(roster, records, &evidence);
    Ok(Processed { readings, decisions })
}
