//! Printer calibration: per-printer offsets stored as small versioned TOML files (one per printer in the
//! calibration folder), and the calibration sheet PDF staff print on a paper copy of the blank to measure
//! them. Talks to the file system only through the folder its caller names.
//!
//! # Layout
//! - [`profile`]: a printer's stored offsets; reading, validating and writing them.
//! - [`sheet`]: the calibration sheet (rulers, crosshairs at known positions, the blank's zones).

pub mod profile;
pub mod sheet;

pub use profile::{CalibrationError, PrinterProfile, DEFAULT_PRINTER};
pub use sheet::{render_sheet, CROSSHAIRS};
