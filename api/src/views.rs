//! What the API answers and takes, as types: every handler returns one of these (or a file), and the
//! OpenAPI document (`GET /openapi.json`, [`crate::openapi`]) is generated from them, so the document
//! cannot drift from what is served.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use certscan_domain::ledger::{Pack, PackCounts, ReportRow};
use certscan_domain::register::RegisterRow;
use certscan_domain::register_scan::ScanProblem;
use certscan_pipeline::report::Report;
use certscan_workers::store::{AuditEntry, Event, ReviewItem, StatusCounts};

// ---- errors ----

/// Every error: `{"error": {"code", "message", ...}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable code, a sentence, and what some errors add.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (`not_found`, `conflict`, `invalid_blank_number`, …).
    pub code: String,
    pub message: String,
    /// A refused FIS FRDO file: the first 1,000 bad rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<FisRowError>>,
    /// A refused FIS FRDO file: how many bad rows there were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_total: Option<usize>,
    /// The field to fix (`invalid_pack`, `blank_not_in_pack`, `reason_required`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `invalid_transition`: the status the move was refused from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_status: Option<StatusLabel>,
}

/// One bad row of a refused FIS FRDO file.
#[derive(Debug, Serialize, ToSchema)]
pub struct FisRowError {
    pub line: usize,
    pub code: String,
    pub message: String,
}

/// A status: its stable code and its Russian label.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusLabel {
    pub code: String,
    pub label: String,
}

impl StatusLabel {
    pub fn new(code: &str, label: &str) -> StatusLabel {
        StatusLabel { code: code.to_string(), label: label.to_string() }
    }
}

/// A file in the answer (PDF, PNG, XLSX, CSV, the scan as it was uploaded).
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileBody(pub Vec<u8>);

/// An upload as a multipart form: the file in the field `file`.
#[derive(Debug, ToSchema)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

// ---- exams ----

/// A roster stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterStored {
    pub exam_id: String,
    /// Applications in the roster.
    pub applications: usize,
}

/// A FIS FRDO file imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct FisImported {
    pub exam_id: String,
    pub file: String,
    /// Registration numbers imported.
    pub records: usize,
}

/// `?printer=NAME` of certificate generation.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GenerateQuery {
    /// A printer profile from the calibration folder; `default` when absent.
    pub printer: Option<String>,
}

// ---- jobs ----

/// An upload accepted: the job that will recognise it.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: String,
    pub exam_id: String,
    pub status_url: String,
    /// A register scan upload: where the register is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register_url: Option<String>,
}

/// A job's progress, and its report once done.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub exam_id: String,
    pub application_id: Option<String>,
    pub file_name: Option<String>,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub pages: JobPages,
    pub error: Option<String>,
    pub attempts: i64,
    pub timings: JobTimings,
    /// The recognition report, once `done`.
    pub report: Option<Report>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobPages {
    pub total: i64,
    pub processed: i64,
    pub attached: usize,
    pub review: usize,
    pub ignored: usize,
    pub duplicate: usize,
    pub register: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobTimings {
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub seconds: Option<f64>,
}

// ---- status ----

/// The exam's certificate status and every application's.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExamStatusView {
    pub exam_id: String,
    pub status: StatusLabel,
    pub register_status: StatusLabel,
    pub counts: StatusCounts,
    pub applications: Vec<ApplicationView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub application_id: String,
    pub full_name: String,
    pub outcome: certscan_domain::Outcome,
    pub outcome_label: String,
    pub status: StatusLabel,
    pub handed_over_on: Option<String>,
    pub handed_over_by: Option<String>,
    pub registration_number: Option<String>,
    pub issue_date: Option<String>,
    pub certificate_generated: bool,
    pub blank_number: Option<String>,
    pub scan_url: Option<String>,
    pub attached_at: Option<String>,
    pub attached_by: Option<String>,
    pub attached_from: Option<AttachedFrom>,
}

/// Which job and page an attached scan came from, and how (`automatic`, `review`, `point`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachedFrom {
    pub job_id: String,
    pub page: i64,
    pub source: String,
}

// ---- review ----

/// A review item with links to its page (PDF) and preview (PNG) when the page has a file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewItemView {
    #[serde(flatten)]
    pub item: ReviewItem,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
}

impl ReviewItemView {
    pub fn of(item: ReviewItem) -> ReviewItemView {
        let has_file = item.object_key.is_some();
        let url = |what: &str| has_file.then(|| format!("/v1/review/{}/{what}", item.item_id));
        let (page_url, preview_url) = (url("page"), url("preview"));
        ReviewItemView { item, page_url, preview_url }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewList {
    pub exam_id: String,
    pub items: Vec<ReviewItemView>,
}

/// `?state=open|all` of the review list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    /// `open` (default) or `all`.
    pub state: Option<String>,
}

/// Attach a review page to an application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    pub application_id: String,
    /// Needed when the page's blank number was not read; must match the blank design's pattern.
    pub blank_number: Option<String>,
}

