//! The FIS FRDO registration-number import (`contracts.md`, "FIS FRDO registration-number file"): reads
//! the CSV (UTF-8 or Windows-1251, `;` or `,`) or XLSX file the testing center downloads from FIS FRDO,
//! matches every row to an application of one exam and checks it. The import is all-or-nothing: either
//! every passed application gets exactly one registration number and issue date, or the caller gets every
//! problem of the file, each with its line, worded for the clerk who has to fix it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::certificate::Certificate;
use crate::roster::{Application, Outcome, Roster};

mod read;
pub use read::{FisLimits, MAX_COLUMNS};

/// One accepted row: the application it matched and the number FIS FRDO assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FisRecord {
    /// 1-based line (CSV) or row (XLSX) number in the file, header being line 1.
    pub line: usize,
    pub application_id: String,
    pub registration_number: String,
    pub issue_date: NaiveDate,
}

/// A successful import: exactly one record per passed application of the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// What a registration number may hold besides letters and digits.
const REGISTRATION_NUMBER_SEPARATORS: &str = " -/._№";

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
            RowErrorKind::DuplicateRegistrationNumber { registration_number, first_line } => {
                write!(f, "registration number \"{registration_number}\" is already given on line {first_line}")
            }
            RowErrorKind::DuplicateApplication { application_id, full_name, first_line } => {
                write!(f, "application {application_id} ({full_name}) already has a row on line {first_line}")
            }
            RowErrorKind::MissingField { field, column } => {
                write!(f, "missing {}: column \"{column}\" is empty", field.replace('_', " "))
            }
            RowErrorKind::MalformedDate { column, value, .. } => {
                write!(f, "malformed date \"{}\" in column \"{column}\": expected DD.MM.YYYY or YYYY-MM-DD", shorten(value))
            }
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
    /// The file is larger than a FIS FRDO file can be ([`FisLimits`]); `reason` names the limit.
    #[error("{file}: the file is too large: {reason}; nothing was read further")]
    OverLimit { file: String, reason: String },
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
            FisImportError::OverLimit { .. } => "fis_file_too_large",
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
            | FisImportError::OverLimit { file, .. }
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
    Date {
        date: Option<NaiveDate>,
        raw: String,
    },
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
    import_fis_with_limits(roster, file, bytes, &FisLimits::default())
}

/// [`import_fis`] within the given limits: a file over them is refused ([`FisImportError::OverLimit`])
/// as soon as that is known, before the rest of it is read.
pub fn import_fis_with_limits(roster: &Roster, file: &str, bytes: &[u8], limits: &FisLimits) -> Result<FisImport, FisImportError> {
    let rows = read::read_rows(file, bytes, limits)?;
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
        let missing: Vec<&'static str> =
            Field::ALL.into_iter().filter(|f| f.required() && !found.iter().any(|(g, ..)| g == f)).map(Field::code).collect();
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
        // A number is printed on the certificate and written into registers and spreadsheets: letters,
        // digits and a few separators, starting with a letter or digit (`=1+2` would run as a formula).
        if !value.chars().next().is_some_and(char::is_alphanumeric) {
            return malformed("it must start with a letter or a digit");
        }
        if !value.chars().all(|c| c.is_alphanumeric() || REGISTRATION_NUMBER_SEPARATORS.contains(c)) {
            return malformed("only letters, digits, spaces and - / . _ № are allowed");
        }
        Ok(Some(value))
    }
}

/// Surname, name and patronymic (empty when none) as comparison keys.
type PersonKey = (String, String, String);

fn person_key(surname: &str, name: &str, patronymic: Option<&str>) -> PersonKey {
    (normalize_name(surname), normalize_name(name), patronymic.map(normalize_name).unwrap_or_default())
}

fn roster_person(app: &Application) -> String {
    format!("{}, born {}", app.full_name(), app.birth_date.format("%d.%m.%Y"))
}

/// Checks every data row, pushing every problem into `problems`; returns the records (meaningful only
/// when there are no problems).
fn check_rows(roster: &Roster, columns: &Columns, rows: &[RawRow], problems: &mut Vec<RowError>) -> Vec<FisRecord> {
    let mut by_person: HashMap<(PersonKey, NaiveDate), Vec<&Application>> = HashMap::new();
    for app in &roster.applications {
        let key = person_key(&app.surname, &app.name, app.patronymic.as_deref());
        by_person.entry((key, app.birth_date)).or_default().push(app);
    }
    let mut claimed: HashMap<&str, usize> = HashMap::new();
    let mut numbers: HashMap<String, usize> = HashMap::new();
    // Applications a row may stand for but could not be tied to (ambiguous name, bad birth date): not
    // reported as missing on top of that row's own error.
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
            if let (Some(surname), Some(name), Err(()) | Ok(None)) = (&surname, &name, birth_date) {
                // Without a usable birth date the row still most likely stands for the applications with
                // this name: they are not reported missing on top of the bad date.
                let key = person_key(surname, name, patronymic.as_deref());
                maybe_claimed
                    .extend(by_person.iter().filter(|((k, _), _)| *k == key).flat_map(|(_, apps)| apps).map(|a| a.application_id.as_str()));
            }
            match (complete, &surname, &name, birth_date) {
                (true, Some(surname), Some(name), Ok(Some(birth))) => {
                    let key = person_key(surname, name, patronymic.as_deref());
                    let candidates = by_person.get(&(key, birth)).map_or(&[][..], Vec::as_slice);
                    let person =
                        || FisPerson { surname: surname.clone(), name: name.clone(), patronymic: patronymic.clone(), birth_date: birth };
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
                errors.push(RowErrorKind::DuplicateRegistrationNumber { registration_number: number.clone(), first_line });
            } else {
                numbers.insert(number.clone(), line);
            }
        }

        match (matched, registration_number, issue_date) {
            (Some(app), Some(registration_number), Some(issue_date)) if claims && errors.is_empty() => {
                records.push(FisRecord { line, application_id: app.application_id.clone(), registration_number, issue_date });
            }
            _ => problems.extend(errors.into_iter().map(|kind| RowError { line: Some(line), kind })),
        }
    }

    for app in roster.passed() {
        let id = app.application_id.as_str();
        if !claimed.contains_key(id) && !maybe_claimed.contains(id) {
            problems.push(RowError {
                line: None,
                kind: RowErrorKind::PassedApplicationMissing { application_id: app.application_id.clone(), full_name: app.full_name() },
            });
        }
    }

    let order: HashMap<&str, usize> = roster.applications.iter().enumerate().map(|(i, a)| (a.application_id.as_str(), i)).collect();
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
        let mut in_file: Vec<&str> = [self.surname, self.name, self.patronymic].into_iter().filter_map(|s| s.as_deref()).collect();
        if in_file.is_empty() {
            in_file.push("(no name)");
        }
        let mut in_file = in_file.join(" ");
        if let Some(b) = birth {
            in_file.push_str(&format!(", born {}", b.format("%d.%m.%Y")));
        }
        Some(RowErrorKind::PersonMismatch { application_id: app.application_id.clone(), in_file, in_roster: roster_person(app), differing })
    }
}

