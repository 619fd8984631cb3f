//! A whole scan file: pages are taken out serially on the caller's thread (PDFium is locked per
//! operation) and decoded and read in parallel on rayon, with a bounded number of pages in flight so
//! memory does not grow with the page count. Readings are handed back in page order as they complete.
//! Talks to `source` and `page`.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use certscan_templates::Template;

use crate::ocr::{Ocr, OcrError};
use crate::page::{read_decoded, PageOptions, PageReading};
use crate::pdf::PdfEngine;
use crate::source::{PageImage, PageSource, ScanInput, SourceError, SourceOptions};

/// How a file is read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScanOptions {
    pub source: SourceOptions,
    pub page: PageOptions,
    /// Pages decoded or being read at once; 0 = one more than the rayon pool's threads (the default), so
    /// a thread that finishes a page finds the next one taken out already. An A4 page at 300 dpi holds
    /// 26 MB as decoded and up to about 60 MB while the full code search runs on it. Measured on 2 cores
    /// (2026-12-07): the 481-page `typical` file 17.9–18.6 s and 198–209 MB against 18.8–20.1 s and
    /// 217–236 MB with as many pages as threads; `office` stacks of 45 pages peak at 225–265 MB.
    pub pages_in_flight: usize,
    /// Pages a file may have; 0 = any number (the default). A longer file is refused
    /// ([`ScanError::TooManyPages`]) before its first page when the container states its page count,
    /// else when the page after the limit turns up.
    pub max_pages: usize,
    /// When reading must stop ([`ScanError::DeadlinePassed`]); checked before each page is taken out.
    /// Default: none.
    pub deadline: Option<Instant>,
}

/// Why a file could not be read. Page-level trouble is in the readings, not here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The OCR engine itself failed (not installed, no language data): retrying will not help
    /// until the installation is fixed.
    #[error(transparent)]
    Ocr(#[from] OcrError),
    /// The file has more pages than [`ScanOptions::max_pages`].
    #[error("the file has more than {limit} pages, the limit per scan file; split it into smaller files")]
    TooManyPages { limit: usize, stated: Option<usize> },
    /// [`ScanOptions::deadline`] passed with pages still to read.
    #[error("reading stopped at the processing deadline after {pages_read} pages")]
    DeadlinePassed { pages_read: usize },
}

/// Reads every page of a scan file; readings in page order.
pub fn read_file<'a>(
    scan: impl Into<ScanInput<'a>>,
    pdf: Option<&'a PdfEngine>,
    template: &Template,
    ocr: &dyn Ocr,
    options: &ScanOptions,
) -> Result<Vec<PageReading>, ScanError> {
    let mut out = Vec::new();
    // The number images are for the stack check (`process::process_scan`); a plain read does not hold them.
    read_file_with(scan, pdf, template, ocr, options, |mut reading| {
        reading.number_image = None;
        out.push(reading)
    })?;
    Ok(out)
}

/// Reads every page of a scan file, calling `on_page` with each reading in page order as soon as it
/// and the pages before it are done. Returns the number of pages.
pub fn read_file_with<'a>(
    scan: impl Into<ScanInput<'a>>,
    pdf: Option<&'a PdfEngine>,
    template: &Template,
    ocr: &dyn Ocr,
    options: &ScanOptions,
    mut on_page: impl FnMut(PageReading),
) -> Result<usize, ScanError> {
    let mut source = PageSource::open(scan, pdf, options.source)?;
    if let Some(stated) = source.page_count().filter(|n| options.max_pages > 0 && *n > options.max_pages) {
        return Err(ScanError::TooManyPages { limit: options.max_pages, stated: Some(stated) });
    }
    let limit = match options.pages_in_flight {
        0 => rayon::current_num_threads() + 1,
        n => n,
    };
    let page_options = options.page;
    let (tx, rx) = mpsc::channel::<(usize, Result<PageReading, OcrError>)>();
    let mut pending: BTreeMap<usize, PageReading> = BTreeMap::new();
    let mut next_out = 1usize;
    let mut in_flight = 0usize;
    let mut failure: Option<OcrError> = None;
    // A limit met: no more pages are taken out; those in flight finish, then this is the result.
    let mut stop: Option<ScanError> = None;
    let mut pages = 0usize;

    rayon::in_place_scope(|scope| {
        let mut settle = |(page, result): (usize, Result<PageReading, OcrError>), failure: &mut Option<OcrError>| {
            match result {
                Ok(reading) => {
                    pending.insert(page, reading);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
            while let Some(reading) = pending.remove(&next_out) {
                on_page(reading);
                next_out += 1;
            }
        };
        loop {
            while in_flight >= limit {
                settle(wait(&rx), &mut failure);
                in_flight -= 1;
            }
            if failure.is_some() {
                break;
            }
            if options.deadline.is_some_and(|d| Instant::now() >= d) {
                stop = Some(ScanError::DeadlinePassed { pages_read: pages });
                break;
            }
            let Some(encoded) = source.next_encoded() else {
                break;
            };
            if options.max_pages > 0 && pages >= options.max_pages {
                stop = Some(ScanError::TooManyPages { limit: options.max_pages, stated: None });
                break;
            }
            pages += 1;
            in_flight += 1;
            let tx = tx.clone();
            scope.spawn(move |_| {
                let page = encoded.page;
                let started = Instant::now();
                let result = match encoded.decode() {
                    PageImage::Decoded(decoded) => {
                        let decode_ms = started.elapsed().as_secs_f32() * 1000.0;
                        read_decoded(&decoded, template, ocr, &page_options).map(|mut reading| {
                            reading.timings.decode_ms = decode_ms;
                            reading.timings.total_ms += decode_ms;
                            reading
                        })
                    }
                    PageImage::Unreadable { page, reason } => Ok(PageReading::unreadable(page, reason)),
                };
                // The receiver outlives the scope; a send cannot fail.
                let _ = tx.send((page, result));
            });
        }
        while in_flight > 0 {
            settle(wait(&rx), &mut failure);
            in_flight -= 1;
        }
    });
    match (failure, stop) {
        (Some(e), _) => Err(e.into()),
        (None, Some(stop)) => Err(stop),
        (None, None) => Ok(pages),
    }
}

/// Waits for one finished page. On a rayon worker (a caller already inside the pool) it keeps running
/// pool jobs meanwhile, so a one-thread pool cannot deadlock.
fn wait<T>(rx: &mpsc::Receiver<T>) -> T {
    if rayon::current_thread_index().is_none() {
        return rx.recv().expect("senders live until their page is sent");
    }
    loop {
        match rx.try_recv() {
            Ok(v) => return v,
            Err(mpsc::TryRecvError::Disconnected) => unreachable!("senders live until their page is sent"),
            Err(mpsc::TryRecvError::Empty) => {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    if let Ok(v) = rx.recv_timeout(Duration::from_millis(2)) {
                        return v;
                    }
                }
            }
        }
    }
}
