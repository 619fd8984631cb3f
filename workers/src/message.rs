//! The job message: what the API (or the portal itself) publishes to have one uploaded scan file
//! processed. Versioned and documented by `docs/job-message.schema.json`; a worker rejects a message it
//! cannot parse or whose `schema_version` it does not know (dead-letter, with the reason logged).

use serde::{Deserialize, Serialize};

/// The one version this build reads and writes.
pub const JOB_MESSAGE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    /// Always [`JOB_MESSAGE_VERSION`] for this build.
    pub schema_version: u32,
    /// The job's id (letters, digits, `-`, `_`; at most 64). A redelivered message carries the same id,
    /// and results are keyed by it, so processing it twice stores nothing twice.
    pub job_id: String,
    /// The exam the scan belongs to; its roster and FIS FRDO import must already be stored.
    pub exam_id: String,
    /// Where the uploaded file is in the object store (a key the uploader generated, never user input).
    pub object_key: String,
    /// The name the file was uploaded under, for messages and logs only.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Point upload (точечная загрузка): the application this scan was uploaded onto. `None` for a stack.
    #[serde(default)]
    pub application_id: Option<String>,
    /// Who uploaded it (token name), for the audit trail.
    #[serde(default)]
    pub submitted_by: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    #[error("job message is not valid JSON of the expected shape: {0}")]
    Malformed(String),
    #[error("job message has schema_version {0}; this worker reads version {JOB_MESSAGE_VERSION}")]
    UnknownVersion(u32),
    #[error("job message field {field} is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl JobMessage {
    pub fn new(job_id: &str, exam_id: &str, object_key: &str) -> JobMessage {
        JobMessage {
            schema_version: JOB_MESSAGE_VERSION,
            job_id: job_id.to_string(),
            exam_id: exam_id.to_string(),
            object_key: object_key.to_string(),
            file_name: None,
            application_id: None,
            submitted_by: None,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a job message always serialises")
    }

    /// Parses and validates a delivery's body.
    pub fn from_json(bytes: &[u8]) -> Result<JobMessage, MessageError> {
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let version: Version = serde_json::from_slice(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
        if version.schema_version != JOB_MESSAGE_VERSION {
            return Err(MessageError::UnknownVersion(version.schema_version));
        }
        let message: JobMessage = serde_json::from_slice(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
        for (field, value) in
            [("job_id", Some(&message.job_id)), ("exam_id", Some(&message.exam_id)), ("application_id", message.application_id.as_ref())]
        {
            if let Some(value) = value {
                if !certscan_domain::is_valid_id(value) {
                    return Err(MessageError::Invalid {
                        field,
                        reason: format!("{value:?} is not an id (letters, digits, - and _, at most 64)"),
                    });
                }
            }
        }
        if message.object_key.is_empty() || message.object_key.contains("..") || message.object_key.starts_with('/') {
            return Err(MessageError::Invalid { field: "object_key", reason: format!("{:?} is not a storage key", message.object_key) });
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_a_round_trip() {
        let mut m = JobMessage::new("J-1", "EX-1", "scans/J-1");
        m.application_id = Some("A-1".into());
        assert_eq!(JobMessage::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn an_unknown_version_is_refused_by_name() {
        let err = JobMessage::from_json(br#"{"schema_version": 7, "job_id": "x"}"#).unwrap_err();
        assert!(matches!(err, MessageError::UnknownVersion(7)), "{err}");
    }

    #[test]
    fn a_path_escaping_key_is_refused() {
        let m = JobMessage::new("J-1", "EX-1", "../etc/passwd");
        assert!(matches!(JobMessage::from_json(&m.to_json()), Err(MessageError::Invalid { field: "object_key", .. })));
    }

    #[test]
    fn the_schema_file_names_every_field() {
        let schema: serde_json::Value = serde_json::from_str(include_str!("../../docs/job-message.schema.json")).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for field in ["schema_version", "job_id", "exam_id", "object_key", "file_name", "application_id", "submitted_by"] {
            assert!(props.contains_key(field), "schema lacks {field}");
        }
        assert_eq!(schema["properties"]["schema_version"]["const"], JOB_MESSAGE_VERSION);
    }
}
