//! Calibration: a printer offset moves everything printed by exactly that many millimetres (measured on
//! the rendering), and the calibration sheet carries its crosshairs where it says.

use certscan_calibration::{render_sheet, PrinterProfile, CROSSHAIRS};
use certscan_templates::{reference, render_certificates, PrintOffset};

use crate::support::{dark_bbox, engine, gray, sample};

const DPI: f32 = 254.0; // 10 px per mm

#[test]
fn a_stored_printer_offset_moves_the_rendered_certificate_by_that_many_millimetres() {
    let (_, certificates) = sample(5, 3);
    let dir = tempfile::tempdir().unwrap();
    PrinterProfile::new("office", 3.0, -2.5, 1.0).unwrap().store(dir.path()).unwrap();
    let offset = PrinterProfile::load(dir.path(), "office").unwrap().offset();
    let template = reference();
    let plain = render_certificates(&template, &certificates[..1], PrintOffset::default()).unwrap();
    let shifted = render_certificates(&template, &certificates[..1], offset).unwrap();
    let engine = engine();
    let a = dark_bbox(&gray(&engine.render_page(&plain, 0, DPI).unwrap()), 128).unwrap();
    let b = dark_bbox(&gray(&engine.render_page(&shifted, 0, DPI).unwrap()), 128).unwrap();
    let (dx_px, dy_px) = (b.0 as i64 - a.0 as i64, b.1 as i64 - a.1 as i64);
    assert!((dx_px - 30).abs() <= 1, "moved {dx_px} px right, expected 30 (3 mm)");
    assert!((dy_px + 25).abs() <= 1, "moved {dy_px} px down, expected -25 (2.5 mm up)");
    assert!(((b.2 as i64 - a.2 as i64) - 30).abs() <= 1, "the right edge moved as much as the left");
}

#[test]
fn the_calibration_sheet_draws_its_crosshairs_at_their_stated_positions() {
    let sheet = render_sheet(&reference(), "office", PrintOffset::default());
    let engine = engine();
    assert_eq!(engine.page_count(&sheet).unwrap(), 1);
    let page = gray(&engine.render_page(&sheet, 0, DPI).unwrap());
    for (name, x, y) in CROSSHAIRS {
        let (cx, cy) = ((x * 10.0) as u32, (y * 10.0) as u32);
        // The arms: dark pixels 4 mm left/right/up/down of the centre, on the cross's lines.
        for (px, py) in [(cx - 40, cy), (cx + 40, cy), (cx, cy - 40), (cx, cy + 40)] {
            let dark = (0..3).flat_map(|d| [(px, py + d - 1), (px + d - 1, py)]).any(|(x, y)| page.get_pixel(x, y).0[0] < 128);
            assert!(dark, "crosshair {name}: no arm at ({px},{py})");
        }
    }
    let text = engine.page_text(&sheet, 0).unwrap();
    assert!(text.contains("office") && text.contains("Лист калибровки"), "{text}");
}
