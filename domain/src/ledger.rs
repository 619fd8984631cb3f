//! The blank ledger: strict-accountability blanks (бланки строгой отчётности) arrive in numbered packs,
//! and every number of a registered pack is accounted for — used on a certificate, spoiled and written
//! off with a reason, or still free. Pure rules: pack validation, overlaps, the verdict on a blank number
//! read from a scan, and the per-pack report rows. Talks to nothing; the store keeps packs and write-offs,
//! the attachments say which numbers are used.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::roster::is_valid_id;

/// The most numbers one pack may hold: a print house's pack is hundreds, a registration of millions is a
/// typo (and its report would be unbounded).
pub const MAX_PACK_SIZE: u64 = 100_000;

/// Digits of a series (the part before the space of `51 0375170`).
pub const SERIES_DIGITS: usize = 2;

/// The longest number part a pack may have (fits a `u64` with room to spare).
const MAX_NUMBER_DIGITS: usize = 15;

/// One registered pack of blanks: every number from `first` to `last` of one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Pack {
    pub pack_id: String,
    /// Two digits, as printed before the space.
    pub series: String,
    /// The number part, with its leading zeros: every number of the pack is printed with this width.
    pub first: String,
    pub last: String,
    /// When the testing center received it; `None` for a one-off `certscan process --blanks` ledger.
    pub received_on: Option<NaiveDate>,
    pub note: Option<String>,
}

/// Why a pack cannot be registered; `field` names what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    #[error("pack id {0:?} is not an id (letters, digits, - and _, at most 64)")]
    PackId(String),
    #[error("series {0:?} must be {SERIES_DIGITS} digits")]
    Series(String),
    #[error("{field} {value:?} must be 1 to {MAX_NUMBER_DIGITS} digits")]
    Number { field: &'static str, value: String },
    #[error("first {first:?} and last {last:?} must have the same number of digits")]
    Width { first: String, last: String },
    #[error("first {first} is after last {last}")]
    Order { first: String, last: String },
    #[error("the pack would hold {size} numbers; at most {MAX_PACK_SIZE} per pack")]
    TooLarge { size: u64 },
    #[error("received_on {0:?} is not a date (YYYY-MM-DD)")]
    ReceivedOn(String),
}

impl PackError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            PackError::PackId(_) => "pack_id",
            PackError::Series(_) => "series",
            PackError::Number { field, .. } => field,
            PackError::Width { .. } => "last",
            PackError::Order { .. } => "last",
            PackError::TooLarge { .. } => "last",
            PackError::ReceivedOn(_) => "received_on",
        }
    }
}

fn digits(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
}

