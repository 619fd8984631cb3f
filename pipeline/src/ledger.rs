//! The blank ledger as outside evidence, applied after `matching::decide`: a page the scan alone would
//! attach goes to review when its blank number is in no registered pack or was written off
//! (`blank_not_in_ledger`), or is already attached to another application in any exam
//! (`conflicting_scans`). The same application on the same number already stored is a re-upload, left for
//! the store to call a duplicate. With no ledger, or one without packs, nothing changes. Pure: decisions
//! and a ledger snapshot (`certscan_domain::ledger::Ledger`) in, decisions out.

use certscan_domain::ledger::{Ledger, LedgerVerdict};

use crate::matching::{Decision, ReviewReason};

/// Judges every attached page by the ledger, in place.
pub fn judge(decisions: &mut [(usize, Decision)], ledger: Option<&Ledger>) {
    let Some(ledger) = ledger.filter(|l| l.is_active()) else { return };
    for (_, decision) in decisions.iter_mut() {
        let Decision::Attached { application_id, blank_number, .. } = &*decision else { continue };
        let application_id = application_id.clone();
        let review = match ledger.verdict(blank_number) {
            LedgerVerdict::NotJudged | LedgerVerdict::Free { .. } => None,
            LedgerVerdict::Used { used, .. } if used.application_id == application_id => None,
            LedgerVerdict::OutsideEveryPack => {
                Some((ReviewReason::BlankNotInLedger, format!("blank {blank_number} is in no registered pack of blanks")))
            }
            LedgerVerdict::Spoiled { pack, spoiled } => Some((
                ReviewReason::BlankNotInLedger,
                format!("blank {blank_number} of pack {} was written off by {} ({})", pack.pack_id, spoiled.by, spoiled.reason),
            )),
            LedgerVerdict::Used { used, .. } => Some((
                ReviewReason::ConflictingScans,
                format!("blank {blank_number} is already attached to application {} of exam {}", used.application_id, used.exam_id),
            )),
        };
        if let Some((reason, detail)) = review {
            *decision = Decision::Review { reason, application_id: Some(application_id), detail };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certscan_domain::ledger::{Pack, SpoiledBlank, UsedBlank};
    use chrono::NaiveDate;

    fn attached(page: usize, app: &str, blank: &str) -> (usize, Decision) {
        (
            page,
            Decision::Attached {
                application_id: app.into(),
                registration_number: format!("R-{app}"),
                issue_date: NaiveDate::from_ymd_opt(2026, 1, 10).unwrap(),
                blank_number: blank.into(),
                confidence: 0.95,
            },
        )
    }

    fn reason(d: &Decision) -> Option<ReviewReason> {
        match d {
            Decision::Review { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    fn ledger() -> Ledger {
        let mut l = Ledger::default();
        l.packs.push(Pack::new("P1", "51", "0375100", "0375199", Some("2026-11-01"), None).unwrap());
        l.spoiled.insert("51 0375120".into(), SpoiledBlank { reason: "jammed".into(), by: "ct".into(), at: "t".into() });
        l.used.insert("51 0375130".into(), UsedBlank { exam_id: "EX-OLD".into(), application_id: "A-OLD".into(), at: "t".into() });
        l.used.insert("51 0375140".into(), UsedBlank { exam_id: "EX-1".into(), application_id: "A-5".into(), at: "t".into() });
        l
    }

    #[test]
    fn pages_outside_every_pack_written_off_or_used_elsewhere_go_to_review() {
        let mut decisions = vec![
            attached(1, "A-1", "51 0375110"),
            attached(2, "A-2", "51 0375200"),
            attached(3, "A-3", "77 0375110"),
            attached(4, "A-4", "51 0375120"),
            attached(5, "A-6", "51 0375130"),
            attached(6, "A-5", "51 0375140"),
            (7, Decision::Ignored),
        ];
        judge(&mut decisions, Some(&ledger()));
        let got: Vec<Option<ReviewReason>> = decisions.iter().map(|(_, d)| reason(d)).collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(ReviewReason::BlankNotInLedger),
                Some(ReviewReason::BlankNotInLedger),
                Some(ReviewReason::BlankNotInLedger),
                Some(ReviewReason::ConflictingScans),
                // The same application on the same blank already stored: a re-upload, not a conflict.
                None,
                None,
            ]
        );
        assert!(matches!(&decisions[0].1, Decision::Attached { .. }));
        assert_eq!(decisions[6].1, Decision::Ignored);
        match &decisions[4].1 {
            Decision::Review { application_id, detail, .. } => {
                assert_eq!(application_id.as_deref(), Some("A-6"));
                assert!(detail.contains("A-OLD") && detail.contains("EX-OLD"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ReviewReason::BlankNotInLedger.code(), "blank_not_in_ledger");
    }

    #[test]
    fn without_packs_nothing_is_judged() {
        let before = vec![attached(1, "A-1", "51 0375200"), attached(2, "A-2", "51 0375130")];
        let mut decisions = before.clone();
        judge(&mut decisions, None);
        assert_eq!(decisions, before);
        let mut no_packs = ledger();
        no_packs.packs.clear();
        judge(&mut decisions, Some(&no_packs));
        assert_eq!(decisions, before, "written-off and used numbers without a pack are not judged either");
    }
}
