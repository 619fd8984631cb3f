//! What the register pages found in a scan mean for the issuance register (issue 14, items 3 and 4).
//! Every page certscan prints routes itself by its code: a register page names its exam, its document, its
//! version and its page k of n, and the rows it carries. Whatever upload they came in (a certificate
//! scan or the register's own), the pages of this exam's current register go to the register, which
//! moves to `review_required`; a page missing, a page twice or pages of two versions go with it, each
//! problem named, for the reviewer. Pages of an older version, of another exam, of a register that cannot
//! take a scan now, are refused page by page with the reason (review items), and the register does not
//! move. The signature check's per-row verdicts are summed up here; the check never approves anything.
//! Pure: what the store holds and what recognition saw in, the decision out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::payload::RegisterPagePayload;
use crate::register::{transition, RegisterAction, RegisterRow, RegisterStatus};

/// Whether a row's signature cell carries ink beyond what was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignatureVerdict {
    Signed,
    Empty,
    /// Some ink, but too little or too scattered to call it a signature (a tick, a smudge, a stray
    /// stroke from the next row): the reviewer looks.
    Unclear,
}

impl SignatureVerdict {
    pub fn code(self) -> &'static str {
        match self {
            SignatureVerdict::Signed => "signed",
            SignatureVerdict::Empty => "empty",
            SignatureVerdict::Unclear => "unclear",
        }
    }
}

/// The check of one row's signature cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RowSignature {
    /// The register row (№).
    pub row: u32,
    pub verdict: SignatureVerdict,
    /// Share of the cell's inside (its printed borders left out) that is ink, 0..1.
    pub ink: f32,
    /// The file page (1-based) the row was read on.
    pub page: usize,
    /// Where the crop of the cell is (an object key; the API serves it as PNG), once stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop_key: Option<String>,
}

/// A register page seen in a scan: its code and the signature check of its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenRegisterPage {
    /// 1-based page in the uploaded file.
    pub file_page: usize,
    pub payload: RegisterPagePayload,
    pub signatures: Vec<RowSignature>,
}

/// The register as the store holds it when the scan commits.
#[derive(Debug, Clone, Copy)]
pub struct CurrentRegister<'a> {
    pub exam_id: &'a str,
    pub status: RegisterStatus,
    /// The generated version and its rows; `None` before the first generation.
    pub version: Option<(u32, &'a [RegisterRow])>,
}

/// Why a register page does not go to the register (a review item with this reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The page belongs to another exam's register.
    OtherExam,
    /// The register was never generated, or it cannot take a scan now (with the reviewer, approved).
    RegisterNotExpected,
    /// Every register page is of a version older than the current one.
    RegisterOutdated,
    /// The page says a version, or a document, this exam never generated.
    RegisterUnknown,
}

impl RefusalReason {
    pub fn code(self) -> &'static str {
        match self {
            RefusalReason::OtherExam => "other_exam",
            RefusalReason::RegisterNotExpected => "register_not_expected",
            RefusalReason::RegisterOutdated => "register_outdated",
            RefusalReason::RegisterUnknown => "register_unknown",
        }
    }
}

/// A register page sent to review instead of to the register.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedPage {
    pub file_page: usize,
    pub reason: RefusalReason,
    pub detail: String,
}

/// What is wrong with a scan the register takes anyway (the reviewer sees each one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanProblemKind {
    /// A page of the document is not in the scan.
    PageMissing,
    /// A page of the document is in the scan more than once.
    PageTwice,
    /// Pages of the current version and of an older one are mixed in the scan.
    TwoVersions,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScanProblem {
    pub code: ScanProblemKind,
    pub detail: String,
}

/// The signature check over the whole register: counts, every row's verdict, and the rows no page of
/// the scan carried.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignatureSummary {
    pub signed: usize,
    pub empty: usize,
    pub unclear: usize,
    /// Rows of the register that were not on any page of the scan.
    pub not_scanned: Vec<u32>,
    pub rows: Vec<RowSignature>,
}

impl SignatureSummary {
    /// From the rows' verdicts (one per row, in row order) and the register's row count.
    pub fn of(rows: Vec<RowSignature>, register_rows: usize) -> SignatureSummary {
        let count = |v: SignatureVerdict| rows.iter().filter(|r| r.verdict == v).count();
        let seen: BTreeSet<u32> = rows.iter().map(|r| r.row).collect();
        let not_scanned = (1..=register_rows as u32).filter(|r| !seen.contains(r)).collect();
        SignatureSummary {
            signed: count(SignatureVerdict::Signed),
            empty: count(SignatureVerdict::Empty),
            unclear: count(SignatureVerdict::Unclear),
            not_scanned,
            rows,
        }
    }

