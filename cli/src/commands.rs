//! The commands behind the `certscan` subcommands: thin glue from arguments and settings to the crates.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use certscan_calibration::{render_sheet, PrinterProfile};
use certscan_domain::FisRecord;
use certscan_domain::{import_fis, Roster};
use certscan_fixtures::{Level, ScanFormat, SimulateOptions};
use certscan_pipeline::matching::Decision;
use certscan_pipeline::process::process_scan as process_scan_core;
use certscan_pipeline::report::{PageReport, Report, Summary};
use certscan_pipeline::{PageSource, PdfEngine, ScanFile, ScanInput, ScanOptions, TesseractOcr};
use certscan_templates::{render_certificates, Template};
use certscan_workers::settings::{LogFormat, Settings};

pub fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CERTSCAN_LOG").unwrap_or_else(|_| "warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The exam roster JSON.
    #[arg(long)]
    exam: PathBuf,
    /// The FIS FRDO registration-number file (CSV in UTF-8 or Windows-1251, or XLSX).
    #[arg(long)]
    fis: PathBuf,
    /// Where to write the certificates PDF.
    #[arg(long)]
    out: PathBuf,
    /// Apply this printer's stored calibration (see `certscan calibrate`).
    #[arg(long, default_value = certscan_calibration::DEFAULT_PRINTER)]
    printer: String,
}

#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// The printer's name (letters, digits, '-', '_').
    #[arg(long)]
    printer: String,
    /// Where to write the calibration sheet PDF. Default: calibration-<PRINTER>.pdf, written when no
    /// offsets are given.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Store this horizontal correction, mm (negative moves left).
    #[arg(long, allow_hyphen_values = true)]
    dx: Option<f32>,
    /// Store this vertical correction, mm (negative moves up).
    #[arg(long, allow_hyphen_values = true)]
    dy: Option<f32>,
    /// Store this uniform scale (0.9–1.1), for printers that shrink to fit.
    #[arg(long)]
    scale: Option<f32>,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    #[arg(long)]
    exam: PathBuf,
    /// The certificates PDF from `certscan generate`.
    #[arg(long)]
    certificates: PathBuf,
    #[arg(long, default_value = "typical")]
    level: Level,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The scan file to write (PDF, or TIFF with --format tiff).
    #[arg(long)]
    out: PathBuf,
    /// Where to write the truth JSON: what every page is.
    #[arg(long)]
    truth: PathBuf,
    #[arg(long, default_value = "pdf")]
    format: ScanFormat,
}

#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// The scan file: PDF, multi-page TIFF, JPEG or PNG.
    scan: PathBuf,
    /// The exam roster JSON.
    #[arg(long)]
    exam: PathBuf,
    /// Output folder: report.json, attachments/, review/.
    #[arg(long)]
    out: PathBuf,
    /// The FIS FRDO file. Default: the import `certscan generate` stored for this exam.
    #[arg(long)]
    fis: Option<PathBuf>,
    /// The blank ledger for this run: CSV with a header row naming series, first and last, one pack per
    /// line. A page whose blank number is in none of them goes to review `blank_not_in_ledger`.
    #[arg(long)]
    blanks: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo's files.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    #[arg(long, default_value_t = 20)]
    applications: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value = "typical")]
    level: Level,
    /// Go through the embedded service (`certscan serve` with no configuration, on a loopback port) over
    /// HTTP, as the portal and staff would: roster, FIS FRDO import, generation, upload, job, status.
    #[arg(long)]
    service: bool,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes through a temporary file and a rename, so a failed run never leaves half a file behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = path.file_name().context("output path has no file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn load_template(settings: &Settings) -> Result<Template> {
    certscan_workers::job::load_template(settings).map_err(anyhow::Error::msg)
}

fn load_roster(path: &Path) -> Result<Roster> {
    Ok(Roster::from_json(&path.display().to_string(), &read(path)?)?)
}

fn engine(settings: &Settings) -> Result<&'static PdfEngine> {
    Ok(PdfEngine::bind(&settings.pdfium_library()?)?)
}

