//! End-to-end throughput of the distributed deployment: scans uploaded through the API, published to
//! RabbitMQ, processed by 1 and then 2 `certscan worker` processes, results committed to PostgreSQL.
//! Reports pages per second from the first upload to the last job done.
//!
//! `cargo build --release -p certscan && OMP_THREAD_LIMIT=1 cargo bench -p certscan-benches --bench e2e`
//! Environment: CERTSCAN_BENCH_EXAMS (scans, default 4), CERTSCAN_BENCH_APPLICATIONS (per exam, default
//! 25), CERTSCAN_BENCH_WORKERS (default "1,2"), CERTSCAN_TEST_DATABASE_URL, CERTSCAN_TEST_AMQP_URL.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use certscan_fixtures::{simulate, Level, ScanFormat, SimulateOptions};
use sqlx::Connection;

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

struct Exam {
    roster_json: Vec<u8>,
    exam_id: String,
    fis: Vec<u8>,
    scan: Vec<u8>,
    pages: usize,
}

/// Sample exams with simulated `typical` scans, cached under target/ (simulating is slower than reading).
fn exams(count: usize, applications: usize) -> Vec<Exam> {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-e2e");
    std::fs::create_dir_all(&cache).unwrap();
    (0..count as u64)
        .map(|i| {
            let seed = 7000 + i;
            let roster = certscan_fixtures::exam::sample_roster(seed, applications);
            let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
            let path = cache.join(format!("scan-{seed}-{applications}.pdf"));
            let scan = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(_) => {
                    let template = certscan_templates::reference();
                    let import = certscan_domain::import_fis(&roster, "fis.csv", &fis).unwrap();
                    let pdf = certscan_templates::render_certificates(
                        &template,
                        &import.certificates(&roster),
                        certscan_templates::PrintOffset::default(),
                    )
                    .unwrap();
                    let options = SimulateOptions { level: Level::Typical, seed, format: ScanFormat::Pdf };
                    let scan = simulate(certscan_benches::engine(), &template, &roster, &pdf, &options).unwrap().bytes;
                    std::fs::write(&path, &scan).unwrap();
                    scan
                }
            };
            let pages = certscan_benches::engine().page_count(&scan).unwrap();
            Exam { roster_json: serde_json::to_vec(&roster).unwrap(), exam_id: roster.exam_id.clone(), fis, scan, pages }
        })
        .collect()
}

fn worker_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/certscan");
    assert!(path.is_file(), "build the worker first: cargo build --release -p certscan ({} missing)", path.display());
    path
}

async fn run(workers: usize, exams: &[Exam]) -> (usize, f64) {
    let admin = env_or("CERTSCAN_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres");
    let amqp = env_or("CERTSCAN_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
    let name = format!("certscan_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    let database_url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let queue = format!("certscan.bench.{}", uuid::Uuid::new_v4().simple());
    let dir = std::env::temp_dir().join(&name);
    let library = std::env::var_os("CERTSCAN_PDFIUM_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.pdfium/libpdfium.so"));
    let settings = certscan_workers::Settings {
        data_dir: dir.clone(),
        pdfium_library: Some(library.clone()),
        database_url: Some(database_url.clone()),
        amqp_url: Some(amqp.clone()),
        amqp_queue: queue.clone(),
        ..certscan_workers::Settings::default()
    };
    let service = certscan_api::server::start(&settings, certscan_benches::engine(), "127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", service.addr);
    let http = reqwest::Client::new();
    for exam in exams {
        let r = http.put(format!("{base}/v1/exams/{}", exam.exam_id)).body(exam.roster_json.clone()).send().await.unwrap();
        assert!(r.status().is_success());
        let r = http.post(format!("{base}/v1/exams/{}/fis-frdo", exam.exam_id)).body(exam.fis.clone()).send().await.unwrap();
        assert!(r.status().is_success());
    }
    std::fs::create_dir_all(&dir).unwrap();
    let mut children: Vec<Child> = (0..workers)
        .map(|i| {
            let log = std::fs::File::create(dir.join(format!("worker-{i}.log"))).unwrap();
            Command::new(worker_binary())
                .arg("worker")
                .env("CERTSCAN_DATABASE_URL", &database_url)
                .env("CERTSCAN_AMQP_URL", &amqp)
                .env("CERTSCAN_AMQP_QUEUE", &queue)
                .env("CERTSCAN_OBJECT_STORE", dir.join("objects"))
                .env("CERTSCAN_PDFIUM_LIBRARY", &library)
                .env("OMP_THREAD_LIMIT", "1")
                .stderr(log)
                .spawn()
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    let mut jobs = Vec::new();
    for exam in exams {
        let r = http.post(format!("{base}/v1/exams/{}/scans", exam.exam_id)).body(exam.scan.clone()).send().await.unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        jobs.push(body["job_id"].as_str().unwrap().to_string());
    }
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut attached = 0;
    for job in &jobs {
        loop {
            let body: serde_json::Value = http.get(format!("{base}/v1/jobs/{job}")).send().await.unwrap().json().await.unwrap();
            match body["state"].as_str() {
                Some("done") => {
                    attached += body["pages"]["attached"].as_u64().unwrap() as usize;
                    break;
                }
                Some("failed") => panic!("job failed: {body}"),
                _ => {}
            }
            assert!(Instant::now() < deadline, "jobs did not finish in 30 minutes");
            for (i, child) in children.iter_mut().enumerate() {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(dir.join(format!("worker-{i}.log"))).unwrap_or_default();
                    panic!("worker process {i} exited ({status}): {log}");
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    service.stop().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
    let mut config = certscan_workers::amqp::AmqpConfig::new(&amqp);
    config.queue = queue;
    certscan_workers::amqp::delete_queues(&config).await;
    let _ = std::fs::remove_dir_all(&dir);
    (attached, seconds)
}

fn main() {
    // `cargo bench` passes --bench; a filter that names another bench skips this one.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !args.is_empty() && !args.iter().any(|a| "e2e".contains(a.as_str())) {
        return;
    }
    let count: usize = env_or("CERTSCAN_BENCH_EXAMS", "4").parse().unwrap();
    let applications: usize = env_or("CERTSCAN_BENCH_APPLICATIONS", "25").parse().unwrap();
    let exams = exams(count, applications);
    let pages: usize = exams.iter().map(|e| e.pages).sum();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    println!(
        "e2e: {count} scans, {pages} pages (typical), API + RabbitMQ + PostgreSQL, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for workers in env_or("CERTSCAN_BENCH_WORKERS", "1,2").split(',').map(|w| w.trim().parse::<usize>().unwrap()) {
        let (attached, seconds) = runtime.block_on(run(workers, &exams));
        println!(
            "e2e/{workers}_worker_processes: {pages} pages in {seconds:.1} s = {:.1} pages/s ({attached} attached)",
            pages as f64 / seconds
        );
    }
}
