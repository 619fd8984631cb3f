//! Whole-file recognition speed: a 100-certificate `typical` scan (about 103 pages, 200–300 dpi JPEG
//! pages in one PDF) read and decided end to end, reported as pages per second.
//! Run with `OMP_THREAD_LIMIT=1 cargo bench -p certscan-benches --bench process`.

use std::time::Duration;

use certscan_domain::import_fis;
use certscan_fixtures::{simulate, Level, SimulateOptions};
use certscan_pipeline::process::process_scan;
use certscan_pipeline::{ScanOptions, TesseractOcr};
use certscan_templates::{render_certificates, PrintOffset};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn process_typical_file(c: &mut Criterion) {
    let engine = certscan_benches::engine();
    let template = certscan_templates::reference();
    let applications: usize = std::env::var("CERTSCAN_BENCH_APPLICATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(125);

    let roster = certscan_fixtures::exam::sample_roster(9, applications);
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, 9);
    let records = import_fis(&roster, "fis.csv", &fis).expect("the sample FIS file imports").records;
    let certificates = import_fis(&roster, "fis.csv", &fis).unwrap().certificates(&roster);
    let pdf = render_certificates(&template, &certificates, PrintOffset::default()).expect("the certificates render");
    let scan = simulate(engine, &template, &roster, &pdf, &SimulateOptions::new(Level::Typical, 9)).expect("the simulation succeeds");
    let pages = scan.truth.pages.len();
    let ocr = TesseractOcr::new(None, "eng").expect("tesseract-ocr-eng is installed");
    let options = ScanOptions::default();

    let mut group = c.benchmark_group("process");
    group.throughput(Throughput::Elements(pages as u64));
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(60));
    group.bench_function(format!("typical_{pages}_pages"), |b| {
        b.iter(|| process_scan(&scan.bytes, Some(engine), &template, &ocr, &options, &roster, &records, |_| {}).expect("the scan is read"))
    });
    group.finish();
}

criterion_group!(benches, process_typical_file);
criterion_main!(benches);