    /// What the reviewer reads first: "23 of 24 signed; row 7 empty".
    pub fn sentence(&self) -> String {
        let total = self.rows.len() + self.not_scanned.len();
        let mut s = format!("{} of {total} signed", self.signed);
        for (verdict, word) in [(SignatureVerdict::Empty, "empty"), (SignatureVerdict::Unclear, "unclear")] {
            let rows: Vec<String> = self.rows.iter().filter(|r| r.verdict == verdict).map(|r| r.row.to_string()).collect();
            if !rows.is_empty() {
                let noun = if rows.len() == 1 { "row" } else { "rows" };
                s.push_str(&format!("; {noun} {} {word}", rows.join(", ")));
            }
        }
        if !self.not_scanned.is_empty() {
            let rows: Vec<String> = self.not_scanned.iter().map(u32::to_string).collect();
            let noun = if rows.len() == 1 { "row" } else { "rows" };
            s.push_str(&format!("; {noun} {} not scanned", rows.join(", ")));
        }
        s
    }
}

/// The scan the register takes: it moves to `review_required` with these pages, problems and checks.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedScan {
    pub version: u32,
    /// File pages that went to the register, in file order.
    pub pages: Vec<usize>,
    pub problems: Vec<ScanProblem>,
    pub signatures: SignatureSummary,
}

/// The decision on a scan's register pages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegisterScanDecision {
    pub refused: Vec<RefusedPage>,
    pub received: Option<ReceivedScan>,
}

/// The id of a generated register document: `R` and the checksum of its frozen rows, so two documents
/// with the same version number (an exam reset, another database) are told apart.
pub fn document_id(rows: &[RegisterRow]) -> String {
    let text = serde_json::to_string(rows).expect("register rows serialise");
    format!("R{}", crate::payload::checksum_hex(&text))
}

