//! Reading the rows of a FIS FRDO file, whatever its format (CSV in UTF-8 or Windows-1251, XLSX), within
//! [`FisLimits`]. An exam has a few hundred applications; a file far beyond that is refused before it can
//! hold the process: the file's size, the XLSX parts' inflated size (a zip bomb), the sheet's declared
//! dimension and the rows actually present are checked as the file is read, and an XLSX sheet is read
//! cell by cell (calamine's cell reader), never as a dense grid sized by its farthest cell.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use chrono::NaiveDate;

use super::{float_text, parse_iso_date, Cell, FisImportError, RawRow};

/// How large a FIS FRDO file may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FisLimits {
    /// Rows after the header (empty lines not counted). Default 10,000: an exam has a few hundred.
    pub max_rows: usize,
    /// Bytes of the file, and for an XLSX the inflated size of all its parts together. Default 16 MiB
    /// (a real 500-row file is under 100 KB).
    pub max_bytes: u64,
}

impl Default for FisLimits {
    fn default() -> Self {
        FisLimits { max_rows: 10_000, max_bytes: 16 * 1024 * 1024 }
    }
}

/// Columns of a sheet: a FIS FRDO file has a few dozen; a cell beyond column IV is refused.
pub const MAX_COLUMNS: u32 = 256;
/// Parts of an XLSX file: a real workbook has a dozen or two.
const MAX_ZIP_ENTRIES: usize = 1_000;

pub(super) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
pub(super) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn over_limit(file: &str, reason: String) -> FisImportError {
    FisImportError::OverLimit { file: file.to_string(), reason }
}

fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads the non-empty rows of the file, whatever its format.
pub(super) fn read_rows(file: &str, bytes: &[u8], limits: &FisLimits) -> Result<Vec<RawRow>, FisImportError> {
    let unsupported = |reason: &str| FisImportError::Unsupported { file: file.to_string(), reason: reason.to_string() };
    if bytes.len() as u64 > limits.max_bytes {
        return Err(over_limit(file, format!("the file is {} bytes, over the limit of {}", bytes.len(), mib(limits.max_bytes))));
    }
    if bytes.starts_with(ZIP_MAGIC) {
        return read_xlsx(file, bytes, limits);
    }
    if bytes.starts_with(OLE_MAGIC) {
        return Err(unsupported("this is a legacy Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV"));
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(unsupported("this is UTF-16 text (Excel \"Unicode text\"); save it as CSV UTF-8"));
    }
    // Text never holds NUL bytes; anything that does is some binary format.
    if bytes.contains(&0) {
        return Err(unsupported("the file holds binary data"));
    }
    let text = decode(bytes);
    read_csv(file, &text, limits)
}

/// UTF-8 (with or without BOM) when the bytes are valid UTF-8, else Windows-1251.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::WINDOWS_1251.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

/// `;` or `,`, whichever the header line has more of outside quotes (`;` on a tie).
fn detect_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let (mut semicolons, mut commas, mut quoted) = (0usize, 0usize, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => semicolons += 1,
            ',' if !quoted => commas += 1,
            _ => {}
        }
    }
    if commas > semicolons {
        b','
    } else {
        b';'
    }
}

fn too_many_rows(file: &str, limits: &FisLimits) -> FisImportError {
    over_limit(file, format!("the file has more than {} rows after the header, the limit", limits.max_rows))
}

fn read_csv(file: &str, text: &str, limits: &FisLimits) -> Result<Vec<RawRow>, FisImportError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(detect_delimiter(text)).from_reader(text.as_bytes());
    let line_starts = line_starts(text);
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(FisImportError::Unreadable { file: file.to_string(), reason: e.to_string() });
            }
        }
        if record.len() > MAX_COLUMNS as usize {
            return Err(over_limit(file, format!("a line has {} columns, over the limit of {MAX_COLUMNS}", record.len())));
        }
        let cells: Vec<Cell> = record.iter().map(Cell::text).collect();
        if cells.iter().all(Cell::is_empty) {
            continue;
        }
        // The header plus `max_rows` rows.
        if rows.len() > limits.max_rows {
            return Err(too_many_rows(file, limits));
        }
        // csv's own line counter lags behind (it counts a terminator only when it reads the next record
        // and does not see the empty lines it skips), so the line comes from the byte offset instead.
        let mut start = record.position().map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        while matches!(text.as_bytes().get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        rows.push(RawRow { line: line_starts.partition_point(|&s| s <= start), cells });
    }
    Ok(rows)
}

/// Byte offsets where the lines of `text` start; a line ends with `\n`, `\r\n` or a lone `\r`.
fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
            starts.push(i + 1);
        }
    }
    starts
}

