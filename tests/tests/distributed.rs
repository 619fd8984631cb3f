//! The distributed deployment against the real PostgreSQL and RabbitMQ of the machine: the API publishes
//! to RabbitMQ, workers (in this process, or separate processes) consume; each test has its own database
//! and queue names. Two workers share one queue; a worker killed mid-job loses nothing and duplicates
//! nothing; a poison file ends in the dead-letter queue while the worker goes on.

use reqwest::Method;
use tokio::sync::watch;

use certscan_api::server::start;
use certscan_fixtures::{Level, PageKind};
use certscan_workers::amqp::{get_dead_letter, run_consumer, AmqpConfig};
use certscan_workers::job::{connect, handle_job};
use certscan_workers::store::JobState;

use crate::support::{amqp_url, engine, eventually, exam_files, service_settings, Api, TestDb, TestQueues};

/// An in-process worker consuming `queue`; counts the jobs it handled.
fn spawn_worker(
    settings: &certscan_workers::Settings,
    handled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stop_rx) = watch::channel(false);
    let settings = settings.clone();
    let task = tokio::spawn(async move {
        let ctx = connect(&settings, engine()).await.unwrap();
        let mut config = AmqpConfig::new(settings.amqp_url.as_deref().unwrap());
        config.queue = settings.amqp_queue.clone();
        run_consumer(
            config,
            move |message, redelivered| {
                let ctx = ctx.clone();
                let handled = handled.clone();
                async move {
                    let d = handle_job(&ctx, message, redelivered).await;
                    handled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    d
                }
            },
            stop_rx,
        )
        .await
        .unwrap();
    });
    (stop, task)
}

async fn setup_exam(api: &Api, files: &crate::support::ExamFiles) {
    let exam = &files.roster.exam_id;
    let (status, body) = api.json(Method::PUT, &format!("/v1/exams/{exam}"), Some(files.roster_json.clone())).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/fis-frdo"), Some(files.fis_csv.clone())).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = api.bytes_post(&format!("/v1/exams/{exam}/certificates")).await;
    assert_eq!(status, 200);
}

impl Api {
    async fn bytes_post(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self.request(Method::POST, path).send().await.unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_one_queue_and_the_exam_gets_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::postgres().await;
    let queues = TestQueues::new();
    let settings = service_settings(dir.path(), &db.url, Some((&amqp_url(), &queues.config.queue)));
    let service = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    // Two exams, both scans queued before any worker runs.
    let exams = [exam_files(41, 5, Level::Clean), exam_files(44, 5, Level::Clean)];
    let mut job_ids = Vec::new();
    for files in &exams {
        setup_exam(&api, files).await;
        let (status, body) =
            api.json(Method::POST, &format!("/v1/exams/{}/scans", files.roster.exam_id), Some(files.scan.bytes.clone())).await;
        assert_eq!(status, 202, "{body}");
        job_ids.push(body["job_id"].as_str().unwrap().to_string());
    }
    let counts: Vec<_> = (0..2).map(|_| std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0))).collect();
    let workers: Vec<_> = counts.iter().map(|c| spawn_worker(&settings, c.clone())).collect();
    for id in &job_ids {
        let job = api.finished_job(id, 300).await;
        assert_eq!(job["state"], "done", "{job}");
    }
    for (i, c) in counts.iter().enumerate() {
        assert_eq!(c.load(std::sync::atomic::Ordering::SeqCst), 1, "worker {i} took one of the two jobs");
    }
    for files in &exams {
        let (_, status) = api.json(Method::GET, &format!("/v1/exams/{}/certificates/status", files.roster.exam_id), None).await;
        assert_eq!(status["status"]["code"], "uploaded", "{status}");
        let certificates = files.scan.truth.pages.iter().filter(|p| p.kind == PageKind::Certificate).count();
        assert_eq!(status["counts"]["attached"].as_u64().unwrap() as usize, certificates);
    }

    for (stop, task) in workers {
        stop.send(true).unwrap();
        task.await.unwrap();
    }
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_file_is_dead_lettered_and_the_worker_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::postgres().await;
    let queues = TestQueues::new();
    let settings = service_settings(dir.path(), &db.url, Some((&amqp_url(), &queues.config.queue)));
    let service = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let files = exam_files(42, 3, Level::Clean);
    let exam = files.roster.exam_id.clone();
    setup_exam(&api, &files).await;
    let (stop, task) = spawn_worker(&settings, Default::default());

    let mut poison = files.scan.bytes.clone();
    poison.truncate(1500);
    let (_, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(poison)).await;
    let poison_id = body["job_id"].as_str().unwrap().to_string();
    let job = api.finished_job(&poison_id, 120).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["error"].as_str().unwrap().contains("cannot read the scan"), "{job}");
    let (body, _) =
        eventually("the poison message in the dead-letter queue", 30, || async { get_dead_letter(&queues.config).await.unwrap() }).await;
    let message = certscan_workers::JobMessage::from_json(&body).unwrap();
    assert_eq!(message.job_id, poison_id);

    let (_, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(files.scan.bytes.clone())).await;
    let job = api.finished_job(body["job_id"].as_str().unwrap(), 300).await;
    assert_eq!(job["state"], "done", "the worker went on: {job}");

    stop.send(true).unwrap();
    task.await.unwrap();
    service.stop().await;
}

