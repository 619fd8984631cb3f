//! Deciding what each page is, never guessing: every page of a scan gets exactly one outcome — attached to
//! an application, ignored (blank), a duplicate scan of an attached certificate, or review with a stable
//! reason a person acts on. Any conflict between sources of evidence means review, never attach.
//! Pure: evidence and the exam's expectations in, decisions out.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use certscan_domain::{CertificatePayload, FisRecord, Outcome as ApplicationOutcome, PayloadError, Roster};

/// What recognition established about one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageEvidence {
    /// 1-based, in file order.
    pub page: usize,
    /// The page could not be decoded or was over the pixel limit (reason).
    pub unreadable: Option<String>,
    /// Almost no ink: an empty sheet.
    pub blank: bool,
    /// The code found on the page, parsed; `None` when no code was read.
    pub code: Option<Result<CertificatePayload, PayloadError>>,
    /// The blank number when read AND valid against the template's pattern, with its confidence (0–1).
    pub blank_number: Option<(String, f32)>,
    /// On a page whose code was not read: the registration number and the application id as printed
    /// on the certificate, each read from its own line (see [`printed_identity`]).
    pub printed: Option<PrintedIdentity>,
}

/// Characters the application line as read may hold beside the id itself (see [`printed_identity`]).
const APPLICATION_LINE_EXTRA: usize = 2;

/// Who a certificate is for, as printed in two places of its text: the registration-number line and
/// the application line under the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedIdentity {
    /// The registration-number line as Tesseract read it.
    pub registration_number: String,
    /// The same line as the glyph reader read it (`?` for a digit it is not sure of), when it could.
    pub registration_glyphs: Option<String>,
    /// The application line as read; None when no line was found there (a stamp over it).
    pub application_id: Option<String>,
}

impl PrintedIdentity {
    /// Both readers, which fail differently, read every character of the registration number alike.
    pub fn registration_confirmed(&self) -> bool {
        self.registration_glyphs.as_deref() == Some(self.registration_number.as_str())
    }
}

/// The application a page without a readable code is for, from its printed text: the exam's one FIS
/// FRDO record whose registration number AND application id are exactly the two printed lines as read.
/// Two lines printed apart and read apart fail independently: a misread that turned one into another
/// application's value would have to turn the other into the same application's too. The application
/// line's crop may take in the label's last letter or a speck beside the id, so the id read may carry
/// up to [`APPLICATION_LINE_EXTRA`] characters around the record's id; the registration number must be
/// exact.
///
/// Where the application line names nobody (a stamp over it, its letters garbled) or was not found, the
/// registration number alone names the record when both readers read every digit of it alike
/// ([`PrintedIdentity::registration_confirmed`]): registration numbers of one exam are often consecutive,
/// so one reader's single misread digit names a neighbour, which two readers that fail differently do
/// not do together. An application line that names another record than the registration number always
/// leaves the page unplaced. The page still needs its blank number read by both readers.
pub fn printed_identity<'r>(records: &'r [FisRecord], printed: &PrintedIdentity) -> Option<&'r FisRecord> {
    let by_registration = || {
        let mut same = records.iter().filter(|r| r.registration_number == printed.registration_number);
        match (same.next(), same.next()) {
            (Some(record), None) => Some(record),
            _ => None,
        }
    };
    match printed.application_id.as_deref().map(|read| named_by_line(records, read)) {
        Some(Named::One(record)) => (record.registration_number == printed.registration_number).then_some(record),
        Some(Named::Several) => None,
        Some(Named::Nobody) | None => by_registration().filter(|_| printed.registration_confirmed()),
    }
}

/// Whom the application line as read names.
enum Named<'r> {
    Nobody,
    One(&'r FisRecord),
    Several,
}

fn named_by_line<'r>(records: &'r [FisRecord], read: &str) -> Named<'r> {
    let names = |id: &str| !id.is_empty() && read.contains(id) && read.chars().count() <= id.chars().count() + APPLICATION_LINE_EXTRA;
    // The line names the longest id it holds ("A-12" holds "A-1" too): the line alone decides whose.
    let named: Vec<&FisRecord> = records.iter().filter(|r| names(&r.application_id)).collect();
    let Some(longest) = named.iter().map(|r| r.application_id.chars().count()).max() else {
        return Named::Nobody;
    };
    let mut by_line = named.into_iter().filter(|r| r.application_id.chars().count() == longest);
    match (by_line.next(), by_line.next()) {
        (Some(record), None) => Named::One(record),
        _ => Named::Several,
    }
}

