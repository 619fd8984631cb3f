//! The blank ledger in the store: registered packs (`blank_packs`), written-off blanks
//! (`spoiled_blanks`), and which numbers are used — read from `attachments` in every exam. The rules
//! (validation, overlap, verdicts, report rows) are `certscan_domain::ledger`'s; this module keeps the
//! data and guards the writes in transactions (on PostgreSQL, pack and write-off changes take a table
//! lock so two overlapping packs cannot both be registered).

use std::collections::BTreeMap;

use sqlx::Row;

use certscan_domain::ledger::{find_overlap, pack_counts, pack_report, Ledger, Pack, PackCounts, ReportRow, SpoiledBlank, UsedBlank};
use certscan_domain::reconcile::{ledger_objection, Context, CrossJobReason};

use super::{audit, corrupt, now, Backend, Result, Store, StoreError};

/// Whether a pack put registered a new pack or replaced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutPack {
    Created,
    Replaced,
}

/// A pack as `GET /v1/blank-packs` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PackSummary {
    pub pack: Pack,
    pub counts: PackCounts,
    pub registered_at: String,
    pub registered_by: String,
}

const PACK_COLUMNS: &str = "pack_id, series, first_number, last_number, received_on, note, registered_at, registered_by";

fn pack_from_row(r: &sqlx::any::AnyRow) -> Result<(Pack, String, String)> {
    let (id, series, first, last): (String, String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    let (received_on, note): (Option<String>, Option<String>) = (r.try_get(4)?, r.try_get(5)?);
    let pack =
        Pack::new(&id, &series, &first, &last, received_on.as_deref(), note.as_deref()).map_err(|e| corrupt(format!("pack {id}: {e}")))?;
    Ok((pack, r.try_get(6)?, r.try_get(7)?))
}

async fn packs(conn: &mut sqlx::AnyConnection) -> Result<Vec<(Pack, String, String)>> {
    sqlx::query(&format!("SELECT {PACK_COLUMNS} FROM blank_packs ORDER BY series, first_number, pack_id"))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(pack_from_row)
        .collect()
}

async fn spoiled(conn: &mut sqlx::AnyConnection, pack_id: Option<&str>) -> Result<BTreeMap<String, SpoiledBlank>> {
    let rows = match pack_id {
        Some(id) => {
            sqlx::query("SELECT blank_number, reason, spoiled_by, spoiled_at FROM spoiled_blanks WHERE pack_id = $1")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?
        }
        None => sqlx::query("SELECT blank_number, reason, spoiled_by, spoiled_at FROM spoiled_blanks").fetch_all(&mut *conn).await?,
    };
    rows.iter()
        .map(|r| -> Result<(String, SpoiledBlank)> {
            Ok((r.try_get(0)?, SpoiledBlank { reason: r.try_get(1)?, by: r.try_get(2)?, at: r.try_get(3)? }))
        })
        .collect()
}

/// Attached blank numbers (every exam); only those of one series when given.
async fn used(conn: &mut sqlx::AnyConnection, series: Option<&str>) -> Result<BTreeMap<String, UsedBlank>> {
    let rows = match series {
        Some(s) => {
            sqlx::query("SELECT blank_number, exam_id, application_id, attached_at FROM attachments WHERE blank_number LIKE $1")
                .bind(format!("{s} %"))
                .fetch_all(&mut *conn)
                .await?
        }
        None => sqlx::query("SELECT blank_number, exam_id, application_id, attached_at FROM attachments").fetch_all(&mut *conn).await?,
    };
    rows.iter()
        .map(|r| -> Result<(String, UsedBlank)> {
            Ok((r.try_get(0)?, UsedBlank { exam_id: r.try_get(1)?, application_id: r.try_get(2)?, at: r.try_get(3)? }))
        })
        .collect()
}

/// On PostgreSQL, serialises ledger writes (read committed would let two overlapping packs both pass
/// their check). SQLite has one writer at a time already.
async fn lock(backend: Backend, conn: &mut sqlx::AnyConnection) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("LOCK TABLE blank_packs IN SHARE ROW EXCLUSIVE MODE").execute(&mut *conn).await?;
    }
    Ok(())
}

fn describe(p: &Pack) -> String {
    format!("{} ({} {}–{})", p.pack_id, p.series, p.first, p.last)
}

