//! Renders certificates onto a template as one A4 PDF, one page per certificate: text in embedded DejaVu
//! (Cyrillic survives), the code as vector modules (sharp at any printer resolution), and the printer's
//! calibration offset applied to everything. Refuses, naming the application and the field, to print
//! anything outside the printable area or over a pre-printed zone.

use qrcode::{EcLevel as QrEc, QrCode};

use certscan_domain::Certificate;

use crate::draw::{Canvas, Document};
use crate::fonts::measure;
use crate::model::{Align, EcLevel, FontKind, Rect, Template};

/// A printer's correction, applied to every position: `x' = dx + x·scale` (same for y), about the
/// sheet's top-left corner. Measured with the calibration sheet (`certscan calibrate`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PrintOffset {
    pub dx_mm: f32,
    pub dy_mm: f32,
    pub scale: f32,
}

impl Default for PrintOffset {
    fn default() -> Self {
        PrintOffset { dx_mm: 0.0, dy_mm: 0.0, scale: 1.0 }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    #[error("no certificates to print")]
    Empty,
    #[error("application {application_id}: {what} does not fit: {reason}")]
    DoesNotFit { application_id: String, what: String, reason: String },
    #[error("application {application_id}: cannot build the code: {reason}")]
    Code { application_id: String, reason: String },
}

/// The smallest size a field is shrunk to before a long value is refused.
const MIN_FIELD_PT: f32 = 6.0;

/// One PDF, one page per certificate, in the order given.
pub fn render_certificates(template: &Template, certificates: &[Certificate], offset: PrintOffset) -> Result<Vec<u8>, RenderError> {
    if certificates.is_empty() {
        return Err(RenderError::Empty);
    }
    let mut doc = Document::new("Certificates");
    for cert in certificates {
        let mut canvas = doc.canvas(template.page.width_mm, template.page.height_mm, offset);
        for (i, field) in template.fields.iter().enumerate() {
            let text = fill(&field.text, cert);
            let placed = place_text(template, &text, field.x_mm, field.y_mm, field.align, field.font, field.size_pt).map_err(|reason| {
                RenderError::DoesNotFit {
                    application_id: cert.application_id.clone(),
                    what: format!("field {i} ({:?})", field.text),
                    reason,
                }
            })?;
            canvas.text(field.font, placed.size_pt, placed.x_mm, field.y_mm, &text);
        }
        draw_code(template, &mut canvas, cert)?;
        doc.add_page(canvas);
    }
    Ok(doc.finish())
}

/// A placed line: its left edge and the size it ended up at.
#[derive(Debug)]
struct Placed {
    x_mm: f32,
    size_pt: f32,
}

/// Aligns the text at its anchor, shrinking it to fit the printable width, and checks it stays clear of
/// every pre-printed zone.
fn place_text(template: &Template, text: &str, x: f32, y: f32, align: Align, font: FontKind, size_pt: f32) -> Result<Placed, String> {
    let area = template.printable.rect;
    let available = match align {
        Align::Left => area.right() - x,
        Align::Right => x - area.x,
        Align::Center => 2.0 * (x - area.x).min(area.right() - x),
    };
    let mut size = size_pt;
    let mut m = measure(font, text, size);
    if m.width_mm > available {
        size = size_pt * available / m.width_mm * 0.999;
        if size < MIN_FIELD_PT {
            return Err(format!("{:.0} mm wide at {size_pt} pt, only {available:.0} mm available", m.width_mm));
        }
        m = measure(font, text, size);
    }
    let left = match align {
        Align::Left => x,
        Align::Right => x - m.width_mm,
        Align::Center => x - m.width_mm / 2.0,
    };
    let bbox = Rect { x: left, y: y - m.ascent_mm, w: m.width_mm, h: m.ascent_mm + m.descent_mm };
    if !area.contains(&bbox) {
        return Err("it leaves the printable area".into());
    }
    if let Some(zone) = template.keep_clear_hit(&bbox) {
        return Err(format!("it would print over the pre-printed zone {:?}", zone.name));
    }
    Ok(Placed { x_mm: left, size_pt: size })
}

/// The QR symbol as filled rectangles, one per horizontal run of dark modules.
fn draw_code(template: &Template, canvas: &mut Canvas, cert: &Certificate) -> Result<(), RenderError> {
    let spec = &template.code;
    let level = match spec.error_correction {
        EcLevel::Q => QrEc::Q,
        EcLevel::H => QrEc::H,
    };
    let code = QrCode::with_error_correction_level(cert.payload().encode().as_bytes(), level)
        .map_err(|e| RenderError::Code { application_id: cert.application_id.clone(), reason: e.to_string() })?;
    let n = code.width();
    let with_quiet = spec.with_quiet_zone(n);
    if !template.printable.rect.contains(&with_quiet) || template.keep_clear_hit(&with_quiet).is_some() {
        return Err(RenderError::DoesNotFit {
            application_id: cert.application_id.clone(),
            what: "the code with its quiet zone".into(),
            reason: "it would leave the printable area or touch a pre-printed zone".into(),
        });
    }
    let module = spec.size_mm / n as f32;
    let colors = code.to_colors();
    let dark = |row: usize, col: usize| colors[row * n + col] == qrcode::Color::Dark;
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if !dark(row, col) {
                col += 1;
                continue;
            }
            let start = col;
            while col < n && dark(row, col) {
                col += 1;
            }
            canvas.fill_rect(Rect {
                x: spec.x_mm + start as f32 * module,
                y: spec.y_mm + row as f32 * module,
                w: (col - start) as f32 * module,
                h: module,
            });
        }
    }
    Ok(())
}

