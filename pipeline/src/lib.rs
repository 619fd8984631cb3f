//! The recognition core: bytes in, typed results out. No async, no database, no queue, no environment;
//! the caller passes everything in (including where the PDFium library is).
//!
//! # Layout
//! - [`pdf`]: the PDFium binding behind one process-wide lock: page count, rendering, text.
//! - [`qr`]: reading QR codes from raster images (rqrr).

pub mod pdf;
pub mod qr;

pub use pdf::{PdfEngine, PdfError};
