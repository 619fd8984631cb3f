//! The service's database, one module per aggregate: [`exams`] (rosters, FIS FRDO imports, generated
//! certificates, the exam status), [`jobs`] (scan jobs, their pages and the commit of a job's results),
//! [`review`] (attachments and the review list), [`audit`] (the audit trail), [`ledger`] (the blank
//! ledger), [`handover`] (seed 002), [`register`] (the issuance register, seed 001) and [`events`] (the
//! transactional outbox every change writes in its own transaction). This module holds the pool, the migrations and what they share. One set of portable queries
//! runs on PostgreSQL (the service) and SQLite (the embedded default) through sqlx's Any driver; the
//! migrations in `workers/migrations/` are applied at connect.
//!
//! Decisions are not made here: the cross-job rules (`duplicate`, `conflicting_scans`,
//! `point_upload_mismatch`, the blank ledger's verdict) are `certscan_domain::reconcile`'s; the store
//! reads what they need inside the transaction and stores what they decided.
//!
//! Idempotency lives here: pages are keyed by (job, page), a job's results are committed in one
//! transaction together with its `done` state, and committing a job that is already done changes nothing.

use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

mod audit;
mod events;
mod exams;
mod guards;
mod handover;
mod jobs;
mod ledger;
mod register;
mod review;
mod upkeep;

pub use audit::AuditEntry;
pub use events::{kind as event_kind, Event};
pub use exams::{ApplicationStatus, ExamStatus, PutRoster, StatusCounts};
pub use handover::Handover;
pub use jobs::{JobRecord, JobState, NewJob, PageResult};
pub use ledger::{PackSummary, PutPack};
pub use register::RegisterView;
pub use review::{Attachment, ReviewItem};

use audit::audit;

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
    /// The issuance register cannot move this way from its current status (HTTP 409
    /// `invalid_transition`, naming the status).
    #[error("{0}")]
    InvalidTransition(#[from] certscan_domain::register::InvalidTransition),
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

    /// A concurrent writer won a race: a unique key was taken meanwhile, or SQLite stayed locked past
    /// the busy timeout. The loser's request conflicts with what is stored now (HTTP 409); nothing of it
    /// was stored.
    pub fn is_conflict(&self) -> bool {
        match self {
            StoreError::Conflict(_) => true,
            StoreError::Database(sqlx::Error::Database(e)) => {
                // SQLITE_BUSY (5) and its extended codes (BUSY_SNAPSHOT 517, BUSY_TIMEOUT 773).
                e.is_unique_violation()
                    || matches!(e.code().as_deref(), Some("5" | "517" | "773"))
                    || e.message().contains("database is locked")
            }
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

    /// A write transaction. SQLite's default (deferred) transaction takes a read lock first and fails at
    /// once with "database is locked" when a second writer races it to the write lock; `BEGIN IMMEDIATE`
    /// takes the write lock up front and waits on the busy timeout instead, so concurrent decisions run
    /// one after the other and the later one sees the earlier one's result. PostgreSQL's row locks do
    /// that by themselves.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// For `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
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