pub use crate::blank_number::MIN_BLANK_NUMBER_CONFIDENCE;

/// A page's blank number when it is evidence, not just a hint (see [`crate::blank_number`]).
pub fn sure_blank_number(reading: &crate::page::PageReading) -> Option<&crate::ocr::BlankNumberReading> {
    reading.blank_number.as_ref().filter(|b| b.evidence().is_some())
}

impl PageEvidence {
    /// The evidence recognition produced for a page.
    pub fn from_reading(reading: &crate::page::PageReading) -> PageEvidence {
        PageEvidence {
            page: reading.page,
            unreadable: reading.unreadable.clone(),
            blank: reading.blank_page,
            code: reading.code.as_ref().map(|c| c.payload.clone()),
            blank_number: sure_blank_number(reading).map(|b| (b.text.clone(), b.confidence)),
            printed: match (&reading.code, &reading.registration_number_ocr) {
                (None, Some(registration_number)) => Some(PrintedIdentity {
                    registration_number: registration_number.clone(),
                    registration_glyphs: reading.registration_number_glyphs.clone(),
                    application_id: reading.application_id_ocr.clone(),
                }),
                _ => None,
            },
        }
    }
}

/// Why a page waits for a person. The codes are stable: the portal and staff tools rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReviewReason {
    /// No certscan code could be read (or it was damaged: checksum, grammar).
    CodeUnreadable,
    /// The code names an application this exam does not have.
    UnknownApplication,
    /// The code names an application that did not pass (no certificate is due).
    ApplicationNotPassed,
    /// The code belongs to another exam.
    OtherExam,
    /// The code's registration number differs from the imported one (or none was imported).
    RegistrationMismatch,
    /// The pre-printed blank number could not be read with certainty.
    BlankNumberUnreadable,
    /// Two different sheets claim one application, or one blank number is claimed by two applications.
    ConflictingScans,
    /// The page itself could not be decoded (corrupt, over the pixel limit).
    UnreadablePage,
    /// The blank number is in no registered pack, or its blank was written off (`ledger`).
    BlankNotInLedger,
}

impl ReviewReason {
    pub fn code(self) -> &'static str {
        match self {
            ReviewReason::CodeUnreadable => "code_unreadable",
            ReviewReason::UnknownApplication => "unknown_application",
            ReviewReason::ApplicationNotPassed => "application_not_passed",
            ReviewReason::OtherExam => "other_exam",
            ReviewReason::RegistrationMismatch => "registration_mismatch",
            ReviewReason::BlankNumberUnreadable => "blank_number_unreadable",
            ReviewReason::ConflictingScans => "conflicting_scans",
            ReviewReason::UnreadablePage => "unreadable_page",
            ReviewReason::BlankNotInLedger => "blank_not_in_ledger",
        }
    }
}

/// The decision for one page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    Attached {
        application_id: String,
        registration_number: String,
        issue_date: NaiveDate,
        blank_number: String,
        confidence: f32,
    },
    Review {
        reason: ReviewReason,
        /// The application the page seems to belong to, when the code said so.
        application_id: Option<String>,
        /// What a reviewer should know, in one sentence.
        detail: String,
    },
    /// An empty sheet.
    Ignored,
    /// A second scan of the certificate attached from `of_page`.
    Duplicate {
        application_id: String,
        of_page: usize,
        blank_number: String,
    },
}

/// A page whose own evidence is complete and consistent with the exam: a candidate for attachment.
#[derive(Debug, Clone)]
struct Candidate {
    page: usize,
    application_id: String,
    registration_number: String,
    issue_date: NaiveDate,
    blank_number: String,
    confidence: f32,
}

