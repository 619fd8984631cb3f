//! The storage contract: one suite, run against SQLite (the embedded default) and PostgreSQL (the
//! service), each test on a database of its own.

use certscan_domain::{Outcome, Roster};
use certscan_pipeline::report::PageReport;
use certscan_workers::store::{JobState, NewJob, PageResult, PutRoster, Store, StoreError};

use crate::support::{sample, TestDb};

/// Runs one async contract check against both backends.
macro_rules! contract {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let db = crate::support::TestDb::sqlite().await;
                super::$name(&db).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let db = crate::support::TestDb::postgres().await;
                super::$name(&db).await;
            }
        }
    };
}

contract!(a_roster_is_created_replaced_and_guarded);
contract!(a_job_commit_is_idempotent);
contract!(later_jobs_see_earlier_attachments);
contract!(review_items_are_assigned_dismissed_and_unattached_pages_come_back);
contract!(the_exam_status_follows_the_data);
contract!(a_point_upload_naming_another_application_goes_to_review);
contract!(a_handover_needs_a_scan_and_writes_its_event_only_when_it_commits);
contract!(data_under_attached_scans_cannot_change);
contract!(concurrent_decisions_wait_for_each_other_and_the_loser_gets_a_conflict);
contract!(answered_review_items_close_and_the_same_sheet_is_listed_once);

/// A roster whose first `passed` applications we use, with its FIS import stored.
async fn exam(store: &Store, seed: u64) -> (Roster, Vec<String>) {
    let (roster, _) = sample(seed, 8);
    store.put_roster(&roster, "portal").await.unwrap();
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
    let import = certscan_domain::import_fis(&roster, "fis.csv", &fis).unwrap();
    store.put_fis_import(&roster.exam_id, "fis.csv", &import, "ct").await.unwrap();
    let passed: Vec<String> = roster.passed().map(|a| a.application_id.clone()).collect();
    assert!(passed.len() >= 3, "the sample has passed applications");
    (roster, passed)
}

fn page(n: usize, outcome: &str, app: Option<&str>, blank: Option<&str>) -> PageResult {
    PageResult {
        report: PageReport {
            page: n,
            outcome: outcome.into(),
            application_id: app.map(str::to_string),
            registration_number: app.map(|a| format!("REG-{a}")),
            issue_date: app.map(|_| "2025-12-31".to_string()),
            blank_number: blank.map(str::to_string),
            confidence: if outcome == "attached" { Some(0.97) } else { None },
            reason: if outcome == "review" { Some("code_unreadable".into()) } else { None },
            detail: None,
            duplicate_of: None,
            file: None,
            orientation_deg: 0,
            skew_deg: 0.0,
            straightened_from: "code".into(),
            blank_number_read_by: blank.map(|_| "readers".to_string()),
            blank_number_readings: None,
            identity_from: None,
            register: None,
        },
        object_key: Some(format!("pages/x/{n:05}.pdf")),
    }
}

async fn job(store: &Store, exam_id: &str, job_id: &str, application: Option<&str>) {
    let created = store
        .create_job(&NewJob {
            job_id: job_id.into(),
            exam_id: exam_id.into(),
            application_id: application.map(str::to_string),
            object_key: format!("scans/{job_id}"),
            file_name: Some("scan.pdf".into()),
            submitted_by: Some("ct".into()),
        })
        .await
        .unwrap();
    assert!(created);
    assert_eq!(store.start_job(job_id).await.unwrap().state, JobState::Running);
}

