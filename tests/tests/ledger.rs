//! The blank ledger: the store's guards on both backends (packs, overlaps, write-offs, the job commit's
//! cross-exam check, the per-pack report), and the service over HTTP on PostgreSQL with a recognised
//! scan (a number outside every pack → `blank_not_in_ledger`, a number used in another exam →
//! `conflicting_scans`, write-off, report in JSON, CSV and XLSX, 409 on overlap).

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;

use certscan_api::server::start;
use certscan_domain::ledger::{BlankState, Pack};
use certscan_fixtures::{Level, PageKind};
use certscan_pipeline::report::PageReport;
use certscan_workers::store::{NewJob, PageResult, PutPack, Store, StoreError};

use crate::support::{engine, exam_files, sample, service_settings, Api, TestDb};

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

contract!(the_store_keeps_the_ledger_and_checks_attachments_against_it);

/// An exam with its FIS FRDO import stored; its passed applications.
async fn exam(store: &Store, seed: u64) -> (String, Vec<String>) {
    let (roster, _) = sample(seed, 12);
    store.put_roster(&roster, "portal").await.unwrap();
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
    let import = certscan_domain::import_fis(&roster, "fis.csv", &fis).unwrap();
    store.put_fis_import(&roster.exam_id, "fis.csv", &import, "ct").await.unwrap();
    (roster.exam_id.clone(), roster.passed().map(|a| a.application_id.clone()).collect())
}

/// A page the scan alone would attach (as the report JSON reads, so new optional fields do not matter).
fn attached(n: usize, app: &str, blank: &str) -> PageResult {
    let report: PageReport = serde_json::from_value(json!({
        "page": n, "outcome": "attached", "application_id": app, "registration_number": format!("REG-{app}"),
        "issue_date": "2025-12-31", "blank_number": blank, "confidence": 0.97, "reason": null, "file": null,
        "orientation_deg": 0, "skew_deg": 0.0, "straightened_from": "code",
    }))
    .unwrap();
    PageResult { report, object_key: Some(format!("pages/x/{n:05}.pdf")) }
}

/// Commits one job of attached pages; (outcome, reason) per page.
async fn commit(store: &Store, exam_id: &str, job_id: &str, pages: Vec<PageResult>) -> Vec<(String, Option<String>)> {
    store
        .create_job(&NewJob {
            job_id: job_id.into(),
            exam_id: exam_id.into(),
            application_id: None,
            object_key: format!("scans/{job_id}"),
            file_name: None,
            submitted_by: Some("ct".into()),
        })
        .await
        .unwrap();
    store.start_job(job_id).await.unwrap();
    let report = store.commit_job(job_id, pages, 0.1).await.unwrap();
    report.pages.into_iter().map(|p| (p.outcome, p.reason)).collect()
}

/// (outcome, reason) as `commit` returns them.
fn outcome(outcome: &str, reason: Option<&str>) -> (String, Option<String>) {
    (outcome.to_string(), reason.map(str::to_string))
}

fn pack(id: &str, first: &str, last: &str) -> Pack {
    Pack::new(id, "51", first, last, Some("2026-11-01"), Some("from the print house")).unwrap()
}

