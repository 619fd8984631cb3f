//! The issuance register in the store (seed 001, `contracts.md` "Issuance register"): the stage people
//! moved it to, its version and rows, the rejection reason, the signed scan. What is allowed from where
//! is `certscan_domain::register`'s; every move writes its audit entry and its
//! `exam.register_status` event in the same transaction.

use std::collections::BTreeMap;

use sqlx::Row;

use certscan_domain::register::{register_rows, transition, InvalidTransition, RegisterAction, RegisterRow, Stage};
use certscan_domain::register_scan::{
    self, CurrentRegister, ReceivedScan, RegisterScanDecision, ScanProblem, SeenRegisterPage, SignatureSummary,
};
use certscan_domain::{ExamCertificateStatus, RegisterStatus};

use super::events::StatusWatch;
use super::exams::{exam_status_in, fis_import_in, roster_in};
use super::{audit, corrupt, now, Result, Store, StoreError};

/// The register of one exam as `GET /v1/exams/{id}/register` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterView {
    pub exam_id: String,
    pub status: RegisterStatus,
    /// `None` before the first generation.
    pub version: Option<i64>,
    /// The last rejection's reason, while it stands (cleared by the next generation).
    pub reason: Option<String>,
    pub rows: Vec<RegisterRow>,
    pub generated_at: Option<String>,
    pub generated_by: Option<String>,
    /// The signed scan last uploaded and the version it was uploaded for.
    pub scan_object_key: Option<String>,
    pub scan_version: Option<i64>,
    /// The job the last scan was recognised in and its register pages (file pages), when it was
    /// recognised (issue 14 item 3).
    pub scan_job_id: Option<String>,
    pub scan_pages: Vec<i64>,
    /// What is wrong with the last scan (a page missing, twice, two versions), for the reviewer.
    pub scan_problems: Vec<ScanProblem>,
    /// The signature check of the last scan's rows; `None` until a scan was recognised.
    pub signatures: Option<SignatureSummary>,
}

