//! The embedded service against a careless or hostile caller (issue 13): spreadsheets that would hold
//! the process, files with too many rows or pages, half-sent requests, too many connections, and errors
//! that must keep the one JSON shape without echoing what was sent or where the server keeps things.

use std::time::Duration;

use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use certscan_api::server::{start, RunningService};
use certscan_workers::Settings;

use crate::support::{engine, eventually, service_settings, Api, TestDb};

/// A service of the test's own with `adjust` applied to its settings.
async fn service(adjust: impl FnOnce(&mut Settings)) -> (RunningService, tempfile::TempDir, TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let mut settings = service_settings(dir.path(), &db.url, None);
    adjust(&mut settings);
    let service = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    (service, dir, db)
}

/// A sample exam whose applications all passed, ready for generation.
fn passed_roster(seed: u64, applications: usize) -> certscan_domain::Roster {
    let mut roster = certscan_fixtures::exam::sample_roster(seed, applications);
    roster.protocol_approved = true;
    for app in &mut roster.applications {
        app.outcome = certscan_domain::Outcome::Passed;
    }
    roster
}

/// A sample exam's roster put and its FIS FRDO file imported; returns the exam id.
async fn exam_with_import(api: &Api, seed: u64, applications: usize) -> String {
    let roster = passed_roster(seed, applications);
    let (status, body) = api.json(Method::PUT, &format!("/v1/exams/{}", roster.exam_id), Some(serde_json::to_vec(&roster).unwrap())).await;
    assert_eq!(status, 201, "{body}");
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{}/fis-frdo", roster.exam_id), Some(fis)).await;
    assert_eq!(status, 200, "{body}");
    roster.exam_id
}

/// An XLSX whose sheet declares A1:A4000000000 and holds a cell at each end: what a dense reader turns
/// into a 128 GB allocation.
fn dense_grid_bomb() -> Vec<u8> {
    use std::io::{Read, Write};
    let mut wb = rust_xlsxwriter::Workbook::new();
    wb.add_worksheet().write_string(0, 0, "Фамилия").unwrap();
    let original = wb.save_to_buffer().unwrap();
    let sheet = r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:A4000000000"/><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Фамилия</t></is></c></row><row r="4000000000"><c r="A4000000000" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>"#;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&original[..])).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).unwrap();
        let name = part.name().unwrap().to_string();
        let mut content = Vec::new();
        part.read_to_end(&mut content).unwrap();
        out.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(if name == "xl/worksheets/sheet1.xml" { sheet.as_bytes() } else { &content }).unwrap();
    }
    out.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spreadsheet_that_would_hold_the_process_is_refused_naming_the_limit() {
    let (service, _dir, _db) = service(|_| {}).await;
    let api = Api::new(service.addr);
    let roster = certscan_fixtures::exam::sample_roster(41, 3);
    api.json(Method::PUT, &format!("/v1/exams/{}", roster.exam_id), Some(serde_json::to_vec(&roster).unwrap())).await;
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{}/fis-frdo", roster.exam_id), Some(dense_grid_bomb())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("fis_file_too_large")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("4000000000 rows") && message.contains("limit of 10000"), "{message}");
    let (status, _) = api.json(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200, "the service is still up");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fis_file_lists_the_first_thousand_bad_rows_and_their_total_and_stops_at_the_row_limit() {
    let (service, _dir, _db) = service(|s| s.fis_max_rows = 2_000).await;
    let api = Api::new(service.addr);
    let roster = certscan_fixtures::exam::sample_roster(42, 3);
    let exam = roster.exam_id.clone();
    api.json(Method::PUT, &format!("/v1/exams/{exam}"), Some(serde_json::to_vec(&roster).unwrap())).await;
    let file = |rows: usize| {
        let mut text = String::from("Фамилия;Имя;Отчество;Дата рождения;Регистрационный номер;Дата выдачи\n");
        for i in 0..rows {
            text.push_str(&format!("Никто{i};Никто;;01.01.1990;77-{i};01.01.2026\n"));
        }
        text.into_bytes()
    };
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(file(1_500))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("fis_rows_invalid")), "{body}");
    assert_eq!(body["error"]["rows"].as_array().unwrap().len(), 1_000);
    let total = body["error"]["rows_total"].as_u64().unwrap();
    assert!(total >= 1_500, "every bad row is counted: {total}");
    assert_eq!(body["error"]["rows"][0]["line"], 2);

    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(file(2_001))).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("fis_file_too_large")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("more than 2000 rows"), "{body}");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_over_the_page_limit_fails_its_job_and_the_worker_goes_on() {
    let (service, _dir, _db) = service(|s| s.max_pages = 3).await;
    let api = Api::new(service.addr);
    let exam = exam_with_import(&api, 43, 3).await;
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(crate::bad_input::jpeg_pdf(5))).await;
    assert_eq!(status, 202, "{body}");
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 120).await;
    assert_eq!(job["state"], "failed", "{job}");
    let error = job["error"].as_str().unwrap();
    assert!(error.contains("5 pages") && error.contains("limit of 3 pages") && error.contains("max_pages"), "{error}");

    let (_, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(crate::bad_input::jpeg_pdf(2))).await;
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 120).await;
    assert_eq!(job["state"], "done", "the next file goes through: {job}");
    assert_eq!(job["pages"]["total"], 2, "{job}");
    service.stop().await;
}

