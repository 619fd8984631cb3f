//! The FIS FRDO registration-number import (`contracts.md`, "FIS FRDO registration-number file"): reads
//! the CSV (UTF-8 or Windows-1251, `;` or `,`) or XLSX file the testing center downloads from FIS FRDO,
//! matches every row to an application of one exam and checks it. The import is all-or-nothing: either
//! every passed application gets exactly one registration number and issue date, or the caller gets every
//! problem of the file, each with its line, worded for the clerk who has to fix it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;
use serde::Serialize;

use crate::certificate::Certificate;
use crate::roster::{Application, Outcome, Roster};

/// One accepted row: the application it matched and the number FIS FRDO assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FisRecord {
    /// 1-based line (CSV) or row (XLSX) number in the file, header being line 1.
    pub line: usize,
    pub application_id: String,
    pub registration_number: String,
    pub issue_date: NaiveDate,
}

/// A successful import: exactly one record per passed application of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FisImport {
    pub records: Vec<FisRecord>,
}

impl FisImport {
    /// The printable certificates, in roster order.
    pub fn certificates(&self, roster: &Roster) -> Vec<Certificate> {
        roster
            .applications
            .iter()
            .filter_map(|app| {
                let rec = self.records.iter().find(|r| r.application_id == app.application_id)?;
                Some(Certificate {
                    exam_id: roster.exam_id.clone(),
                    site: roster.site.clone(),
                    exam_date: roster.date,
                    application_id: app.application_id.clone(),
                    full_name: app.full_name(),
                    registration_number: rec.registration_number.clone(),
                    issue_date: rec.issue_date,
                })
            })
            .collect()
    }
}

/// Longest registration number accepted, in characters.
pub const MAX_REGISTRATION_NUMBER_LEN: usize = 64;

/// A person as a row of the file names them (text as given, trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FisPerson {
    pub surname: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
}

impl fmt::Display for FisPerson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.surname, self.name)?;
        if let Some(p) = &self.patronymic {
            write!(f, " {p}")?;
        }
        write!(f, ", born {}", self.birth_date.format("%d.%m.%Y"))
    }
}