/// Import + render; returns the PDF and how many certificates it holds.
fn build_certificates(settings: &Settings, roster: &Roster, fis_name: &str, fis: &[u8], printer: &str) -> Result<(Vec<u8>, usize)> {
    roster.check_ready_for_generation()?;
    let template = load_template(settings)?;
    let profile = PrinterProfile::load(&settings.calibration_dir(), printer)?;
    // The error lists every bad row; nothing is imported when any row is bad.
    let import = import_fis(roster, fis_name, fis)?;
    let certificates = import.certificates(roster);
    let pdf = render_certificates(&template, &certificates, profile.offset())?;
    // Remembered so that `process` checks scans against the numbers that were printed.
    certscan_workers::local::save_fis_import(&settings.data_dir, &roster.exam_id, &import)?;
    Ok((pdf, certificates.len()))
}

pub fn generate(settings: &Settings, args: &GenerateArgs) -> Result<()> {
    let roster = load_roster(&args.exam)?;
    let fis = read(&args.fis)?;
    let (pdf, count) = build_certificates(settings, &roster, &args.fis.display().to_string(), &fis, &args.printer)?;
    write_atomically(&args.out, &pdf)?;
    println!("{count} certificate(s) for exam {} → {} (printer {})", roster.exam_id, args.out.display(), args.printer);
    Ok(())
}

pub fn calibrate(settings: &Settings, args: &CalibrateArgs) -> Result<()> {
    let folder = settings.calibration_dir();
    let current = PrinterProfile::load(&folder, &args.printer).or_else(|e| match e {
        certscan_calibration::CalibrationError::Unknown { .. } => PrinterProfile::new(&args.printer, 0.0, 0.0, 1.0),
        other => Err(other),
    })?;
    let changing = args.dx.is_some() || args.dy.is_some() || args.scale.is_some();
    let profile = if changing {
        let p = PrinterProfile::new(
            &args.printer,
            args.dx.unwrap_or(current.dx_mm),
            args.dy.unwrap_or(current.dy_mm),
            args.scale.unwrap_or(current.scale),
        )?;
        let path = p.store(&folder)?;
        println!("printer {}: dx {:+.2} mm, dy {:+.2} mm, scale {:.4} stored in {}", p.printer, p.dx_mm, p.dy_mm, p.scale, path.display());
        p
    } else {
        current
    };
    if args.out.is_some() || !changing {
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("calibration-{}.pdf", args.printer)));
        let sheet = render_sheet(&load_template(settings)?, &profile.printer, profile.offset());
        write_atomically(&out, &sheet)?;
        println!("calibration sheet for printer {} → {}", profile.printer, out.display());
    }
    Ok(())
}

