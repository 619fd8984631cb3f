//! PDFium, bound once per process from a library path the caller resolves. PDFium is not thread-safe, so
//! every document operation holds one global lock from open to close; callers render serially here and do
//! their image work in parallel afterwards. Pages are rendered BGRA and converted (PDFium's Gray format
//! crashes).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use image::{DynamicImage, RgbImage};
use pdfium_render::prelude::*;

use crate::source::ScanInput;

/// A handle on the process's PDFium.
pub struct PdfEngine {
    pub(crate) pdfium: Pdfium,
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
        let bindings =
            Pdfium::bind_to_library(library).map_err(|e| PdfError::Library { path: library.to_path_buf(), reason: e.to_string() })?;
        let engine = PdfEngine { pdfium: Pdfium::new(bindings), library: library.to_path_buf() };
        Ok(ENGINE.get_or_init(|| engine))
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Runs `f` on the open document, under the global lock.
    pub(crate) fn with_document<'d, T>(
        &self,
        data: impl Into<ScanInput<'d>>,
        f: impl FnOnce(&PdfDocument<'_>) -> Result<T, PdfError>,
    ) -> Result<T, PdfError> {
        let _guard = DOCUMENT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let document = match data.into() {
            ScanInput::Bytes(bytes) => self.pdfium.load_pdf_from_byte_slice(bytes, None),
            // PDFium reads the parts it needs from the file as it goes: a big scan is never all in memory.
            ScanInput::PdfFile(path) => self.pdfium.load_pdf_from_file(path, None),
        }
        .map_err(classify)?;
        f(&document)
    }

    pub fn page_count<'d>(&self, data: impl Into<ScanInput<'d>>) -> Result<usize, PdfError> {
        self.with_document(data, |doc| Ok(doc.pages().len() as usize))
    }

    /// Page sizes in millimetres, in order.
    pub fn page_sizes_mm(&self, bytes: &[u8]) -> Result<Vec<(f32, f32)>, PdfError> {
        self.with_document(bytes, |doc| Ok(doc.pages().iter().map(|p| (p.width().to_mm(), p.height().to_mm())).collect()))
    }

    /// Renders one page (0-based) at `dpi`, white background.
    pub fn render_page(&self, bytes: &[u8], page: usize, dpi: f32) -> Result<RgbImage, PdfError> {
        self.with_document(bytes, |doc| render(doc, page, dpi))
    }

    /// Renders every page at `dpi`. Memory grows with the page count: for generated certificates, not scans.
    pub fn render_all(&self, bytes: &[u8], dpi: f32) -> Result<Vec<RgbImage>, PdfError> {
        self.with_document(bytes, |doc| (0..doc.pages().len() as usize).map(|i| render(doc, i, dpi)).collect())
    }

    /// Takes one page (0-based) out for recognition under the lock, as cheaply as it allows: a page that is
    /// one full-page JPEG (what scanners write) gives its encoded bytes, to be decoded outside the lock;
    /// anything else is rendered at `policy.render_dpi`, lowered so the bitmap stays within
    /// `policy.max_pixels` and [`RENDER_MAX_PIXELS`]. An embedded image over the limit is refused before
    /// PDFium decodes it.
    pub fn extract_page<'d>(&self, data: impl Into<ScanInput<'d>>, page: usize, policy: &ExtractPolicy) -> Result<PdfPageRaster, PdfError> {
        self.with_document(data, |doc| extract(doc, page, policy))
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

/// Most pixels a rendered page gets, whatever its size: PDFium's BGRA bitmap (4 bytes a pixel) and its
/// RGB copy (3) are held together while converting, so 24 megapixels is 168 MB and a page stays under
/// 256 MB with what recognition adds. An A4 page renders at up to 480 dpi within it; a large-format page
/// (a poster) renders at a lower resolution instead of at 60 megapixels (about 900 MB).
pub const RENDER_MAX_PIXELS: u64 = 24_000_000;

/// How [`PdfEngine::extract_page`] renders and what it refuses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExtractPolicy {
    /// Resolution for pages that must be rendered (vector pages, non-JPEG images).
    pub render_dpi: f32,
    /// Upper bound for a rendered bitmap and for an embedded image's pixel count.
    pub max_pixels: u64,
}