async fn a_roster_is_created_replaced_and_guarded(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (mut roster, passed) = exam(&store, 11).await;
    assert_eq!(store.put_roster(&roster, "portal").await.unwrap(), PutRoster::Replaced);
    assert_eq!(store.roster(&roster.exam_id).await.unwrap().unwrap(), roster);
    assert_eq!(store.exam_of_application(&passed[0]).await.unwrap().as_deref(), Some(roster.exam_id.as_str()));

    // An application of this exam cannot appear in another exam.
    let mut other = roster.clone();
    other.exam_id = "EX-OTHER".into();
    let err = store.put_roster(&other, "portal").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains(&roster.applications[0].application_id)), "{err}");
    assert!(store.roster("EX-OTHER").await.unwrap().is_none(), "a refused roster stores nothing");

    // An attached application cannot be dropped or failed; the roster stays as it was.
    job(&store, &roster.exam_id, "J1", None).await;
    store.commit_job("J1", vec![page(1, "attached", Some(&passed[0]), Some("77 0000001"))], 0.1).await.unwrap();
    roster.applications.iter_mut().find(|a| a.application_id == passed[0]).unwrap().outcome = Outcome::Failed;
    let err = store.put_roster(&roster, "portal").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("unattach")), "{err}");
    let stored = store.roster(&roster.exam_id).await.unwrap().unwrap();
    assert_eq!(stored.application(&passed[0]).unwrap().outcome, Outcome::Passed);
    store.close().await;
}

async fn a_job_commit_is_idempotent(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, passed) = exam(&store, 12).await;
    job(&store, &roster.exam_id, "J1", None).await;
    let pages =
        vec![page(1, "attached", Some(&passed[0]), Some("77 0000001")), page(2, "review", None, None), page(3, "ignored", None, None)];
    let first = store.commit_job("J1", pages.clone(), 0.5).await.unwrap();
    assert_eq!((first.summary.attached, first.summary.review, first.summary.ignored), (1, 1, 1));
    // A redelivery commits again: same report, nothing stored twice.
    let second = store.commit_job("J1", pages, 0.9).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(store.start_job("J1").await.unwrap().state, JobState::Done, "a done job is not restarted");
    assert_eq!(store.review_items(&roster.exam_id, true).await.unwrap().len(), 1);
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.attachments, 1);
    assert_eq!(totals.pages.values().sum::<i64>(), 3);
    let job = store.job("J1").await.unwrap().unwrap();
    assert_eq!(job.pages_total, Some(3));
    assert_eq!(job.report.unwrap().pages[0].file.as_deref(), Some("/v1/jobs/J1/pages/1"));
    // A failed job records why, and a failure never overwrites a done job.
    store.fail_job("J1", "late failure").await.unwrap();
    assert_eq!(store.job("J1").await.unwrap().unwrap().state, JobState::Done);
    store.close().await;
}

async fn later_jobs_see_earlier_attachments(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, passed) = exam(&store, 13).await;
    job(&store, &roster.exam_id, "J1", None).await;
    store.commit_job("J1", vec![page(1, "attached", Some(&passed[0]), Some("77 0000001"))], 0.1).await.unwrap();
    job(&store, &roster.exam_id, "J2", None).await;
    let report = store
        .commit_job(
            "J2",
            vec![
                // The same sheet scanned again.
                page(1, "attached", Some(&passed[0]), Some("77 0000001")),
                // Another sheet for an application that already has one.
                page(2, "attached", Some(&passed[0]), Some("77 0000009")),
                // A sheet whose blank number is already attached to someone else.
                page(3, "attached", Some(&passed[1]), Some("77 0000001")),
                // A new certificate.
                page(4, "attached", Some(&passed[2]), Some("77 0000003")),
            ],
            0.1,
        )
        .await
        .unwrap();
    let outcomes: Vec<(&str, Option<&str>)> = report.pages.iter().map(|p| (p.outcome.as_str(), p.reason.as_deref())).collect();
    assert_eq!(
        outcomes,
        vec![("duplicate", None), ("review", Some("conflicting_scans")), ("review", Some("conflicting_scans")), ("attached", None)]
    );
    assert_eq!(store.attachment(&passed[0]).await.unwrap().unwrap().job_id, "J1");
    assert!(store.attachment(&passed[1]).await.unwrap().is_none());
    store.close().await;
}