async fn the_store_keeps_the_ledger_and_checks_attachments_against_it(db: &TestDb) {
    let store = Store::connect(&db.url).await.unwrap();
    let (exam_a, apps_a) = exam(&store, 41).await;
    let (exam_b, apps_b) = exam(&store, 42).await;
    assert!(store.ledger().await.unwrap().packs.is_empty());

    // Without packs nothing is judged: any number attaches.
    assert_eq!(commit(&store, &exam_b, "J0", vec![attached(1, &apps_b[1], "99 0000001")]).await, vec![outcome("attached", None)]);

    assert_eq!(store.put_pack(&pack("P1", "0375100", "0375119"), "ct").await.unwrap(), PutPack::Created);
    assert_eq!(store.put_pack(&pack("P1", "0375100", "0375119"), "ct").await.unwrap(), PutPack::Replaced);
    let err = store.put_pack(&pack("P2", "0375110", "0375130"), "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("overlaps pack P1")), "{err}");
    assert!(store.pack("P2").await.unwrap().is_none(), "a refused pack stores nothing");

    // Exam B uses 105; exam A then reads 105 (another exam's), 200 (no pack) and 106 (free).
    assert_eq!(commit(&store, &exam_b, "J1", vec![attached(1, &apps_b[0], "51 0375105")]).await, vec![outcome("attached", None)]);
    let outcomes = commit(
        &store,
        &exam_a,
        "J2",
        vec![attached(1, &apps_a[0], "51 0375105"), attached(2, &apps_a[1], "51 0375200"), attached(3, &apps_a[2], "51 0375106")],
    )
    .await;
    assert_eq!(
        outcomes,
        vec![outcome("review", Some("conflicting_scans")), outcome("review", Some("blank_not_in_ledger")), outcome("attached", None)]
    );

    // Write-offs: a free number once; never a used one, twice, or one outside the pack.
    let spoiled = store.spoil_blank("P1", "51 0375107", "jammed in the printer", "ct").await.unwrap();
    assert_eq!((spoiled.reason.as_str(), spoiled.by.as_str()), ("jammed in the printer", "ct"));
    for (blank, needle) in [("51 0375105", "used"), ("51 0375107", "already written off"), ("51 0375300", "not in pack")] {
        let err = store.spoil_blank("P1", blank, "x", "ct").await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(ref m) if m.contains(needle)), "{blank}: {err}");
    }
    assert!(matches!(store.spoil_blank("P9", "51 0375107", "x", "ct").await.unwrap_err(), StoreError::NotFound(_)));
    // A written-off blank read on a scan is not attached.
    assert_eq!(
        commit(&store, &exam_a, "J3", vec![attached(1, &apps_a[0], "51 0375107")]).await,
        vec![outcome("review", Some("blank_not_in_ledger"))]
    );

    // A person assigning that page is held to the ledger too: not the written-off blank, a free one.
    let item = store.review_items(&exam_a, true).await.unwrap().into_iter().find(|i| i.job_id == "J3").unwrap();
    assert_eq!(item.reason, "blank_not_in_ledger");
    let err = store.assign_review(&item.item_id, &apps_a[0], None, "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("written off")), "{err}");
    let err = store.assign_review(&item.item_id, &apps_a[0], Some("51 0375999"), "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("no registered pack")), "{err}");
    store.assign_review(&item.item_id, &apps_a[0], Some("51 0375108"), "ct").await.unwrap();

    // A replacement may not leave out a used or a written-off number.
    let err = store.put_pack(&pack("P1", "0375106", "0375119"), "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("51 0375105")), "{err}");
    store.spoil_blank("P1", "51 0375119", "torn", "ct").await.unwrap();
    let err = store.put_pack(&pack("P1", "0375100", "0375118"), "ct").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(ref m) if m.contains("51 0375119") && m.contains("written off")), "{err}");
    assert_eq!(store.put_pack(&pack("P1", "0375100", "0375124"), "ct").await.unwrap(), PutPack::Replaced, "growing is fine");

    let (p, counts, rows) = store.pack_report("P1").await.unwrap().unwrap();
    assert_eq!(p.last, "0375124");
    assert_eq!(rows.len(), 25);
    let by_number: BTreeMap<&str, _> = rows.iter().map(|r| (r.blank_number.as_str(), r)).collect();
    assert_eq!(by_number.len(), 25, "every number exactly once");
    assert_eq!(by_number["51 0375105"].state, BlankState::Used);
    assert_eq!(by_number["51 0375105"].exam_id.as_deref(), Some(exam_b.as_str()));
    assert_eq!(by_number["51 0375106"].application_id.as_deref(), Some(apps_a[2].as_str()));
    assert_eq!(by_number["51 0375107"].state, BlankState::Spoiled);
    assert_eq!(by_number["51 0375107"].reason.as_deref(), Some("jammed in the printer"));
    assert_eq!(by_number["51 0375108"].application_id.as_deref(), Some(apps_a[0].as_str()));
    assert_eq!(rows.iter().filter(|r| r.state == BlankState::Free).count(), 20);
    assert_eq!((counts.used, counts.spoiled, counts.free), (3, 2, 20));
    let listed = store.packs_with_counts().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].counts, counts);
    let ledger = store.ledger().await.unwrap();
    assert!(ledger.used.contains_key("51 0375105") && ledger.spoiled.contains_key("51 0375107"));
    store.close().await;
}