/// Fills `{placeholder}`s; dates as DD.MM.YYYY, as Russian documents write them.
pub fn fill(text: &str, c: &Certificate) -> String {
    text.replace("{full_name}", &c.full_name)
        .replace("{site}", &c.site)
        .replace("{exam_id}", &c.exam_id)
        .replace("{exam_date}", &c.exam_date.format("%d.%m.%Y").to_string())
        .replace("{application_id}", &c.application_id)
        .replace("{registration_number}", &c.registration_number)
        .replace("{issue_date}", &c.issue_date.format("%d.%m.%Y").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn cert(name: &str) -> Certificate {
        Certificate {
            exam_id: "EX-1".into(),
            site: "Площадка № 1".into(),
            exam_date: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
            application_id: "A-1".into(),
            full_name: name.into(),
            registration_number: "77-2025-000123".into(),
            issue_date: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        }
    }

    #[test]
    fn placeholders_are_filled_with_russian_dates() {
        let s = fill("{registration_number} от {issue_date}", &cert("X"));
        assert_eq!(s, "77-2025-000123 от 15.01.2026");
    }

    #[test]
    fn a_long_name_is_shrunk_to_fit_rather_than_printed_off_the_sheet() {
        let t = crate::reference();
        let long = "Константинопольская-Преображенская Александра-Виктория Константиновна";
        let placed = place_text(&t, long, 105.0, 80.0, Align::Center, FontKind::Bold, 18.0).unwrap();
        assert!(placed.size_pt < 18.0 && placed.size_pt >= MIN_FIELD_PT);
        assert!(placed.x_mm >= t.printable.rect.x);
    }

    #[test]
    fn text_over_the_title_zone_is_refused() {
        let t = crate::reference();
        let err = place_text(&t, "Поверх", 105.0, 40.0, Align::Center, FontKind::Regular, 12.0).unwrap_err();
        assert!(err.contains("title"), "{err}");
    }

    #[test]
    fn an_empty_batch_is_an_error() {
        assert!(matches!(render_certificates(&crate::reference(), &[], PrintOffset::default()), Err(RenderError::Empty)));
    }

    #[test]
    fn a_pdf_is_produced_per_certificate() {
        let pdf = render_certificates(&crate::reference(), &[cert("Иванова Мария"), cert("Ким Олег")], PrintOffset::default()).unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let count = pdf.windows(10).filter(|w| w == b"/Type /Pag" || w == b"/Type/Page").count();
        assert!(count >= 2, "page objects: {count}");
    }
}