/// Inflates every part of the archive (into nothing) and refuses it when they add up to more than the
/// limit. The sizes an archive declares are not trusted: a zip bomb lies about them.
fn check_archive(file: &str, bytes: &[u8], limits: &FisLimits) -> Result<(), FisImportError> {
    let unreadable = |reason: String| FisImportError::Unreadable { file: file.to_string(), reason };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(format!("not a readable XLSX workbook ({e})")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(over_limit(file, format!("the workbook has {} parts, over the limit of {MAX_ZIP_ENTRIES}", archive.len())));
    }
    let mut left = limits.max_bytes;
    for i in 0..archive.len() {
        let mut part = archive.by_index(i).map_err(|e| unreadable(format!("not a readable XLSX workbook ({e})")))?;
        let read = std::io::copy(&mut (&mut part).take(left + 1), &mut std::io::sink())
            .map_err(|e| unreadable(format!("a part of the workbook cannot be read ({e})")))?;
        if read > left {
            return Err(over_limit(file, format!("the workbook inflates to more than {}, the limit", mib(limits.max_bytes))));
        }
        left -= read;
    }
    Ok(())
}

fn read_xlsx(file: &str, bytes: &[u8], limits: &FisLimits) -> Result<Vec<RawRow>, FisImportError> {
    let unreadable = |reason: String| FisImportError::Unreadable { file: file.to_string(), reason };
    check_archive(file, bytes, limits)?;
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| unreadable(format!("not a readable XLSX workbook ({e})")))?;
    let Some(sheet) = workbook.sheet_names().first().cloned() else {
        return Err(FisImportError::Empty { file: file.to_string() });
    };
    let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(|e| unreadable(format!("cannot read the first sheet ({e})")))?;
    // The dimension the sheet declares: what a dense reader would allocate. Refused before any cell is read.
    let declared = cells.dimensions();
    let declared_rows = u64::from(declared.end.0.saturating_sub(declared.start.0));
    if declared_rows > limits.max_rows as u64 {
        return Err(over_limit(
            file,
            format!("the sheet declares {} rows, over the limit of {} rows after the header", declared_rows + 1, limits.max_rows),
        ));
    }
    if declared.end.1 >= MAX_COLUMNS {
        return Err(over_limit(file, format!("the sheet declares column {}, over the limit of {MAX_COLUMNS} columns", declared.end.1 + 1)));
    }
    // Row (0-based) → cells up to its last non-empty one. Cells come in the file's order, which need not
    // be sorted; the map keeps only rows that hold something.
    let mut rows: BTreeMap<u32, Vec<Cell>> = BTreeMap::new();
    while let Some(cell) = cells.next_cell().map_err(|e| unreadable(format!("cannot read the first sheet ({e})")))? {
        let value = xlsx_cell(&Data::from(cell.get_value().clone()));
        if value.is_empty() {
            continue;
        }
        let (row, col) = cell.get_position();
        if col >= MAX_COLUMNS {
            return Err(over_limit(
                file,
                format!("row {} has a cell in column {}, over the limit of {MAX_COLUMNS} columns", row + 1, col + 1),
            ));
        }
        if !rows.contains_key(&row) && rows.len() > limits.max_rows {
            return Err(too_many_rows(file, limits));
        }
        let cells = rows.entry(row).or_default();
        let col = col as usize;
        if cells.len() <= col {
            cells.resize(col + 1, Cell::Empty);
        }
        cells[col] = value;
    }
    Ok(rows.into_iter().map(|(row, cells)| RawRow { line: row as usize + 1, cells }).collect())
}

