//! The exam certificate status of `domain.md` (seed 000), derived from the data, never stored by hand.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::roster::Roster;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExamCertificateStatus {
    /// Some application is not yet final, or the protocol is not approved.
    NotReady,
    /// Everything final and approved; certificates not generated for every passed application.
    GenerationRequired,
    /// Certificates generated for every passed application, no scan attached.
    UploadRequired,
    /// Scans attached for some passed applications, not all.
    UploadPartial,
    /// Every passed application has its scan (also when nobody passed: nothing is left to do).
    Uploaded,
}

impl ExamCertificateStatus {
    pub fn code(self) -> &'static str {
        match self {
            ExamCertificateStatus::NotReady => "not_ready",
            ExamCertificateStatus::GenerationRequired => "generation_required",
            ExamCertificateStatus::UploadRequired => "upload_required",
            ExamCertificateStatus::UploadPartial => "upload_partial",
            ExamCertificateStatus::Uploaded => "uploaded",
        }
    }

    /// The label the portal shows (seed 000).
    pub fn label(self) -> &'static str {
        match self {
            ExamCertificateStatus::NotReady => "Не готовы к генерации",
            ExamCertificateStatus::GenerationRequired => "Требуется генерация",
            ExamCertificateStatus::UploadRequired => "Требуется загрузка",
            ExamCertificateStatus::UploadPartial => "Требуется частичная загрузка",
            ExamCertificateStatus::Uploaded => "Загружены",
        }
    }

    /// The status of an exam, from its roster, the applications with a generated certificate and the
    /// applications with an attached scan.
    pub fn derive(roster: &Roster, generated: &BTreeSet<String>, attached: &BTreeSet<String>) -> ExamCertificateStatus {
        if roster.check_ready_for_generation().is_err() {
            return ExamCertificateStatus::NotReady;
        }
        let passed: Vec<&str> = roster.passed().map(|a| a.application_id.as_str()).collect();
        let with_scan = passed.iter().filter(|id| attached.contains(**id)).count();
        if with_scan == passed.len() {
            ExamCertificateStatus::Uploaded
        } else if with_scan > 0 {
            ExamCertificateStatus::UploadPartial
        } else if passed.iter().all(|id| generated.contains(*id)) {
            ExamCertificateStatus::UploadRequired
        } else {
            ExamCertificateStatus::GenerationRequired
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::{Application, Outcome};

    fn roster(outcomes: &[Outcome], approved: bool) -> Roster {
        Roster {
            exam_id: "EX-1".into(),
            site: "site".into(),
            date: chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
            protocol_approved: approved,
            applications: outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| Application {
                    application_id: format!("A-{i}"),
                    surname: "Иванова".into(),
                    name: "Мария".into(),
                    patronymic: None,
                    birth_date: chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
                    outcome: *o,
                })
                .collect(),
        }
    }

    fn set(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_status_walks_the_seed_order() {
        use ExamCertificateStatus::*;
        let r = roster(&[Outcome::Passed, Outcome::Failed, Outcome::Passed], true);
        assert_eq!(ExamCertificateStatus::derive(&roster(&[Outcome::Passed, Outcome::Pending], true), &set(&[]), &set(&[])), NotReady);
        assert_eq!(ExamCertificateStatus::derive(&roster(&[Outcome::Passed], false), &set(&[]), &set(&[])), NotReady);
        assert_eq!(ExamCertificateStatus::derive(&r, &set(&[]), &set(&[])), GenerationRequired);
        assert_eq!(ExamCertificateStatus::derive(&r, &set(&["A-0"]), &set(&[])), GenerationRequired);
        assert_eq!(ExamCertificateStatus::derive(&r, &set(&["A-0", "A-2"]), &set(&[])), UploadRequired);
        assert_eq!(ExamCertificateStatus::derive(&r, &set(&["A-0", "A-2"]), &set(&["A-2"])), UploadPartial);
        assert_eq!(ExamCertificateStatus::derive(&r, &set(&["A-0", "A-2"]), &set(&["A-0", "A-2"])), Uploaded);
        assert_eq!(Uploaded.label(), "Загружены");
    }
}