/// A decision that must say why (dismiss, unattach, reject, undo a handover).
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonBody {
    pub reason: String,
}

/// A review page attached by hand.
#[derive(Debug, Serialize, ToSchema)]
pub struct Assigned {
    pub item_id: String,
    /// Always `assigned`.
    pub state: String,
    pub application_id: String,
    pub blank_number: String,
    pub registration_number: String,
    pub issue_date: String,
    pub scan_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTrail {
    pub exam_id: String,
    pub entries: Vec<AuditEntry>,
}

// ---- blank ledger ----

/// A pack of blanks with its size, and (in lists and reports) its counts and who registered it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PackView {
    #[serde(flatten)]
    pub pack: Pack,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<PackCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_by: Option<String>,
}

impl PackView {
    pub fn of(pack: &Pack, counts: Option<PackCounts>) -> PackView {
        PackView { pack: pack.clone(), size: pack.size(), counts, registered_at: None, registered_by: None }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PackList {
    pub packs: Vec<PackView>,
}

/// Register (or replace) a pack of blanks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackBody {
    /// Two digits.
    pub series: String,
    /// The first number, with its leading zeros.
    pub first: String,
    pub last: String,
    /// YYYY-MM-DD; required.
    pub received_on: Option<String>,
    pub note: Option<String>,
}

/// Write off one blank.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpoilBody {
    /// `51 0375170`.
    pub blank_number: String,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Spoiled {
    pub pack_id: String,
    pub blank_number: String,
    /// Always `spoiled`.
    pub state: String,
    pub reason: String,
    pub by: String,
    pub at: String,
}

/// Every number of a pack once.
#[derive(Debug, Serialize, ToSchema)]
pub struct PackReport {
    pub pack: PackView,
    pub counts: PackCounts,
    pub blanks: Vec<ReportRow>,
}

/// `?format=` of a report or document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// Pack report: `json` (default), `csv` or `xlsx`. Register document: `pdf` (default) or `xlsx`.
    pub format: Option<String>,
}

// ---- the certificate's life ----

/// `GET /v1/exams` filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExamListQuery {
    pub certificate_status: Option<String>,
    pub register_status: Option<String>,
    /// 1 to 500 (50 by default).
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamList {
    pub exams: Vec<ExamListEntry>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamListEntry {
    pub exam_id: String,
    pub certificate_status: StatusLabel,
    pub register_status: StatusLabel,
    pub counts: StatusCounts,
}

/// The issuance register.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterJson {
    pub exam_id: String,
    pub status: StatusLabel,
    pub version: Option<i64>,
    pub reason: Option<String>,
    pub generated_at: Option<String>,
    pub generated_by: Option<String>,
    pub rows: Vec<RegisterRow>,
    pub scan: Option<RegisterScanView>,
    pub signatures: SignaturesView,
    pub document: Option<DocumentLinks>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterScanView {
    pub version: Option<i64>,
    pub url: String,
    pub job_id: Option<String>,
    /// Links to the register's pages in the job, once recognised.
    pub pages: Option<Vec<String>>,
    pub problems: Vec<ScanProblem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentLinks {
    pub pdf: String,
    pub xlsx: String,
}

/// The signature check of the last register scan (counts are null before any check).
#[derive(Debug, Serialize, ToSchema)]
pub struct SignaturesView {
    pub checked: bool,
    pub signed: Option<usize>,
    pub empty: Option<usize>,
    pub unclear: Option<usize>,
    /// "23 of 24 signed; row 7 empty".
    pub summary: Option<String>,
    pub not_scanned: Vec<u32>,
    pub rows: Vec<SignatureRowView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureRowView {
    pub row: u32,
    pub verdict: certscan_domain::register_scan::SignatureVerdict,
    pub ink: f32,
    pub page: usize,
    pub page_url: Option<String>,
    pub crop_url: Option<String>,
}

/// `POST …/handover`: the day (YYYY-MM-DD, today when absent); the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    pub handed_over_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandedOver {
    pub application_id: String,
    pub exam_id: String,
    pub status: StatusLabel,
    pub handed_over_on: String,
    pub handed_over_by: String,
    pub recorded_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandoverUndone {
    pub application_id: String,
    pub exam_id: String,
    pub status: StatusLabel,
    pub undone: UndoneHandover,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UndoneHandover {
    pub handed_over_on: String,
    pub handed_over_by: String,
    pub reason: String,
}

/// `GET /v1/events` paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this sequence number (0 by default).
    pub after: Option<i64>,
    /// 1 to 1000 (100 by default).
    pub limit: Option<i64>,
    pub exam_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    pub events: Vec<Event>,
    pub last_seq: i64,
}

// ---- operations ----

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`, or `unavailable: …`.
    pub database: String,
    /// `ok` or `unavailable`.
    pub queue: String,
    /// `local` or `amqp`.
    pub queue_kind: String,
}
