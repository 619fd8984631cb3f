//! Property tests (proptest) of every parser the outside world feeds: the FIS FRDO file (CSV and XLSX),
//! the roster JSON, the code payload, the job message, the blank-pack CSV and scan intake (opening a scan
//! file and taking its pages out). Each gets arbitrary bytes and arbitrary-but-plausible structures (the
//! right headers and keys with wrong, hostile or half-right values; real files truncated or with bytes
//! flipped) and must answer with a value or its typed error, never a panic.
//!
//! Bounded for CI (128 to 1,000 cases each, a few seconds in all); a longer run sets `PROPTEST_CASES`
//! (20,000 each: about a minute):
//! `PROPTEST_CASES=20000 cargo test --workspace --test integration -- properties::` (README).

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{json, Value};

use certscan_domain::payload::{CertificatePayload, DocumentPayload, RegisterPagePayload};
use certscan_domain::{import_fis_with_limits, is_valid_id, FisImportError, FisLimits, Roster};
use certscan_pipeline::source::{PageImage, PageSource, SourceError, SourceOptions};
use certscan_workers::message::{JobMessage, MessageError};

use crate::support::{engine, sample};

/// `ci` cases, or `PROPTEST_CASES` when set (the longer run). Failures are printed, not persisted.
fn config(ci: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(ci);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// The roster every FIS FRDO file is checked against.
fn roster() -> &'static Roster {
    static ROSTER: OnceLock<Roster> = OnceLock::new();
    ROSTER.get_or_init(|| sample(71, 4).0)
}

/// Small limits, so a generated file can reach them.
const LIMITS: FisLimits = FisLimits { max_rows: 50, max_bytes: 256 * 1024 };

/// Text a hostile or careless file may hold in a cell.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{2,4}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "77-20[0-9]{2}-[0-9]{6}",
        "[=+@-][A-Z0-9(),.:]{0,10}",
        "[А-ЯЁа-яё]{1,12}",
        "\\PC{0,24}",
        "[\";,\\r\\n\\t ]{1,4}",
        Just("9".repeat(400)),
    ]
}

/// A FIS FRDO-like table: some of the real column names (in any order, some twice, some missing, an
/// unknown one), rows of the roster's people mixed with junk.
fn fis_table() -> impl Strategy<Value = Vec<Vec<String>>> {
    let columns = prop::sample::subsequence(
        vec!["Фамилия", "Имя", "Отчество", "Дата рождения", "Реестровый номер", "Дата выдачи", "application_id", "ФИО", "Номер"],
        0..=9,
    )
    .prop_shuffle();
    let person = prop::sample::select(roster().applications.clone());
    (columns, prop::collection::vec((person, prop::collection::vec(cell(), 9), any::<u8>()), 0..12)).prop_map(|(columns, rows)| {
        let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let mut table = vec![header];
        for (app, junk, mix) in rows {
            let row = columns
                .iter()
                .enumerate()
                .map(|(i, column)| {
                    // Mostly the person's own values, sometimes junk in their place.
                    if mix & (1 << (i % 8)) != 0 {
                        return junk[i].clone();
                    }
                    match *column {
                        "Фамилия" => app.surname.clone(),
                        "Имя" => app.name.clone(),
                        "Отчество" => app.patronymic.clone().unwrap_or_default(),
                        "Дата рождения" => app.birth_date.format("%d.%m.%Y").to_string(),
                        "application_id" => app.application_id.clone(),
                        "Дата выдачи" => "01.12.2026".to_string(),
                        _ => junk[i].clone(),
                    }
                })
                .collect();
            table.push(row);
        }
        table
    })
}

fn csv_bytes(table: &[Vec<String>], delimiter: u8, encoding: u8) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().delimiter(delimiter).flexible(true).from_writer(Vec::new());
    for row in table {
        writer.write_record(row).unwrap();
    }
    let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
    match encoding % 3 {
        0 => text.into_bytes(),
        1 => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        _ => encoding_rs::WINDOWS_1251.encode(&text).0.into_owned(),
    }
}

fn xlsx_bytes(table: &[Vec<String>], numbers: bool) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in table.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            match value.parse::<f64>() {
                Ok(n) if numbers && n.is_finite() => sheet.write_number(r as u32, c as u16, n).map(|_| ()),
                _ => sheet.write_string(r as u32, c as u16, value).map(|_| ()),
            }
            .unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

