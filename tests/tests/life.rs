//! The certificate's whole life over HTTP (issue 14), on SQLite and on PostgreSQL: roster → FIS FRDO →
//! certificates → scan → `uploaded` → the issuance register generated (XLSX and PDF) → `on_signing` →
//! the signed register simulated (signatures in the cells, row 2 left empty) and scanned into a
//! certificate upload → its page routes itself → `review_required` with the signature check showing the
//! empty row (and its crop) → `under_review` → `rejected` with a reason → a new version; a scan of the
//! old one refused with that reason → the new one uploaded → `approved`; the handover of every application → `done`; the exam list filtered at each step; every
//! change in `GET /v1/events`, in order. Also: an exam where nobody passed, and the events' delivery to
//! a RabbitMQ topic exchange and to a webhook.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};

use certscan_api::server::start;
use certscan_domain::register::RegisterRow;
use certscan_fixtures::{Level, PageKind, RegisterToSign};
use certscan_templates::register::RegisterDocument;

use crate::support::{amqp_url, engine, exam_files, service_settings, Api, TestDb};

macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$name(crate::support::TestDb::sqlite().await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$name(crate::support::TestDb::postgres().await).await;
            }
        }
    };
}

on_both!(the_certificate_life_over_http);
on_both!(an_exam_where_nobody_passed_needs_nothing);

fn body(v: Value) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(&v).unwrap())
}

