//! The exam roster: the portal's view of one exam and its applications (`contracts.md`, "Exam roster").
//! Parsing validates ids and the rules a roster must satisfy before anything is built on it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Final or pending result of one application, as the portal sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The exam has not been graded yet.
    Pending,
    NoShow,
    Failed,
    Violation,
    /// Passed with no violation: the only outcome that gets a certificate ("Требуется загрузить сертификат").
    Passed,
}

impl Outcome {
    /// The Russian label the portal shows for this outcome (seed 000).
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pending => "Ожидает результата",
            Outcome::NoShow => "Не явился на экзамен",
            Outcome::Failed => "Неуспешно сдал экзамен",
            Outcome::Violation => "Нарушены правила проведения экзамена",
            Outcome::Passed => "Требуется загрузить сертификат",
        }
    }
}

/// One candidate's application to the exam.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Application {
    pub application_id: String,
    pub surname: String,
    pub name: String,
    /// Absent for people who have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    pub outcome: Outcome,
}

impl Application {
    /// "Фамилия Имя Отчество", as printed on the certificate.
    pub fn full_name(&self) -> String {
        match &self.patronymic {
            Some(p) if !p.trim().is_empty() => format!("{} {} {}", self.surname, self.name, p),
            _ => format!("{} {}", self.surname, self.name),
        }
    }
}

/// One exam session with its applications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Roster {
    pub exam_id: String,
    /// Exam site name, e.g. "Экзаменационная площадка № 2237".
    pub site: String,
    pub date: NaiveDate,
    /// Certificates may only be generated once the commission protocol is approved.
    pub protocol_approved: bool,
    pub applications: Vec<Application>,
}

/// Why a roster was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RosterError {
    #[error("{file}: not a valid exam roster: {reason}")]
    Malformed { file: String, reason: String },
    #[error("{file}: invalid id {id:?} ({what}): ids are 1-64 letters, digits, '-' or '_'")]
    InvalidId { file: String, what: &'static str, id: String },
    #[error("{file}: application id {id:?} appears more than once")]
    DuplicateApplication { file: String, id: String },
}

/// True when `id` is 1-64 ASCII letters, digits, `-` or `_` (the portal's id alphabet).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why certificates cannot be generated for an exam yet (status `not_ready` of `domain.md`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotReady {
    #[error("exam {exam_id}: the commission protocol is not approved yet")]
    ProtocolNotApproved { exam_id: String },
    #[error("exam {exam_id}: {} application(s) have no final outcome yet: {}", .application_ids.len(), .application_ids.join(", "))]
    PendingApplications { exam_id: String, application_ids: Vec<String> },
    #[error("exam {exam_id}: no application passed, there is nothing to print")]
    NobodyPassed { exam_id: String },
}

impl Roster {
    /// Certificates are generated only when every application is final and the protocol is approved.
    pub fn check_ready_for_generation(&self) -> Result<(), NotReady> {
        if !self.protocol_approved {
            return Err(NotReady::ProtocolNotApproved { exam_id: self.exam_id.clone() });
        }
        let pending: Vec<String> =
            self.applications.iter().filter(|a| a.outcome == Outcome::Pending).map(|a| a.application_id.clone()).collect();
        if !pending.is_empty() {
            return Err(NotReady::PendingApplications { exam_id: self.exam_id.clone(), application_ids: pending });
        }
        if self.passed().next().is_none() {
            return Err(NotReady::NobodyPassed { exam_id: self.exam_id.clone() });
        }
        Ok(())
    }

    /// Parses and validates a roster JSON document; `file` names it in errors.
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Roster, RosterError> {
        let roster: Roster =
            serde_json::from_slice(bytes).map_err(|e| RosterError::Malformed { file: file.to_string(), reason: e.to_string() })?;
        roster.validate(file)?;
        Ok(roster)
    }

    /// Checks ids and uniqueness; `file` names the source in errors.
    pub fn validate(&self, file: &str) -> Result<(), RosterError> {
        if !is_valid_id(&self.exam_id) {
            return Err(RosterError::InvalidId { file: file.into(), what: "exam_id", id: self.exam_id.clone() });
        }
        let mut seen = std::collections::HashSet::new();
        for app in &self.applications {
            if !is_valid_id(&app.application_id) {
                return Err(RosterError::InvalidId { file: file.into(), what: "application_id", id: app.application_id.clone() });
            }
            if !seen.insert(app.application_id.as_str()) {
                return Err(RosterError::DuplicateApplication { file: file.into(), id: app.application_id.clone() });
            }
        }
        Ok(())
    }

    pub fn application(&self, application_id: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.application_id == application_id)
    }

    pub fn passed(&self) -> impl Iterator<Item = &Application> {
        self.applications.iter().filter(|a| a.outcome == Outcome::Passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROSTER: &str = r#"{"exam_id":"EX-2025-000417","site":"Площадка № 2237","date":"2025-12-31",
      "protocol_approved":true,"applications":[
      {"application_id":"A-000123","surname":"Иванова","name":"Мария","patronymic":"Андреевна",
       "birth_date":"1994-08-04","outcome":"passed"},
      {"application_id":"A-000124","surname":"Ким","name":"Олег","birth_date":"1990-01-02","outcome":"no_show"}]}"#;

    #[test]
    fn the_contract_example_roster_parses() {
        let r = Roster::from_json("exam.json", ROSTER.as_bytes()).unwrap();
        assert_eq!(r.applications.len(), 2);
        assert_eq!(r.applications[0].full_name(), "Иванова Мария Андреевна");
        assert_eq!(r.applications[1].full_name(), "Ким Олег");
        assert_eq!(r.passed().count(), 1);
    }

    #[test]
    fn a_roster_with_a_bad_id_is_refused_naming_the_file() {
        let bad = ROSTER.replace("A-000124", "A 124/../x");
        let err = Roster::from_json("exam.json", bad.as_bytes()).unwrap_err();
        assert!(matches!(err, RosterError::InvalidId { .. }));
        assert!(err.to_string().starts_with("exam.json:"));
    }

    #[test]
    fn a_roster_with_a_repeated_application_is_refused() {
        let bad = ROSTER.replace("A-000124", "A-000123");
        assert!(matches!(Roster::from_json("exam.json", bad.as_bytes()), Err(RosterError::DuplicateApplication { .. })));
    }

    #[test]
    fn generation_waits_for_the_protocol_and_every_outcome() {
        let mut r = Roster::from_json("exam.json", ROSTER.as_bytes()).unwrap();
        assert_eq!(r.check_ready_for_generation(), Ok(()));
        r.applications[1].outcome = Outcome::Pending;
        let err = r.check_ready_for_generation().unwrap_err();
        assert!(err.to_string().contains("A-000124"), "{err}");
        r.protocol_approved = false;
        assert!(matches!(r.check_ready_for_generation(), Err(NotReady::ProtocolNotApproved { .. })));
    }

    #[test]
    fn an_unknown_outcome_is_refused() {
        let bad = ROSTER.replace("no_show", "absent");
        assert!(matches!(Roster::from_json("exam.json", bad.as_bytes()), Err(RosterError::Malformed { .. })));
    }
}
