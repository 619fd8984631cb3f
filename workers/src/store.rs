//! The service's database: exams and applications, FIS FRDO imports, generated certificates, scan jobs,
//! pages, attachments, review items, the audit trail and the blank ledger (`store/ledger.rs`). One set of
//! portable queries runs on PostgreSQL (the service) and SQLite (the embedded default) through sqlx's Any
//! driver; the migrations in `workers/migrations/` are applied at connect.
//!
//! Idempotency lives here: pages are keyed by (job, page), a job's results are committed in one
//! transaction together with its `done` state, and committing a job that is already done changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use certscan_domain::{Certificate, ExamCertificateStatus, FisImport, Outcome, Roster};
use certscan_pipeline::report::{PageReport, Report, Summary};

mod ledger;
pub use ledger::{PackSummary, PutPack};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("applying the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts what is stored (the message says what and why); nothing was changed.
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Worth retrying later: the database is unreachable, busy, or a concurrent writer won a race (a retry
    /// sees its result and decides again).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(e) => !matches!(
                e,
                sqlx::Error::RowNotFound
                    | sqlx::Error::ColumnNotFound(_)
                    | sqlx::Error::ColumnDecode { .. }
                    | sqlx::Error::Decode(_)
                    | sqlx::Error::TypeNotFound { .. }
            ),
            _ => false,
        }
    }
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Binds an optional double. sqlx 0.8.6's Any driver sends a NULL `f64` to PostgreSQL typed as `real`
/// (its Real/Double null mapping is swapped), which poisons the cached statement for later non-null
/// binds; a NULL `f32` comes out as `double precision`, the column's type.
fn bind_f64<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    v: Option<f64>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    match v {
        Some(v) => q.bind(v),
        None => q.bind(Option::<f32>::None),
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn code(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Result<JobState> {
        Ok(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            other => return Err(corrupt(format!("job state {other:?}"))),
        })
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub job_id: String,
    pub exam_id: String,
    pub application_id: Option<String>,
    pub object_key: String,
    pub file_name: Option<String>,
    pub state: JobState,
    pub attempts: i64,
    pub pages_total: Option<i64>,
    pub pages_processed: i64,
    pub error: Option<String>,
    pub report: Option<Report>,
    pub submitted_by: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub seconds: Option<f64>,
}

/// A new job (from an upload, or from a message the portal published itself).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub job_id: String,
    pub exam_id: String,
    pub application_id: Option<String>,
    pub object_key: String,
    pub file_name: Option<String>,
    pub submitted_by: Option<String>,
}

/// One page's result as the worker computed it from the scan alone.
#[derive(Debug, Clone, PartialEq)]
pub struct PageResult {
    pub report: PageReport,
    /// The page's own PDF in the object store; `None` when the page could not be decoded.
    pub object_key: Option<String>,
}

/// The scan attached to an application.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    pub application_id: String,
    pub exam_id: String,
    pub registration_number: String,
    pub issue_date: String,
    pub blank_number: String,
    pub confidence: Option<f64>,
    pub job_id: String,
    pub page: i64,
    #[serde(skip)]
    pub object_key: String,
    /// `automatic`, `review` (assigned by a person) or `point` (point upload).
    pub source: String,
    pub attached_at: String,
    pub attached_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewItem {
    pub item_id: String,
    pub exam_id: String,
    pub job_id: String,
    pub page: i64,
    pub reason: String,
    pub detail: String,
    pub application_id: Option<String>,
    pub blank_number: Option<String>,
    #[serde(skip)]
    pub object_key: Option<String>,
    /// `open`, `assigned` or `dismissed`.
    pub state: String,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub exam_id: Option<String>,
    pub application_id: Option<String>,
    pub job_id: Option<String>,
    pub page: Option<i64>,
    pub detail: String,
}

/// Per application, what the exam status shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicationStatus {
    pub application_id: String,
    pub full_name: String,
    pub outcome: Outcome,
    pub outcome_label: &'static str,
    pub registration_number: Option<String>,
    pub issue_date: Option<String>,
    pub certificate_generated: bool,
    /// The attached scan, when there is one.
    pub attachment: Option<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusCounts {
    pub applications: usize,
    pub passed: usize,
    pub generated: usize,
    pub attached: usize,
    pub review_open: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExamStatus {
    pub exam_id: String,
    pub status: ExamCertificateStatus,
    pub counts: StatusCounts,
    pub applications: Vec<ApplicationStatus>,
}

/// Aggregates for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub jobs_by_state: BTreeMap<String, i64>,
    /// (outcome, reason or "") → pages.
    pub pages: BTreeMap<(String, String), i64>,
    pub review_open: i64,
    pub attachments: i64,
    pub done_jobs_seconds: f64,
    pub done_jobs: i64,
}

