//! Writing pages out: one-page PDFs of scanned pages for attachments and review, and a PDF of JPEG
//! pages as scanners write them. A PDF page is copied as it came (its scanned image untouched) with its
//! display rotation set so it shows upright; an image page is embedded as a JPEG at its physical size.

use lopdf::{dictionary, Document, Object, Stream};
use pdfium_render::prelude::*;

use std::collections::BTreeMap;

use crate::pdf::{PdfEngine, PdfError};
use crate::pixels::PagePixels;
use crate::scan::ScanOptions;
use crate::source::{PageImage, PageSource, ScanFormat, ScanInput, SourceError, SourceOptions, EXPORT_MAX_PIXELS};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error("not a scan file (expected PDF, TIFF, JPEG or PNG)")]
    NotAScan,
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("page {page}: {reason}")]
    Page { page: usize, reason: String },
}

/// Each listed page (1-based, with the clockwise display rotation that shows it upright) as its own
/// one-page PDF. PDF pages are copied as they came; image pages (TIFF, JPEG, PNG) are re-encoded once as
/// JPEG (quality 90) at their physical size. A page that cannot be decoded is absent from the result.
/// Holds every file in memory: for a few pages; [`for_each_page_file`] streams.
pub fn page_files<'a>(
    scan: impl Into<ScanInput<'a>>,
    engine: &PdfEngine,
    options: &ScanOptions,
    pages: &[(usize, u32)],
) -> Result<BTreeMap<usize, Vec<u8>>, ExportError> {
    let mut out = BTreeMap::new();
    for_each_page_file(scan, engine, options, pages, |page, file| {
        out.insert(page, file);
        Ok::<(), ExportError>(())
    })?;
    Ok(out)
}

/// PDF pages copied out per call to PDFium: bounds the memory held at once, and spreads the cost of
/// opening the document.
const PAGES_PER_SPLIT: usize = 16;

/// [`page_files`], handing each file to `f` as soon as it is made (in the order of `pages`), so memory
/// does not grow with the number of pages. A page that cannot be decoded is skipped.
pub fn for_each_page_file<'a, E: From<ExportError>>(
    scan: impl Into<ScanInput<'a>>,
    engine: &PdfEngine,
    options: &ScanOptions,
    pages: &[(usize, u32)],
    mut f: impl FnMut(usize, Vec<u8>) -> Result<(), E>,
) -> Result<(), E> {
    let scan = scan.into();
    let format = scan.format().ok_or(ExportError::NotAScan)?;
    if format == ScanFormat::Pdf {
        for chunk in pages.chunks(PAGES_PER_SPLIT) {
            let indexed: Vec<(usize, u32)> = chunk.iter().map(|&(p, r)| (p - 1, r)).collect();
            let files = engine.split_pages(scan, &indexed).map_err(ExportError::from)?;
            for (&(page, _), file) in chunk.iter().zip(files) {
                f(page, file)?;
            }
        }
        return Ok(());
    }
    let wanted: BTreeMap<usize, u32> = pages.iter().copied().collect();
    // A page file is the page at full resolution, not at the scale reading decodes it at, up to export's
    // own pixel cap (A4 at 600 dpi whole; a poster reduced).
    let source_options = SourceOptions { decode_dpi: f32::INFINITY, keep_pixels: EXPORT_MAX_PIXELS, ..options.source };
    let mut source = PageSource::open(scan, Some(engine), source_options).map_err(ExportError::from)?;
    while let Some(encoded) = source.next_encoded() {
        let page = encoded.page;
        let Some(&rotate) = wanted.get(&page) else { continue };
        if let PageImage::Decoded(d) = encoded.decode() {
            let mut jpeg = Vec::new();
            let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90);
            // A grey page stays a grey JPEG.
            let (encoded, grayscale) = match &d.image {
                PagePixels::Rgb(rgb) => (encoder.encode_image(rgb), false),
                PagePixels::Gray(gray) => (encoder.encode_image(gray), true),
            };
            encoded.map_err(|e| ExportError::Page { page, reason: format!("cannot encode: {e}") })?;
            let single = JpegPage { jpeg, width: d.image.width(), height: d.image.height(), dpi: d.dpi, grayscale, rotate };
            let pdf = jpeg_pages_pdf(vec![single], "certscan").map_err(|reason| ExportError::Page { page, reason })?;
            f(page, pdf)?;
        }
    }
    Ok(())
}

/// One page's JPEG and what the PDF must say about it.
#[derive(Debug, Clone)]
pub struct JpegPage {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub dpi: f32,
    pub grayscale: bool,
    /// Display rotation, degrees clockwise (0, 90, 180, 270), set as /Rotate.
    pub rotate: u32,
}

