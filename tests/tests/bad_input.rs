//! Bad scan files: each gives a clear error for the whole file, or a review item for the bad page while
//! the rest of the file goes on. Nothing panics.

use certscan_domain::FisRecord;
use certscan_pipeline::matching::{Decision, ReviewReason};
use certscan_pipeline::process::{process_scan, Processed};
use certscan_pipeline::scan::ScanError;
use certscan_pipeline::source::SourceError;
use certscan_pipeline::{ScanOptions, TesseractOcr};
use certscan_templates::reference;
use lopdf::{dictionary, Document, Object, Stream};

use crate::support::{engine, sample};

fn process(bytes: &[u8], options: &ScanOptions) -> Result<Processed, ScanError> {
    let (roster, _) = sample(1, 3);
    let records: Vec<FisRecord> = Vec::new();
    let ocr = TesseractOcr::new(None, "eng").unwrap();
    process_scan(bytes, Some(engine()), &reference(), &ocr, options, &roster, &records, |_| {})
}

/// A small scanner-like PDF: `pages` JPEG pages of a grey A4 at 50 dpi.
pub(crate) fn jpeg_pdf(pages: usize) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(413, 585, image::Rgb([235, 235, 230]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode_image(&image).unwrap();
    let pages = (0..pages)
        .map(|_| certscan_pipeline::export::JpegPage {
            jpeg: jpeg.clone(),
            width: 413,
            height: 585,
            dpi: 50.0,
            grayscale: false,
            rotate: 0,
        })
        .collect();
    certscan_pipeline::export::jpeg_pages_pdf(pages, "test").unwrap()
}

fn expect_source_error(bytes: &[u8], check: impl Fn(&SourceError) -> bool, what: &str) {
    match process(bytes, &ScanOptions::default()) {
        Err(ScanError::Source(e)) if check(&e) => assert!(!e.to_string().is_empty()),
        Err(e) => panic!("{what}: unexpected error {e}"),
        Ok(p) => panic!("{what}: accepted with {} page(s)", p.readings.len()),
    }
}

#[test]
fn a_file_that_is_not_a_scan_is_refused_by_name() {
    expect_source_error(b"name;surname\nIvanov;Ivan\n", |e| matches!(e, SourceError::UnknownFormat), "CSV");
    expect_source_error(b"", |e| matches!(e, SourceError::Empty | SourceError::UnknownFormat), "empty");
}

#[test]
fn a_corrupt_pdf_is_refused_as_damaged() {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    expect_source_error(&bytes, |e| matches!(e, SourceError::Damaged { .. } | SourceError::Pdf(_)), "corrupt PDF");
}

#[test]
fn a_truncated_pdf_is_refused_or_read_as_far_as_it_goes() {
    let whole = jpeg_pdf(3);
    let cut = &whole[..whole.len() * 2 / 3];
    match process(cut, &ScanOptions::default()) {
        Err(ScanError::Source(e)) => assert!(!e.to_string().is_empty()),
        Err(e) => panic!("unexpected error {e}"),
        // PDFium may repair a cut file: then every page it finds gets a decision, none attached.
        Ok(p) => {
            assert_eq!(p.decisions.len(), p.readings.len());
            assert!(p.decisions.iter().all(|(_, d)| !matches!(d, Decision::Attached { .. })));
        }
    }
}

#[test]
fn an_encrypted_pdf_is_refused_as_password_protected() {
    let mut doc = Document::load_mem(&jpeg_pdf(1)).unwrap();
    // Standard security handler, RC4 40-bit, with an owner/user key no empty password opens.
    let encrypt = doc.add_object(dictionary! {
        "Filter" => "Standard", "V" => 1, "R" => 2, "P" => -4,
        "O" => Object::string_literal(vec![0x5au8; 32]),
        "U" => Object::string_literal(vec![0xa5u8; 32]),
    });
    doc.trailer.set("Encrypt", encrypt);
    doc.trailer.set("ID", vec![Object::string_literal(vec![1u8; 16]), Object::string_literal(vec![1u8; 16])]);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    expect_source_error(&bytes, |e| matches!(e, SourceError::Encrypted), "encrypted PDF");
}

#[test]
fn a_pdf_with_no_pages_is_refused() {
    let mut doc = Document::with_version("1.4");
    let pages = doc.add_object(dictionary! { "Type" => "Pages", "Kids" => Vec::<Object>::new(), "Count" => 0 });
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    expect_source_error(&bytes, |e| matches!(e, SourceError::NoPages), "zero pages");
}

#[test]
fn an_image_bomb_page_becomes_a_review_item_and_the_other_pages_go_on() {
    // Page 2 declares 60000 × 60000 pixels (3.6 gigapixels) in a few bytes of JPEG header.
    let mut doc = Document::load_mem(&jpeg_pdf(3)).unwrap();
    let page_ids: Vec<_> = doc.get_pages().values().copied().collect();
    let bomb = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Image", "Width" => 60000, "Height" => 60000,
            "ColorSpace" => "DeviceRGB", "BitsPerComponent" => 8, "Filter" => "DCTDecode",
        },
        bomb_jpeg_header(60000, 60000),
    ));
    let page = doc.get_object_mut(page_ids[1]).unwrap().as_dict_mut().unwrap();
    page.set("Resources", dictionary! { "XObject" => dictionary! { "Im0" => bomb } });
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    let processed = process(&bytes, &ScanOptions::default()).expect("the file as a whole is readable");
    assert_eq!(processed.decisions.len(), 3);
    let review = |page: usize| match &processed.decisions[page - 1].1 {
        Decision::Review { reason, .. } => Some(*reason),
        _ => None,
    };
    assert_eq!(review(2), Some(ReviewReason::UnreadablePage), "{:?}", processed.decisions[1]);
    for page in [1, 3] {
        assert_ne!(review(page), Some(ReviewReason::UnreadablePage), "page {page} should still be read");
    }
}

