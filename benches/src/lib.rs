//! Shared set-up of the criterion benches in `benches/` (the benches themselves live there).

use certscan_domain::{import_fis, FisRecord, Roster};
use certscan_fixtures::{simulate, Level, SimulateOptions, SimulatedScan};
use certscan_pipeline::PdfEngine;
use certscan_templates::{render_certificates, PrintOffset};

/// PDFium from `CERTSCAN_PDFIUM_LIBRARY`, else where `scripts/setup.sh` puts it.
pub fn engine() -> &'static PdfEngine {
    let library = std::env::var_os("CERTSCAN_PDFIUM_LIBRARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../.pdfium/libpdfium.so").into());
    PdfEngine::bind(&library).expect("PDFium is installed by scripts/setup.sh")
}

/// A sample exam's roster, its imported FIS FRDO records and the simulated scan of its certificates
/// printed on the reference blank.
#[derive(Debug)]
pub struct SampleScan {
    pub roster: Roster,
    pub records: Vec<FisRecord>,
    pub scan: SimulatedScan,
}

/// The sample exam of `seed` with `CERTSCAN_BENCH_APPLICATIONS` applications (else `applications`),
/// printed and scanned at `level`.
pub fn sample_scan(seed: u64, applications: usize, level: Level) -> SampleScan {
    let applications = std::env::var("CERTSCAN_BENCH_APPLICATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(applications);
    let template = certscan_templates::reference();
    let roster = certscan_fixtures::exam::sample_roster(seed, applications);
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
    let import = import_fis(&roster, "fis.csv", &fis).expect("the sample FIS file imports");
    let certificates = import.certificates(&roster);
    let pdf = render_certificates(&template, &certificates, PrintOffset::default()).expect("the certificates render");
    let scan = simulate(engine(), &template, &roster, &pdf, &SimulateOptions::new(level, seed)).expect("the simulation succeeds");
    SampleScan { records: import.records, roster, scan }
}
