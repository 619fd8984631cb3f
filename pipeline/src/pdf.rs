//! PDFium, bound once per process from a library path the caller resolves. PDFium is not thread-safe, so
//! every document operation holds one global lock from open to close; callers render serially here and do
//! their image work in parallel afterwards. Pages are rendered BGRA and converted (PDFium's Gray format
//! crashes).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use image::{DynamicImage, RgbImage};
use pdfium_render::prelude::*;

/// A handle on the process's PDFium.
pub struct PdfEngine {
    pdfium: Pdfium,
    library: PathBuf,
}

impl std::fmt::Debug for PdfEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfEngine").field("library", &self.library).finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdfError {
    #[error("cannot load the PDFium library {path}: {reason} (run the README's setup, or set CERTSCAN_PDFIUM_LIBRARY)")]
    Library { path: PathBuf, reason: String },
    #[error("not a readable PDF: {0}")]
    Unreadable(String),
    #[error("the PDF is password-protected")]
    Encrypted,
    #[error("page {page} does not exist (the document has {count})")]
    NoSuchPage { page: usize, count: usize },
    #[error("page {page}: {reason}")]
    Page { page: usize, reason: String },
}

// PDFium's bindings are process-global; the engine is created once and shared.
static ENGINE: OnceLock<PdfEngine> = OnceLock::new();
static BIND_LOCK: Mutex<()> = Mutex::new(());
// Whole-document operations hold this, so two threads never interleave PDFium calls.
static DOCUMENT_LOCK: Mutex<()> = Mutex::new(());

impl PdfEngine {
    /// Binds PDFium from `library` (a path to `libpdfium.so`) the first time; later calls return the same
    /// engine whatever path they pass.
    pub fn bind(library: &Path) -> Result<&'static PdfEngine, PdfError> {
        if let Some(engine) = ENGINE.get() {
            return Ok(engine);
        }
        let _guard = BIND_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(engine) = ENGINE.get() {
            return Ok(engine);
        }
        let bindings = Pdfium::bind_to_library(library)
            .map_err(|e| PdfError::Library { path: library.to_path_buf(), reason: e.to_string() })?;
        let engine = PdfEngine { pdfium: Pdfium::new(bindings), library: library.to_path_buf() };
        Ok(ENGINE.get_or_init(|| engine))
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Runs `f` on the open document, under the global lock.
    fn with_document<T>(&self, bytes: &[u8], f: impl FnOnce(&PdfDocument<'_>) -> Result<T, PdfError>) -> Result<T, PdfError> {
        let _guard = DOCUMENT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let document = self.pdfium.load_pdf_from_byte_slice(bytes, None).map_err(classify)?;
        f(&document)
    }

    pub fn page_count(&self, bytes: &[u8]) -> Result<usize, PdfError> {
        self.with_document(bytes, |doc| Ok(doc.pages().len() as usize))
    }

    /// Page sizes in millimetres, in order.
    pub fn page_sizes_mm(&self, bytes: &[u8]) -> Result<Vec<(f32, f32)>, PdfError> {
        self.with_document(bytes, |doc| {
            Ok(doc.pages().iter().map(|p| (p.width().to_mm(), p.height().to_mm())).collect())
        })
    }

    /// Renders one page (0-based) at `dpi`, white background.
    pub fn render_page(&self, bytes: &[u8], page: usize, dpi: f32) -> Result<RgbImage, PdfError> {
        self.with_document(bytes, |doc| render(doc, page, dpi))
    }

    /// Renders every page at `dpi`. Memory grows with the page count: for generated certificates, not scans.
    pub fn render_all(&self, bytes: &[u8], dpi: f32) -> Result<Vec<RgbImage>, PdfError> {
        self.with_document(bytes, |doc| (0..doc.pages().len() as usize).map(|i| render(doc, i, dpi)).collect())
    }

    /// The text PDFium extracts from one page (0-based).
    pub fn page_text(&self, bytes: &[u8], page: usize) -> Result<String, PdfError> {
        self.with_document(bytes, |doc| {
            let p = get_page(doc, page)?;
            let text = p.text().map_err(|e| PdfError::Page { page: page + 1, reason: e.to_string() })?;
            Ok(text.all())
        })
    }
}

fn get_page<'a>(doc: &'a PdfDocument<'a>, page: usize) -> Result<PdfPage<'a>, PdfError> {
    let count = doc.pages().len() as usize;
    if page >= count {
        return Err(PdfError::NoSuchPage { page: page + 1, count });
    }
    doc.pages().get(page as u16 as _).map_err(|e| PdfError::Page { page: page + 1, reason: e.to_string() })
}

fn render(doc: &PdfDocument<'_>, page: usize, dpi: f32) -> Result<RgbImage, PdfError> {
    let p = get_page(doc, page)?;
    let config = PdfRenderConfig::new()
        .scale_page_by_factor(dpi / 72.0)
        .set_format(PdfBitmapFormat::BGRA)
        .set_clear_color(PdfColor::WHITE)
        .render_form_data(false);
    let bitmap = p.render_with_config(&config).map_err(|e| PdfError::Page { page: page + 1, reason: e.to_string() })?;
    let image = bitmap.as_image().map_err(|e| PdfError::Page { page: page + 1, reason: e.to_string() })?;
    Ok(match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

fn classify(e: PdfiumError) -> PdfError {
    match e {
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError) => PdfError::Encrypted,
        other => PdfError::Unreadable(other.to_string()),
    }
}