/// Decides every page. `records` are the imported FIS FRDO numbers of the exam.
pub fn decide(roster: &Roster, records: &[FisRecord], pages: &[PageEvidence]) -> Vec<(usize, Decision)> {
    let mut decisions: BTreeMap<usize, Decision> = BTreeMap::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    for ev in pages {
        match judge_page(roster, records, ev) {
            Ok(c) => candidates.push(c),
            Err(d) => {
                decisions.insert(ev.page, d);
            }
        }
    }

    // Conflicts across pages: one application, several sheets; or one sheet number, several applications.
    let mut by_application: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    let mut by_blank: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    for c in &candidates {
        by_application.entry(&c.application_id).or_default().push(c);
        by_blank.entry(&c.blank_number).or_default().push(c);
    }
    for c in &candidates {
        let same_app = &by_application[c.application_id.as_str()];
        let same_blank = &by_blank[c.blank_number.as_str()];
        let other_sheet = same_app.iter().find(|o| o.blank_number != c.blank_number);
        let other_app = same_blank.iter().find(|o| o.application_id != c.application_id);
        let decision = if let Some(o) = other_sheet {
            Decision::Review {
                reason: ReviewReason::ConflictingScans,
                application_id: Some(c.application_id.clone()),
                detail: format!(
                    "pages {} and {} both carry application {} but on blanks {} and {}",
                    c.page, o.page, c.application_id, c.blank_number, o.blank_number
                ),
            }
        } else if let Some(o) = other_app {
            Decision::Review {
                reason: ReviewReason::ConflictingScans,
                application_id: Some(c.application_id.clone()),
                detail: format!(
                    "blank {} is read on page {} (application {}) and on page {} (application {})",
                    c.blank_number, c.page, c.application_id, o.page, o.application_id
                ),
            }
        } else {
            // Same application, same blank: one sheet scanned more than once; the first in file order counts.
            let first = same_app.iter().map(|o| o.page).min().unwrap_or(c.page);
            if first == c.page {
                Decision::Attached {
                    application_id: c.application_id.clone(),
                    registration_number: c.registration_number.clone(),
                    issue_date: c.issue_date,
                    blank_number: c.blank_number.clone(),
                    confidence: c.confidence,
                }
            } else {
                Decision::Duplicate { application_id: c.application_id.clone(), of_page: first, blank_number: c.blank_number.clone() }
            }
        };
        decisions.insert(c.page, decision);
    }
    decisions.into_iter().collect()
}