/// Decides what a scan's register pages do (`pages` in file order).
pub fn decide(current: &CurrentRegister<'_>, pages: &[SeenRegisterPage]) -> RegisterScanDecision {
    let mut decision = RegisterScanDecision::default();
    let refuse = |p: &SeenRegisterPage, reason: RefusalReason, detail: String| RefusedPage { file_page: p.file_page, reason, detail };
    let what = |p: &SeenRegisterPage| {
        format!(
            "page {} of {} of the register of exam {}, version {}",
            p.payload.page, p.payload.pages, p.payload.exam_id, p.payload.version
        )
    };
    let mut ours = Vec::new();
    for p in pages {
        if p.payload.exam_id != current.exam_id {
            decision.refused.push(refuse(p, RefusalReason::OtherExam, format!("{} is not exam {}", what(p), current.exam_id)));
        } else {
            ours.push(p);
        }
    }
    if ours.is_empty() {
        return decision;
    }
    let Some((version, rows)) = current.version else {
        for p in ours {
            decision.refused.push(refuse(
                p,
                RefusalReason::RegisterNotExpected,
                format!("{}: this exam's register was never generated", what(p)),
            ));
        }
        return decision;
    };
    let id = document_id(rows);
    let (current_pages, other): (Vec<&SeenRegisterPage>, Vec<&SeenRegisterPage>) =
        ours.into_iter().partition(|p| p.payload.version == version && p.payload.document_id == id);
    let (older, unknown): (Vec<&SeenRegisterPage>, Vec<&SeenRegisterPage>) = other.into_iter().partition(|p| p.payload.version < version);
    for p in &unknown {
        let why = if p.payload.version == version {
            format!("document {} is not the generated version {version} (document {id})", p.payload.document_id)
        } else {
            format!("the latest version is {version}")
        };
        decision.refused.push(refuse(p, RefusalReason::RegisterUnknown, format!("{}: {why}", what(p))));
    }
    if current_pages.is_empty() {
        for p in older {
            decision.refused.push(refuse(
                p,
                RefusalReason::RegisterOutdated,
                format!("{}: an older version; the current version is {version}: print, sign and scan version {version}", what(p)),
            ));
        }
        decision.refused.sort_by_key(|r| r.file_page);
        return decision;
    }
    if let Err(e) = transition(current.status, true, true, RegisterAction::UploadScan) {
        for p in current_pages.into_iter().chain(older) {
            decision.refused.push(refuse(p, RefusalReason::RegisterNotExpected, format!("{}: {e}", what(p))));
        }
        decision.refused.sort_by_key(|r| r.file_page);
        return decision;
    }
    let mut problems = Vec::new();
    // The document's page count as its pages say (the same document always says the same).
    let n = current_pages.iter().map(|p| p.payload.pages).max().unwrap_or(1);
    let mut by_k: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for p in &current_pages {
        by_k.entry(p.payload.page).or_default().push(p.file_page);
    }
    let missing: Vec<u32> = (1..=n).filter(|k| !by_k.contains_key(k)).collect();
    for k in &missing {
        problems.push(ScanProblem {
            code: ScanProblemKind::PageMissing,
            detail: format!("page {k} of {n} of version {version} is not in the scan"),
        });
    }
    for (k, files) in by_k.iter().filter(|(_, f)| f.len() > 1) {
        let files: Vec<String> = files.iter().map(usize::to_string).collect();
        problems.push(ScanProblem {
            code: ScanProblemKind::PageTwice,
            detail: format!("page {k} of {n} of version {version} is in the scan {} times (file pages {})", files.len(), files.join(", ")),
        });
    }
    if !older.is_empty() {
        let versions: BTreeSet<u32> = older.iter().map(|p| p.payload.version).collect();
        let versions: Vec<String> = versions.iter().map(u32::to_string).collect();
        let files: Vec<String> = older.iter().map(|p| p.file_page.to_string()).collect();
        problems.push(ScanProblem {
            code: ScanProblemKind::TwoVersions,
            detail: format!(
                "file pages {} are of version {}, the others of the current version {version}",
                files.join(", "),
                versions.join(", ")
            ),
        });
    }
    // Each row's check from the first scan of its page (file order).
    let mut signatures: BTreeMap<u32, RowSignature> = BTreeMap::new();
    for p in &current_pages {
        for s in &p.signatures {
            if s.row as usize <= rows.len() {
                signatures.entry(s.row).or_insert_with(|| s.clone());
            }
        }
    }
    let mut files: Vec<usize> = current_pages.iter().chain(older.iter()).map(|p| p.file_page).collect();
    files.sort_unstable();
    decision.received = Some(ReceivedScan {
        version,
        pages: files,
        problems,
        signatures: SignatureSummary::of(signatures.into_values().collect(), rows.len()),
    });
    decision.refused.sort_by_key(|r| r.file_page);
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<RegisterRow> {
        (1..=n)
            .map(|i| RegisterRow {
                number: i,
                application_id: format!("A-{i}"),
                full_name: format!("Name {i}"),
                registration_number: format!("77-{i}"),
                issue_date: "2025-12-31".into(),
                blank_number: format!("77 {:07}", i),
            })
            .collect()
    }

    /// A 24-row register printed 12 rows a page on 2 pages; `empty` rows left unsigned.
    fn page(file_page: usize, rows_: &[RegisterRow], version: u32, k: u32, empty: &[u32]) -> SeenRegisterPage {
        let (first, last) = ((k - 1) * 12 + 1, k * 12);
        SeenRegisterPage {
            file_page,
            payload: RegisterPagePayload {
                exam_id: "EX-1".into(),
                document_id: document_id(rows_),
                version,
                page: k,
                pages: 2,
                first_row: first,
                last_row: last,
            },
            signatures: (first..=last)
                .map(|row| {
                    let empty = empty.contains(&row);
                    RowSignature {
                        row,
                        verdict: if empty { SignatureVerdict::Empty } else { SignatureVerdict::Signed },
                        ink: if empty { 0.0 } else { 0.08 },
                        page: file_page,
                        crop_key: None,
                    }
                })
                .collect(),
        }
    }

    fn current(rows: &[RegisterRow], version: u32, status: RegisterStatus) -> CurrentRegister<'_> {
        CurrentRegister { exam_id: "EX-1", status, version: Some((version, rows)) }
    }

    #[test]
    fn a_whole_signed_register_goes_to_the_register_with_its_empty_row_named() {
        let r = rows(24);
        let d = decide(&current(&r, 1, RegisterStatus::OnSigning), &[page(7, &r, 1, 2, &[]), page(3, &r, 1, 1, &[7])]);
        assert!(d.refused.is_empty(), "{:?}", d.refused);
        let got = d.received.unwrap();
        assert_eq!((got.version, got.pages.clone()), (1, vec![3, 7]));
        assert!(got.problems.is_empty(), "{:?}", got.problems);
        assert_eq!((got.signatures.signed, got.signatures.empty, got.signatures.unclear), (23, 1, 0));
        assert_eq!(got.signatures.sentence(), "23 of 24 signed; row 7 empty");
        assert_eq!(got.signatures.rows.len(), 24);
        assert_eq!(got.signatures.rows[6].page, 3);
    }

    #[test]
    fn a_page_missing_a_page_twice_and_two_versions_are_named_for_the_reviewer() {
        let r = rows(24);
        let old = rows(23);
        let d =
            decide(&current(&r, 2, RegisterStatus::Rejected), &[page(1, &r, 2, 1, &[]), page(2, &r, 2, 1, &[]), page(3, &old, 1, 2, &[])]);
        let got = d.received.expect("the current version's pages go to the register");
        let codes: Vec<ScanProblemKind> = got.problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, [ScanProblemKind::PageMissing, ScanProblemKind::PageTwice, ScanProblemKind::TwoVersions]);
        assert!(got.problems[0].detail.contains("page 2 of 2"), "{}", got.problems[0].detail);
        assert!(got.problems[1].detail.contains("file pages 1, 2"), "{}", got.problems[1].detail);
        assert!(got.problems[2].detail.contains("file pages 3 are of version 1"), "{}", got.problems[2].detail);
        assert_eq!(got.pages, [1, 2, 3]);
        assert_eq!(got.signatures.not_scanned, (13..=24).collect::<Vec<u32>>());
        assert_eq!(got.signatures.sentence(), "12 of 24 signed; rows 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24 not scanned");
    }

    #[test]
    fn a_scan_of_an_older_version_is_refused_with_the_reason_and_the_register_does_not_move() {
        let r = rows(24);
        let old = rows(23);
        let d = decide(&current(&r, 2, RegisterStatus::OnSigning), &[page(1, &old, 1, 1, &[]), page(2, &old, 1, 2, &[])]);
        assert_eq!(d.received, None);
        assert_eq!(d.refused.len(), 2);
        assert!(d.refused.iter().all(|p| p.reason == RefusalReason::RegisterOutdated));
        assert!(
            d.refused[0].detail.contains("version 1") && d.refused[0].detail.contains("current version is 2"),
            "{}",
            d.refused[0].detail
        );
    }

    #[test]
    fn pages_of_another_exam_or_a_register_that_cannot_take_a_scan_are_refused_page_by_page() {
        let r = rows(24);
        let mut stray = page(4, &r, 1, 1, &[]);
        stray.payload.exam_id = "EX-2".into();
        let d = decide(&current(&r, 1, RegisterStatus::OnSigning), &[page(1, &r, 1, 1, &[]), page(2, &r, 1, 2, &[]), stray.clone()]);
        assert_eq!(d.refused.len(), 1);
        assert_eq!((d.refused[0].file_page, d.refused[0].reason), (4, RefusalReason::OtherExam));
        assert!(d.received.is_some());
        let d = decide(&current(&r, 1, RegisterStatus::Approved), &[page(1, &r, 1, 1, &[])]);
        assert_eq!(d.received, None);
        assert_eq!(d.refused[0].reason, RefusalReason::RegisterNotExpected);
        assert!(d.refused[0].detail.contains("approved"), "{}", d.refused[0].detail);
        let never = CurrentRegister { exam_id: "EX-1", status: RegisterStatus::GenerationPossible, version: None };
        assert_eq!(decide(&never, &[page(1, &r, 1, 1, &[])]).refused[0].reason, RefusalReason::RegisterNotExpected);
        // A version this exam never generated, or another document under the current number.
        let d = decide(&current(&r, 1, RegisterStatus::OnSigning), &[page(1, &r, 3, 1, &[]), page(2, &rows(5), 1, 1, &[])]);
        assert!(d.refused.iter().all(|p| p.reason == RefusalReason::RegisterUnknown), "{:?}", d.refused);
        assert_eq!(d.received, None);
        assert!(decide(&current(&r, 1, RegisterStatus::OnSigning), &[]) == RegisterScanDecision::default());
    }
}
