//! Cross-job rules: a job's pages that recognition would attach, judged against what is already attached
//! (in this exam, in other exams through the blank ledger) and against the application a point upload
//! named. Pure: the store reads what is attached inside the job's commit transaction, calls
//! [`reconcile`], and stores what it decided.
//!
//! In order, for each page recognition would attach:
//! 1. a point upload whose page names another application → review `point_upload_mismatch`;
//! 2. the application already has a scan: on the same blank → `duplicate`, on another → review
//!    `conflicting_scans`;
//! 3. the blank number is already attached to another application of this exam → `conflicting_scans`;
//! 4. with packs of blanks registered: a number in no pack or written off → `blank_not_in_ledger`, a
//!    number attached in another exam → `conflicting_scans`;
//! 5. a page with no page file to attach → `unreadable_page`;
//! 6. otherwise it is attached, and the pages after it in the job see it as attached.

use std::collections::BTreeMap;

use crate::ledger::{Ledger, LedgerVerdict, UsedBlank};

/// A scan already attached to an application (or attached by an earlier page of the same job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedScan {
    pub application_id: String,
    pub blank_number: String,
    pub job_id: String,
    pub page: i64,
}

/// A page recognition would attach, with what the cross-job rules need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachCandidate {
    pub page: i64,
    pub application_id: String,
    pub blank_number: String,
    /// Whether the page's own PDF was stored (a page that could not be copied out cannot be attached).
    pub has_page_file: bool,
}

/// Why a page recognition would attach goes to review instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CrossJobReason {
    /// A point upload's page names another application than the one it was uploaded onto.
    PointUploadMismatch,
    /// Another blank for an application that has a scan, or a blank attached to another application.
    ConflictingScans,
    /// With packs registered: the number is in no pack, or its blank was written off.
    BlankNotInLedger,
    /// The page file could not be written.
    UnreadablePage,
}

impl CrossJobReason {
    /// The stable snake_case code of `report.json` and the review list.
    pub fn code(self) -> &'static str {
        match self {
            CrossJobReason::PointUploadMismatch => "point_upload_mismatch",
            CrossJobReason::ConflictingScans => "conflicting_scans",
            CrossJobReason::BlankNotInLedger => "blank_not_in_ledger",
            CrossJobReason::UnreadablePage => "unreadable_page",
        }
    }
}

/// What becomes of one candidate page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrossJobDecision {
    /// Attach it.
    Attach,
    /// The same application on the same blank is attached already (from `job_id`, `page`).
    Duplicate { job_id: String, page: i64, detail: String },
    /// A person decides.
    Review { reason: CrossJobReason, detail: String },
}

/// What is known outside the job when its pages are reconciled.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The job being committed.
    pub job_id: &'a str,
    /// The application a point upload was made onto; `None` for a scan of the exam.
    pub point_upload: Option<&'a str>,
    /// Scans attached in this exam now.
    pub attached: &'a [AttachedScan],
    /// Packs and write-offs (its `used` is not consulted: see `used_elsewhere`); empty = not judged.
    pub ledger: &'a Ledger,
    /// Blank number → its attachment in another exam (only consulted when the ledger is active).
    pub used_elsewhere: &'a BTreeMap<String, UsedBlank>,
}

/// Decides every candidate page in job order; a page attached here counts as attached for the pages after
/// it. Returns one decision per candidate, in the same order.
pub fn reconcile(ctx: &Context<'_>, candidates: &[AttachCandidate]) -> Vec<CrossJobDecision> {
    let mut by_application: BTreeMap<&str, (&str, String, i64)> = BTreeMap::new();
    let mut by_blank: BTreeMap<&str, &str> = BTreeMap::new();
    for a in ctx.attached {
        by_blank.insert(a.blank_number.as_str(), a.application_id.as_str());
        by_application.insert(a.application_id.as_str(), (a.blank_number.as_str(), a.job_id.clone(), a.page));
    }
    let review = |reason, detail| CrossJobDecision::Review { reason, detail };
    let mut decisions = Vec::with_capacity(candidates.len());
    for c in candidates {
        let (app, blank) = (c.application_id.as_str(), c.blank_number.as_str());
        let decision = if let Some(target) = ctx.point_upload.filter(|t| *t != app) {
            review(CrossJobReason::PointUploadMismatch, format!("uploaded onto application {target}, but the code on the page names {app}"))
        } else if let Some((other_blank, other_job, other_page)) = by_application.get(app) {
            if *other_blank == blank {
                CrossJobDecision::Duplicate {
                    job_id: other_job.clone(),
                    page: *other_page,
                    detail: format!("already attached from job {other_job}, page {other_page}"),
                }
            } else {
                review(
                    CrossJobReason::ConflictingScans,
                    format!(
                        "application {app} already has blank {other_blank} attached (job {other_job}, page {other_page}); this page shows blank {blank}"
                    ),
                )
            }
        } else if let Some(other_app) = by_blank.get(blank) {
            review(CrossJobReason::ConflictingScans, format!("blank {blank} is already attached to application {other_app}"))
        } else if let Some((reason, detail)) = ledger_objection(ctx, blank) {
            review(reason, detail)
        } else if !c.has_page_file {
            review(CrossJobReason::UnreadablePage, "the page could not be copied out of the scan".into())
        } else {
            by_blank.insert(blank, app);
            by_application.insert(app, (blank, ctx.job_id.to_string(), c.page));
            CrossJobDecision::Attach
        };
        decisions.push(decision);
    }
    decisions
}

