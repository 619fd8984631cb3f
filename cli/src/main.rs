//! The `certscan` binary: argument parsing and wiring only. Every command resolves `Settings`, reads its
//! inputs, calls the library crates and writes its outputs atomically; errors name the file and reason.

mod commands;
mod service;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "certscan", version, about = "Prints exam certificates and reads their scans back")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import the FIS FRDO file and write the printable certificates PDF.
    Generate(commands::GenerateArgs),
    /// Write a printer's calibration sheet, or store its offsets.
    Calibrate(commands::CalibrateArgs),
    /// Simulate printing onto blanks and scanning the stack (for tests, benchmarks and demos).
    Simulate(commands::SimulateArgs),
    /// Recognise a scan file and attach every page it can place with certainty.
    Process(commands::ProcessArgs),
    /// Run the round trip on a generated sample exam.
    Demo(commands::DemoArgs),
    /// Run the service: the HTTP API, plus in-process workers unless RabbitMQ is configured.
    Serve(service::ServeArgs),
    /// Take scan jobs from RabbitMQ (CERTSCAN_AMQP_URL) and store results in the database.
    Worker(service::WorkerArgs),
}

/// Tesseract must run single-threaded inside (rayon already owns the cores; with its own OpenMP threads a
/// `process` run is 3-5 times slower). OpenMP reads `OMP_THREAD_LIMIT` when the library loads, before
/// `main`, so when the caller did not set it the binary starts itself again with it set.
fn single_threaded_tesseract() -> Option<ExitCode> {
    if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
        return None;
    }
    let exe = std::env::current_exe().ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // `exec` returns only when it failed; then go on as we are.
        let error = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("OMP_THREAD_LIMIT", "1").exec();
        eprintln!("warning: cannot restart with OMP_THREAD_LIMIT=1 ({error}); set it to run Tesseract single-threaded");
        None
    }
    #[cfg(not(unix))]
    {
        let status = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("OMP_THREAD_LIMIT", "1").status().ok()?;
        Some(ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8))
    }
}

fn main() -> ExitCode {
    if let Some(code) = single_threaded_tesseract() {
        return code;
    }
    let cli = Cli::parse();
    let settings = match certscan_workers::Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    commands::init_logging(&settings);
    for variable in certscan_workers::Settings::unknown_variables() {
        tracing::warn!("{variable} is not a certscan setting and changes nothing (settings: README \"Configuration\")");
    }
    let result = run(cli, &settings);
    // Tesseract engines end before the process does, so Tesseract has no leaks to report at exit.
    certscan_pipeline::TesseractOcr::release_engines();
    result
}

fn run(cli: Cli, settings: &certscan_workers::Settings) -> ExitCode {
    let settings = settings.clone();
    let result = match cli.command {
        Command::Generate(args) => commands::generate(&settings, &args),
        Command::Calibrate(args) => commands::calibrate(&settings, &args),
        Command::Simulate(args) => commands::simulate(&settings, &args),
        Command::Process(args) => commands::process(&settings, &args),
        Command::Demo(args) => commands::demo(&settings, &args),
        Command::Serve(args) => service::serve(&settings, &args),
        Command::Worker(args) => service::worker(&settings, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
