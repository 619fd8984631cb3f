//! A pack's report as files an accountant opens: CSV (UTF-8 with BOM, `;`, as spreadsheet programs in a
//! Russian locale expect) and XLSX (the write-off act). A cell that a spreadsheet would take for a
//! formula (`=`, `+`, `-`, `@`, tab, carriage return first) is written with a leading `'`, so text typed
//! by staff (a reason, a note) can never run as a formula. Pure: rows in, bytes out.

use crate::ledger::{Pack, PackCounts, ReportRow};

/// The columns of both files, in order.
pub const COLUMNS: [&str; 7] = ["blank_number", "state", "exam_id", "application_id", "reason", "by", "at"];

/// A cell as text a spreadsheet will not evaluate.
pub fn neutralise(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

fn cells(row: &ReportRow) -> [String; 7] {
    let o = |v: &Option<String>| neutralise(v.as_deref().unwrap_or(""));
    [
        neutralise(&row.blank_number),
        row.state.code().to_string(),
        o(&row.exam_id),
        o(&row.application_id),
        o(&row.reason),
        o(&row.by),
        o(&row.at),
    ]
}

/// The report as CSV: a header row, then one row per number.
pub fn report_csv(rows: &[ReportRow]) -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut writer = csv::WriterBuilder::new().delimiter(b';').from_writer(&mut out);
        writer.write_record(COLUMNS).expect("writing to memory");
        for row in rows {
            writer.write_record(cells(row)).expect("writing to memory");
        }
        writer.flush().expect("writing to memory");
    }
    out
}

#[derive(Debug, thiserror::Error)]
#[error("writing the XLSX report: {0}")]
pub struct XlsxError(#[from] rust_xlsxwriter::XlsxError);

/// The report as XLSX: the pack and its counts on top, then a header row and one row per number (every
/// cell text).
pub fn report_xlsx(pack: &Pack, counts: &PackCounts, rows: &[ReportRow]) -> Result<Vec<u8>, XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("blanks")?;
    let bold = Format::new().set_bold();
    let head = [
        ("pack_id", pack.pack_id.clone()),
        ("series", pack.series.clone()),
        ("first", pack.first.clone()),
        ("last", pack.last.clone()),
        ("received_on", pack.received_on.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()),
        ("note", pack.note.clone().unwrap_or_default()),
        ("used / spoiled / free", format!("{} / {} / {}", counts.used, counts.spoiled, counts.free)),
    ];
    for (i, (label, value)) in head.iter().enumerate() {
        sheet.write_string_with_format(i as u32, 0, *label, &bold)?;
        sheet.write_string(i as u32, 1, neutralise(value))?;
    }
    let top = head.len() as u32 + 1;
    for (c, name) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(top, c as u16, *name, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in cells(row).iter().enumerate() {
            sheet.write_string(top + 1 + r as u32, c as u16, cell)?;
        }
    }
    for (c, width) in [14.0, 9.0, 18.0, 18.0, 30.0, 14.0, 26.0].iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    Ok(workbook.save_to_buffer()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::BlankState;

    fn rows() -> Vec<ReportRow> {
        vec![
            ReportRow {
                blank_number: "51 0000001".into(),
                state: BlankState::Spoiled,
                exam_id: None,
                application_id: None,
                reason: Some("=HYPERLINK(\"http://x\")".into()),
                by: Some("@ct".into()),
                at: Some("2026-11-02T10:00:00.000Z".into()),
            },
            ReportRow {
                blank_number: "51 0000002".into(),
                state: BlankState::Free,
                exam_id: None,
                application_id: None,
                reason: None,
                by: None,
                at: None,
            },
        ]
    }

    #[test]
    fn formula_leading_cells_are_neutralised() {
        assert_eq!(neutralise("=1+1"), "'=1+1");
        assert_eq!(neutralise("+7"), "'+7");
        assert_eq!(neutralise("-2"), "'-2");
        assert_eq!(neutralise("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralise("jammed in the printer"), "jammed in the printer");
    }

    #[test]
    fn the_csv_has_a_header_and_a_row_per_number_and_no_formula() {
        let csv = String::from_utf8(report_csv(&rows())).unwrap();
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "blank_number;state;exam_id;application_id;reason;by;at");
        assert_eq!(lines.len(), 3);
        assert!(lines[1].contains("'=HYPERLINK") && lines[1].contains(";'@ct;"), "{}", lines[1]);
        assert_eq!(lines[2], "51 0000002;free;;;;;");
    }

    #[test]
    fn the_xlsx_opens_with_every_row() {
        use calamine::Reader;
        let pack = Pack::new("P-1", "51", "0000001", "0000002", Some("2026-11-01"), Some("-from the print house")).unwrap();
        let bytes = report_xlsx(&pack, &PackCounts { used: 0, spoiled: 1, free: 1 }, &rows()).unwrap();
        let mut book = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let range = book.worksheet_range("blanks").unwrap();
        let text: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert!(text.iter().any(|r| r[0] == "note" && r[1] == "'-from the print house"));
        let header = text.iter().position(|r| r[0] == "blank_number").unwrap();
        assert_eq!(text.len() - header - 1, 2);
        assert_eq!(text[header + 1][4], "'=HYPERLINK(\"http://x\")");
    }
}