impl Store {
    /// Registers a pack or replaces the one with its id. Refused (nothing changed) when it overlaps another
    /// pack, or when a replacement would leave out a number that is used or written off.
    pub async fn put_pack(&self, pack: &Pack, actor: &str) -> Result<PutPack> {
        let mut tx = self.pool.begin().await?;
        lock(self.backend, &mut tx).await?;
        let stored: Vec<Pack> = packs(&mut tx).await?.into_iter().map(|(p, _, _)| p).collect();
        if let Some(other) = find_overlap(pack, &stored) {
            return Err(StoreError::Conflict(format!("pack {} overlaps pack {}", describe(pack), describe(other))));
        }
        let existing = stored.iter().find(|p| p.pack_id == pack.pack_id);
        if let Some(old) = existing {
            for (blank, u) in used(&mut tx, Some(&old.series)).await? {
                if old.contains(&blank) && !pack.contains(&blank) {
                    return Err(StoreError::Conflict(format!(
                        "pack {} would leave out blank {blank}, used for application {} of exam {}",
                        describe(pack),
                        u.application_id,
                        u.exam_id
                    )));
                }
            }
            if let Some(blank) = spoiled(&mut tx, Some(&old.pack_id)).await?.into_keys().find(|b| !pack.contains(b)) {
                return Err(StoreError::Conflict(format!("pack {} would leave out blank {blank}, written off", describe(pack))));
            }
        }
        let at = now();
        let received_on = pack.received_on.map(|d| d.format("%Y-%m-%d").to_string());
        let sql = if existing.is_some() {
            "UPDATE blank_packs SET series = $2, first_number = $3, last_number = $4, received_on = $5, note = $6, \
             registered_at = $7, registered_by = $8 WHERE pack_id = $1"
        } else {
            "INSERT INTO blank_packs (pack_id, series, first_number, last_number, received_on, note, registered_at, registered_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        };
        sqlx::query(sql)
            .bind(&pack.pack_id)
            .bind(&pack.series)
            .bind(&pack.first)
            .bind(&pack.last)
            .bind(received_on)
            .bind(&pack.note)
            .bind(&at)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        let result = if existing.is_some() { PutPack::Replaced } else { PutPack::Created };
        let detail =
            format!("pack {}, {} blanks ({})", describe(pack), pack.size(), if existing.is_some() { "replaced" } else { "registered" });
        audit(&mut tx, actor, "blank_pack", None, None, None, None, &detail).await?;
        tx.commit().await?;
        Ok(result)
    }

    pub async fn pack(&self, pack_id: &str) -> Result<Option<Pack>> {
        let row = sqlx::query(&format!("SELECT {PACK_COLUMNS} FROM blank_packs WHERE pack_id = $1"))
            .bind(pack_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| pack_from_row(&r)).transpose()?.map(|(p, _, _)| p))
    }

    /// Every pack with its used / spoiled / free counts.
    pub async fn packs_with_counts(&self) -> Result<Vec<PackSummary>> {
        let mut conn = self.pool.acquire().await?;
        let packs = packs(&mut conn).await?;
        if packs.is_empty() {
            return Ok(Vec::new());
        }
        let (used, spoiled) = (used(&mut conn, None).await?, spoiled(&mut conn, None).await?);
        Ok(packs
            .into_iter()
            .map(|(pack, registered_at, registered_by)| PackSummary {
                counts: pack_counts(&pack, &used, &spoiled),
                pack,
                registered_at,
                registered_by,
            })
            .collect())
    }

