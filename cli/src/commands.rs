//! The commands behind the `certscan` subcommands: thin glue from arguments and settings to the crates.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;

use certscan_calibration::{render_sheet, PrinterProfile};
use certscan_domain::{import_fis, Roster};
use certscan_fixtures::{Level, ScanFormat, SimulateOptions};
use certscan_pipeline::PdfEngine;
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
pub struct DemoArgs {
    /// Folder for the demo's files.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    #[arg(long, default_value_t = 20)]
    applications: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    #[arg(long, default_value = "typical")]
    level: Level,
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
    match &settings.template {
        None => Ok(certscan_templates::reference()),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read template {}", path.display()))?;
            Ok(Template::from_toml(&path.display().to_string(), &text)?)
        }
    }
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
        println!(
            "printer {}: dx {:+.2} mm, dy {:+.2} mm, scale {:.4} stored in {}",
            p.printer, p.dx_mm, p.dy_mm, p.scale, path.display()
        );
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
    println!("Print certificates.pdf on blanks (see `certscan calibrate`); recognition of scan.pdf comes with `certscan process`.");
    Ok(())
}
