//! The audit trail: who did what to which exam, application, job and page, and when. Every write of the
//! store adds its entry inside the same transaction.

use serde::Serialize;
use sqlx::Row;

use super::{new_id, now, Result, Store};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

impl Store {
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
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn audit(
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
