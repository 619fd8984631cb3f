//! The issuance register document (seed 001): one row per passed application — number, full name,
//! registration number, issue date, blank number — with columns for the date and the candidate's
//! signature, the exam's header and the responsible person's signature. The layout is data
//! (`data/register-a4.toml`, versioned with `schema_version`); this module renders it as a printable PDF
//! (DejaVu embedded, so Cyrillic prints) and as XLSX (rust_xlsxwriter). Every PDF page carries a code
//! (`docs/payload.md`, kind `REG`: exam, document id, version, page k of n, the rows on the page), and the
//! layout tells a reader where each row's signature cell lies ([`RegisterTemplate::signature_cell`]).
//! Pure: rows in, bytes out.

use serde::Deserialize;

use certscan_domain::register::RegisterRow;
use certscan_domain::{RegisterPagePayload, Roster};

use crate::draw::Document;
use crate::fonts::measure;
use crate::model::{FontKind, Rect};
use crate::render::PrintOffset;

/// The embedded register layout.
pub const REGISTER_TEMPLATE_TOML: &str = include_str!("../data/register-a4.toml");

/// Text is shrunk to fit its cell down to this size, then cut with an ellipsis.
const MIN_CELL_PT: f32 = 6.0;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterTemplateError {
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterTemplate {
    pub schema_version: u32,
    pub title: String,
    pub header: Vec<String>,
    pub footer: Vec<String>,
    pub code: RegisterCode,
    pub page: RegisterPage,
    pub columns: Vec<RegisterColumn>,
}

/// Where every page's code is printed (top-left of the symbol and its side, millimetres).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterCode {
    pub x_mm: f32,
    pub y_mm: f32,
    pub size_mm: f32,
    pub quiet_zone_modules: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterPage {
    pub width_mm: f32,
    pub height_mm: f32,
    pub margin_mm: f32,
    pub title_pt: f32,
    pub text_pt: f32,
    pub table_pt: f32,
    pub row_height_mm: f32,
    pub header_row_height_mm: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterColumn {
    pub title: String,
    /// `number`, `full_name`, `registration_number`, `issue_date`, `blank_number`, or empty (filled in by
    /// hand: the date received, the signature).
    pub field: String,
    pub width_mm: f32,
    /// The column the candidates sign in (exactly one, filled in by hand).
    #[serde(default)]
    pub signature: bool,
}

const FIELDS: [&str; 6] = ["number", "full_name", "registration_number", "issue_date", "blank_number", ""];

impl RegisterTemplate {
    /// Parses and checks a layout; `file` names it in errors.
    pub fn from_toml(file: &str, text: &str) -> Result<RegisterTemplate, RegisterTemplateError> {
        let invalid = |reason: String| RegisterTemplateError::Invalid { file: file.to_string(), reason };
        let t: RegisterTemplate = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if t.schema_version != 1 {
            return Err(invalid(format!("schema_version {} is not supported (1 is)", t.schema_version)));
        }
        if let Some(c) = t.columns.iter().find(|c| !FIELDS.contains(&c.field.as_str())) {
            return Err(invalid(format!("column {:?}: field {:?} is not one of {FIELDS:?}", c.title, c.field)));
        }
        let width: f32 = t.columns.iter().map(|c| c.width_mm).sum();
        let room = t.page.width_mm - 2.0 * t.page.margin_mm;
        if width > room + 0.01 {
            return Err(invalid(format!("the columns are {width:.1} mm wide, the page has {room:.1} mm between its margins")));
        }
        let signature: Vec<&RegisterColumn> = t.columns.iter().filter(|c| c.signature).collect();
        if signature.len() != 1 || !signature[0].field.is_empty() {
            return Err(invalid("exactly one column must be the signature column (signature = true, field = \"\")".into()));
        }
        let code = t.code_rect();
        if t.code.size_mm < 20.0 || t.code.quiet_zone_modules < 4 {
            return Err(invalid("code: a code smaller than 20 mm or with a quiet zone under 4 modules does not survive scanning".into()));
        }
        if code.x < t.page.margin_mm || code.right() > t.page.width_mm - t.page.margin_mm + 0.01 || code.y < t.page.margin_mm {
            return Err(invalid("code: the code must lie inside the page's margins".into()));
        }
        if t.rows_per_page(true) < 1 {
            return Err(invalid("not one table row fits on a page".into()));
        }
        Ok(t)
    }

    /// The embedded layout.
    pub fn reference() -> RegisterTemplate {
        RegisterTemplate::from_toml("templates/data/register-a4.toml", REGISTER_TEMPLATE_TOML)
            .expect("the embedded register layout is valid")
    }

    /// The header above the table: the title and header lines, and at least the code with its quiet zone.
    fn header_height(&self) -> f32 {
        let p = &self.page;
        let text = pt_mm(p.title_pt) * 1.6 + self.header.len() as f32 * pt_mm(p.text_pt) * 1.5 + 3.0;
        let code = self.code.y_mm + self.code.size_mm + self.quiet_mm() - p.margin_mm;
        text.max(code)
    }

    /// The code's quiet zone in millimetres (for the smallest symbol that carries a register page's code).
    fn quiet_mm(&self) -> f32 {
        self.code.size_mm / 33.0 * self.code.quiet_zone_modules as f32
    }

    /// The code's symbol on the sheet.
    pub fn code_rect(&self) -> Rect {
        Rect { x: self.code.x_mm, y: self.code.y_mm, w: self.code.size_mm, h: self.code.size_mm }
    }

    /// Where the table's first row starts (below the header and the table head), from the sheet's top.
    pub fn first_row_top(&self) -> f32 {
        self.page.margin_mm + self.header_height() + self.page.header_row_height_mm
    }

    /// The signature cell of the `index`-th row on a page (0-based), borders included.
    pub fn signature_cell(&self, index: usize) -> Rect {
        let mut x = self.page.margin_mm;
        let mut w = 0.0;
        for c in &self.columns {
            if c.signature {
                w = c.width_mm;
                break;
            }
            x += c.width_mm;
        }
        Rect { x, y: self.first_row_top() + index as f32 * self.page.row_height_mm, w, h: self.page.row_height_mm }
    }

    fn footer_height(&self) -> f32 {
        4.0 + self.footer.len() as f32 * pt_mm(self.page.text_pt) * 1.6
    }

    /// Rows on a page (the last page also carries the footer).
    fn rows_per_page(&self, last: bool) -> usize {
        let p = &self.page;
        let mut room = p.height_mm - 2.0 * p.margin_mm - self.header_height() - p.header_row_height_mm;
        if last {
            room -= self.footer_height();
        }
        (room / p.row_height_mm).floor().max(0.0) as usize
    }
}

fn pt_mm(pt: f32) -> f32 {
    pt * 25.4 / 72.0
}

/// A register ready to print: the exam, the version and its rows.
#[derive(Debug, Clone)]
pub struct RegisterDocument {
    pub template: RegisterTemplate,
    pub site: String,
    pub exam_id: String,
    pub date: String,
    pub version: u32,
    pub rows: Vec<RegisterRow>,
}

#[derive(Debug, thiserror::Error)]
#[error("writing the register XLSX: {0}")]
pub struct RegisterXlsxError(#[from] rust_xlsxwriter::XlsxError);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterRenderError {
    #[error("the register has no rows: nobody's certificate scan is attached")]
    Empty,
}

impl RegisterDocument {
    /// With the embedded layout.
    pub fn new(roster: &Roster, version: u32, rows: &[RegisterRow]) -> RegisterDocument {
        RegisterDocument {
            template: RegisterTemplate::reference(),
            site: roster.site.clone(),
            exam_id: roster.exam_id.clone(),
            date: roster.date.format("%d.%m.%Y").to_string(),
            version,
            rows: rows.to_vec(),
        }
    }

    fn fill(&self, line: &str) -> String {
        line.replace("{site}", &self.site)
            .replace("{exam_id}", &self.exam_id)
            .replace("{date}", &self.date)
            .replace("{version}", &self.version.to_string())
    }

    /// The header lines, filled in.
    pub fn header_lines(&self) -> Vec<String> {
        self.template.header.iter().map(|l| self.fill(l)).collect()
    }

    /// A row's cells in column order (hand-filled columns empty).
    pub fn cells(&self, row: &RegisterRow) -> Vec<String> {
        self.template
            .columns
            .iter()
            .map(|c| match c.field.as_str() {
                "number" => row.number.to_string(),
                "full_name" => row.full_name.clone(),
                "registration_number" => row.registration_number.clone(),
                "issue_date" => iso_to_ru(&row.issue_date),
                "blank_number" => row.blank_number.clone(),
                _ => String::new(),
            })
            .collect()
    }

    /// The register rows (№, first and last) on each page, in page order.
    pub fn page_rows(&self) -> Vec<(u32, u32)> {
        self.pages()
            .iter()
            .filter(|rows| !rows.is_empty())
            .map(|rows| (rows[0].number as u32, rows[rows.len() - 1].number as u32))
            .collect()
    }

    /// What the code on page `k` (1-based) of `n` says.
    pub fn page_payload(&self, k: usize, n: usize, rows: &[RegisterRow]) -> RegisterPagePayload {
        RegisterPagePayload {
            exam_id: self.exam_id.clone(),
            document_id: certscan_domain::register_scan::document_id(&self.rows),
            version: self.version,
            page: k as u32,
            pages: n as u32,
            first_row: rows.first().map_or(0, |r| r.number as u32),
            last_row: rows.last().map_or(0, |r| r.number as u32),
        }
    }

    /// The rows split into pages: every page but the last is full; the last has room for the footer.
    fn pages(&self) -> Vec<&[RegisterRow]> {
        let (full, last) = (self.template.rows_per_page(false), self.template.rows_per_page(true));
        let mut pages = Vec::new();
        let mut rest = &self.rows[..];
        while rest.len() > last {
            let take = full.min(rest.len());
            // Keep at least one row for the page with the footer.
            let take = if take == rest.len() { take - 1 } else { take };
            pages.push(&rest[..take]);
            rest = &rest[take..];
        }
        pages.push(rest);
        pages
    }

    /// The printable PDF (A4 landscape by default), every page with the header and the table head, the
    /// last with the responsible person's signature; "page k of n" at the foot of each page.
    pub fn to_pdf(&self) -> Result<Vec<u8>, RegisterRenderError> {
        if self.rows.is_empty() {
            return Err(RegisterRenderError::Empty);
        }
        let t = &self.template;
        let p = &t.page;
        let mut doc = Document::new(&format!("{} {}", t.title, self.exam_id));
        let pages = self.pages();
        let n = pages.len();
        for (k, rows) in pages.iter().enumerate() {
            let mut c = doc.canvas(p.width_mm, p.height_mm, PrintOffset::default());
            let left = p.margin_mm;
            let mut y = p.margin_mm + pt_mm(p.title_pt);
            let title_w = measure(FontKind::Bold, &t.title, p.title_pt).width_mm;
            c.text(FontKind::Bold, p.title_pt, (p.width_mm - title_w) / 2.0, y, &t.title);
            y += pt_mm(p.title_pt) * 0.6;
            // Header lines stay left of the code and its quiet zone.
            let text_width = t.code.x_mm - t.quiet_mm() - left - 2.0;
            for line in self.header_lines() {
                y += pt_mm(p.text_pt) * 1.5;
                c.text(FontKind::Regular, p.text_pt, left, y, &fit(FontKind::Regular, &line, p.text_pt, text_width).0);
            }
            draw_code(&mut c, &t.code_rect(), &self.page_payload(k + 1, n, rows).encode());
            y = p.margin_mm + t.header_height();
            // The table head.
            let mut x = left;
            for col in &t.columns {
                let cell = Rect { x, y, w: col.width_mm, h: p.header_row_height_mm };
                c.outline(cell, 0.6);
                let (text, size) = fit(FontKind::Bold, &col.title, p.table_pt, col.width_mm - 2.0);
                c.text(FontKind::Bold, size, x + 1.0, y + p.header_row_height_mm / 2.0 + pt_mm(size) / 3.0, &text);
                x += col.width_mm;
            }
            y += p.header_row_height_mm;
            for row in rows.iter() {
                let mut x = left;
                for (col, value) in t.columns.iter().zip(self.cells(row)) {
                    c.outline(Rect { x, y, w: col.width_mm, h: p.row_height_mm }, 0.4);
                    if !value.is_empty() {
                        let (text, size) = fit(FontKind::Regular, &value, p.table_pt, col.width_mm - 2.0);
                        c.text(FontKind::Regular, size, x + 1.0, y + p.row_height_mm / 2.0 + pt_mm(size) / 3.0, &text);
                    }
                    x += col.width_mm;
                }
                y += p.row_height_mm;
            }
            if k + 1 == n {
                y += 4.0;
                for line in &t.footer {
                    y += pt_mm(p.text_pt) * 1.6;
                    let size = if line.trim_start().starts_with("подпись") { p.text_pt * 0.7 } else { p.text_pt };
                    c.text(FontKind::Regular, size, left, y, &fit(FontKind::Regular, &self.fill(line), size, p.width_mm - 2.0 * left).0);
                }
            }
            let foot = format!("{} · {} · версия {} · страница {} из {}", t.title, self.exam_id, self.version, k + 1, n);
            c.text(FontKind::Regular, 7.0, left, p.height_mm - p.margin_mm / 2.0, &foot);
            doc.add_page(c);
        }
        Ok(doc.finish())
    }

    /// The same register as XLSX: the title and header lines, the table with a bold head and borders,
    /// columns as wide as the layout's, printed landscape fitted to the page width. Every cell is text.
    pub fn to_xlsx(&self) -> Result<Vec<u8>, RegisterXlsxError> {
        use rust_xlsxwriter::{Format, FormatBorder, Workbook};
        let t = &self.template;
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.set_name("Реестр")?;
        let bold = Format::new().set_bold();
        let title = Format::new().set_bold().set_font_size(14);
        let head = Format::new().set_bold().set_border(FormatBorder::Thin).set_text_wrap();
        let cell = Format::new().set_border(FormatBorder::Thin);
        sheet.write_string_with_format(0, 0, &t.title, &title)?;
        let mut r = 1u32;
        for line in self.header_lines() {
            sheet.write_string(r, 0, crate::register::neutralise(&line))?;
            r += 1;
        }
        r += 1;
        for (c, col) in t.columns.iter().enumerate() {
            sheet.write_string_with_format(r, c as u16, &col.title, &head)?;
            // Excel's width unit is about 2 mm of the default font.
            sheet.set_column_width(c as u16, f64::from(col.width_mm) / 2.0)?;
        }
        for row in &self.rows {
            r += 1;
            for (c, value) in self.cells(row).into_iter().enumerate() {
                sheet.write_string_with_format(r, c as u16, neutralise(&value), &cell)?;
            }
            sheet.set_row_height(r, f64::from(t.page.row_height_mm) * 2.83)?;
        }
        r += 2;
        for line in &t.footer {
            sheet.write_string_with_format(r, 0, self.fill(line), &bold)?;
            r += 1;
        }
        sheet.set_landscape();
        sheet.set_paper_size(9);
        sheet.set_print_fit_to_pages(1, 0);
        Ok(workbook.save_to_buffer()?)
    }
}

/// The QR symbol (error correction Q) as filled rectangles, one per horizontal run of dark modules.
fn draw_code(canvas: &mut crate::draw::Canvas, at: &Rect, text: &str) {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::Q)
        .expect("a register page's code is short ASCII and always fits a QR symbol");
    let n = code.width();
    let module = at.w / n as f32;
    let colors = code.to_colors();
    for row in 0..n {
        let mut col = 0;
        while col < n {
            if colors[row * n + col] != qrcode::Color::Dark {
                col += 1;
                continue;
            }
            let start = col;
            while col < n && colors[row * n + col] == qrcode::Color::Dark {
                col += 1;
            }
            canvas.fill_rect(Rect {
                x: at.x + start as f32 * module,
                y: at.y + row as f32 * module,
                w: (col - start) as f32 * module,
                h: module,
            });
        }
    }
}

/// A cell a spreadsheet would take for a formula is written with a leading `'` (names come from the
/// portal; a name is never run).
fn neutralise(cell: &str) -> String {
    certscan_domain::ledger_export::neutralise(cell)
}

/// `YYYY-MM-DD` → `DD.MM.YYYY` (as printed); anything else as it is.
fn iso_to_ru(date: &str) -> String {
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) => d.format("%d.%m.%Y").to_string(),
        Err(_) => date.to_string(),
    }
}

