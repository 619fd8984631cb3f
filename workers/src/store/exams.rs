//! Exams in the store: the roster the portal puts, the FIS FRDO import, the generated certificates, and
//! the exam status derived from them (`certscan_domain::ExamCertificateStatus`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sqlx::Row;

use certscan_domain::{ApplicationCertificateStatus, Certificate, ExamCertificateStatus, FisImport, Outcome, RegisterStatus, Roster};

use super::events::StatusWatch;
use super::handover::Handover;
use super::review::{attachment_from_row, Attachment, ATTACHMENT_COLUMNS};
use super::{audit, corrupt, guards, new_id, now, Result, Store, StoreError};

/// Per application, what the exam status shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicationStatus {
    pub application_id: String,
    pub full_name: String,
    pub outcome: Outcome,
    pub outcome_label: &'static str,
    /// Where the application stands: its outcome, then `certificate_issue_required`, then `done`.
    pub status: ApplicationCertificateStatus,
    pub registration_number: Option<String>,
    pub issue_date: Option<String>,
    pub certificate_generated: bool,
    /// The attached scan, when there is one.
    pub attachment: Option<Attachment>,
    /// «Сертификат выдан лично», when it was pressed.
    pub handover: Option<Handover>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatusCounts {
    pub applications: usize,
    pub passed: usize,
    pub generated: usize,
    pub attached: usize,
    pub review_open: usize,
    /// Applications handed over (`done`).
    pub handed_over: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExamStatus {
    pub exam_id: String,
    pub status: ExamCertificateStatus,
    /// The issuance register's status (seed 001).
    pub register_status: RegisterStatus,
    pub counts: StatusCounts,
    pub applications: Vec<ApplicationStatus>,
}

/// Whether a roster put created the exam or replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutRoster {
    Created,
    Replaced,
}

impl Store {
    // ---- exams ----

    /// Creates or replaces an exam's roster. Refused (nothing changed) when an application id belongs to
    /// another exam, or when the new roster drops an application with an attached scan or moves it off
    /// `passed` (unattach it first).
    pub async fn put_roster(&self, roster: &Roster, actor: &str) -> Result<PutRoster> {
        let mut tx = self.begin_write().await?;
        let watch = StatusWatch::before(&mut tx, &roster.exam_id).await?;
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
        guards::roster_keeps_attached(&mut tx, roster).await?;
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
        watch.emit_changes(&mut tx, self.backend, &roster.exam_id).await?;
        tx.commit().await?;
        Ok(result)
    }

    pub async fn roster(&self, exam_id: &str) -> Result<Option<Roster>> {
        let mut conn = self.pool.acquire().await?;
        roster_in(&mut conn, exam_id).await
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
        let mut tx = self.begin_write().await?;
        guards::import_keeps_attached(&mut tx, exam_id, import).await?;
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
        let mut conn = self.pool.acquire().await?;
        fis_import_in(&mut conn, exam_id).await
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
        let mut tx = self.begin_write().await?;
        let watch = StatusWatch::before(&mut tx, exam_id).await?;
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
        watch.emit_changes(&mut tx, self.backend, exam_id).await?;
        tx.commit().await?;
        Ok(batch_id)
    }

    /// The exam's certificate status, register status, counts and every application's status; `None`
    /// for an unknown exam.
    pub async fn exam_status(&self, exam_id: &str) -> Result<Option<ExamStatus>> {
        let mut conn = self.pool.acquire().await?;
        exam_status_in(&mut conn, exam_id).await
    }

    /// The exam list (`GET /v1/exams`): exams in id order after `cursor`, those with the given
    /// certificate and register statuses only, at most `limit`; with the cursor of the next page when
    /// there may be more. The statuses are derived from the data, so the list reads exams in chunks
    /// until the page is full.
    pub async fn exam_list(
        &self,
        certificate_status: Option<ExamCertificateStatus>,
        register_status: Option<RegisterStatus>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<ExamStatus>, Option<String>)> {
        const CHUNK: i64 = 200;
        let mut conn = self.pool.acquire().await?;
        let mut after = cursor.unwrap_or("").to_string();
        let mut found = Vec::new();
        loop {
            let ids: Vec<String> = sqlx::query("SELECT exam_id FROM exams WHERE exam_id > $1 ORDER BY exam_id LIMIT $2")
                .bind(&after)
                .bind(CHUNK)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            let last_chunk = (ids.len() as i64) < CHUNK;
            for id in ids {
                after = id.clone();
                let Some(status) = exam_status_in(&mut conn, &id).await? else { continue };
                if certificate_status.is_some_and(|s| s != status.status) || register_status.is_some_and(|s| s != status.register_status) {
                    continue;
                }
                found.push(status);
                if found.len() == limit {
                    let more =
                        sqlx::query("SELECT exam_id FROM exams WHERE exam_id > $1 LIMIT 1").bind(&after).fetch_optional(&mut *conn).await?;
                    return Ok((found, more.map(|_| after)));
                }
            }
            if last_chunk {
                return Ok((found, None));
            }
        }
    }
}

