//! Shared set-up of the criterion benches in `benches/` (the benches themselves live there).

use certscan_pipeline::PdfEngine;

/// PDFium from `CERTSCAN_PDFIUM_LIBRARY`, else where `scripts/setup.sh` puts it.
pub fn engine() -> &'static PdfEngine {
    let library = std::env::var_os("CERTSCAN_PDFIUM_LIBRARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../.pdfium/libpdfium.so").into());
    PdfEngine::bind(&library).expect("PDFium is installed by scripts/setup.sh")
}
