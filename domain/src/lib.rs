//! The certscan domain: the exam roster the portal sends, the FIS FRDO registration-number import, and
//! the payload of the machine-readable code printed on every certificate. Pure data and rules; it talks
//! to nothing (no files, no network, no environment).
//!
//! # Layout
//! - [`roster`]: exams, applications, outcomes, validated ids (the portal's JSON, `contracts.md`).
//! - [`fis`]: the all-or-nothing FIS FRDO import (CSV in UTF-8 or Windows-1251, XLSX).
//! - [`payload`]: the versioned grammar of the code on every printed page (`docs/payload.md`).
//! - [`register_scan`]: what a scan's register pages mean for the register (complete, incomplete, an older
//!   version) and the per-row signature check's summary.
//! - [`certificate`]: one printable certificate: what a page shows and what its code carries.
//! - [`ledger`]: the blank ledger: packs of strict-accountability blanks, write-offs, the verdict on a
//!   blank number and the per-pack report; [`ledger_export`] writes that report as CSV and XLSX.
//! - [`reconcile`]: the cross-job rules of a job's commit (duplicate, conflicting scans, point-upload
//!   mismatch, the ledger's objection), over typed values.
//! - [`status`]: the exam certificate status and each application's status (seed 000, 002).
//! - [`register`]: the issuance register's statuses and transitions (seed 001).

pub mod certificate;
pub mod fis;
pub mod ledger;
pub mod ledger_export;
pub mod payload;
pub mod reconcile;
pub mod register;
pub mod register_scan;
pub mod roster;
pub mod status;

pub use certificate::Certificate;
pub use fis::{import_fis, import_fis_with_limits, FisImport, FisImportError, FisLimits, FisRecord, RowError, RowErrorKind};
pub use payload::{is_certscan_code, CertificatePayload, DocumentPayload, PayloadError, RegisterPagePayload};
pub use register::{RegisterAction, RegisterStatus};
pub use roster::{is_valid_id, Application, NotReady, Outcome, Roster, RosterError};
pub use status::{ApplicationStatus as ApplicationCertificateStatus, ExamCertificateStatus};
