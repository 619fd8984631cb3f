//! A printer's calibration profile: how far (and, rarely, how much scaled) its prints land from where the
//! PDF puts them, as the correction certscan applies. One TOML file per printer, `<folder>/<NAME>.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use certscan_templates::PrintOffset;

pub const SCHEMA_VERSION: u32 = 1;
/// The printer name that needs no file: no correction.
pub const DEFAULT_PRINTER: &str = "default";
/// Offsets beyond this are a mistake (a sign error or centimetres), not a printer.
pub const MAX_OFFSET_MM: f32 = 20.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrinterProfile {
    pub schema_version: u32,
    pub printer: String,
    /// Added to every x, millimetres (negative moves left).
    pub dx_mm: f32,
    /// Added to every y, millimetres (negative moves up).
    pub dy_mm: f32,
    /// Optional uniform scale about the sheet's top-left corner; printers that shrink to fit need it.
    #[serde(default = "one")]
    pub scale: f32,
}

fn one() -> f32 {
    1.0
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CalibrationError {
    #[error("invalid printer name {0:?}: use 1-64 letters, digits, '-' or '_'")]
    InvalidName(String),
    #[error("no calibration stored for printer {printer:?} (looked for {path}); run `certscan calibrate --printer {printer} --dx MM --dy MM` first")]
    Unknown { printer: String, path: PathBuf },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl PrinterProfile {
    pub fn new(printer: &str, dx_mm: f32, dy_mm: f32, scale: f32) -> Result<PrinterProfile, CalibrationError> {
        check_name(printer)?;
        let profile = PrinterProfile { schema_version: SCHEMA_VERSION, printer: printer.into(), dx_mm, dy_mm, scale };
        profile.check().map_err(|reason| CalibrationError::Invalid { path: PathBuf::from(printer), reason })?;
        Ok(profile)
    }

    pub fn offset(&self) -> PrintOffset {
        PrintOffset { dx_mm: self.dx_mm, dy_mm: self.dy_mm, scale: self.scale }
    }

    /// Parses a profile file's text; `path` names it in errors.
    pub fn from_toml(path: &Path, text: &str) -> Result<PrinterProfile, CalibrationError> {
        let invalid = |reason: String| CalibrationError::Invalid { path: path.to_path_buf(), reason };
        let profile: PrinterProfile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if profile.schema_version != SCHEMA_VERSION {
            return Err(invalid(format!("schema_version {} is not supported (this build reads {SCHEMA_VERSION})", profile.schema_version)));
        }
        profile.check().map_err(invalid)?;
        Ok(profile)
    }

    fn check(&self) -> Result<(), String> {
        for (name, v) in [("dx_mm", self.dx_mm), ("dy_mm", self.dy_mm)] {
            if !v.is_finite() || v.abs() > MAX_OFFSET_MM {
                return Err(format!("{name} = {v}: an offset must be within ±{MAX_OFFSET_MM} mm"));
            }
        }
        if !self.scale.is_finite() || !(0.9..=1.1).contains(&self.scale) {
            return Err(format!("scale = {}: must be between 0.9 and 1.1", self.scale));
        }
        Ok(())
    }

    /// The stored profile of `printer` in `folder`; `default` needs no file.
    pub fn load(folder: &Path, printer: &str) -> Result<PrinterProfile, CalibrationError> {
        check_name(printer)?;
        let path = folder.join(format!("{printer}.toml"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && printer == DEFAULT_PRINTER => {
                return PrinterProfile::new(DEFAULT_PRINTER, 0.0, 0.0, 1.0)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CalibrationError::Unknown { printer: printer.into(), path }),
            Err(source) => return Err(CalibrationError::Io { path, source }),
        };
        let profile = PrinterProfile::from_toml(&path, &text)?;
        if profile.printer != printer {
            return Err(CalibrationError::Invalid {
                path,
                reason: format!("the file is for printer {:?}, not {printer:?}", profile.printer),
            });
        }
        Ok(profile)
    }

    /// Writes the profile atomically (temporary file, then rename): a crash never leaves half a file.
    pub fn store(&self, folder: &Path) -> Result<PathBuf, CalibrationError> {
        let path = folder.join(format!("{}.toml", self.printer));
        let io = |source| CalibrationError::Io { path: path.clone(), source };
        std::fs::create_dir_all(folder).map_err(io)?;
        let text = format!(
            "# Written by `certscan calibrate`. Offsets are added to every position: x' = dx_mm + x * scale.\n{}",
            toml::to_string(self).expect("a profile serialises")
        );
        let tmp = folder.join(format!(".{}.toml.tmp", self.printer));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(path)
    }
}

fn check_name(printer: &str) -> Result<(), CalibrationError> {
    if certscan_domain::roster::is_valid_id(printer) {
        Ok(())
    } else {
        Err(CalibrationError::InvalidName(printer.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_profile_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let p = PrinterProfile::new("office-hp", -1.5, 0.75, 1.0).unwrap();
        let path = p.store(dir.path()).unwrap();
        assert!(path.ends_with("office-hp.toml"));
        assert_eq!(PrinterProfile::load(dir.path(), "office-hp").unwrap(), p);
    }

    #[test]
    fn the_default_printer_needs_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = PrinterProfile::load(dir.path(), DEFAULT_PRINTER).unwrap();
        assert_eq!(p.offset(), PrintOffset::default());
    }

    #[test]
    fn an_unknown_printer_says_how_to_calibrate_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = PrinterProfile::load(dir.path(), "lab").unwrap_err();
        assert!(err.to_string().contains("certscan calibrate --printer lab"), "{err}");
    }

    #[test]
    fn a_printer_name_cannot_escape_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(PrinterProfile::load(dir.path(), "../etc/passwd"), Err(CalibrationError::InvalidName(_))));
        assert!(matches!(PrinterProfile::new("a/b", 0.0, 0.0, 1.0), Err(CalibrationError::InvalidName(_))));
    }

    #[test]
    fn an_implausible_offset_is_refused() {
        let err = PrinterProfile::new("hp", 35.0, 0.0, 1.0).unwrap_err();
        assert!(err.to_string().contains("dx_mm = 35"), "{err}");
        assert!(PrinterProfile::new("hp", 0.0, 0.0, 1.5).is_err());
        assert!(PrinterProfile::new("hp", f32::NAN, 0.0, 1.0).is_err());
    }

    #[test]
    fn a_broken_file_names_itself_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hp.toml"), "schema_version = 1\nprinter = \"hp\"\ndx_mm = \"left\"\ndy_mm = 0.0\n").unwrap();
        let err = PrinterProfile::load(dir.path(), "hp").unwrap_err().to_string();
        assert!(err.contains("hp.toml") && err.contains("dx_mm"), "{err}");
    }

    #[test]
    fn a_future_schema_version_is_refused() {
        let err =
            PrinterProfile::from_toml(Path::new("x.toml"), "schema_version = 3\nprinter = \"x\"\ndx_mm = 0.0\ndy_mm = 0.0\n").unwrap_err();
        assert!(err.to_string().contains("schema_version 3"), "{err}");
    }

    #[test]
    fn the_shipped_example_profile_is_valid() {
        let text = include_str!("../data/example-office-printer.toml");
        let p = PrinterProfile::from_toml(Path::new("example-office-printer.toml"), text).unwrap();
        assert_eq!(p.printer, "example-office-printer");
    }
}
