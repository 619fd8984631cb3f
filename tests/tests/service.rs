//! The embedded service (`certscan serve` with no servers: SQLite, in-process queue, local folder)
//! through its HTTP API: the portal round trip, point upload and review, bad files, tokens and roles.

use reqwest::Method;
use serde_json::json;

use certscan_api::server::start;
use certscan_fixtures::{Level, PageKind};
use certscan_workers::settings::{ApiToken, Role};

use crate::support::{engine, exam_files, service_settings, Api, TestDb};

fn certificate_pages(files: &crate::support::ExamFiles) -> Vec<(usize, String, String)> {
    files
        .scan
        .truth
        .pages
        .iter()
        .filter(|p| p.kind == PageKind::Certificate)
        .map(|p| (p.page, p.application_id.clone().unwrap(), p.blank_number.clone().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_service_does_the_portal_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let service = start(&service_settings(dir.path(), &db.url, None), engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let files = exam_files(31, 6, Level::Clean);
    let exam = files.roster.exam_id.clone();

    let (status, body) = api.json(Method::PUT, &format!("/v1/exams/{exam}"), Some(files.roster_json.clone())).await;
    assert_eq!(status, 201, "{body}");
    let (_, body) = api.json(Method::GET, &format!("/v1/exams/{exam}/certificates/status"), None).await;
    assert_eq!(body["status"]["code"], "generation_required", "{body}");

    // Scans before the FIS FRDO import are refused at once.
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(files.scan.bytes.clone())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("fis_import_missing")), "{body}");

    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(files.fis_csv.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"].as_u64().unwrap() as usize, files.roster.passed().count());

    let resp = api.request(Method::POST, &format!("/v1/exams/{exam}/certificates")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let pdf = resp.bytes().await.unwrap();
    assert_eq!(engine().page_count(&pdf[..]).unwrap(), files.roster.passed().count());
    let (_, body) = api.json(Method::GET, &format!("/v1/exams/{exam}/certificates/status"), None).await;
    assert_eq!(body["status"]["code"], "upload_required", "{body}");

    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(files.scan.bytes.clone())).await;
    assert_eq!(status, 202, "{body}");
    let job_id = body["job_id"].as_str().unwrap().to_string();
    let job = api.finished_job(&job_id, 300).await;
    assert_eq!(job["state"], "done", "{job}");
    let expected = certificate_pages(&files);
    assert_eq!(job["pages"]["total"].as_u64().unwrap() as usize, files.scan.truth.pages.len());
    assert_eq!(job["pages"]["attached"].as_u64().unwrap() as usize, expected.len(), "{job}");
    for page in job["report"]["pages"].as_array().unwrap() {
        if page["outcome"] == "attached" {
            let truth =
                expected.iter().find(|(p, _, _)| *p as u64 == page["page"].as_u64().unwrap()).expect("an attached page is a certificate");
            assert_eq!(page["application_id"].as_str().unwrap(), truth.1, "{page}");
            assert_eq!(page["blank_number"].as_str().unwrap(), truth.2, "{page}");
        }
    }

    let (_, body) = api.json(Method::GET, &format!("/v1/exams/{exam}/certificates/status"), None).await;
    assert_eq!(body["status"], json!({"code": "uploaded", "label": "Загружены"}), "{body}");
    for (_, app, blank) in &expected {
        let entry = body["applications"].as_array().unwrap().iter().find(|a| a["application_id"] == app.as_str()).unwrap();
        assert_eq!(entry["blank_number"].as_str(), Some(blank.as_str()));
        let (status, scan) = api.bytes(entry["scan_url"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(engine().page_count(&scan).unwrap(), 1, "one page per application");
    }

    let metrics = api.http.get(format!("{}/metrics", api.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("certscan_jobs{state=\"done\"} 1"), "{metrics}");
    assert!(metrics.contains(&format!("certscan_pages{{outcome=\"attached\",reason=\"\"}} {}", expected.len())), "{metrics}");
    let (status, ready) = api.json(Method::GET, "/readyz", None).await;
    assert_eq!(status, 200, "{ready}");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_upload_is_recognised_and_a_review_page_can_be_assigned() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let service = start(&service_settings(dir.path(), &db.url, None), engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let files = exam_files(32, 4, Level::Clean);
    let exam = files.roster.exam_id.clone();
    api.json(Method::PUT, &format!("/v1/exams/{exam}"), Some(files.roster_json.clone())).await;
    api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(files.fis_csv.clone())).await;
    let certs = certificate_pages(&files);
    assert!(certs.len() >= 2);
    let (page_a, app_a, blank_a) = certs[0].clone();
    let (_, app_b, _) = certs[1].clone();
    let single = engine().split_pages(&files.scan.bytes, &[(page_a - 1, 0)]).unwrap().remove(0);

    // A's sheet uploaded onto B: recognised, not accepted.
    let (status, body) = api.json(Method::PUT, &format!("/v1/applications/{app_b}/certificate-scan"), Some(single.clone())).await;
    assert_eq!(status, 202, "{body}");
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 120).await;
    assert_eq!(job["report"]["pages"][0]["reason"], "point_upload_mismatch", "{job}");
    let (status, _) = api.bytes(&format!("/v1/applications/{app_b}/certificate-scan")).await;
    assert_eq!(status, 404, "nothing attached to B");

    // A person assigns it to A.
    let (_, review) = api.json(Method::GET, &format!("/v1/exams/{exam}/review"), None).await;
    let items = review["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{review}");
    let item = items[0]["item_id"].as_str().unwrap().to_string();
    let (status, preview) = api.bytes(items[0]["preview_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(preview.starts_with(b"\x89PNG"), "a PNG preview");
    // A typed blank number must be one the blank design can carry: spaces, markup, 5,000 digits and a
    // path are refused (422 invalid_blank_number, the input echoed short), and nothing is attached.
    let long = "7".repeat(5000);
    for bad in ["   ", "51 03 75100", "<script>alert(1)</script>", long.as_str(), "../../etc/passwd", "51 0375100\n51 0375101"] {
        let request = json!({"application_id": app_a, "blank_number": bad});
        let (status, body) =
            api.json(Method::POST, &format!("/v1/review/{item}/assign"), Some(serde_json::to_vec(&request).unwrap())).await;
        assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_blank_number")), "{bad:.40}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.len() < 400 && !message.contains(&"7".repeat(100)), "the message echoes the input short: {message:.200}");
    }
    let (status, _) = api.bytes(&format!("/v1/applications/{app_a}/certificate-scan")).await;
    assert_eq!(status, 404, "a refused blank number attaches nothing");

    let (status, body) = api
        .json(Method::POST, &format!("/v1/review/{item}/assign"), Some(serde_json::to_vec(&json!({"application_id": app_a})).unwrap()))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["blank_number"], blank_a.as_str());
    let (status, body) =
        api.json(Method::POST, &format!("/v1/review/{item}/dismiss"), Some(serde_json::to_vec(&json!({"reason": "late"})).unwrap())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("conflict")), "a decided item stays decided: {body}");

    // The same sheet uploaded onto A now is a duplicate of the assigned scan.
    let (_, body) = api.json(Method::PUT, &format!("/v1/applications/{app_a}/certificate-scan"), Some(single)).await;
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 120).await;
    assert_eq!(job["report"]["pages"][0]["outcome"], "duplicate", "{job}");

    // Unattach with a reason: the page is back for review; the audit trail tells the story.
    let (status, body) = api
        .json(
            Method::DELETE,
            &format!("/v1/applications/{app_a}/certificate-scan"),
            Some(serde_json::to_vec(&json!({"reason": "wrong person"})).unwrap()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reason"], "unattached");
    let (_, audit) = api.json(Method::GET, &format!("/v1/exams/{exam}/audit"), None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for a in ["upload", "assign", "unattach"] {
        assert!(actions.contains(&a), "{actions:?}");
    }
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_get_clear_errors_and_the_service_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let service = start(&service_settings(dir.path(), &db.url, None), engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let files = exam_files(33, 3, Level::Clean);
    let exam = files.roster.exam_id.clone();

    let (status, body) = api.json(Method::PUT, &format!("/v1/exams/{exam}"), Some(b"{\"exam_id\": 1}".to_vec())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_roster")), "{body}");
    let (status, body) = api.json(Method::PUT, "/v1/exams/OTHER-ID", Some(files.roster_json.clone())).await;
    assert_eq!(status, 422, "path and body disagree: {body}");
    api.json(Method::PUT, &format!("/v1/exams/{exam}"), Some(files.roster_json.clone())).await;

    // A FIS FRDO file with bad rows: 422 with every row; nothing imported.
    // Windows-1251 keeps ASCII as is: every date in the data rows becomes invalid.
    let header_end = files.fis_csv.iter().position(|b| *b == b'\n').unwrap();
    let mut bad = files.fis_csv[..header_end].to_vec();
    let body_text = &files.fis_csv[header_end..];
    let mut i = 0;
    while i < body_text.len() {
        if body_text[i..].starts_with(b"20") && i + 4 <= body_text.len() && body_text[i + 2].is_ascii_digit() {
            bad.extend_from_slice(b"20x");
            i += 3;
        } else {
            bad.push(body_text[i]);
            i += 1;
        }
    }
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(bad)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("fis_rows_invalid")), "{body}");
    assert!(body["error"]["rows"].as_array().unwrap().len() >= files.roster.passed().count(), "{body}");
    let (_, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/certificates"), None).await;
    assert_eq!(body["error"]["code"], "fis_import_missing", "the bad file imported nothing: {body}");
    api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(files.fis_csv.clone())).await;

    // Not a scan: refused at upload. A broken PDF: accepted, and its job fails with the reason.
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(b"hello".to_vec())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("not_a_scan")), "{body}");
    let mut broken = files.scan.bytes[..files.scan.bytes.len() / 3].to_vec();
    broken.truncate(2000);
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(broken)).await;
    assert_eq!(status, 202, "{body}");
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 120).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("cannot read the scan"), "{job}");

    // The service goes on with the next file.
    let (_, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(files.scan.bytes.clone())).await;
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 300).await;
    assert_eq!(job["state"], "done", "{job}");

    let (status, body) = api.json(Method::GET, "/v1/nowhere", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, body) = api.json(Method::GET, "/v1/jobs/no-such-job", None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles_guard_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let mut settings = service_settings(dir.path(), &db.url, None);

    // No tokens: loopback only.
    let err = start(&settings, engine(), "0.0.0.0:0").await.unwrap_err();
    assert!(err.contains("without API tokens"), "{err}");

    let token = |name: &str, role: Role| ApiToken { name: name.into(), role, token: format!("{name}-secret-0123456789") };
    settings.tokens = vec![token("flow", Role::Portal), token("ct", Role::TestingCenter), token("viewer", Role::ReadOnly)];
    let service = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let anonymous = Api::new(service.addr);
    let portal = anonymous.with_token("flow-secret-0123456789");
    let ct = anonymous.with_token("ct-secret-0123456789");
    let viewer = anonymous.with_token("viewer-secret-0123456789");
    let files = exam_files(34, 3, Level::Clean);
    let exam = files.roster.exam_id.clone();
    let roster_path = format!("/v1/exams/{exam}");

    let (status, body) = anonymous.json(Method::PUT, &roster_path, Some(files.roster_json.clone())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = anonymous.with_token("guess").json(Method::PUT, &roster_path, Some(files.roster_json.clone())).await;
    assert_eq!(status, 401);
    let (status, body) = viewer.json(Method::PUT, &roster_path, Some(files.roster_json.clone())).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = portal.json(Method::PUT, &roster_path, Some(files.roster_json.clone())).await;
    assert_eq!(status, 201);
    let (status, _) = portal.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(files.fis_csv.clone())).await;
    assert_eq!(status, 403, "the FIS FRDO import is the testing center's");
    let (status, _) = ct.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(files.fis_csv.clone())).await;
    assert_eq!(status, 200);
    let (status, body) = viewer.json(Method::GET, &format!("/v1/exams/{exam}/certificates/status"), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = viewer.json(Method::GET, &format!("/v1/exams/{exam}/review"), None).await;
    assert_eq!(status, 403);

    // Operators' endpoints need no token; the document (generated with the routes) gives every
    // operation a success response with its schema and the error shape.
    let (status, doc) = anonymous.json(Method::GET, "/openapi.json", None).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    let operations: Vec<(String, &serde_json::Value)> =
        paths.iter().flat_map(|(path, item)| item.as_object().unwrap().iter().map(move |(m, op)| (format!("{m} {path}"), op))).collect();
    assert!(operations.len() >= 38, "{} operations", operations.len());
    for (name, op) in &operations {
        let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{name}: responses"));
        let success = responses.iter().find(|(code, _)| code.starts_with('2')).unwrap_or_else(|| panic!("{name}: no 2xx"));
        assert!(success.1["content"].is_object(), "{name}: the success response has no content schema");
    }
    for name in ["put /v1/exams/{exam_id}", "post /v1/review/{item_id}/assign", "get /v1/jobs/{job_id}", "get /v1/exams/{exam_id}/register"]
    {
        assert!(operations.iter().any(|(n, _)| n == name), "{name} documented");
    }
    assert_eq!(
        doc["paths"]["/v1/review/{item_id}/assign"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/AssignBody"
    );
    let (status, _) = anonymous.json(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200);

    // Uploads over the limit are refused in the one error shape.
    let mut small = settings.clone();
    small.max_upload_mb = 1;
    let limited = start(&small, engine(), "127.0.0.1:0").await.unwrap();
    let big = vec![b'%'; 2 * 1024 * 1024];
    let (status, body) =
        Api::new(limited.addr).with_token("ct-secret-0123456789").json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(big)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    limited.stop().await;
    service.stop().await;
}