/// The stored stage (`None` before the first generation).
pub(super) async fn stage_in(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<Option<Stage>> {
    let Some(r) = sqlx::query("SELECT stage FROM registers WHERE exam_id = $1").bind(exam_id).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let code: String = r.try_get(0)?;
    Stage::parse(&code).map(Some).ok_or_else(|| corrupt(format!("register stage {code:?} of exam {exam_id}")))
}

pub(super) async fn version_and_reason(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<(Option<i64>, Option<String>)> {
    Ok(match sqlx::query("SELECT version, reason FROM registers WHERE exam_id = $1").bind(exam_id).fetch_optional(&mut *conn).await? {
        Some(r) => (Some(r.try_get(0)?), r.try_get(1)?),
        None => (None, None),
    })
}

async fn view_in(conn: &mut sqlx::AnyConnection, exam_id: &str) -> Result<Option<RegisterView>> {
    let Some(status) = exam_status_in(conn, exam_id).await? else { return Ok(None) };
    let row = sqlx::query(
        "SELECT version, reason, content, generated_at, generated_by, scan_object_key, scan_version, scan_job_id, scan_pages, \
         scan_problems, signatures FROM registers WHERE exam_id = $1",
    )
    .bind(exam_id)
    .fetch_optional(&mut *conn)
    .await?;
    let mut view = RegisterView {
        exam_id: exam_id.to_string(),
        status: status.register_status,
        version: None,
        reason: None,
        rows: Vec::new(),
        generated_at: None,
        generated_by: None,
        scan_object_key: None,
        scan_version: None,
        scan_job_id: None,
        scan_pages: Vec::new(),
        scan_problems: Vec::new(),
        signatures: None,
    };
    if let Some(r) = row {
        let content: String = r.try_get(2)?;
        view.version = Some(r.try_get(0)?);
        view.reason = r.try_get(1)?;
        view.rows = serde_json::from_str(&content).map_err(|e| corrupt(format!("register rows of exam {exam_id}: {e}")))?;
        view.generated_at = Some(r.try_get(3)?);
        view.generated_by = Some(r.try_get(4)?);
        view.scan_object_key = r.try_get(5)?;
        view.scan_version = r.try_get(6)?;
        view.scan_job_id = r.try_get(7)?;
        let json = |i: usize| -> Result<Option<String>> { Ok(r.try_get::<Option<String>, _>(i)?) };
        let bad = |what: &str, e: serde_json::Error| corrupt(format!("register {what} of exam {exam_id}: {e}"));
        if let Some(t) = json(8)? {
            view.scan_pages = serde_json::from_str(&t).map_err(|e| bad("scan pages", e))?;
        }
        if let Some(t) = json(9)? {
            view.scan_problems = serde_json::from_str(&t).map_err(|e| bad("scan problems", e))?;
        }
        if let Some(t) = json(10)? {
            view.signatures = Some(serde_json::from_str(&t).map_err(|e| bad("signatures", e))?);
        }
    }
    Ok(Some(view))
}

impl Store {
    /// The register of an exam; `None` for an unknown exam.
    pub async fn register(&self, exam_id: &str) -> Result<Option<RegisterView>> {
        let mut conn = self.pool.acquire().await?;
        view_in(&mut conn, exam_id).await
    }

    /// Generates a new version of the register from the attached scans. 409 `invalid_transition` while
    /// generation is impossible, or while it is with the reviewer or approved.
    pub async fn generate_register(&self, exam_id: &str, actor: &str) -> Result<RegisterView> {
        self.act(exam_id, RegisterAction::Generate, actor, None, None).await
    }

    /// The document was downloaded; the exam site's first download after a generation puts it on signing
    /// (`moves`: whether this caller's download counts). Others' downloads change nothing.
    pub async fn register_downloaded(&self, exam_id: &str, actor: &str, moves: bool) -> Result<RegisterView> {
        let view = self.register(exam_id).await?.ok_or_else(|| StoreError::NotFound(format!("exam {exam_id} is not known")))?;
        if view.version.is_none() {
            return Err(StoreError::InvalidTransition(invalid(view.status, RegisterAction::Download)));
        }
        if moves && view.status == RegisterStatus::GenerationPossible {
            self.act(exam_id, RegisterAction::Download, actor, None, None).await
        } else {
            Ok(view)
        }
    }

    /// A testing-center reviewer takes it (`under_review`), approves it, or rejects it with a reason.
    pub async fn review_register(&self, exam_id: &str, action: RegisterAction, reason: Option<&str>, actor: &str) -> Result<RegisterView> {
        match action {
            RegisterAction::TakeForReview | RegisterAction::Approve => self.act(exam_id, action, actor, None, None).await,
            RegisterAction::Reject => {
                let reason =
                    reason.filter(|r| !r.trim().is_empty()).ok_or_else(|| StoreError::Conflict("a rejection needs its reason".into()))?;
                self.act(exam_id, action, actor, Some(reason.trim()), None).await
            }
            other => Err(StoreError::Conflict(format!("{} is not a review decision", other.code()))),
        }
    }

    async fn act(
        &self,
        exam_id: &str,
        action: RegisterAction,
        actor: &str,
        reason: Option<&str>,
        scan_key: Option<&str>,
    ) -> Result<RegisterView> {
        let mut tx = self.begin_write().await?;
        let status = exam_status_in(&mut tx, exam_id).await?.ok_or_else(|| StoreError::NotFound(format!("exam {exam_id} is not known")))?;
        let (version, _) = version_and_reason(&mut tx, exam_id).await?;
        let stage = transition(status.register_status, version.is_some(), status.status == ExamCertificateStatus::Uploaded, action)
            .map_err(StoreError::InvalidTransition)?;
        let watch = StatusWatch::before(&mut tx, exam_id).await?;
        let at = now();
        let detail = match action {
            RegisterAction::Generate => {
                let roster = roster_in(&mut tx, exam_id).await?.ok_or_else(|| corrupt(format!("exam {exam_id} has no roster")))?;
                let import = fis_import_in(&mut tx, exam_id).await?;
                let blanks: BTreeMap<String, String> = status
                    .applications
                    .iter()
                    .filter_map(|a| a.attachment.as_ref().map(|s| (a.application_id.clone(), s.blank_number.clone())))
                    .collect();
                let rows = register_rows(&roster, import.as_ref(), &blanks);
                let content = serde_json::to_string(&rows).expect("register rows serialise");
                let next = version.unwrap_or(0) + 1;
                if version.is_some() {
                    sqlx::query(
                        "UPDATE registers SET stage = $2, version = $3, content = $4, generated_at = $5, generated_by = $6, reason = NULL, \
                         scan_job_id = NULL, scan_pages = NULL, scan_problems = NULL, signatures = NULL, \
                         updated_at = $5, updated_by = $6 WHERE exam_id = $1",
                    )
                    .bind(exam_id)
                    .bind(stage.code())
                    .bind(next)
                    .bind(&content)
                    .bind(&at)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                } else {
                    sqlx::query(
                        "INSERT INTO registers (exam_id, stage, version, content, generated_at, generated_by, updated_at, updated_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $5, $6)",
                    )
                    .bind(exam_id)
                    .bind(stage.code())
                    .bind(next)
                    .bind(&content)
                    .bind(&at)
                    .bind(actor)
                    .execute(&mut *tx)
                    .await?;
                }
                format!("version {next}, {} rows", rows.len())
            }
            _ => {
                let mut q = String::from("UPDATE registers SET stage = $2, updated_at = $3, updated_by = $4");
                if action == RegisterAction::Reject {
                    q.push_str(", reason = $5");
                }
                if action == RegisterAction::UploadScan {
                    q.push_str(", scan_object_key = $5, scan_version = version");
                }
                q.push_str(" WHERE exam_id = $1");
                let mut query = sqlx::query(&q).bind(exam_id).bind(stage.code()).bind(&at).bind(actor);
                if action == RegisterAction::Reject {
                    query = query.bind(reason.unwrap_or_default());
                }
                if action == RegisterAction::UploadScan {
                    query = query.bind(scan_key.unwrap_or_default());
                }
                query.execute(&mut *tx).await?;
                let v = version.unwrap_or(0);
                match action {
                    RegisterAction::Reject => format!("version {v}: {}", reason.unwrap_or_default()),
                    _ => format!("version {v}"),
                }
            }
        };
        audit(&mut tx, actor, &format!("register_{}", action.code()), Some(exam_id), None, None, None, &detail).await?;
        watch.emit_changes(&mut tx, self.backend, exam_id).await?;
        let view = view_in(&mut tx, exam_id).await?.ok_or_else(|| corrupt(format!("exam {exam_id} vanished")))?;
        tx.commit().await?;
        Ok(view)
    }
}

/// What a job's register pages do to the exam's register, decided on what the transaction reads
/// (`certscan_domain::register_scan::decide`).
pub(super) async fn scan_decision_in(
    conn: &mut sqlx::AnyConnection,
    exam_id: &str,
    seen: &[SeenRegisterPage],
) -> Result<RegisterScanDecision> {
    let status = exam_status_in(conn, exam_id).await?.ok_or_else(|| StoreError::NotFound(format!("exam {exam_id} is not known")))?;
    let row = sqlx::query("SELECT version, content FROM registers WHERE exam_id = $1").bind(exam_id).fetch_optional(&mut *conn).await?;
    let stored: Option<(i64, Vec<RegisterRow>)> = match row {
        Some(r) => {
            let content: String = r.try_get(1)?;
            let rows = serde_json::from_str(&content).map_err(|e| corrupt(format!("register rows of exam {exam_id}: {e}")))?;
            Some((r.try_get(0)?, rows))
        }
        None => None,
    };
    let current =
        CurrentRegister { exam_id, status: status.register_status, version: stored.as_ref().map(|(v, rows)| (*v as u32, rows.as_slice())) };
    Ok(register_scan::decide(&current, seen))
}

/// Stores a recognised register scan: `review_required` with its pages, problems and signature check,
/// and the audit entry (the caller's transaction emits the status event).
pub(super) async fn receive_scan_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    exam_id: &str,
    job_id: &str,
    object_key: &str,
    scan: &ReceivedScan,
    actor: &str,
) -> Result<()> {
    let at = now();
    sqlx::query(
        "UPDATE registers SET stage = $2, scan_object_key = $3, scan_version = $4, scan_job_id = $5, scan_pages = $6, scan_problems = $7, \
         signatures = $8, updated_at = $9, updated_by = $10 WHERE exam_id = $1",
    )
    .bind(exam_id)
    .bind(Stage::ReviewRequired.code())
    .bind(object_key)
    .bind(i64::from(scan.version))
    .bind(job_id)
    .bind(serde_json::to_string(&scan.pages).expect("pages serialise"))
    .bind(serde_json::to_string(&scan.problems).expect("problems serialise"))
    .bind(serde_json::to_string(&scan.signatures).expect("signatures serialise"))
    .bind(&at)
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    let pages: Vec<String> = scan.pages.iter().map(usize::to_string).collect();
    let mut detail = format!("version {} from job {job_id}, pages {}: {}", scan.version, pages.join(", "), scan.signatures.sentence());
    for p in &scan.problems {
        detail.push_str(&format!("; {}", p.detail));
    }
    audit(tx, actor, &format!("register_{}", RegisterAction::UploadScan.code()), Some(exam_id), None, Some(job_id), None, &detail).await?;
    Ok(())
}

fn invalid(current: RegisterStatus, action: RegisterAction) -> InvalidTransition {
    transition(current, false, false, action).expect_err("a download without a version is never allowed")
}
