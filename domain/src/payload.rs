//! The payload of the code printed on every certificate: a short, versioned, checksummed text that names
//! the document kind, the exam, the application and the registration number. The grammar is documented in
//! `docs/payload.md`; anything that does not parse exactly is not ours and is never trusted.

use std::fmt::Write as _;

/// Magic and grammar version; a new grammar gets a new version, old ones keep parsing.
const MAGIC_V1: &str = "CS1";
/// Document kind of an exam certificate.
const KIND_CERTIFICATE: &str = "CERT";

/// What the code on a certificate page says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificatePayload {
    pub exam_id: String,
    pub application_id: String,
    pub registration_number: String,
}

/// Why a decoded code is not a certscan certificate payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    #[error("not a certscan code (no CS1 prefix)")]
    Foreign,
    #[error("unsupported document kind {0:?}")]
    UnknownKind(String),
    #[error("malformed certscan code: {0}")]
    Malformed(&'static str),
    #[error("checksum mismatch: the code is damaged or forged")]
    Checksum,
}

impl CertificatePayload {
    /// The exact text to put into the code.
    pub fn encode(&self) -> String {
        let mut body = String::new();
        body.push_str(MAGIC_V1);
        body.push('|');
        body.push_str(KIND_CERTIFICATE);
        for field in [&self.exam_id, &self.application_id, &self.registration_number] {
            body.push('|');
            escape_into(field, &mut body);
        }
        body.push('|');
        let _ = write!(body, "{:08X}", fnv1a32(body.as_bytes()));
        body
    }

    /// Parses a decoded code; every deviation from the grammar is an error.
    pub fn parse(text: &str) -> Result<CertificatePayload, PayloadError> {
        let text = text.trim_end_matches(['\r', '\n']);
        if !text.starts_with("CS") {
            return Err(PayloadError::Foreign);
        }
        let (body, checksum) = text.rsplit_once('|').ok_or(PayloadError::Malformed("no checksum"))?;
        let parts: Vec<&str> = body.split('|').collect();
        if parts[0] != MAGIC_V1 {
            return Err(PayloadError::Foreign);
        }
        if parts.len() < 2 {
            return Err(PayloadError::Malformed("no document kind"));
        }
        if parts[1] != KIND_CERTIFICATE {
            return Err(PayloadError::UnknownKind(parts[1].to_string()));
        }
        if parts.len() != 5 {
            return Err(PayloadError::Malformed("a certificate code has exactly three fields"));
        }
        if checksum.len() != 8 || !checksum.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
            return Err(PayloadError::Malformed("checksum is not 8 upper-case hex digits"));
        }
        let expected = u32::from_str_radix(checksum, 16).map_err(|_| PayloadError::Malformed("checksum"))?;
        // The checksum covers the body and the separator before the checksum.
        let covered = &text[..body.len() + 1];
        if fnv1a32(covered.as_bytes()) != expected {
            return Err(PayloadError::Checksum);
        }
        let field = |s: &str| unescape(s).ok_or(PayloadError::Malformed("bad %-escape"));
        let payload =
            CertificatePayload { exam_id: field(parts[2])?, application_id: field(parts[3])?, registration_number: field(parts[4])? };
        if payload.exam_id.is_empty() || payload.application_id.is_empty() || payload.registration_number.is_empty() {
            return Err(PayloadError::Malformed("empty field"));
        }
        Ok(payload)
    }
}

/// Escapes `%`, `|` and every byte outside printable ASCII as `%XX`, so any registration number survives.
fn escape_into(field: &str, out: &mut String) {
    for b in field.bytes() {
        if b == b'%' || b == b'|' || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(b as char);
        }
    }
}

fn unescape(field: &str) -> Option<String> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = field.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// 32-bit FNV-1a: tiny, dependency-free, and enough to reject damaged or hand-made codes.
fn fnv1a32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CertificatePayload {
        CertificatePayload {
            exam_id: "EX-2025-000417".into(),
            application_id: "A-000123".into(),
            registration_number: "77-2025-000123".into(),
        }
    }

    #[test]
    fn a_payload_survives_encode_and_parse() {
        let p = sample();
        let text = p.encode();
        assert!(text.starts_with("CS1|CERT|EX-2025-000417|A-000123|77-2025-000123|"), "{text}");
        assert_eq!(CertificatePayload::parse(&text).unwrap(), p);
    }

    #[test]
    fn a_registration_number_with_separators_and_cyrillic_round_trips() {
        let p = CertificatePayload { registration_number: "№ 12|34 %ок".into(), ..sample() };
        let text = p.encode();
        assert!(text.is_ascii());
        assert_eq!(CertificatePayload::parse(&text).unwrap(), p);
    }

    #[test]
    fn a_changed_character_is_caught_by_the_checksum() {
        let text = sample().encode().replace("A-000123", "A-000128");
        assert_eq!(CertificatePayload::parse(&text), Err(PayloadError::Checksum));
    }

    #[test]
    fn foreign_and_malformed_codes_are_refused() {
        assert_eq!(CertificatePayload::parse("https://example.org"), Err(PayloadError::Foreign));
        assert_eq!(CertificatePayload::parse("CS9|CERT|a|b|c|00000000"), Err(PayloadError::Foreign));
        assert!(matches!(CertificatePayload::parse("CS1|REG|a|b|c|00000000"), Err(PayloadError::UnknownKind(_))));
        assert!(matches!(CertificatePayload::parse("CS1|CERT|a|b|00000000"), Err(PayloadError::Malformed(_))));
        assert!(matches!(CertificatePayload::parse("CS1|CERT|a|b|c|xyz"), Err(PayloadError::Malformed(_))));
    }
}