impl Pack {
    /// A validated pack. Surrounding spaces are trimmed; `received_on` is `YYYY-MM-DD` when given.
    pub fn new(
        pack_id: &str,
        series: &str,
        first: &str,
        last: &str,
        received_on: Option<&str>,
        note: Option<&str>,
    ) -> Result<Pack, PackError> {
        let (series, first, last) = (series.trim(), first.trim(), last.trim());
        if !is_valid_id(pack_id) {
            return Err(PackError::PackId(pack_id.to_string()));
        }
        if series.len() != SERIES_DIGITS || !digits(series, SERIES_DIGITS) {
            return Err(PackError::Series(series.to_string()));
        }
        for (field, value) in [("first", first), ("last", last)] {
            if !digits(value, MAX_NUMBER_DIGITS) {
                return Err(PackError::Number { field, value: value.to_string() });
            }
        }
        if first.len() != last.len() {
            return Err(PackError::Width { first: first.to_string(), last: last.to_string() });
        }
        let (a, b): (u64, u64) = (first.parse().expect("digits"), last.parse().expect("digits"));
        if a > b {
            return Err(PackError::Order { first: first.to_string(), last: last.to_string() });
        }
        if b - a + 1 > MAX_PACK_SIZE {
            return Err(PackError::TooLarge { size: b - a + 1 });
        }
        let received_on = match received_on.map(str::trim) {
            None => None,
            Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| PackError::ReceivedOn(d.to_string()))?),
        };
        let note = note.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
        Ok(Pack {
            pack_id: pack_id.to_string(),
            series: series.to_string(),
            first: first.to_string(),
            last: last.to_string(),
            received_on,
            note,
        })
    }

    fn range(&self) -> (u64, u64) {
        (self.first.parse().unwrap_or(0), self.last.parse().unwrap_or(0))
    }

    /// How many numbers the pack holds.
    pub fn size(&self) -> u64 {
        let (a, b) = self.range();
        b - a + 1
    }

    /// The blank number as printed: `51 0375170`.
    fn format(&self, n: u64) -> String {
        format!("{} {:0width$}", self.series, n, width = self.first.len())
    }

    /// Every number of the pack, in order, as printed.
    pub fn numbers(&self) -> impl Iterator<Item = String> + '_ {
        let (a, b) = self.range();
        (a..=b).map(move |n| self.format(n))
    }

    /// Whether a blank number (as read: `51 0375170`) is one of this pack's.
    pub fn contains(&self, blank_number: &str) -> bool {
        let Some((series, number)) = split_blank_number(blank_number) else { return false };
        let (a, b) = self.range();
        series == self.series && number.len() == self.first.len() && number.parse::<u64>().is_ok_and(|n| (a..=b).contains(&n))
    }

    /// Two packs of one series whose numbers meet (widths aside: `51 012` and `51 0000012` are the
    /// same blank to a person reading the act).
    pub fn overlaps(&self, other: &Pack) -> bool {
        let ((a, b), (c, d)) = (self.range(), other.range());
        self.series == other.series && a <= d && c <= b
    }
}

/// `51 0375170` → (`51`, `0375170`); `None` unless it is digits, one space, digits.
pub fn split_blank_number(text: &str) -> Option<(&str, &str)> {
    let (series, number) = text.trim().split_once(' ')?;
    (digits(series, MAX_NUMBER_DIGITS) && digits(number, MAX_NUMBER_DIGITS)).then_some((series, number))
}

/// The first pack of `packs` (other than one with the same id: a replacement) that `pack` overlaps.
pub fn find_overlap<'a>(pack: &Pack, packs: &'a [Pack]) -> Option<&'a Pack> {
    packs.iter().find(|p| p.pack_id != pack.pack_id && p.overlaps(pack))
}

/// A blank number attached to an application (taken from the stored attachments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsedBlank {
    pub exam_id: String,
    pub application_id: String,
    /// When it was attached (RFC 3339).
    pub at: String,
}

/// A blank written off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpoiledBlank {
    pub reason: String,
    pub by: String,
    /// RFC 3339.
    pub at: String,
}

/// What is known about blanks at one moment: the packs, the written-off numbers and the numbers already
/// attached (in any exam). With no pack, nothing is judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub packs: Vec<Pack>,
    /// Blank number → its write-off.
    pub spoiled: BTreeMap<String, SpoiledBlank>,
    /// Blank number → where it is attached.
    pub used: BTreeMap<String, UsedBlank>,
}

/// The ledger's word on one blank number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerVerdict<'a> {
    /// No pack is registered: the ledger says nothing.
    NotJudged,
    /// In no registered pack.
    OutsideEveryPack,
    /// In a pack and written off.
    Spoiled { pack: &'a Pack, spoiled: &'a SpoiledBlank },
    /// In a pack and already attached.
    Used { pack: &'a Pack, used: &'a UsedBlank },
    /// In a pack, neither used nor spoiled.
    Free { pack: &'a Pack },
}

impl Ledger {
    /// Whether any pack is registered (otherwise nothing is judged by the ledger).
    pub fn is_active(&self) -> bool {
        !self.packs.is_empty()
    }

    pub fn pack_of(&self, blank_number: &str) -> Option<&Pack> {
        self.packs.iter().find(|p| p.contains(blank_number))
    }