/// The text at `size_pt` or smaller so it fits `width_mm`; below the smallest size, cut with "…".
fn fit(font: FontKind, text: &str, size_pt: f32, width_mm: f32) -> (String, f32) {
    let w = measure(font, text, size_pt).width_mm;
    if w <= width_mm {
        return (text.to_string(), size_pt);
    }
    let size = (size_pt * width_mm / w * 0.999).max(MIN_CELL_PT);
    if measure(font, text, size).width_mm <= width_mm {
        return (text.to_string(), size);
    }
    let mut cut: String = text.to_string();
    while !cut.is_empty() && measure(font, &format!("{cut}…"), size).width_mm > width_mm {
        cut.pop();
    }
    (format!("{cut}…"), size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<RegisterRow> {
        (1..=n)
            .map(|i| RegisterRow {
                number: i,
                application_id: format!("A-{i:03}"),
                full_name: format!("Иванова Мария Андреевна {i}"),
                registration_number: format!("77-2025-{i:06}"),
                issue_date: "2025-12-31".into(),
                blank_number: format!("77 {:07}", 12344 + i),
            })
            .collect()
    }

    fn document(n: usize) -> RegisterDocument {
        RegisterDocument {
            template: RegisterTemplate::reference(),
            site: "Экзаменационная площадка № 2237".into(),
            exam_id: "EX-2025-000417".into(),
            date: "31.12.2025".into(),
            version: 2,
            rows: rows(n),
        }
    }

    #[test]
    fn the_embedded_layout_is_valid_and_a_bad_one_is_refused_with_the_reason() {
        let t = RegisterTemplate::reference();
        assert_eq!(t.columns.last().unwrap().title, "Подпись");
        let wide = REGISTER_TEMPLATE_TOML.replace("width_mm = 59.0", "width_mm = 159.0");
        let e = RegisterTemplate::from_toml("wide.toml", &wide).unwrap_err().to_string();
        assert!(e.contains("wide.toml") && e.contains("mm wide"), "{e}");
        let bad = REGISTER_TEMPLATE_TOML.replace("field = \"blank_number\"", "field = \"blank\"");
        assert!(RegisterTemplate::from_toml("bad.toml", &bad).unwrap_err().to_string().contains("\"blank\""));
    }

    #[test]
    fn the_rows_split_into_pages_and_the_last_keeps_room_for_the_footer() {
        let d = document(40);
        let pages = d.pages();
        assert_eq!(pages.iter().map(|p| p.len()).sum::<usize>(), 40, "every row once");
        assert!(pages.len() >= 2, "{} rows per page", d.template.rows_per_page(false));
        assert!(pages.last().unwrap().len() <= d.template.rows_per_page(true));
        assert!(pages.iter().all(|p| !p.is_empty()));
        assert_eq!(document(1).pages().len(), 1);
    }

    #[test]
    fn every_page_says_its_rows_and_the_signature_cells_lie_in_the_signature_column_below_the_code() {
        let d = document(40);
        let rows = d.page_rows();
        assert_eq!(rows.first().unwrap().0, 1);
        assert_eq!(rows.last().unwrap().1, 40);
        for w in rows.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0, "pages carry consecutive rows: {rows:?}");
        }
        let pages = d.pages();
        let p = d.page_payload(2, pages.len(), pages[1]);
        assert_eq!((p.page, p.pages, p.version), (2, pages.len() as u32, 2));
        assert_eq!((p.first_row, p.last_row), rows[1]);
        let t = &d.template;
        let code = t.code_rect();
        let cell = t.signature_cell(0);
        assert!(cell.y >= code.bottom(), "the first row {cell:?} starts below the code {code:?}");
        let table_right = t.page.margin_mm + t.columns.iter().map(|c| c.width_mm).sum::<f32>();
        assert!((cell.right() - table_right).abs() < 0.01, "the signature column is the last: {cell:?}");
        assert!((t.signature_cell(3).y - cell.y - 3.0 * t.page.row_height_mm).abs() < 0.01);
        let last = t.signature_cell(t.rows_per_page(false) - 1);
        assert!(last.bottom() <= t.page.height_mm - t.page.margin_mm, "{last:?}");
        let none = REGISTER_TEMPLATE_TOML.replace("signature = true", "");
        assert!(RegisterTemplate::from_toml("none.toml", &none).unwrap_err().to_string().contains("signature column"));
    }

    #[test]
    fn the_pdf_embeds_its_font_and_has_a_page_per_chunk() {
        let d = document(40);
        let pdf = d.to_pdf().unwrap();
        assert!(pdf.starts_with(b"%PDF"));
        let pages = pdf.windows(10).filter(|w| w == b"/Type /Pag" || w == b"/Type/Page").count();
        assert!(pages >= d.pages().len(), "page objects: {pages}");
        let fonts = pdf.windows(8).filter(|w| w == b"FontFile").count();
        assert!(fonts >= 1, "the DejaVu font is embedded (Cyrillic prints)");
        assert!(matches!(document(0).to_pdf(), Err(RegisterRenderError::Empty)));
    }

    #[test]
    fn the_xlsx_has_the_header_a_row_per_application_and_empty_signature_cells() {
        use calamine::Reader;
        let mut d = document(3);
        d.rows[1].full_name = "=HYPERLINK(\"http://x\")".into();
        let bytes = d.to_xlsx().unwrap();
        let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("Реестр").unwrap();
        let text: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(text[0][0], "Реестр выдачи сертификатов");
        assert!(text.iter().any(|r| r[0] == "Экзамен EX-2025-000417 от 31.12.2025"), "{text:?}");
        let head = text.iter().position(|r| r[0] == "№").unwrap();
        assert_eq!(text[head][6], "Подпись");
        assert_eq!(text[head + 1][..7], ["1", "Иванова Мария Андреевна 1", "77-2025-000001", "31.12.2025", "77 0012345", "", ""]);
        assert_eq!(text[head + 2][1], "'=HYPERLINK(\"http://x\")", "a name is never a formula");
        assert_eq!(text[head + 3][4], "77 0012347");
        assert!(text.iter().any(|r| r[0].starts_with("Ответственное лицо")), "the responsible person's signature");
    }
}
