//! The exam certificate status of `domain.md` (seed 000), derived from the data, never stored by hand.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::roster::{NotReady, Outcome, Roster};

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
    /// Every passed application has its scan.
    Uploaded,
    /// Everything final and approved, and nobody passed: no certificate is due, nothing is left to do
    /// (an addition to seed 000's list: without it such an exam stayed `not_ready` for ever).
    NotRequired,
}

impl ExamCertificateStatus {
    pub fn code(self) -> &'static str {
        match self {
            ExamCertificateStatus::NotReady => "not_ready",
            ExamCertificateStatus::GenerationRequired => "generation_required",
            ExamCertificateStatus::UploadRequired => "upload_required",
            ExamCertificateStatus::UploadPartial => "upload_partial",
            ExamCertificateStatus::Uploaded => "uploaded",
            ExamCertificateStatus::NotRequired => "not_required",
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
            ExamCertificateStatus::NotRequired => "Не требуются",
        }
    }

    pub const ALL: [ExamCertificateStatus; 6] = [
        ExamCertificateStatus::NotReady,
        ExamCertificateStatus::GenerationRequired,
        ExamCertificateStatus::UploadRequired,
        ExamCertificateStatus::UploadPartial,
        ExamCertificateStatus::Uploaded,
        ExamCertificateStatus::NotRequired,
    ];

    pub fn parse(code: &str) -> Option<ExamCertificateStatus> {
        ExamCertificateStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The status of an exam, from its roster, the applications with a generated certificate and the
    /// applications with an attached scan.
    pub fn derive(roster: &Roster, generated: &BTreeSet<String>, attached: &BTreeSet<String>) -> ExamCertificateStatus {
        match roster.check_ready_for_generation() {
            Ok(()) => {}
            Err(NotReady::NobodyPassed { .. }) => return ExamCertificateStatus::NotRequired,
            Err(_) => return ExamCertificateStatus::NotReady,
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

/// One application's status as the portal shows it: its outcome until it passed, then the certificate's
/// road (seed 002): `passed` (Требуется загрузить сертификат) → `certificate_issue_required` once the scan
/// is attached (Требуется выдать сертификат) → `done` after «Сертификат выдан лично» (Экзаменован -
/// услуга оказана).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationStatus {
    Outcome(Outcome),
    CertificateIssueRequired,
    Done,
}

impl ApplicationStatus {
    /// `handed_over` counts only with a scan attached (the handover is refused without one).
    pub fn derive(outcome: Outcome, scan_attached: bool, handed_over: bool) -> ApplicationStatus {
        match (outcome, scan_attached, handed_over) {
            (Outcome::Passed, true, true) => ApplicationStatus::Done,
            (Outcome::Passed, true, false) => ApplicationStatus::CertificateIssueRequired,
            (outcome, _, _) => ApplicationStatus::Outcome(outcome),
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ApplicationStatus::Outcome(o) => match o {
                Outcome::Pending => "pending",
                Outcome::NoShow => "no_show",
                Outcome::Failed => "failed",
                Outcome::Violation => "violation",
                Outcome::Passed => "passed",
            },
            ApplicationStatus::CertificateIssueRequired => "certificate_issue_required",
            ApplicationStatus::Done => "done",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ApplicationStatus::Outcome(o) => o.label(),
            ApplicationStatus::CertificateIssueRequired => "Требуется выдать сертификат",
            ApplicationStatus::Done => "Экзаменован - услуга оказана",
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

    #[test]
    fn an_exam_where_nobody_passed_needs_no_certificates_once_it_is_final() {
        use ExamCertificateStatus::*;
        let none = roster(&[Outcome::Failed, Outcome::NoShow, Outcome::Violation], true);
        assert_eq!(ExamCertificateStatus::derive(&none, &set(&[]), &set(&[])), NotRequired);
        assert_eq!(NotRequired.code(), "not_required");
        // Not final yet, or the protocol not approved: still not ready.
        assert_eq!(ExamCertificateStatus::derive(&roster(&[Outcome::Failed, Outcome::Pending], true), &set(&[]), &set(&[])), NotReady);
        assert_eq!(ExamCertificateStatus::derive(&roster(&[Outcome::Failed], false), &set(&[]), &set(&[])), NotReady);
        for s in ExamCertificateStatus::ALL {
            assert_eq!(ExamCertificateStatus::parse(s.code()), Some(s));
        }
    }

    #[test]
    fn a_passed_application_reads_issue_required_from_attachment_until_the_handover() {
        assert_eq!(ApplicationStatus::derive(Outcome::Passed, false, false).code(), "passed");
        assert_eq!(ApplicationStatus::derive(Outcome::Passed, false, false).label(), "Требуется загрузить сертификат");
        let issue = ApplicationStatus::derive(Outcome::Passed, true, false);
        assert_eq!((issue.code(), issue.label()), ("certificate_issue_required", "Требуется выдать сертификат"));
        let done = ApplicationStatus::derive(Outcome::Passed, true, true);
        assert_eq!((done.code(), done.label()), ("done", "Экзаменован - услуга оказана"));
        assert_eq!(ApplicationStatus::derive(Outcome::Passed, false, true).code(), "passed", "no handover without a scan");
        assert_eq!(ApplicationStatus::derive(Outcome::Failed, false, false).code(), "failed");
    }
}