/// Run as a separate process by the kill test (the test binary re-executes itself with this test's
/// name); does nothing when run any other way.
#[test]
#[ignore = "a worker process for the kill test"]
fn worker_process() {
    let Ok(config) = std::env::var("CERTSCAN_TEST_WORKER") else { return };
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let data_dir = std::path::PathBuf::from(config["data_dir"].as_str().unwrap());
    let settings = service_settings(
        &data_dir,
        config["database_url"].as_str().unwrap(),
        Some((config["amqp_url"].as_str().unwrap(), config["queue"].as_str().unwrap())),
    );
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (_stop, task) = spawn_worker(&settings, Default::default());
        task.await.unwrap();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::postgres().await;
    let queues = TestQueues::new();
    let settings = service_settings(dir.path(), &db.url, Some((&amqp_url(), &queues.config.queue)));
    let service = start(&settings, engine(), "127.0.0.1:0").await.unwrap();
    let api = Api::new(service.addr);
    let files = exam_files(43, 16, Level::Clean);
    let exam = files.roster.exam_id.clone();
    setup_exam(&api, &files).await;
    let (_, body) = api.json(Method::POST, &format!("/v1/exams/{exam}/scans"), Some(files.scan.bytes.clone())).await;
    let job_id = body["job_id"].as_str().unwrap().to_string();

    // A worker process, slowed to one thread so that it is surely mid-job when killed.
    let config = serde_json::json!({"data_dir": dir.path(), "database_url": db.url, "amqp_url": amqp_url(), "queue": queues.config.queue});
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["distributed::worker_process", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env("CERTSCAN_TEST_WORKER", config.to_string())
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store = certscan_workers::store::Store::connect(&db.url).await.unwrap();
    let total = files.scan.truth.pages.len() as i64;
    let processed = eventually("the worker process to be mid-job", 120, || async {
        let job = store.job(&job_id).await.unwrap().unwrap();
        assert_ne!(job.state, JobState::Done, "the job finished before the kill; make the scan longer");
        (job.state == JobState::Running && job.pages_processed > 0 && job.pages_processed < total).then_some(job.pages_processed)
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(store.job(&job_id).await.unwrap().unwrap().state, JobState::Running, "killed with {processed}/{total} pages read");

    // The broker redelivers to a fresh worker, which completes the job once.
    let (stop, task) = spawn_worker(&settings, Default::default());
    let job = api.finished_job(&job_id, 300).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(job["pages"]["total"].as_i64().unwrap(), total, "no page lost");
    let report_pages = job["report"]["pages"].as_array().unwrap();
    assert_eq!(report_pages.len() as i64, total);
    let certificates = files.scan.truth.pages.iter().filter(|p| p.kind == PageKind::Certificate).count();
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.attachments as usize, certificates, "each certificate attached once");
    assert_eq!(totals.pages.values().sum::<i64>(), total, "each page stored once");

    stop.send(true).unwrap();
    task.await.unwrap();
    store.close().await;
    service.stop().await;
}
