//! Executing one scan job: fetch the uploaded file from the object store, recognise every page (CPU work
//! on a blocking thread, rayon inside), store each page's PDF, and commit all results in one transaction
//! with the job's `done` state. Safe to run twice for the same job: page files are overwritten under the
//! same keys and the commit of a job already done changes nothing.
//!
//! [`handle_job`] is what a queue consumer calls for one delivery; it maps failures to what the queue
//! should do next (acknowledge, retry later, dead-letter).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use certscan_domain::Roster;
use certscan_pipeline::export::page_files;
use certscan_pipeline::process::process_scan;
use certscan_pipeline::report::{PageReport, Report};
use certscan_pipeline::scan::ScanError;
use certscan_pipeline::{PageSource, PdfEngine, ScanOptions, TesseractOcr};
use certscan_templates::Template;
use tracing::Instrument;

use crate::amqp::Disposition;
use crate::message::JobMessage;
use crate::objects::{page_key, signature_crop_key, Objects, ObjectsError};
use crate::store::{JobState, NewJob, PageResult, Store, StoreError};

/// A job that failed this many times (crashed workers included) is given up as permanent.
pub const MAX_ATTEMPTS: i64 = 5;

/// What a worker needs to execute jobs; cheap to clone.
#[derive(Clone)]
pub struct JobContext {
    pub store: Store,
    pub objects: Objects,
    pub engine: &'static PdfEngine,
    pub template: Arc<Template>,
    /// `max_pages` comes from the settings; the deadline is set per job.
    pub scan_options: ScanOptions,
    /// How long recognising one file may take (`job_deadline_s`).
    pub job_deadline: Duration,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext").field("objects", &self.objects.location()).finish_non_exhaustive()
    }
}

/// Why a job did not complete, by what should happen next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Retrying cannot help (a bad file, an exam nobody stored): the job fails with this reason.
    #[error("{0}")]
    Permanent(String),
    /// The database or the object store is unreachable or busy: retry later.
    #[error("{0}")]
    Transient(String),
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Permanent(e.to_string())
        }
    }
}

impl From<ObjectsError> for JobError {
    fn from(e: ObjectsError) -> Self {
        if e.is_not_found() {
            JobError::Permanent(format!("the uploaded file is not in the object store: {e}"))
        } else {
            JobError::Transient(e.to_string())
        }
    }
}

/// Handles one delivery: executes the job and says what the queue should do with the message. A
/// permanent failure is stored on the job before the message is dead-lettered.
pub async fn handle_job(ctx: &JobContext, message: JobMessage, redelivered: bool) -> Disposition {
    let span = tracing::info_span!("job", job_id = %message.job_id, exam_id = %message.exam_id, redelivered);
    handle_job_inner(ctx, message).instrument(span).await
}

async fn handle_job_inner(ctx: &JobContext, message: JobMessage) -> Disposition {
    match execute_job(ctx, &message).await {
        Ok(report) => {
            let s = &report.summary;
            tracing::info!(
                pages = s.pages,
                attached = s.attached,
                review = s.review,
                ignored = s.ignored,
                duplicate = s.duplicate,
                seconds = s.seconds,
                "job done"
            );
            Disposition::Ack
        }
        Err(JobError::Permanent(reason)) => {
            tracing::warn!(%reason, "job failed permanently");
            match ctx.store.fail_job(&message.job_id, &reason).await {
                Ok(()) => Disposition::DeadLetter { reason },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot record the failure; retrying later");
                    Disposition::Retry { after: Duration::from_secs(5) }
                }
            }
        }
        Err(JobError::Transient(reason)) => {
            let attempts = ctx.store.job(&message.job_id).await.ok().flatten().map_or(1, |j| j.attempts.max(1));
            let after = Duration::from_secs((1u64 << attempts.min(6)).min(60));
            tracing::warn!(%reason, attempts, retry_in_s = after.as_secs(), "job failed for now");
            Disposition::Retry { after }
        }
    }
}