async fn review_items_are_assigned_dismissed_and_unattached_pages_come_back(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, passed) = exam(&store, 14).await;
    job(&store, &roster.exam_id, "J1", None).await;
    store
        .commit_job(
            "J1",
            vec![page(1, "review", None, Some("77 0000005")), page(2, "review", None, None), page(3, "review", None, None)],
            0.1,
        )
        .await
        .unwrap();
    let items = store.review_items(&roster.exam_id, true).await.unwrap();
    assert_eq!(items.len(), 3);

    // Refusals change nothing.
    let failed = roster.applications.iter().find(|a| a.outcome != Outcome::Passed && a.outcome != Outcome::Pending);
    if let Some(failed) = failed {
        let err = store.assign_review(&items[0].item_id, &failed.application_id, None, "ct").await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    }
    let err = store.assign_review(&items[1].item_id, &passed[0], None, "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("blank_number")), "no blank number read, none given: {err}");
    assert!(store.attachment(&passed[0]).await.unwrap().is_none());

    let a = store.assign_review(&items[0].item_id, &passed[0], None, "ct").await.unwrap();
    assert_eq!((a.blank_number.as_str(), a.source.as_str()), ("77 0000005", "review"));
    let err = store.assign_review(&items[0].item_id, &passed[1], None, "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("already assigned")), "{err}");
    let err = store.assign_review(&items[1].item_id, &passed[0], Some("77 0000006"), "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("already has a scan")), "{err}");
    store.dismiss_review(&items[2].item_id, "spoilt blank", "ct").await.unwrap();
    assert_eq!(store.review_items(&roster.exam_id, true).await.unwrap().len(), 1);

    // Unattaching puts the page back on the list.
    let back = store.unattach(&passed[0], "wrong person", "ct").await.unwrap();
    assert_eq!((back.reason.as_str(), back.state.as_str(), back.page), ("unattached", "open", 1));
    assert!(store.attachment(&passed[0]).await.unwrap().is_none());
    assert_eq!(store.review_items(&roster.exam_id, true).await.unwrap().len(), 2);

    let actions: Vec<String> = store.audit_trail(&roster.exam_id).await.unwrap().into_iter().map(|e| e.action).collect();
    for action in ["roster", "fis_import", "upload", "job_done", "assign", "dismiss", "unattach"] {
        assert!(actions.iter().any(|a| a == action), "audit has {action}: {actions:?}");
    }
    store.close().await;
}

async fn the_exam_status_follows_the_data(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, passed) = exam(&store, 15).await;
    let code = |s: &certscan_workers::store::ExamStatus| s.status.code();
    let status = store.exam_status(&roster.exam_id).await.unwrap().unwrap();
    let expected_start = if roster.check_ready_for_generation().is_ok() { "generation_required" } else { "not_ready" };
    assert_eq!(code(&status), expected_start);
    if expected_start == "not_ready" {
        store.close().await;
        return;
    }
    let import = store.fis_import(&roster.exam_id).await.unwrap().unwrap();
    store.record_generation(&roster.exam_id, "certificates/x.pdf", "default", &import.certificates(&roster), "ct").await.unwrap();
    assert_eq!(code(&store.exam_status(&roster.exam_id).await.unwrap().unwrap()), "upload_required");
    job(&store, &roster.exam_id, "J1", None).await;
    store.commit_job("J1", vec![page(1, "attached", Some(&passed[0]), Some("77 0000001"))], 0.1).await.unwrap();
    let status = store.exam_status(&roster.exam_id).await.unwrap().unwrap();
    assert_eq!((code(&status), status.status.label()), ("upload_partial", "Требуется частичная загрузка"));
    let first = status.applications.iter().find(|a| a.application_id == passed[0]).unwrap();
    assert_eq!(first.attachment.as_ref().unwrap().blank_number, "77 0000001");
    assert!(first.registration_number.is_some());
    job(&store, &roster.exam_id, "J2", None).await;
    let rest: Vec<PageResult> =
        passed.iter().enumerate().skip(1).map(|(i, app)| page(i, "attached", Some(app), Some(&format!("77 00000{:02}", 10 + i)))).collect();
    store.commit_job("J2", rest, 0.1).await.unwrap();
    let status = store.exam_status(&roster.exam_id).await.unwrap().unwrap();
    assert_eq!(code(&status), "uploaded");
    assert_eq!(status.counts.attached, passed.len());
    store.close().await;
}

async fn a_point_upload_naming_another_application_goes_to_review(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, passed) = exam(&store, 16).await;
    job(&store, &roster.exam_id, "P1", Some(&passed[0])).await;
    let report = store.commit_job("P1", vec![page(1, "attached", Some(&passed[1]), Some("77 0000002"))], 0.1).await.unwrap();
    assert_eq!(report.pages[0].reason.as_deref(), Some("point_upload_mismatch"));
    assert!(store.attachment(&passed[1]).await.unwrap().is_none(), "a mismatch is never attached");
    job(&store, &roster.exam_id, "P2", Some(&passed[0])).await;
    let report = store.commit_job("P2", vec![page(1, "attached", Some(&passed[0]), Some("77 0000003"))], 0.1).await.unwrap();
    assert_eq!(report.pages[0].outcome, "attached");
    assert_eq!(store.attachment(&passed[0]).await.unwrap().unwrap().source, "point");
    store.close().await;
}

