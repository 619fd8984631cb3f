//! Keeping the review list true: an item whose question got answered elsewhere is closed (`resolved`),
//! and the same sheet uploaded again does not add the same item again. Runs inside the transaction that
//! attaches or commits, so the list and the attachments never disagree.

use sqlx::Row;

use super::{now, Result};

/// Reasons whose question is "attach this page to its application?": answered once the application has
/// a scan with the same blank (or the page's blank was never read). Conflicts, unattached pages and pages
/// that are no certificate of this exam stay for a person.
const ANSWERED_BY_AN_ATTACHMENT: [&str; 2] = ["blank_number_unreadable", "point_upload_mismatch"];

/// Closes the open items that asked to attach a page to `application_id`, now that it has blank
/// `blank_number` attached (from `job_id`, `page`); returns how many.
pub(super) async fn resolve_answered(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    exam_id: &str,
    application_id: &str,
    blank_number: &str,
    job_id: &str,
    page: i64,
) -> Result<u64> {
    let note = format!("answered: application {application_id} got blank {blank_number} attached from job {job_id}, page {page}");
    let sql = format!(
        "UPDATE review_items SET state = 'resolved', decided_at = $1, decided_by = 'certscan', decision_note = $2 \
         WHERE exam_id = $3 AND application_id = $4 AND state = 'open' AND reason IN ({}) \
         AND (blank_number IS NULL OR blank_number = $5) AND NOT (job_id = $6 AND page = $7)",
        sql_list(&ANSWERED_BY_AN_ATTACHMENT)
    );
    let done = sqlx::query(&sql)
        .bind(now())
        .bind(&note)
        .bind(exam_id)
        .bind(application_id)
        .bind(blank_number)
        .bind(job_id)
        .bind(page)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(done)
}

/// Register pages refused because the register could not take a scan then, or because they were of an
/// older version: their question ("what of this register scan?") is answered once the register receives a
/// scan of its current version.
const ANSWERED_BY_A_REGISTER_SCAN: [&str; 2] = ["register_not_expected", "register_outdated"];

/// Closes the exam's open register items of earlier jobs, now that job `job_id` brought the register its
/// scan of version `version`; returns how many.
pub(super) async fn resolve_register_answered(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    exam_id: &str,
    version: u32,
    job_id: &str,
) -> Result<u64> {
    let note = format!("answered: the register received its scan of version {version} from job {job_id}");
    let sql = format!(
        "UPDATE review_items SET state = 'resolved', decided_at = $1, decided_by = 'certscan', decision_note = $2 \
         WHERE exam_id = $3 AND state = 'open' AND reason IN ({}) AND job_id <> $4",
        sql_list(&ANSWERED_BY_A_REGISTER_SCAN)
    );
    let done = sqlx::query(&sql).bind(now()).bind(&note).bind(exam_id).bind(job_id).execute(&mut **tx).await?.rows_affected();
    Ok(done)
}

/// Reason codes (fixed words of ours, never input) as an SQL list: `'a', 'b'`.
fn sql_list(reasons: &[&str]) -> String {
    reasons.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ")
}

/// What a review page was read as. Only a page that tells itself apart can be recognised as the same
/// sheet again: one whose blank number was read, or one whose code names another exam's or an unknown
/// application (no certificate of this exam to attach). A page of this exam with its number unread never
/// is: another blank printed for the same application would read the same.
#[derive(Debug)]
pub(super) struct Sheet<'a> {
    pub exam_id: &'a str,
    pub reason: &'a str,
    pub detail: &'a str,
    pub application_id: Option<&'a str>,
    pub blank_number: Option<&'a str>,
}

const READ_FROM_A_CODE: [&str; 4] = ["other_exam", "unknown_application", "application_not_passed", "registration_mismatch"];

/// The earlier item (any state) for the same sheet content, as `(item, job, page)`.
pub(super) async fn same_sheet(tx: &mut sqlx::Transaction<'_, sqlx::Any>, sheet: &Sheet<'_>) -> Result<Option<(String, String, i64)>> {
    let identified = sheet.blank_number.is_some() || READ_FROM_A_CODE.contains(&sheet.reason);
    if !identified {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT item_id, job_id, page FROM review_items WHERE exam_id = $1 AND reason = $2 AND detail = $3 \
         AND COALESCE(application_id, '') = $4 AND COALESCE(blank_number, '') = $5 ORDER BY created_at LIMIT 1",
    )
    .bind(sheet.exam_id)
    .bind(sheet.reason)
    .bind(sheet.detail)
    .bind(sheet.application_id.unwrap_or(""))
    .bind(sheet.blank_number.unwrap_or(""))
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))).transpose()
}