/// Executes a job; returns its report (the stored one when the job was already done).
pub async fn execute_job(ctx: &JobContext, message: &JobMessage) -> Result<Report, JobError> {
    // A message the portal published itself has no job row yet.
    ctx.store
        .create_job(&NewJob {
            job_id: message.job_id.clone(),
            exam_id: message.exam_id.clone(),
            application_id: message.application_id.clone(),
            object_key: message.object_key.clone(),
            file_name: message.file_name.clone(),
            submitted_by: message.submitted_by.clone(),
        })
        .await?;
    let job = ctx.store.start_job(&message.job_id).await?;
    match job.state {
        JobState::Done => return job.report.ok_or_else(|| JobError::Permanent(format!("job {} is done without a report", job.job_id))),
        JobState::Failed => return Err(JobError::Permanent(job.error.unwrap_or_else(|| "the job failed earlier".into()))),
        JobState::Queued | JobState::Running => {}
    }
    if job.exam_id != message.exam_id {
        return Err(JobError::Permanent(format!(
            "job {} belongs to exam {}, the message says {}",
            job.job_id, job.exam_id, message.exam_id
        )));
    }
    if job.attempts > MAX_ATTEMPTS {
        return Err(JobError::Permanent(format!(
            "given up after {} attempts (workers crashed or timed out on this file)",
            job.attempts - 1
        )));
    }
    let roster = ctx
        .store
        .roster(&job.exam_id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("exam {} has no roster: PUT /v1/exams/{} first", job.exam_id, job.exam_id)))?;
    let import = ctx
        .store
        .fis_import(&job.exam_id)
        .await?
        .ok_or_else(|| JobError::Permanent(format!("exam {} has no FIS FRDO import: scans are checked against it", job.exam_id)))?;
    if let Some(app) = &job.application_id {
        if roster.application(app).is_none() {
            return Err(JobError::Permanent(format!("point upload onto application {app}, which exam {} does not have", job.exam_id)));
        }
    }
    // The blank ledger as it stands (packs, write-offs, numbers attached in every exam); empty without packs.
    let ledger = ctx.store.ledger().await?;
    let scan = ctx.objects.get(&job.object_key).await?;
    let started = Instant::now();

    // Recognition on a blocking thread; progress goes to the database from here meanwhile.
    let processed = Arc::new(AtomicUsize::new(0));
    let total = {
        let engine = ctx.engine;
        let scan = scan.clone();
        let options = ctx.scan_options;
        tokio::task::spawn_blocking(move || PageSource::open(&scan[..], Some(engine), options.source).ok().and_then(|s| s.page_count()))
            .await
            .map_err(|e| JobError::Permanent(format!("counting pages crashed: {e}")))?
    };
    ctx.store.set_progress(&job.job_id, total, 0).await?;
    let work = {
        let ctx = ctx.clone();
        let processed = processed.clone();
        let scan = scan.clone();
        let job_id = job.job_id.clone();
        let mut options = ctx.scan_options;
        options.deadline = Some(started + ctx.job_deadline);
        tokio::task::spawn_blocking(move || recognise(&ctx, &options, &job_id, &roster, &import.records, &ledger, &scan, &processed))
    };
    tokio::pin!(work);
    let pages = loop {
        tokio::select! {
            result = &mut work => break result.map_err(|e| JobError::Permanent(format!("recognition crashed: {e}")))??,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                // Progress is best effort: a failed update does not fail the job.
                let _ = ctx.store.set_progress(&job.job_id, total, processed.load(Ordering::Relaxed)).await;
            }
        }
    };
    let (mut reports, files, crops) = pages;
    // The crop of every register row's signature cell, for the reviewer.
    for (page, row, png) in crops {
        let key = signature_crop_key(&job.job_id, page, row);
        ctx.objects.put(&key, png).await?;
        let signature = reports
            .iter_mut()
            .filter(|r| r.page == page)
            .filter_map(|r| r.register.as_mut())
            .flat_map(|r| r.signatures.iter_mut())
            .find(|s| s.row == row);
        if let Some(s) = signature {
            s.crop_key = Some(key);
        }
    }
    let mut results = Vec::with_capacity(reports.len());
    for report in reports {
        let object_key = match files.iter().find(|(p, _)| *p == report.page) {
            Some((page, bytes)) => {
                let key = page_key(&job.job_id, *page);
                ctx.objects.put(&key, bytes.clone()).await?;
                Some(key)
            }
            None => None,
        };
        results.push(PageResult { report, object_key });
    }
    Ok(ctx.store.commit_job(&job.job_id, results, started.elapsed().as_secs_f64()).await?)
}

/// The CPU part: read and decide every page, then copy every page that is not blank into its own PDF;
/// also the PNG crop of every register row's signature cell (page, row, PNG).
type Recognised = (Vec<PageReport>, Vec<(usize, Vec<u8>)>, Vec<(usize, u32, Vec<u8>)>);

