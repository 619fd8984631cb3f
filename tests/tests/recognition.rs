//! Recognition accuracy over simulated scans from fixed seeds: generate → simulate → process, every
//! decision compared with the simulator's truth. A wrong attachment (someone else's certificate in a
//! person's account) fails every level; `clean` and `typical` must attach every certificate; `hard`
//! at least 98 % with the rest in review; blank, duplicate and other-exam pages are classified right.

use certscan_fixtures::{simulate, Level, PageKind, ScanFormat, SimulateOptions, Truth};
use certscan_pipeline::matching::{Decision, ReviewReason};
use certscan_pipeline::process::{process_scan, Processed};
use certscan_pipeline::{ScanOptions, TesseractOcr};
use certscan_templates::{reference, render_certificates, PrintOffset};

use crate::support::{engine, sample};

struct Outcome {
    certificates: usize,
    attached_right: usize,
    wrong: Vec<String>,
    misclassified: Vec<String>,
}

fn run(level: Level, seed: u64, applications: usize) -> (Truth, Processed) {
    let (roster, certificates) = sample(seed, applications);
    let template = reference();
    let pdf = render_certificates(&template, &certificates, PrintOffset::default()).unwrap();
    let options = SimulateOptions { level, seed, format: ScanFormat::Pdf };
    let scan = simulate(engine(), &template, &roster, &pdf, &options).unwrap();
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
    let records = certscan_domain::import_fis(&roster, "fis.csv", &fis).unwrap().records;
    let ocr = TesseractOcr::new(None, "eng").expect("tesseract-ocr-eng is installed by scripts/setup.sh");
    let processed = process_scan(&scan.bytes, Some(engine()), &template, &ocr, &ScanOptions::default(), &roster, &records, |_| {}).unwrap();
    (scan.truth, processed)
}

fn judge(truth: &Truth, processed: &Processed) -> Outcome {
    let mut o = Outcome { certificates: 0, attached_right: 0, wrong: Vec::new(), misclassified: Vec::new() };
    for (page, decision) in &processed.decisions {
        let t = truth.pages.iter().find(|t| t.page == *page).expect("truth for every page");
        let same = |app: &str, blank: &str| t.application_id.as_deref() == Some(app) && t.blank_number.as_deref() == Some(blank);
        if t.kind == PageKind::Certificate {
            o.certificates += 1;
        }
        match (decision, t.kind) {
            (Decision::Attached { application_id, blank_number, .. }, PageKind::Certificate) if same(application_id, blank_number) => {
                o.attached_right += 1
            }
            (Decision::Attached { application_id, blank_number, .. }, _) => {
                o.wrong.push(format!("page {page} ({:?}) attached to {application_id} on blank {blank_number}", t.kind))
            }
            (Decision::Duplicate { application_id, blank_number, .. }, kind)
                if !same(application_id, blank_number) || kind == PageKind::OtherExam || kind == PageKind::Blank =>
            {
                o.wrong.push(format!("page {page} ({kind:?}) called a duplicate of {application_id} on blank {blank_number}"))
            }
            (Decision::Ignored, PageKind::Blank) | (Decision::Duplicate { .. }, PageKind::Duplicate) => {}
            (Decision::Review { reason: ReviewReason::OtherExam, .. }, PageKind::OtherExam) => {}
            (Decision::Review { .. }, PageKind::Certificate) => {}
            (d, kind) => o.misclassified.push(format!("page {page} ({kind:?}): {d:?}")),
        }
    }
    o
}

fn check(level: Level, seed: u64, applications: usize, min_attached: f64) -> Processed {
    let (truth, processed) = run(level, seed, applications);
    let o = judge(&truth, &processed);
    assert!(o.wrong.is_empty(), "{level:?} seed {seed}: WRONG attachments: {:#?}", o.wrong);
    assert!(o.misclassified.is_empty(), "{level:?} seed {seed}: misclassified: {:#?}", o.misclassified);
    let rate = o.attached_right as f64 / o.certificates as f64;
    let reviews: Vec<String> = processed
        .decisions
        .iter()
        .filter_map(|(p, d)| match d {
            Decision::Review { reason, detail, .. } => Some(format!("page {p}: {} ({detail})", reason.code())),
            _ => None,
        })
        .collect();
    assert!(
        rate >= min_attached,
        "{level:?} seed {seed}: attached {}/{} certificates ({:.1} %), need {:.0} %; review: {reviews:#?}",
        o.attached_right,
        o.certificates,
        rate * 100.0,
        min_attached * 100.0
    );
    processed
}

#[test]
fn a_clean_scan_attaches_every_certificate_to_the_right_application() {
    check(Level::Clean, 101, 12, 1.0);
}

