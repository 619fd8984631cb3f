//! The handover in the store (seed 002, `contracts.md` "Handover"): «Сертификат выдан лично» per
//! application, only with a scan attached; undone by the testing center with a reason. Each change
//! writes its audit entry and its event in the same transaction.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::events::{emit, kind, StatusWatch};
use super::{audit, now, Result, Store, StoreError};

/// A recorded handover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handover {
    pub application_id: String,
    pub exam_id: String,
    /// The day the candidate took the certificate.
    pub handed_over_on: String,
    pub handed_over_by: String,
    pub recorded_at: String,
}

const HANDOVER_COLUMNS: &str = "application_id, exam_id, handed_over_on, handed_over_by, recorded_at";

fn handover_from_row(r: &sqlx::any::AnyRow) -> Result<Handover> {
    Ok(Handover {
        application_id: r.try_get(0)?,
        exam_id: r.try_get(1)?,
        handed_over_on: r.try_get(2)?,
        handed_over_by: r.try_get(3)?,
        recorded_at: r.try_get(4)?,
    })
}

/// The exam's handovers by application.
pub(super) async fn handovers_in(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<BTreeMap<String, Handover>> {
    sqlx::query(&format!("SELECT {HANDOVER_COLUMNS} FROM handovers WHERE exam_id = $1"))
        .bind(exam_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| handover_from_row(r).map(|h| (h.application_id.clone(), h)))
        .collect()
}

/// Whether the application was handed over (an unattach must undo the handover first).
pub(super) async fn is_handed_over(conn: &mut sqlx::AnyConnection, application_id: &str) -> Result<bool> {
    Ok(sqlx::query("SELECT application_id FROM handovers WHERE application_id = $1")
        .bind(application_id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

impl Store {
    /// «Сертификат выдан лично»: the application becomes `done`. Refused (nothing changed) for an
    /// unknown application, one with no attached scan, or one already handed over.
    pub async fn hand_over(&self, application_id: &str, on: NaiveDate, actor: &str) -> Result<Handover> {
        let mut tx = self.pool.begin().await?;
        let exam_id: String = sqlx::query("SELECT exam_id FROM applications WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {application_id} is not in any stored roster")))?
            .try_get(0)?;
        let blank: String = sqlx::query("SELECT blank_number FROM attachments WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                StoreError::Conflict(format!("application {application_id} has no attached certificate scan: it cannot be handed over yet"))
            })?
            .try_get(0)?;
        if let Some(r) = sqlx::query("SELECT handed_over_on, handed_over_by FROM handovers WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            let (on, by): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            return Err(StoreError::Conflict(format!("application {application_id} was already handed over on {on} (recorded by {by})")));
        }
        let watch = StatusWatch::before(&mut tx, &exam_id).await?;
        let handover = Handover {
            application_id: application_id.to_string(),
            exam_id: exam_id.clone(),
            handed_over_on: on.format("%Y-%m-%d").to_string(),
            handed_over_by: actor.to_string(),
            recorded_at: now(),
        };
        sqlx::query(&format!("INSERT INTO handovers ({HANDOVER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"))
            .bind(&handover.application_id)
            .bind(&handover.exam_id)
            .bind(&handover.handed_over_on)
            .bind(&handover.handed_over_by)
            .bind(&handover.recorded_at)
            .execute(&mut *tx)
            .await?;
        audit(
            &mut tx,
            actor,
            "handover",
            Some(&exam_id),
            Some(application_id),
            None,
            None,
            &format!("blank {blank}, handed over on {}", handover.handed_over_on),
        )
        .await?;
        let data = json!({
            "status": {"code": "done", "label": "Экзаменован - услуга оказана"},
            "handed_over_on": handover.handed_over_on,
            "handed_over_by": actor,
            "blank_number": blank,
        });
        emit(&mut tx, self.backend, kind::HANDED_OVER, Some(&exam_id), Some(application_id), data).await?;
        watch.emit_changes(&mut tx, self.backend, &exam_id).await?;
        tx.commit().await?;
        Ok(handover)
    }

    /// Undoes a handover with a reason: the application reads `certificate_issue_required` again.
    pub async fn undo_handover(&self, application_id: &str, reason: &str, actor: &str) -> Result<Handover> {
        let mut tx = self.pool.begin().await?;
        let handover = sqlx::query(&format!("SELECT {HANDOVER_COLUMNS} FROM handovers WHERE application_id = $1"))
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {application_id} was not handed over")))?;
        let handover = handover_from_row(&handover)?;
        let watch = StatusWatch::before(&mut tx, &handover.exam_id).await?;
        sqlx::query("DELETE FROM handovers WHERE application_id = $1").bind(application_id).execute(&mut *tx).await?;
        audit(
            &mut tx,
            actor,
            "handover_undone",
            Some(&handover.exam_id),
            Some(application_id),
            None,
            None,
            &format!("handover of {} by {} undone: {reason}", handover.handed_over_on, handover.handed_over_by),
        )
        .await?;
        let data = json!({
            "status": {"code": "certificate_issue_required", "label": "Требуется выдать сертификат"},
            "reason": reason,
            "undone_by": actor,
            "was_handed_over_on": handover.handed_over_on,
        });
        emit(&mut tx, self.backend, kind::HANDOVER_UNDONE, Some(&handover.exam_id), Some(application_id), data).await?;
        watch.emit_changes(&mut tx, self.backend, &handover.exam_id).await?;
        tx.commit().await?;
        Ok(handover)
    }
}