/// What is wrong with one row (or, for [`RowErrorKind::PassedApplicationMissing`], with the file as a
/// whole). Serialized with its [`code`](RowErrorKind::code) under `"code"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RowErrorKind {
    /// No application of the exam has this surname, name, patronymic and birth date.
    UnknownPerson { person: FisPerson },
    /// Several applications of the exam have this surname, name, patronymic and birth date.
    AmbiguousPerson { person: FisPerson, application_ids: Vec<String> },
    /// The application id column names an application this exam does not have.
    UnknownApplication { application_id: String },
    /// The row names an application by id, but its name or birth date are another person's.
    PersonMismatch {
        application_id: String,
        /// The person as the row gives them (only the fields the row fills in).
        in_file: String,
        /// The person of the application, "Фамилия Имя Отчество, born DD.MM.YYYY".
        in_roster: String,
        /// Which of `surname`, `name`, `patronymic`, `birth_date` differ.
        differing: Vec<&'static str>,
    },
    /// The application's outcome is not `passed`, so it gets no certificate.
    NotPassed { application_id: String, full_name: String, outcome: Outcome },
    /// The registration number was already given on an earlier line.
    DuplicateRegistrationNumber { registration_number: String, first_line: usize },
    /// The application already got a row on an earlier line.
    DuplicateApplication { application_id: String, full_name: String, first_line: usize },
    /// A cell that must be filled in is empty. `field` is the canonical column name, `column` the
    /// header as the file spells it.
    MissingField { field: &'static str, column: String },
    /// A date cell holds something that is not a date.
    MalformedDate { field: &'static str, column: String, value: String },
    /// The registration number cannot be a real one (`reason` says why).
    MalformedRegistrationNumber { value: String, reason: &'static str },
    /// A passed application has no row in the file.
    PassedApplicationMissing { application_id: String, full_name: String },
}

impl RowErrorKind {
    /// A stable snake_case code for this kind of problem (for APIs and logs).
    pub fn code(&self) -> &'static str {
        match self {
            RowErrorKind::UnknownPerson { .. } => "unknown_person",
            RowErrorKind::AmbiguousPerson { .. } => "ambiguous_person",
            RowErrorKind::UnknownApplication { .. } => "unknown_application",
            RowErrorKind::PersonMismatch { .. } => "person_mismatch",
            RowErrorKind::NotPassed { .. } => "not_passed",
            RowErrorKind::DuplicateRegistrationNumber { .. } => "duplicate_registration_number",
            RowErrorKind::DuplicateApplication { .. } => "duplicate_application",
            RowErrorKind::MissingField { .. } => "missing_field",
            RowErrorKind::MalformedDate { .. } => "malformed_date",
            RowErrorKind::MalformedRegistrationNumber { .. } => "malformed_registration_number",
            RowErrorKind::PassedApplicationMissing { .. } => "passed_application_missing",
        }
    }
}

impl fmt::Display for RowErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowErrorKind::UnknownPerson { person } => {
                write!(f, "unknown person {person}: no application of this exam matches")
            }
            RowErrorKind::AmbiguousPerson { person, application_ids } => write!(
                f,
                "ambiguous person {person}: applications {} of this exam all match; fill in the application \
                 id (column \"Номер заявки\") to tell them apart",
                application_ids.join(", ")
            ),
            RowErrorKind::UnknownApplication { application_id } => {
                write!(f, "unknown application id \"{application_id}\": this exam has no such application")
            }
            RowErrorKind::PersonMismatch { application_id, in_file, in_roster, differing } => write!(
                f,
                "application {application_id} belongs to {in_roster}, but the row names {in_file} ({} {})",
                differing.iter().map(|d| d.replace('_', " ")).collect::<Vec<_>>().join(", "),
                if differing.len() == 1 { "differs" } else { "differ" }
            ),
            RowErrorKind::NotPassed { application_id, full_name, outcome } => write!(
                f,
                "application {application_id} ({full_name}) has outcome \"{}\" ({}): only passed applications \
                 get a registration number",
                outcome_code(*outcome),
                outcome.label()
            ),
            RowErrorKind::DuplicateRegistrationNumber { registration_number, first_line } => write!(
                f,
                "registration number \"{registration_number}\" is already given on line {first_line}"
            ),
            RowErrorKind::DuplicateApplication { application_id, full_name, first_line } => write!(
                f,
                "application {application_id} ({full_name}) already has a row on line {first_line}"
            ),
            RowErrorKind::MissingField { field, column } => {
                write!(f, "missing {}: column \"{column}\" is empty", field.replace('_', " "))
            }
            RowErrorKind::MalformedDate { column, value, .. } => write!(
                f,
                "malformed date \"{}\" in column \"{column}\": expected DD.MM.YYYY or YYYY-MM-DD",
                shorten(value)
            ),
            RowErrorKind::MalformedRegistrationNumber { value, reason } => {
                write!(f, "malformed registration number {:?}: {reason}", shorten(value))
            }
            RowErrorKind::PassedApplicationMissing { application_id, full_name } => {
                write!(f, "passed application missing from the file: {application_id} {full_name}")
            }
        }
    }
}

/// One problem found in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// 1-based line (CSV) or row (XLSX) of the file; `None` for problems of the file as a whole.
    pub line: Option<usize>,
    #[serde(flatten)]
    pub kind: RowErrorKind,
}