#[cfg(test)]
mod tests {
    use super::read::UTF8_BOM;
    use super::*;

    fn app(id: &str, surname: &str, name: &str, patronymic: Option<&str>, birth: &str, outcome: Outcome) -> Application {
        Application {
            application_id: id.to_string(),
            surname: surname.to_string(),
            name: name.to_string(),
            patronymic: patronymic.map(str::to_string),
            birth_date: birth.parse().unwrap(),
            outcome,
        }
    }

    /// Three passed applications (one without patronymic, one with ё), one no-show, one failed.
    fn roster() -> Roster {
        Roster {
            exam_id: "EX-1".to_string(),
            site: "Площадка № 2237".to_string(),
            date: "2025-12-20".parse().unwrap(),
            protocol_approved: true,
            applications: vec![
                app("A-1", "Иванова", "Мария", Some("Андреевна"), "1994-08-04", Outcome::Passed),
                app("A-2", "Ким", "Олег", None, "1990-01-02", Outcome::Passed),
                app("A-3", "Петров", "Пётр", Some("Иванович"), "1990-02-01", Outcome::NoShow),
                app("A-4", "Семёнов", "Алексей", Some("Петрович"), "1985-05-05", Outcome::Passed),
                app("A-5", "Орлова", "Анна", Some("Сергеевна"), "1999-09-09", Outcome::Failed),
            ],
        }
    }

    /// The roster plus two passed applications of namesakes born the same day.
    fn roster_with_twins() -> Roster {
        let mut r = roster();
        r.applications.push(app("A-6", "Смирнов", "Иван", Some("Иванович"), "1980-03-03", Outcome::Passed));
        r.applications.push(app("A-7", "Смирнов", "Иван", Some("Иванович"), "1980-03-03", Outcome::Passed));
        r
    }

    const HEADER: &str = "Фамилия;Имя;Отчество;Дата рождения;Регистрационный номер;Дата выдачи";
    const IVANOVA: &str = "Иванова;Мария;Андреевна;04.08.1994;77-0000001;31.12.2025";
    const KIM: &str = "Ким;Олег;;1990-01-02;77-0000002;2025-12-31";
    const SEMENOV: &str = "Семёнов;Алексей;Петрович;05.05.1985;77-0000003;31.12.2025";

    fn csv(lines: &[&str]) -> Vec<u8> {
        let mut s = lines.join("\r\n");
        s.push_str("\r\n");
        s.into_bytes()
    }