impl Default for ExtractPolicy {
    fn default() -> Self {
        ExtractPolicy { render_dpi: 300.0, max_pixels: 60_000_000 }
    }
}

/// One page taken out of a PDF.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PdfPageRaster {
    /// The page is a single upright full-page JPEG: its encoded (DCTDecode) bytes, exactly as stored.
    Jpeg { data: Vec<u8>, dpi: f32 },
    /// The page rendered by PDFium.
    Rendered { image: RgbImage, dpi: f32 },
}

fn extract(doc: &PdfDocument<'_>, page: usize, policy: &ExtractPolicy) -> Result<PdfPageRaster, PdfError> {
    let p = get_page(doc, page)?;
    let page_err = |reason: String| PdfError::Page { page: page + 1, reason };
    let (width_in, height_in) = (p.width().to_inches(), p.height().to_inches());
    if !(width_in > 0.1 && height_in > 0.1) {
        return Err(page_err(format!("page size {width_in:.2}x{height_in:.2} in is not a sheet")));
    }
    let mut images = Vec::new();
    let mut other_visible = 0usize;
    for object in p.objects().iter() {
        if object.as_image_object().is_some() {
            images.push(object);
        } else if object.object_type() != PdfPageObjectType::Text {
            // Text may be an invisible OCR layer a scanner added; anything else is drawn over the image.
            other_visible += 1;
        }
    }
    let mut native_dpi = None;
    if let [object] = images.as_slice() {
        let image = object.as_image_object().expect("filtered to image objects");
        let (w, h) = match (image.width(), image.height()) {
            (Ok(w), Ok(h)) => (w as u64, h as u64),
            _ => (0, 0),
        };
        if w * h > policy.max_pixels {
            return Err(page_err(format!("its image has {w}x{h} pixels, over the limit of {}", policy.max_pixels)));
        }
        let bounds = object.bounds().map(|q| q.to_rect()).ok();
        let covers = bounds.is_some_and(|b| b.width().value * b.height().value >= 0.95 * p.width().value * p.height().value);
        if covers && w > 0 {
            native_dpi = Some(w as f32 / width_in);
        }
        let upright = object.matrix().is_ok_and(|m| m.a() > 0.0 && m.d() > 0.0 && m.b().abs() < 1e-3 && m.c().abs() < 1e-3);
        let unrotated = matches!(p.rotation(), Ok(PdfPageRenderRotation::None));
        let filters = image.filters();
        let jpeg = filters.len() == 1 && filters.get(0).is_ok_and(|f| f.name() == "DCTDecode");
        let plain_colour = matches!(image.color_space(), Ok(PdfColorSpace::DeviceGray | PdfColorSpace::DeviceRGB));
        if covers && upright && unrotated && jpeg && plain_colour && other_visible == 0 {
            let data = image.get_raw_image_data().map_err(|e| page_err(e.to_string()))?;
            if !data.is_empty() {
                return Ok(PdfPageRaster::Jpeg { data, dpi: native_dpi.unwrap_or(policy.render_dpi) });
            }
        }
    }
    // Render at the scan's own resolution when it has one (no detail to gain above it), within limits.
    let mut dpi = native_dpi.map_or(policy.render_dpi, |d| d.clamp(150.0, policy.render_dpi.max(150.0)));
    let pixels = |dpi: f32| (width_in * dpi) as f64 * (height_in * dpi) as f64;
    let cap = policy.max_pixels.min(RENDER_MAX_PIXELS);
    if pixels(dpi) > cap as f64 {
        dpi *= (cap as f64 / pixels(dpi)).sqrt() as f32 * 0.999;
    }
    if dpi < 50.0 {
        return Err(page_err(format!("a {width_in:.0}x{height_in:.0} in page cannot be rendered within the pixel limit")));
    }
    render(doc, page, dpi).map(|image| PdfPageRaster::Rendered { image, dpi })
}

fn get_page<'a>(doc: &PdfDocument<'a>, page: usize) -> Result<PdfPage<'a>, PdfError> {
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
        // pdfium-render displays its internal codes as a multi-line debug dump; one line for people.
        PdfiumError::PdfiumLibraryInternalError(code) => PdfError::Unreadable(format!("PDFium reports {code:?}")),
        other => PdfError::Unreadable(other.to_string()),
    }
}