impl RowError {
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

/// Why a FIS FRDO file was refused. Nothing is imported in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FisImportError {
    /// Not a CSV or XLSX file at all (binary data, legacy `.xls`, UTF-16 text).
    #[error("{file}: unsupported file: {reason}; expected CSV (UTF-8 or Windows-1251) or XLSX")]
    Unsupported { file: String, reason: String },
    /// Looks like a supported format but cannot be read (e.g. a broken XLSX).
    #[error("{file}: cannot read the file: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: the file is empty")]
    Empty { file: String },
    /// The first non-empty row has none of the expected column names.
    #[error("{file}: line {line} is not a header row: none of the expected columns ({}) is there", expected_columns())]
    NoHeader { file: String, line: usize },
    /// Required columns are absent; `missing` holds their canonical names.
    #[error("{file}: missing columns: {}", describe_columns(.missing))]
    MissingColumns { file: String, missing: Vec<&'static str> },
    /// Two columns of the header hold the same field.
    #[error("{file}: columns \"{first}\" and \"{second}\" both hold the {}; keep only one", .field.replace('_', " "))]
    DuplicateColumn { file: String, field: &'static str, first: String, second: String },
    /// The file was read, but some rows are wrong or some passed applications have no row.
    #[error("{file}: nothing imported, {} problem(s) found:\n{}", .rows.len(), list_rows(.rows))]
    Rows { file: String, rows: Vec<RowError> },
}

impl FisImportError {
    /// A stable snake_case code for the kind of refusal.
    pub fn code(&self) -> &'static str {
        match self {
            FisImportError::Unsupported { .. } => "unsupported_file",
            FisImportError::Unreadable { .. } => "unreadable_file",
            FisImportError::Empty { .. } => "empty_file",
            FisImportError::NoHeader { .. } => "no_header",
            FisImportError::MissingColumns { .. } => "missing_columns",
            FisImportError::DuplicateColumn { .. } => "duplicate_column",
            FisImportError::Rows { .. } => "bad_rows",
        }
    }

    /// The file name the error was raised for.
    pub fn file(&self) -> &str {
        match self {
            FisImportError::Unsupported { file, .. }
            | FisImportError::Unreadable { file, .. }
            | FisImportError::Empty { file }
            | FisImportError::NoHeader { file, .. }
            | FisImportError::MissingColumns { file, .. }
            | FisImportError::DuplicateColumn { file, .. }
            | FisImportError::Rows { file, .. } => file,
        }
    }

    /// The row problems; empty for file-level errors.
    pub fn rows(&self) -> &[RowError] {
        match self {
            FisImportError::Rows { rows, .. } => rows,
            _ => &[],
        }
    }
}

fn list_rows(rows: &[RowError]) -> String {
    rows.iter().map(|r| format!("- {r}")).collect::<Vec<_>>().join("\n")
}

fn describe_columns(codes: &[&'static str]) -> String {
    codes
        .iter()
        .map(|code| match Field::ALL.iter().find(|f| f.code() == *code) {
            Some(field) => field.headers().join(" / "),
            None => (*code).to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn expected_columns() -> String {
    describe_columns(&Field::ALL.map(Field::code))
}

/// Cuts very long values so a message stays readable.
fn shorten(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let mut s: String = value.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

fn outcome_code(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pending => "pending",
        Outcome::NoShow => "no_show",
        Outcome::Failed => "failed",
        Outcome::Violation => "violation",
        Outcome::Passed => "passed",
    }
}

/// The columns of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    ApplicationId,
    Surname,
    Name,
    Patronymic,
    BirthDate,
    RegistrationNumber,
    IssueDate,
}

impl Field {
    const ALL: [Field; 7] = [
        Field::ApplicationId,
        Field::Surname,
        Field::Name,
        Field::Patronymic,
        Field::BirthDate,
        Field::RegistrationNumber,
        Field::IssueDate,
    ];

    fn code(self) -> &'static str {
        match self {
            Field::ApplicationId => "application_id",
            Field::Surname => "surname",
            Field::Name => "name",
            Field::Patronymic => "patronymic",
            Field::BirthDate => "birth_date",
            Field::RegistrationNumber => "registration_number",
            Field::IssueDate => "issue_date",
        }
    }

    /// Accepted header texts, already normalised by [`normalize_header`].
    fn headers(self) -> &'static [&'static str] {
        match self {
            Field::ApplicationId => &["application_id", "номер заявки"],
            Field::Surname => &["surname", "фамилия"],
            Field::Name => &["name", "имя"],
            Field::Patronymic => &["patronymic", "отчество"],
            Field::BirthDate => &["birth_date", "дата рождения"],
            Field::RegistrationNumber => &["registration_number", "регистрационный номер", "реестровый номер"],
            Field::IssueDate => &["issue_date", "дата выдачи"],
        }
    }

    fn required(self) -> bool {
        !matches!(self, Field::ApplicationId | Field::Patronymic)
    }
}

/// Trims, collapses inner whitespace and lower-cases.
fn normalize_header(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Name comparison key: case, surrounding and repeated whitespace, and ё/е ignored.
fn normalize_name(s: &str) -> String {
    normalize_header(s).replace('ё', "е")
}

/// One cell as read from the file, before it is interpreted for its column.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Float(f64),
    /// An XLSX date cell; `None` when it holds no representable date. `raw` is for messages.
    Date { date: Option<NaiveDate>, raw: String },
    /// Booleans, error values, durations: never valid data here, kept as text for messages.
    Other(String),
}

impl Cell {
    fn text(s: &str) -> Cell {
        let s = s.trim();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s.to_string())
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }

    /// The cell as text; `None` when empty. Whole numbers lose the `.0` Excel stores them with.
    fn as_text(&self) -> Option<String> {
        match self {
            Cell::Empty => None,
            Cell::Text(s) | Cell::Other(s) => Some(s.clone()),
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(f) => Some(float_text(*f)),
            Cell::Date { date: Some(d), .. } => Some(d.format("%d.%m.%Y").to_string()),
            Cell::Date { date: None, raw } => Some(raw.clone()),
        }
    }
}

fn float_text(f: f64) -> String {
    // Below 2^53 every whole f64 is an exact integer, so the cast is lossless.
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// A non-empty row of the file with its 1-based line number.
#[derive(Debug)]
struct RawRow {
    line: usize,
    cells: Vec<Cell>,
}

impl RawRow {
    fn cell(&self, col: usize) -> &Cell {
        self.cells.get(col).unwrap_or(&Cell::Empty)
    }
}

/// Imports the FIS FRDO file `bytes` (named `file` in messages) for the exam `roster`: all or nothing.
///
/// On success there is exactly one [`FisRecord`] per passed application, in roster order. On failure
/// nothing is imported and the error lists every problem found.
pub fn import_fis(roster: &Roster, file: &str, bytes: &[u8]) -> Result<FisImport, FisImportError> {
    let rows = read_rows(file, bytes)?;
    let Some((header, data)) = rows.split_first() else {
        return Err(FisImportError::Empty { file: file.to_string() });
    };
    let columns = Columns::from_header(file, header)?;
    let mut problems = Vec::new();
    let records = check_rows(roster, &columns, data, &mut problems);
    if problems.is_empty() {
        Ok(FisImport { records })
    } else {
        Err(FisImportError::Rows { file: file.to_string(), rows: problems })
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads the non-empty rows of the file, whatever its format.
fn read_rows(file: &str, bytes: &[u8]) -> Result<Vec<RawRow>, FisImportError> {
    let unsupported = |reason: &str| FisImportError::Unsupported { file: file.to_string(), reason: reason.to_string() };
    if bytes.starts_with(ZIP_MAGIC) {
        return read_xlsx(file, bytes);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return Err(unsupported("this is a legacy Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV"));
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(unsupported("this is UTF-16 text (Excel \"Unicode text\"); save it as CSV UTF-8"));
    }
    // Text never holds NUL bytes; anything that does is some binary format.
    if bytes.contains(&0) {
        return Err(unsupported("the file holds binary data"));
    }
    let text = decode(bytes);
    read_csv(file, &text)
}

/// UTF-8 (with or without BOM) when the bytes are valid UTF-8, else Windows-1251.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1251.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

/// `;` or `,`, whichever the header line has more of outside quotes (`;` on a tie).
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let (mut semicolons, mut commas, mut quoted) = (0usize, 0usize, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => semicolons += 1,
            ',' if !quoted => commas += 1,
            _ => {}
        }
    }
    if commas > semicolons {
        b','
    } else {
        b';'
    }
}

fn read_csv(file: &str, text: &str) -> Result<Vec<RawRow>, FisImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(detect_delimiter(text))
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(FisImportError::Unreadable { file: file.to_string(), reason: e.to_string() });
            }
        }
        let cells: Vec<Cell> = record.iter().map(Cell::text).collect();
        if cells.iter().all(Cell::is_empty) {
            continue;
        }
        let line = record.position().map_or(rows.len() + 1, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
        rows.push(RawRow { line, cells });
    }
    Ok(rows)
}

