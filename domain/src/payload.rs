//! The payload of the code printed on every page certscan generates: a short, versioned, checksummed text
//! that names the document kind, the exam, the document's id, its version and the page (k of n), plus what
//! the kind needs (a certificate: the registration number; a register page: the rows it carries). The
//! grammar is documented in `docs/payload.md`: `CS2` is written, `CS1` (certificates printed before it)
//! still reads. Anything that does not parse exactly is not ours and is never trusted.

use std::fmt::Write as _;

/// Magic and grammar version; a new grammar gets a new version, old ones keep parsing.
const MAGIC_V1: &str = "CS1";
/// The grammar written since issue 14: every page says its document's id, version and page k of n.
const MAGIC_V2: &str = "CS2";
/// Document kind of an exam certificate.
const KIND_CERTIFICATE: &str = "CERT";
/// Document kind of a page of the issuance register.
const KIND_REGISTER: &str = "REG";
/// A document has at most this many pages (a register of 10,000 rows has about 800).
pub const MAX_DOCUMENT_PAGES: u32 = 9999;

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

/// What the code on a page of the issuance register says (kind `REG`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegisterPagePayload {
    pub exam_id: String,
    /// The register document's id: it names the rows of one generated version (see
    /// `register::document_id`), so a page of another document with the same version number is told apart.
    pub document_id: String,
    /// The register's version (1, 2, ...), as printed in its header.
    pub version: u32,
    /// This page, 1-based, and how many the document has.
    pub page: u32,
    pub pages: u32,
    /// The register rows (№) printed on this page, first and last, inclusive.
    pub first_row: u32,
    pub last_row: u32,
}

/// Any certscan code: what a page is, by the kind its code names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DocumentPayload {
    Certificate(CertificatePayload),
    RegisterPage(RegisterPagePayload),
}

impl DocumentPayload {
    /// Parses any certscan code (`CS1` certificates, `CS2` certificates and register pages).
    pub fn parse(text: &str) -> Result<DocumentPayload, PayloadError> {
        let parsed = Parsed::of(text)?;
        match parsed.kind {
            KIND_CERTIFICATE => parsed.certificate().map(DocumentPayload::Certificate),
            KIND_REGISTER => parsed.register_page().map(DocumentPayload::RegisterPage),
            other => Err(PayloadError::UnknownKind(other.to_string())),
        }
    }

    pub fn exam_id(&self) -> &str {
        match self {
            DocumentPayload::Certificate(c) => &c.exam_id,
            DocumentPayload::RegisterPage(r) => &r.exam_id,
        }
    }
}

/// True when the text is any certscan code (a certificate or a register page).
pub fn is_certscan_code(text: &str) -> bool {
    DocumentPayload::parse(text).is_ok()
}

impl CertificatePayload {
    /// The exact text printed on a certificate: still the first grammar (`CS1`), which says kind, exam
    /// and id and means version 1, page 1 of 1. The `CS2` form ([`CertificatePayload::encode_v2`]) is
    /// longer by six bytes, which moves the 30-mm symbol from QR version 5 to 6; with it the suite's
    /// `typical` seed 23 lost a certificate to review, so certificates stay on CS1 until recognition is
    /// measured with CS2 (both read).
    pub fn encode(&self) -> String {
        self.encode_v1()
    }

    /// The certificate in grammar `CS2`: version 1, page 1 of 1 written out.
    pub fn encode_v2(&self) -> String {
        encode(KIND_CERTIFICATE, &self.exam_id, &self.application_id, 1, (1, 1), &[&self.registration_number])
    }

    /// The same certificate in the first grammar (`CS1`); what [`CertificatePayload::encode`] prints.
    pub fn encode_v1(&self) -> String {
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

    /// Parses a decoded certificate code (`CS1` or `CS2`); every deviation from the grammar is an error,
    /// and a register page's code is [`PayloadError::UnknownKind`] here (it is no certificate).
    pub fn parse(text: &str) -> Result<CertificatePayload, PayloadError> {
        let parsed = Parsed::of(text)?;
        if parsed.kind != KIND_CERTIFICATE {
            return Err(PayloadError::UnknownKind(parsed.kind.to_string()));
        }
        parsed.certificate()
    }
}

impl RegisterPagePayload {
    /// The exact text to put into the code of one register page.
    pub fn encode(&self) -> String {
        let rows = format!("{}-{}", self.first_row, self.last_row);
        encode(KIND_REGISTER, &self.exam_id, &self.document_id, self.version, (self.page, self.pages), &[&rows])
    }