    pub fn verdict(&self, blank_number: &str) -> LedgerVerdict<'_> {
        if !self.is_active() {
            return LedgerVerdict::NotJudged;
        }
        let Some(pack) = self.pack_of(blank_number) else { return LedgerVerdict::OutsideEveryPack };
        let key = blank_number.trim();
        if let Some(used) = self.used.get(key) {
            LedgerVerdict::Used { pack, used }
        } else if let Some(spoiled) = self.spoiled.get(key) {
            LedgerVerdict::Spoiled { pack, spoiled }
        } else {
            LedgerVerdict::Free { pack }
        }
    }
}

/// The state of one number in a pack's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlankState {
    Used,
    Spoiled,
    Free,
}

impl BlankState {
    pub fn code(self) -> &'static str {
        match self {
            BlankState::Used => "used",
            BlankState::Spoiled => "spoiled",
            BlankState::Free => "free",
        }
    }
}

/// One number of a pack in the report (the write-off act lists the spoiled ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    pub blank_number: String,
    pub state: BlankState,
    /// Used: where.
    pub exam_id: Option<String>,
    pub application_id: Option<String>,
    /// Spoiled: why and who.
    pub reason: Option<String>,
    pub by: Option<String>,
    /// Used: when attached; spoiled: when written off.
    pub at: Option<String>,
}

/// Counts of a pack's numbers by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PackCounts {
    pub used: u64,
    pub spoiled: u64,
    pub free: u64,
}

/// Every number of the pack exactly once, in order. A number both attached and written off (a person
/// assigned a spoiled blank by hand) shows as used: the certificate exists.
pub fn pack_report(pack: &Pack, used: &BTreeMap<String, UsedBlank>, spoiled: &BTreeMap<String, SpoiledBlank>) -> Vec<ReportRow> {
    pack.numbers()
        .map(|blank_number| {
            let mut row =
                ReportRow { blank_number, state: BlankState::Free, exam_id: None, application_id: None, reason: None, by: None, at: None };
            if let Some(u) = used.get(&row.blank_number) {
                row.state = BlankState::Used;
                row.exam_id = Some(u.exam_id.clone());
                row.application_id = Some(u.application_id.clone());
                row.at = Some(u.at.clone());
            } else if let Some(s) = spoiled.get(&row.blank_number) {
                row.state = BlankState::Spoiled;
                row.reason = Some(s.reason.clone());
                row.by = Some(s.by.clone());
                row.at = Some(s.at.clone());
            }
            row
        })
        .collect()
}

/// A pack's counts without building its rows.
pub fn pack_counts(pack: &Pack, used: &BTreeMap<String, UsedBlank>, spoiled: &BTreeMap<String, SpoiledBlank>) -> PackCounts {
    let used_n = used.keys().filter(|b| pack.contains(b)).count() as u64;
    let spoiled_n = spoiled.keys().filter(|b| pack.contains(b) && !used.contains_key(*b)).count() as u64;
    PackCounts { used: used_n, spoiled: spoiled_n, free: pack.size() - used_n - spoiled_n }
}

/// Why a `--blanks` CSV was refused: the line (1-based, the header is line 1) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacksCsvError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{file}, line {line}: {reason}")]
    Line { file: String, line: usize, reason: String },
}

