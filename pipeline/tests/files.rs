//! Whole scan files: the PDF fast path for scanner JPEGs, the render fallback, multi-page TIFF, single
//! images, whole-file errors, pages that cannot be decoded, and page order with pages in parallel.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use image::{GrayImage, RgbImage};

use certscan_pipeline::source::{PageImage, PageOrigin, PageSource, ScanFormat, SourceError, SourceOptions};
use certscan_pipeline::{read_file, read_file_with, Ocr, OcrError, OcrLine, ScanError, ScanFile, ScanOptions, TesseractOcr};

use support::*;

const DPI: f32 = 200.0;

fn scanned(i: usize, orientation: u32) -> RgbImage {
    scan(&printed_page(i, DPI), DPI, &Scan { orientation, skew_deg: 0.7, noise: 8, ..Scan::default() })
}

#[test]
fn a_scanner_pdf_of_jpeg_pages_hands_out_the_jpeg_bytes_and_is_read_in_page_order() {
    let pages: Vec<RgbImage> = (0..3).map(|i| scanned(i, [0, 180, 90][i])).collect();
    let jpegs: Vec<Vec<u8>> = pages.iter().map(|p| jpeg(p, 80)).collect();
    let dims: Vec<(u32, u32)> = pages.iter().map(|p| p.dimensions()).collect();
    let pdf = scanner_pdf(&jpegs, &dims);

    let mut source = PageSource::open(&pdf, Some(engine()), SourceOptions::default()).unwrap();
    assert_eq!((source.format(), source.page_count()), (ScanFormat::Pdf, Some(3)));
    for (i, expected) in pages.iter().enumerate() {
        match source.next().unwrap() {
            PageImage::Decoded(p) => {
                assert_eq!(p.page, i + 1);
                assert_eq!(p.origin, PageOrigin::PdfJpeg);
                assert_eq!(p.image.dimensions(), expected.dimensions());
                assert!((p.dpi - DPI).abs() < 2.0, "dpi {}", p.dpi);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(source.next().is_none());

    let ocr = TesseractOcr::new(None, "eng").unwrap();
    let options = ScanOptions { pages_in_flight: 2, ..ScanOptions::default() };
    let readings = read_file(&pdf, Some(engine()), template(), &ocr, &options).unwrap();
    assert_eq!(readings.iter().map(|r| r.page).collect::<Vec<_>>(), vec![1, 2, 3]);
    for (i, r) in readings.iter().enumerate() {
        let code = r.code.as_ref().expect("code read");
        assert_eq!(code.payload.as_ref().ok(), Some(&certificate(i).payload()));
        assert_eq!(r.orientation_deg, [0, 180, 90][i]);
        assert_eq!(r.blank_number.as_ref().map(|b| b.text.clone()), Some(blank_number(i)), "{r:?}");
    }
}

#[test]
fn a_pdf_on_disk_is_read_without_loading_it_and_gives_what_its_bytes_give() {
    let pages: Vec<RgbImage> = (0..2).map(|i| scanned(i, [0, 180][i])).collect();
    let jpegs: Vec<Vec<u8>> = pages.iter().map(|p| jpeg(p, 80)).collect();
    let dims: Vec<(u32, u32)> = pages.iter().map(|p| p.dimensions()).collect();
    let pdf = scanner_pdf(&jpegs, &dims);
    let dir = std::env::temp_dir().join(format!("certscan-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scan.pdf");
    std::fs::write(&path, &pdf).unwrap();

    let file = ScanFile::open(&path).unwrap();
    assert_eq!(file, ScanFile::Pdf(path.clone()), "a PDF stays on disk");
    let ocr = TesseractOcr::new(None, "eng").unwrap();
    let options = ScanOptions::default();
    let from_disk = read_file(file.input(), Some(engine()), template(), &ocr, &options).unwrap();
    let from_memory = read_file(&pdf, Some(engine()), template(), &ocr, &options).unwrap();
    let key = |r: &certscan_pipeline::PageReading| (r.page, r.code.as_ref().map(|c| c.text.clone()), r.blank_number.clone());
    assert_eq!(from_disk.iter().map(key).collect::<Vec<_>>(), from_memory.iter().map(key).collect::<Vec<_>>());
    assert!(from_disk.iter().all(|r| r.code.is_some() && r.blank_number.is_some()), "{from_disk:?}");
    let wanted = [(1, 0), (2, 180)];
    let disk_files = certscan_pipeline::export::page_files(file.input(), engine(), &options, &wanted).unwrap();
    let memory_files = certscan_pipeline::export::page_files(&pdf, engine(), &options, &wanted).unwrap();
    assert_eq!(disk_files.keys().collect::<Vec<_>>(), vec![&1, &2]);
    for page in [1, 2] {
        assert_eq!(engine().page_count(&disk_files[&page]).unwrap(), 1);
        assert_eq!(disk_files[&page].len(), memory_files[&page].len());
    }

    // Other formats are read into memory; a PDF on disk that turns out broken is a typed error.
    let tiff_path = dir.join("scan.tif");
    std::fs::write(&tiff_path, tiff(&pages[..1], 200)).unwrap();
    assert!(matches!(ScanFile::open(&tiff_path).unwrap(), ScanFile::Bytes(_)));
    let broken = dir.join("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.7\nthis is no PDF body at all\n").unwrap();
    let broken = ScanFile::open(&broken).unwrap();
    let err = PageSource::open(broken.input(), Some(engine()), SourceOptions::default()).unwrap_err();
    assert!(matches!(err, SourceError::Damaged { format: ScanFormat::Pdf, .. }), "{err:?}");
    assert!(ScanFile::open(&dir.join("missing.pdf")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_vector_pdf_is_rendered_page_by_page() {
    let pdf = certscan_templates::render_certificates(template(), &[certificate(0), certificate(1)], Default::default()).unwrap();
    let options = SourceOptions { render_dpi: 150.0, ..SourceOptions::default() };
    let pages: Vec<_> = PageSource::open(&pdf, Some(engine()), options).unwrap().collect();
    assert_eq!(pages.len(), 2);
    for p in &pages {
        match p {
            PageImage::Decoded(p) => {
                assert_eq!(p.origin, PageOrigin::PdfRendered);
                assert_eq!(p.dpi, 150.0);
                assert_eq!(p.image.dimensions(), (1240, 1754));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn rendering_stays_within_the_pixel_limit() {
    let pdf = certscan_templates::render_certificates(template(), &[certificate(0)], Default::default()).unwrap();
    let options = SourceOptions { render_dpi: 600.0, max_pixels: 4_000_000, ..SourceOptions::default() };
    match PageSource::open(&pdf, Some(engine()), options).unwrap().next().unwrap() {
        PageImage::Decoded(p) => {
            assert!((p.image.width() as u64 * p.image.height() as u64) <= 4_000_000);
            assert!(p.dpi < 600.0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_multi_page_tiff_is_read_page_by_page_with_its_resolution() {
    let pages: Vec<RgbImage> = (0..2).map(|i| scanned(i, 270 * i as u32)).collect();
    let bytes = tiff(&pages, 200);
    let source = PageSource::open(&bytes, None, SourceOptions::default()).unwrap();
    assert_eq!(source.format(), ScanFormat::Tiff);
    let decoded: Vec<_> = source.collect();
    assert_eq!(decoded.len(), 2);
    for (i, p) in decoded.iter().enumerate() {
        match p {
            PageImage::Decoded(p) => {
                assert_eq!(p.page, i + 1);
                assert_eq!(p.origin, PageOrigin::ImageWithDpi);
                assert_eq!(p.dpi, 200.0);
                assert_eq!(*p.image.to_rgb(), pages[i]);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn an_oversized_tiff_page_is_unreadable_and_the_next_page_is_still_read() {
    let big = RgbImage::from_pixel(3000, 2000, image::Rgb([255, 255, 255]));
    let small = RgbImage::from_pixel(300, 400, image::Rgb([255, 255, 255]));
    let bytes = tiff(&[big, small], 300);
    let options = SourceOptions { max_pixels: 1_000_000, ..SourceOptions::default() };
    let pages: Vec<_> = PageSource::open(&bytes, None, options).unwrap().collect();
    assert!(matches!(&pages[0], PageImage::Unreadable { page: 1, reason } if reason.contains("over the limit")), "{pages:?}");
    assert!(matches!(&pages[1], PageImage::Decoded(p) if p.page == 2));
}

#[test]
fn a_single_jpeg_without_a_resolution_gets_its_dpi_from_the_a4_size() {
    let page = scanned(0, 0);
    let bytes = jpeg(&page, 85);
    let ocr = TesseractOcr::new(None, "eng").unwrap();
    let readings = read_file(&bytes, None, template(), &ocr, &ScanOptions::default()).unwrap();
    assert_eq!(readings.len(), 1);
    let r = &readings[0];
    assert_eq!(r.code.as_ref().and_then(|c| c.payload.clone().ok()), Some(certificate(0).payload()));
    assert!((r.dpi - DPI).abs() < 4.0, "{}", r.dpi);
}

#[test]
fn broken_and_foreign_files_are_typed_errors() {
    let ocr = Counting::default();
    let err = |bytes: &[u8]| read_file(bytes, Some(engine()), template(), &ocr, &ScanOptions::default()).unwrap_err();
    assert!(matches!(err(b"PK\x03\x04zip"), ScanError::Source(SourceError::UnknownFormat)));
    assert!(matches!(err(b"%PDF-1.7\n1 0 obj garbage"), ScanError::Source(SourceError::Damaged { format: ScanFormat::Pdf, .. })));
    let pdf = certscan_templates::render_certificates(template(), &[certificate(0)], Default::default()).unwrap();
    assert!(matches!(err(&pdf[..pdf.len() / 3]), ScanError::Source(SourceError::Damaged { .. })));
    assert_eq!(ocr.calls.load(Ordering::SeqCst), 0);
}

/// An OCR stand-in: always reads the same number and counts its calls.
#[derive(Default)]
struct Counting {
    calls: AtomicUsize,
}

impl Ocr for Counting {
    fn read_line(&self, _image: &GrayImage, _charset: &str) -> Result<OcrLine, OcrError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(OcrLine { text: "12 3456789".into(), confidence: 0.9 })
    }
}

#[test]
fn the_ocr_engine_can_be_swapped_and_pages_stream_out_in_order_with_one_in_flight() {
    let pages: Vec<RgbImage> = (0..3).map(|i| scanned(i, 0)).collect();
    let bytes = tiff(&pages, 200);
    let ocr = Counting::default();
    let mut seen = Vec::new();
    let options = ScanOptions { pages_in_flight: 1, ..ScanOptions::default() };
    let count = read_file_with(&bytes, None, template(), &ocr, &options, |r| seen.push((r.page, r.blank_number.map(|b| b.text)))).unwrap();
    assert_eq!(count, 3);
    assert_eq!(seen, (1..=3).map(|p| (p, Some("12 3456789".to_string()))).collect::<Vec<_>>());
    assert!(ocr.calls.load(Ordering::SeqCst) >= 3);
}