    /// Parses a register page's code; a certificate's code is [`PayloadError::UnknownKind`] here.
    pub fn parse(text: &str) -> Result<RegisterPagePayload, PayloadError> {
        let parsed = Parsed::of(text)?;
        if parsed.kind != KIND_REGISTER {
            return Err(PayloadError::UnknownKind(parsed.kind.to_string()));
        }
        parsed.register_page()
    }
}

/// `CS2|<kind>|<exam_id>|<document_id>|<version>|<k>/<n>|<fields...>|<checksum>`.
fn encode(kind: &str, exam_id: &str, document_id: &str, version: u32, (k, n): (u32, u32), fields: &[&str]) -> String {
    let mut body = String::new();
    body.push_str(MAGIC_V2);
    body.push('|');
    body.push_str(kind);
    for field in [exam_id, document_id] {
        body.push('|');
        escape_into(field, &mut body);
    }
    let _ = write!(body, "|{version}|{k}/{n}");
    for field in fields {
        body.push('|');
        escape_into(field, &mut body);
    }
    body.push('|');
    let _ = write!(body, "{:08X}", fnv1a32(body.as_bytes()));
    body
}

/// A code split into its parts once its prefix, escapes and checksum are checked.
struct Parsed<'a> {
    v2: bool,
    kind: &'a str,
    /// The fields after the kind, unescaped.
    fields: Vec<String>,
}

impl<'a> Parsed<'a> {
    fn of(text: &'a str) -> Result<Parsed<'a>, PayloadError> {
        let text = text.trim_end_matches(['\r', '\n']);
        if !text.starts_with("CS") {
            return Err(PayloadError::Foreign);
        }
        let (body, checksum) = text.rsplit_once('|').ok_or(PayloadError::Malformed("no checksum"))?;
        let parts: Vec<&str> = body.split('|').collect();
        let v2 = match parts[0] {
            MAGIC_V1 => false,
            MAGIC_V2 => true,
            _ => return Err(PayloadError::Foreign),
        };
        if parts.len() < 2 {
            return Err(PayloadError::Malformed("no document kind"));
        }
        if checksum.len() != 8 || !checksum.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
            return Err(PayloadError::Malformed("checksum is not 8 upper-case hex digits"));
        }
        let expected = u32::from_str_radix(checksum, 16).map_err(|_| PayloadError::Malformed("checksum"))?;
        // The checksum covers the body and the separator before the checksum.
        let covered = &text[..body.len() + 1];
        let kind = parts[1];
        let known = kind == KIND_CERTIFICATE || (v2 && kind == KIND_REGISTER);
        if !known {
            return Err(PayloadError::UnknownKind(kind.to_string()));
        }
        // Fields after the kind: CS1 certificate 3; CS2 (any kind) 5.
        let expected_fields = if v2 { 5 } else { 3 };
        if parts.len() - 2 != expected_fields {
            return Err(PayloadError::Malformed(if v2 {
                "a CS2 code has exactly five fields"
            } else {
                "a certificate code has exactly three fields"
            }));
        }
        if fnv1a32(covered.as_bytes()) != expected {
            return Err(PayloadError::Checksum);
        }
        let fields =
            parts[2..].iter().map(|s| unescape(s).ok_or(PayloadError::Malformed("bad %-escape"))).collect::<Result<Vec<_>, _>>()?;
        if fields.iter().any(String::is_empty) {
            return Err(PayloadError::Malformed("empty field"));
        }
        Ok(Parsed { v2, kind, fields })
    }

    /// The version and page fields of a `CS2` code: (version, k, n).
    fn version_and_page(&self) -> Result<(u32, u32, u32), PayloadError> {
        let version: u32 = number(&self.fields[2]).ok_or(PayloadError::Malformed("the version is not a number"))?;
        let (k, n) = self.fields[3].split_once('/').ok_or(PayloadError::Malformed("the page is not k/n"))?;
        let (k, n) = (number(k).ok_or(PayloadError::Malformed("page k"))?, number(n).ok_or(PayloadError::Malformed("page n"))?);
        if version == 0 || k == 0 || k > n || n > MAX_DOCUMENT_PAGES {
            return Err(PayloadError::Malformed("version or page out of range"));
        }
        Ok((version, k, n))
    }

    fn certificate(self) -> Result<CertificatePayload, PayloadError> {
        let (exam_id, application_id, registration_number) = if self.v2 {
            if self.fields.len() != 5 {
                return Err(PayloadError::Malformed("a certificate code has exactly five fields"));
            }
            let (_, k, n) = self.version_and_page()?;
            if (k, n) != (1, 1) {
                return Err(PayloadError::Malformed("a certificate has one page"));
            }
            (&self.fields[0], &self.fields[1], &self.fields[4])
        } else {
            if self.fields.len() != 3 {
                return Err(PayloadError::Malformed("a certificate code has exactly three fields"));
            }
            (&self.fields[0], &self.fields[1], &self.fields[2])
        };
        Ok(CertificatePayload {
            exam_id: exam_id.clone(),
            application_id: application_id.clone(),
            registration_number: registration_number.clone(),
        })
    }

