//! `certscan serve` and `certscan worker`: the service's processes. Wiring only; the service lives in
//! the api and workers crates.

use anyhow::{Context, Result};
use clap::Args;
use tokio::sync::watch;

use certscan_pipeline::PdfEngine;
use certscan_workers::amqp::{run_consumer, AmqpConfig};
use certscan_workers::job::{connect, handle_job};
use certscan_workers::Settings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Default: the `listen` setting (127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// Data folder (SQLite database, object folder). Default: the `data_dir` setting.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Turns true on Ctrl-C or SIGTERM.
fn shutdown_on_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        #[cfg(unix)]
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    rx
}

pub fn serve(settings: &Settings, args: &ServeArgs) -> Result<()> {
    let mut settings = settings.clone();
    if let Some(dir) = &args.data_dir {
        settings.data_dir = dir.clone();
    }
    let listen = args.listen.clone().unwrap_or_else(|| settings.listen.clone());
    let engine = PdfEngine::bind(&settings.pdfium_library()?)?;
    runtime()?.block_on(async move {
        let service = certscan_api::server::start(&settings, engine, &listen).await.map_err(anyhow::Error::msg)?;
        eprintln!(
            "certscan listening on http://{} ({} queue, {}); Ctrl-C stops",
            service.addr,
            service.state.queue.kind(),
            if settings.tokens.is_empty() { "no tokens: loopback only" } else { "bearer tokens required" }
        );
        let mut stop = shutdown_on_signal();
        let _ = stop.wait_for(|s| *s).await;
        service.stop().await;
        Ok(())
    })
}

pub fn worker(settings: &Settings, _args: &WorkerArgs) -> Result<()> {
    let url = settings
        .amqp_url
        .clone()
        .context("`certscan worker` takes jobs from RabbitMQ: set CERTSCAN_AMQP_URL (and CERTSCAN_DATABASE_URL); without them `certscan serve` runs its own workers")?;
    let engine = PdfEngine::bind(&settings.pdfium_library()?)?;
    let settings = settings.clone();
    runtime()?.block_on(async move {
        let ctx = connect(&settings, engine).await.map_err(anyhow::Error::msg)?;
        let mut config = AmqpConfig::new(&url);
        config.queue = settings.amqp_queue.clone();
        config.prefetch = settings.amqp_prefetch.max(1);
        let shutdown = shutdown_on_signal();
        eprintln!("certscan worker taking jobs from {} (queue {})", certscan_workers::store::redact(&url), config.queue);
        let handler_ctx = ctx.clone();
        run_consumer(
            config,
            move |message, redelivered| {
                let ctx = handler_ctx.clone();
                async move { handle_job(&ctx, message, redelivered).await }
            },
            shutdown,
        )
        .await
        .context("the RabbitMQ consumer stopped")?;
        ctx.store.close().await;
        Ok(())
    })
}

/// `certscan demo --service`: the round trip through the embedded service over HTTP, as the portal and
/// testing-center staff would drive it, checked against the simulator's truth at the end.
pub fn demo(
    settings: &Settings,
    dir: &std::path::Path,
    roster: &certscan_domain::Roster,
    fis: &[u8],
    level: certscan_fixtures::Level,
    seed: u64,
) -> Result<()> {
    let mut settings = settings.clone();
    settings.data_dir = dir.join("service");
    settings.database_url = None;
    settings.amqp_url = None;
    settings.object_store = None;
    settings.tokens = Vec::new();
    let engine = PdfEngine::bind(&settings.pdfium_library()?)?;
    let roster = roster.clone();
    let fis = fis.to_vec();
    let dir = dir.to_path_buf();
    runtime()?.block_on(async move {
        let service = certscan_api::server::start(&settings, engine, "127.0.0.1:0").await.map_err(anyhow::Error::msg)?;
        let base = format!("http://{}", service.addr);
        println!("  embedded service {base} (SQLite and files in {})", settings.data_dir.display());
        let result = demo_calls(&base, &dir, &roster, &fis, level, seed, engine).await;
        service.stop().await;
        result
    })
}

