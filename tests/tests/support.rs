//! Shared helpers: the PDFium engine the setup installed, sample exams, pixel measurements.

use certscan_domain::{import_fis, Certificate, Roster};
use certscan_pipeline::PdfEngine;
use image::{GrayImage, RgbImage};

/// `libpdfium.so`: `CERTSCAN_PDFIUM_LIBRARY`, else where `scripts/setup.sh` puts it.
pub fn pdfium_path() -> std::path::PathBuf {
    std::env::var_os("CERTSCAN_PDFIUM_LIBRARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../.pdfium/libpdfium.so").into())
}

/// The PDFium engine bound to [`pdfium_path`].
pub fn engine() -> &'static PdfEngine {
    PdfEngine::bind(&pdfium_path()).expect("PDFium is installed by scripts/setup.sh")
}

/// A sample exam and its imported certificates.
pub fn sample(seed: u64, applications: usize) -> (Roster, Vec<Certificate>) {
    let roster = certscan_fixtures::exam::sample_roster(seed, applications);
    let fis = certscan_fixtures::exam::sample_fis_csv(&roster, seed);
    let import = import_fis(&roster, "fis.csv", &fis).expect("the sample FIS file imports");
    let certificates = import.certificates(&roster);
    (roster, certificates)
}

pub fn gray(image: &RgbImage) -> GrayImage {
    image::DynamicImage::ImageRgb8(image.clone()).to_luma8()
}

/// Bounding box (x0, y0, x1, y1) of pixels darker than `threshold`, if any.
pub fn dark_bbox(image: &GrayImage, threshold: u8) -> Option<(u32, u32, u32, u32)> {
    let mut bbox: Option<(u32, u32, u32, u32)> = None;
    for (x, y, p) in image.enumerate_pixels() {
        if p.0[0] < threshold {
            bbox = Some(match bbox {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
    }
    bbox
}

/// PostgreSQL for the integration tests (`CERTSCAN_TEST_DATABASE_URL` overrides; trust auth as on these
/// machines and in `.ci/run`).
pub fn pg_admin_url() -> String {
    std::env::var("CERTSCAN_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// RabbitMQ for the integration tests (`CERTSCAN_TEST_AMQP_URL` overrides).
pub fn amqp_url() -> String {
    std::env::var("CERTSCAN_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A database of the test's own: a fresh PostgreSQL database, or a SQLite file in a temporary folder.
/// Dropped (PostgreSQL: `DROP DATABASE … WITH (FORCE)`) when the value goes out of scope.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        TestDb { url, pg_name: None, _dir: Some(dir) }
    }

    pub async fn postgres() -> TestDb {
        use sqlx::Connection;
        let admin = pg_admin_url();
        let name = format!("certscan_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL at 127.0.0.1:5432 (scripts/test.sh starts it)");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
        TestDb { url: format!("{base}/{name}"), pg_name: Some(name), _dir: None }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = pg_admin_url();
            // Its own thread and runtime: Drop cannot await, and the test's runtime may be ending.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
                    }
                });
            })
            .join();
        }
    }
}

/// Waits for `check` to return `Some` within `seconds`, polling; panics with `what` on the deadline.
pub async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {seconds} s waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Settings for a service under test: its own data folder, database and (when given) queue.
pub fn service_settings(data_dir: &std::path::Path, database_url: &str, amqp: Option<(&str, &str)>) -> certscan_workers::Settings {
    let mut s = certscan_workers::Settings {
        data_dir: data_dir.to_path_buf(),
        pdfium_library: Some(pdfium_path()),
        database_url: Some(database_url.to_string()),
        ..certscan_workers::Settings::default()
    };
    if let Some((url, queue)) = amqp {
        s.amqp_url = Some(url.to_string());
        s.amqp_queue = queue.to_string();
    }
    s
}

/// A sample exam as the portal and the testing center would send it: roster JSON, FIS FRDO CSV
/// (Windows-1251) and a simulated scan of the printed stack.
pub struct ExamFiles {
    pub roster: Roster,
    pub roster_json: Vec<u8>,
    pub fis_csv: Vec<u8>,
    pub scan: certscan_fixtures::SimulatedScan,
    /// The certificates as printed, and how the scan was simulated (to simulate it again with more in it).
    pub certificates_pdf: Vec<u8>,
    pub options: certscan_fixtures::SimulateOptions,
}

pub fn exam_files(seed: u64, applications: usize, level: certscan_fixtures::Level) -> ExamFiles {
    let (roster, certificates) = sample(seed, applications);
    let template = certscan_templates::reference();
    let certificates_pdf =
        certscan_templates::render_certificates(&template, &certificates, certscan_templates::PrintOffset::default()).unwrap();
    let options = certscan_fixtures::SimulateOptions { level, seed, format: certscan_fixtures::ScanFormat::Pdf };
    let scan = certscan_fixtures::simulate(engine(), &template, &roster, &certificates_pdf, &options).unwrap();
    ExamFiles {
        roster_json: serde_json::to_vec(&roster).unwrap(),
        fis_csv: certscan_fixtures::exam::sample_fis_csv(&roster, seed),
        scan,
        roster,
        certificates_pdf,
        options,
    }
}

/// A small HTTP client for the API under test.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

impl Api {
    pub fn new(addr: std::net::SocketAddr) -> Api {
        Api { base: format!("http://{addr}"), http: reqwest::Client::new(), token: None }
    }

    pub fn with_token(&self, token: &str) -> Api {
        Api { base: self.base.clone(), http: self.http.clone(), token: Some(token.to_string()) }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends and returns (status, body as JSON or Null).
    pub async fn json(&self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>) -> (u16, serde_json::Value) {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.body(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    pub async fn bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self.request(reqwest::Method::GET, path).send().await.unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    /// Polls a job until it is done or failed (deadline in seconds); returns its JSON.
    pub async fn finished_job(&self, job_id: &str, seconds: u64) -> serde_json::Value {
        let path = format!("/v1/jobs/{job_id}");
        eventually(&format!("job {job_id} to finish"), seconds, || async {
            let (status, job) = self.json(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, 200, "{job}");
            matches!(job["state"].as_str(), Some("done" | "failed")).then_some(job)
        })
        .await
    }
}

/// A RabbitMQ queue pair of the test's own (`certscan.test.<uuid>` and its `.dead`), deleted when the
/// test ends however it ends.
pub struct TestQueues {
    pub config: certscan_workers::amqp::AmqpConfig,
}

impl TestQueues {
    pub fn new() -> TestQueues {
        let mut config = certscan_workers::amqp::AmqpConfig::new(&amqp_url());
        config.queue = format!("certscan.test.{}", uuid::Uuid::new_v4());
        TestQueues { config }
    }
}

impl Drop for TestQueues {
    fn drop(&mut self) {
        // Drop cannot await, and may run while a test panics: clean up on a runtime of its own.
        let config = self.config.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a cleanup runtime starts");
            runtime.block_on(certscan_workers::amqp::delete_queues(&config));
        });
        let _ = cleanup.join();
    }
}
