//! The issuance register's life (seed 001, `domain.md` "Issuance register status"): its statuses, which
//! role may move it, and from where. Pure: the store keeps the stage people moved it to and asks
//! [`RegisterStatus::derive`] and [`transition`] what it is and what it may become.
//!
//! ```text
//! generation_impossible ──(every passed application has its scan)──▶ generation_possible
//! generation_possible ──generate (exam site)──▶ generation_possible, version n+1
//!                     ──first download (exam site)──▶ on_signing
//! on_signing ──upload the signed scan (exam site)──▶ review_required
//! review_required ──take it (testing center)──▶ under_review
//! under_review ──approve──▶ approved   ──reject + reason──▶ rejected
//! rejected ──upload again (exam site)──▶ review_required; ──generate again──▶ generation_possible, new version
//! ```
//! An exam where nobody passed has no register to sign: `not_required` (an addition to the seed's list,
//! so the portal's filters do not show it as waiting for anything).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::fis::FisImport;
use crate::roster::Roster;

/// The status the portal filters the exam list on ("Статус реестра сертификатов").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegisterStatus {
    /// Not every passed application has its scan (Генерация невозможна).
    GenerationImpossible,
    /// Every passed application has its scan; the register may be generated, or was and is not yet
    /// downloaded by the exam site (Генерация возможна).
    GenerationPossible,
    /// Generated and downloaded by the exam site, collecting signatures (На подписи).
    OnSigning,
    /// The signed scan was uploaded; a testing-center reviewer is awaited (Требуется проверка).
    ReviewRequired,
    /// A reviewer took it (На проверке).
    UnderReview,
    /// Одобрен.
    Approved,
    /// Sent back with a reason (Отклонен).
    Rejected,
    /// Nobody passed: there is nothing to hand over and nothing to sign (Не требуется).
    NotRequired,
}

impl RegisterStatus {
    pub const ALL: [RegisterStatus; 8] = [
        RegisterStatus::GenerationImpossible,
        RegisterStatus::GenerationPossible,
        RegisterStatus::OnSigning,
        RegisterStatus::ReviewRequired,
        RegisterStatus::UnderReview,
        RegisterStatus::Approved,
        RegisterStatus::Rejected,
        RegisterStatus::NotRequired,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RegisterStatus::GenerationImpossible => "generation_impossible",
            RegisterStatus::GenerationPossible => "generation_possible",
            RegisterStatus::OnSigning => "on_signing",
            RegisterStatus::ReviewRequired => "review_required",
            RegisterStatus::UnderReview => "under_review",
            RegisterStatus::Approved => "approved",
            RegisterStatus::Rejected => "rejected",
            RegisterStatus::NotRequired => "not_required",
        }
    }

    /// The label the portal shows (seed 001).
    pub fn label(self) -> &'static str {
        match self {
            RegisterStatus::GenerationImpossible => "Генерация невозможна",
            RegisterStatus::GenerationPossible => "Генерация возможна",
            RegisterStatus::OnSigning => "На подписи",
            RegisterStatus::ReviewRequired => "Требуется проверка",
            RegisterStatus::UnderReview => "На проверке",
            RegisterStatus::Approved => "Одобрен",
            RegisterStatus::Rejected => "Отклонен",
            RegisterStatus::NotRequired => "Не требуется",
        }
    }

    pub fn parse(code: &str) -> Option<RegisterStatus> {
        RegisterStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The status from what is stored: `stage` is where people moved the register (`None` before its
    /// first generation; [`Stage::Generated`] after a generation the exam site has not downloaded yet).
    /// Before the exam site downloads it, the register follows the certificates: a scan taken off makes
    /// generation impossible again.
    pub fn derive(nobody_passed: bool, every_scan_attached: bool, stage: Option<Stage>) -> RegisterStatus {
        match stage {
            Some(Stage::OnSigning) => RegisterStatus::OnSigning,
            Some(Stage::ReviewRequired) => RegisterStatus::ReviewRequired,
            Some(Stage::UnderReview) => RegisterStatus::UnderReview,
            Some(Stage::Approved) => RegisterStatus::Approved,
            Some(Stage::Rejected) => RegisterStatus::Rejected,
            None | Some(Stage::Generated) if nobody_passed => RegisterStatus::NotRequired,
            None | Some(Stage::Generated) if every_scan_attached => RegisterStatus::GenerationPossible,
            None | Some(Stage::Generated) => RegisterStatus::GenerationImpossible,
        }
    }
}

/// What the store keeps of the register's life (the statuses people move it to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Generated,
    OnSigning,
    ReviewRequired,
    UnderReview,
    Approved,
    Rejected,
}