pub fn simulate(settings: &Settings, args: &SimulateArgs) -> Result<()> {
    let roster = load_roster(&args.exam)?;
    let certificates = read(&args.certificates)?;
    let started = Instant::now();
    let options = SimulateOptions { level: args.level, seed: args.seed, format: args.format };
    let scan = certscan_fixtures::simulate(engine(settings)?, &load_template(settings)?, &roster, &certificates, &options)
        .with_context(|| format!("simulating a scan of {}", args.certificates.display()))?;
    write_atomically(&args.out, &scan.bytes)?;
    write_atomically(&args.truth, scan.truth.to_json_pretty().as_bytes())?;
    println!(
        "{} page(s) at level {:?}, seed {} → {} ({:.1} MB), truth → {} in {:.1} s",
        scan.truth.pages.len(),
        args.level,
        args.seed,
        args.out.display(),
        scan.bytes.len() as f64 / 1e6,
        args.truth.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn process(settings: &Settings, args: &ProcessArgs) -> Result<()> {
    let roster = load_roster(&args.exam)?;
    let records = match &args.fis {
        Some(path) => import_fis(&roster, &path.display().to_string(), &read(path)?)?.records,
        None => {
            certscan_workers::local::load_fis_import(&settings.data_dir, &roster.exam_id)?
                .with_context(|| {
                    format!(
                        "no FIS FRDO numbers are known for exam {}: pass --fis FILE, or run `certscan generate` for it first",
                        roster.exam_id
                    )
                })?
                .records
        }
    };
    let ledger = match &args.blanks {
        Some(path) => {
            let packs = certscan_domain::ledger::packs_from_csv(&path.display().to_string(), &read(path)?)?;
            Some(certscan_domain::ledger::Ledger { packs, ..Default::default() })
        }
        None => None,
    };
    // A PDF stays on disk (PDFium reads the pages as it goes); other formats are read into memory.
    let scan = ScanFile::open(&args.scan).with_context(|| format!("cannot read {}", args.scan.display()))?;
    let report = process_scan(settings, &roster, &records, ledger.as_ref(), &args.scan.display().to_string(), scan.input(), &args.out)?;
    print_summary(&report, &args.out);
    Ok(())
}

/// Recognises a scan, decides every page, writes the per-page PDFs and `report.json` into `out`.
fn process_scan(
    settings: &Settings,
    roster: &Roster,
    records: &[FisRecord],
    ledger: Option<&certscan_domain::ledger::Ledger>,
    scan_name: &str,
    scan: ScanInput<'_>,
    out: &Path,
) -> Result<Report> {
    let started = Instant::now();
    scan.format().with_context(|| format!("{scan_name}: not a scan file (expected PDF, TIFF, JPEG or PNG)"))?;
    let engine = engine(settings)?;
    let template = load_template(settings)?;
    let ocr = TesseractOcr::new(None, "eng").context("starting Tesseract (is tesseract-ocr-eng installed?)")?;
    let options = ScanOptions { max_pages: settings.max_pages, ..ScanOptions::default() };
    let total =
        PageSource::open(scan, Some(engine), options.source).with_context(|| format!("{scan_name}: cannot read the scan"))?.page_count();
    let progress = match total {
        Some(n) => indicatif::ProgressBar::new(n as u64),
        None => indicatif::ProgressBar::new_spinner(),
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} pages [{bar:30}] {per_sec} {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // A PDF's pages are copied out as their readings come in (PDFium's copy runs on this thread, which
    // otherwise waits for the pool; after the reading it ran with one core idle).
    let mut staged = match scan.format() {
        Some(certscan_pipeline::ScanFormat::Pdf) => Some(StagedPages::new(out)?),
        _ => None,
    };
    let mut processed = process_scan_core(scan, Some(engine), &template, &ocr, &options, roster, records, |reading| {
        progress.inc(1);
        if let Some(staged) = staged.as_mut() {
            staged.add(engine, scan, &options, reading.page, certscan_pipeline::process::upright(reading));
        }
    })
    .with_context(|| format!("{scan_name}: cannot read the scan"))?;
    certscan_pipeline::ledger::judge(&mut processed.decisions, ledger);
    progress.finish_and_clear();

    // Which pages get a file of their own, and under which name.
    let mut exports: Vec<(usize, String)> = Vec::new();
    for (page, decision) in &processed.decisions {
        let register = processed.reading(*page).is_some_and(|r| r.register.is_some());
        let name = match decision {
            // A register page routes itself (the report's outcome `register`), whatever matching made of it.
            _ if register => format!("register/page-{page:04}.pdf"),
            Decision::Attached { application_id, .. } => format!("attachments/{application_id}.pdf"),
            Decision::Review { .. } => format!("review/page-{page:04}.pdf"),
            Decision::Ignored | Decision::Duplicate { .. } => continue,
        };
        exports.push((*page, name));
    }
    std::fs::create_dir_all(out.join("attachments")).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::create_dir_all(out.join("review")).with_context(|| format!("cannot create {}", out.display()))?;
    if exports.iter().any(|(_, name)| name.starts_with("register/")) {
        std::fs::create_dir_all(out.join("register")).with_context(|| format!("cannot create {}", out.display()))?;
    }
    // Each file is written as soon as it is copied out: memory does not grow with the page count.
    let written = match staged {
        Some(staged) => {
            staged.finish(engine, scan, &options, &exports, out).with_context(|| format!("{scan_name}: cannot copy pages out"))?
        }
        None => {
            let pages: Vec<(usize, u32)> = exports.iter().map(|(p, _)| (*p, processed.upright(*p))).collect();
            let mut written = std::collections::BTreeSet::new();
            certscan_pipeline::export::for_each_page_file(scan, engine, &options, &pages, |page, bytes| -> Result<()> {
                let (_, name) = exports.iter().find(|(p, _)| *p == page).expect("only listed pages are copied");
                write_atomically(&out.join(name), &bytes)?;
                written.insert(page);
                Ok(())
            })
            .with_context(|| format!("{scan_name}: cannot copy pages out"))?;
            written
        }
    };
    // A page that cannot be decoded has no file of its own; its review item says why.
    exports.retain(|(p, _)| written.contains(p));

    let pages: Vec<PageReport> = processed
        .decisions
        .iter()
        .map(|(page, decision)| {
            let reading = processed.reading(*page).expect("every decision has its reading");
            let file = exports.iter().find(|(p, _)| p == page).map(|(_, name)| name.clone());
            PageReport::new(reading, decision, file)
        })
        .collect();
    let summary = Summary::of(&pages, started.elapsed().as_secs_f64());
    let report = Report { exam_id: roster.exam_id.clone(), pages, summary };
    write_atomically(&out.join("report.json"), serde_json::to_string_pretty(&report)?.as_bytes())?;
    Ok(report)
}

/// The page files of a PDF scan, copied out of it while the rest of the file is still being read, into a
/// hidden folder of the output folder; once every page is decided, each page that gets a file is renamed
/// into place ([`StagedPages::finish`]). The folder goes with whatever is left in it (the pages that get
/// no file, or all of them when processing fails) when this is dropped.
struct StagedPages {
    dir: PathBuf,
    /// The output folder, when this made it (a run that fails leaves no empty one behind).
    made_out: Option<PathBuf>,
    /// Pages (1-based) and their upright rotation, waiting to be copied in one PDFium call.
    pending: Vec<(usize, u32)>,
    staged: std::collections::BTreeSet<usize>,
    /// The first copy that failed; the rest are not tried.
    error: Option<anyhow::Error>,
}

impl StagedPages {
    /// Pages copied out per PDFium call: each call opens the document once; few pages a call keep the
    /// pool supplied with pages to read meanwhile.
    const CHUNK: usize = 8;

    fn new(out: &Path) -> Result<StagedPages> {
        let made_out = (!out.exists()).then(|| out.to_path_buf());
        let dir = out.join(".pages-being-copied");
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(StagedPages { dir, made_out, pending: Vec::new(), staged: Default::default(), error: None })
    }

    fn file(dir: &Path, page: usize) -> PathBuf {
        dir.join(format!("page-{page:04}.pdf"))
    }

    fn add(&mut self, engine: &PdfEngine, scan: ScanInput<'_>, options: &ScanOptions, page: usize, upright: u32) {
        self.pending.push((page, upright));
        if self.pending.len() >= Self::CHUNK {
            self.copy_pending(engine, scan, options);
        }
    }

    fn copy_pending(&mut self, engine: &PdfEngine, scan: ScanInput<'_>, options: &ScanOptions) {
        let chunk = std::mem::take(&mut self.pending);
        if self.error.is_some() || chunk.is_empty() {
            return;
        }
        let (dir, staged) = (&self.dir, &mut self.staged);
        let copied = certscan_pipeline::export::for_each_page_file(scan, engine, options, &chunk, |page, bytes| -> Result<()> {
            write_atomically(&Self::file(dir, page), &bytes)?;
            staged.insert(page);
            Ok(())
        });
        if let Err(e) = copied {
            self.error = Some(e);
        }
    }

    /// Copies what is left, then moves each of `exports` (page, file name under `out`) into place.
    /// Returns the pages that got their file.
    fn finish(
        mut self,
        engine: &PdfEngine,
        scan: ScanInput<'_>,
        options: &ScanOptions,
        exports: &[(usize, String)],
        out: &Path,
    ) -> Result<std::collections::BTreeSet<usize>> {
        self.copy_pending(engine, scan, options);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut written = std::collections::BTreeSet::new();
        for (page, name) in exports.iter().filter(|(page, _)| self.staged.contains(page)) {
            let target = out.join(name);
            std::fs::rename(Self::file(&self.dir, *page), &target).with_context(|| format!("cannot write {}", target.display()))?;
            written.insert(*page);
        }
        Ok(written)
    }
}

impl Drop for StagedPages {
    fn drop(&mut self) {
        // Best effort: what is left is copies of scan pages, never a result.
        let _ = std::fs::remove_dir_all(&self.dir);
        // Only an empty folder goes (a run that failed before writing anything); one with results stays.
        if let Some(out) = &self.made_out {
            let _ = std::fs::remove_dir(out);
        }
    }
}

fn print_summary(report: &Report, out: &Path) {
    let s = &report.summary;
    println!(
        "exam {}: {} page(s) in {:.1} s — attached {}, review {}, ignored {}, duplicate {}, register {}",
        report.exam_id, s.pages, s.seconds, s.attached, s.review, s.ignored, s.duplicate, s.register
    );
    if s.review > 0 {
        println!("{:>5}  {:<24} detail", "page", "review reason");
        for p in report.pages.iter().filter(|p| p.outcome == "review") {
            println!("{:>5}  {:<24} {}", p.page, p.reason.as_deref().unwrap_or(""), p.detail.as_deref().unwrap_or(""));
        }
    }
    println!("report → {}", out.join("report.json").display());
}

pub fn demo(settings: &Settings, args: &DemoArgs) -> Result<()> {
    let dir = &args.out;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let roster = certscan_fixtures::exam::sample_roster(args.seed, args.applications);
    let exam_path = dir.join("exam.json");
    write_atomically(&exam_path, serde_json::to_string_pretty(&roster)?.as_bytes())?;
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, args.seed);
    let fis_path = dir.join("fis-frdo.csv");
    write_atomically(&fis_path, &fis)?;
    println!("sample exam {} with {} application(s), {} passed", roster.exam_id, roster.applications.len(), roster.passed().count());
    println!("  roster          {}", exam_path.display());
    println!("  FIS FRDO file   {} (Windows-1251, ';')", fis_path.display());
    if args.service {
        return crate::service::demo(settings, dir, &roster, &fis, args.level, args.seed);
    }

    let started = Instant::now();
    let (pdf, count) = build_certificates(settings, &roster, &fis_path.display().to_string(), &fis, certscan_calibration::DEFAULT_PRINTER)?;
    let certs_path = dir.join("certificates.pdf");
    write_atomically(&certs_path, &pdf)?;
    println!("  certificates    {} ({count} page(s), {:.2} s)", certs_path.display(), started.elapsed().as_secs_f64());

    let started = Instant::now();
    let options = SimulateOptions { level: args.level, seed: args.seed, format: ScanFormat::Pdf };
    let scan = certscan_fixtures::simulate(engine(settings)?, &load_template(settings)?, &roster, &pdf, &options)?;
    let scan_path = dir.join("scan.pdf");
    let truth_path = dir.join("scan-truth.json");
    write_atomically(&scan_path, &scan.bytes)?;
    write_atomically(&truth_path, scan.truth.to_json_pretty().as_bytes())?;
    println!(
        "  simulated scan  {} ({} page(s), level {:?}, {:.2} s)",
        scan_path.display(),
        scan.truth.pages.len(),
        args.level,
        started.elapsed().as_secs_f64()
    );
    println!("  scan truth      {}", truth_path.display());

    let records = import_fis(&roster, "fis-frdo.csv", &fis)?.records;
    let processed = dir.join("processed");
    let report =
        process_scan(settings, &roster, &records, None, &scan_path.display().to_string(), ScanInput::Bytes(&scan.bytes), &processed)?;
    println!();
    println!("{:<10} {:<36} {:<16} {:<11} {:>4}  status", "application", "candidate", "registration", "blank", "page");
    for app in roster.passed() {
        let page = report.pages.iter().find(|p| p.outcome == "attached" && p.application_id.as_deref() == Some(&app.application_id));
        let reg = records.iter().find(|r| r.application_id == app.application_id).map_or("", |r| r.registration_number.as_str());
        match page {
            Some(p) => println!(
                "{:<10} {:<36} {:<16} {:<11} {:>4}  attached",
                app.application_id,
                app.full_name(),
                reg,
                p.blank_number.as_deref().unwrap_or(""),
                p.page
            ),
            None => println!("{:<10} {:<36} {:<16} {:<11} {:>4}  waiting (see review)", app.application_id, app.full_name(), reg, "", "-"),
        }
    }
    println!();
    print_summary(&report, &processed);
    let truth_errors = check_against_truth(&report, &scan.truth);
    if truth_errors.is_empty() {
        println!("checked against the simulator's truth: no page attached wrongly");
    } else {
        for e in &truth_errors {
            println!("TRUTH MISMATCH: {e}");
        }
        bail!("{} page(s) disagree with the simulator's truth", truth_errors.len());
    }
    Ok(())
}

/// Pages the report attached or marked duplicate differently from what the simulator printed on them.
pub fn check_against_truth(report: &Report, truth: &certscan_fixtures::Truth) -> Vec<String> {
    let mut errors = Vec::new();
    for page in &report.pages {
        let Some(t) = truth.pages.iter().find(|t| t.page == page.page) else { continue };
        if (page.outcome == "attached" || page.outcome == "duplicate")
            && (page.application_id != t.application_id || page.blank_number != t.blank_number)
        {
            errors.push(format!(
                "page {}: {} to {:?} on blank {:?}, but it is {:?} on blank {:?}",
                page.page, page.outcome, page.application_id, page.blank_number, t.application_id, t.blank_number
            ));
        }
    }
    errors
}
