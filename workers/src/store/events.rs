//! The events outbox (`contracts.md` "Events"): every change the portal hears of is written by the store
//! in the same transaction as the change, so an event exists if and only if its change was committed.
//! Sequence numbers are assigned under a lock held until the commit (PostgreSQL: an advisory
//! transaction lock; SQLite has one writer), so `seq` order is commit order and a reader that asks for
//! `after=SEQ` never misses an event committed later with a smaller number. Delivery to RabbitMQ or a
//! webhook (`crate::events`) reads from here with a cursor and a lease per sink (`event_cursors`).

use chrono::{Duration as ChronoDuration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use certscan_domain::{ExamCertificateStatus, RegisterStatus};

use super::{corrupt, now, Backend, Result, Store};

/// Held by every transaction that writes events, until it commits (an arbitrary, fixed key).
const OUTBOX_LOCK: i64 = 0x6365_7274_7363_616e; // "certscan"

/// A sink's lease: renewed by every delivery; a process that died lets another take over after it.
const LEASE_SECONDS: i64 = 30;

/// Event types (the routing keys of the topic exchange).
pub mod kind {
    pub const JOB_DONE: &str = "job.done";
    pub const JOB_FAILED: &str = "job.failed";
    pub const ATTACHED: &str = "certificate.attached";
    pub const UNATTACHED: &str = "certificate.unattached";
    pub const CERTIFICATE_STATUS: &str = "exam.certificate_status";
    pub const REGISTER_STATUS: &str = "exam.register_status";
    pub const HANDED_OVER: &str = "application.handed_over";
    /// An addition to the contract's list: a handover undone by the testing center.
    pub const HANDOVER_UNDONE: &str = "application.handover_undone";
}

/// One event as `GET /v1/events` and the sinks give it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub at: String,
    pub exam_id: Option<String>,
    pub application_id: Option<String>,
    pub data: Value,
}

const EVENT_COLUMNS: &str = "seq, event_type, at, exam_id, application_id, data";

fn event_from_row(r: &AnyRow) -> Result<Event> {
    let data: String = r.try_get(5)?;
    Ok(Event {
        seq: r.try_get(0)?,
        event_type: r.try_get(1)?,
        at: r.try_get(2)?,
        exam_id: r.try_get(3)?,
        application_id: r.try_get(4)?,
        data: serde_json::from_str(&data).map_err(|e| corrupt(format!("event data: {e}")))?,
    })
}

/// Appends one event inside the caller's transaction.
pub(super) async fn emit(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    event_type: &str,
    exam_id: Option<&str>,
    application_id: Option<&str>,
    data: Value,
) -> Result<i64> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)::text").bind(OUTBOX_LOCK).execute(&mut *conn).await?;
    }
    let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 FROM events").fetch_one(&mut *conn).await?.try_get(0)?;
    sqlx::query(&format!("INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
        .bind(seq)
        .bind(event_type)
        .bind(now())
        .bind(exam_id)
        .bind(application_id)
        .bind(data.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

pub(super) fn status_json(code: &str, label: &str) -> Value {
    serde_json::json!({"code": code, "label": label})
}

/// The exam's two statuses before a change; [`StatusWatch::emit_changes`] after it (in the same
/// transaction) writes `exam.certificate_status` / `exam.register_status` for what moved.
#[derive(Debug, Clone, Copy)]
pub(super) struct StatusWatch {
    certificate: Option<ExamCertificateStatus>,
    register: Option<RegisterStatus>,
}

impl StatusWatch {
    pub(super) async fn before(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<StatusWatch> {
        let (certificate, register) = super::exams::statuses_in(conn, exam_id).await?.unzip();
        Ok(StatusWatch { certificate, register })
    }

    pub(super) async fn emit_changes(self, conn: &mut sqlx::AnyConnection, backend: Backend, exam_id: &str) -> Result<()> {
        let Some((certificate, register)) = super::exams::statuses_in(conn, exam_id).await? else { return Ok(()) };
        if self.certificate != Some(certificate) {
            let from = self.certificate.map(|s| status_json(s.code(), s.label())).unwrap_or(Value::Null);
            let data = serde_json::json!({"from": from, "status": status_json(certificate.code(), certificate.label())});
            emit(conn, backend, kind::CERTIFICATE_STATUS, Some(exam_id), None, data).await?;
        }
        if self.register != Some(register) {
            let from = self.register.map(|s| status_json(s.code(), s.label())).unwrap_or(Value::Null);
            let (version, reason) = super::register::version_and_reason(conn, exam_id).await?;
            let data = serde_json::json!({
                "from": from,
                "status": status_json(register.code(), register.label()),
                "version": version,
                "reason": reason,
            });
            emit(conn, backend, kind::REGISTER_STATUS, Some(exam_id), None, data).await?;
        }
        Ok(())
    }
}

fn lease_until() -> String {
    (Utc::now() + ChronoDuration::seconds(LEASE_SECONDS)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Store {
    /// Events after `after` in commit order, at most `limit`, of one exam when given.
    pub async fn events(&self, after: i64, limit: i64, exam_id: Option<&str>) -> Result<Vec<Event>> {
        let rows = match exam_id {
            Some(exam) => {
                sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 AND exam_id = $2 ORDER BY seq LIMIT $3"))
                    .bind(after)
                    .bind(exam)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2"))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(event_from_row).collect()
    }

    /// The events after `sink`'s cursor (at most `batch`), once `holder` holds the sink's lease; `None`
    /// while another holder's lease runs (one process delivers a sink at a time, so in order).
    pub async fn pending_events(&self, sink: &str, holder: &str, batch: i64) -> Result<Option<Vec<Event>>> {
        let at = now();
        sqlx::query("INSERT INTO event_cursors (sink, last_seq, updated_at) VALUES ($1, 0, $2) ON CONFLICT (sink) DO NOTHING")
            .bind(sink)
            .bind(&at)
            .execute(&self.pool)
            .await?;
        let taken = sqlx::query(
            "UPDATE event_cursors SET holder = $2, lease_until = $3 WHERE sink = $1 AND (holder IS NULL OR holder = $2 OR lease_until < $4)",
        )
        .bind(sink)
        .bind(holder)
        .bind(lease_until())
        .bind(&at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken != 1 {
            return Ok(None);
        }
        let after: i64 =
            sqlx::query("SELECT last_seq FROM event_cursors WHERE sink = $1").bind(sink).fetch_one(&self.pool).await?.try_get(0)?;
        Ok(Some(self.events(after, batch, None).await?))
    }

    /// Records that `seq` was delivered to `sink` and renews `holder`'s lease; false when the lease was
    /// lost meanwhile (nothing changed then).
    pub async fn advance_event_cursor(&self, sink: &str, holder: &str, seq: i64) -> Result<bool> {
        let updated = sqlx::query(
            "UPDATE event_cursors SET last_seq = $3, updated_at = $4, lease_until = $5 WHERE sink = $1 AND holder = $2 AND last_seq < $3",
        )
        .bind(sink)
        .bind(holder)
        .bind(seq)
        .bind(now())
        .bind(lease_until())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// How far a sink has delivered (0 before its first delivery).
    pub async fn event_cursor(&self, sink: &str) -> Result<i64> {
        Ok(sqlx::query("SELECT last_seq FROM event_cursors WHERE sink = $1")
            .bind(sink)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
            .unwrap_or(0))
    }
}