impl Stage {
    pub fn code(self) -> &'static str {
        match self {
            Stage::Generated => "generated",
            Stage::OnSigning => "on_signing",
            Stage::ReviewRequired => "review_required",
            Stage::UnderReview => "under_review",
            Stage::Approved => "approved",
            Stage::Rejected => "rejected",
        }
    }

    pub fn parse(code: &str) -> Option<Stage> {
        [Stage::Generated, Stage::OnSigning, Stage::ReviewRequired, Stage::UnderReview, Stage::Approved, Stage::Rejected]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

/// What someone does to the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterAction {
    /// Generate (a new version): the exam site.
    Generate,
    /// The exam site downloads the document (the first download after a generation puts it on signing).
    Download,
    /// The exam site uploads the signed scan.
    UploadScan,
    /// A testing-center reviewer takes it.
    TakeForReview,
    Approve,
    Reject,
}

impl RegisterAction {
    pub fn code(self) -> &'static str {
        match self {
            RegisterAction::Generate => "generate",
            RegisterAction::Download => "download",
            RegisterAction::UploadScan => "upload_scan",
            RegisterAction::TakeForReview => "take_for_review",
            RegisterAction::Approve => "approve",
            RegisterAction::Reject => "reject",
        }
    }
}

/// An action the current status does not allow (HTTP 409 `invalid_transition`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the register is {} ({}): {} is not possible now{}", .current.code(), .current.label(), .action.code(), .hint)]
pub struct InvalidTransition {
    pub current: RegisterStatus,
    pub action: RegisterAction,
    hint: &'static str,
}

/// The stage an action leads to from `current`, or why it cannot be done. `generated` tells whether a
/// version exists (a download needs one); `every_scan_attached` whether every passed application has
/// its scan now (a generation needs it, also a regeneration).
pub fn transition(
    current: RegisterStatus,
    generated: bool,
    every_scan_attached: bool,
    action: RegisterAction,
) -> Result<Stage, InvalidTransition> {
    use RegisterAction as A;
    use RegisterStatus as S;
    let refuse = |hint| Err(InvalidTransition { current, action, hint });
    match (action, current) {
        (A::Generate, S::GenerationPossible | S::OnSigning | S::Rejected) if every_scan_attached => Ok(Stage::Generated),
        (A::Generate, S::OnSigning | S::Rejected) => {
            refuse(" (a certificate scan was taken off: every passed application needs its scan first)")
        }
        (A::Generate, S::GenerationImpossible) => refuse(" (every passed application needs its attached scan first)"),
        (A::Download, S::GenerationPossible) if generated => Ok(Stage::OnSigning),
        (A::Download, S::GenerationPossible | S::GenerationImpossible) => refuse(" (generate it first)"),
        (A::UploadScan, S::OnSigning | S::Rejected) => Ok(Stage::ReviewRequired),
        (A::TakeForReview, S::ReviewRequired) => Ok(Stage::UnderReview),
        (A::Approve, S::UnderReview) => Ok(Stage::Approved),
        (A::Reject, S::UnderReview) => Ok(Stage::Rejected),
        (A::Approve | A::Reject, S::ReviewRequired) => refuse(" (take it for review first)"),
        _ => refuse(""),
    }
}

/// One row of the register: a passed application whose certificate scan is attached, in roster order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisterRow {
    /// 1, 2, ... (№ п/п).
    pub number: usize,
    pub application_id: String,
    pub full_name: String,
    pub registration_number: String,
    /// YYYY-MM-DD.
    pub issue_date: String,
    pub blank_number: String,
}