/// What a FIS FRDO import may answer: the records of every passed application, or a typed refusal.
fn check_fis(bytes: &[u8]) -> Result<(), TestCaseError> {
    match import_fis_with_limits(roster(), "fis", bytes, &LIMITS) {
        Ok(import) => prop_assert_eq!(import.records.len(), roster().passed().count(), "all-or-nothing: every passed application"),
        Err(e) => {
            prop_assert!(!e.code().is_empty() && !e.to_string().is_empty());
            if let FisImportError::Rows { rows, .. } = &e {
                prop_assert!(!rows.is_empty(), "a refusal for rows names at least one");
                prop_assert!(rows.iter().all(|r| !r.code().is_empty()));
            }
        }
    }
    Ok(())
}

/// Flips, cuts and splices: what a damaged copy of a real file looks like.
fn damage(bytes: &[u8], cut: f64, flips: &[(f64, u8)]) -> Vec<u8> {
    let mut out = bytes[..((bytes.len() as f64 * cut) as usize).clamp(1, bytes.len())].to_vec();
    let len = out.len();
    for (at, value) in flips {
        out[((len as f64 * at) as usize).min(len - 1)] = *value;
    }
    out
}

fn flips() -> impl Strategy<Value = Vec<(f64, u8)>> {
    prop::collection::vec((0.0..1.0f64, any::<u8>()), 0..12)
}

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::String),
        "[A-Za-z0-9_-]{1,70}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with the given keys (each present or not, with a plausible or any value) and maybe a
/// stray key.
fn object_with(keys: &'static [(&'static str, &'static str)]) -> impl Strategy<Value = Value> {
    let fields = keys
        .iter()
        .map(|(key, pattern)| {
            let plausible = proptest::string::string_regex(pattern).unwrap().prop_map(Value::String).boxed();
            (any::<u8>(), prop_oneof![3 => plausible, 1 => json_value()])
                .prop_map(move |(present, value)| (present % 5 != 0).then(|| (key.to_string(), value)))
        })
        .collect::<Vec<_>>();
    (fields, prop::option::of(("[a-z_]{1,10}", json_value()))).prop_map(|(fields, stray)| {
        let mut object: serde_json::Map<String, Value> = fields.into_iter().flatten().collect();
        if let Some((k, v)) = stray {
            object.insert(k, v);
        }
        Value::Object(object)
    })
}

fn application() -> impl Strategy<Value = Value> {
    object_with(&[
        ("application_id", "[A-Za-z0-9_-]{1,70}"),
        ("surname", "[А-Яа-я]{1,12}"),
        ("name", "[А-Яа-я]{1,12}"),
        ("patronymic", "[А-Яа-я]{0,12}"),
        ("birth_date", "(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}"),
        ("outcome", "(passed|failed|pending|no_show|violation|PASSED|absent)"),
    ])
}

fn roster_json() -> impl Strategy<Value = Value> {
    (
        object_with(&[("exam_id", "[A-Za-z0-9_-]{1,70}"), ("site", "\\PC{0,30}"), ("date", "20[0-9]{2}-[0-9]{2}-[0-9]{2}")]),
        prop::option::of(any::<bool>()),
        prop::collection::vec(application(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(mut roster, approved, applications, duplicate)| {
            let mut applications = applications;
            if duplicate && !applications.is_empty() {
                applications.push(applications[0].clone());
            }
            if let Some(approved) = approved {
                roster["protocol_approved"] = json!(approved);
            }
            roster["applications"] = Value::Array(applications);
            roster
        })
}

fn job_message_json() -> impl Strategy<Value = Value> {
    (
        object_with(&[
            ("job_id", "[A-Za-z0-9_.-]{0,70}"),
            ("exam_id", "[A-Za-z0-9_ -]{0,70}"),
            ("object_key", "(/|\\.\\./)?[a-z/.]{0,20}"),
            ("file_name", "\\PC{0,20}"),
            ("application_id", "[A-Za-z0-9_<>-]{0,70}"),
            ("submitted_by", "\\PC{0,10}"),
        ]),
        prop_oneof![Just(json!(1)), Just(json!(2)), Just(json!(0)), Just(json!("1")), Just(Value::Null), json_value()],
        any::<bool>(),
    )
        .prop_map(|(mut message, version, with_version)| {
            if with_version {
                message["schema_version"] = version;
            }
            message
        })
}

/// Small real scan files to damage: a PNG, a JPEG, a TIFF and a one-page PDF.
fn scan_files() -> &'static [Vec<u8>] {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let image = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128])));
        let mut files = Vec::new();
        for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg, image::ImageFormat::Tiff] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            image.write_to(&mut bytes, format).unwrap();
            files.push(bytes.into_inner());
        }
        let (_, certificates) = sample(72, 1);
        let template = certscan_templates::reference();
        files.push(certscan_templates::render_certificates(&template, &certificates, certscan_templates::PrintOffset::default()).unwrap());
        files
    })
}

