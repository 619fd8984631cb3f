//! The processing report (`report.json`, and later the API's job result) in the shape `contracts.md`
//! fixes, with extra fields a reviewer or operator needs (why, how the page was straightened).

use serde::{Deserialize, Serialize};

use certscan_domain::register_scan::RowSignature;
use certscan_domain::RegisterPagePayload;

use crate::matching::Decision;
use crate::page::{PageReading, Straightening};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub exam_id: String,
    pub pages: Vec<PageReport>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PageReport {
    /// 1-based, file order.
    pub page: usize,
    /// `attached`, `review`, `ignored`, `duplicate`, or `register` (a page of the issuance register).
    pub outcome: String,
    pub application_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blank_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// Why the blank number was taken: `readers` (Tesseract and the glyph reader read it alike), or
    /// `stack` when the readers could not read it through a mark and it is the one unread number of the
    /// stack's run that the stack's own print fits (see `crate::blank_number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blank_number_read_by: Option<String>,
    /// What each reader read on the page, whatever the outcome (`?` for a character the glyph reader is
    /// not sure of; null when a reader read nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blank_number_readings: Option<Readings>,
    /// Where the application came from when not from the page's code: `printed_text` (the code could
    /// not be read; the registration-number line and the application line named one application).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_from: Option<String>,
    /// Stable snake_case code for review pages, else null.
    pub reason: Option<String>,
    /// One sentence for the reviewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a duplicate: the page that was attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<usize>,
    /// The page's own file, relative to the output folder.
    pub file: Option<String>,
    /// How the page was found: quarter turn (clockwise, as scanned), skew and its source.
    pub orientation_deg: u32,
    pub skew_deg: f32,
    pub straightened_from: String,
    /// A page of the issuance register (outcome `register`): which register, version, page and rows,
    /// and each row's signature check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<RegisterPageReport>,
}

/// What a register page's code said and what its signature cells hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisterPageReport {
    pub exam_id: String,
    pub document_id: String,
    pub version: u32,
    pub page: u32,
    pub pages: u32,
    pub first_row: u32,
    pub last_row: u32,
    pub signatures: Vec<RowSignature>,
}

impl RegisterPageReport {
    pub fn payload(&self) -> RegisterPagePayload {
        RegisterPagePayload {
            exam_id: self.exam_id.clone(),
            document_id: self.document_id.clone(),
            version: self.version,
            page: self.page,
            pages: self.pages,
            first_row: self.first_row,
            last_row: self.last_row,
        }
    }
}

/// What each blank-number reader read on one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Readings {
    pub tesseract: Option<String>,
    /// Tesseract's confidence (its variants' agreement included).
    pub tesseract_confidence: Option<f32>,
    pub glyphs: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    pub pages: usize,
    pub attached: usize,
    pub review: usize,
    pub ignored: usize,
    pub duplicate: usize,
    /// Pages of the issuance register, routed to it.
    #[serde(default)]
    pub register: usize,
    pub seconds: f64,
}

impl PageReport {
    pub fn new(reading: &PageReading, decision: &Decision, file: Option<String>) -> PageReport {
        let straightened_from = match reading.straightening {
            Straightening::FromCode => "code",
            Straightening::FromPage { confirmed: true } => "page_confirmed",
            Straightening::FromPage { confirmed: false } => "page",
            Straightening::None => "none",
        }
        .to_string();
        let mut report = PageReport {
            page: reading.page,
            outcome: String::new(),
            application_id: None,
            registration_number: None,
            issue_date: None,
            blank_number: None,
            confidence: None,
            blank_number_read_by: None,
            blank_number_readings: None,
            identity_from: None,
            reason: None,
            detail: None,
            duplicate_of: None,
            file,
            orientation_deg: reading.orientation_deg,
            skew_deg: (reading.skew_deg * 100.0).round() / 100.0,
            straightened_from,
            register: None,
        };
        // A register page routes itself by its code (matching sees a code of another kind and is overruled).
        if let Some(r) = &reading.register {
            let p = &r.payload;
            report.outcome = "register".into();
            report.detail =
                Some(format!("page {} of {} of the issuance register of exam {}, version {}", p.page, p.pages, p.exam_id, p.version));
            report.register = Some(RegisterPageReport {
                exam_id: p.exam_id.clone(),
                document_id: p.document_id.clone(),
                version: p.version,
                page: p.page,
                pages: p.pages,
                first_row: p.first_row,
                last_row: p.last_row,
                signatures: r
                    .cells
                    .iter()
                    .map(|c| RowSignature {
                        row: c.row,
                        verdict: c.verdict,
                        ink: (c.ink.fraction * 10_000.0).round() / 10_000.0,
                        page: reading.page,
                        crop_key: None,
                    })
                    .collect(),
            });
            return report;
        }
        match decision {
            Decision::Attached { application_id, registration_number, issue_date, blank_number, confidence } => {
                report.outcome = "attached".into();
                report.application_id = Some(application_id.clone());
                report.registration_number = Some(registration_number.clone());
                report.issue_date = Some(issue_date.format("%Y-%m-%d").to_string());
                report.blank_number = Some(blank_number.clone());
                report.confidence = Some((confidence * 100.0).round() / 100.0);
            }
            Decision::Review { reason, application_id, detail } => {
                report.outcome = "review".into();
                report.application_id = application_id.clone();
                report.reason = Some(reason.code().into());
                report.detail = Some(detail.clone());
                report.blank_number = reading.blank_number.as_ref().map(|b| b.text.clone());
            }
            Decision::Ignored => report.outcome = "ignored".into(),
            Decision::Duplicate { application_id, of_page, blank_number } => {
                report.outcome = "duplicate".into();
                report.application_id = Some(application_id.clone());
                report.blank_number = Some(blank_number.clone());
                report.duplicate_of = Some(*of_page);
            }
        }
        if reading.code.is_none() && matches!(decision, Decision::Attached { .. } | Decision::Duplicate { .. }) {
            report.identity_from = Some("printed_text".into());
        }
        if let Some(read) = reading.blank_number.as_ref() {
            if report.blank_number.as_deref() == Some(read.text.as_str()) && report.outcome != "review" {
                report.blank_number_read_by = read.evidence().map(|e| e.code().to_string());
            }
            report.blank_number_readings = Some(Readings {
                tesseract: read.tesseract.clone(),
                tesseract_confidence: read
                    .tesseract
                    .as_ref()
                    .filter(|_| !read.from_stack)
                    .map(|_| (read.confidence * 100.0).round() / 100.0),
                glyphs: read.glyphs.clone(),
            });
        }
        report
    }
}

impl Summary {
    pub fn of(pages: &[PageReport], seconds: f64) -> Summary {
        let count = |o: &str| pages.iter().filter(|p| p.outcome == o).count();
        Summary {
            pages: pages.len(),
            attached: count("attached"),
            review: count("review"),
            ignored: count("ignored"),
            duplicate: count("duplicate"),
            register: count("register"),
            seconds: (seconds * 100.0).round() / 100.0,
        }
    }
}