#[allow(clippy::too_many_arguments)]
fn recognise(
    ctx: &JobContext,
    options: &ScanOptions,
    job_id: &str,
    roster: &Roster,
    records: &[certscan_domain::FisRecord],
    ledger: &certscan_domain::ledger::Ledger,
    scan: &[u8],
    processed: &AtomicUsize,
) -> Result<Recognised, JobError> {
    let ocr = TesseractOcr::new(None, "eng").map_err(|e| JobError::Transient(format!("starting Tesseract: {e}")))?;
    let mut result = process_scan(scan, Some(ctx.engine), &ctx.template, &ocr, options, roster, records, |_| {
        processed.fetch_add(1, Ordering::Relaxed);
    })
    .map_err(|e| scan_failure(&e, ctx.job_deadline))?;
    certscan_pipeline::ledger::judge(&mut result.decisions, Some(ledger));
    let wanted: Vec<(usize, u32)> = result
        .decisions
        .iter()
        .filter(|(_, d)| !matches!(d, certscan_pipeline::matching::Decision::Ignored))
        .map(|(p, _)| (*p, result.upright(*p)))
        .collect();
    let files = page_files(scan, ctx.engine, &ctx.scan_options, &wanted)
        .map_err(|e| JobError::Permanent(format!("cannot copy pages out of the scan: {e}")))?;
    let reports = result
        .decisions
        .iter()
        .map(|(page, decision)| {
            let reading = result.reading(*page).expect("every decision has its reading");
            PageReport::new(reading, decision, None)
        })
        .collect();
    let crops = result
        .readings
        .iter_mut()
        .filter_map(|r| Some((r.page, r.register.as_mut()?)))
        .flat_map(|(page, register)| register.cells.iter_mut().map(move |c| (page, c.row, std::mem::take(&mut c.crop_png))))
        .collect();
    tracing::debug!(job_id, pages = result.readings.len(), "recognised");
    Ok((reports, files.into_iter().collect(), crops))
}

/// Why a file could not be recognised, worded for whoever uploaded it; every one is permanent.
fn scan_failure(error: &ScanError, deadline: Duration) -> JobError {
    JobError::Permanent(match error {
        ScanError::TooManyPages { limit, stated: Some(stated) } => {
            format!("the file has {stated} pages, over the limit of {limit} pages per scan file (max_pages); split it into smaller files")
        }
        ScanError::TooManyPages { limit, stated: None } => {
            format!("the file has more than {limit} pages, the limit per scan file (max_pages); split it into smaller files")
        }
        ScanError::DeadlinePassed { pages_read } => format!(
            "the job passed its processing deadline of {} s (job_deadline_s) after {pages_read} pages; split the file into smaller ones",
            deadline.as_secs()
        ),
        other => format!("cannot read the scan: {other}"),
    })
}

/// The template the settings name, or the embedded reference blank.
pub fn load_template(settings: &crate::Settings) -> Result<Template, String> {
    match &settings.template {
        None => Ok(certscan_templates::reference()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read template {}: {e}", path.display()))?;
            Template::from_toml(&path.display().to_string(), &text).map_err(|e| e.to_string())
        }
    }
}

/// Connects what a worker needs from the settings (database migrations are applied here).
pub async fn connect(settings: &crate::Settings, engine: &'static PdfEngine) -> Result<JobContext, String> {
    let store = Store::connect(&settings.database_url())
        .await
        .map_err(|e| format!("database {}: {e}", crate::store::redact(&settings.database_url())))?;
    let objects = Objects::from_setting(&settings.object_store()).map_err(|e| e.to_string())?;
    let template = Arc::new(load_template(settings)?);
    let scan_options = ScanOptions { max_pages: settings.max_pages, ..ScanOptions::default() };
    let job_deadline = Duration::from_secs(settings.job_deadline_s.max(1));
    Ok(JobContext { store, objects, engine, template, scan_options, job_deadline })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_page_limit_or_past_the_deadline_fails_naming_the_setting() {
        let deadline = Duration::from_secs(1800);
        let message = |e: ScanError| match scan_failure(&e, deadline) {
            JobError::Permanent(m) => m,
            other => panic!("a limit is permanent: {other:?}"),
        };
        let m = message(ScanError::TooManyPages { limit: 2000, stated: Some(10_000) });
        assert!(m.contains("10000 pages") && m.contains("limit of 2000") && m.contains("max_pages"), "{m}");
        let m = message(ScanError::TooManyPages { limit: 2000, stated: None });
        assert!(m.contains("more than 2000 pages") && m.contains("max_pages"), "{m}");
        let m = message(ScanError::DeadlinePassed { pages_read: 37 });
        assert!(m.contains("1800 s") && m.contains("job_deadline_s") && m.contains("after 37 pages"), "{m}");
    }

    #[test]
    fn an_unreachable_database_is_retried_and_a_missing_file_is_not() {
        assert!(matches!(JobError::from(StoreError::Database(sqlx::Error::PoolTimedOut)), JobError::Transient(_)));
        assert!(matches!(JobError::from(StoreError::Corrupt("x".into())), JobError::Permanent(_)));
        let missing = ObjectsError::Store {
            location: "scans/x".into(),
            source: object_store::Error::NotFound { path: "scans/x".into(), source: "gone".into() },
        };
        assert!(matches!(JobError::from(missing), JobError::Permanent(_)));
        let down = ObjectsError::Store {
            location: "scans/x".into(),
            source: object_store::Error::Generic { store: "S3", source: "connection refused".into() },
        };
        assert!(matches!(JobError::from(down), JobError::Transient(_)));
    }
}