/// The register's rows: every passed application with its FIS FRDO number and the blank number of its
/// attached scan (`blanks`: application → blank number), in roster order. An application missing either
/// is left out (generation is only possible when none is).
pub fn register_rows(roster: &Roster, import: Option<&FisImport>, blanks: &BTreeMap<String, String>) -> Vec<RegisterRow> {
    roster
        .passed()
        .filter_map(|app| {
            let record = import?.records.iter().find(|r| r.application_id == app.application_id)?;
            let blank = blanks.get(&app.application_id)?;
            Some((app, record, blank))
        })
        .enumerate()
        .map(|(i, (app, record, blank))| RegisterRow {
            number: i + 1,
            application_id: app.application_id.clone(),
            full_name: app.full_name(),
            registration_number: record.registration_number.clone(),
            issue_date: record.issue_date.format("%Y-%m-%d").to_string(),
            blank_number: blank.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use RegisterAction as A;
    use RegisterStatus as S;

    #[test]
    fn before_the_first_generation_the_register_follows_the_certificates() {
        assert_eq!(S::derive(false, false, None), S::GenerationImpossible);
        assert_eq!(S::derive(false, true, None), S::GenerationPossible);
        assert_eq!(S::derive(true, true, None), S::NotRequired);
        // Generated but not downloaded: a scan taken off makes generation impossible again.
        assert_eq!(S::derive(false, true, Some(Stage::Generated)), S::GenerationPossible);
        assert_eq!(S::derive(false, false, Some(Stage::Generated)), S::GenerationImpossible);
        // Once on signing, what people did stands.
        assert_eq!(S::derive(false, false, Some(Stage::OnSigning)), S::OnSigning);
        assert_eq!(S::derive(false, true, Some(Stage::Rejected)), S::Rejected);
    }

    #[test]
    fn the_seed_walk_is_allowed_step_by_step() {
        assert_eq!(transition(S::GenerationPossible, false, true, A::Generate), Ok(Stage::Generated));
        assert_eq!(transition(S::GenerationPossible, true, true, A::Download), Ok(Stage::OnSigning));
        assert_eq!(transition(S::OnSigning, true, true, A::UploadScan), Ok(Stage::ReviewRequired));
        assert_eq!(transition(S::ReviewRequired, true, true, A::TakeForReview), Ok(Stage::UnderReview));
        assert_eq!(transition(S::UnderReview, true, true, A::Reject), Ok(Stage::Rejected));
        assert_eq!(transition(S::Rejected, true, true, A::UploadScan), Ok(Stage::ReviewRequired));
        assert_eq!(transition(S::UnderReview, true, true, A::Approve), Ok(Stage::Approved));
        assert_eq!(transition(S::Rejected, true, true, A::Generate), Ok(Stage::Generated));
        assert_eq!(transition(S::OnSigning, true, true, A::Generate), Ok(Stage::Generated));
    }

    #[test]
    fn an_impossible_step_names_the_current_status() {
        let e = transition(S::GenerationImpossible, false, true, A::Generate).unwrap_err();
        assert_eq!(e.current, S::GenerationImpossible);
        assert!(e.to_string().contains("generation_impossible") && e.to_string().contains("Генерация невозможна"), "{e}");
        let e = transition(S::ReviewRequired, true, true, A::Approve).unwrap_err();
        assert!(e.to_string().contains("review_required") && e.to_string().contains("take it for review first"), "{e}");
        for (status, action) in [
            (S::Approved, A::UploadScan),
            (S::Approved, A::Generate),
            (S::UnderReview, A::Generate),
            (S::ReviewRequired, A::UploadScan),
            (S::GenerationPossible, A::UploadScan),
            (S::OnSigning, A::TakeForReview),
            (S::Rejected, A::Approve),
            (S::NotRequired, A::Generate),
        ] {
            let e = transition(status, true, true, action).unwrap_err();
            assert_eq!((e.current, e.action), (status, action));
        }
        assert!(transition(S::GenerationPossible, false, true, A::Download).is_err(), "nothing to download before a generation");
        let e = transition(S::Rejected, true, false, A::Generate).unwrap_err();
        assert!(e.to_string().contains("taken off"), "{e}");
    }

    #[test]
    fn every_code_parses_back() {
        for s in S::ALL {
            assert_eq!(S::parse(s.code()), Some(s));
        }
        assert_eq!(S::parse("nope"), None);
    }
}
