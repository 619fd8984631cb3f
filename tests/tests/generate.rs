//! `generate`: the certificates PDF read back with PDFium — one page per passed application, each page's
//! code decodes to its own payload, the text carries the registration number and the Cyrillic name, and
//! nothing lands on the blank's pre-printed zones.

use certscan_domain::CertificatePayload;
use certscan_pipeline::qr::decode_all;
use certscan_templates::{reference, render_certificates, PrintOffset};

use crate::support::{dark_bbox, engine, gray, sample};

#[test]
fn every_passed_application_gets_one_page_whose_code_and_text_are_its_own() {
    let (roster, certificates) = sample(7, 12);
    assert_eq!(certificates.len(), roster.passed().count());
    let pdf = render_certificates(&reference(), &certificates, PrintOffset::default()).unwrap();
    let engine = engine();
    assert_eq!(engine.page_count(&pdf).unwrap(), certificates.len());
    let sizes = engine.page_sizes_mm(&pdf).unwrap();
    for (i, cert) in certificates.iter().enumerate() {
        let (w, h) = sizes[i];
        assert!((w - 210.0).abs() < 0.5 && (h - 297.0).abs() < 0.5, "page {} is {w}x{h} mm, not A4 portrait", i + 1);
        let page = engine.render_page(&pdf, i, 150.0).unwrap();
        let codes = decode_all(&gray(&page));
        assert_eq!(codes.len(), 1, "page {}: one code expected", i + 1);
        let payload = CertificatePayload::parse(&codes[0].text).unwrap();
        assert_eq!(payload, cert.payload(), "page {}", i + 1);
        let text = engine.page_text(&pdf, i).unwrap();
        assert!(text.contains(&cert.registration_number), "page {}: {text}", i + 1);
        assert!(text.contains(&cert.full_name), "page {}: the Cyrillic name is not in the text: {text}", i + 1);
    }
}

#[test]
fn the_code_is_at_least_20_mm_with_a_clear_quiet_zone() {
    let (_, certificates) = sample(3, 4);
    let template = reference();
    let pdf = render_certificates(&template, &certificates[..1], PrintOffset::default()).unwrap();
    let dpi = 254.0; // 10 px per mm
    let page = gray(&engine().render_page(&pdf, 0, dpi).unwrap());
    let code = &decode_all(&page)[0];
    let xs: Vec<i32> = code.corners.iter().map(|c| c.0).collect();
    let side_px = xs.iter().max().unwrap() - xs.iter().min().unwrap();
    assert!(side_px as f32 / 10.0 >= 20.0, "code side {} mm", side_px as f32 / 10.0);
    // Quiet zone: 4 modules (at least 3 mm here) of white around the symbol.
    let (x0, y0, x1, y1) = (
        *xs.iter().min().unwrap(),
        code.corners.iter().map(|c| c.1).min().unwrap(),
        *xs.iter().max().unwrap(),
        code.corners.iter().map(|c| c.1).max().unwrap(),
    );
    let margin = 30; // 3 mm
    for y in (y0 - margin)..(y1 + margin) {
        for x in (x0 - margin)..(x1 + margin) {
            let inside = x >= x0 - 2 && x <= x1 + 2 && y >= y0 - 2 && y <= y1 + 2;
            if !inside {
                assert!(page.get_pixel(x as u32, y as u32).0[0] > 200, "dark pixel in the quiet zone at ({x},{y})");
            }
        }
    }
}

#[test]
fn nothing_is_printed_over_the_pre_printed_zones_of_the_blank() {
    let (_, certificates) = sample(11, 10);
    let template = reference();
    let pdf = render_certificates(&template, &certificates, PrintOffset::default()).unwrap();
    let px_per_mm = 4.0; // 101.6 dpi
    let engine = engine();
    for i in 0..certificates.len() {
        let page = gray(&engine.render_page(&pdf, i, px_per_mm * 25.4).unwrap());
        for zone in &template.blank.keep_clear {
            let r = zone.rect;
            let crop = image::imageops::crop_imm(
                &page,
                (r.x * px_per_mm) as u32,
                (r.y * px_per_mm) as u32,
                (r.w * px_per_mm) as u32,
                (r.h * px_per_mm) as u32,
            )
            .to_image();
            assert_eq!(dark_bbox(&crop, 230), None, "page {}: ink in the pre-printed zone {:?}", i + 1, zone.name);
        }
    }
}