/// A PDF, one JPEG image per page (DCTDecode, never re-encoded); MediaBox = pixels / dpi × 72 points.
pub fn jpeg_pages_pdf(pages: Vec<JpegPage>, producer: &str) -> Result<Vec<u8>, String> {
    let mut doc = Document::with_version("1.4");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::with_capacity(pages.len());
    for page in pages {
        let color_space = if page.grayscale { "DeviceGray" } else { "DeviceRGB" };
        let image = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => page.width as i64,
                "Height" => page.height as i64,
                "ColorSpace" => color_space,
                "BitsPerComponent" => 8,
                "Filter" => "DCTDecode",
            },
            page.jpeg,
        )
        .with_compression(false);
        let image_id = doc.add_object(image);
        let (w_pt, h_pt) = (points(page.width, page.dpi), points(page.height, page.dpi));
        let content = format!("q {w_pt} 0 0 {h_pt} 0 0 cm /Im0 Do Q");
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.into_bytes()).with_compression(false));
        let mut page_dict = dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(w_pt), Object::Real(h_pt)],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image_id } },
            "Contents" => content_id,
        };
        if page.rotate % 360 != 0 {
            page_dict.set("Rotate", (page.rotate % 360) as i64);
        }
        kids.push(doc.add_object(page_dict).into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    let info_id = doc.add_object(dictionary! { "Producer" => Object::string_literal(producer) });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Points for a pixel length at a resolution, rounded to 1/1000 pt so files are stable.
fn points(pixels: u32, dpi: f32) -> f32 {
    (pixels as f64 / dpi as f64 * 72.0 * 1000.0).round() as f32 / 1000.0
}

impl PdfEngine {
    /// Copies each listed page (0-based index, extra clockwise display rotation) of a PDF into its own
    /// one-page PDF, unchanged but for the rotation, opening the source once.
    pub fn split_pages<'d>(&self, data: impl Into<ScanInput<'d>>, pages: &[(usize, u32)]) -> Result<Vec<Vec<u8>>, PdfError> {
        self.with_document(data, |source| {
            let count = source.pages().len() as usize;
            pages
                .iter()
                .map(|&(index, rotate)| {
                    if index >= count {
                        return Err(PdfError::NoSuchPage { page: index + 1, count });
                    }
                    let fail = |e: PdfiumError| PdfError::Page { page: index + 1, reason: e.to_string() };
                    let mut single = self.pdfium.create_new_pdf().map_err(fail)?;
                    single.pages_mut().copy_page_from_document(source, index as PdfPageIndex, 0).map_err(fail)?;
                    if rotate % 360 != 0 {
                        let mut page = single.pages().get(0).map_err(fail)?;
                        let current = match page.rotation().map_err(fail)? {
                            PdfPageRenderRotation::None => 0,
                            PdfPageRenderRotation::Degrees90 => 90,
                            PdfPageRenderRotation::Degrees180 => 180,
                            PdfPageRenderRotation::Degrees270 => 270,
                        };
                        page.set_rotation(match (current + rotate) % 360 {
                            90 => PdfPageRenderRotation::Degrees90,
                            180 => PdfPageRenderRotation::Degrees180,
                            270 => PdfPageRenderRotation::Degrees270,
                            _ => PdfPageRenderRotation::None,
                        });
                    }
                    single.save_to_bytes().map_err(fail)
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_at_300_dpi_of_a4_pixels_is_a4_in_points() {
        assert!((points(2480, 300.0) - 595.2).abs() < 0.01);
        assert!((points(3508, 300.0) - 841.92).abs() < 0.01);
    }

    #[test]
    fn a_jpeg_page_keeps_its_bytes_and_rotation() {
        let jpeg = vec![0xFF, 0xD8, 0xFF, 0xD9];
        let page = JpegPage { jpeg: jpeg.clone(), width: 10, height: 20, dpi: 100.0, grayscale: true, rotate: 90 };
        let pdf = jpeg_pages_pdf(vec![page], "test").unwrap();
        let doc = Document::load_mem(&pdf).unwrap();
        let (_, page_id) = doc.get_pages().into_iter().next().unwrap();
        let page = doc.get_dictionary(page_id).unwrap();
        assert_eq!(page.get(b"Rotate").unwrap().as_i64().unwrap(), 90);
        assert!(pdf.windows(jpeg.len()).any(|w| w == jpeg.as_slice()), "the JPEG is stored as it came");
    }

    #[test]
    fn a_600_dpi_image_page_is_exported_at_its_full_resolution() {
        let engine = PdfEngine::bind(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.pdfium/libpdfium.so")))
            .expect("scripts/setup.sh installs PDFium");
        let mut scan = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut scan, 90);
        encoder.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(600));
        encoder.encode_image(&image::RgbImage::from_pixel(801, 1000, image::Rgb([200, 200, 200]))).unwrap();
        // Reading decodes this page at half scale (`SourceOptions::decode_dpi` 300); its page file must not.
        let files = page_files(&scan, engine, &ScanOptions::default(), &[(1, 0)]).unwrap();
        let doc = Document::load_mem(&files[&1]).unwrap();
        let image = doc.objects.values().filter_map(|o| o.as_stream().ok()).find(|s| s.dict.has(b"Width")).unwrap();
        assert_eq!(image.dict.get(b"Width").unwrap().as_i64().unwrap(), 801);
        assert_eq!(image.dict.get(b"Height").unwrap().as_i64().unwrap(), 1000);
        // 801 pixels at 600 dpi: 96.12 points wide.
        let (_, page_id) = doc.get_pages().into_iter().next().unwrap();
        let media_box = doc.get_dictionary(page_id).unwrap().get(b"MediaBox").unwrap().as_array().unwrap().clone();
        let width = media_box[2].as_float().unwrap() - media_box[0].as_float().unwrap();
        assert!((width - 96.12).abs() < 0.1, "{media_box:?}");
    }
}