#[test]
fn a_page_over_a_lower_pixel_limit_is_a_review_item_not_a_crash() {
    let mut options = ScanOptions::default();
    options.source.max_pixels = 100_000; // the 413 × 585 pages are 241 600 pixels
    let processed = process(&jpeg_pdf(2), &options).expect("the file as a whole is readable");
    for (page, d) in &processed.decisions {
        assert!(matches!(d, Decision::Review { reason: ReviewReason::UnreadablePage, .. }), "page {page}: {d:?}");
    }
}

/// A baseline JPEG header (SOI, SOF0 with the given size, EOI) and no image data.
fn bomb_jpeg_header(width: u16, height: u16) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 0x08];
    j.extend(height.to_be_bytes());
    j.extend(width.to_be_bytes());
    j.extend([0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, 0xFF, 0xD9]);
    j
}

#[test]
fn a_file_over_the_page_limit_is_refused_before_its_first_page() {
    let options = ScanOptions { max_pages: 3, ..ScanOptions::default() };
    match process(&jpeg_pdf(5), &options) {
        Err(ScanError::TooManyPages { limit: 3, stated: Some(5) }) => {}
        other => panic!("expected the page limit, got {:?}", other.map(|p| p.readings.len())),
    }
    let processed = process(&jpeg_pdf(3), &options).expect("three pages are within the limit");
    assert_eq!(processed.readings.len(), 3);
}

#[test]
fn reading_stops_at_the_deadline() {
    let options = ScanOptions { deadline: Some(std::time::Instant::now()), ..ScanOptions::default() };
    match process(&jpeg_pdf(2), &options) {
        Err(ScanError::DeadlinePassed { pages_read: 0 }) => {}
        other => panic!("expected the deadline, got {:?}", other.map(|p| p.readings.len())),
    }
}

/// A one-page PDF of the given size in points, with a filled rectangle on it (vector, rendered).
fn vector_pdf(width_pt: i64, height_pt: i64) -> Vec<u8> {
    let mut doc = Document::with_version("1.4");
    let content = doc.add_object(Stream::new(dictionary! {}, b"0 0 0 rg 100 100 400 300 re f".to_vec()));
    let page = doc.new_object_id();
    let pages = doc.add_object(dictionary! { "Type" => "Pages", "Kids" => vec![Object::Reference(page)], "Count" => 1 });
    doc.objects.insert(
        page,
        Object::Dictionary(dictionary! {
            "Type" => "Page", "Parent" => pages, "Contents" => content,
            "MediaBox" => vec![0.into(), 0.into(), width_pt.into(), height_pt.into()],
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).unwrap();
    bytes
}

#[test]
fn a_poster_sized_page_is_rendered_within_the_page_memory_cap() {
    use certscan_pipeline::pdf::{ExtractPolicy, PdfPageRaster, RENDER_MAX_PIXELS};
    // A0 (841 × 1189 mm) at 300 dpi would be 139 megapixels; the general pixel limit alone gave 60.
    let poster = vector_pdf(2384, 3370);
    match engine().extract_page(&poster[..], 0, &ExtractPolicy::default()).unwrap() {
        PdfPageRaster::Rendered { image, dpi } => {
            let pixels = image.width() as u64 * image.height() as u64;
            assert!(pixels <= RENDER_MAX_PIXELS && pixels > RENDER_MAX_PIXELS * 9 / 10, "{pixels} pixels at {dpi} dpi");
            // PDFium's RGB bitmap and its copy together, the most the page holds while it is taken out;
            // recognising it holds about 18 bytes a pixel at its peak (README "Limits").
            assert!(pixels * 18 < 256 * 1024 * 1024, "{pixels} pixels");
        }
        other => panic!("a vector page is rendered: {other:?}"),
    }
    // An A4 page keeps its 300 dpi.
    match engine().extract_page(&vector_pdf(595, 842)[..], 0, &ExtractPolicy::default()).unwrap() {
        PdfPageRaster::Rendered { dpi, .. } => assert!((dpi - 300.0).abs() < 0.5, "{dpi}"),
        other => panic!("a vector page is rendered: {other:?}"),
    }
}