    /// Writes off one blank of a pack. Refused when the number is not in the pack, is attached in any
    /// exam, or is written off already.
    pub async fn spoil_blank(&self, pack_id: &str, blank_number: &str, reason: &str, actor: &str) -> Result<SpoiledBlank> {
        let mut tx = self.pool.begin().await?;
        lock(self.backend, &mut tx).await?;
        let (pack, _, _) = pack_from_row(
            &sqlx::query(&format!("SELECT {PACK_COLUMNS} FROM blank_packs WHERE pack_id = $1"))
                .bind(pack_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("pack {pack_id} is not registered")))?,
        )?;
        if !pack.contains(blank_number) {
            return Err(StoreError::Conflict(format!("blank {blank_number} is not in pack {}", describe(&pack))));
        }
        if let Some(r) = sqlx::query("SELECT exam_id, application_id FROM attachments WHERE blank_number = $1")
            .bind(blank_number)
            .fetch_optional(&mut *tx)
            .await?
        {
            let (exam, app): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            return Err(StoreError::Conflict(format!("blank {blank_number} is used: attached to application {app} of exam {exam}")));
        }
        if let Some(r) = sqlx::query("SELECT spoiled_by, spoiled_at FROM spoiled_blanks WHERE blank_number = $1")
            .bind(blank_number)
            .fetch_optional(&mut *tx)
            .await?
        {
            let (by, at): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            return Err(StoreError::Conflict(format!("blank {blank_number} was already written off by {by} at {at}")));
        }
        let spoiled = SpoiledBlank { reason: reason.to_string(), by: actor.to_string(), at: now() };
        sqlx::query("INSERT INTO spoiled_blanks (blank_number, pack_id, reason, spoiled_at, spoiled_by) VALUES ($1, $2, $3, $4, $5)")
            .bind(blank_number)
            .bind(pack_id)
            .bind(reason)
            .bind(&spoiled.at)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        audit(&mut tx, actor, "blank_spoiled", None, None, None, None, &format!("blank {blank_number} of pack {pack_id}: {reason}"))
            .await?;
        tx.commit().await?;
        Ok(spoiled)
    }

    /// A pack, its counts and every number of it once.
    pub async fn pack_report(&self, pack_id: &str) -> Result<Option<(Pack, PackCounts, Vec<ReportRow>)>> {
        let mut conn = self.pool.acquire().await?;
        let Some(row) = sqlx::query(&format!("SELECT {PACK_COLUMNS} FROM blank_packs WHERE pack_id = $1"))
            .bind(pack_id)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let (pack, _, _) = pack_from_row(&row)?;
        let (used, spoiled) = (used(&mut conn, Some(&pack.series)).await?, spoiled(&mut conn, Some(pack_id)).await?);
        let counts = pack_counts(&pack, &used, &spoiled);
        let rows = pack_report(&pack, &used, &spoiled);
        Ok(Some((pack, counts, rows)))
    }

    /// The ledger as it stands, for judging a scan's pages: packs, write-offs and the numbers attached in
    /// every exam. Empty (nothing judged) when no pack is registered.
    pub async fn ledger(&self) -> Result<Ledger> {
        let mut conn = self.pool.acquire().await?;
        let packs: Vec<Pack> = packs(&mut conn).await?.into_iter().map(|(p, _, _)| p).collect();
        if packs.is_empty() {
            return Ok(Ledger::default());
        }
        Ok(Ledger { packs, spoiled: spoiled(&mut conn, None).await?, used: used(&mut conn, None).await? })
    }
}

/// Where these blank numbers are attached in exams other than `exam_id`, read inside the caller's
/// transaction (packs, write-offs and other exams' attachments may have changed while a scan was read).
pub(super) async fn used_elsewhere<'b>(
    conn: &mut sqlx::AnyConnection,
    exam_id: &str,
    blanks: impl Iterator<Item = &'b str>,
) -> Result<BTreeMap<String, UsedBlank>> {
    let mut used = BTreeMap::new();
    for blank in blanks.collect::<std::collections::BTreeSet<_>>() {
        if let Some(r) =
            sqlx::query("SELECT exam_id, application_id, attached_at FROM attachments WHERE blank_number = $1 AND exam_id <> $2")
                .bind(blank)
                .bind(exam_id)
                .fetch_optional(&mut *conn)
                .await?
        {
            used.insert(blank.to_string(), UsedBlank { exam_id: r.try_get(0)?, application_id: r.try_get(1)?, at: r.try_get(2)? });
        }
    }
    Ok(used)
}

/// A person's assignment: the ledger's objection to attaching `blank` in `exam_id` (the exam's own
/// attachments are checked by the caller), as the domain's rule gives it.
pub(super) async fn objection(
    conn: &mut sqlx::AnyConnection,
    ledger: &Ledger,
    exam_id: &str,
    blank: &str,
) -> Result<Option<(CrossJobReason, String)>> {
    let used_elsewhere = if ledger.is_active() { used_elsewhere(conn, exam_id, std::iter::once(blank)).await? } else { BTreeMap::new() };
    let context = Context { job_id: "", point_upload: None, attached: &[], ledger, used_elsewhere: &used_elsewhere };
    Ok(ledger_objection(&context, blank))
}

/// The packs and write-offs inside a job's commit (the used numbers are asked per page).
pub(super) async fn commit_ledger(conn: &mut sqlx::AnyConnection) -> Result<Ledger> {
    let packs: Vec<Pack> = packs(conn).await?.into_iter().map(|(p, _, _)| p).collect();
    if packs.is_empty() {
        return Ok(Ledger::default());
    }
    Ok(Ledger { packs, spoiled: spoiled(conn, None).await?, used: BTreeMap::new() })
}
