//! Attachments and the review list in the store: the scan attached to each application, the pages
//! waiting for a person, and what a person decides (assign, dismiss, unattach).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use certscan_domain::Outcome;

use serde_json::json;

use super::events::{emit, kind, StatusWatch};
use super::handover::is_handed_over;
use super::{audit, bind_f64, corrupt, ledger, new_id, now, upkeep, Result, Store, StoreError};

/// The scan attached to an application.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
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
    /// `open`, `assigned`, `dismissed`, or `resolved` (its question was answered by another page's
    /// attachment; `decision_note` says which).
    pub state: String,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub decision_note: Option<String>,
}

impl Store {
    // ---- status, attachments, review ----

    pub async fn attachment(&self, application_id: &str) -> Result<Option<Attachment>> {
        let row = sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE application_id = $1"))
            .bind(application_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| attachment_from_row(&r)).transpose()
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
        // Two decisions at once on PostgreSQL: the later insert of the application's attachment hits the
        // key the first one stored. That is the same conflict the checks below report, not a failure.
        self.assign_review_once(item_id, application_id, blank_number, actor).await.map_err(|e| match e {
            StoreError::Database(ref d) if e.is_conflict() => StoreError::Conflict(format!(
                "review item {item_id}: another decision on application {application_id} was stored at the same moment; reload and decide again ({d})"
            )),
            e => e,
        })
    }

    async fn assign_review_once(&self, item_id: &str, application_id: &str, blank_number: Option<&str>, actor: &str) -> Result<Attachment> {
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
        let mut tx = self.begin_write().await?;
        let watch = StatusWatch::before(&mut tx, &item.exam_id).await?;
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
        upkeep::resolve_answered(&mut tx, &item.exam_id, application_id, &blank, &item.job_id, item.page).await?;
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
        let data = json!({
            "job_id": item.job_id,
            "page": item.page,
            "blank_number": attachment.blank_number,
            "registration_number": attachment.registration_number,
            "issue_date": attachment.issue_date,
            "source": "review",
            "scan_url": format!("/v1/applications/{application_id}/certificate-scan"),
        });
        emit(&mut tx, self.backend, kind::ATTACHED, Some(&item.exam_id), Some(application_id), data).await?;
        watch.emit_changes(&mut tx, self.backend, &item.exam_id).await?;
        tx.commit().await?;
        Ok(attachment)
    }

    /// A person decides a review page is not a certificate to attach (a spoilt blank, another exam's page).
    pub async fn dismiss_review(&self, item_id: &str, note: &str, actor: &str) -> Result<ReviewItem> {
        let mut tx = self.begin_write().await?;
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
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE application_id = $1"))
            .bind(application_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("application {application_id} has no attached scan")))?;
        let a = attachment_from_row(&row)?;
        if is_handed_over(&mut tx, application_id).await? {
            return Err(StoreError::Conflict(format!(
                "application {application_id} was handed over: undo the handover (DELETE /v1/applications/{application_id}/handover) before taking its scan off"
            )));
        }
        let watch = StatusWatch::before(&mut tx, &a.exam_id).await?;
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
        let data =
            json!({"job_id": a.job_id, "page": a.page, "blank_number": a.blank_number, "reason": note, "review_item_id": item.item_id});
        emit(&mut tx, self.backend, kind::UNATTACHED, Some(&a.exam_id), Some(application_id), data).await?;
        watch.emit_changes(&mut tx, self.backend, &a.exam_id).await?;
        tx.commit().await?;
        Ok(item)
    }
}

pub(super) const ATTACHMENT_COLUMNS: &str = "application_id, exam_id, registration_number, issue_date, blank_number, confidence, job_id, page, object_key, source, attached_at, attached_by";

pub(super) fn attachment_from_row(r: &AnyRow) -> Result<Attachment> {
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

pub(super) const REVIEW_COLUMNS: &str = "item_id, exam_id, job_id, page, reason, detail, application_id, blank_number, object_key, state, created_at, decided_at, decided_by, decision_note";

pub(super) fn review_from_row(r: &AnyRow) -> Result<ReviewItem> {
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
