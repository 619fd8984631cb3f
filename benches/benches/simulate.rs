//! How long the scan simulator takes for a 10-certificate stack at `typical` (PDF output): the cost every
//! recognition test and benchmark pays to get its input. Run with `cargo bench -p certscan-benches`.
//!
//! Results (2-core dev VM, shared with other builds, so upper bounds):
//! - this bench, 10 certificates (13 pages): 6.4 s median (5.3–7.6 s).
//! - 100 certificates (103 pages, `cargo test --release -p certscan-fixtures -- --ignored hundred`):
//!   PDF 39–69 s wall, 45 s of CPU (≈ 0.43 s per page), 43.7 MB (424 KB a page), peak RSS 620 MB;
//!   TIFF (LZW, lossless) 72–82 s, 584 MB. About 45 % of the CPU is the `image` crate's JPEG encoder.

use std::time::Duration;

use certscan_domain::import_fis;
use certscan_fixtures::{simulate, Level, SimulateOptions};
use certscan_templates::{render_certificates, PrintOffset};
use criterion::{criterion_group, criterion_main, Criterion};

fn simulate_typical_stack(c: &mut Criterion) {
    let engine = certscan_benches::engine();
    let template = certscan_templates::reference();

    // A sample exam cut down to its first ten passed applications, with their FIS FRDO numbers.
    let mut roster = certscan_fixtures::exam::sample_roster(3, 20);
    let passed: Vec<_> = roster.passed().take(10).cloned().collect();
    roster.applications = passed;
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, 3);
    let certificates = import_fis(&roster, "fis.csv", &fis).expect("the sample FIS file imports").certificates(&roster);
    assert_eq!(certificates.len(), 10);
    let pdf = render_certificates(&template, &certificates, PrintOffset::default()).expect("the sample certificates render");
    let options = SimulateOptions::new(Level::Typical, 1);

    let mut group = c.benchmark_group("simulate");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(60));
    group.bench_function("typical_10_certificates_pdf", |b| {
        b.iter(|| simulate(engine, &template, &roster, &pdf, &options).expect("the simulation succeeds"))
    });
    group.finish();
}

criterion_group!(benches, simulate_typical_stack);
criterion_main!(benches);
