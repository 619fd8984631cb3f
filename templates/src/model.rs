//! The template schema: a blank design (what the print house pre-printed, what must stay clear), what
//! certscan prints on it, and where a reader finds the blank number and the code on a scan. Parsing
//! checks everything a renderer or a reader relies on and names the file and the field when it refuses.

use serde::{Deserialize, Serialize};

/// The only schema this build reads; a file with another version is refused, not guessed at.
pub const SCHEMA_VERSION: u32 = 1;

/// Placeholders a field's text may use.
pub const PLACEHOLDERS: &[&str] = &["full_name", "site", "exam_id", "exam_date", "application_id", "registration_number", "issue_date"];

/// An axis-aligned rectangle in millimetres from the sheet's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn right(&self) -> f32 {
        self.x + self.w
    }
    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }
    pub fn intersects(&self, o: &Rect) -> bool {
        self.x < o.right() && o.x < self.right() && self.y < o.bottom() && o.y < self.bottom()
    }
    pub fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x && o.y >= self.y && o.right() <= self.right() && o.bottom() <= self.bottom()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FontKind {
    Regular,
    Bold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSize {
    pub width_mm: f32,
    pub height_mm: f32,
}

/// A named zone of the blank that certscan must never print over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepClear {
    pub name: String,
    pub rect: Rect,
}

/// What the print house pre-printed on the blank; the simulator draws it, the renderer avoids it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlankDesign {
    pub frame_margin_mm: f32,
    pub frame_width_mm: f32,
    pub title: String,
    pub title_baseline_mm: f32,
    pub title_size_pt: f32,
    pub signature_label: String,
    /// The line people sign on (h = 0).
    pub signature_line: Rect,
    pub seal_label: String,
    pub seal_center: Point,
    pub seal_max_diameter_mm: f32,
    pub keep_clear: Vec<KeepClear>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Printable {
    pub rect: Rect,
}

/// Where the pre-printed blank number is, and what it looks like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlankNumberZone {
    pub rect: Rect,
    /// A regular expression the whole number must match (e.g. `^[0-9]{2} [0-9]{7}$`).
    pub pattern: String,
    /// Characters an OCR engine may return for it.
    pub charset: String,
    /// A valid example, checked against `pattern` when the template is read.
    pub example: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneOnly {
    pub rect: Rect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recognition {
    pub blank_number: BlankNumberZone,
    /// Where the printed registration number line is: the OCR fallback when the code is unreadable.
    pub registration_number: ZoneOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EcLevel {
    Q,
    H,
}

/// The QR code: top-left of the symbol and its side; the quiet zone lies around the symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSpec {
    pub x_mm: f32,
    pub y_mm: f32,
    pub size_mm: f32,
    pub quiet_zone_modules: u32,
    /// Q or H: the code must survive stamps and signatures over it.
    pub error_correction: EcLevel,
}

impl CodeSpec {
    pub fn symbol_rect(&self) -> Rect {
        Rect { x: self.x_mm, y: self.y_mm, w: self.size_mm, h: self.size_mm }
    }
    /// The symbol with its quiet zone for a symbol of `modules` modules across.
    pub fn with_quiet_zone(&self, modules: usize) -> Rect {
        let q = self.size_mm / modules as f32 * self.quiet_zone_modules as f32;
        Rect { x: self.x_mm - q, y: self.y_mm - q, w: self.size_mm + 2.0 * q, h: self.size_mm + 2.0 * q }
    }
}

/// One line of text certscan prints; `{placeholder}`s are filled from the certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub text: String,
    pub x_mm: f32,
    /// Baseline.
    pub y_mm: f32,
    pub align: Align,
    pub font: FontKind,
    pub size_pt: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub schema_version: u32,
    pub id: String,
    pub title: String,
    pub page: PageSize,
    pub blank: BlankDesign,
    pub printable: Printable,
    pub recognition: Recognition,
    pub code: CodeSpec,
    pub fields: Vec<Field>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    #[error("{file}: not a valid template: {reason}")]
    Syntax { file: String, reason: String },
    #[error("{file}: schema_version {found} is not supported (this build reads {SCHEMA_VERSION})")]
    SchemaVersion { file: String, found: u32 },
    #[error("{file}: {field}: {reason}")]
    Invalid { file: String, field: String, reason: String },
}

impl Template {
    pub fn from_toml(file: &str, text: &str) -> Result<Template, TemplateError> {
        // Read the version first so an old or future file gets the right message, not a field error.
        #[derive(Deserialize)]
        struct Version {
            schema_version: Option<u32>,
        }
        let syntax = |e: toml::de::Error| TemplateError::Syntax { file: file.into(), reason: e.to_string() };
        let version: Version = toml::from_str(text).map_err(syntax)?;
        match version.schema_version {
            Some(SCHEMA_VERSION) => {}
            Some(found) => return Err(TemplateError::SchemaVersion { file: file.into(), found }),
            None => return Err(TemplateError::Invalid { file: file.into(), field: "schema_version".into(), reason: "missing".into() }),
        }
        let template: Template = toml::from_str(text).map_err(syntax)?;
        template.validate(file)?;
        Ok(template)
    }

    pub fn page_rect(&self) -> Rect {
        Rect { x: 0.0, y: 0.0, w: self.page.width_mm, h: self.page.height_mm }
    }

    /// The keep-clear zone a rectangle would print over, if any.
    pub fn keep_clear_hit(&self, r: &Rect) -> Option<&KeepClear> {
        self.blank.keep_clear.iter().find(|k| k.rect.intersects(r))
    }

