//! Whole-file recognition speed: a 100-certificate `typical` scan (about 103 pages, 200–300 dpi JPEG
//! pages in one PDF) read and decided end to end, reported as pages per second.
//! Run with `OMP_THREAD_LIMIT=1 cargo bench -p certscan-benches --bench process`.

use std::time::Duration;

use certscan_benches::SampleScan;
use certscan_fixtures::Level;
use certscan_pipeline::process::process_scan;
use certscan_pipeline::{ScanOptions, TesseractOcr};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn process_typical_file(c: &mut Criterion) {
    let engine = certscan_benches::engine();
    let template = certscan_templates::reference();
    let SampleScan { roster, records, scan } = certscan_benches::sample_scan(9, 125, Level::Typical);
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