#[test]
fn a_typical_scan_attaches_every_certificate_to_the_right_application() {
    check(Level::Typical, 202, 16, 1.0);
}

#[test]
fn typical_scans_of_other_stacks_attach_every_certificate_too() {
    // Stacks differ in what the print run looks like (frame, the number's ink, size and place) and
    // pages in how they were scanned. In these five the reader used to miss 10 of the 36 certificates
    // (blank_number_unreadable although the code was read), mostly where the scan broke a guilloche
    // frame into small bits whose side inked every row of the number's zone.
    for seed in [2026, 5, 11, 17, 23] {
        check(Level::Typical, seed, 8, 1.0);
    }
}

#[test]
fn hard_scans_attach_nothing_wrongly_and_almost_everything_rightly() {
    // The product target for `hard` is 98 %, over certificates, not per stack: one stack of 50 holds
    // too few for a share to mean much. Four stacks the code was not tuned on (seeds chosen for this
    // test, never looked at while changing the reader), together about 110 certificates; none may be
    // attached wrongly, every page must be classified right, and at least 98 % attached.
    let (mut certificates, mut right, mut from_stack) = (0, 0, 0);
    let mut reviews = Vec::new();
    for seed in [7311, 7312, 7313, 7314] {
        let (truth, processed) = run(Level::Hard, seed, 35);
        let o = judge(&truth, &processed);
        assert!(o.wrong.is_empty(), "hard seed {seed}: WRONG attachments: {:#?}", o.wrong);
        assert!(o.misclassified.is_empty(), "hard seed {seed}: misclassified: {:#?}", o.misclassified);
        certificates += o.certificates;
        right += o.attached_right;
        from_stack += processed.readings.iter().filter(|r| r.blank_number.as_ref().is_some_and(|b| b.from_stack)).count();
        reviews.extend(processed.decisions.iter().filter_map(|(p, d)| match d {
            Decision::Review { reason, detail, .. } => Some(format!("seed {seed} page {p}: {} ({detail})", reason.code())),
            _ => None,
        }));
    }
    let rate = right as f64 / certificates as f64;
    assert!(rate >= 0.98, "hard: attached {right}/{certificates} certificates ({:.1} %), need 98 %; review: {reviews:#?}", rate * 100.0);
    eprintln!("hard: {right}/{certificates} attached right, {from_stack} numbers settled by the stack check");
}

/// The real reproducers in `shared/regressions/` (scans from another simulator, with another typeface):
/// every page attached must be attached right. Each folder has the scan, the roster, the FIS FRDO file and
/// the truth (see its README). CI runs beside a copy of `shared/`; elsewhere the folder may be absent.
#[test]
fn the_regression_scans_attach_nothing_wrongly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/regressions");
    let Ok(entries) = std::fs::read_dir(&root) else {
        assert!(std::env::var_os("CI").is_none(), "CI runs beside shared/, but {} is missing", root.display());
        eprintln!("skipped: no {}", root.display());
        return;
    };
    let mut folders: Vec<std::path::PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("scan.pdf").exists()).collect();
    folders.sort();
    assert!(!folders.is_empty(), "no regression folders in {}", root.display());
    let template = reference();
    let ocr = TesseractOcr::new(None, "eng").expect("tesseract-ocr-eng is installed by scripts/setup.sh");
    for folder in folders {
        let read = |name: &str| std::fs::read(folder.join(name)).unwrap_or_else(|e| panic!("{}/{name}: {e}", folder.display()));
        let roster = certscan_domain::Roster::from_json("exam.json", &read("exam.json")).unwrap();
        let records = certscan_domain::import_fis(&roster, "fis-frdo.csv", &read("fis-frdo.csv")).unwrap().records;
        let truth: serde_json::Value = serde_json::from_slice(&read("truth.json")).unwrap();
        let scan = read("scan.pdf");
        let processed = process_scan(&scan, Some(engine()), &template, &ocr, &ScanOptions::default(), &roster, &records, |_| {}).unwrap();
        let mut wrong = Vec::new();
        for (page, decision) in &processed.decisions {
            let t =
                truth["pages"].as_array().unwrap().iter().find(|t| t["page"].as_u64() == Some(*page as u64)).expect("truth for every page");
            if let Decision::Attached { application_id, blank_number, .. } | Decision::Duplicate { application_id, blank_number, .. } =
                decision
            {
                if t["application_id"].as_str() != Some(application_id) || t["blank_number"].as_str() != Some(blank_number) {
                    wrong.push(format!("page {page}: {application_id} on {blank_number}, truly {t}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{}: WRONG attachments: {wrong:#?}", folder.display());
    }
}