    fn cp1251(lines: &[&str]) -> Vec<u8> {
        let text = String::from_utf8(csv(lines)).unwrap();
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err(), "the test text must not be valid UTF-8");
        bytes.into_owned()
    }

    #[derive(Clone, Copy)]
    enum X<'a> {
        S(&'a str),
        N(f64),
        D(u16, u8, u8),
        B(bool),
    }

    fn xlsx(rows: &[Vec<X>]) -> Vec<u8> {
        use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        let date_format = Format::new().set_num_format("dd.mm.yyyy");
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match *cell {
                    X::S("") => continue,
                    X::S(s) => ws.write_string(r, c, s),
                    X::N(n) => ws.write_number(r, c, n),
                    X::D(y, m, d) => ws.write_datetime_with_format(r, c, ExcelDateTime::from_ymd(y, m, d).unwrap(), &date_format),
                    X::B(b) => ws.write_boolean(r, c, b),
                }
                .unwrap();
            }
        }
        wb.save_to_buffer().unwrap()
    }

    /// An XLSX whose first sheet holds the `;`-separated lines as text cells, line i on row i.
    fn xlsx_text(lines: &[&str]) -> Vec<u8> {
        let rows: Vec<Vec<X>> = lines.iter().map(|l| l.split(';').map(X::S).collect()).collect();
        xlsx(&rows)
    }

    fn import(roster: &Roster, bytes: &[u8]) -> Result<FisImport, FisImportError> {
        import_fis(roster, "fis.csv", bytes)
    }

    fn row_errors(result: Result<FisImport, FisImportError>) -> Vec<RowError> {
        match result {
            Err(FisImportError::Rows { file, rows }) => {
                assert_eq!(file, "fis.csv");
                assert!(!rows.is_empty());
                rows
            }
            other => panic!("expected row errors, got {other:?}"),
        }
    }

    /// The single error of a file that has exactly one problem.
    fn only_error(result: Result<FisImport, FisImportError>) -> RowError {
        let rows = row_errors(result);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        rows.into_iter().next().unwrap()
    }

    fn assert_happy(import: &FisImport) {
        let got: Vec<(usize, &str, &str, String)> = import
            .records
            .iter()
            .map(|r| (r.line, r.application_id.as_str(), r.registration_number.as_str(), r.issue_date.to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "A-1", "77-0000001", "2025-12-31".to_string()),
                (3, "A-2", "77-0000002", "2025-12-31".to_string()),
                (4, "A-4", "77-0000003", "2025-12-31".to_string()),
            ]
        );
    }

    // ---- happy paths -------------------------------------------------------------------------------

    #[test]
    fn a_utf8_csv_with_semicolons_imports() {
        let r = roster();
        let import = import(&r, &csv(&[HEADER, IVANOVA, KIM, SEMENOV])).unwrap();
        assert_happy(&import);
        let certs = import.certificates(&r);
        assert_eq!(certs.len(), 3);
        assert_eq!(certs[0].full_name, "Иванова Мария Андреевна");
        assert_eq!(certs[1].full_name, "Ким Олег");
        assert_eq!(certs[2].registration_number, "77-0000003");
    }

    #[test]
    fn a_utf8_csv_with_bom_and_commas_imports() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend(csv(&[
            "Фамилия,Имя,Отчество,Дата рождения,Регистрационный номер,Дата выдачи,\"Примечание; любое\"",
            "\"Иванова\",Мария,Андреевна,04.08.1994,77-0000001,31.12.2025,\"с запятой, внутри\"",
            "Ким,Олег,,1990-01-02,77-0000002,2025-12-31",
            "Семёнов,Алексей,Петрович,05.05.1985,\"77-0000003\",31.12.2025,",
        ]));
        assert_happy(&import(&roster(), &bytes).unwrap());
    }

    #[test]
    fn a_windows_1251_csv_with_semicolons_imports() {
        assert_happy(&import(&roster(), &cp1251(&[HEADER, IVANOVA, KIM, SEMENOV])).unwrap());
    }

    #[test]
    fn an_xlsx_with_text_cells_imports() {
        let bytes = xlsx_text(&[HEADER, IVANOVA, KIM, SEMENOV]);
        assert_happy(&import_fis(&roster(), "fis.xlsx", &bytes).unwrap());
    }

    #[test]
    fn an_xlsx_with_real_date_cells_and_numeric_registration_numbers_imports() {
        let h: Vec<X> = HEADER.split(';').map(X::S).collect();
        let bytes = xlsx(&[
            h,
            vec![X::S("Иванова"), X::S("Мария"), X::S("Андреевна"), X::D(1994, 8, 4), X::N(123456.0), X::D(2025, 12, 31)],
            // An unformatted serial (46022 = 2025-12-31) and a text date in a spreadsheet.
            vec![X::S("Ким"), X::S("Олег"), X::S(""), X::S("02.01.1990"), X::N(7.0), X::N(46022.0)],
            vec![X::S("Семёнов"), X::S("Алексей"), X::S("Петрович"), X::D(1985, 5, 5), X::S("77-3"), X::S("2025-12-31")],
        ]);
        let import = import_fis(&roster(), "fis.xlsx", &bytes).unwrap();
        let got: Vec<(&str, &str, String)> =
            import.records.iter().map(|r| (r.application_id.as_str(), r.registration_number.as_str(), r.issue_date.to_string())).collect();
        assert_eq!(
            got,
            vec![
                ("A-1", "123456", "2025-12-31".to_string()),
                ("A-2", "7", "2025-12-31".to_string()),
                ("A-4", "77-3", "2025-12-31".to_string()),
            ]
        );
    }

    #[test]
    fn rows_are_matched_by_application_id_when_it_is_given() {
        let import = import(
            &roster_with_twins(),
            &csv(&[
                "Номер заявки;Фамилия;Имя;Отчество;Дата рождения;Регистрационный номер;Дата выдачи",
                "A-7;Смирнов;Иван;Иванович;03.03.1980;77-7;31.12.2025",
                // Only the id: the names are not needed.
                "A-6;;;;;77-6;31.12.2025",
                // An empty id cell falls back to the name.
                ";Иванова;Мария;Андреевна;04.08.1994;77-1;31.12.2025",
                "A-2;Ким;Олег;;;77-2;31.12.2025",
                "A-4;СЕМЕНОВ;алексей;Петрович;05.05.1985;77-4;31.12.2025",
            ]),
        )
        .unwrap();
        let got: Vec<(usize, &str, &str)> =
            import.records.iter().map(|r| (r.line, r.application_id.as_str(), r.registration_number.as_str())).collect();
        assert_eq!(got, vec![(4, "A-1", "77-1"), (5, "A-2", "77-2"), (6, "A-4", "77-4"), (3, "A-6", "77-6"), (2, "A-7", "77-7")]);
    }

    #[test]
    fn names_match_ignoring_case_yo_and_extra_spaces() {
        let import = import(
            &roster(),
            &csv(&[
                HEADER,
                "  ИВАНОВА ; мАРИЯ ;андреевна;04.08.1994; 77-0000001 ;31.12.2025",
                "ким;ОЛЕГ;  ;1990-01-02;77-0000002;2025-12-31",
                "Семенов;Алексей;Петрович;05.05.1985;77-0000003;31.12.2025",
            ]),
        )
        .unwrap();
        assert_happy(&import);

        // And the other way round: ё in the file, е in the roster.
        let mut r = roster();
        r.applications[3].surname = "Семенов".to_string();
        let import =
            super::import_fis(&r, "fis.csv", &csv(&[HEADER, IVANOVA, KIM, "СЁМЕНОВ;Алексей;Петрович;05.05.1985;77-0000003;31.12.2025"]));
        assert_happy(&import.unwrap());
    }

    #[test]
    fn headers_in_mixed_case_with_extra_spaces_and_another_order_are_found() {
        let import = import(
            &roster(),
            &csv(&[
                "  Дата   ВЫДАЧИ ;Примечание;РЕЕСТРОВЫЙ  номер;Birth_Date; surname ;ИМЯ;Patronymic",
                "31.12.2025;что угодно;77-0000001;04.08.1994;Иванова;Мария;Андреевна",
                "2025-12-31;;77-0000002;1990-01-02;Ким;Олег;",
                "31.12.2025;;77-0000003;05.05.1985;Семёнов;Алексей;Петрович",
            ]),
        )
        .unwrap();
        assert_happy(&import);
    }

    #[test]
    fn blank_lines_and_multi_line_cells_keep_line_numbers_true_to_the_file() {
        let bytes = csv(&[
            "",
            "Примечание;Фамилия;Имя;Отчество;Дата рождения;Регистрационный номер;Дата выдачи",
            ";;;;;;",
            "\"две",
            "строки\";Иванова;Мария;Андреевна;04.08.1994;77-1;31.12.2025",
            "",
            ";Ким;Олег;;1990-01-02;77-2;31.12.2025",
            ";Сидоров;Сидор;;1990-01-02;77-9;31.12.2025",
            ";Семёнов;Алексей;Петрович;05.05.1985;77-3;31.12.2025",
        ]);
        let e = only_error(import(&roster(), &bytes));
        assert_eq!(e.line, Some(8));
        assert_eq!(e.kind.code(), "unknown_person");

        let ok = import(&roster(), &bytes.replace_line(8, "")).unwrap();
        let lines: Vec<usize> = ok.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![4, 7, 9]);
    }

    trait ReplaceLine {
        fn replace_line(&self, line: usize, with: &str) -> Vec<u8>;
    }
    impl ReplaceLine for Vec<u8> {
        fn replace_line(&self, line: usize, with: &str) -> Vec<u8> {
            let text = String::from_utf8(self.clone()).unwrap();
            let lines: Vec<&str> = text.split("\r\n").enumerate().map(|(i, l)| if i + 1 == line { with } else { l }).collect();
            lines.join("\r\n").into_bytes()
        }
    }

    #[test]
    fn an_exam_without_passed_applications_imports_a_header_only_file() {
        let mut r = roster();
        r.applications.retain(|a| a.outcome != Outcome::Passed);
        assert_eq!(import(&r, &csv(&[HEADER])).unwrap().records, vec![]);
    }

    // ---- row errors --------------------------------------------------------------------------------

    #[test]
    fn an_unknown_person_in_a_utf8_csv_is_reported_with_the_name_as_given() {
        let e = only_error(import(&roster(), &csv(&[HEADER, IVANOVA, KIM, SEMENOV, "Петров;Пётр;Иванович;01.02.1991;77-9;31.12.2025"])));
        assert_eq!(e.line, Some(5));
        assert!(matches!(&e.kind, RowErrorKind::UnknownPerson { person } if person.surname == "Петров"));
        assert_eq!(e.to_string(), "line 5: unknown person Петров Пётр Иванович, born 01.02.1991: no application of this exam matches");
    }

    #[test]
    fn an_unknown_person_in_an_xlsx_is_reported() {
        let bytes = xlsx_text(&[HEADER, IVANOVA, KIM, "Сидоров;Сидор;;1990-01-02;77-9;31.12.2025", SEMENOV]);
        let e = only_error(import(&roster(), &bytes));
        assert_eq!(e.line, Some(4));
        assert_eq!(e.kind.code(), "unknown_person");
        assert!(e.to_string().contains("Сидоров Сидор, born 02.01.1990"), "{e}");
    }

    #[test]
    fn a_person_with_a_patronymic_does_not_match_an_application_without_one() {
        let codes = |bytes: Vec<u8>| -> Vec<(Option<usize>, &'static str)> {
            row_errors(import(&roster(), &bytes)).iter().map(|e| (e.line, e.kind.code())).collect()
        };
        assert_eq!(
            codes(csv(&[HEADER, IVANOVA, "Ким;Олег;Иванович;1990-01-02;77-2;31.12.2025", SEMENOV])),
            vec![(Some(3), "unknown_person"), (None, "passed_application_missing")]
        );
        assert_eq!(
            codes(csv(&[HEADER, "Иванова;Мария;;04.08.1994;77-1;31.12.2025", KIM, SEMENOV])),
            vec![(Some(2), "unknown_person"), (None, "passed_application_missing")]
        );
    }

    #[test]
    fn an_ambiguous_person_in_a_windows_1251_csv_lists_the_candidates() {
        let e = only_error(import(
            &roster_with_twins(),
            &cp1251(&[HEADER, IVANOVA, KIM, SEMENOV, "Смирнов;Иван;Иванович;03.03.1980;77-6;31.12.2025"]),
        ));
        assert_eq!(e.line, Some(5));
        match &e.kind {
            RowErrorKind::AmbiguousPerson { person, application_ids } => {
                assert_eq!(person.name, "Иван");
                assert_eq!(application_ids, &["A-6", "A-7"]);
            }
            other => panic!("{other:?}"),
        }
        let msg = e.to_string();
        assert!(msg.starts_with("line 5: ambiguous person Смирнов Иван Иванович, born 03.03.1980"), "{msg}");
        assert!(msg.contains("A-6, A-7"), "{msg}");
    }

    #[test]
    fn an_ambiguous_person_in_an_xlsx_is_reported() {
        let smirnov = "Смирнов;Иван;Иванович;03.03.1980;77-6;31.12.2025";
        let rows = row_errors(import(&roster_with_twins(), &xlsx_text(&[HEADER, smirnov, IVANOVA, KIM, SEMENOV, smirnov])));
        let got: Vec<(Option<usize>, &str)> = rows.iter().map(|e| (e.line, e.kind.code())).collect();
        assert_eq!(got, vec![(Some(2), "ambiguous_person"), (Some(6), "ambiguous_person"), (Some(6), "duplicate_registration_number")]);
    }

    #[test]
    fn a_not_passed_application_in_a_windows_1251_csv_names_the_outcome() {
        let e = only_error(import(&roster(), &cp1251(&[HEADER, IVANOVA, "Петров;Пётр;Иванович;01.02.1990;77-9;31.12.2025", KIM, SEMENOV])));
        assert_eq!(e.line, Some(3));
        assert!(matches!(&e.kind, RowErrorKind::NotPassed { application_id, outcome: Outcome::NoShow, .. } if application_id == "A-3"));
        let msg = e.to_string();
        assert!(msg.contains("A-3 (Петров Пётр Иванович)") && msg.contains("no_show") && msg.contains("Не явился"), "{msg}");
    }

    #[test]
    fn a_not_passed_application_in_an_xlsx_is_reported() {
        let bytes = xlsx_text(&[HEADER, IVANOVA, KIM, SEMENOV, "Орлова;Анна;Сергеевна;1999-09-09;77-9;31.12.2025"]);
        let e = only_error(import(&roster(), &bytes));
        assert_eq!(e.line, Some(5));
        assert!(matches!(e.kind, RowErrorKind::NotPassed { outcome: Outcome::Failed, .. }));
        assert!(e.to_string().contains("\"failed\""), "{e}");
    }

    #[test]
    fn a_duplicate_registration_number_in_a_csv_names_the_first_line() {
        let e = only_error(import(&roster(), &csv(&[HEADER, IVANOVA, KIM, "Семёнов;Алексей;Петрович;05.05.1985;77-0000001;31.12.2025"])));
        assert_eq!(e.line, Some(4));
        assert_eq!(e.kind, RowErrorKind::DuplicateRegistrationNumber { registration_number: "77-0000001".to_string(), first_line: 2 });
        assert_eq!(e.to_string(), "line 4: registration number \"77-0000001\" is already given on line 2");
    }

    #[test]
    fn a_duplicate_registration_number_in_an_xlsx_is_reported() {
        let h: Vec<X> = HEADER.split(';').map(X::S).collect();
        let person = |s, n, p, b| vec![X::S(s), X::S(n), X::S(p), X::S(b), X::N(555.0), X::S("31.12.2025")];
        let bytes = xlsx(&[
            h,
            person("Иванова", "Мария", "Андреевна", "04.08.1994"),
            person("Ким", "Олег", "", "02.01.1990"),
            person("Семёнов", "Алексей", "Петрович", "05.05.1985"),
        ]);
        let rows = row_errors(import(&roster(), &bytes));
        assert_eq!(
            rows,
            vec![
                RowError {
                    line: Some(3),
                    kind: RowErrorKind::DuplicateRegistrationNumber { registration_number: "555".into(), first_line: 2 }
                },
                RowError {
                    line: Some(4),
                    kind: RowErrorKind::DuplicateRegistrationNumber { registration_number: "555".into(), first_line: 2 }
                },
            ]
        );
    }

    #[test]
    fn the_same_application_in_two_rows_is_reported_on_the_later_one() {
        let e = only_error(import(
            &roster(),
            &csv(&[HEADER, IVANOVA, KIM, SEMENOV, "иванова;мария;андреевна;04.08.1994;77-0000009;31.12.2025"]),
        ));
        assert_eq!(e.line, Some(5));
        assert_eq!(e.kind.code(), "duplicate_application");
        assert_eq!(e.to_string(), "line 5: application A-1 (Иванова Мария Андреевна) already has a row on line 2");
    }

    #[test]
    fn an_unknown_application_id_is_reported() {
        let e = only_error(import(
            &roster(),
            &csv(&[
                "application_id;surname;name;patronymic;birth_date;registration_number;issue_date",
                "A-1;;;;;77-1;31.12.2025",
                "A-2;;;;;77-2;31.12.2025",
                "A-4;;;;;77-4;31.12.2025",
                "A-99;;;;;77-99;31.12.2025",
            ]),
        ));
        assert_eq!(e.line, Some(5));
        assert_eq!(e.kind, RowErrorKind::UnknownApplication { application_id: "A-99".into() });
        assert!(e.to_string().contains("unknown application id \"A-99\""));
    }

    #[test]
    fn a_row_whose_person_contradicts_its_application_id_is_reported() {
        let rows = row_errors(import(
            &roster(),
            &csv(&[
                "Номер заявки;Фамилия;Имя;Отчество;Дата рождения;Регистрационный номер;Дата выдачи",
                "A-1;Иванова;Мария;Андреевна;05.08.1994;77-1;31.12.2025",
                "A-2;Кан;Олег;;;77-2;31.12.2025",
                "A-4;Семенов;Алексей;;05.05.1985;77-4;31.12.2025",
            ]),
        ));
        let got: Vec<(Option<usize>, Vec<&str>)> = rows
            .iter()
            .map(|e| match &e.kind {
                RowErrorKind::PersonMismatch { differing, .. } => (e.line, differing.clone()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, vec![(Some(2), vec!["birth_date"]), (Some(3), vec!["surname"]), (Some(4), vec!["patronymic"])]);
        assert_eq!(
            rows[0].to_string(),
            "line 2: application A-1 belongs to Иванова Мария Андреевна, born 04.08.1994, but the row names \
             Иванова Мария Андреевна, born 05.08.1994 (birth date differs)"
        );
    }

    #[test]
    fn a_missing_field_in_a_csv_names_the_column() {
        let e = only_error(import(&roster(), &csv(&[HEADER, IVANOVA, "Ким;Олег;;1990-01-02;  ;2025-12-31", SEMENOV])));
        assert_eq!(e.line, Some(3));
        assert_eq!(e.kind, RowErrorKind::MissingField { field: "registration_number", column: "Регистрационный номер".into() });
        assert_eq!(e.to_string(), "line 3: missing registration number: column \"Регистрационный номер\" is empty");
    }

    #[test]
    fn missing_fields_in_an_xlsx_are_all_reported() {
        let bytes = xlsx_text(&[HEADER, IVANOVA, ";Олег;;;77-2;", SEMENOV]);
        let rows = row_errors(import(&roster(), &bytes));
        let got: Vec<(Option<usize>, &str)> = rows
            .iter()
            .map(|e| match &e.kind {
                RowErrorKind::MissingField { field, .. } => (e.line, *field),
                RowErrorKind::PassedApplicationMissing { application_id, .. } => (e.line, application_id.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, vec![(Some(3), "surname"), (Some(3), "birth_date"), (Some(3), "issue_date"), (None, "A-2")]);
    }

    #[test]
    fn a_malformed_date_in_a_windows_1251_csv_names_column_and_value() {
        let e =
            only_error(import(&roster(), &cp1251(&[HEADER, IVANOVA, KIM, "Семёнов;Алексей;Петрович;05.05.1985;77-0000003;31.02.2025"])));
        assert_eq!(e.line, Some(4));
        assert_eq!(e.kind, RowErrorKind::MalformedDate { field: "issue_date", column: "Дата выдачи".into(), value: "31.02.2025".into() });
        assert_eq!(e.to_string(), "line 4: malformed date \"31.02.2025\" in column \"Дата выдачи\": expected DD.MM.YYYY or YYYY-MM-DD");
    }

    #[test]
    fn a_malformed_date_in_an_xlsx_is_reported() {
        let h: Vec<X> = HEADER.split(';').map(X::S).collect();
        let bytes = xlsx(&[
            h,
            vec![X::S("Иванова"), X::S("Мария"), X::S("Андреевна"), X::S("1994/08/04"), X::S("77-1"), X::D(2025, 12, 31)],
            vec![X::S("Ким"), X::S("Олег"), X::S(""), X::D(1990, 1, 2), X::S("77-2"), X::B(true)],
            vec![X::S("Семёнов"), X::S("Алексей"), X::S("Петрович"), X::D(1985, 5, 5), X::S("77-3"), X::N(-5.0)],
        ]);
        let rows = row_errors(import(&roster(), &bytes));
        let got: Vec<(Option<usize>, &str, &str)> = rows
            .iter()
            .map(|e| match &e.kind {
                RowErrorKind::MalformedDate { field, value, .. } => (e.line, *field, value.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, vec![(Some(2), "birth_date", "1994/08/04"), (Some(3), "issue_date", "true"), (Some(4), "issue_date", "-5")]);
    }

    #[test]
    fn malformed_registration_numbers_are_reported() {
        let long = "9".repeat(65);
        let bell = "Ким;Олег;;1990-01-02;77\u{7}2;2025-12-31".to_string();
        let too_long = format!("Семёнов;Алексей;Петрович;05.05.1985;{long};31.12.2025");
        let rows = row_errors(import(&roster(), &csv(&[HEADER, IVANOVA, &bell, &too_long])));
        assert_eq!(rows.len(), 2, "{rows:#?}");
        assert_eq!(rows[0].line, Some(3));
        assert_eq!(
            rows[0].kind,
            RowErrorKind::MalformedRegistrationNumber { value: "77\u{7}2".into(), reason: "it contains control characters" }
        );
        assert_eq!(rows[1].line, Some(4));
        assert_eq!(rows[1].kind.code(), "malformed_registration_number");
        assert!(rows[1].to_string().contains("longer than 64"), "{}", rows[1]);

        // 64 characters are fine.
        let ok = format!("Семёнов;Алексей;Петрович;05.05.1985;{};31.12.2025", &long[1..]);
        assert!(import(&roster(), &csv(&[HEADER, IVANOVA, KIM, &ok])).is_ok());
    }

    #[test]
    fn registration_numbers_that_would_run_as_formulas_or_hold_markup_are_reported() {
        for (number, reason) in [
            ("=1+2", "it must start with a letter or a digit"),
            ("@SUM(A1)", "it must start with a letter or a digit"),
            ("+77-1", "it must start with a letter or a digit"),
            ("77<script>", "only letters, digits, spaces and - / . _ № are allowed"),
            ("77;2", "only letters, digits, spaces and - / . _ № are allowed"),
        ] {
            let kim = format!("Ким;Олег;;1990-01-02;\"{number}\";2025-12-31");
            let e = only_error(import(&roster(), &csv(&[HEADER, IVANOVA, &kim, SEMENOV])));
            assert_eq!(e.kind, RowErrorKind::MalformedRegistrationNumber { value: number.into(), reason }, "{number}");
        }
        // Real numbers keep working: digits, letters (Cyrillic too) and separators.
        let kim = "Ким;Олег;;1990-01-02;РУ-77/2025.000_123 №5;2025-12-31";
        assert!(import(&roster(), &csv(&[HEADER, IVANOVA, kim, SEMENOV])).is_ok());
    }

    #[test]
    fn a_passed_application_missing_from_a_csv_is_reported_without_a_line() {
        let e = only_error(import(&roster(), &csv(&[HEADER, IVANOVA, SEMENOV])));
        assert_eq!(e.line, None);
        assert_eq!(e.kind, RowErrorKind::PassedApplicationMissing { application_id: "A-2".into(), full_name: "Ким Олег".into() });
        assert_eq!(e.to_string(), "passed application missing from the file: A-2 Ким Олег");
    }

    #[test]
    fn passed_applications_missing_from_an_xlsx_are_all_reported() {
        let rows = row_errors(import(&roster(), &xlsx_text(&[HEADER, KIM])));
        let ids: Vec<(Option<usize>, &str)> = rows
            .iter()
            .map(|e| match &e.kind {
                RowErrorKind::PassedApplicationMissing { application_id, .. } => (e.line, application_id.as_str()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, vec![(None, "A-1"), (None, "A-4")]);
    }

    #[test]
    fn a_file_with_several_bad_rows_reports_every_one_with_its_line() {
        let result = import(
            &roster(),
            &cp1251(&[
                HEADER,
                "",
                "Сидоров;Сидор;;01.01.1970;77-1;31.12.2025",
                IVANOVA,
                "Петров;Пётр;Иванович;01.02.1990;77-2;31.12.2025",
                ";;;;;;",
                "Иванова;Мария;Андреевна;04.08.1994;77-0000001;2025-13-01",
                "Ким;Олег;;02.01.1990;;31.12.2025",
            ]),
        );
        let err = result.unwrap_err();
        assert_eq!(err.code(), "bad_rows");
        let got: Vec<(Option<usize>, &str)> = err.rows().iter().map(|e| (e.line, e.kind.code())).collect();
        assert_eq!(
            got,
            vec![
                (Some(3), "unknown_person"),
                (Some(5), "not_passed"),
                (Some(7), "malformed_date"),
                (Some(7), "duplicate_application"),
                (Some(7), "duplicate_registration_number"),
                (Some(8), "missing_field"),
                (None, "passed_application_missing"),
            ]
        );
        let msg = err.to_string();
        assert!(msg.starts_with("fis.csv: nothing imported, 7 problem(s) found:\n- line 3: unknown person Сидоров"), "{msg}");
        assert!(msg.contains("A-4 Семёнов Алексей Петрович"), "{msg}");
    }

    #[test]
    fn row_errors_serialize_with_their_code() {
        let e = only_error(import(&roster(), &csv(&[HEADER, IVANOVA, SEMENOV])));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"line": null, "code": "passed_application_missing", "application_id": "A-2",
                               "full_name": "Ким Олег"})
        );
    }

    // ---- file-level errors -------------------------------------------------------------------------

    #[test]
    fn missing_columns_are_all_named_in_one_error() {
        let err = import(&roster(), &csv(&["Фамилия;Имя;Отчество;Дата выдачи", "Ким;Олег;;31.12.2025"])).unwrap_err();
        assert_eq!(err, FisImportError::MissingColumns { file: "fis.csv".into(), missing: vec!["birth_date", "registration_number"] });
        assert_eq!(
            err.to_string(),
            "fis.csv: missing columns: birth_date / дата рождения, registration_number / регистрационный номер / \
             реестровый номер"
        );
    }

    #[test]
    fn missing_columns_in_an_xlsx_are_reported() {
        let err = import_fis(&roster(), "fis.xlsx", &xlsx_text(&["Номер заявки;Регистрационный номер", "A-1;77-1"])).unwrap_err();
        assert!(matches!(&err, FisImportError::MissingColumns { missing, .. }
            if missing == &["surname", "name", "birth_date", "issue_date"]));
        assert!(err.to_string().starts_with("fis.xlsx: missing columns: surname"));
    }

    #[test]
    fn a_first_row_without_known_columns_is_not_a_header() {
        let err = import(&roster(), &csv(&["", IVANOVA, KIM])).unwrap_err();
        assert_eq!(err, FisImportError::NoHeader { file: "fis.csv".into(), line: 2 });
        assert!(err.to_string().starts_with("fis.csv: line 2 is not a header row"), "{err}");
    }

    #[test]
    fn two_columns_for_the_same_field_are_refused() {
        let err = import(&roster(), &csv(&[&format!("{HEADER};Реестровый номер"), &format!("{IVANOVA};77-1")])).unwrap_err();
        assert_eq!(err.code(), "duplicate_column");
        assert_eq!(
            err.to_string(),
            "fis.csv: columns \"Регистрационный номер\" and \"Реестровый номер\" both hold the registration number; \
             keep only one"
        );
    }

    #[test]
    fn an_empty_file_is_refused() {
        for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\r\n  \r\n", b";;;\n ; ;\n"] {
            let err = import(&roster(), bytes).unwrap_err();
            assert_eq!(err, FisImportError::Empty { file: "fis.csv".into() }, "{bytes:?}");
            assert_eq!(err.to_string(), "fis.csv: the file is empty");
        }
        let err = import_fis(&roster(), "fis.xlsx", &xlsx(&[])).unwrap_err();
        assert_eq!(err, FisImportError::Empty { file: "fis.xlsx".into() });
    }

    #[test]
    fn garbage_bytes_are_refused_as_unsupported() {
        let garbage: Vec<u8> = (0..2000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let err = import(&roster(), &garbage).unwrap_err();
        assert_eq!(err.code(), "unsupported_file");
        assert!(err.to_string().starts_with("fis.csv: unsupported file: "), "{err}");

        let err = import(&roster(), b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0").unwrap_err();
        assert!(err.to_string().contains(".xls"), "{err}");
        let err = import(&roster(), b"\xFF\xFEa\0b\0").unwrap_err();
        assert!(err.to_string().contains("UTF-16"), "{err}");
    }

    #[test]
    fn garbage_text_without_nul_bytes_is_not_a_header() {
        let garbage: Vec<u8> = (0..2000u32).map(|i| ((i.wrapping_mul(2_654_435_761) >> 13) as u8) | 0x20).collect();
        let err = import(&roster(), &garbage).unwrap_err();
        assert!(matches!(err, FisImportError::NoHeader { .. } | FisImportError::MissingColumns { .. }), "{err}");
    }

    #[test]
    fn a_broken_xlsx_is_refused_as_unreadable() {
        let mut bytes = xlsx_text(&[HEADER, IVANOVA]);
        bytes.truncate(bytes.len() / 2);
        let err = import_fis(&roster(), "fis.xlsx", &bytes).unwrap_err();
        assert_eq!(err.code(), "unreadable_file");
        assert!(err.to_string().starts_with("fis.xlsx: cannot read the file: "), "{err}");

        let err = import_fis(&roster(), "fis.xlsx", b"PK\x03\x04 definitely not a zip").unwrap_err();
        assert_eq!(err.code(), "unreadable_file");
        assert_eq!(err.file(), "fis.xlsx");
    }

    #[test]
    fn mangled_files_give_errors_never_panics() {
        let r = roster_with_twins();
        let valid_csv = csv(&[HEADER, IVANOVA, KIM, SEMENOV]);
        let valid_xlsx = xlsx_text(&[HEADER, IVANOVA, KIM, SEMENOV]);
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let mut bytes = if round % 2 == 0 { valid_csv.clone() } else { valid_xlsx.clone() };
            for _ in 0..=(next() % 8) {
                let at = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[at] = next() as u8,
                    1 => bytes.truncate(at.max(1)),
                    _ => bytes.insert(at, [b'"', b';', b'\n', b',', 0xD0][(next() % 5) as usize]),
                }
            }
            let _ = import_fis(&r, "fis", &bytes);
        }
    }

    #[test]
    fn every_row_error_kind_has_its_stable_code() {
        let person =
            FisPerson { surname: "Ким".into(), name: "Олег".into(), patronymic: None, birth_date: "1990-01-02".parse().unwrap() };
        let kinds = [
            (RowErrorKind::UnknownPerson { person: person.clone() }, "unknown_person"),
            (RowErrorKind::AmbiguousPerson { person, application_ids: vec![] }, "ambiguous_person"),
            (RowErrorKind::UnknownApplication { application_id: "x".into() }, "unknown_application"),
            (
                RowErrorKind::PersonMismatch {
                    application_id: "x".into(),
                    in_file: "a".into(),
                    in_roster: "b".into(),
                    differing: vec!["name"],
                },
                "person_mismatch",
            ),
            (RowErrorKind::NotPassed { application_id: "x".into(), full_name: "y".into(), outcome: Outcome::Failed }, "not_passed"),
            (RowErrorKind::DuplicateRegistrationNumber { registration_number: "1".into(), first_line: 2 }, "duplicate_registration_number"),
            (
                RowErrorKind::DuplicateApplication { application_id: "x".into(), full_name: "y".into(), first_line: 2 },
                "duplicate_application",
            ),
            (RowErrorKind::MissingField { field: "name", column: "Имя".into() }, "missing_field"),
            (RowErrorKind::MalformedDate { field: "issue_date", column: "d".into(), value: "v".into() }, "malformed_date"),
            (RowErrorKind::MalformedRegistrationNumber { value: "v".into(), reason: "r" }, "malformed_registration_number"),
            (RowErrorKind::PassedApplicationMissing { application_id: "x".into(), full_name: "y".into() }, "passed_application_missing"),
        ];
        for (kind, code) in kinds {
            assert_eq!(kind.code(), code);
            assert_eq!(serde_json::to_value(&kind).unwrap()["code"], code);
        }
    }

    #[test]
    fn dates_parse_only_in_the_two_text_formats() {
        let d = |s| parse_text_date(s).map(|d| d.to_string());
        assert_eq!(d("31.12.2025"), Some("2025-12-31".into()));
        assert_eq!(d("1.2.2025"), Some("2025-02-01".into()));
        assert_eq!(d("2025-12-31"), Some("2025-12-31".into()));
        for bad in ["31/12/2025", "31.12.25", "2025-12-31T00:00", "+2025-01-01", "31.12.2025.", "", "29.02.2025", "2025-1-"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }
}