fn xlsx_cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::text(s),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::DateTime(dt) if dt.is_datetime() => {
            let serial = dt.as_f64();
            // Outside Excel's range the conversion clamps instead of failing; refuse those.
            let date = if (0.0..2_958_466.0).contains(&serial) {
                let (y, m, d, ..) = dt.to_ymd_hms_milli();
                NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
            } else {
                None
            };
            Cell::Date { date, raw: float_text(serial) }
        }
        Data::DateTime(dt) => Cell::Other(float_text(dt.as_f64())),
        Data::DateTimeIso(s) => {
            let date = s.split(['T', ' ']).next().and_then(parse_iso_date);
            Cell::Date { date, raw: s.clone() }
        }
        Data::DurationIso(s) => Cell::Other(s.clone()),
        Data::Bool(b) => Cell::Other(b.to_string()),
        Data::Error(e) => Cell::Other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const HEADER: &str = "Фамилия;Имя;Отчество;Дата рождения;Регистрационный номер;Дата выдачи";
    const ROW: &str = "Иванова;Мария;Андреевна;04.08.1994;77-0000001;31.12.2025";

    /// A real workbook (rust_xlsxwriter) whose first sheet's XML is replaced by `sheet`, deflated.
    fn workbook_with_sheet(sheet: &[u8]) -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet().write_string(0, 0, "Фамилия").unwrap();
        let original = wb.save_to_buffer().unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(&original[..])).unwrap();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for i in 0..archive.len() {
            let mut part = archive.by_index(i).unwrap();
            let name = part.name().unwrap().to_string();
            let mut content = Vec::new();
            part.read_to_end(&mut content).unwrap();
            out.start_file(name.as_str(), options).unwrap();
            out.write_all(if name == "xl/worksheets/sheet1.xml" { sheet } else { &content }).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    fn sheet_xml(dimension: Option<&str>, cells: &[(&str, &str)], padding: usize) -> Vec<u8> {
        let mut xml = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">"#,
        );
        if let Some(d) = dimension {
            xml.push_str(&format!(r#"<dimension ref="{d}"/>"#));
        }
        xml.push_str("<sheetData>");
        for (at, text) in cells {
            let row: String = at.chars().filter(char::is_ascii_digit).collect();
            xml.push_str(&format!(r#"<row r="{row}"><c r="{at}" t="inlineStr"><is><t>{text}</t></is></c></row>"#));
        }
        xml.push_str(&" ".repeat(padding));
        xml.push_str("</sheetData></worksheet>");
        xml.into_bytes()
    }

    fn over_limit_reason(result: Result<Vec<RawRow>, FisImportError>) -> String {
        match result {
            Err(FisImportError::OverLimit { reason, .. }) => reason,
            Err(other) => panic!("expected the file to be over a limit, got {other}"),
            Ok(rows) => panic!("expected the file to be over a limit, got {} rows", rows.len()),
        }
    }

    #[test]
    fn a_sheet_declaring_four_billion_rows_is_refused_before_any_cell_is_read() {
        // What killed the process: A1 and A4000000000 made the dense reader allocate 128 GB.
        let bytes = workbook_with_sheet(&sheet_xml(Some("A1:A4000000000"), &[("A1", "Фамилия"), ("A4000000000", "x")], 0));
        let reason = over_limit_reason(read_rows("fis.xlsx", &bytes, &FisLimits::default()));
        assert!(reason.contains("4000000000 rows") && reason.contains("10000"), "{reason}");
    }

    #[test]
    fn a_sheet_whose_dimension_lies_is_read_cell_by_cell_without_a_grid() {
        // No dimension declared, a cell four billion rows down: two rows, read sparsely.
        let bytes = workbook_with_sheet(&sheet_xml(None, &[("A1", "Фамилия"), ("B4000000000", "x")], 0));
        let rows = read_rows("fis.xlsx", &bytes, &FisLimits::default()).unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 4_000_000_000]);
        assert_eq!(rows[1].cells.len(), 2, "row 4000000000 holds column B only");
    }

    #[test]
    fn a_cell_beyond_the_column_limit_is_refused() {
        let bytes = workbook_with_sheet(&sheet_xml(None, &[("A1", "Фамилия"), ("XFD2", "x")], 0));
        let reason = over_limit_reason(read_rows("fis.xlsx", &bytes, &FisLimits::default()));
        assert!(reason.contains("column 16384") && reason.contains("256"), "{reason}");
    }

    #[test]
    fn a_zip_bomb_is_refused_by_its_inflated_size() {
        // 24 MB of sheet XML deflates to a few tens of KB; the archive declares the sizes honestly or
        // not, the parts are inflated (into nothing) and counted.
        let bytes = workbook_with_sheet(&sheet_xml(Some("A1:A1"), &[("A1", "Фамилия")], 24 * 1024 * 1024));
        assert!(bytes.len() < 1024 * 1024, "the bomb itself is small: {} bytes", bytes.len());
        let reason = over_limit_reason(read_rows("fis.xlsx", &bytes, &FisLimits::default()));
        assert!(reason.contains("inflates to more than 16 MiB"), "{reason}");
    }

    #[test]
    fn rows_past_the_limit_are_refused_in_csv_and_xlsx_and_at_the_limit_are_read() {
        let limits = FisLimits { max_rows: 3, ..FisLimits::default() };
        let csv = |n: usize| std::iter::once(HEADER).chain(std::iter::repeat_n(ROW, n)).collect::<Vec<_>>().join("\n").into_bytes();
        assert_eq!(read_rows("fis.csv", &csv(3), &limits).unwrap().len(), 4);
        let reason = over_limit_reason(read_rows("fis.csv", &csv(4), &limits));
        assert!(reason.contains("more than 3 rows"), "{reason}");

        let cells: Vec<(String, &str)> = (1..=5).map(|r| (format!("A{r}"), "x")).collect();
        let cells: Vec<(&str, &str)> = cells.iter().map(|(a, t)| (a.as_str(), *t)).collect();
        assert_eq!(read_rows("fis.xlsx", &workbook_with_sheet(&sheet_xml(None, &cells[..4], 0)), &limits).unwrap().len(), 4);
        let reason = over_limit_reason(read_rows("fis.xlsx", &workbook_with_sheet(&sheet_xml(None, &cells, 0)), &limits));
        assert!(reason.contains("more than 3 rows"), "{reason}");
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_by_name_and_code() {
        let limits = FisLimits { max_bytes: 64, ..FisLimits::default() };
        let bytes = format!("{HEADER}\n{ROW}\n").into_bytes();
        let roster = crate::Roster::from_json(
            "roster",
            br#"{"exam_id":"EX-1","site":"s","date":"2025-12-20","protocol_approved":true,"applications":[]}"#,
        )
        .unwrap();
        let err = crate::fis::import_fis_with_limits(&roster, "fis.csv", &bytes, &limits).unwrap_err();
        assert_eq!(err.code(), "fis_file_too_large");
        assert!(
            err.to_string().starts_with("fis.csv: the file is too large") && err.to_string().contains("over the limit of 64 bytes"),
            "{err}"
        );
    }
}