/// The service on PostgreSQL (embedded queue) with a recognised scan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_judges_scans_by_the_blank_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::postgres().await;
    let service = start(&service_settings(dir.path(), &db.url, None), engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let files = exam_files(43, 6, Level::Clean);
    let exam_id = files.roster.exam_id.clone();
    let certificates: Vec<(usize, String)> = files
        .scan
        .truth
        .pages
        .iter()
        .filter(|p| p.kind == PageKind::Certificate)
        .map(|p| (p.page, p.blank_number.clone().unwrap()))
        .collect();
    assert!(certificates.len() >= 3, "the sample has certificates");
    let mut numbers: Vec<&str> = certificates.iter().map(|(_, b)| b.as_str()).collect();
    numbers.sort();
    let (series, lowest) = numbers[0].split_once(' ').unwrap();
    assert!(numbers.iter().all(|n| n.starts_with(series)), "one stack, one series");
    let highest = *numbers.last().unwrap();
    let used_elsewhere = numbers[1];
    let width = lowest.len();
    let n = |s: &str| s.split_once(' ').unwrap().1.parse::<u64>().unwrap();
    let (first, last) = (n(numbers[0]).saturating_sub(10), n(highest) - 1);
    let fmt = |v: u64| format!("{v:0width$}");

    // The pack holds every number of the stack but its highest.
    let body = json!({"series": series, "first": fmt(first), "last": fmt(last), "received_on": "2026-11-01", "note": "pack 1"});
    let (status, created) = api.json(Method::PUT, "/v1/blank-packs/P-1", Some(serde_json::to_vec(&body).unwrap())).await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = api.json(Method::PUT, "/v1/blank-packs/P-1", Some(serde_json::to_vec(&body).unwrap())).await;
    assert_eq!(status, 200, "replaced");
    let overlap = json!({"series": series, "first": fmt(last), "last": fmt(last + 5), "received_on": "2026-11-02"});
    let (status, err) = api.json(Method::PUT, "/v1/blank-packs/P-2", Some(serde_json::to_vec(&overlap).unwrap())).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("pack_conflict")), "{err}");
    let bad = json!({"series": "5", "first": "1", "last": "2", "received_on": "2026-11-02"});
    let (status, err) = api.json(Method::PUT, "/v1/blank-packs/P-3", Some(serde_json::to_vec(&bad).unwrap())).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("series")), "{err}");

    // Another exam already used one of the stack's numbers.
    let store = Store::connect(&db.url).await.unwrap();
    let (other_exam, apps_other) = exam(&store, 44).await;
    assert_eq!(commit(&store, &other_exam, "J-OTHER", vec![attached(1, &apps_other[0], used_elsewhere)]).await[0].0, "attached");

    let (status, body) = api.json(Method::PUT, &format!("/v1/exams/{exam_id}"), Some(files.roster_json.clone())).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam_id}/fis-frdo"), Some(files.fis_csv.clone())).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam_id}/scans"), Some(files.scan.bytes.clone())).await;
    assert_eq!(status, 202, "{body}");
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 300).await;
    assert_eq!(job["state"], "done", "{job}");
    for (page, blank) in &certificates {
        let p = job["report"]["pages"].as_array().unwrap().iter().find(|p| p["page"].as_u64() == Some(*page as u64)).unwrap();
        let expected = if blank == highest {
            ("review", Some("blank_not_in_ledger"))
        } else if blank == used_elsewhere {
            ("review", Some("conflicting_scans"))
        } else {
            ("attached", None)
        };
        assert_eq!((p["outcome"].as_str().unwrap(), p["reason"].as_str()), expected, "{p}");
    }

    // Write-offs: a free number (below the stack), not a used one.
    let free = format!("{series} {}", fmt(first));
    let (status, body) = api
        .json(
            Method::POST,
            "/v1/blank-packs/P-1/spoiled",
            Some(serde_json::to_vec(&json!({"blank_number": free, "reason": "=torn"})).unwrap()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api
        .json(
            Method::POST,
            "/v1/blank-packs/P-1/spoiled",
            Some(serde_json::to_vec(&json!({"blank_number": numbers[0], "reason": "x"})).unwrap()),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = api
        .json(
            Method::POST,
            "/v1/blank-packs/P-1/spoiled",
            Some(serde_json::to_vec(&json!({"blank_number": highest, "reason": "x"})).unwrap()),
        )
        .await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("blank_number")), "{body}");

    // The report: every number of the pack once, with its state.
    let (status, report) = api.json(Method::GET, "/v1/blank-packs/P-1/report", None).await;
    assert_eq!(status, 200, "{report}");
    let rows = report["blanks"].as_array().unwrap();
    assert_eq!(rows.len() as u64, last - first + 1);
    let states: BTreeMap<&str, &str> = rows.iter().map(|r| (r["blank_number"].as_str().unwrap(), r["state"].as_str().unwrap())).collect();
    assert_eq!(states.len(), rows.len(), "every number exactly once");
    assert_eq!(states[free.as_str()], "spoiled");
    assert_eq!(states[used_elsewhere], "used");
    let attached_here = certificates.len() - 2;
    assert_eq!(states.values().filter(|s| **s == "used").count(), attached_here + 1);
    assert_eq!(report["counts"], json!({"used": attached_here + 1, "spoiled": 1, "free": rows.len() - attached_here - 2}));
    let (_, packs) = api.json(Method::GET, "/v1/blank-packs", None).await;
    assert_eq!(packs["packs"][0]["counts"], report["counts"], "{packs}");

    let resp = api.request(Method::GET, "/v1/blank-packs/P-1/report?format=csv").send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = resp.text().await.unwrap();
    assert_eq!(csv.lines().count(), rows.len() + 1, "a header and a line per number");
    assert!(csv.contains(";'=torn;"), "a formula-leading reason is neutralised");
    let (status, xlsx) = api.bytes("/v1/blank-packs/P-1/report?format=xlsx").await;
    assert_eq!(status, 200);
    assert!(xlsx.starts_with(b"PK"), "an XLSX file (a zip)");
    let (status, _) = api.json(Method::GET, "/v1/blank-packs/P-1/report?format=pdf", None).await;
    assert_eq!(status, 400);
    store.close().await;
    service.stop().await;
}