/// Whether a roster put created the exam or replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutRoster {
    Created,
    Replaced,
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects and applies the migrations. `postgres://…` or `sqlite://PATH` (the file is created).
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Conflict(format!("database URL must start with postgres:// or sqlite: (got {:?})", redact(url))));
        };
        if backend == Backend::Sqlite {
            // The embedded default keeps its database in the data folder, which may not exist yet.
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = std::path::Path::new(path.split('?').next().unwrap_or(path));
            if let Some(parent) = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty() && !path.as_os_str().is_empty() && path != std::path::Path::new(":memory:"))
            {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Conflict(format!("cannot create the database folder {}: {e}", parent.display())))?;
            }
        }
        let (url, max) = match backend {
            Backend::Sqlite if !url.contains("mode=") => (format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' }), 4),
            Backend::Sqlite => (url.to_string(), 4),
            Backend::Postgres => (url.to_string(), 8),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ---- exams ----

    /// Creates or replaces an exam's roster. Refused (nothing changed) when an application id belongs to
    /// another exam, or when the new roster drops an application with an attached scan or moves it off
    /// `passed` (unattach it first).
    pub async fn put_roster(&self, roster: &Roster, actor: &str) -> Result<PutRoster> {
        let mut tx = self.pool.begin().await?;
        let existing: Option<String> = sqlx::query("SELECT exam_id FROM exams WHERE exam_id = $1")
            .bind(&roster.exam_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        for app in &roster.applications {
            let owner: Option<String> = sqlx::query("SELECT exam_id FROM applications WHERE application_id = $1")
                .bind(&app.application_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            if let Some(owner) = owner.filter(|o| *o != roster.exam_id) {
                return Err(StoreError::Conflict(format!("application {} belongs to exam {owner}", app.application_id)));
            }
        }
        let attached: Vec<String> = sqlx::query("SELECT application_id FROM attachments WHERE exam_id = $1")
            .bind(&roster.exam_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        for id in &attached {
            match roster.application(id) {
                None => {
                    return Err(StoreError::Conflict(format!(
                        "application {id} has an attached scan and cannot be removed from the roster; unattach it first"
                    )))
                }
                Some(app) if app.outcome != Outcome::Passed => {
                    return Err(StoreError::Conflict(format!(
                        "application {id} has an attached scan and cannot become {:?}; unattach it first",
                        app.outcome
                    )))
                }
                Some(_) => {}
            }
        }
        let json = serde_json::to_string(roster).expect("a roster serialises");
        let at = now();
        let result = if existing.is_some() {
            sqlx::query("UPDATE exams SET roster = $2, updated_at = $3, updated_by = $4 WHERE exam_id = $1")
                .bind(&roster.exam_id)
                .bind(&json)
                .bind(&at)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            PutRoster::Replaced
        } else {
            sqlx::query("INSERT INTO exams (exam_id, roster, updated_at, updated_by) VALUES ($1, $2, $3, $4)")
                .bind(&roster.exam_id)
                .bind(&json)
                .bind(&at)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
            PutRoster::Created
        };
        // Applications dropped from the roster lose their generated certificate too.
        let keep: BTreeSet<&str> = roster.applications.iter().map(|a| a.application_id.as_str()).collect();
        let stored: Vec<String> = sqlx::query("SELECT application_id FROM applications WHERE exam_id = $1")
            .bind(&roster.exam_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        for id in stored.iter().filter(|id| !keep.contains(id.as_str())) {
            sqlx::query("DELETE FROM certificates WHERE application_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM applications WHERE application_id = $1").bind(id).execute(&mut *tx).await?;
        }
        for app in &roster.applications {
            let outcome = serde_json::to_value(app.outcome).expect("outcome serialises");
            sqlx::query(
                "INSERT INTO applications (application_id, exam_id, outcome) VALUES ($1, $2, $3) \
                 ON CONFLICT (application_id) DO UPDATE SET outcome = excluded.outcome",
            )
            .bind(&app.application_id)
            .bind(&roster.exam_id)
            .bind(outcome.as_str().unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        audit(
            &mut tx,
            actor,
            "roster",
            Some(&roster.exam_id),
            None,
            None,
            None,
            &format!("{} applications ({})", roster.applications.len(), if result == PutRoster::Created { "created" } else { "replaced" }),
        )
        .await?;
        tx.commit().await?;
        Ok(result)
    }

    pub async fn roster(&self, exam_id: &str) -> Result<Option<Roster>> {
        let row = sqlx::query("SELECT roster FROM exams WHERE exam_id = $1").bind(exam_id).fetch_optional(&self.pool).await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let json: String = row.try_get(0)?;
                serde_json::from_str(&json).map(Some).map_err(|e| corrupt(format!("roster of {exam_id}: {e}")))
            }
        }
    }

    /// The exam an application belongs to.
    pub async fn exam_of_application(&self, application_id: &str) -> Result<Option<String>> {
        Ok(sqlx::query("SELECT exam_id FROM applications WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    // ---- FIS FRDO ----

    pub async fn put_fis_import(&self, exam_id: &str, file_name: &str, import: &FisImport, actor: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let json = serde_json::to_string(import).expect("an import serialises");
        let at = now();
        sqlx::query(
            "INSERT INTO fis_imports (exam_id, file_name, import, imported_at, imported_by) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (exam_id) DO UPDATE SET file_name = excluded.file_name, import = excluded.import, \
             imported_at = excluded.imported_at, imported_by = excluded.imported_by",
        )
        .bind(exam_id)
        .bind(file_name)
        .bind(&json)
        .bind(&at)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        audit(
            &mut tx,
            actor,
            "fis_import",
            Some(exam_id),
            None,
            None,
            None,
            &format!("{file_name}: {} registration numbers", import.records.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn fis_import(&self, exam_id: &str) -> Result<Option<FisImport>> {
        let row = sqlx::query("SELECT import FROM fis_imports WHERE exam_id = $1").bind(exam_id).fetch_optional(&self.pool).await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let json: String = row.try_get(0)?;
                serde_json::from_str(&json).map(Some).map_err(|e| corrupt(format!("FIS FRDO import of {exam_id}: {e}")))
            }
        }
    }

    // ---- certificates ----

    /// Records a generated batch (its PDF already stored under `object_key`); returns the batch id.
    pub async fn record_generation(
        &self,
        exam_id: &str,
        object_key: &str,
        printer: &str,
        certificates: &[Certificate],
        actor: &str,
    ) -> Result<String> {
        let batch_id = new_id();
        let at = now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO certificate_batches (batch_id, exam_id, object_key, certificates, printer, generated_at, generated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&batch_id)
        .bind(exam_id)
        .bind(object_key)
        .bind(certificates.len() as i64)
        .bind(printer)
        .bind(&at)
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        for c in certificates {
            sqlx::query(
                "INSERT INTO certificates (application_id, exam_id, batch_id, registration_number, issue_date, generated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (application_id) DO UPDATE SET batch_id = excluded.batch_id, \
                 registration_number = excluded.registration_number, issue_date = excluded.issue_date, generated_at = excluded.generated_at",
            )
            .bind(&c.application_id)
            .bind(exam_id)
            .bind(&batch_id)
            .bind(&c.registration_number)
            .bind(c.issue_date.format("%Y-%m-%d").to_string())
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        audit(
            &mut tx,
            actor,
            "generate",
            Some(exam_id),
            None,
            None,
            None,
            &format!("{} certificates, printer {printer}", certificates.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(batch_id)
    }

    // ---- jobs ----

    /// Stores a new queued job; a job with this id already stored is left as it is (returns false).
    pub async fn create_job(&self, job: &NewJob) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO jobs (job_id, exam_id, application_id, object_key, file_name, state, submitted_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7) ON CONFLICT (job_id) DO NOTHING",
        )
        .bind(&job.job_id)
        .bind(&job.exam_id)
        .bind(&job.application_id)
        .bind(&job.object_key)
        .bind(&job.file_name)
        .bind(&job.submitted_by)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if inserted {
            let detail = match &job.application_id {
                Some(app) => format!("point upload {} onto {app}", job.file_name.as_deref().unwrap_or("(unnamed)")),
                None => format!("scan {}", job.file_name.as_deref().unwrap_or("(unnamed)")),
            };
            audit(
                &mut tx,
                job.submitted_by.as_deref().unwrap_or("portal"),
                "upload",
                Some(&job.exam_id),
                job.application_id.as_deref(),
                Some(&job.job_id),
                None,
                &detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub async fn job(&self, job_id: &str) -> Result<Option<JobRecord>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1")).bind(job_id).fetch_optional(&self.pool).await?;
        row.map(|r| job_from_row(&r)).transpose()
    }

    /// Jobs not finished (queued or running), oldest first: what the embedded queue re-enqueues at start.
    pub async fn unfinished_jobs(&self) -> Result<Vec<JobRecord>> {
        let rows = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Marks a job running and counts the attempt; returns the job as it is now. A done or failed job is
    /// returned unchanged (the caller acknowledges it and does nothing).
    pub async fn start_job(&self, job_id: &str) -> Result<JobRecord> {
        sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = $2, error = NULL \
             WHERE job_id = $1 AND state IN ('queued', 'running')",
        )
        .bind(job_id)
        .bind(now())
        .execute(&self.pool)
        .await?;
        self.job(job_id).await?.ok_or_else(|| StoreError::NotFound(format!("job {job_id} is not stored")))
    }

    pub async fn set_progress(&self, job_id: &str, total: Option<usize>, processed: usize) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET pages_total = COALESCE($2, pages_total), pages_processed = $3 WHERE job_id = $1 AND state = 'running'",
        )
        .bind(job_id)
        .bind(total.map(|t| t as i64))
        .bind(processed as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A permanent failure: the job is `failed` with the reason; nothing of it was stored.
    pub async fn fail_job(&self, job_id: &str, error: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let exam: Option<String> = sqlx::query("SELECT exam_id FROM jobs WHERE job_id = $1")
            .bind(job_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        sqlx::query("UPDATE jobs SET state = 'failed', error = $2, finished_at = $3 WHERE job_id = $1 AND state <> 'done'")
            .bind(job_id)
            .bind(error)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, "worker", "job_failed", exam.as_deref(), None, Some(job_id), None, error).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Commits a job's pages in one transaction with its `done` state and returns its report. Decisions
    /// are checked against what other jobs already attached: the same blank again is a `duplicate`, another
    /// blank for an attached application or a blank number already attached elsewhere is review
    /// `conflicting_scans`; a point upload's page naming another application is review
    /// `point_upload_mismatch`. With packs of blanks registered, a blank in no pack or written off is review
    /// `blank_not_in_ledger` and one attached in another exam `conflicting_scans`. A job already done
    /// returns its stored report and changes nothing.
    pub async fn commit_job(&self, job_id: &str, pages: Vec<PageResult>, seconds: f64) -> Result<Report> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = $1"))
            .bind(job_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("job {job_id} is not stored")))?;
        let job = job_from_row(&row)?;
        if job.state == JobState::Done {
            return job.report.ok_or_else(|| corrupt(format!("job {job_id} is done without a report")));
        }
        let actor = "certscan";
        // What is attached in this exam now: application → (blank number, job, page); blank → application.
        let mut by_application: BTreeMap<String, (String, String, i64)> = BTreeMap::new();
        let mut by_blank: BTreeMap<String, String> = BTreeMap::new();
        for r in sqlx::query("SELECT application_id, blank_number, job_id, page FROM attachments WHERE exam_id = $1")
            .bind(&job.exam_id)
            .fetch_all(&mut *tx)
            .await?
        {
            let (app, blank, j, p): (String, String, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
            by_blank.insert(blank.clone(), app.clone());
            by_application.insert(app, (blank, j, p));
        }
        // With packs registered, every attachment is checked against the blank ledger here as well.
        let blank_ledger = ledger::commit_ledger(&mut tx).await?;
        let at = now();
        let mut reports = Vec::with_capacity(pages.len());
        for PageResult { mut report, object_key } in pages {
            let page = report.page as i64;
            report.file = object_key.as_ref().map(|_| format!("/v1/jobs/{job_id}/pages/{}", report.page));
            if report.outcome == "attached" {
                let app = report.application_id.clone().unwrap_or_default();
                let blank = report.blank_number.clone().unwrap_or_default();
                let demote = |report: &mut PageReport, reason: &str, detail: String| {
                    report.outcome = "review".into();
                    report.reason = Some(reason.into());
                    report.detail = Some(detail);
                    report.confidence = None;
                };
                if let Some(target) = job.application_id.as_ref().filter(|t| **t != app) {
                    demote(
                        &mut report,
                        "point_upload_mismatch",
                        format!("uploaded onto application {target}, but the code on the page names {app}"),
                    );
                } else if let Some((other_blank, other_job, other_page)) = by_application.get(&app) {
                    if *other_blank == blank {
                        report.outcome = "duplicate".into();
                        report.detail = Some(format!("already attached from job {other_job}, page {other_page}"));
                        report.confidence = None;
                    } else {
                        demote(&mut report, "conflicting_scans", format!("application {app} already has blank {other_blank} attached (job {other_job}, page {other_page}); this page shows blank {blank}"));
                    }
                } else if let Some(other_app) = by_blank.get(&blank) {
                    demote(&mut report, "conflicting_scans", format!("blank {blank} is already attached to application {other_app}"));
                } else if let Some((reason, detail)) = ledger::objection(&mut tx, &blank_ledger, &job.exam_id, &blank).await? {
                    demote(&mut report, reason, detail);
                } else if let Some(key) = &object_key {
                    sqlx::query(
                        "INSERT INTO attachments (application_id, exam_id, registration_number, issue_date, blank_number, confidence, \
                         job_id, page, object_key, source, attached_at, attached_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(&app)
                    .bind(&job.exam_id)
                    .bind(report.registration_number.clone().unwrap_or_default())
                    .bind(report.issue_date.clone().unwrap_or_default())
                    .bind(&blank)
                    .bind(f64::from(report.confidence.unwrap_or(0.0)))
                    .bind(job_id)
                    .bind(page)
                    .bind(key)
                    .bind(if job.application_id.is_some() { "point" } else { "automatic" })
                    .bind(&at)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                    audit(&mut tx, actor, "attach", Some(&job.exam_id), Some(&app), Some(job_id), Some(page), &format!("blank {blank}"))
                        .await?;
                    by_blank.insert(blank.clone(), app.clone());
                    by_application.insert(app.clone(), (blank, job_id.to_string(), page));
                } else {
                    demote(&mut report, "unreadable_page", "the page could not be copied out of the scan".into());
                }
            }
            if report.outcome == "review" {
                if report.application_id.is_none() {
                    report.application_id = job.application_id.clone();
                }
                sqlx::query(
                    "INSERT INTO review_items (item_id, exam_id, job_id, page, reason, detail, application_id, blank_number, object_key, state, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open', $10) ON CONFLICT (job_id, page) DO NOTHING",
                )
                .bind(new_id())
                .bind(&job.exam_id)
                .bind(job_id)
                .bind(page)
                .bind(report.reason.clone().unwrap_or_default())
                .bind(report.detail.clone().unwrap_or_default())
                .bind(&report.application_id)
                .bind(&report.blank_number)
                .bind(&object_key)
                .bind(&at)
                .execute(&mut *tx)
                .await?;
            }
            let insert_page = sqlx::query(
                "INSERT INTO pages (job_id, page, exam_id, outcome, reason, application_id, blank_number, confidence, object_key, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (job_id, page) DO NOTHING",
            )
            .bind(job_id)
            .bind(page)
            .bind(&job.exam_id)
            .bind(&report.outcome)
            .bind(&report.reason)
            .bind(&report.application_id)
            .bind(&report.blank_number);
            bind_f64(insert_page, report.confidence.map(f64::from))
                .bind(&object_key)
                .bind(serde_json::to_string(&report).expect("a page report serialises"))
                .execute(&mut *tx)
                .await?;
            reports.push(report);
        }
        let summary = Summary::of(&reports, seconds);
        let report = Report { exam_id: job.exam_id.clone(), pages: reports, summary };
        sqlx::query(
            "UPDATE jobs SET state = 'done', report = $2, finished_at = $3, pages_total = $4, pages_processed = $4, seconds = $5, error = NULL WHERE job_id = $1",
        )
        .bind(job_id)
        .bind(serde_json::to_string(&report).expect("a report serialises"))
        .bind(&at)
        .bind(report.pages.len() as i64)
        .bind(seconds)
        .execute(&mut *tx)
        .await?;
        let s = &report.summary;
        audit(
            &mut tx,
            actor,
            "job_done",
            Some(&job.exam_id),
            None,
            Some(job_id),
            None,
            &format!("{} pages: {} attached, {} review, {} ignored, {} duplicate", s.pages, s.attached, s.review, s.ignored, s.duplicate),
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Where a job's page PDF is stored.
    pub async fn page_object(&self, job_id: &str, page: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT object_key FROM pages WHERE job_id = $1 AND page = $2")
            .bind(job_id)
            .bind(page)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<Option<String>, _>(0)?,
            None => None,
        })
    }

    // ---- status, attachments, review ----

    pub async fn attachment(&self, application_id: &str) -> Result<Option<Attachment>> {
        let row = sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE application_id = $1"))
            .bind(application_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| attachment_from_row(&r)).transpose()
    }

    pub async fn exam_status(&self, exam_id: &str) -> Result<Option<ExamStatus>> {
        let Some(roster) = self.roster(exam_id).await? else { return Ok(None) };
        let import = self.fis_import(exam_id).await?;
        let generated: BTreeSet<String> = sqlx::query("SELECT application_id FROM certificates WHERE exam_id = $1")
            .bind(exam_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut attachments: BTreeMap<String, Attachment> = BTreeMap::new();
        for r in sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE exam_id = $1"))
            .bind(exam_id)
            .fetch_all(&self.pool)
            .await?
        {
            let a = attachment_from_row(&r)?;
            attachments.insert(a.application_id.clone(), a);
        }
        let review_open: i64 = sqlx::query("SELECT COUNT(*) FROM review_items WHERE exam_id = $1 AND state = 'open'")
            .bind(exam_id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let attached_ids: BTreeSet<String> = attachments.keys().cloned().collect();
        let status = ExamCertificateStatus::derive(&roster, &generated, &attached_ids);
        let applications: Vec<ApplicationStatus> = roster
            .applications
            .iter()
            .map(|app| {
                let record = import.as_ref().and_then(|i| i.records.iter().find(|r| r.application_id == app.application_id));
                ApplicationStatus {
                    application_id: app.application_id.clone(),
                    full_name: app.full_name(),
                    outcome: app.outcome,
                    outcome_label: app.outcome.label(),
                    registration_number: record.map(|r| r.registration_number.clone()),
                    issue_date: record.map(|r| r.issue_date.format("%Y-%m-%d").to_string()),
                    certificate_generated: generated.contains(&app.application_id),
                    attachment: attachments.get(&app.application_id).cloned(),
                }
            })
            .collect();
        let counts = StatusCounts {
            applications: roster.applications.len(),
            passed: roster.passed().count(),
            generated: roster.passed().filter(|a| generated.contains(&a.application_id)).count(),
            attached: roster.passed().filter(|a| attached_ids.contains(&a.application_id)).count(),
            review_open: review_open as usize,
        };
        Ok(Some(ExamStatus { exam_id: exam_id.to_string(), status, counts, applications }))
    }

    /// An exam's review items in page order; `open_only` hides decided ones.
    pub async fn review_items(&self, exam_id: &str, open_only: bool) -> Result<Vec<ReviewItem>> {
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM review_items WHERE exam_id = $1 {} ORDER BY created_at, job_id, page",
            if open_only { "AND state = 'open'" } else { "" }
        );
        let rows = sqlx::query(&sql).bind(exam_id).fetch_all(&self.pool).await?;
        rows.iter().map(review_from_row).collect()
    }

    pub async fn review_item(&self, item_id: &str) -> Result<Option<ReviewItem>> {
        let row = sqlx::query(&format!("SELECT {REVIEW_COLUMNS} FROM review_items WHERE item_id = $1"))
            .bind(item_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| review_from_row(&r)).transpose()
    }

    /// A person attaches a review page to an application of the same exam. The application must be
    /// `passed`, have an imported registration number and no scan yet; the blank number is the one given,
    /// else the one the page was read with. Refused with the reason otherwise; nothing changes then.
    pub async fn assign_review(&self, item_id: &str, application_id: &str, blank_number: Option<&str>, actor: &str) -> Result<Attachment> {
        let item = self.review_item(item_id).await?.ok_or_else(|| StoreError::NotFound(format!("review item {item_id} does not exist")))?;
        if item.state != "open" {
            return Err(StoreError::Conflict(format!("review item {item_id} is already {}", item.state)));
        }
        let roster = self
            .roster(&item.exam_id)
            .await?
            .ok_or_else(|| corrupt(format!("exam {} of review item {item_id} is not stored", item.exam_id)))?;
        let app = roster
            .application(application_id)
            .ok_or_else(|| StoreError::Conflict(format!("application {application_id} is not in exam {}", item.exam_id)))?;
        if app.outcome != Outcome::Passed {
            return Err(StoreError::Conflict(format!(
                "application {application_id} did not pass ({:?}); no certificate is due",
                app.outcome
            )));
        }
        let import = self.fis_import(&item.exam_id).await?;
        let record = import
            .as_ref()
            .and_then(|i| i.records.iter().find(|r| r.application_id == application_id))
            .ok_or_else(|| StoreError::Conflict(format!("application {application_id} has no FIS FRDO registration number imported")))?
            .clone();
        let blank = blank_number
            .map(str::to_string)
            .or(item.blank_number.clone())
            .ok_or_else(|| StoreError::Conflict("the blank number of this page was not read: give blank_number".into()))?;
        let object_key = item.object_key.clone().ok_or_else(|| {
            StoreError::Conflict(format!("review item {item_id} has no page file to attach (the page could not be decoded)"))
        })?;
        let mut tx = self.pool.begin().await?;
        if let Some(r) = sqlx::query("SELECT blank_number FROM attachments WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            let other: String = r.try_get(0)?;
            return Err(StoreError::Conflict(format!(
                "application {application_id} already has a scan attached (blank {other}); unattach it first"
            )));
        }
        if let Some(r) = sqlx::query("SELECT application_id FROM attachments WHERE exam_id = $1 AND blank_number = $2")
            .bind(&item.exam_id)
            .bind(&blank)
            .fetch_optional(&mut *tx)
            .await?
        {
            let other: String = r.try_get(0)?;
            return Err(StoreError::Conflict(format!("blank {blank} is already attached to application {other}")));
        }
        // A person is held to the blank ledger too: a number in a pack, not written off, not used elsewhere.
        let blank_ledger = ledger::commit_ledger(&mut tx).await?;
        if let Some((_, detail)) = ledger::objection(&mut tx, &blank_ledger, &item.exam_id, &blank).await? {
            return Err(StoreError::Conflict(detail));
        }
        let at = now();
        let attachment = Attachment {
            application_id: application_id.to_string(),
            exam_id: item.exam_id.clone(),
            registration_number: record.registration_number.clone(),
            issue_date: record.issue_date.format("%Y-%m-%d").to_string(),
            blank_number: blank.clone(),
            confidence: None,
            job_id: item.job_id.clone(),
            page: item.page,
            object_key,
            source: "review".into(),
            attached_at: at.clone(),
            attached_by: actor.to_string(),
        };
        insert_attachment(&mut tx, &attachment).await?;
        let updated = sqlx::query("UPDATE review_items SET state = 'assigned', decided_at = $2, decided_by = $3, decision_note = $4 WHERE item_id = $1 AND state = 'open'")
            .bind(item_id)
            .bind(&at)
            .bind(actor)
            .bind(format!("assigned to {application_id}"))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated != 1 {
            return Err(StoreError::Conflict(format!("review item {item_id} was decided meanwhile")));
        }
        audit(
            &mut tx,
            actor,
            "assign",
            Some(&item.exam_id),
            Some(application_id),
            Some(&item.job_id),
            Some(item.page),
            &format!("review item {item_id} ({}), blank {blank}", item.reason),
        )
        .await?;
        tx.commit().await?;
        Ok(attachment)
    }

    /// A person decides a review page is not a certificate to attach (a spoilt blank, another exam's page).
    pub async fn dismiss_review(&self, item_id: &str, note: &str, actor: &str) -> Result<ReviewItem> {
        let mut tx = self.pool.begin().await?;
        let at = now();
        let updated = sqlx::query("UPDATE review_items SET state = 'dismissed', decided_at = $2, decided_by = $3, decision_note = $4 WHERE item_id = $1 AND state = 'open'")
            .bind(item_id)
            .bind(&at)
            .bind(actor)
            .bind(note)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if updated != 1 {
            let exists = sqlx::query("SELECT state FROM review_items WHERE item_id = $1").bind(item_id).fetch_optional(&mut *tx).await?;
            return Err(match exists {
                None => StoreError::NotFound(format!("review item {item_id} does not exist")),
                Some(r) => StoreError::Conflict(format!("review item {item_id} is already {}", r.try_get::<String, _>(0)?)),
            });
        }
        let item = review_from_row(
            &sqlx::query(&format!("SELECT {REVIEW_COLUMNS} FROM review_items WHERE item_id = $1"))
                .bind(item_id)
                .fetch_one(&mut *tx)
                .await?,
        )?;
        audit(
            &mut tx,
            actor,
            "dismiss",
            Some(&item.exam_id),
            item.application_id.as_deref(),
            Some(&item.job_id),
            Some(item.page),
            &format!("review item {item_id} ({}): {note}", item.reason),
        )
        .await?;
        tx.commit().await?;
        Ok(item)
    }

    /// Takes an attached scan off its application; the page goes back to the review list (reason
    /// `unattached`) so that nothing is lost.
    pub async fn unattach(&self, application_id: &str, note: &str, actor: &str) -> Result<ReviewItem> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE application_id = $1"))
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {application_id} has no attached scan")))?;
        let a = attachment_from_row(&row)?;
        sqlx::query("DELETE FROM attachments WHERE application_id = $1").bind(application_id).execute(&mut *tx).await?;
        let at = now();
        let detail = format!("unattached from {application_id} by {actor}: {note}");
        sqlx::query(
            "INSERT INTO review_items (item_id, exam_id, job_id, page, reason, detail, application_id, blank_number, object_key, state, created_at) \
             VALUES ($1, $2, $3, $4, 'unattached', $5, $6, $7, $8, 'open', $9) \
             ON CONFLICT (job_id, page) DO UPDATE SET reason = 'unattached', detail = excluded.detail, application_id = excluded.application_id, \
             blank_number = excluded.blank_number, object_key = excluded.object_key, state = 'open', decided_at = NULL, decided_by = NULL, decision_note = NULL",
        )
        .bind(new_id())
        .bind(&a.exam_id)
        .bind(&a.job_id)
        .bind(a.page)
        .bind(&detail)
        .bind(application_id)
        .bind(&a.blank_number)
        .bind(&a.object_key)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        audit(&mut tx, actor, "unattach", Some(&a.exam_id), Some(application_id), Some(&a.job_id), Some(a.page), note).await?;
        let item = review_from_row(
            &sqlx::query(&format!("SELECT {REVIEW_COLUMNS} FROM review_items WHERE job_id = $1 AND page = $2"))
                .bind(&a.job_id)
                .bind(a.page)
                .fetch_one(&mut *tx)
                .await?,
        )?;
        tx.commit().await?;
        Ok(item)
    }

    /// An exam's audit trail, oldest first.
    pub async fn audit_trail(&self, exam_id: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor, action, exam_id, application_id, job_id, page, detail FROM audit WHERE exam_id = $1 ORDER BY at, audit_id",
        )
        .bind(exam_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: r.try_get(0)?,
                    actor: r.try_get(1)?,
                    action: r.try_get(2)?,
                    exam_id: r.try_get(3)?,
                    application_id: r.try_get(4)?,
                    job_id: r.try_get(5)?,
                    page: r.try_get(6)?,
                    detail: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Aggregates for `/metrics`.
    pub async fn totals(&self) -> Result<Totals> {
        let mut t = Totals::default();
        for r in sqlx::query("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetch_all(&self.pool).await? {
            t.jobs_by_state.insert(r.try_get(0)?, r.try_get(1)?);
        }
        for r in sqlx::query("SELECT outcome, COALESCE(reason, ''), COUNT(*) FROM pages GROUP BY outcome, COALESCE(reason, '')")
            .fetch_all(&self.pool)
            .await?
        {
            t.pages.insert((r.try_get(0)?, r.try_get(1)?), r.try_get(2)?);
        }
        t.review_open = sqlx::query("SELECT COUNT(*) FROM review_items WHERE state = 'open'").fetch_one(&self.pool).await?.try_get(0)?;
        t.attachments = sqlx::query("SELECT COUNT(*) FROM attachments").fetch_one(&self.pool).await?.try_get(0)?;
        let r = sqlx::query("SELECT COUNT(*), COALESCE(SUM(seconds), 0.0) FROM jobs WHERE state = 'done' AND seconds IS NOT NULL")
            .fetch_one(&self.pool)
            .await?;
        t.done_jobs = r.try_get(0)?;
        t.done_jobs_seconds = r.try_get::<f64, _>(1)?;
        Ok(t)
    }
}

const JOB_COLUMNS: &str = "job_id, exam_id, application_id, object_key, file_name, state, attempts, pages_total, pages_processed, error, report, submitted_by, created_at, started_at, finished_at, seconds";

fn job_from_row(r: &AnyRow) -> Result<JobRecord> {
    let report: Option<String> = r.try_get(10)?;
    Ok(JobRecord {
        job_id: r.try_get(0)?,
        exam_id: r.try_get(1)?,
        application_id: r.try_get(2)?,
        object_key: r.try_get(3)?,
        file_name: r.try_get(4)?,
        state: JobState::parse(&r.try_get::<String, _>(5)?)?,
        attempts: r.try_get(6)?,
        pages_total: r.try_get(7)?,
        pages_processed: r.try_get(8)?,
        error: r.try_get(9)?,
        report: report.map(|j| serde_json::from_str(&j).map_err(|e| corrupt(format!("job report: {e}")))).transpose()?,
        submitted_by: r.try_get(11)?,
        created_at: r.try_get(12)?,
        started_at: r.try_get(13)?,
        finished_at: r.try_get(14)?,
        seconds: r.try_get(15)?,
    })
}

const ATTACHMENT_COLUMNS: &str = "application_id, exam_id, registration_number, issue_date, blank_number, confidence, job_id, page, object_key, source, attached_at, attached_by";

fn attachment_from_row(r: &AnyRow) -> Result<Attachment> {
    Ok(Attachment {
        application_id: r.try_get(0)?,
        exam_id: r.try_get(1)?,
        registration_number: r.try_get(2)?,
        issue_date: r.try_get(3)?,
        blank_number: r.try_get(4)?,
        confidence: r.try_get(5)?,
        job_id: r.try_get(6)?,
        page: r.try_get(7)?,
        object_key: r.try_get(8)?,
        source: r.try_get(9)?,
        attached_at: r.try_get(10)?,
        attached_by: r.try_get(11)?,
    })
}

async fn insert_attachment(tx: &mut sqlx::Transaction<'_, sqlx::Any>, a: &Attachment) -> Result<()> {
    let sql = format!("INSERT INTO attachments ({ATTACHMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
    let q =
        sqlx::query(&sql).bind(&a.application_id).bind(&a.exam_id).bind(&a.registration_number).bind(&a.issue_date).bind(&a.blank_number);
    bind_f64(q, a.confidence)
        .bind(&a.job_id)
        .bind(a.page)
        .bind(&a.object_key)
        .bind(&a.source)
        .bind(&a.attached_at)
        .bind(&a.attached_by)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

const REVIEW_COLUMNS: &str = "item_id, exam_id, job_id, page, reason, detail, application_id, blank_number, object_key, state, created_at, decided_at, decided_by, decision_note";

fn review_from_row(r: &AnyRow) -> Result<ReviewItem> {
    Ok(ReviewItem {
        item_id: r.try_get(0)?,
        exam_id: r.try_get(1)?,
        job_id: r.try_get(2)?,
        page: r.try_get(3)?,
        reason: r.try_get(4)?,
        detail: r.try_get(5)?,
        application_id: r.try_get(6)?,
        blank_number: r.try_get(7)?,
        object_key: r.try_get(8)?,
        state: r.try_get(9)?,
        created_at: r.try_get(10)?,
        decided_at: r.try_get(11)?,
        decided_by: r.try_get(12)?,
        decision_note: r.try_get(13)?,
    })
}

#[allow(clippy::too_many_arguments)]
async fn audit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    actor: &str,
    action: &str,
    exam_id: Option<&str>,
    application_id: Option<&str>,
    job_id: Option<&str>,
    page: Option<i64>,
    detail: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO audit (audit_id, at, actor, action, exam_id, application_id, job_id, page, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(new_id())
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(exam_id)
        .bind(application_id)
        .bind(job_id)
        .bind(page)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_database_that_does_not_answer_is_a_transient_error() {
        // Port 9 (discard) is closed on these machines: the connection is refused.
        let err = Store::connect("postgres://postgres@127.0.0.1:9/none?connect_timeout=2").await.unwrap_err();
        assert!(err.is_transient(), "{err}");
    }

    #[test]
    fn a_password_never_shows_in_messages() {
        assert_eq!(redact("postgres://app:s3cret@db:5432/certscan"), "postgres://app:***@db:5432/certscan");
        assert_eq!(redact("sqlite:///var/lib/certscan.db"), "sqlite:///var/lib/certscan.db");
    }
}