/// Opens `bytes` as a scan and takes every page out (small pages: pixel cap and render dpi low).
fn check_scan(bytes: &[u8]) -> Result<(), TestCaseError> {
    let options = SourceOptions { max_pixels: 2_000_000, render_dpi: 40.0, default_dpi: 300.0, ..SourceOptions::default() };
    match PageSource::open(bytes, Some(engine()), options) {
        Ok(mut source) => {
            let mut pages = 0;
            while let Some(encoded) = source.next_encoded() {
                pages += 1;
                match encoded.decode() {
                    PageImage::Decoded(page) => prop_assert!(page.image.width() > 0 && page.image.height() > 0),
                    PageImage::Unreadable { reason, .. } => prop_assert!(!reason.is_empty()),
                }
                if pages >= 4 {
                    break;
                }
            }
        }
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            if bytes.is_empty() {
                prop_assert!(matches!(e, SourceError::Empty));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn fis_files_of_any_bytes_are_refused_with_a_typed_error(bytes in prop::collection::vec(any::<u8>(), 0..4096), zip in any::<bool>()) {
        let bytes = if zip { [b"PK\x03\x04".as_slice(), &bytes].concat() } else { bytes };
        check_fis(&bytes)?;
    }

    #[test]
    fn fis_csv_tables_of_plausible_rows_import_whole_or_are_refused_with_their_rows(
        table in fis_table(), delimiter in prop::sample::select(vec![b';', b',', b'\t']), encoding in any::<u8>()
    ) {
        check_fis(&csv_bytes(&table, delimiter, encoding))?;
    }

    #[test]
    fn fis_xlsx_sheets_whole_or_damaged_import_whole_or_are_refused(
        table in fis_table(), numbers in any::<bool>(), cut in 0.0..1.0f64, flips in flips(), damaged in any::<bool>()
    ) {
        let xlsx = xlsx_bytes(&table, numbers);
        let bytes = if damaged { damage(&xlsx, cut.max(0.5), &flips) } else { xlsx };
        check_fis(&bytes)?;
    }

    #[test]
    fn roster_json_of_any_bytes_or_shape_parses_to_a_valid_roster_or_a_typed_error(
        value in roster_json(), bytes in prop::collection::vec(any::<u8>(), 0..512), raw in any::<bool>()
    ) {
        let input = if raw { bytes } else { serde_json::to_vec(&value).unwrap() };
        match Roster::from_json("roster", &input) {
            Ok(roster) => {
                prop_assert!(is_valid_id(&roster.exam_id));
                prop_assert!(roster.applications.iter().all(|a| is_valid_id(&a.application_id)));
                let mut ids: Vec<&str> = roster.applications.iter().map(|a| a.application_id.as_str()).collect();
                ids.sort_unstable();
                ids.dedup();
                prop_assert_eq!(ids.len(), roster.applications.len(), "application ids are unique");
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn job_messages_of_any_bytes_or_shape_parse_to_a_valid_message_or_a_typed_error(
        value in job_message_json(), bytes in prop::collection::vec(any::<u8>(), 0..512), raw in any::<bool>()
    ) {
        let input = if raw { bytes } else { serde_json::to_vec(&value).unwrap() };
        match JobMessage::from_json(&input) {
            Ok(message) => {
                prop_assert_eq!(message.schema_version, 1);
                prop_assert!(is_valid_id(&message.job_id) && is_valid_id(&message.exam_id));
                prop_assert!(message.application_id.as_deref().is_none_or(is_valid_id));
                prop_assert!(!message.object_key.is_empty() && !message.object_key.contains("..") && !message.object_key.starts_with('/'));
                prop_assert_eq!(JobMessage::from_json(&message.to_json()).unwrap(), message);
            }
            Err(MessageError::Malformed(reason)) => prop_assert!(!reason.is_empty()),
            Err(MessageError::UnknownVersion(v)) => prop_assert_ne!(v, 1),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn blank_pack_csv_of_any_bytes_or_rows_gives_packs_or_the_bad_line(
        rows in prop::collection::vec(prop::collection::vec(prop_oneof![cell(), "[0-9]{2}", "[0-9]{7}", "20[0-9]{2}-[0-9]{2}-[0-9]{2}"], 0..6), 0..8),
        header in prop::sample::subsequence(vec!["series", "first", "last", "received_on", "note", "other"], 0..=6),
        bytes in prop::collection::vec(any::<u8>(), 0..512), raw in any::<bool>()
    ) {
        let input = if raw {
            bytes
        } else {
            let mut table = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
            table.extend(rows);
            csv_bytes(&table, b',', 0)
        };
        match certscan_domain::ledger::packs_from_csv("packs.csv", &input) {
            Ok(packs) => prop_assert!(packs.iter().all(|p| p.size() >= 1 && p.series.len() == 2)),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn code_payloads_of_any_text_parse_only_when_exactly_ours(text in "\\PC{0,120}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        for candidate in [text, String::from_utf8_lossy(&bytes).into_owned()] {
            if let Ok(parsed) = DocumentPayload::parse(&candidate) {
                // Only a text we could have printed parses: it encodes back to itself.
                let again = match &parsed {
                    DocumentPayload::Certificate(c) => vec![c.encode_v1(), c.encode_v2()],
                    DocumentPayload::RegisterPage(r) => vec![r.encode()],
                };
                // (A scanner's trailing line break is forgiven.)
                let printed = candidate.trim_end_matches(['\r', '\n']).to_string();
                prop_assert!(again.contains(&printed), "{candidate:?} parsed as {parsed:?}");
            }
        }
    }

    #[test]
    fn code_payloads_in_the_grammar_round_trip_and_any_change_is_caught(
        exam in "[A-Za-z0-9_-]{1,64}", application in "[A-Za-z0-9_-]{1,64}", number in "[A-Za-z0-9|%/ -]{1,30}",
        fields in prop::collection::vec("[A-Za-z0-9%|-]{0,12}", 0..9), at in any::<prop::sample::Index>(), to in any::<char>(),
        version in 1u32..20, page in 1u32..50, rows in (1u32..500, 0u32..30)
    ) {
        let certificate = CertificatePayload { exam_id: exam.clone(), application_id: application, registration_number: number };
        for text in [certificate.encode_v1(), certificate.encode_v2()] {
            prop_assert_eq!(CertificatePayload::parse(&text), Ok(certificate.clone()));
            // One character changed: either the same text, or not a valid payload of another meaning.
            let mut chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len());
            chars[i] = to;
            let changed: String = chars.into_iter().collect();
            match DocumentPayload::parse(&changed) {
                Ok(DocumentPayload::Certificate(same)) => prop_assert_eq!(same, certificate.clone(), "{:?} from {:?}", changed, text),
                Ok(other) => prop_assert!(false, "{changed:?} (from {text:?}) parsed as {other:?}"),
                Err(_) => {}
            }
        }
        let register = RegisterPagePayload {
            exam_id: exam, document_id: "d0c".into(), version, page: page.min(9), pages: 9, first_row: rows.0, last_row: rows.0 + rows.1,
        };
        prop_assert_eq!(RegisterPagePayload::parse(&register.encode()), Ok(register.clone()));
        // Grammar-shaped junk: the right magic and kind, fields of any kind.
        for magic in ["CS1|CERT|", "CS2|CERT|", "CS2|REG|"] {
            let text = format!("{magic}{}", fields.join("|"));
            let _ = DocumentPayload::parse(&text);
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn scan_intake_of_any_bytes_refuses_with_a_typed_error(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        magic in prop::sample::select(vec![&b""[..], &b"%PDF-1.7\n"[..], &b"\xFF\xD8\xFF\xE0"[..], &b"\x89PNG\r\n\x1a\n"[..], &b"II*\0"[..], &b"MM\0*"[..]]),
    ) {
        check_scan(&[magic, &bytes].concat())?;
    }

    #[test]
    fn scan_intake_of_damaged_real_files_yields_pages_or_typed_errors(
        which in 0usize..4, cut in 0.0..1.0f64, flips in flips(), whole in any::<bool>()
    ) {
        let file = &scan_files()[which];
        let bytes = if whole { file.clone() } else { damage(file, cut, &flips) };
        check_scan(&bytes)?;
    }
}