fn read_xlsx(file: &str, bytes: &[u8]) -> Result<Vec<RawRow>, FisImportError> {
    let unreadable = |reason: String| FisImportError::Unreadable { file: file.to_string(), reason };
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| unreadable(format!("not a readable XLSX workbook ({e})")))?;
    let range = match workbook.worksheet_range_at(0) {
        None => return Err(FisImportError::Empty { file: file.to_string() }),
        Some(Err(e)) => return Err(unreadable(format!("cannot read the first sheet ({e})"))),
        Some(Ok(range)) => range,
    };
    let first_row = range.start().map_or(0, |(row, _)| row as usize);
    let mut rows = Vec::new();
    for (i, row) in range.rows().enumerate() {
        let cells: Vec<Cell> = row.iter().map(xlsx_cell).collect();
        if cells.iter().all(Cell::is_empty) {
            continue;
        }
        rows.push(RawRow { line: first_row + i + 1, cells });
    }
    Ok(rows)
}

fn xlsx_cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::text(s),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            let serial = dt.as_f64();
            // Outside Excel's range the conversion clamps instead of failing; refuse those.
            let date = if (0.0..2_958_466.0).contains(&serial) {
                NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
            } else {
                None
            };
            Cell::Date { date, raw: float_text(serial) }
        }
        Data::DateTime(dt) => Cell::Other(float_text(dt.as_f64())),
        Data::DateTimeIso(s) => {
            let date = s.split(['T', ' ']).next().and_then(parse_iso_date);
            Cell::Date { date, raw: s.clone() }
        }
        Data::DurationIso(s) => Cell::Other(s.clone()),
        Data::Bool(b) => Cell::Other(b.to_string()),
        Data::Error(e) => Cell::Other(e.to_string()),
    }
}

fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// `YYYY-MM-DD`.
fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(digits(y, 4, 4)?).ok()?, digits(m, 1, 2)?, digits(d, 1, 2)?)
}

/// `DD.MM.YYYY` or `YYYY-MM-DD`.
fn parse_text_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    if s.contains('-') {
        return parse_iso_date(s);
    }
    let mut parts = s.split('.');
    let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(digits(y, 4, 4)?).ok()?, digits(m, 1, 2)?, digits(d, 1, 2)?)
}

/// An Excel serial date in a cell not formatted as a date (1900 date system).
fn serial_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let dt = calamine::ExcelDateTime::new(serial, calamine::ExcelDateTimeType::DateTime, false);
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
}

/// Where each field is in the file, with the header text as the file spells it.
#[derive(Debug)]
struct Columns {
    found: Vec<(Field, usize, String)>,
}

impl Columns {
    fn from_header(file: &str, header: &RawRow) -> Result<Columns, FisImportError> {
        let mut found: Vec<(Field, usize, String)> = Vec::new();
        for (col, cell) in header.cells.iter().enumerate() {
            let Some(text) = cell.as_text() else { continue };
            let key = normalize_header(&text);
            let Some(field) = Field::ALL.into_iter().find(|f| f.headers().contains(&key.as_str())) else {
                continue;
            };
            if let Some((_, _, first)) = found.iter().find(|(f, ..)| *f == field) {
                return Err(FisImportError::DuplicateColumn {
                    file: file.to_string(),
                    field: field.code(),
                    first: first.clone(),
                    second: text,
                });
            }
            found.push((field, col, text));
        }
        if found.is_empty() {
            return Err(FisImportError::NoHeader { file: file.to_string(), line: header.line });
        }
        let missing: Vec<&'static str> = Field::ALL
            .into_iter()
            .filter(|f| f.required() && !found.iter().any(|(g, ..)| g == f))
            .map(Field::code)
            .collect();
        if !missing.is_empty() {
            return Err(FisImportError::MissingColumns { file: file.to_string(), missing });
        }
        Ok(Columns { found })
    }

    fn get(&self, field: Field) -> Option<(usize, &str)> {
        self.found.iter().find(|(f, ..)| *f == field).map(|(_, col, name)| (*col, name.as_str()))
    }

    fn has(&self, field: Field) -> bool {
        self.get(field).is_some()
    }

    /// The cell of `field` in `row`; empty when the column is absent.
    fn cell<'r>(&self, row: &'r RawRow, field: Field) -> &'r Cell {
        self.get(field).map_or(&Cell::Empty, |(col, _)| row.cell(col))
    }

    fn text(&self, row: &RawRow, field: Field) -> Option<String> {
        self.cell(row, field).as_text()
    }

    fn header(&self, field: Field) -> String {
        self.get(field).map_or_else(|| field.code().to_string(), |(_, name)| name.to_string())
    }

    fn missing(&self, field: Field) -> RowErrorKind {
        RowErrorKind::MissingField { field: field.code(), column: self.header(field) }
    }

    /// A date cell: `Ok(None)` when empty.
    fn date(&self, row: &RawRow, field: Field) -> Result<Option<NaiveDate>, RowErrorKind> {
        let cell = self.cell(row, field);
        let date = match cell {
            Cell::Empty => return Ok(None),
            Cell::Text(s) => parse_text_date(s),
            Cell::Date { date, .. } => *date,
            Cell::Float(f) => serial_date(*f),
            Cell::Int(i) => serial_date(*i as f64),
            Cell::Other(_) => None,
        };
        date.map(Some).ok_or_else(|| RowErrorKind::MalformedDate {
            field: field.code(),
            column: self.header(field),
            value: cell.as_text().unwrap_or_default(),
        })
    }

    fn registration_number(&self, row: &RawRow) -> Result<Option<String>, RowErrorKind> {
        let cell = self.cell(row, Field::RegistrationNumber);
        let Some(value) = cell.as_text() else { return Ok(None) };
        let malformed = |reason| Err(RowErrorKind::MalformedRegistrationNumber { value: value.clone(), reason });
        if matches!(cell, Cell::Other(_) | Cell::Date { .. }) {
            return malformed("the cell holds no number or text");
        }
        if value.chars().any(char::is_control) {
            return malformed("it contains control characters");
        }
        if value.chars().count() > MAX_REGISTRATION_NUMBER_LEN {
            return malformed("it is longer than 64 characters");
        }
        Ok(Some(value))
    }
}

