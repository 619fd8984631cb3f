//! PDFium, bound once per process from a library path the caller resolves. PDFium is not thread-safe, so
//! every document operation holds one global lock from open to close; callers render serially here and do
//! their image work in parallel afterwards. Pages are rendered BGRA and converted (PDFium's Gray format
//! crashes).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use image::RgbImage;
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

/// Most pixels a rendered page gets, whatever its size. Recognising a page that has no code (every
/// escalation of the code search tried) holds about 18 bytes a pixel at its peak: OCRmyPDF's `poster.pdf`
/// (25 x 50 in) rendered at 24 megapixels peaked at 475 MB of process memory, over the 256 MB a page may
/// take. At 10 megapixels it peaks under that (README "Limits"). An A4 page (8.7 megapixels at 300 dpi,
/// the render resolution) keeps its 300 dpi; an A3 one renders at about 230 dpi, a poster lower still.
pub const RENDER_MAX_PIXELS: u64 = 10_000_000;

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

/// Renders straight into 3 bytes a pixel in RGB order (PDFium's BGR format with its byte order reversed),
/// copies the rows out once, and frees PDFium's bitmap before the copy is trimmed into the image: at most
/// two RGB buffers of the page exist at once. (`PdfBitmap::as_image` went through BGRA, a raw copy and
/// an RGBA copy, then RGB: four buffers, 13 bytes a pixel; a 24-megapixel poster peaked at 475 MB.)
fn render(doc: &PdfDocument<'_>, page: usize, dpi: f32) -> Result<RgbImage, PdfError> {
    let p = get_page(doc, page)?;
    let page_err = |reason: String| PdfError::Page { page: page + 1, reason };
    let config = PdfRenderConfig::new()
        .scale_page_by_factor(dpi / 72.0)
        .set_format(PdfBitmapFormat::BGR)
        .set_reverse_byte_order(true)
        .set_clear_color(PdfColor::WHITE)
        .render_form_data(false);
    let bitmap = p.render_with_config(&config).map_err(|e| page_err(e.to_string()))?;
    let (width, height) = (bitmap.width() as usize, bitmap.height() as usize);
    let mut bytes = bitmap.as_raw_bytes();
    drop(bitmap);
    let row = width * 3;
    let stride = bytes.len().checked_div(height).unwrap_or(0);
    if stride < row {
        return Err(page_err(format!("PDFium gave {} bytes for {width}x{height} RGB pixels", bytes.len())));
    }
    if stride != row {
        // Rows are padded to a multiple of 4 bytes: close the gaps in place, front to back.
        for y in 1..height {
            bytes.copy_within(y * stride..y * stride + row, y * row);
        }
    }
    bytes.truncate(row * height);
    bytes.shrink_to_fit();
    RgbImage::from_raw(width as u32, height as u32, bytes).ok_or_else(|| page_err("the rendered bitmap has the wrong size".into()))
}

fn classify(e: PdfiumError) -> PdfError {
    match e {
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError) => PdfError::Encrypted,
        // pdfium-render displays its internal codes as a multi-line debug dump; one line for people.
        PdfiumError::PdfiumLibraryInternalError(code) => PdfError::Unreadable(format!("PDFium reports {code:?}")),
        other => PdfError::Unreadable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{dictionary, Document, Object, Stream};

    fn engine() -> &'static PdfEngine {
        PdfEngine::bind(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.pdfium/libpdfium.so")))
            .expect("scripts/setup.sh installs PDFium")
    }

    /// A page of `size_pt` with one raw (unfiltered) image over part of it and a vector stroke: the
    /// render path, not the JPEG one.
    fn image_page(colour_space: &str, bits: i64, (w, h): (i64, i64), data: Vec<u8>, size_pt: (i64, i64)) -> Vec<u8> {
        let mut doc = Document::with_version("1.4");
        let image = doc.add_object(Stream::new(
            dictionary! {
                "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
                "ColorSpace" => colour_space, "BitsPerComponent" => bits,
            },
            data,
        ));
        let content = doc.add_object(Stream::new(
            dictionary! {},
            format!(
                "q 0.2 0 0 rg 5 5 60 20 re f Q q 1 0 0 RG 3 w 10 10 m {} {} l S Q q 200 0 0 150 30 40 cm /Im0 Do Q",
                size_pt.0 - 10,
                size_pt.1 - 7
            )
            .into_bytes(),
        ));
        let page = doc.new_object_id();
        let pages = doc.add_object(dictionary! { "Type" => "Pages", "Kids" => vec![Object::Reference(page)], "Count" => 1 });
        doc.objects.insert(
            page,
            Object::Dictionary(dictionary! {
                "Type" => "Page", "Parent" => pages, "Contents" => content,
                "MediaBox" => vec![0.into(), 0.into(), size_pt.0.into(), size_pt.1.into()],
                "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image } },
            }),
        );
        let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
        doc.trailer.set("Root", catalog);
        let mut bytes = Vec::new();
        doc.save_to(&mut bytes).unwrap();
        bytes
    }

    /// What `render` did before: BGRA through `PdfBitmap::as_image`, then RGB.
    fn render_through_bgra(bytes: &[u8], dpi: f32) -> RgbImage {
        engine()
            .with_document(bytes, |doc| {
                let config = PdfRenderConfig::new()
                    .scale_page_by_factor(dpi / 72.0)
                    .set_format(PdfBitmapFormat::BGRA)
                    .set_clear_color(PdfColor::WHITE)
                    .render_form_data(false);
                let page = get_page(doc, 0)?;
                let bitmap = page.render_with_config(&config).map_err(|e| PdfError::Unreadable(e.to_string()))?;
                Ok(bitmap.as_image().map_err(|e| PdfError::Unreadable(e.to_string()))?.to_rgb8())
            })
            .unwrap()
    }

    #[test]
    fn rendering_straight_to_rgb_gives_the_pixels_the_bgra_path_gave() {
        let (w, h) = (37i64, 23i64);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| [(i * 7) as u8, (i * 13) as u8, (i * 29) as u8]).collect();
        let gray: Vec<u8> = (0..w * h).map(|i| (i * 11) as u8).collect();
        // 1 bit a pixel, rows padded to whole bytes.
        let mono: Vec<u8> = (0..h as usize * (w as usize).div_ceil(8)).map(|i| (i * 37 % 256) as u8).collect();
        let pages = [
            image_page("DeviceRGB", 8, (w, h), rgb, (250, 200)),
            image_page("DeviceGray", 8, (w, h), gray, (251, 199)),
            image_page("DeviceGray", 1, (w, h), mono, (253, 211)),
        ];
        // Odd widths at these resolutions: rows whose 3-byte pixels are not a multiple of 4 bytes.
        for (i, page) in pages.iter().enumerate() {
            for dpi in [72.0, 101.0, 150.0] {
                let expected = render_through_bgra(page, dpi);
                let got = engine().render_page(page, 0, dpi).unwrap();
                assert_eq!(got.dimensions(), expected.dimensions(), "page {i} at {dpi} dpi");
                let differing = got.pixels().zip(expected.pixels()).filter(|(a, b)| a != b).count();
                assert_eq!(differing, 0, "page {i} at {dpi} dpi: {differing} pixels differ");
            }
        }
    }
}