/// Only the testing center registers packs, writes blanks off and reads the report; every role lists packs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_guard_the_blank_ledger() {
    use certscan_workers::settings::{ApiToken, Role};
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let mut settings = service_settings(dir.path(), &db.url, None);
    let token = |name: &str, role: Role| ApiToken { name: name.into(), role, token: format!("{name}-secret-0123456789") };
    settings.tokens = vec![token("flow", Role::Portal), token("ct", Role::TestingCenter), token("viewer", Role::ReadOnly)];
    let service = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let anonymous = Api::new(service.addr);
    let (portal, ct, viewer) = (
        anonymous.with_token("flow-secret-0123456789"),
        anonymous.with_token("ct-secret-0123456789"),
        anonymous.with_token("viewer-secret-0123456789"),
    );
    let body = serde_json::to_vec(&json!({"series": "51", "first": "0375100", "last": "0375199", "received_on": "2026-11-01"})).unwrap();
    let spoil = serde_json::to_vec(&json!({"blank_number": "51 0375170", "reason": "torn"})).unwrap();
    for api in [&portal, &viewer] {
        assert_eq!(api.json(Method::PUT, "/v1/blank-packs/P-1", Some(body.clone())).await.0, 403);
    }
    assert_eq!(ct.json(Method::PUT, "/v1/blank-packs/P-1", Some(body.clone())).await.0, 201);
    assert_eq!(viewer.json(Method::POST, "/v1/blank-packs/P-1/spoiled", Some(spoil.clone())).await.0, 403);
    let (status, body) = ct.json(Method::POST, "/v1/blank-packs/P-1/spoiled", Some(spoil.clone())).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = ct.json(Method::POST, "/v1/blank-packs/P-1/spoiled", Some(spoil)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("blank_conflict")), "{body}");
    assert_eq!(viewer.json(Method::GET, "/v1/blank-packs/P-1/report", None).await.0, 403);
    let (status, packs) = viewer.json(Method::GET, "/v1/blank-packs", None).await;
    assert_eq!(status, 200);
    assert_eq!(packs["packs"][0]["counts"], json!({"used": 0, "spoiled": 1, "free": 99}), "{packs}");
    assert_eq!(anonymous.json(Method::GET, "/v1/blank-packs", None).await.0, 401);
    service.stop().await;
}
