//! One printable certificate: everything a generated page shows, built from a roster application and its
//! imported FIS FRDO record.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::payload::CertificatePayload;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub exam_id: String,
    pub site: String,
    pub exam_date: NaiveDate,
    pub application_id: String,
    /// "Фамилия Имя Отчество".
    pub full_name: String,
    pub registration_number: String,
    pub issue_date: NaiveDate,
}

impl Certificate {
    /// The payload of the code printed on this certificate.
    pub fn payload(&self) -> CertificatePayload {
        CertificatePayload {
            exam_id: self.exam_id.clone(),
            application_id: self.application_id.clone(),
            registration_number: self.registration_number.clone(),
        }
    }
}
