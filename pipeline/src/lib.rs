//! The recognition core: bytes in, typed results out. No async, no database, no queue, no environment;
//! the caller passes everything in (including where the PDFium library is and which OCR engine to use).
//! CPU work runs on rayon; Tesseract must be single-threaded inside (`OMP_THREAD_LIMIT=1`, set by the
//! process that hosts this library).
//!
//! # Layout
//! - [`source`]: a scan file (PDF, TIFF, JPEG, PNG) → pages, one at a time, with a pixel limit; JPEG pages
//!   decoded by libjpeg-turbo at a reduced scale when they have more resolution than reading needs.
//! - [`pdf`]: the PDFium binding behind one process-wide lock: page count, rendering, text, page extraction.
//! - [`qr`]: finding and reading the code, escalating through strategies.
//! - [`orient`]: orientation and skew, from the code or from the page itself.
//! - [`locate`]: the sheet's pose on the page; template rectangles → upright crops.
//! - [`ocr`]: the OCR trait, Tesseract behind it, and the blank-number reader.
//! - [`page`]: one page, start to finish → [`PageReading`].
//! - [`scan`]: a whole file, pages in parallel with bounded memory.
//! - [`pixels`]: a page's pixels as decoded, colour or grey, and what the stages take from them.
//! - [`raster`]: pixel helpers the stages share.
//! - [`export`]: one-page PDFs of scanned pages; JPEG pages → PDF.
//! - [`process`]: a scan file read and decided, start to finish.
//! - [`register_page`]: a page of the issuance register: its code, pose and per-row signature check.
//! - [`report`]: `report.json`, the contract shape.
//! - [`matching`]: evidence of every page → attached, duplicate, ignored or review with a reason.
//! - [`ledger`]: the blank ledger as outside evidence, applied after `matching`: an attached page whose
//!   blank is outside every pack, written off or used by another application goes to review.

pub mod blank_number;
pub mod export;
pub mod glyphs;
pub mod ledger;
pub mod locate;
pub mod matching;
pub mod ocr;
pub mod orient;
pub mod page;
pub mod pdf;
pub mod pixels;
pub mod process;
pub mod qr;
pub mod raster;
pub mod register_page;
pub mod report;
pub mod scan;
pub mod source;
pub mod stack;

pub use blank_number::{BlankNumberReading, Evidence};
pub use ocr::{Ocr, OcrError, OcrLine, TesseractOcr};
pub use page::{read_decoded, read_page, CodeReading, PageOptions, PageReading, PageTimings, Straightening};
pub use pdf::{PdfEngine, PdfError};
pub use scan::{read_file, read_file_with, ScanError, ScanOptions};
pub use source::{PageImage, PageSource, ScanFile, ScanFormat, ScanInput, SourceError, SourceOptions};