/// The blank ledger's objection to attaching `blank` (its use in this exam is judged before).
pub fn ledger_objection(ctx: &Context<'_>, blank: &str) -> Option<(CrossJobReason, String)> {
    match ctx.ledger.verdict(blank) {
        LedgerVerdict::NotJudged => return None,
        LedgerVerdict::OutsideEveryPack => {
            return Some((CrossJobReason::BlankNotInLedger, format!("blank {blank} is in no registered pack of blanks")))
        }
        LedgerVerdict::Spoiled { pack, spoiled } => {
            return Some((
                CrossJobReason::BlankNotInLedger,
                format!("blank {blank} of pack {} was written off by {} ({})", pack.pack_id, spoiled.by, spoiled.reason),
            ))
        }
        LedgerVerdict::Used { .. } | LedgerVerdict::Free { .. } => {}
    }
    ctx.used_elsewhere.get(blank).map(|u| {
        (
            CrossJobReason::ConflictingScans,
            format!("blank {blank} is already attached to application {} of exam {}", u.application_id, u.exam_id),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Pack, SpoiledBlank};

    fn scan(app: &str, blank: &str, job: &str, page: i64) -> AttachedScan {
        AttachedScan { application_id: app.into(), blank_number: blank.into(), job_id: job.into(), page }
    }

    fn page(page: i64, app: &str, blank: &str) -> AttachCandidate {
        AttachCandidate { page, application_id: app.into(), blank_number: blank.into(), has_page_file: true }
    }

    fn decide(
        point: Option<&str>,
        attached: &[AttachedScan],
        ledger: &Ledger,
        elsewhere: &BTreeMap<String, UsedBlank>,
        pages: &[AttachCandidate],
    ) -> Vec<CrossJobDecision> {
        reconcile(&Context { job_id: "J2", point_upload: point, attached, ledger, used_elsewhere: elsewhere }, pages)
    }

    fn reason(d: &CrossJobDecision) -> Option<&'static str> {
        match d {
            CrossJobDecision::Review { reason, .. } => Some(reason.code()),
            _ => None,
        }
    }

    #[test]
    fn a_page_for_a_free_application_on_a_free_blank_is_attached() {
        let d = decide(None, &[scan("A-1", "77 0000001", "J1", 1)], &Ledger::default(), &BTreeMap::new(), &[page(1, "A-2", "77 0000002")]);
        assert_eq!(d, vec![CrossJobDecision::Attach]);
    }

    #[test]
    fn the_same_application_on_the_same_blank_again_is_a_duplicate_of_the_first_scan() {
        let d = decide(None, &[scan("A-1", "77 0000001", "J1", 4)], &Ledger::default(), &BTreeMap::new(), &[page(1, "A-1", "77 0000001")]);
        assert_eq!(
            d,
            vec![CrossJobDecision::Duplicate { job_id: "J1".into(), page: 4, detail: "already attached from job J1, page 4".into() }]
        );
    }

    #[test]
    fn another_blank_for_an_attached_application_is_a_conflict() {
        let d = decide(None, &[scan("A-1", "77 0000001", "J1", 1)], &Ledger::default(), &BTreeMap::new(), &[page(1, "A-1", "77 0000009")]);
        assert_eq!(reason(&d[0]), Some("conflicting_scans"));
        let CrossJobDecision::Review { detail, .. } = &d[0] else { unreachable!() };
        assert!(detail.contains("already has blank 77 0000001") && detail.contains("77 0000009"), "{detail}");
    }

    #[test]
    fn a_blank_attached_to_another_application_of_the_exam_is_a_conflict() {
        let d = decide(None, &[scan("A-1", "77 0000001", "J1", 1)], &Ledger::default(), &BTreeMap::new(), &[page(1, "A-2", "77 0000001")]);
        assert_eq!(
            d,
            vec![CrossJobDecision::Review {
                reason: CrossJobReason::ConflictingScans,
                detail: "blank 77 0000001 is already attached to application A-1".into()
            }]
        );
    }

    #[test]
    fn a_point_upload_naming_another_application_is_never_attached() {
        let d =
            decide(Some("A-2"), &[], &Ledger::default(), &BTreeMap::new(), &[page(1, "A-1", "77 0000001"), page(2, "A-2", "77 0000002")]);
        assert_eq!(reason(&d[0]), Some("point_upload_mismatch"));
        assert_eq!(d[1], CrossJobDecision::Attach);
    }

    #[test]
    fn a_point_upload_mismatch_wins_over_a_duplicate() {
        let d = decide(
            Some("A-2"),
            &[scan("A-1", "77 0000001", "J1", 1)],
            &Ledger::default(),
            &BTreeMap::new(),
            &[page(1, "A-1", "77 0000001")],
        );
        assert_eq!(reason(&d[0]), Some("point_upload_mismatch"));
    }

    #[test]
    fn pages_of_one_job_see_the_pages_attached_before_them() {
        let d = decide(
            None,
            &[],
            &Ledger::default(),
            &BTreeMap::new(),
            &[page(1, "A-1", "77 0000001"), page(2, "A-1", "77 0000001"), page(3, "A-2", "77 0000001"), page(4, "A-1", "77 0000005")],
        );
        assert_eq!(d[0], CrossJobDecision::Attach);
        assert!(matches!(&d[1], CrossJobDecision::Duplicate { job_id, page: 1, .. } if job_id == "J2"), "{:?}", d[1]);
        assert_eq!(reason(&d[2]), Some("conflicting_scans"));
        assert_eq!(reason(&d[3]), Some("conflicting_scans"));
    }

    #[test]
    fn a_page_without_its_file_is_not_attached() {
        let mut p = page(1, "A-1", "77 0000001");
        p.has_page_file = false;
        let d = decide(None, &[], &Ledger::default(), &BTreeMap::new(), &[p.clone(), page(2, "A-1", "77 0000001")]);
        assert_eq!(reason(&d[0]), Some("unreadable_page"));
        // Nothing was attached, so the second scan of the same certificate is attached.
        assert_eq!(d[1], CrossJobDecision::Attach);
    }

    fn ledger() -> Ledger {
        let pack = Pack::new("P1", "51", "0375100", "0375199", None, None).unwrap();
        let mut spoiled = BTreeMap::new();
        spoiled.insert("51 0375170".to_string(), SpoiledBlank { reason: "torn".into(), by: "tc".into(), at: "2026-11-02".into() });
        Ledger { packs: vec![pack], spoiled, used: BTreeMap::new() }
    }

    #[test]
    fn with_packs_registered_a_number_outside_them_or_written_off_goes_to_review() {
        let d = decide(
            None,
            &[],
            &ledger(),
            &BTreeMap::new(),
            &[page(1, "A-1", "51 0375200"), page(2, "A-2", "51 0375170"), page(3, "A-3", "51 0375101")],
        );
        assert_eq!(reason(&d[0]), Some("blank_not_in_ledger"));
        let CrossJobDecision::Review { detail, .. } = &d[1] else { panic!("{:?}", d[1]) };
        assert_eq!(detail, "blank 51 0375170 of pack P1 was written off by tc (torn)");
        assert_eq!(d[2], CrossJobDecision::Attach);
    }

    #[test]
    fn with_packs_registered_a_number_used_in_another_exam_is_a_conflict_and_without_them_it_is_not_judged() {
        let mut elsewhere = BTreeMap::new();
        elsewhere.insert(
            "51 0375101".to_string(),
            UsedBlank { exam_id: "EX-OTHER".into(), application_id: "B-9".into(), at: "2026-11-03".into() },
        );
        let d = decide(None, &[], &ledger(), &elsewhere, &[page(1, "A-1", "51 0375101")]);
        assert_eq!(
            d,
            vec![CrossJobDecision::Review {
                reason: CrossJobReason::ConflictingScans,
                detail: "blank 51 0375101 is already attached to application B-9 of exam EX-OTHER".into()
            }]
        );
        let d = decide(None, &[], &Ledger::default(), &elsewhere, &[page(1, "A-1", "51 0375101")]);
        assert_eq!(d, vec![CrossJobDecision::Attach]);
    }

    #[test]
    fn this_exams_conflict_is_named_before_the_ledgers_verdict() {
        let d = decide(None, &[scan("A-1", "51 0375200", "J1", 1)], &ledger(), &BTreeMap::new(), &[page(1, "A-2", "51 0375200")]);
        let CrossJobDecision::Review { detail, .. } = &d[0] else { panic!() };
        assert_eq!(detail, "blank 51 0375200 is already attached to application A-1");
    }
}