/// Reads what the server sends until it closes the connection; `None` if it is still open at the deadline.
async fn read_until_closed(stream: &mut TcpStream, seconds: u64) -> Option<String> {
    let mut received = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(seconds), read).await.ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_and_stalled_bodies_are_timed_out() {
    let (service, _dir, _db) = service(|s| {
        s.header_timeout_s = 1;
        s.body_timeout_s = 1;
    })
    .await;
    // Headers never finished: the server closes the connection (no token needed to hold one otherwise).
    let mut stream = TcpStream::connect(service.addr).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: certscan\r\nX-Slow: ").await.unwrap();
    let answer = read_until_closed(&mut stream, 30).await;
    assert!(answer.is_some(), "a connection with half-sent headers is still open after 30 s");

    // A body that stops: 408 in the one error shape, then the connection closes.
    let mut stream = TcpStream::connect(service.addr).await.unwrap();
    stream
        .write_all(
            b"PUT /v1/exams/EX-1 HTTP/1.1\r\nHost: certscan\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"exam_id\"",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, 30).await.expect("a stalled body is answered and closed within 30 s");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"body_timeout\""), "{answer}");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_limit_is_answered_503_and_one_freed_lets_the_next_in() {
    let (service, _dir, _db) = service(|s| {
        s.max_connections = 2;
        s.header_timeout_s = 120;
    })
    .await;
    let api = Api::new(service.addr);
    // Two connections held open with half a request each.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(service.addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(stream);
    }
    // The server takes connections in order: once both are accepted, the next is over the limit.
    let (status, body) = eventually("the third connection to be refused", 30, || async {
        let (status, body) = api.json(Method::GET, "/healthz", None).await;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!((status, body["error"]["code"].as_str()), (503, Some("too_many_connections")), "{body}");
    drop(held.pop());
    eventually("a freed connection to let the next request in", 30, || async {
        let (status, _) = api.json(Method::GET, "/healthz", None).await;
        (status == 200).then_some(())
    })
    .await;
    drop(held);
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framework_rejections_and_errors_keep_the_json_shape_and_echo_no_long_input() {
    let (service, _dir, _db) = service(|_| {}).await;
    let api = Api::new(service.addr);
    let resp = api.request(Method::GET, "/v1/jobs/abc/pages/first").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request", "{body}");

    // A roster over the JSON limit (4 MiB) is refused in the one shape too.
    let (status, body) = api.json(Method::PUT, "/v1/exams/EX-1", Some(vec![b' '; 5 * 1024 * 1024])).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")), "{body}");

    // A 10,000-character id is not repeated in full.
    let long = "a".repeat(10_000);
    let (status, body) = api.json(Method::GET, &format!("/v1/jobs/{long}"), None).await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.len() < 300 && message.contains("10000 characters"), "{message}");

    // A printer with no calibration: named, without the server's folders.
    let exam = exam_with_import(&api, 44, 2).await;
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/certificates?printer=office-hp"), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("printer_profile")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("office-hp") && !message.contains('/'), "{message}");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_read_to_its_end_so_its_413_arrives_and_the_connection_lives_on() {
    let (service, _dir, _db) = service(|_| {}).await;
    // A 5 MiB roster against the 4 MiB JSON limit, sent whole, and a second request behind it on the same
    // connection. A server that answers and closes with the body half read resets the connection: the
    // writing client gets a broken pipe instead of the 413.
    let body = vec![b' '; 5 * 1024 * 1024];
    let mut request = format!(
        "PUT /v1/exams/EX-1 HTTP/1.1\r\nHost: certscan\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: certscan\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect(service.addr).await.unwrap();
    let sent = stream.write_all(&request).await;
    assert!(sent.is_ok(), "the server stopped reading the refused body: {sent:?}");
    let answer = read_until_closed(&mut stream, 60).await.expect("both answers within 60 s");
    let refused = answer.find("HTTP/1.1 413").unwrap_or_else(|| panic!("no 413: {answer}"));
    let healthy = answer.find("HTTP/1.1 200").unwrap_or_else(|| panic!("the connection did not live on: {answer}"));
    assert!(refused < healthy, "{answer}");
    assert!(answer[refused..healthy].contains("\"too_large\""), "{answer}");
    service.stop().await;
}

#[test]
fn the_compose_file_ships_no_default_secrets_and_no_published_broker_ui() {
    let compose = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docker/compose.yaml")).unwrap();
    for secret in ["CERTSCAN_TOKENS", "DB_PASSWORD", "BROKER_PASSWORD"] {
        assert!(compose.contains(&format!("${{{secret}:?")), "{secret} must be required, not defaulted");
        assert!(!compose.contains(&format!("${{{secret}:-")), "{secret} has a default");
    }
    assert!(!compose.contains("change-me") && !compose.contains("15672") && !compose.contains("-management"), "{compose}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_accepted_but_not_finished_is_done_after_the_embedded_service_restarts() {
    use certscan_workers::objects::scan_key;
    use certscan_workers::store::NewJob;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let settings = service_settings(dir.path(), &db.url, None);
    let first = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let exam = exam_with_import(&Api::new(first.addr), 45, 2).await;
    // What an upload leaves when the process dies between storing the job and running it.
    let job_id = "restarted-job";
    first.state.objects.put(&scan_key(job_id), crate::bad_input::jpeg_pdf(2)).await.unwrap();
    first
        .state
        .store
        .create_job(&NewJob {
            job_id: job_id.into(),
            exam_id: exam.clone(),
            application_id: None,
            object_key: scan_key(job_id),
            file_name: Some("scan.pdf".into()),
            submitted_by: Some("portal".into()),
        })
        .await
        .unwrap();
    first.state.store.start_job(job_id).await.unwrap();
    first.stop().await;

    let second = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let job = Api::new(second.addr).finished_job(job_id, 120).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["pages"]["total"], 2, "{job}");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_started_more_than_the_maximum_times_is_given_up_and_dead_lettered() {
    use certscan_workers::amqp::Disposition;
    use certscan_workers::job::{connect, handle_job, MAX_ATTEMPTS};
    use certscan_workers::objects::scan_key;
    use certscan_workers::JobMessage;
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let settings = service_settings(dir.path(), &db.url, None);
    let ctx = connect(&settings, engine()).await.unwrap();
    let roster = passed_roster(46, 2);
    ctx.store.put_roster(&roster, "portal").await.unwrap();
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, 46);
    ctx.store
        .put_fis_import(&roster.exam_id, "fis.csv", &certscan_domain::import_fis(&roster, "fis.csv", &fis).unwrap(), "ct")
        .await
        .unwrap();
    let job_id = "crashing-job";
    ctx.objects.put(&scan_key(job_id), crate::bad_input::jpeg_pdf(1)).await.unwrap();
    let message = JobMessage::new(job_id, &roster.exam_id, &scan_key(job_id));
    ctx.store
        .create_job(&certscan_workers::store::NewJob {
            job_id: job_id.into(),
            exam_id: roster.exam_id.clone(),
            application_id: None,
            object_key: scan_key(job_id),
            file_name: None,
            submitted_by: None,
        })
        .await
        .unwrap();
    // Workers that crashed on it: each start counted an attempt.
    for _ in 0..MAX_ATTEMPTS {
        ctx.store.start_job(job_id).await.unwrap();
    }
    match handle_job(&ctx, message, true).await {
        Disposition::DeadLetter { reason } => assert!(reason.contains(&format!("given up after {MAX_ATTEMPTS} attempts")), "{reason}"),
        other => panic!("expected the job to be given up, got {other:?}"),
    }
    let job = ctx.store.job(job_id).await.unwrap().unwrap();
    assert_eq!(job.state, certscan_workers::store::JobState::Failed);
    assert!(job.error.unwrap().contains("given up"));
    ctx.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_page_that_cannot_be_rendered_previews_as_422_not_500() {
    use certscan_pipeline::report::PageReport;
    use certscan_workers::store::{NewJob, PageResult};
    let (service, _dir, _db) = service(|_| {}).await;
    let api = Api::new(service.addr);
    let exam = exam_with_import(&api, 47, 2).await;
    let store = &service.state.store;
    store
        .create_job(&NewJob {
            job_id: "J1".into(),
            exam_id: exam.clone(),
            application_id: None,
            object_key: "scans/J1".into(),
            file_name: None,
            submitted_by: None,
        })
        .await
        .unwrap();
    // A page file the object store holds but PDFium cannot open.
    service.state.objects.put("pages/J1/00001.pdf", b"%PDF-1.4 not really".to_vec()).await.unwrap();
    let report = PageReport {
        page: 1,
        outcome: "review".into(),
        application_id: None,
        registration_number: None,
        issue_date: None,
        blank_number: None,
        confidence: None,
        reason: Some("code_unreadable".into()),
        detail: Some("no code".into()),
        duplicate_of: None,
        file: None,
        orientation_deg: 0,
        skew_deg: 0.0,
        straightened_from: "page".into(),
        blank_number_read_by: None,
        blank_number_readings: None,
        identity_from: None,
        register: None,
    };
    store.commit_job("J1", vec![PageResult { report, object_key: Some("pages/J1/00001.pdf".into()) }], 0.1).await.unwrap();
    let (_, review) = api.json(Method::GET, &format!("/v1/exams/{exam}/review"), None).await;
    let preview = review["items"][0]["preview_url"].as_str().unwrap().to_string();
    let (status, body) = api.json(Method::GET, &preview, None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("preview_unavailable")), "{body}");
    service.stop().await;
}