async fn a_handover_needs_a_scan_and_writes_its_event_only_when_it_commits(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, passed) = exam(&store, 17).await;
    let on = chrono::NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
    let before = store.events(0, 1000, None).await.unwrap().len();
    // No scan: refused, and no event was written.
    assert!(matches!(store.hand_over(&passed[0], on, "site").await, Err(StoreError::Conflict(_))));
    assert_eq!(store.events(0, 1000, None).await.unwrap().len(), before);
    job(&store, &roster.exam_id, "H1", None).await;
    store.commit_job("H1", vec![page(1, "attached", Some(&passed[0]), Some("77 0000001"))], 0.1).await.unwrap();
    let handover = store.hand_over(&passed[0], on, "site").await.unwrap();
    assert_eq!(handover.handed_over_on, "2026-01-15");
    assert!(matches!(store.hand_over(&passed[0], on, "site").await, Err(StoreError::Conflict(_))), "once");
    // A handed-over scan cannot be taken off before the handover is undone.
    assert!(matches!(store.unattach(&passed[0], "wrong", "ct").await, Err(StoreError::Conflict(_))));
    let status = store.exam_status(&roster.exam_id).await.unwrap().unwrap();
    let app = status.applications.iter().find(|a| a.application_id == passed[0]).unwrap();
    assert_eq!(app.status.code(), "done");
    store.undo_handover(&passed[0], "signed by someone else", "ct").await.unwrap();
    let status = store.exam_status(&roster.exam_id).await.unwrap().unwrap();
    assert_eq!(status.applications.iter().find(|a| a.application_id == passed[0]).unwrap().status.code(), "certificate_issue_required");
    store.unattach(&passed[0], "wrong", "ct").await.unwrap();
    let types: Vec<String> = store.events(0, 1000, None).await.unwrap().into_iter().skip(before).map(|e| e.event_type).collect();
    let wanted = [
        "certificate.attached",
        "job.done",
        "exam.certificate_status",
        "application.handed_over",
        "application.handover_undone",
        "certificate.unattached",
        "exam.certificate_status",
    ];
    assert_eq!(types, wanted);
    let actions: Vec<String> = store.audit_trail(&roster.exam_id).await.unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"handover".to_string()) && actions.contains(&"handover_undone".to_string()), "{actions:?}");
    store.close().await;
}

/// A review page with its reason (and detail) set.
fn review_page(n: usize, reason: &str, detail: &str, app: Option<&str>, blank: Option<&str>) -> PageResult {
    let mut p = page(n, "review", app, blank);
    p.report.reason = Some(reason.into());
    p.report.detail = Some(detail.into());
    p
}