/// The exam ids the list gives for a filter (every page, following the cursor with pages of 1).
async fn listed(api: &Api, filter: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/exams?{filter}&limit=1&cursor={c}"),
            None => format!("/v1/exams?{filter}&limit=1"),
        };
        let (status, page) = api.json(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{page}");
        for e in page["exams"].as_array().unwrap() {
            ids.push(e["exam_id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
}

/// Asserts where the exam is listed: under exactly this certificate status and register status.
async fn listed_under(api: &Api, exam: &str, certificate: &str, register: &str) {
    assert!(listed(api, &format!("certificate_status={certificate}")).await.contains(&exam.to_string()), "{exam} under {certificate}");
    assert!(listed(api, &format!("register_status={register}")).await.contains(&exam.to_string()), "{exam} under {register}");
    assert!(
        listed(api, &format!("certificate_status={certificate}&register_status={register}")).await.contains(&exam.to_string()),
        "{exam} under both"
    );
    for other in ["generation_impossible", "generation_possible", "on_signing", "review_required", "under_review", "approved", "rejected"] {
        if other != register {
            assert!(!listed(api, &format!("register_status={other}")).await.contains(&exam.to_string()), "{exam} not under {other}");
        }
    }
}

async fn register(api: &Api, exam: &str) -> Value {
    let (status, r) = api.json(Method::GET, &format!("/v1/exams/{exam}/register"), None).await;
    assert_eq!(status, 200, "{r}");
    r
}

async fn all_events(api: &Api, exam: &str) -> Vec<Value> {
    // Pages of 3, each starting after the last one seen.
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = api.json(Method::GET, &format!("/v1/events?after={after}&limit=3&exam_id={exam}"), None).await;
        assert_eq!(status, 200, "{page}");
        let batch = page["events"].as_array().unwrap().clone();
        if batch.is_empty() {
            assert_eq!(page["last_seq"].as_i64(), Some(after));
            return events;
        }
        after = page["last_seq"].as_i64().unwrap();
        assert_eq!(batch.last().unwrap()["seq"].as_i64(), Some(after));
        events.extend(batch);
    }
}

async fn the_certificate_life_over_http(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let service = start(&service_settings(dir.path(), &db.url, None), engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let files = exam_files(41, 4, Level::Clean);
    let exam = files.roster.exam_id.clone();
    let passed: Vec<String> = files.roster.passed().map(|a| a.application_id.clone()).collect();
    let not_passed =
        files.roster.applications.iter().find(|a| a.outcome != certscan_domain::Outcome::Passed).map(|a| a.application_id.clone());

    let (status, _) = api.json(Method::PUT, &format!("/v1/exams/{exam}"), Some(files.roster_json.clone())).await;
    assert_eq!(status, 201);
    listed_under(&api, &exam, "generation_required", "generation_impossible").await;
    let (status, e) = api.json(Method::POST, &format!("/v1/exams/{exam}/register"), None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("invalid_transition")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("generation_impossible"), "{e}");

    api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(files.fis_csv.clone())).await;
    let resp = api.request(Method::POST, &format!("/v1/exams/{exam}/certificates")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    listed_under(&api, &exam, "upload_required", "generation_impossible").await;

    let (_, job) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(files.scan.bytes.clone())).await;
    let job = api.finished_job(job["job_id"].as_str().unwrap(), 300).await;
    let certificates = files.scan.truth.pages.iter().filter(|p| p.kind == PageKind::Certificate).count();
    assert_eq!(job["pages"]["attached"].as_u64().unwrap() as usize, certificates, "{job}");
    assert_eq!(certificates, passed.len());
    listed_under(&api, &exam, "uploaded", "generation_possible").await;

    // Every attached application reads «Требуется выдать сертификат» until the handover.
    let (_, status) = api.json(Method::GET, &format!("/v1/exams/{exam}/certificates/status"), None).await;
    for a in status["applications"].as_array().unwrap() {
        let id = a["application_id"].as_str().unwrap();
        if passed.iter().any(|p| p == id) {
            assert_eq!(a["status"], json!({"code": "certificate_issue_required", "label": "Требуется выдать сертификат"}), "{a}");
        }
    }

    // The register: generated, downloaded (XLSX, PDF) by the exam site → on signing.
    let r = register(&api, &exam).await;
    assert_eq!((r["status"]["code"].as_str(), r["version"].as_i64()), (Some("generation_possible"), None), "{r}");
    let (status, r) = api.json(Method::POST, &format!("/v1/exams/{exam}/register"), None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["status"]["code"].as_str(), r["version"].as_i64()), (Some("generation_possible"), Some(1)), "{r}");
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), passed.len());
    let truth_blanks: BTreeMap<String, String> = files
        .scan
        .truth
        .pages
        .iter()
        .filter(|p| p.kind == PageKind::Certificate)
        .map(|p| (p.application_id.clone().unwrap(), p.blank_number.clone().unwrap()))
        .collect();
    for row in rows {
        let app = row["application_id"].as_str().unwrap();
        assert_eq!(row["blank_number"].as_str(), truth_blanks.get(app).map(String::as_str), "{row}");
    }
    let (status, xlsx) = api.bytes(&format!("/v1/exams/{exam}/register/document?format=xlsx")).await;
    assert_eq!(status, 200);
    {
        use calamine::Reader;
        let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        let sheet = book.worksheet_range("Реестр").unwrap();
        let text: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        let head = text.iter().position(|r| r[0] == "№").expect("the table head");
        for app in files.roster.passed() {
            let row =
                text.iter().find(|r| r.len() > 4 && r[1] == app.full_name()).unwrap_or_else(|| panic!("{} in {text:?}", app.full_name()));
            assert_eq!(&row[4], truth_blanks.get(&app.application_id).unwrap());
        }
        assert_eq!(text.iter().skip(head + 1).filter(|r| r[0].parse::<usize>().is_ok()).count(), passed.len());
    }
    assert_eq!(register(&api, &exam).await["status"]["code"], "on_signing", "the exam site's first download");
    let (status, pdf) = api.bytes(&format!("/v1/exams/{exam}/register/document?format=pdf")).await;
    assert_eq!(status, 200);
    assert_eq!(engine().page_count(&pdf).unwrap(), 1);
    listed_under(&api, &exam, "uploaded", "on_signing").await;

    // The signed register (a signature drawn in every row's cell but row 2's, scanner effects) scanned
    // into the same stack as the certificates and uploaded as a certificate upload: its page routes
    // itself to the register; the certificates, already attached, are duplicates.
    let rows_v1: Vec<RegisterRow> = serde_json::from_value(register(&api, &exam).await["rows"].clone()).unwrap();
    let document_v1 = RegisterDocument::new(&files.roster, 1, &rows_v1);
    assert_eq!(engine().page_count(&document_v1.to_pdf().unwrap()).unwrap(), 1, "the server's document is the one simulated");
    let signed = certscan_fixtures::simulate_with_register(
        engine(),
        &certscan_templates::reference(),
        &files.roster,
        &files.certificates_pdf,
        &files.options,
        Some(&RegisterToSign { document: &document_v1, unsigned_rows: vec![2] }),
    )
    .unwrap();
    let register_page = signed.register.as_ref().unwrap().file_pages[0];
    let (status, job) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(signed.bytes.clone())).await;
    assert_eq!(status, 202, "{job}");
    let job = api.finished_job(job["job_id"].as_str().unwrap(), 300).await;
    let pages = job["report"]["pages"].as_array().unwrap();
    let page = pages.iter().find(|p| p["page"].as_u64() == Some(register_page as u64)).unwrap();
    assert_eq!(page["outcome"], "register", "{page}");
    assert_eq!((page["register"]["version"].as_u64(), page["register"]["page"].as_u64()), (Some(1), Some(1)), "{page}");
    assert_eq!(job["report"]["summary"]["register"].as_u64(), Some(1), "{job}");
    assert_eq!(job["pages"]["attached"].as_u64(), Some(0), "{job}");
    // Every certificate again (and the stack's own second scan of one) is a duplicate of its attachment.
    let rescans = files.scan.truth.pages.iter().filter(|p| p.kind == PageKind::Duplicate).count();
    assert_eq!(job["pages"]["duplicate"].as_u64().unwrap() as usize, certificates + rescans, "{job}");
    let r = register(&api, &exam).await;
    assert_eq!(r["status"]["code"], "review_required", "{r}");
    listed_under(&api, &exam, "uploaded", "review_required").await;
    let s = &r["signatures"];
    let n = passed.len();
    assert_eq!((s["checked"].as_bool(), s["signed"].as_u64(), s["empty"].as_u64()), (Some(true), Some(n as u64 - 1), Some(1)), "{s}");
    assert_eq!(s["summary"], format!("{} of {n} signed; row 2 empty", n - 1), "{s}");
    assert_eq!(s["rows"][1]["verdict"], "empty", "{s}");
    assert!(r["scan"]["problems"].as_array().unwrap().is_empty(), "{r}");
    let (status, png) = api.bytes(s["rows"][1]["crop_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(png.starts_with(b"\x89PNG"), "the crop of row 2's cell is a PNG");
    let (status, _) = api.bytes(&format!("/v1/exams/{exam}/register/signatures/99")).await;
    assert_eq!(status, 404, "no such row");

    // Review; an impossible step names the current status.
    let (status, e) = api.json(Method::POST, &format!("/v1/exams/{exam}/register/approve"), None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("invalid_transition")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap().contains("review_required"), "{e}");
    let (status, r) = api.json(Method::POST, &format!("/v1/exams/{exam}/register/review"), None).await;
    assert_eq!((status, r["status"]["code"].as_str()), (200, Some("under_review")), "{r}");
    listed_under(&api, &exam, "uploaded", "under_review").await;
    let (status, _) = api.json(Method::POST, &format!("/v1/exams/{exam}/register/reject"), body(json!({"reason": " "}))).await;
    assert_eq!(status, 422, "a rejection needs its reason");
    let (status, r) =
        api.json(Method::POST, &format!("/v1/exams/{exam}/register/reject"), body(json!({"reason": "строка 2 без подписи"}))).await;
    assert_eq!((status, r["status"]["code"].as_str(), r["reason"].as_str()), (200, Some("rejected"), Some("строка 2 без подписи")), "{r}");
    assert_eq!(register(&api, &exam).await["reason"], "строка 2 без подписи", "the exam site reads the reason");
    listed_under(&api, &exam, "uploaded", "rejected").await;

    // The exam site prints a new version; a scan of the old one is refused with that reason and the
    // register stays on signing; the new one, signed in every row, goes to review.
    let (status, r) = api.json(Method::POST, &format!("/v1/exams/{exam}/register"), None).await;
    assert_eq!((status, r["version"].as_i64()), (200, Some(2)), "{r}");
    assert_eq!(r["signatures"]["checked"], false, "a new version has no check yet: {r}");
    let (status, _) = api.bytes(&format!("/v1/exams/{exam}/register/document?format=pdf")).await;
    assert_eq!(status, 200);
    assert_eq!(register(&api, &exam).await["status"]["code"], "on_signing");
    let all_signed_v1 = certscan_fixtures::simulate_signed_register(
        engine(),
        &RegisterToSign { document: &document_v1, unsigned_rows: vec![] },
        &files.options,
    )
    .unwrap();
    let (status, job) = api.json(Method::POST, &format!("/v1/exams/{exam}/register/scans"), Some(all_signed_v1.bytes)).await;
    assert_eq!(status, 202, "{job}");
    let job = api.finished_job(job["job_id"].as_str().unwrap(), 300).await;
    let page = &job["report"]["pages"][0];
    assert_eq!((page["outcome"].as_str(), page["reason"].as_str()), (Some("review"), Some("register_outdated")), "{page}");
    assert!(page["detail"].as_str().unwrap().contains("current version is 2"), "{page}");
    assert_eq!(register(&api, &exam).await["status"]["code"], "on_signing", "an older version does not move the register");
    let rows_v2: Vec<RegisterRow> = serde_json::from_value(register(&api, &exam).await["rows"].clone()).unwrap();
    let document_v2 = RegisterDocument::new(&files.roster, 2, &rows_v2);
    let signed_v2 = certscan_fixtures::simulate_signed_register(
        engine(),
        &RegisterToSign { document: &document_v2, unsigned_rows: vec![] },
        &files.options,
    )
    .unwrap();
    let (status, job) = api.json(Method::POST, &format!("/v1/exams/{exam}/register/scans"), Some(signed_v2.bytes.clone())).await;
    assert_eq!(status, 202, "{job}");
    api.finished_job(job["job_id"].as_str().unwrap(), 300).await;
    let r = register(&api, &exam).await;
    assert_eq!((r["status"]["code"].as_str(), r["scan"]["version"].as_i64()), (Some("review_required"), Some(2)), "{r}");
    // The refused scan of version 1 is answered by the scan of version 2: its review item is closed.
    let (status, items) = api.json(Method::GET, &format!("/v1/exams/{exam}/review?state=all"), None).await;
    assert_eq!(status, 200, "{items}");
    let outdated: Vec<&Value> = items["items"].as_array().expect("items").iter().filter(|i| i["reason"] == "register_outdated").collect();
    assert_eq!(outdated.len(), 1, "{items}");
    assert_eq!(outdated[0]["state"], "resolved", "{items}");
    assert_eq!(r["signatures"]["summary"], format!("{n} of {n} signed"), "{r}");
    api.json(Method::POST, &format!("/v1/exams/{exam}/register/review"), None).await;
    let (status, r) = api.json(Method::POST, &format!("/v1/exams/{exam}/register/approve"), None).await;
    assert_eq!((status, r["status"]["code"].as_str()), (200, Some("approved")), "{r}");
    listed_under(&api, &exam, "uploaded", "approved").await;
    let (status, e) = api.json(Method::POST, &format!("/v1/exams/{exam}/register/scans"), Some(signed_v2.bytes)).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("invalid_transition")), "{e}");

    // The handover: refused without a scan; every passed application → done; an undo with a reason.
    if let Some(app) = &not_passed {
        let (status, e) = api.json(Method::POST, &format!("/v1/applications/{app}/handover"), None).await;
        assert_eq!(status, 409, "{e}");
    }
    for app in &passed {
        let (status, h) =
            api.json(Method::POST, &format!("/v1/applications/{app}/handover"), body(json!({"handed_over_on": "2026-01-15"}))).await;
        assert_eq!((status, h["status"]["code"].as_str(), h["handed_over_on"].as_str()), (200, Some("done"), Some("2026-01-15")), "{h}");
    }
    let (status, _) = api.json(Method::POST, &format!("/v1/applications/{}/handover", passed[0]), None).await;
    assert_eq!(status, 409, "handed over once");
    let (status, u) =
        api.json(Method::DELETE, &format!("/v1/applications/{}/handover", passed[0]), body(json!({"reason": "не тот человек"}))).await;
    assert_eq!((status, u["status"]["code"].as_str()), (200, Some("certificate_issue_required")), "{u}");
    let (status, _) = api.json(Method::POST, &format!("/v1/applications/{}/handover", passed[0]), None).await;
    assert_eq!(status, 200);
    let (_, status) = api.json(Method::GET, &format!("/v1/exams/{exam}/certificates/status"), None).await;
    for a in status["applications"].as_array().unwrap() {
        if passed.iter().any(|p| p == a["application_id"].as_str().unwrap()) {
            assert_eq!(a["status"], json!({"code": "done", "label": "Экзаменован - услуга оказана"}), "{a}");
            assert!(a["handed_over_on"].is_string(), "{a}");
        }
    }
    assert_eq!(status["counts"]["handed_over"].as_u64().unwrap() as usize, passed.len());

    // Every change, in commit order.
    let events = all_events(&api, &exam).await;
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let of = |t: &str| events.iter().filter(|e| e["type"] == t).collect::<Vec<_>>();
    let codes = |t: &str| of(t).iter().map(|e| e["data"]["status"]["code"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(codes("exam.certificate_status"), ["generation_required", "upload_required", "uploaded"]);
    assert_eq!(
        codes("exam.register_status"),
        [
            "generation_impossible",
            "generation_possible",
            "on_signing",
            "review_required",
            "under_review",
            "rejected",
            "generation_possible",
            "on_signing",
            "review_required",
            "under_review",
            "approved"
        ]
    );
    assert_eq!(of("exam.register_status")[5]["data"]["reason"], "строка 2 без подписи");
    assert_eq!(of("certificate.attached").len(), passed.len());
    // The certificate scan, the certificates again with the register, the old version, the new one.
    assert_eq!(of("job.done").len(), 4);
    assert_eq!(of("application.handed_over").len(), passed.len() + 1);
    assert_eq!(of("application.handover_undone").len(), 1);
    // The job's attachments come before its `job.done` and the status it caused.
    let position = |t: &str| events.iter().position(|e| e["type"] == t).unwrap();
    assert!(position("certificate.attached") < position("job.done"));
    let uploaded = events.iter().position(|e| e["data"]["status"]["code"] == "uploaded").unwrap();
    assert!(events.iter().rposition(|e| e["type"] == "certificate.attached").unwrap() < uploaded);
    service.stop().await;
}

async fn an_exam_where_nobody_passed_needs_nothing(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let service = start(&service_settings(dir.path(), &db.url, None), engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let roster = json!({
        "exam_id": "EX-NOBODY-1", "site": "Площадка", "date": "2025-12-31", "protocol_approved": true,
        "applications": [
            {"application_id": "N-1", "surname": "Петров", "name": "Пётр", "birth_date": "1990-01-01", "outcome": "failed"},
            {"application_id": "N-2", "surname": "Сидоров", "name": "Иван", "birth_date": "1991-02-02", "outcome": "no_show"}
        ]
    });
    let (status, _) = api.json(Method::PUT, "/v1/exams/EX-NOBODY-1", body(roster.clone())).await;
    assert_eq!(status, 201);
    let (_, s) = api.json(Method::GET, "/v1/exams/EX-NOBODY-1/certificates/status", None).await;
    assert_eq!(s["status"], json!({"code": "not_required", "label": "Не требуются"}), "{s}");
    assert!(listed(&api, "certificate_status=not_required").await.contains(&"EX-NOBODY-1".to_string()));
    assert!(listed(&api, "register_status=not_required").await.contains(&"EX-NOBODY-1".to_string()));
    assert!(!listed(&api, "certificate_status=not_ready").await.contains(&"EX-NOBODY-1".to_string()));
    assert!(!listed(&api, "register_status=generation_impossible").await.contains(&"EX-NOBODY-1".to_string()));
    let (status, e) = api.json(Method::POST, "/v1/exams/EX-NOBODY-1/register", None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("invalid_transition")), "{e}");
    // A pending outcome makes it not ready again.
    let mut pending = roster;
    pending["applications"][0]["outcome"] = json!("pending");
    api.json(Method::PUT, "/v1/exams/EX-NOBODY-1", body(pending)).await;
    let (_, s) = api.json(Method::GET, "/v1/exams/EX-NOBODY-1/certificates/status", None).await;
    assert_eq!(s["status"]["code"], "not_ready", "{s}");
    let (status, e) = api.json(Method::GET, "/v1/exams?certificate_status=bogus", None).await;
    assert_eq!(status, 400, "{e}");
    service.stop().await;
}

/// Events reach a RabbitMQ topic exchange in order, with the type as routing key; a relay that was not
/// running when the changes were committed delivers them when it starts (nothing lost between the commit
/// and the delivery), and a second round delivers nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_published_to_a_topic_exchange_in_order_after_the_commit() {
    use futures_util::StreamExt;
    use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    use lapin::{Connection, ConnectionProperties};

    let db = TestDb::postgres().await;
    let store = certscan_workers::store::Store::connect(&db.url).await.unwrap();
    let (roster, _) = crate::support::sample(43, 4);
    store.put_roster(&roster, "portal").await.unwrap();
    let mut changed = roster.clone();
    changed.protocol_approved = !roster.protocol_approved;
    store.put_roster(&changed, "portal").await.unwrap();
    let expected = store.events(0, 100, None).await.unwrap();
    assert!(expected.len() >= 2, "{expected:?}");

    let exchange = format!("certscan.events.test.{}", uuid::Uuid::new_v4().simple());
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut sink = certscan_workers::events::ExchangeSink::new(&amqp_url(), &exchange);
    // The exchange is declared by the sink; a first round with nothing bound would lose nothing either
    // (the cursor is what matters), but bind first to read what is published.
    channel
        .exchange_declare(
            exchange.as_str().into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions { durable: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = channel
        .queue_declare("".into(), QueueDeclareOptions { exclusive: true, ..Default::default() }, FieldTable::default())
        .await
        .unwrap();
    channel
        .queue_bind(queue.name().clone(), exchange.as_str().into(), "exam.#".into(), QueueBindOptions::default(), FieldTable::default())
        .await
        .unwrap();
    let (delivered, failure) = certscan_workers::events::relay_round(&store, &mut sink, "test-holder").await.unwrap();
    assert!(failure.is_none(), "{failure:?}");
    assert_eq!(delivered, expected.len());
    assert_eq!(store.event_cursor(&format!("amqp:{exchange}")).await.unwrap(), expected.last().unwrap().seq);
    let (again, _) = certscan_workers::events::relay_round(&store, &mut sink, "test-holder").await.unwrap();
    assert_eq!(again, 0, "nothing is delivered twice");
    // Another holder cannot take the sink while the lease runs.
    assert!(store.pending_events(&format!("amqp:{exchange}"), "other", 10).await.unwrap().is_none());

    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "test".into(),
            BasicConsumeOptions { no_ack: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    let want: Vec<&certscan_workers::store::Event> = expected.iter().filter(|e| e.event_type.starts_with("exam.")).collect();
    while got.len() < want.len() {
        let delivery =
            tokio::time::timeout(std::time::Duration::from_secs(10), consumer.next()).await.expect("a published event").unwrap().unwrap();
        let event: Value = serde_json::from_slice(&delivery.data).unwrap();
        assert_eq!(delivery.routing_key.as_str(), event["type"].as_str().unwrap());
        got.push(event["seq"].as_i64().unwrap());
    }
    assert_eq!(got, want.iter().map(|e| e.seq).collect::<Vec<_>>(), "in commit order");
    let _ = channel.exchange_delete(exchange.as_str().into(), Default::default()).await;
    let _ = connection.close(200, "OK".into()).await;
    store.close().await;
}

/// A webhook gets every event POSTed with an HMAC-SHA256 signature of its body; a failing webhook is
/// retried and the cursor only moves on a 2xx, so nothing is skipped or reordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_gets_signed_events_and_failures_are_delivered_again() {
    use hmac::{Hmac, Mac};
    use std::sync::{Arc, Mutex};

    let db = TestDb::sqlite().await;
    let store = certscan_workers::store::Store::connect(&db.url).await.unwrap();
    let (roster, _) = crate::support::sample(44, 3);
    store.put_roster(&roster, "portal").await.unwrap();
    let expected = store.events(0, 100, None).await.unwrap();
    assert!(!expected.is_empty());

    // A webhook that answers 503 to its first two requests, then 204; it records what it was sent.
    // (body, signature header) of every accepted delivery.
    type Received = Arc<Mutex<Vec<(Vec<u8>, String)>>>;
    let received: Received = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = {
        let (received, calls) = (received.clone(), calls.clone());
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (received, calls) = (received.clone(), calls.clone());
                async move {
                    if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let sig = headers.get("x-certscan-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    received.lock().unwrap().push((body.to_vec(), sig));
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut sink = certscan_workers::events::WebhookSink::new(&format!("http://{addr}/hook"), "s3cret-key");

    for attempt in 0..2 {
        let (delivered, failure) = certscan_workers::events::relay_round(&store, &mut sink, "h").await.unwrap();
        assert_eq!(delivered, 0, "attempt {attempt}");
        assert!(failure.unwrap().to_string().contains("503"));
        assert_eq!(store.event_cursor("webhook").await.unwrap(), 0, "a failure does not move the cursor");
    }
    let (delivered, failure) = certscan_workers::events::relay_round(&store, &mut sink, "h").await.unwrap();
    assert!(failure.is_none());
    assert_eq!(delivered, expected.len());
    let received = received.lock().unwrap().clone();
    let seqs: Vec<i64> = received.iter().map(|(b, _)| serde_json::from_slice::<Value>(b).unwrap()["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, expected.iter().map(|e| e.seq).collect::<Vec<_>>());
    for (body, signature) in &received {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret-key").unwrap();
        mac.update(body);
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(signature, &format!("sha256={hex}"));
    }
    server.abort();
    store.close().await;
}