    fn validate(&self, file: &str) -> Result<(), TemplateError> {
        let bad = |field: String, reason: String| TemplateError::Invalid { file: file.into(), field, reason };
        if !(self.page.width_mm > 0.0 && self.page.height_mm > 0.0) {
            return Err(bad("page".into(), "width and height must be positive".into()));
        }
        let page = self.page_rect();
        let positive = |r: &Rect| r.w > 0.0 && r.h > 0.0;
        for (i, k) in self.blank.keep_clear.iter().enumerate() {
            if !positive(&k.rect) || !page.contains(&k.rect) {
                return Err(bad(format!("blank.keep_clear[{i}] ({})", k.name), "must be a non-empty rectangle on the page".into()));
            }
        }
        if !positive(&self.printable.rect) || !page.contains(&self.printable.rect) {
            return Err(bad("printable.rect".into(), "must be a non-empty rectangle on the page".into()));
        }
        let bn = &self.recognition.blank_number;
        if !positive(&bn.rect) || !page.contains(&bn.rect) {
            return Err(bad("recognition.blank_number.rect".into(), "must be a non-empty rectangle on the page".into()));
        }
        let pattern = regex::Regex::new(&bn.pattern)
            .map_err(|e| bad("recognition.blank_number.pattern".into(), format!("not a valid regular expression: {e}")))?;
        if !pattern.is_match(&bn.example) {
            return Err(bad("recognition.blank_number.example".into(), format!("{:?} does not match the pattern", bn.example)));
        }
        if let Some(c) = bn.example.chars().find(|c| !bn.charset.contains(*c)) {
            return Err(bad("recognition.blank_number.charset".into(), format!("lacks {c:?}, used by the example")));
        }
        let code = self.code.symbol_rect();
        if self.code.size_mm < 20.0 {
            return Err(bad("code.size_mm".into(), "a code smaller than 20 mm does not survive scanning".into()));
        }
        if self.code.quiet_zone_modules < 4 {
            return Err(bad("code.quiet_zone_modules".into(), "QR needs a quiet zone of at least 4 modules".into()));
        }
        if !self.printable.rect.contains(&code) {
            return Err(bad("code".into(), "the code must lie inside printable.rect".into()));
        }
        if let Some(k) = self.keep_clear_hit(&code) {
            return Err(bad("code".into(), format!("the code overlaps the pre-printed zone {:?}", k.name)));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if !(f.size_pt >= 4.0 && f.size_pt <= 72.0) {
                return Err(bad(format!("fields[{i}].size_pt"), "must be between 4 and 72".into()));
            }
            check_placeholders(&f.text).map_err(|reason| bad(format!("fields[{i}].text"), reason))?;
        }
        Ok(())
    }
}

/// Every `{name}` must be a known placeholder and braces must pair.
fn check_placeholders(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| "unclosed '{'".to_string())?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!("unknown placeholder {{{name}}}; known: {}", PLACEHOLDERS.join(", ")));
        }
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err("'}' without '{'".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::REFERENCE_TEMPLATE_TOML as REF;

    fn parse(text: &str) -> Result<Template, TemplateError> {
        Template::from_toml("t.toml", text)
    }

    #[test]
    fn the_reference_template_is_valid() {
        let t = parse(REF).unwrap();
        assert_eq!(t.id, "reference-a4");
        assert_eq!(t.recognition.blank_number.rect, Rect { x: 125.0, y: 12.0, w: 70.0, h: 14.0 });
        assert!(t.fields.iter().any(|f| f.text.contains("{registration_number}")));
    }

    #[test]
    fn a_future_schema_version_is_refused_by_name() {
        let err = parse(&REF.replace("schema_version = 1", "schema_version = 2")).unwrap_err();
        assert!(matches!(err, TemplateError::SchemaVersion { found: 2, .. }), "{err}");
    }

    #[test]
    fn a_missing_schema_version_is_refused() {
        let err = parse(&REF.replace("schema_version = 1", "")).unwrap_err();
        assert!(err.to_string().contains("schema_version: missing"), "{err}");
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let err = parse(&REF.replace("[page]", "[page")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("t.toml: not a valid template"), "{msg}");
        assert!(msg.contains("line"), "{msg}");
    }

    #[test]
    fn an_unknown_key_is_refused_rather_than_ignored() {
        let err = parse(&REF.replace("size_mm = 30.0", "size_mm = 30.0\nsize_cm = 3.0")).unwrap_err();
        assert!(err.to_string().contains("size_cm"), "{err}");
    }

    #[test]
    fn a_code_over_the_signature_place_is_refused() {
        let err = parse(&REF.replace("y_mm = 180.0", "y_mm = 238.0").replace("x_mm = 152.0\ny_mm = 238.0", "x_mm = 120.0\ny_mm = 238.0"))
            .unwrap_err();
        assert!(err.to_string().contains("signature"), "{err}");
    }

    #[test]
    fn a_tiny_code_is_refused() {
        let err = parse(&REF.replace("size_mm = 30.0", "size_mm = 12.0")).unwrap_err();
        assert!(err.to_string().contains("code.size_mm"), "{err}");
    }

    #[test]
    fn an_unknown_placeholder_names_the_field() {
        let err = parse(&REF.replace("{full_name}", "{fullname}")).unwrap_err();
        assert!(err.to_string().contains("fields[1].text: unknown placeholder {fullname}"), "{err}");
    }

    #[test]
    fn a_blank_number_example_not_matching_its_pattern_is_refused() {
        let err = parse(&REF.replace("example = \"77 0012345\"", "example = \"770012345\"")).unwrap_err();
        assert!(err.to_string().contains("recognition.blank_number.example"), "{err}");
    }

    #[test]
    fn a_broken_pattern_is_refused() {
        let err = parse(&REF.replace("^[0-9]{2} [0-9]{7}$", "^[0-9{2}")).unwrap_err();
        assert!(err.to_string().contains("not a valid regular expression"), "{err}");
    }
}
