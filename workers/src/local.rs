//! The embedded store of the command line: what `generate` imported, kept under the data folder so that
//! `process` later checks scans against the same FIS FRDO numbers. One JSON file per exam, written
//! atomically; exam ids are validated, so a key never comes from unchecked user input.

use std::path::{Path, PathBuf};

use certscan_domain::roster::is_valid_id;
use certscan_domain::FisImport;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalStoreError {
    #[error("invalid exam id {0:?}")]
    InvalidExamId(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: the stored import is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
}

/// `<data_dir>/exams/<exam_id>/fis-import.json`.
fn import_path(data_dir: &Path, exam_id: &str) -> Result<PathBuf, LocalStoreError> {
    if !is_valid_id(exam_id) {
        return Err(LocalStoreError::InvalidExamId(exam_id.into()));
    }
    Ok(data_dir.join("exams").join(exam_id).join("fis-import.json"))
}

/// Stores the exam's import, replacing an earlier one only once the new one is fully written.
pub fn save_fis_import(data_dir: &Path, exam_id: &str, import: &FisImport) -> Result<PathBuf, LocalStoreError> {
    let path = import_path(data_dir, exam_id)?;
    let io = |source| LocalStoreError::Io { path: path.clone(), source };
    let dir = path.parent().expect("the import path has a folder");
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = dir.join(".fis-import.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(import).expect("an import serialises")).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

/// The stored import of an exam, if `generate` ran for it.
pub fn load_fis_import(data_dir: &Path, exam_id: &str) -> Result<Option<FisImport>, LocalStoreError> {
    let path = import_path(data_dir, exam_id)?;
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| LocalStoreError::Damaged { path, reason: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LocalStoreError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certscan_domain::FisRecord;
    use chrono::NaiveDate;

    #[test]
    fn a_saved_import_loads_back_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_fis_import(dir.path(), "EX-1").unwrap().is_none());
        let import = FisImport {
            records: vec![FisRecord {
                line: 2,
                application_id: "A-1".into(),
                registration_number: "77-1".into(),
                issue_date: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            }],
        };
        save_fis_import(dir.path(), "EX-1", &import).unwrap();
        assert_eq!(load_fis_import(dir.path(), "EX-1").unwrap(), Some(import));
    }

    #[test]
    fn an_exam_id_cannot_escape_the_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load_fis_import(dir.path(), "../x"), Err(LocalStoreError::InvalidExamId(_))));
    }
}