async fn data_under_attached_scans_cannot_change(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (mut roster, passed) = exam(&store, 15).await;
    roster.protocol_approved = true;
    store.put_roster(&roster, "portal").await.unwrap();
    job(&store, &roster.exam_id, "J1", None).await;
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, 15);
    let import = certscan_domain::import_fis(&roster, "fis.csv", &fis).unwrap();
    let record = import.records.iter().find(|r| r.application_id == passed[0]).unwrap().clone();
    let mut attached = page(1, "attached", Some(&passed[0]), Some("77 0000001"));
    attached.report.registration_number = Some(record.registration_number.clone());
    attached.report.issue_date = Some(record.issue_date.format("%Y-%m-%d").to_string());
    store.commit_job("J1", vec![attached], 0.1).await.unwrap();

    // The same file again changes nothing attached: accepted.
    store.put_fis_import(&roster.exam_id, "fis.csv", &import, "ct").await.unwrap();
    // Another number for the attached application: refused, naming it; the stored import stays.
    let mut changed = import.clone();
    changed.records.iter_mut().find(|r| r.application_id == passed[0]).unwrap().registration_number = "77-9999-999999".into();
    let err = store.put_fis_import(&roster.exam_id, "fis2.csv", &changed, "ct").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains(&passed[0]) && m.contains("77-9999-999999") && m.contains("unattach")),
        "{err}"
    );
    assert_eq!(store.fis_import(&roster.exam_id).await.unwrap().unwrap(), import);

    // A roster renaming the attached application, changing its birth date or withdrawing the protocol:
    // refused with each change listed; other applications may change.
    let mut renamed = roster.clone();
    let app = renamed.applications.iter_mut().find(|a| a.application_id == passed[0]).unwrap();
    app.surname = "Другая".into();
    app.birth_date = app.birth_date.succ_opt().unwrap();
    renamed.protocol_approved = false;
    let err = store.put_roster(&renamed, "portal").await.unwrap_err();
    let message = match err {
        StoreError::Conflict(message) => message,
        other => panic!("expected a conflict, got {other}"),
    };
    assert!(message.contains("Другая") && message.contains("birth date") && message.contains("protocol"), "{message}");
    assert_eq!(store.roster(&roster.exam_id).await.unwrap().unwrap(), roster);
    let mut other = roster.clone();
    other.applications.iter_mut().find(|a| a.application_id == passed[1]).unwrap().surname = "Новая".into();
    store.put_roster(&other, "portal").await.unwrap();

    // Once unattached, the change goes through.
    store.unattach(&passed[0], "renamed", "ct").await.unwrap();
    store.put_fis_import(&roster.exam_id, "fis2.csv", &changed, "ct").await.unwrap();
    store.close().await;
}

