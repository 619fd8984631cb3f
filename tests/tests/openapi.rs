//! `GET /openapi.json` against the running service: schemathesis (PyPI, installed by
//! `scripts/schemathesis.sh` into `.tools/`) generates requests from the document, sends them to an
//! embedded `certscan serve` (SQLite, in-process queue, tokens configured) and checks every answer: no
//! 5xx, and every response matches the schema the document gives for its status. Bounded: each run has
//! a time budget (`--max-time`) and a deadline after which it is killed and the test fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;

use certscan_api::server::start;
use certscan_workers::settings::{ApiToken, Role};

use crate::support::{engine, sample, service_settings, Api, TestDb};

/// The schemathesis command: `CERTSCAN_SCHEMATHESIS`, else installed (once) by the project's script.
fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("CERTSCAN_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/schemathesis.sh");
    let out = std::process::Command::new("bash").arg(script).stderr(Stdio::inherit()).output().expect("bash runs");
    assert!(out.status.success(), "scripts/schemathesis.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// CPython 3.11's own fault (the AST constructor's recursion check) that hypothesis can hit while it
/// describes a strategy: schemathesis crashes before it sends a request. Not the service's fault; the run
/// is repeated (at most [`TOOL_CRASH_RETRIES`] times), and any other failure fails at once.
const PYTHON_AST_CRASH: &str = "AST constructor recursion depth mismatch";
const TOOL_CRASH_RETRIES: usize = 2;

/// One schemathesis run with `token`, limited to the operations `filter` selects, in the folder `work`
/// (its cache and reports stay there); returns its output.
async fn run(binary: &PathBuf, base: &str, token: &str, filter: &[&str], budget_s: u64, work: &std::path::Path) -> String {
    let mut crashes = 0;
    loop {
        match run_once(binary, base, token, filter, budget_s, work).await {
            Ok(text) => return text,
            Err(text) if text.contains(PYTHON_AST_CRASH) && crashes < TOOL_CRASH_RETRIES => {
                crashes += 1;
                eprintln!("schemathesis ({filter:?}) crashed inside Python ({PYTHON_AST_CRASH}); running it again");
            }
            Err(tail) => panic!("schemathesis found problems ({filter:?}):\n{tail}"),
        }
    }
}

async fn run_once(
    binary: &PathBuf,
    base: &str,
    token: &str,
    filter: &[&str],
    budget_s: u64,
    work: &std::path::Path,
) -> Result<String, String> {
    let mut command = tokio::process::Command::new(binary);
    command
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        .args(["--max-examples", "25", "--seed", "13", "--workers", "2", "--no-shrink"])
        .args(["--max-time", &budget_s.to_string(), "--request-timeout", "30"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(filter)
        .current_dir(work)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("schemathesis starts");
    // The budget, plus room for the last requests and the report; past that the run is killed.
    let deadline = Duration::from_secs(budget_s + 60);
    let out = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran past {} s", deadline.as_secs()))
        .expect("schemathesis ran");
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let tail: String = text.chars().rev().take(12_000).collect::<Vec<_>>().into_iter().rev().collect();
    if !out.status.success() {
        return Err(if text.contains(PYTHON_AST_CRASH) { text } else { tail });
    }
    // The summary (operations, test cases, checks passed) for the log.
    let summary: Vec<&str> = text.lines().rev().take(25).collect::<Vec<_>>().into_iter().rev().collect();
    eprintln!("schemathesis ({filter:?}):\n{}", summary.join("\n"));
    Ok(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_mismatch() {
    let binary = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite().await;
    let mut settings = service_settings(dir.path(), &db.url, None);
    let token = |name: &str, role: Role| ApiToken { name: name.into(), role, token: format!("{name}-secret-0123456789") };
    settings.tokens = vec![
        token("portal", Role::Portal),
        token("ct", Role::TestingCenter),
        token("site", Role::ExamSite),
        token("viewer", Role::ReadOnly),
    ];
    let service = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", service.addr);

    // Something to find: an exam with its roster and FIS FRDO import, and a pack of blanks.
    let (roster, _) = sample(41, 3);
    let exam = roster.exam_id.clone();
    let api = Api::new(service.addr);
    let (status, body) = api
        .with_token("portal-secret-0123456789")
        .json(Method::PUT, &format!("/v1/exams/{exam}"), Some(serde_json::to_vec(&roster).unwrap()))
        .await;
    assert_eq!(status, 201, "{body}");
    let ct = api.with_token("ct-secret-0123456789");
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, 41);
    let (status, body) = ct.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(fis)).await;
    assert_eq!(status, 200, "{body}");
    let pack = serde_json::json!({"series": "51", "first": "0375100", "last": "0375199", "received_on": "2026-11-01"});
    let (status, body) = ct.json(Method::PUT, "/v1/blank-packs/p1", Some(pack.to_string().into_bytes())).await;
    assert_eq!(status, 201, "{body}");

    // The testing center reaches most routes; the portal's roster and the exam site's register steps
    // are fuzzed with their own tokens.
    let reports = dir.path().join("schemathesis");
    std::fs::create_dir_all(&reports).unwrap();
    let ct_out = run(&binary, &base, "ct-secret-0123456789", &[], 75, &reports).await;
    run(&binary, &base, "portal-secret-0123456789", &["--include-method", "PUT", "--include-path", "/v1/exams/{exam_id}"], 15, &reports)
        .await;
    run(&binary, &base, "site-secret-0123456789", &["--include-tag", "life"], 25, &reports).await;
    assert!(ct_out.contains("/v1/review/{item_id}/assign"), "the run covered the review routes:\n{ct_out}");

    // The service is still answering after all that.
    let (status, _) = api.json(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200);
    service.stop().await;
}
