//! What a change to an exam's data may not do to applications that have a scan attached: the scan is a
//! certificate printed with the candidate's name and the FIS FRDO registration number, so a roster that
//! drops, fails or renames such an application (or withdraws the exam's approved protocol), and a FIS
//! FRDO re-import that gives it another number or issue date, is refused with every affected application
//! listed; staff unattach the scans first. Runs inside the writer's transaction, so the check and the
//! change see the same attachments.

use std::collections::BTreeMap;

use sqlx::Row;

use certscan_domain::{FisImport, Outcome, Roster};

use super::{corrupt, Result, StoreError};

/// The exam's attachments: application → (registration number, issue date).
async fn attached(tx: &mut sqlx::Transaction<'_, sqlx::Any>, exam_id: &str) -> Result<BTreeMap<String, (String, String)>> {
    let rows = sqlx::query("SELECT application_id, registration_number, issue_date FROM attachments WHERE exam_id = $1")
        .bind(exam_id)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?)))).collect()
}

fn refuse(what: &str, changes: &[(String, String)]) -> StoreError {
    let list: Vec<String> = changes.iter().map(|(app, change)| format!("{app} ({change})")).collect();
    StoreError::Conflict(format!(
        "{what} would change {} application(s) with an attached scan: {}; unattach their scans first",
        changes.len(),
        list.join(", ")
    ))
}

/// Refuses a roster that drops an attached application, moves it off `passed`, changes its name or
/// birth date, or withdraws the exam's approved protocol while scans are attached.
pub(super) async fn roster_keeps_attached(tx: &mut sqlx::Transaction<'_, sqlx::Any>, roster: &Roster) -> Result<()> {
    let attached = attached(tx, &roster.exam_id).await?;
    if attached.is_empty() {
        return Ok(());
    }
    let stored: Option<Roster> =
        match sqlx::query("SELECT roster FROM exams WHERE exam_id = $1").bind(&roster.exam_id).fetch_optional(&mut **tx).await? {
            Some(row) => Some(
                serde_json::from_str(&row.try_get::<String, _>(0)?).map_err(|e| corrupt(format!("roster of {}: {e}", roster.exam_id)))?,
            ),
            None => None,
        };
    let mut changes = Vec::new();
    for id in attached.keys() {
        let Some(app) = roster.application(id) else {
            changes.push((id.clone(), "removed from the roster".to_string()));
            continue;
        };
        if app.outcome != Outcome::Passed {
            changes.push((id.clone(), format!("cannot become {:?}", app.outcome)));
        }
        if let Some(before) = stored.as_ref().and_then(|r| r.application(id)) {
            if before.full_name() != app.full_name() {
                changes.push((id.clone(), format!("name {} → {}", before.full_name(), app.full_name())));
            }
            if before.birth_date != app.birth_date {
                changes.push((id.clone(), format!("birth date {} → {}", before.birth_date, app.birth_date)));
            }
        }
    }
    if stored.as_ref().is_some_and(|r| r.protocol_approved) && !roster.protocol_approved {
        changes.push(("the exam".to_string(), format!("protocol no longer approved, {} scan(s) attached", attached.len())));
    }
    if changes.is_empty() {
        Ok(())
    } else {
        Err(refuse("the roster", &changes))
    }
}

/// Refuses a FIS FRDO import that gives an attached application another registration number or issue
/// date than its scan carries, or none.
pub(super) async fn import_keeps_attached(tx: &mut sqlx::Transaction<'_, sqlx::Any>, exam_id: &str, import: &FisImport) -> Result<()> {
    let attached = attached(tx, exam_id).await?;
    let mut changes = Vec::new();
    for (id, (number, issued)) in &attached {
        match import.records.iter().find(|r| r.application_id == *id) {
            None => changes.push((id.clone(), "no registration number in the new file".to_string())),
            Some(record) => {
                if record.registration_number != *number {
                    changes.push((id.clone(), format!("registration number {number} → {}", record.registration_number)));
                }
                let date = record.issue_date.format("%Y-%m-%d").to_string();
                if date != *issued {
                    changes.push((id.clone(), format!("issue date {issued} → {date}")));
                }
            }
        }
    }
    if changes.is_empty() {
        Ok(())
    } else {
        Err(refuse("the FIS FRDO file", &changes))
    }
}
