//! Certificate templates: the data that says where everything lies on a blank (`data/*.toml`, versioned
//! with `schema_version`) and the renderer that turns certificates into a printable PDF with printpdf.
//! Talks to nothing: it takes template text and certificates, and gives PDF bytes.
//!
//! # Layout
//! - [`model`]: the template schema, parsing and validation (zones, fields, code, recognition zones).
//! - [`render`]: certificates → PDF (embedded DejaVu fonts, vector QR code, printer offset applied).
//! - [`fonts`]: the embedded fonts and their metrics.
//! - [`register`]: the issuance register document (`data/register-a4.toml`) as PDF and XLSX.

pub mod draw;
pub mod fonts;
pub mod model;
pub mod register;
pub mod render;

pub use model::{Align, CodeSpec, FontKind, Point, Rect, Template, TemplateError};
pub use render::{render_certificates, PrintOffset, RenderError};

/// The reference blank of `spec/domain.md`, embedded so the default needs no files.
pub const REFERENCE_TEMPLATE_TOML: &str = include_str!("../data/reference-a4.toml");

/// The embedded reference template.
pub fn reference() -> Template {
    Template::from_toml("templates/data/reference-a4.toml", REFERENCE_TEMPLATE_TOML)
        .expect("the embedded reference template is valid (checked by a unit test)")
}
