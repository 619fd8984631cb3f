//! certscan against the pipeline a user would assemble instead (`../shared/tools/paperless_baseline.py`:
//! pypdfium2 at 300 dpi, zxing-cpp, Tesseract on the number zone, 2 processes), on the same generated
//! 100-application `typical` scan, run alternately in one sitting: only the ratio is stable on a shared
//! machine. Not criterion: each run is a whole process over a whole file, as a user runs it.
//!
//! Set up the baseline once: `python3 -m venv /tmp/base-venv && /tmp/base-venv/bin/pip install pypdfium2
//! zxing-cpp pytesseract pillow`. Then `cargo build --release -p certscan && OMP_THREAD_LIMIT=1 cargo bench
//! -p certscan-benches --bench versus`.
//! Environment: CERTSCAN_BENCH_ROUNDS (default 3), CERTSCAN_BENCH_APPLICATIONS (default 100),
//! CERTSCAN_BASELINE_PYTHON (default /tmp/base-venv/bin/python), CERTSCAN_BASELINE_SCRIPT (default
//! ../shared/tools/paperless_baseline.py beside the repository).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use certscan_fixtures::Level;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Wall seconds of one run of `command`, which must succeed.
fn timed(command: &mut Command) -> f64 {
    let started = Instant::now();
    let output = command.output().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    seconds
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; a filter that excludes this bench skips it.
    if std::env::args().skip(1).any(|a| !a.starts_with('-') && !"versus".contains(a.as_str())) {
        return;
    }
    let binary = root().join("target/release/certscan");
    assert!(binary.is_file(), "build certscan first: cargo build --release -p certscan ({} missing)", binary.display());
    let python = env_or("CERTSCAN_BASELINE_PYTHON", "/tmp/base-venv/bin/python");
    let script = std::env::var_os("CERTSCAN_BASELINE_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/tools/paperless_baseline.py"));
    assert!(script.is_file(), "the baseline script is not at {} (set CERTSCAN_BASELINE_SCRIPT)", script.display());
    let rounds: usize = env_or("CERTSCAN_BENCH_ROUNDS", "3").parse().expect("CERTSCAN_BENCH_ROUNDS is a number");

    let dir = root().join("target/bench-versus");
    std::fs::create_dir_all(&dir).unwrap();
    let sample = certscan_benches::sample_scan(7, 100, Level::Typical);
    let pages = sample.scan.truth.pages.len();
    let fis = certscan_fixtures::exam::sample_fis_csv(&sample.roster, 7);
    std::fs::write(dir.join("scan.pdf"), &sample.scan.bytes).unwrap();
    std::fs::write(dir.join("exam.json"), serde_json::to_vec(&sample.roster).unwrap()).unwrap();
    std::fs::write(dir.join("fis-frdo.csv"), fis).unwrap();
    println!("versus: {pages} pages, {:.1} MB, {rounds} rounds each, alternating", sample.scan.bytes.len() as f64 / 1e6);

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let out = dir.join("processed");
        let _ = std::fs::remove_dir_all(&out);
        let certscan = timed(
            Command::new(&binary)
                .current_dir(root())
                .env("OMP_THREAD_LIMIT", "1")
                .arg("process")
                .arg(dir.join("scan.pdf"))
                .arg("--exam")
                .arg(dir.join("exam.json"))
                .arg("--fis")
                .arg(dir.join("fis-frdo.csv"))
                .arg("--out")
                .arg(&out),
        );
        let baseline = timed(
            Command::new(&python)
                .env("OMP_THREAD_LIMIT", "1")
                .arg(&script)
                .arg(dir.join("scan.pdf"))
                .arg(dir.join("baseline.json"))
                .args(["--jobs", "2"]),
        );
        println!(
            "round {}: certscan {certscan:.2} s ({:.1} pages/s), baseline {baseline:.2} s ({:.1} pages/s), ratio {:.2}",
            round + 1,
            pages as f64 / certscan,
            pages as f64 / baseline,
            baseline / certscan
        );
        ours.push(certscan);
        theirs.push(baseline);
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "versus/typical_{pages}_pages: certscan {ours:.2} s = {:.1} pages/s; baseline {theirs:.2} s = {:.1} pages/s; certscan is {:.2}x the baseline (medians)",
        pages as f64 / ours,
        pages as f64 / theirs,
        theirs / ours
    );
}
