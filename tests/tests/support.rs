//! Shared helpers: the PDFium engine the setup installed, sample exams, pixel measurements.

use certscan_domain::{import_fis, Certificate, Roster};
use certscan_pipeline::PdfEngine;
use image::{GrayImage, RgbImage};

/// PDFium from `CERTSCAN_PDFIUM_LIBRARY`, else where `scripts/setup.sh` puts it.
pub fn engine() -> &'static PdfEngine {
    let path = std::env::var_os("CERTSCAN_PDFIUM_LIBRARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../.pdfium/libpdfium.so").into());
    PdfEngine::bind(&path).expect("PDFium is installed by scripts/setup.sh")
}

/// A sample exam and its imported certificates.
pub fn sample(seed: u64, applications: usize) -> (Roster, Vec<Certificate>) {
    let roster = certscan_fixtures::exam::sample_roster(seed, applications);
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
    let import = import_fis(&roster, "fis.csv", &fis).expect("the sample FIS file imports");
    let certificates = import.certificates(&roster);
    (roster, certificates)
}

pub fn gray(image: &RgbImage) -> GrayImage {
    image::DynamicImage::ImageRgb8(image.clone()).to_luma8()
}

/// Bounding box (x0, y0, x1, y1) of pixels darker than `threshold`, if any.
pub fn dark_bbox(image: &GrayImage, threshold: u8) -> Option<(u32, u32, u32, u32)> {
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in image.enumerate_pixels() {
        if p.0[0] < threshold {
            bbox = Some(match bbox {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    bbox
}