async fn concurrent_decisions_wait_for_each_other_and_the_loser_gets_a_conflict(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, _) = sample(16, 30);
    store.put_roster(&roster, "portal").await.unwrap();
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, 16);
    store.put_fis_import(&roster.exam_id, "fis.csv", &certscan_domain::import_fis(&roster, "fis.csv", &fis).unwrap(), "ct").await.unwrap();
    let passed: Vec<String> = roster.passed().map(|a| a.application_id.clone()).collect();
    let n = passed.len();
    assert!(n >= 10, "{n}");
    job(&store, &roster.exam_id, "J1", None).await;
    store.commit_job("J1", (1..=2 * n).map(|p| page(p, "review", None, None)).collect(), 0.1).await.unwrap();
    let items = store.review_items(&roster.exam_id, true).await.unwrap();

    // Different items to different applications at once: every one succeeds.
    let assigns = passed.iter().enumerate().map(|(i, app)| {
        let store = store.clone();
        let item = items[i].item_id.clone();
        let blank = format!("77 {:07}", i + 1);
        async move { store.assign_review(&item, app, Some(&blank), "ct").await }
    });
    for result in futures_util::future::join_all(assigns).await {
        result.expect("independent decisions do not fail each other");
    }

    // Two decisions on one item at once: one wins, the other is a conflict (never "unavailable").
    store.unattach(&passed[0], "again", "ct").await.unwrap();
    let races = (0..n).map(|i| {
        let store = store.clone();
        let item = items[n + i].item_id.clone();
        let app = passed[0].clone();
        async move {
            let blank = format!("78 {:07}", i + 1);
            let assign = store.assign_review(&item, &app, Some(&blank), "ct");
            let dismiss = store.dismiss_review(&item, "not ours", "ct");
            let (a, d) = tokio::join!(assign, dismiss);
            (a.map(|_| ()), d.map(|_| ()))
        }
    });
    let mut assigns_won = 0;
    for (assign, dismiss) in futures_util::future::join_all(races).await {
        assigns_won += usize::from(assign.is_ok());
        match (&assign, &dismiss) {
            (Ok(()), Err(e)) | (Err(e), Ok(())) => assert!(matches!(e, StoreError::Conflict(_)), "the loser: {e}"),
            // Both may lose the assignment's own checks (the application got its scan from another race).
            (Err(a), Err(d)) => panic!("both lost: {a} / {d}"),
            (Ok(()), Ok(())) => panic!("both won"),
        }
    }
    // Which decision wins a race is the databases' business (on PostgreSQL the dismissal may win every
    // one): the application has a scan exactly when an assignment won, and at most one can (the next
    // finds the application attached).
    assert!(assigns_won <= 1, "{assigns_won} assignments of one application won");
    assert_eq!(store.attachment(&passed[0]).await.unwrap().is_some(), assigns_won == 1);
    store.close().await;
}

async fn answered_review_items_close_and_the_same_sheet_is_listed_once(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (roster, passed) = exam(&store, 17).await;
    let other_exam = "the code is for exam EX-9 (application A-9), not this one";
    job(&store, &roster.exam_id, "J1", None).await;
    store
        .commit_job(
            "J1",
            vec![
                review_page(1, "blank_number_unreadable", "blank number unread", Some(&passed[0]), None),
                review_page(2, "other_exam", other_exam, None, Some("77 0000042")),
                review_page(3, "code_unreadable", "", None, None),
            ],
            0.1,
        )
        .await
        .unwrap();
    assert_eq!(store.review_items(&roster.exam_id, true).await.unwrap().len(), 3);

    // The same sheets uploaded again: the other exam's page is not listed twice; an unreadable page
    // (nothing to tell it by) is.
    job(&store, &roster.exam_id, "J2", None).await;
    let report = store
        .commit_job(
            "J2",
            vec![review_page(1, "other_exam", other_exam, None, Some("77 0000042")), review_page(2, "code_unreadable", "", None, None)],
            0.1,
        )
        .await
        .unwrap();
    assert!(report.pages[0].detail.as_deref().unwrap().contains("not listed again"), "{:?}", report.pages[0]);
    let open = store.review_items(&roster.exam_id, true).await.unwrap();
    assert_eq!(open.iter().filter(|i| i.reason == "other_exam").count(), 1);
    assert_eq!(open.iter().filter(|i| i.reason == "code_unreadable").count(), 2);

    // The application gets attached from a later upload: its "blank number unreadable" item is answered.
    job(&store, &roster.exam_id, "J3", None).await;
    store.commit_job("J3", vec![page(1, "attached", Some(&passed[0]), Some("77 0000001"))], 0.1).await.unwrap();
    let all = store.review_items(&roster.exam_id, false).await.unwrap();
    let answered = all.iter().find(|i| i.reason == "blank_number_unreadable").unwrap();
    assert_eq!(answered.state, "resolved");
    assert!(answered.decision_note.as_deref().unwrap().contains("J3"), "{answered:?}");
    assert_eq!(store.review_items(&roster.exam_id, true).await.unwrap().len(), 3, "the others stay open");
    store.close().await;
}