async fn demo_calls(
    base: &str,
    dir: &std::path::Path,
    roster: &certscan_domain::Roster,
    fis: &[u8],
    level: certscan_fixtures::Level,
    seed: u64,
    engine: &'static PdfEngine,
) -> Result<()> {
    use std::time::Instant;
    let http = reqwest::Client::new();
    let exam = &roster.exam_id;
    let check = |what: &str, r: &reqwest::Response| -> Result<()> {
        if r.status().is_success() {
            Ok(())
        } else {
            anyhow::bail!("{what}: HTTP {}", r.status())
        }
    };
    let r = http.put(format!("{base}/v1/exams/{exam}")).json(roster).send().await?;
    check("PUT roster", &r)?;
    println!("  PUT  /v1/exams/{exam} → {}", r.status());
    let r = http.post(format!("{base}/v1/exams/{exam}/fis-frdo")).header("x-file-name", "fis-frdo.csv").body(fis.to_vec()).send().await?;
    check("POST FIS FRDO file", &r)?;
    println!("  POST /v1/exams/{exam}/fis-frdo → {}", r.status());
    let r = http.post(format!("{base}/v1/exams/{exam}/certificates")).send().await?;
    check("POST certificates", &r)?;
    let pdf = r.bytes().await?.to_vec();
    let certs_path = dir.join("certificates.pdf");
    std::fs::write(&certs_path, &pdf).with_context(|| format!("cannot write {}", certs_path.display()))?;
    println!("  POST /v1/exams/{exam}/certificates → {} ({} bytes)", certs_path.display(), pdf.len());

    let template = certscan_templates::reference();
    let options = certscan_fixtures::SimulateOptions { level, seed, format: certscan_fixtures::ScanFormat::Pdf };
    let scan = certscan_fixtures::simulate(engine, &template, roster, &pdf, &options)?;
    std::fs::write(dir.join("scan.pdf"), &scan.bytes).context("cannot write scan.pdf")?;
    std::fs::write(dir.join("scan-truth.json"), scan.truth.to_json_pretty()).context("cannot write scan-truth.json")?;
    println!("  simulated scan  {} ({} page(s), level {level:?})", dir.join("scan.pdf").display(), scan.truth.pages.len());

    let started = Instant::now();
    let r = http.post(format!("{base}/v1/exams/{exam}/scans")).header("x-file-name", "scan.pdf").body(scan.bytes.clone()).send().await?;
    check("POST scan", &r)?;
    let job: serde_json::Value = r.json().await?;
    let job_id = job["job_id"].as_str().context("no job id")?.to_string();
    println!("  POST /v1/exams/{exam}/scans → 202, job {job_id}");
    let deadline = Instant::now() + std::time::Duration::from_secs(1800);
    let job = loop {
        let job: serde_json::Value = http.get(format!("{base}/v1/jobs/{job_id}")).send().await?.json().await?;
        match job["state"].as_str() {
            Some("done") => break job,
            Some("failed") => anyhow::bail!("job {job_id} failed: {}", job["error"]),
            _ if Instant::now() > deadline => anyhow::bail!("job {job_id} did not finish in 30 minutes"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    };
    let p = &job["pages"];
    println!(
        "  GET  /v1/jobs/{job_id} → done in {:.1} s: {} pages, {} attached, {} review, {} ignored, {} duplicate",
        started.elapsed().as_secs_f64(),
        p["total"],
        p["attached"],
        p["review"],
        p["ignored"],
        p["duplicate"]
    );
    let status: serde_json::Value = http.get(format!("{base}/v1/exams/{exam}/certificates/status")).send().await?.json().await?;
    println!(
        "  GET  /v1/exams/{exam}/certificates/status → {} «{}»",
        status["status"]["code"],
        status["status"]["label"].as_str().unwrap_or("")
    );
    println!();
    println!("{:<10} {:<36} {:<16} {:<11} {:>4}  status", "application", "candidate", "registration", "blank", "page");
    for app in status["applications"].as_array().into_iter().flatten().filter(|a| a["outcome"] == "passed") {
        let s = |k: &str| app[k].as_str().unwrap_or("").to_string();
        let page = app["attached_from"]["page"].as_i64().map_or("-".to_string(), |p| p.to_string());
        let state = if app["scan_url"].is_string() { "attached" } else { "waiting (see review)" };
        println!(
            "{:<10} {:<36} {:<16} {:<11} {:>4}  {state}",
            s("application_id"),
            s("full_name"),
            s("registration_number"),
            s("blank_number"),
            page
        );
    }
    let review: serde_json::Value = http.get(format!("{base}/v1/exams/{exam}/review")).send().await?.json().await?;
    for item in review["items"].as_array().into_iter().flatten() {
        println!("  review: page {} {} — {}", item["page"], item["reason"].as_str().unwrap_or(""), item["detail"].as_str().unwrap_or(""));
    }
    let report: certscan_pipeline::report::Report = serde_json::from_value(job["report"].clone()).context("the job's report")?;
    let errors = crate::commands::check_against_truth(&report, &scan.truth);
    if errors.is_empty() {
        println!("checked against the simulator's truth: no page attached wrongly");
        let signer = Signer { engine, template: &template, roster, certificates_pdf: &pdf, options: &options };
        demo_life(&http, base, dir, exam, &signer).await
    } else {
        for e in &errors {
            println!("TRUTH MISMATCH: {e}");
        }
        anyhow::bail!("{} page(s) disagree with the simulator's truth", errors.len())
    }
}

/// The rest of the certificate's life (seed 001, 002): the issuance register generated, downloaded,
/// signed with one row left empty and scanned into a certificate upload (its page routes itself; the
/// signature check names the empty row), rejected with a reason, signed fully, uploaded again and approved; the handover of every attached
/// application; the exam list filtered by status; and the events the portal read meanwhile.
/// What the demo needs to play the exam site signing the register: the stack as it was simulated.
struct Signer<'a> {
    engine: &'static PdfEngine,
    template: &'a certscan_templates::Template,
    roster: &'a certscan_domain::Roster,
    certificates_pdf: &'a [u8],
    options: &'a certscan_fixtures::SimulateOptions,
}

async fn demo_life(http: &reqwest::Client, base: &str, dir: &std::path::Path, exam: &str, signer: &Signer<'_>) -> Result<()> {
    use serde_json::{json, Value};
    async fn call(http: &reqwest::Client, method: reqwest::Method, url: String, body: Option<Value>) -> Result<Value> {
        let mut r = http.request(method.clone(), &url);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            anyhow::bail!("{method} {url}: HTTP {status}: {v}");
        }
        Ok(v)
    }
    let register_status =
        |v: &Value| format!("{} «{}»", v["status"]["code"].as_str().unwrap_or(""), v["status"]["label"].as_str().unwrap_or(""));
    println!();
    let list = call(http, reqwest::Method::GET, format!("{base}/v1/exams?register_status=generation_possible"), None).await?;
    let listed = list["exams"].as_array().into_iter().flatten().any(|e| e["exam_id"] == exam);
    println!("  GET  /v1/exams?register_status=generation_possible → exam listed: {listed}");
    if !listed {
        let r = call(http, reqwest::Method::GET, format!("{base}/v1/exams/{exam}/register"), None).await?;
        println!("  the register is {}: every passed application needs its scan before it can be generated", register_status(&r));
        return Ok(());
    }
    let r = call(http, reqwest::Method::POST, format!("{base}/v1/exams/{exam}/register"), None).await?;
    println!(
        "  POST /v1/exams/{exam}/register → version {}, {} rows, {}",
        r["version"],
        r["rows"].as_array().map_or(0, Vec::len),
        register_status(&r)
    );
    for format in ["xlsx", "pdf"] {
        let bytes =
            http.get(format!("{base}/v1/exams/{exam}/register/document?format={format}")).send().await?.error_for_status()?.bytes().await?;
        let path = dir.join(format!("register.{format}"));
        std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        println!("  GET  /v1/exams/{exam}/register/document?format={format} → {} ({} bytes)", path.display(), bytes.len());
    }
    let r = call(http, reqwest::Method::GET, format!("{base}/v1/exams/{exam}/register"), None).await?;
    println!("  the exam site downloaded it → {}", register_status(&r));
    // The candidates sign (one row left empty), the register is scanned into the same stack as the
    // certificates and uploaded as a certificate upload: its page routes itself to the register.
    let rows: Vec<certscan_domain::register::RegisterRow> = serde_json::from_value(r["rows"].clone()).context("the register's rows")?;
    let version = r["version"].as_u64().unwrap_or(1) as u32;
    let document = certscan_templates::register::RegisterDocument::new(signer.roster, version, &rows);
    let unsigned = rows.len().min(2) as u32;
    let to_sign = certscan_fixtures::RegisterToSign { document: &document, unsigned_rows: vec![unsigned] };
    let signed = certscan_fixtures::simulate_with_register(
        signer.engine,
        signer.template,
        signer.roster,
        signer.certificates_pdf,
        signer.options,
        Some(&to_sign),
    )?;
    let path = dir.join("scan-with-register.pdf");
    std::fs::write(&path, &signed.bytes).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "  simulated: the register signed (row {unsigned} left empty) and scanned after the certificates → {} (register on page(s) {:?})",
        path.display(),
        signed.register.as_ref().map(|t| t.file_pages.clone()).unwrap_or_default()
    );
    async fn upload(http: &reqwest::Client, base: &str, url: String, bytes: Vec<u8>) -> Result<Value> {
        let job: Value = http.post(url).header("x-file-name", "signed.pdf").body(bytes).send().await?.error_for_status()?.json().await?;
        let job_id = job["job_id"].as_str().context("no job id")?.to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1800);
        loop {
            let job: Value = http.get(format!("{base}/v1/jobs/{job_id}")).send().await?.json().await?;
            match job["state"].as_str() {
                Some("done") => return Ok(job),
                Some("failed") => anyhow::bail!("job {job_id} failed: {}", job["error"]),
                _ if std::time::Instant::now() > deadline => anyhow::bail!("job {job_id} did not finish in 30 minutes"),
                _ => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            }
        }
    }
    let job = upload(http, base, format!("{base}/v1/exams/{exam}/scans"), signed.bytes.clone()).await?;
    let p = &job["report"]["summary"];
    println!(
        "  POST /v1/exams/{exam}/scans (certificates + register) → job done: {} register page(s), {} duplicate, {} attached",
        p["register"], p["duplicate"], p["attached"]
    );
    let r = call(http, reqwest::Method::GET, format!("{base}/v1/exams/{exam}/register"), None).await?;
    println!(
        "  GET  /v1/exams/{exam}/register → {}; signature check: {}",
        register_status(&r),
        r["signatures"]["summary"].as_str().unwrap_or("-")
    );
    for row in r["signatures"]["rows"].as_array().into_iter().flatten().filter(|row| row["verdict"] != "signed") {
        let url = row["crop_url"].as_str().unwrap_or("");
        let crop = http.get(format!("{base}{url}")).send().await?.error_for_status()?.bytes().await?;
        let path = dir.join(format!("register-row-{}.png", row["row"]));
        std::fs::write(&path, &crop).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "    row {} {} (ink {}): crop {} → {}",
            row["row"],
            row["verdict"].as_str().unwrap_or(""),
            row["ink"],
            url,
            path.display()
        );
    }
    let r = call(http, reqwest::Method::POST, format!("{base}/v1/exams/{exam}/register/review"), None).await?;
    println!("  POST /v1/exams/{exam}/register/review → {}", register_status(&r));
    let r = call(
        http,
        reqwest::Method::POST,
        format!("{base}/v1/exams/{exam}/register/reject"),
        Some(json!({"reason": format!("строка {unsigned} без подписи")})),
    )
    .await?;
    println!("  POST /v1/exams/{exam}/register/reject → {}, reason «{}»", register_status(&r), r["reason"].as_str().unwrap_or(""));
    let fixed = certscan_fixtures::simulate_signed_register(
        signer.engine,
        &certscan_fixtures::RegisterToSign { document: &document, unsigned_rows: vec![] },
        signer.options,
    )?;
    let job = upload(http, base, format!("{base}/v1/exams/{exam}/register/scans"), fixed.bytes).await?;
    let r = call(http, reqwest::Method::GET, format!("{base}/v1/exams/{exam}/register"), None).await?;
    println!(
        "  POST /v1/exams/{exam}/register/scans (signed in every row) → job {} done → {}; signature check: {}",
        job["job_id"].as_str().unwrap_or(""),
        register_status(&r),
        r["signatures"]["summary"].as_str().unwrap_or("-")
    );
    call(http, reqwest::Method::POST, format!("{base}/v1/exams/{exam}/register/review"), None).await?;
    let r = call(http, reqwest::Method::POST, format!("{base}/v1/exams/{exam}/register/approve"), None).await?;
    println!("  POST /v1/exams/{exam}/register/review, /approve → {}", register_status(&r));
    let status = call(http, reqwest::Method::GET, format!("{base}/v1/exams/{exam}/certificates/status"), None).await?;
    let mut handed = 0;
    for app in status["applications"].as_array().into_iter().flatten().filter(|a| a["status"]["code"] == "certificate_issue_required") {
        let id = app["application_id"].as_str().unwrap_or("");
        call(http, reqwest::Method::POST, format!("{base}/v1/applications/{id}/handover"), Some(json!({}))).await?;
        handed += 1;
    }
    let status = call(http, reqwest::Method::GET, format!("{base}/v1/exams/{exam}/certificates/status"), None).await?;
    let done = status["applications"].as_array().into_iter().flatten().filter(|a| a["status"]["code"] == "done").count();
    println!("  POST /v1/applications/{{id}}/handover × {handed} → {done} application(s) «Экзаменован - услуга оказана»");
    let list = call(http, reqwest::Method::GET, format!("{base}/v1/exams?register_status=approved"), None).await?;
    println!(
        "  GET  /v1/exams?register_status=approved → {}",
        list["exams"].as_array().into_iter().flatten().map(|e| e["exam_id"].as_str().unwrap_or("")).collect::<Vec<_>>().join(", ")
    );
    let events = call(http, reqwest::Method::GET, format!("{base}/v1/events?exam_id={exam}&limit=1000"), None).await?;
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in events["events"].as_array().into_iter().flatten() {
        *counts.entry(e["type"].as_str().unwrap_or("").to_string()).or_default() += 1;
    }
    println!(
        "  GET  /v1/events?exam_id={exam} → last_seq {}: {}",
        events["last_seq"],
        counts.iter().map(|(k, v)| format!("{k} ×{v}")).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