/// Reads the packs of a one-off ledger: CSV (`,` or `;`), a header row naming `series`, `first` and
/// `last` (any order, case ignored; `received_on` and `note` optional), one pack per line. Packs get the
/// ids `line-N`. Any bad line refuses the file.
pub fn packs_from_csv(file: &str, bytes: &[u8]) -> Result<Vec<Pack>, PacksCsvError> {
    let file_err = |reason: String| PacksCsvError::File { file: file.to_string(), reason };
    let text = std::str::from_utf8(bytes).map_err(|_| file_err("not UTF-8 text".into()))?;
    let text = text.trim_start_matches('\u{feff}');
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err(file_err("empty: a header row with series, first, last is expected".into())),
        Some(r) => r.map_err(|e| file_err(format!("line 1: {e}")))?,
    };
    let column = |name: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(series), Some(first), Some(last)) = (column("series"), column("first"), column("last")) else {
        return Err(PacksCsvError::Line {
            file: file.into(),
            line: 1,
            reason: "the header must name the columns series, first and last".into(),
        });
    };
    let (received_on, note) = (column("received_on"), column("note"));
    let mut packs: Vec<Pack> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    for record in records {
        let record = record.map_err(|e| file_err(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let line_err = |reason: String| PacksCsvError::Line { file: file.into(), line, reason };
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).map(str::trim).filter(|s| !s.is_empty());
        let pack = Pack::new(
            &format!("line-{line}"),
            get(Some(series)).unwrap_or(""),
            get(Some(first)).unwrap_or(""),
            get(Some(last)).unwrap_or(""),
            get(received_on),
            get(note),
        )
        .map_err(|e| line_err(e.to_string()))?;
        if let Some(other) = find_overlap(&pack, &packs) {
            let other_line = lines[packs.iter().position(|p| p == other).expect("found in packs")];
            return Err(line_err(format!("overlaps the pack on line {other_line}")));
        }
        packs.push(pack);
        lines.push(line);
    }
    if packs.is_empty() {
        return Err(file_err("no pack: a line per pack (series, first, last) is expected after the header".into()));
    }
    Ok(packs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(id: &str, series: &str, first: &str, last: &str) -> Pack {
        Pack::new(id, series, first, last, Some("2026-11-01"), None).unwrap()
    }

    #[test]
    fn a_pack_is_validated_field_by_field() {
        let err = |s, f, l| Pack::new("P", s, f, l, None, None).unwrap_err();
        assert_eq!(err("5", "0000001", "0000002").field(), "series");
        assert_eq!(err("5a", "0000001", "0000002").field(), "series");
        assert_eq!(err("51", "", "0000002").field(), "first");
        assert_eq!(err("51", "0000001", "00x").field(), "last");
        assert!(matches!(err("51", "0000001", "000002"), PackError::Width { .. }));
        assert!(matches!(err("51", "0000009", "0000002"), PackError::Order { .. }));
        assert!(matches!(err("51", "0000000", "0100000"), PackError::TooLarge { size: 100_001 }));
        assert!(Pack::new("P", "51", "0000000", "0099999", None, None).is_ok(), "exactly the limit");
        assert_eq!(Pack::new("P", "51", "1", "2", Some("01.11.2026"), None).unwrap_err().field(), "received_on");
        assert_eq!(Pack::new("bad id", "51", "1", "2", None, None).unwrap_err().field(), "pack_id");
    }

    #[test]
    fn a_pack_holds_its_numbers_with_their_width() {
        let p = pack("P", "51", "0375100", "0375199");
        assert_eq!(p.size(), 100);
        assert!(p.contains("51 0375170"));
        assert!(p.contains("51 0375100") && p.contains("51 0375199"));
        assert!(!p.contains("51 0375200"));
        assert!(!p.contains("52 0375170"), "another series");
        assert!(!p.contains("51 375170"), "another width");
        assert!(!p.contains("510375170") && !p.contains(""));
        let numbers: Vec<String> = p.numbers().collect();
        assert_eq!(numbers.len(), 100);
        assert_eq!(numbers[0], "51 0375100");
        assert_eq!(numbers[99], "51 0375199");
    }

    #[test]
    fn packs_of_one_series_that_meet_overlap_and_a_replacement_does_not_overlap_itself() {
        let a = pack("A", "51", "0375100", "0375199");
        assert!(a.overlaps(&pack("B", "51", "0375199", "0375299")));
        assert!(!a.overlaps(&pack("B", "51", "0375200", "0375299")));
        assert!(!a.overlaps(&pack("B", "52", "0375100", "0375199")));
        let packs = vec![a.clone()];
        assert!(find_overlap(&pack("A", "51", "0375150", "0375250"), &packs).is_none());
        assert_eq!(find_overlap(&pack("C", "51", "0375150", "0375250"), &packs), Some(&a));
    }

    #[test]
    fn the_verdict_says_outside_spoiled_used_or_free_and_nothing_without_packs() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.verdict("51 0375170"), LedgerVerdict::NotJudged);
        ledger.packs.push(pack("A", "51", "0375100", "0375199"));
        ledger.spoiled.insert("51 0375101".into(), SpoiledBlank { reason: "jammed".into(), by: "ct".into(), at: "t".into() });
        ledger.used.insert("51 0375102".into(), UsedBlank { exam_id: "EX".into(), application_id: "A-1".into(), at: "t".into() });
        assert_eq!(ledger.verdict("51 0375200"), LedgerVerdict::OutsideEveryPack);
        assert!(matches!(ledger.verdict("51 0375101"), LedgerVerdict::Spoiled { .. }));
        assert!(matches!(ledger.verdict("51 0375102"), LedgerVerdict::Used { used, .. } if used.application_id == "A-1"));
        assert!(matches!(ledger.verdict("51 0375103"), LedgerVerdict::Free { pack } if pack.pack_id == "A"));
    }

    #[test]
    fn the_report_lists_every_number_once_with_its_state() {
        let p = pack("A", "51", "0375100", "0375104");
        let mut used = BTreeMap::new();
        used.insert("51 0375101".to_string(), UsedBlank { exam_id: "EX".into(), application_id: "A-1".into(), at: "t1".into() });
        used.insert("77 0000001".to_string(), UsedBlank { exam_id: "EX".into(), application_id: "A-2".into(), at: "t1".into() });
        let mut spoiled = BTreeMap::new();
        spoiled.insert("51 0375103".to_string(), SpoiledBlank { reason: "misprint".into(), by: "ct".into(), at: "t2".into() });
        let rows = pack_report(&p, &used, &spoiled);
        let states: Vec<(&str, BlankState)> = rows.iter().map(|r| (r.blank_number.as_str(), r.state)).collect();
        assert_eq!(
            states,
            vec![
                ("51 0375100", BlankState::Free),
                ("51 0375101", BlankState::Used),
                ("51 0375102", BlankState::Free),
                ("51 0375103", BlankState::Spoiled),
                ("51 0375104", BlankState::Free),
            ]
        );
        assert_eq!(rows[1].application_id.as_deref(), Some("A-1"));
        assert_eq!(rows[3].reason.as_deref(), Some("misprint"));
        assert_eq!(pack_counts(&p, &used, &spoiled), PackCounts { used: 1, spoiled: 1, free: 3 });
    }

    #[test]
    fn a_blanks_csv_is_read_and_a_bad_line_is_named() {
        let packs = packs_from_csv("b.csv", b"\xef\xbb\xbfSeries;First;Last\n51;0375100;0375199\n\n52;0000001;0000050\n").unwrap();
        assert_eq!(packs.len(), 2);
        assert_eq!(packs[1].series, "52");
        let err = packs_from_csv("b.csv", b"series,first,last\n51,0375100,0375199\n51,0375300,0375200\n").unwrap_err();
        assert_eq!(err.to_string(), "b.csv, line 3: first 0375300 is after last 0375200");
        let err = packs_from_csv("b.csv", b"series,first,last\n51,0375100,0375199\n51,0375150,0375250\n").unwrap_err();
        assert_eq!(err.to_string(), "b.csv, line 3: overlaps the pack on line 2");
        let err = packs_from_csv("b.csv", b"series,from,to\n51,1,2\n").unwrap_err();
        assert!(matches!(err, PacksCsvError::Line { line: 1, .. }), "{err}");
        assert!(packs_from_csv("b.csv", b"series,first,last\n").is_err());
    }
}