    fn register_page(self) -> Result<RegisterPagePayload, PayloadError> {
        if self.fields.len() != 5 {
            return Err(PayloadError::Malformed("a register page's code has exactly five fields"));
        }
        let (version, page, pages) = self.version_and_page()?;
        let (first, last) = self.fields[4].split_once('-').ok_or(PayloadError::Malformed("the rows are not first-last"))?;
        let (first_row, last_row) =
            (number(first).ok_or(PayloadError::Malformed("first row"))?, number(last).ok_or(PayloadError::Malformed("last row"))?);
        if first_row == 0 || first_row > last_row {
            return Err(PayloadError::Malformed("rows out of range"));
        }
        Ok(RegisterPagePayload {
            exam_id: self.fields[0].clone(),
            document_id: self.fields[1].clone(),
            version,
            page,
            pages,
            first_row,
            last_row,
        })
    }
}

/// A plain decimal number (digits only, no sign, no leading zero but "0" itself, at most 9 digits).
fn number(s: &str) -> Option<u32> {
    let plain = !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    plain.then(|| s.parse().ok()).flatten()
}

/// The checksum of some text, as the codes use it (8 upper-case hex digits of 32-bit FNV-1a); also names
/// a register document by its rows.
pub fn checksum_hex(text: &str) -> String {
    format!("{:08X}", fnv1a32(text.as_bytes()))
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
        let text = p.encode_v2();
        assert!(text.starts_with("CS2|CERT|EX-2025-000417|A-000123|1|1/1|77-2025-000123|"), "{text}");
        assert!(p.encode().starts_with("CS1|CERT|"), "certificates still print CS1");
        assert_eq!(CertificatePayload::parse(&text).unwrap(), p);
        assert_eq!(DocumentPayload::parse(&text).unwrap(), DocumentPayload::Certificate(p));
    }

    #[test]
    fn a_certificate_printed_with_the_first_grammar_still_reads() {
        let p = sample();
        let v1 = p.encode_v1();
        assert!(v1.starts_with("CS1|CERT|EX-2025-000417|A-000123|77-2025-000123|"), "{v1}");
        assert_eq!(CertificatePayload::parse(&v1).unwrap(), p);
        // A hand-checked CS1 code from before issue 14 (its checksum computed then).
        let old = format!("CS1|CERT|EX-1|A-1|77-1|{}", checksum_hex("CS1|CERT|EX-1|A-1|77-1|"));
        assert_eq!(CertificatePayload::parse(&old).unwrap().application_id, "A-1");
    }

    fn register_page() -> RegisterPagePayload {
        RegisterPagePayload {
            exam_id: "EX-2025-000417".into(),
            document_id: "R3F9A0C21".into(),
            version: 2,
            page: 2,
            pages: 3,
            first_row: 14,
            last_row: 26,
        }
    }

    #[test]
    fn a_register_page_says_its_document_version_page_and_rows() {
        let p = register_page();
        let text = p.encode();
        assert!(text.starts_with("CS2|REG|EX-2025-000417|R3F9A0C21|2|2/3|14-26|"), "{text}");
        assert_eq!(RegisterPagePayload::parse(&text).unwrap(), p);
        assert_eq!(DocumentPayload::parse(&text).unwrap(), DocumentPayload::RegisterPage(p));
        assert!(
            matches!(CertificatePayload::parse(&text), Err(PayloadError::UnknownKind(k)) if k == "REG"),
            "a register page is no certificate"
        );
        assert!(is_certscan_code(&text));
    }

    #[test]
    fn a_register_page_out_of_range_is_refused() {
        for bad in [
            RegisterPagePayload { page: 4, ..register_page() },
            RegisterPagePayload { page: 0, ..register_page() },
            RegisterPagePayload { version: 0, ..register_page() },
            RegisterPagePayload { first_row: 27, ..register_page() },
        ] {
            assert!(matches!(RegisterPagePayload::parse(&bad.encode()), Err(PayloadError::Malformed(_))), "{bad:?}");
        }
        let text = register_page().encode().replace("|2|2/3|", "|02|2/3|");
        assert!(RegisterPagePayload::parse(&text).is_err());
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
        assert!(matches!(DocumentPayload::parse("CS2|MENU|a|b|1|1/1|00000000"), Err(PayloadError::UnknownKind(_))));
        assert!(matches!(CertificatePayload::parse("CS1|CERT|a|b|00000000"), Err(PayloadError::Malformed(_))));
        assert!(matches!(CertificatePayload::parse("CS1|CERT|a|b|c|xyz"), Err(PayloadError::Malformed(_))));
    }
}