/// The exam's certificate and register statuses as they are inside the caller's transaction.
pub(super) async fn statuses_in(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<Option<(ExamCertificateStatus, RegisterStatus)>> {
    Ok(exam_status_in(conn, exam_id).await?.map(|s| (s.status, s.register_status)))
}

pub(super) async fn roster_in(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<Option<Roster>> {
    json_of_exam_in(conn, "SELECT roster FROM exams WHERE exam_id = $1", exam_id, "roster").await
}

pub(super) async fn fis_import_in(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<Option<FisImport>> {
    json_of_exam_in(conn, "SELECT import FROM fis_imports WHERE exam_id = $1", exam_id, "FIS FRDO import").await
}

/// The JSON document `sql` selects for an exam (one column, bound to the exam id), read as `T`.
async fn json_of_exam_in<T: serde::de::DeserializeOwned>(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    exam_id: &str,
    what: &str,
) -> Result<Option<T>> {
    let Some(row) = sqlx::query(sql).bind(exam_id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let json: String = row.try_get(0)?;
    serde_json::from_str(&json).map(Some).map_err(|e| corrupt(format!("{what} of {exam_id}: {e}")))
}

pub(super) async fn exam_status_in(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<Option<ExamStatus>> {
    let Some(roster) = roster_in(conn, exam_id).await? else { return Ok(None) };
    let import = fis_import_in(conn, exam_id).await?;
    let generated: BTreeSet<String> = sqlx::query("SELECT application_id FROM certificates WHERE exam_id = $1")
        .bind(exam_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut attachments: BTreeMap<String, Attachment> = BTreeMap::new();
    for r in
        sqlx::query(&format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE exam_id = $1")).bind(exam_id).fetch_all(&mut *conn).await?
    {
        let a = attachment_from_row(&r)?;
        attachments.insert(a.application_id.clone(), a);
    }
    let handovers = super::handover::handovers_in(conn, exam_id).await?;
    let review_open: i64 = sqlx::query("SELECT COUNT(*) FROM review_items WHERE exam_id = $1 AND state = 'open'")
        .bind(exam_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let attached_ids: BTreeSet<String> = attachments.keys().cloned().collect();
    let status = ExamCertificateStatus::derive(&roster, &generated, &attached_ids);
    let stage = super::register::stage_in(conn, exam_id).await?;
    let register_status =
        RegisterStatus::derive(status == ExamCertificateStatus::NotRequired, status == ExamCertificateStatus::Uploaded, stage);
    let applications: Vec<ApplicationStatus> = roster
        .applications
        .iter()
        .map(|app| {
            let record = import.as_ref().and_then(|i| i.records.iter().find(|r| r.application_id == app.application_id));
            let attachment = attachments.get(&app.application_id).cloned();
            let handover = handovers.get(&app.application_id).cloned();
            let status = ApplicationCertificateStatus::derive(app.outcome, attachment.is_some(), handover.is_some());
            ApplicationStatus {
                application_id: app.application_id.clone(),
                full_name: app.full_name(),
                outcome: app.outcome,
                outcome_label: app.outcome.label(),
                status,
                registration_number: record.map(|r| r.registration_number.clone()),
                issue_date: record.map(|r| r.issue_date.format("%Y-%m-%d").to_string()),
                certificate_generated: generated.contains(&app.application_id),
                attachment,
                handover,
            }
        })
        .collect();
    let counts = StatusCounts {
        applications: roster.applications.len(),
        passed: roster.passed().count(),
        generated: roster.passed().filter(|a| generated.contains(&a.application_id)).count(),
        attached: roster.passed().filter(|a| attached_ids.contains(&a.application_id)).count(),
        review_open: review_open as usize,
        handed_over: applications.iter().filter(|a| a.status == ApplicationCertificateStatus::Done).count(),
    };
    Ok(Some(ExamStatus { exam_id: exam_id.to_string(), status, register_status, counts, applications }))
}
