//! A scan file, start to finish: every page read (in parallel, bounded memory) and every page decided
//! against the exam. The caller stores the results; nothing here touches files.

use certscan_domain::{FisRecord, Roster};
use certscan_templates::Template;

use crate::matching::{decide, Decision, PageEvidence};
use crate::ocr::Ocr;
use crate::page::PageReading;
use crate::pdf::PdfEngine;
use crate::scan::{read_file_with, ScanError, ScanOptions};
use crate::source::ScanInput;

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
        let turn = self.reading(page).map_or(0, |r| r.orientation_deg);
        (360 - turn % 360) % 360
    }
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
    read_file_with(scan, pdf, template, ocr, options, |reading| {
        on_page(&reading);
        readings.push(reading);
    })?;
    let evidence: Vec<PageEvidence> = readings.iter().map(PageEvidence::from_reading).collect();
    let decisions = decide(roster, records, &evidence);
    Ok(Processed { readings, decisions })
}
