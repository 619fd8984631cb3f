//! Recognition cost per stage, one page at a time on one thread, over the pages of a `typical` scan
//! (JPEG pages at 200–300 dpi, stamps, pens, skew, turned sheets): decode; a full grey page (made only
//! for pages whose code zone gives no code); prepare (colour check, layout map); find the code (the
//! code zone straight from the colour page, the quick passes on the grey page, the whole escalation);
//! the pose (from the code, and from the page when there is none); the blank-number OCR; the whole
//! page. Each figure is the time for all the scan's pages; the throughput line gives pages per second.
//! Run with `OMP_THREAD_LIMIT=1 cargo bench -p certscan-benches --bench stages`.

use std::time::Duration;

use certscan_fixtures::Level;
use certscan_pipeline::ocr::{read_blank_number, search_margin_mm};
use certscan_pipeline::orient::{orientation_from_page, pose_from_code, InkMap};
use certscan_pipeline::qr::{find_code, find_code_in_zones, CodeSearchInput, CodeSearchOptions};
use certscan_pipeline::source::DecodedPage;
use certscan_pipeline::{read_decoded, PageImage, PageOptions, PageSource, SourceOptions, TesseractOcr};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use image::GrayImage;

/// One decoded page and what the stages before each stage produce for it.
struct Prepared {
    page: DecodedPage,
    gray: GrayImage,
    ink: Option<GrayImage>,
    colour: bool,
}

fn search_input<'a>(p: &'a Prepared, template: &'a certscan_templates::Template) -> CodeSearchInput<'a> {
    CodeSearchInput { gray: &p.gray, ink: p.ink.as_ref(), dpi: p.page.dpi as f64, template }
}

fn stages(c: &mut Criterion) {
    let engine = certscan_benches::engine();
    let template = certscan_templates::reference();
    let scan = certscan_benches::sample_scan(11, 24, Level::Typical).scan;
    let ocr = TesseractOcr::new(None, "eng").expect("tesseract-ocr-eng is installed");
    let page_options = PageOptions::default();

    let encoded = || {
        let mut source = PageSource::open(&scan.bytes, Some(engine), SourceOptions::default()).expect("the scan opens");
        std::iter::from_fn(move || source.next_encoded()).collect::<Vec<_>>()
    };
    let pages: Vec<Prepared> = encoded()
        .into_iter()
        .filter_map(|e| match e.decode() {
            PageImage::Decoded(page) => Some(page),
            PageImage::Unreadable { .. } => None,
        })
        // Only pages at the working resolution or below: the stage benches call the stages directly.
        .filter(|p| p.dpi <= page_options.max_working_dpi * 1.05)
        .map(|page| {
            let view = page.image.view();
            let colour = view.has_colour();
            Prepared { gray: view.luminance().into_owned(), ink: colour.then(|| view.ink_channel().into_owned()), colour, page }
        })
        .collect();
    let n = pages.len() as u64;
    let input = |p| search_input(p, &template);
    let quick = CodeSearchOptions { quick_only: true, ..CodeSearchOptions::default() };
    let codes: Vec<_> = pages.iter().map(|p| find_code(input(p), &CodeSearchOptions::default()).code).collect();
    let poses: Vec<_> = codes.iter().map(|c| c.as_ref().and_then(|c| pose_from_code(c, &template))).collect();
    eprintln!(
        "stages: {} pages at or below {} dpi, {} with a code found, {} with a pose from it",
        n,
        page_options.max_working_dpi,
        codes.iter().filter(|c| c.is_some()).count(),
        poses.iter().filter(|p| p.is_some()).count()
    );

    let mut group = c.benchmark_group("stages");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(n));

    group.bench_function("decode", |b| {
        b.iter_batched(
            encoded,
            |pages| pages.into_iter().map(|e| e.decode()).filter(|p| matches!(p, PageImage::Decoded(_))).count(),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("luminance", |b| b.iter(|| pages.iter().map(|p| p.page.image.view().luminance().width()).sum::<u32>()));
    group.bench_function("prepare", |b| {
        b.iter(|| {
            for p in &pages {
                let colour = p.page.image.view().has_colour();
                std::hint::black_box((colour, InkMap::from_page(&p.page.image, p.page.dpi as f64)));
            }
        })
    });
    group.bench_function("find_code_zone", |b| {
        b.iter(|| pages.iter().filter(|p| find_code_in_zones(&p.page.image, p.page.dpi as f64, &template, &quick).code.is_some()).count())
    });
    group.bench_function("find_code_quick", |b| b.iter(|| pages.iter().filter(|p| find_code(input(p), &quick).code.is_some()).count()));
    group.bench_function("find_code_full", |b| {
        b.iter(|| pages.iter().filter(|p| find_code(input(p), &CodeSearchOptions::default()).code.is_some()).count())
    });
    group.bench_function("pose_from_code", |b| {
        b.iter(|| codes.iter().filter(|c| c.as_ref().and_then(|c| pose_from_code(c, &template)).is_some()).count())
    });
    group.bench_function("orient_from_page", |b| {
        b.iter(|| {
            for p in &pages {
                let map = InkMap::new(&p.gray, p.page.dpi as f64);
                std::hint::black_box(orientation_from_page(&map, p.page.image.dimensions(), p.page.dpi as f64, &template));
            }
        })
    });
    let zone = &template.recognition.blank_number;
    group.bench_function("blank_number_ocr", |b| {
        b.iter(|| {
            pages
                .iter()
                .zip(&poses)
                .filter_map(|(p, pose)| pose.as_ref().map(|pose| (p, pose)))
                .filter(|(p, pose)| {
                    read_blank_number(&p.page.image, pose, zone, search_margin_mm(true), p.colour, &ocr)
                        .expect("tesseract runs")
                        .0
                        .is_some()
                })
                .count()
        })
    });
    group.bench_function("whole_page", |b| {
        b.iter(|| {
            for p in &pages {
                std::hint::black_box(read_decoded(&p.page, &template, &ocr, &page_options).expect("tesseract runs"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