/// One page on its own evidence: a candidate, or its final decision.
fn judge_page(roster: &Roster, records: &[FisRecord], ev: &PageEvidence) -> Result<Candidate, Decision> {
    let review = |reason, application_id: Option<&str>, detail: String| Decision::Review {
        reason,
        application_id: application_id.map(str::to_string),
        detail,
    };
    if let Some(reason) = &ev.unreadable {
        return Err(review(ReviewReason::UnreadablePage, None, reason.clone()));
    }
    let printed_payload;
    let payload = match &ev.code {
        None if ev.blank => return Err(Decision::Ignored),
        None => match ev.printed.as_ref().and_then(|p| printed_identity(records, p)) {
            Some(record) => {
                printed_payload = CertificatePayload {
                    exam_id: roster.exam_id.clone(),
                    application_id: record.application_id.clone(),
                    registration_number: record.registration_number.clone(),
                };
                &printed_payload
            }
            None => {
                let detail = match &ev.printed {
                    Some(p) => format!(
                        "no code could be read on the page; its printed registration number {} (glyph reader: {}) and application {} do not name one application",
                        p.registration_number,
                        p.registration_glyphs.as_deref().unwrap_or("not read"),
                        p.application_id.as_deref().unwrap_or("(not read)")
                    ),
                    None => "no code could be read on the page".into(),
                };
                return Err(review(ReviewReason::CodeUnreadable, None, detail));
            }
        },
        Some(Err(e)) => return Err(review(ReviewReason::CodeUnreadable, None, format!("a code was found but {e}"))),
        Some(Ok(p)) => p,
    };
    let app_id = payload.application_id.as_str();
    if payload.exam_id != roster.exam_id {
        return Err(review(
            ReviewReason::OtherExam,
            None,
            format!("the code is for exam {} (application {}), not {}", payload.exam_id, app_id, roster.exam_id),
        ));
    }
    let Some(application) = roster.application(app_id) else {
        return Err(review(ReviewReason::UnknownApplication, None, format!("exam {} has no application {app_id}", roster.exam_id)));
    };
    if application.outcome != ApplicationOutcome::Passed {
        return Err(review(
            ReviewReason::ApplicationNotPassed,
            Some(app_id),
            format!("application {app_id} is {:?}, no certificate is due", application.outcome),
        ));
    }
    let Some(record) = records.iter().find(|r| r.application_id == app_id) else {
        return Err(review(
            ReviewReason::RegistrationMismatch,
            Some(app_id),
            format!("no FIS FRDO number is imported for application {app_id}"),
        ));
    };
    if record.registration_number != payload.registration_number {
        return Err(review(
            ReviewReason::RegistrationMismatch,
            Some(app_id),
            format!("the code says registration number {}, FIS FRDO gave {}", payload.registration_number, record.registration_number),
        ));
    }
    let Some((blank_number, confidence)) = &ev.blank_number else {
        return Err(review(
            ReviewReason::BlankNumberUnreadable,
            Some(app_id),
            format!("the code says application {app_id}, but the blank number could not be read"),
        ));
    };
    Ok(Candidate {
        page: ev.page,
        application_id: app_id.to_string(),
        registration_number: record.registration_number.clone(),
        issue_date: record.issue_date,
        blank_number: blank_number.clone(),
        confidence: confidence.clamp(0.0, 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use certscan_domain::Application;

    fn roster() -> Roster {
        let app = |id: &str, outcome| Application {
            application_id: id.into(),
            surname: "Иванова".into(),
            name: "Мария".into(),
            patronymic: None,
            birth_date: NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
            outcome,
        };
        Roster {
            exam_id: "EX-1".into(),
            site: "Площадка".into(),
            date: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
            protocol_approved: true,
            applications: vec![
                app("A-1", ApplicationOutcome::Passed),
                app("A-2", ApplicationOutcome::Passed),
                app("A-3", ApplicationOutcome::Failed),
            ],
        }
    }

    fn records() -> Vec<FisRecord> {
        ["A-1", "A-2"]
            .iter()
            .enumerate()
            .map(|(i, id)| FisRecord {
                line: i + 2,
                application_id: id.to_string(),
                registration_number: format!("R-{id}"),
                issue_date: NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(),
            })
            .collect()
    }

    fn page(n: usize, exam: &str, app: &str, reg: &str, blank: Option<&str>) -> PageEvidence {
        PageEvidence {
            page: n,
            unreadable: None,
            blank: false,
            code: Some(Ok(CertificatePayload { exam_id: exam.into(), application_id: app.into(), registration_number: reg.into() })),
            blank_number: blank.map(|b| (b.to_string(), 0.9)),
            printed: None,
        }
    }

    /// A page whose code was not read, with its two printed lines as read.
    fn printed_page(n: usize, reg: &str, app: &str, blank: Option<&str>) -> PageEvidence {
        PageEvidence {
            code: None,
            printed: Some(PrintedIdentity { registration_number: reg.into(), registration_glyphs: None, application_id: Some(app.into()) }),
            ..page(n, "EX-1", "A-1", "R-A-1", blank)
        }
    }

    /// A page whose code was not read: its registration number as each reader read it, and its
    /// application line as read (None: not found).
    fn registration_page(reg: &str, glyphs: Option<&str>, app: Option<&str>) -> PageEvidence {
        PageEvidence {
            code: None,
            printed: Some(PrintedIdentity {
                registration_number: reg.into(),
                registration_glyphs: glyphs.map(str::to_string),
                application_id: app.map(str::to_string),
            }),
            ..page(1, "EX-1", "A-1", "R-A-1", Some("77 0000001"))
        }
    }

    /// Records whose registration numbers are consecutive, as FIS FRDO gives them to one exam.
    fn consecutive_records() -> Vec<FisRecord> {
        (0..3)
            .map(|i| FisRecord {
                line: i + 2,
                application_id: format!("A-{}", i + 1),
                registration_number: format!("77-2026-11806{i}"),
                issue_date: NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(),
            })
            .collect()
    }

    #[test]
    fn a_page_whose_application_line_is_unread_is_placed_only_by_a_registration_number_both_readers_read_alike() {
        let records = consecutive_records();
        let attached_to = |ev: PageEvidence| match decide(&roster(), &records, &[ev]).remove(0).1 {
            Decision::Attached { application_id, .. } => Some(application_id),
            _ => None,
        };
        // Both readers read every digit alike; the application line was not found or names nobody.
        assert_eq!(attached_to(registration_page("77-2026-118061", Some("77-2026-118061"), None)).as_deref(), Some("A-2"));
        assert_eq!(attached_to(registration_page("77-2026-118061", Some("77-2026-118061"), Some("xaao36teD"))).as_deref(), Some("A-2"));
        // Tesseract alone: one misread digit names the neighbour, so no.
        assert_eq!(attached_to(registration_page("77-2026-118061", None, None)), None);
        // The glyph reader unsure of a digit, or reading another one.
        assert_eq!(attached_to(registration_page("77-2026-118061", Some("77-2026-11806?"), None)), None);
        assert_eq!(attached_to(registration_page("77-2026-118061", Some("77-2026-118067"), None)), None);
        // Confirmed, but the application line names someone else: the page names two people.
        assert_eq!(attached_to(registration_page("77-2026-118061", Some("77-2026-118061"), Some("A-3"))), None);
        // Confirmed, and no record has it.
        assert_eq!(attached_to(registration_page("77-2026-118069", Some("77-2026-118069"), None)), None);
        // The review says what each reader read.
        let d = decide(&roster(), &records, &[registration_page("77-2026-118061", Some("77-2026-11806?"), None)]);
        assert!(
            matches!(&d[0].1, Decision::Review { reason: ReviewReason::CodeUnreadable, detail, .. } if detail.contains("77-2026-11806?") && detail.contains("not read")),
            "{d:?}"
        );
    }

    #[test]
    fn a_page_without_a_code_is_attached_only_when_both_printed_lines_name_one_application() {
        let d = decide(&roster(), &records(), &[printed_page(1, "R-A-1", "A-1", Some("77 0000001"))]);
        assert!(
            matches!(&d[0].1, Decision::Attached { application_id, blank_number, .. } if application_id == "A-1" && blank_number == "77 0000001"),
            "{d:?}"
        );
        // The label's last letter and a speck read beside the id.
        let d = decide(&roster(), &records(), &[printed_page(1, "R-A-1", "aA-1_", Some("77 0000001"))]);
        assert!(matches!(&d[0].1, Decision::Attached { application_id, .. } if application_id == "A-1"), "{d:?}");
        // The line names A-12, which holds A-1; a registration number misread as A-1's does not make it A-1's.
        let mut with_a12 = records();
        with_a12.push(FisRecord {
            line: 9,
            application_id: "A-12".into(),
            registration_number: "R-A-12".into(),
            issue_date: with_a12[0].issue_date,
        });
        let d = decide(&roster(), &with_a12, &[printed_page(1, "R-A-1", "A-12", Some("77 0000001"))]);
        assert_eq!(reason(&d[0].1), Some(ReviewReason::CodeUnreadable));
        // More than that is not the id.
        let d = decide(&roster(), &records(), &[printed_page(1, "R-A-1", "xyzA-1", Some("77 0000001"))]);
        assert_eq!(reason(&d[0].1), Some(ReviewReason::CodeUnreadable));
        // The two lines name two applications (one of them misread): review, naming both.
        let d = decide(&roster(), &records(), &[printed_page(1, "R-A-1", "A-2", Some("77 0000001"))]);
        assert_eq!(reason(&d[0].1), Some(ReviewReason::CodeUnreadable));
        assert!(matches!(&d[0].1, Decision::Review { detail, .. } if detail.contains("R-A-1") && detail.contains("A-2")), "{d:?}");
        // A registration number no record has.
        let d = decide(&roster(), &records(), &[printed_page(1, "R-A-9", "A-9", Some("77 0000001"))]);
        assert_eq!(reason(&d[0].1), Some(ReviewReason::CodeUnreadable));
        // Named right, but the blank number was not read by both readers.
        let d = decide(&roster(), &records(), &[printed_page(1, "R-A-1", "A-1", None)]);
        assert_eq!(reason(&d[0].1), Some(ReviewReason::BlankNumberUnreadable));
        // A page with a code is judged by its code, whatever its text says.
        let with_code = PageEvidence {
            printed: Some(PrintedIdentity {
                registration_number: "R-A-2".into(),
                registration_glyphs: None,
                application_id: Some("A-2".into()),
            }),
            ..page(1, "EX-1", "A-1", "R-A-1", Some("77 0000001"))
        };
        let d = decide(&roster(), &records(), &[with_code]);
        assert!(matches!(&d[0].1, Decision::Attached { application_id, .. } if application_id == "A-1"), "{d:?}");
        // The same application on another page with its code and another blank: a conflict, not two attachments.
        let d = decide(
            &roster(),
            &records(),
            &[page(1, "EX-1", "A-1", "R-A-1", Some("77 0000001")), printed_page(2, "R-A-1", "A-1", Some("77 0000002"))],
        );
        assert_eq!(reason(&d[0].1), Some(ReviewReason::ConflictingScans));
        assert_eq!(reason(&d[1].1), Some(ReviewReason::ConflictingScans));
    }

    fn reason(d: &Decision) -> Option<ReviewReason> {
        match d {
            Decision::Review { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    #[test]
    fn a_consistent_page_is_attached_with_the_imported_number_and_date() {
        let d = decide(&roster(), &records(), &[page(1, "EX-1", "A-1", "R-A-1", Some("77 0000001"))]);
        assert!(
            matches!(&d[0].1, Decision::Attached { application_id, blank_number, .. } if application_id == "A-1" && blank_number == "77 0000001")
        );
    }

    #[test]
    fn the_same_sheet_scanned_twice_is_attached_once_and_the_later_page_is_a_duplicate() {
        let d = decide(
            &roster(),
            &records(),
            &[page(1, "EX-1", "A-1", "R-A-1", Some("77 0000001")), page(4, "EX-1", "A-1", "R-A-1", Some("77 0000001"))],
        );
        assert!(matches!(&d[0].1, Decision::Attached { .. }));
        assert!(matches!(&d[1].1, Decision::Duplicate { of_page: 1, .. }));
    }

    #[test]
    fn two_sheets_for_one_application_both_go_to_review() {
        let d = decide(
            &roster(),
            &records(),
            &[page(1, "EX-1", "A-1", "R-A-1", Some("77 0000001")), page(2, "EX-1", "A-1", "R-A-1", Some("77 0000002"))],
        );
        assert_eq!(reason(&d[0].1), Some(ReviewReason::ConflictingScans));
        assert_eq!(reason(&d[1].1), Some(ReviewReason::ConflictingScans));
    }

    #[test]
    fn one_blank_number_read_for_two_applications_attaches_neither() {
        let d = decide(
            &roster(),
            &records(),
            &[page(1, "EX-1", "A-1", "R-A-1", Some("77 0000001")), page(2, "EX-1", "A-2", "R-A-2", Some("77 0000001"))],
        );
        assert!(d.iter().all(|(_, d)| reason(d) == Some(ReviewReason::ConflictingScans)));
    }

    #[test]
    fn every_kind_of_doubt_has_its_reason() {
        let mut unreadable = page(1, "EX-1", "A-1", "R-A-1", None);
        unreadable.unreadable = Some("over the pixel limit".into());
        let mut no_code = page(2, "EX-1", "A-1", "R-A-1", None);
        no_code.code = None;
        let mut damaged = page(3, "EX-1", "A-1", "R-A-1", None);
        damaged.code = Some(Err(PayloadError::Checksum));
        let mut blank = page(9, "EX-1", "A-1", "R-A-1", None);
        blank.code = None;
        blank.blank = true;
        let pages = vec![
            unreadable,
            no_code,
            damaged,
            page(4, "EX-2", "A-1", "R-A-1", Some("77 0000004")),
            page(5, "EX-1", "A-9", "R-A-9", Some("77 0000005")),
            page(6, "EX-1", "A-3", "R-A-3", Some("77 0000006")),
            page(7, "EX-1", "A-2", "R-X", Some("77 0000007")),
            page(8, "EX-1", "A-2", "R-A-2", None),
            blank,
        ];
        let d = decide(&roster(), &records(), &pages);
        let got: Vec<Option<ReviewReason>> = d.iter().map(|(_, d)| reason(d)).collect();
        assert_eq!(
            got,
            vec![
                Some(ReviewReason::UnreadablePage),
                Some(ReviewReason::CodeUnreadable),
                Some(ReviewReason::CodeUnreadable),
                Some(ReviewReason::OtherExam),
                Some(ReviewReason::UnknownApplication),
                Some(ReviewReason::ApplicationNotPassed),
                Some(ReviewReason::RegistrationMismatch),
                Some(ReviewReason::BlankNumberUnreadable),
                None,
            ]
        );
        assert_eq!(d[8].1, Decision::Ignored);
    }
}
