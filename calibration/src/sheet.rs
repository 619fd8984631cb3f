//! The calibration sheet: printed (at 100 %, A4 portrait) on a paper copy of the blank, it shows how far
//! this printer lands from where the PDF puts things. Millimetre rulers along two edges, crosshairs at
//! known positions, and the outlines of the blank's pre-printed zones and of the code. Drawn with the
//! printer's current offset, so a second sheet after calibrating checks the correction.

use certscan_templates::draw::Document;
use certscan_templates::{FontKind, PrintOffset, Rect, Template};

/// Crosshairs at known positions (name, x mm, y mm from the sheet's top-left corner).
pub const CROSSHAIRS: [(&str, f32, f32); 5] =
    [("A", 30.0, 60.0), ("B", 180.0, 60.0), ("C", 30.0, 225.0), ("D", 180.0, 225.0), ("E", 105.0, 148.5)];

/// Arm length of a crosshair, mm.
const ARM: f32 = 6.0;

/// A one-page PDF calibration sheet for `printer`, drawn with `offset` applied.
pub fn render_sheet(template: &Template, printer: &str, offset: PrintOffset) -> Vec<u8> {
    let mut doc = Document::new("Calibration sheet");
    let (w, h) = (template.page.width_mm, template.page.height_mm);
    let mut c = doc.canvas(w, h, offset);

    // Rulers: a tick every mm, longer every 5, labelled every 10, along the top and left of the printable area.
    let area = template.printable.rect;
    let (x0, y0) = (area.x, area.y + 40.0);
    for mm in 0..=(area.w as i32) {
        let x = x0 + mm as f32;
        let len = if mm % 10 == 0 {
            4.0
        } else if mm % 5 == 0 {
            2.5
        } else {
            1.5
        };
        c.line(x, y0, x, y0 + len, 0.3);
        if mm % 10 == 0 && mm > 0 {
            c.text(FontKind::Regular, 5.0, x - 1.5, y0 + 7.0, &format!("{}", x as i32));
        }
    }
    for mm in 0..=((area.h - 40.0) as i32) {
        let y = y0 + mm as f32;
        let len = if mm % 10 == 0 {
            4.0
        } else if mm % 5 == 0 {
            2.5
        } else {
            1.5
        };
        c.line(x0, y, x0 + len, y, 0.3);
        if mm % 10 == 0 && mm > 0 {
            c.text(FontKind::Regular, 5.0, x0 + 5.0, y + 1.0, &format!("{}", y as i32));
        }
    }

    for (name, x, y) in CROSSHAIRS {
        c.line(x - ARM, y, x + ARM, y, 0.4);
        c.line(x, y - ARM, x, y + ARM, 0.4);
        c.outline(Rect { x: x - 1.0, y: y - 1.0, w: 2.0, h: 2.0 }, 0.3);
        c.text(FontKind::Bold, 7.0, x + 1.5, y - 1.5, &format!("{name} ({x:.1}; {y:.1})"));
    }

    // The zones of the blank, in red, so they can be compared with what the print house printed.
    c.color(0.8, 0.0, 0.0);
    for zone in &template.blank.keep_clear {
        c.outline(zone.rect, 0.5);
        c.text(FontKind::Regular, 6.0, zone.rect.x + 1.0, zone.rect.bottom() - 1.5, &zone.name);
    }
    c.color(0.0, 0.0, 0.6);
    c.outline(template.code.symbol_rect(), 0.5);
    c.text(FontKind::Regular, 6.0, template.code.x_mm + 1.0, template.code.y_mm + 4.0, "QR");
    c.color(0.0, 0.0, 0.0);

    let lines = [
        format!("Лист калибровки: принтер «{printer}», бланк «{}»", template.id),
        format!("Напечатано со смещением dx = {:+.1} мм, dy = {:+.1} мм, масштаб {:.3}", offset.dx_mm, offset.dy_mm, offset.scale),
        "Печатайте на копии бланка: A4, книжная, масштаб 100 %. Линейкой измерьте, где легли перекрестия".to_string(),
        "от левого и верхнего края листа. Новое смещение = текущее минус отклонение. Пример: легло на 1,5 мм".to_string(),
        format!(
            "правее и на 1 мм ниже метки: certscan calibrate --printer {printer} --dx {:.1} --dy {:.1}",
            offset.dx_mm - 1.5,
            offset.dy_mm - 1.0
        ),
    ];
    for (i, line) in lines.iter().enumerate() {
        c.text(FontKind::Regular, 7.5, 40.0, 160.0 + i as f32 * 5.0, line);
    }
    doc.add_page(c);
    doc.finish()
}
