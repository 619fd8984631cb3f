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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match certscan_workers::Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    commands::init_logging(&settings);
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