/// Name fields of an application, as comparison keys.
fn person_key(surname: &str, name: &str, patronymic: Option<&str>) -> (String, String, String) {
    (normalize_name(surname), normalize_name(name), patronymic.map(normalize_name).unwrap_or_default())
}

fn roster_person(app: &Application) -> String {
    format!("{}, born {}", app.full_name(), app.birth_date.format("%d.%m.%Y"))
}

/// Checks every data row, pushing every problem into `problems`; returns the records (meaningful only
/// when there are no problems).
fn check_rows(roster: &Roster, columns: &Columns, rows: &[RawRow], problems: &mut Vec<RowError>) -> Vec<FisRecord> {
    let mut by_person: HashMap<((String, String, String), NaiveDate), Vec<&Application>> = HashMap::new();
    for app in &roster.applications {
        let key = person_key(&app.surname, &app.name, app.patronymic.as_deref());
        by_person.entry((key, app.birth_date)).or_default().push(app);
    }
    let mut claimed: HashMap<&str, usize> = HashMap::new();
    let mut numbers: HashMap<String, usize> = HashMap::new();
    // Applications an ambiguous row may stand for: not reported as missing on top of the ambiguity.
    let mut maybe_claimed: HashSet<&str> = HashSet::new();
    let mut records = Vec::new();

    for row in rows {
        let line = row.line;
        let mut errors: Vec<RowErrorKind> = Vec::new();
        let application_id = columns.text(row, Field::ApplicationId);
        let surname = columns.text(row, Field::Surname);
        let name = columns.text(row, Field::Name);
        let patronymic = columns.text(row, Field::Patronymic);
        let birth_date = columns.date(row, Field::BirthDate).map_err(|e| errors.push(e));

        let matched: Option<&Application> = if let Some(id) = &application_id {
            match roster.application(id) {
                None => {
                    errors.push(RowErrorKind::UnknownApplication { application_id: id.clone() });
                    None
                }
                Some(app) => {
                    let given = PersonCheck { surname: &surname, name: &name, patronymic: &patronymic };
                    let birth = birth_date.as_ref().ok().copied().flatten();
                    if let Some(e) = given.mismatch(columns.has(Field::Patronymic), birth, app) {
                        errors.push(e);
                    }
                    // The id is authoritative: even with a mismatch the row stands for this application.
                    Some(app)
                }
            }
        } else {
            let mut complete = true;
            for (field, value) in [(Field::Surname, &surname), (Field::Name, &name)] {
                if value.is_none() {
                    errors.push(columns.missing(field));
                    complete = false;
                }
            }
            if let Ok(None) = birth_date {
                errors.push(columns.missing(Field::BirthDate));
            }
            match (complete, &surname, &name, birth_date) {
                (true, Some(surname), Some(name), Ok(Some(birth))) => {
                    let key = person_key(surname, name, patronymic.as_deref());
                    let candidates = by_person.get(&(key, birth)).map_or(&[][..], Vec::as_slice);
                    let person = || FisPerson {
                        surname: surname.clone(),
                        name: name.clone(),
                        patronymic: patronymic.clone(),
                        birth_date: birth,
                    };
                    match candidates {
                        [] => {
                            errors.push(RowErrorKind::UnknownPerson { person: person() });
                            None
                        }
                        [app] => Some(*app),
                        several => {
                            maybe_claimed.extend(several.iter().map(|a| a.application_id.as_str()));
                            errors.push(RowErrorKind::AmbiguousPerson {
                                person: person(),
                                application_ids: several.iter().map(|a| a.application_id.clone()).collect(),
                            });
                            None
                        }
                    }
                }
                _ => None,
            }
        };

        let registration_number = match columns.registration_number(row) {
            Ok(Some(number)) => Some(number),
            Ok(None) => {
                errors.push(columns.missing(Field::RegistrationNumber));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let issue_date = match columns.date(row, Field::IssueDate) {
            Ok(Some(date)) => Some(date),
            Ok(None) => {
                errors.push(columns.missing(Field::IssueDate));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };

        let mut claims = false;
        if let Some(app) = matched {
            if app.outcome != Outcome::Passed {
                errors.push(RowErrorKind::NotPassed {
                    application_id: app.application_id.clone(),
                    full_name: app.full_name(),
                    outcome: app.outcome,
                });
            } else if let Some(&first_line) = claimed.get(app.application_id.as_str()) {
                errors.push(RowErrorKind::DuplicateApplication {
                    application_id: app.application_id.clone(),
                    full_name: app.full_name(),
                    first_line,
                });
            } else {
                claimed.insert(&app.application_id, line);
                claims = true;
            }
        }
        if let Some(number) = &registration_number {
            if let Some(&first_line) = numbers.get(number) {
                errors.push(RowErrorKind::DuplicateRegistrationNumber {
                    registration_number: number.clone(),
                    first_line,
                });
            } else {
                numbers.insert(number.clone(), line);
            }
        }

        match (matched, registration_number, issue_date) {
            (Some(app), Some(registration_number), Some(issue_date)) if claims && errors.is_empty() => {
                records.push(FisRecord {
                    line,
                    application_id: app.application_id.clone(),
                    registration_number,
                    issue_date,
                });
            }
            _ => problems.extend(errors.into_iter().map(|kind| RowError { line: Some(line), kind })),
        }
    }

    for app in roster.passed() {
        let id = app.application_id.as_str();
        if !claimed.contains_key(id) && !maybe_claimed.contains(id) {
            problems.push(RowError {
                line: None,
                kind: RowErrorKind::PassedApplicationMissing {
                    application_id: app.application_id.clone(),
                    full_name: app.full_name(),
                },
            });
        }
    }

    let order: HashMap<&str, usize> =
        roster.applications.iter().enumerate().map(|(i, a)| (a.application_id.as_str(), i)).collect();
    records.sort_by_key(|r| order.get(r.application_id.as_str()).copied().unwrap_or(usize::MAX));
    records
}

/// The name fields a row gives next to an application id, to cross-check against the roster.
struct PersonCheck<'a> {
    surname: &'a Option<String>,
    name: &'a Option<String>,
    patronymic: &'a Option<String>,
}

impl PersonCheck<'_> {
    /// Fields the row fills in and that differ from the application. The patronymic is compared only
    /// when the row names the person at all: then an empty patronymic means "has none".
    fn mismatch(&self, has_patronymic_column: bool, birth: Option<NaiveDate>, app: &Application) -> Option<RowErrorKind> {
        let mut differing = Vec::new();
        if self.surname.as_deref().is_some_and(|s| normalize_name(s) != normalize_name(&app.surname)) {
            differing.push("surname");
        }
        if self.name.as_deref().is_some_and(|s| normalize_name(s) != normalize_name(&app.name)) {
            differing.push("name");
        }
        let names_person = self.surname.is_some() || self.name.is_some();
        if has_patronymic_column && names_person {
            let given = self.patronymic.as_deref().map(normalize_name).unwrap_or_default();
            let known = app.patronymic.as_deref().map(normalize_name).unwrap_or_default();
            if given != known {
                differing.push("patronymic");
            }
        }
        if birth.is_some_and(|b| b != app.birth_date) {
            differing.push("birth_date");
        }
        if differing.is_empty() {
            return None;
        }
        let mut in_file: Vec<&str> =
            [self.surname, self.name, self.patronymic].into_iter().filter_map(|s| s.as_deref()).collect();
        if in_file.is_empty() {
            in_file.push("(no name)");
        }
        let mut in_file = in_file.join(" ");
        if let Some(b) = birth {
            in_file.push_str(&format!(", born {}", b.format("%d.%m.%Y")));
        }
        Some(RowErrorKind::PersonMismatch {
            application_id: app.application_id.clone(),
            in_file,
            in_roster: roster_person(app),
            differing,
        })
    }
}
