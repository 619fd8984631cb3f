//! Scan jobs in the store: created by an upload, started and retried by a worker, failed permanently, or
//! committed with all their pages, attachments, review items and audit entries in one transaction. The
//! cross-job decisions in that commit are `certscan_domain::reconcile`'s; this module reads what they need
//! and stores what they decided.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use certscan_domain::reconcile::{self, AttachCandidate, AttachedScan, CrossJobDecision};
use certscan_domain::register_scan::SeenRegisterPage;
use certscan_pipeline::report::{PageReport, Report, Summary};

use serde_json::json;

use super::events::{emit, kind, StatusWatch};
use super::{audit, bind_f64, corrupt, ledger, new_id, now, register, upkeep, Result, Store, StoreError};

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

impl Store {
    // ---- jobs ----

    /// Stores a new queued job; a job with this id already stored is left as it is (returns false).
    pub async fn create_job(&self, job: &NewJob) -> Result<bool> {
        let mut tx = self.begin_write().await?;
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
        let mut tx = self.begin_write().await?;
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
        emit(&mut tx, self.backend, kind::JOB_FAILED, exam.as_deref(), None, json!({"job_id": job_id, "error": error})).await?;
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
        let mut tx = self.begin_write().await?;
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
        let watch = StatusWatch::before(&mut tx, &job.exam_id).await?;
        // What the cross-job rules need, read inside the transaction: this exam's attachments, the packs
        // and write-offs, and where the numbers this job would attach are used in other exams.
        let attached: Vec<AttachedScan> =
            sqlx::query("SELECT application_id, blank_number, job_id, page FROM attachments WHERE exam_id = $1")
                .bind(&job.exam_id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| -> Result<AttachedScan> {
                    Ok(AttachedScan {
                        application_id: r.try_get(0)?,
                        blank_number: r.try_get(1)?,
                        job_id: r.try_get(2)?,
                        page: r.try_get(3)?,
                    })
                })
                .collect::<Result<_>>()?;
        let candidates: Vec<AttachCandidate> = pages
            .iter()
            .filter(|p| p.report.outcome == "attached")
            .map(|p| AttachCandidate {
                page: p.report.page as i64,
                application_id: p.report.application_id.clone().unwrap_or_default(),
                blank_number: p.report.blank_number.clone().unwrap_or_default(),
                has_page_file: p.object_key.is_some(),
            })
            .collect();
        let blank_ledger = ledger::commit_ledger(&mut tx).await?;
        let used_elsewhere = if blank_ledger.is_active() {
            ledger::used_elsewhere(&mut tx, &job.exam_id, candidates.iter().map(|c| c.blank_number.as_str())).await?
        } else {
            BTreeMap::new()
        };
        let context = reconcile::Context {
            job_id,
            point_upload: job.application_id.as_deref(),
            attached: &attached,
            ledger: &blank_ledger,
            used_elsewhere: &used_elsewhere,
        };
        let mut decisions = reconcile::reconcile(&context, &candidates).into_iter();
        // Register pages route themselves (`certscan_domain::register_scan`): the current version's go to
        // the register; the others are review items with their reason.
        let seen: Vec<SeenRegisterPage> = pages
            .iter()
            .filter(|p| p.report.outcome == "register")
            .filter_map(|p| {
                let r = p.report.register.as_ref()?;
                Some(SeenRegisterPage { file_page: p.report.page, payload: r.payload(), signatures: r.signatures.clone() })
            })
            .collect();
        let register_scan = if seen.is_empty() { None } else { Some(register::scan_decision_in(&mut tx, &job.exam_id, &seen).await?) };
        let mut pages = pages;
        if let Some(decision) = &register_scan {
            for refused in &decision.refused {
                if let Some(p) = pages.iter_mut().find(|p| p.report.page == refused.file_page) {
                    p.report.outcome = "review".into();
                    p.report.reason = Some(refused.reason.code().into());
                    p.report.detail = Some(refused.detail.clone());
                }
            }
        }
        let at = now();
        let mut reports = Vec::with_capacity(pages.len());
        for PageResult { mut report, object_key } in pages {
            let page = report.page as i64;
            report.file = object_key.as_ref().map(|_| format!("/v1/jobs/{job_id}/pages/{}", report.page));
            if report.outcome == "attached" {
                let decision = decisions.next().ok_or_else(|| corrupt("reconcile returned fewer decisions than pages"))?;
                match (decision, &object_key) {
                    (CrossJobDecision::Attach, Some(key)) => {
                        let app = report.application_id.clone().unwrap_or_default();
                        let blank = report.blank_number.clone().unwrap_or_default();
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
                        audit(
                            &mut tx,
                            actor,
                            "attach",
                            Some(&job.exam_id),
                            Some(&app),
                            Some(job_id),
                            Some(page),
                            &format!("blank {blank}"),
                        )
                        .await?;
                        upkeep::resolve_answered(&mut tx, &job.exam_id, &app, &blank, job_id, page).await?;
                        let data = json!({
                            "job_id": job_id,
                            "page": page,
                            "blank_number": blank,
                            "registration_number": report.registration_number,
                            "issue_date": report.issue_date,
                            "source": if job.application_id.is_some() { "point" } else { "automatic" },
                            "scan_url": format!("/v1/applications/{app}/certificate-scan"),
                        });
                        emit(&mut tx, self.backend, kind::ATTACHED, Some(&job.exam_id), Some(&app), data).await?;
                    }
                    (CrossJobDecision::Attach, None) => return Err(corrupt("reconcile attached a page without its file")),
                    (CrossJobDecision::Duplicate { detail, .. }, _) => {
                        report.outcome = "duplicate".into();
                        report.detail = Some(detail);
                        report.confidence = None;
                    }
                    (CrossJobDecision::Review { reason, detail }, _) => {
                        report.outcome = "review".into();
                        report.reason = Some(reason.code().into());
                        report.detail = Some(detail);
                        report.confidence = None;
                    }
                }
            }
            if report.outcome == "review" {
                if report.application_id.is_none() {
                    report.application_id = job.application_id.clone();
                }
                let sheet = upkeep::Sheet {
                    exam_id: &job.exam_id,
                    reason: report.reason.as_deref().unwrap_or_default(),
                    detail: report.detail.as_deref().unwrap_or_default(),
                    application_id: report.application_id.as_deref(),
                    blank_number: report.blank_number.as_deref(),
                };
                if let Some((item, other_job, other_page)) = upkeep::same_sheet(&mut tx, &sheet).await? {
                    // The same sheet again: the page is stored, its item is not listed twice.
                    report.detail = Some(format!(
                        "{} (the same sheet as review item {item}, job {other_job}, page {other_page}; not listed again)",
                        report.detail.as_deref().unwrap_or_default()
                    ));
                } else {
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
        if let Some(received) = register_scan.as_ref().and_then(|d| d.received.as_ref()) {
            let actor = job.submitted_by.as_deref().unwrap_or(actor);
            register::receive_scan_in(&mut tx, &job.exam_id, job_id, &job.object_key, received, actor).await?;
            upkeep::resolve_register_answered(&mut tx, &job.exam_id, received.version, job_id).await?;
        }
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
        let data = json!({"job_id": job_id, "application_id": job.application_id, "summary": report.summary});
        emit(&mut tx, self.backend, kind::JOB_DONE, Some(&job.exam_id), job.application_id.as_deref(), data).await?;
        watch.emit_changes(&mut tx, self.backend, &job.exam_id).await?;
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
