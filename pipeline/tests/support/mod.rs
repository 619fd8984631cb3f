//! Synthetic scans for the pipeline's tests: certificates rendered by the real renderer and PDFium, the
//! blank's pre-printed frame and number drawn in, then turned, skewed, shifted, stamped, noised and
//! JPEG-compressed the way a scanner and careless hands would. Deterministic (no randomness beyond a
//! fixed-seed generator).
#![allow(dead_code)]

use std::io::{Cursor, Write as _};
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use chrono::NaiveDate;
use image::{Rgb, RgbImage};

use certscan_domain::Certificate;
use certscan_pipeline::PdfEngine;
use certscan_templates::{reference, render_certificates, PrintOffset, Template};

pub fn engine() -> &'static PdfEngine {
    PdfEngine::bind(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.pdfium/libpdfium.so"))).expect("PDFium binds")
}

pub fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(reference)
}

pub fn certificate(i: usize) -> Certificate {
    Certificate {
        exam_id: "EX-2025-000417".into(),
        site: "ЦОК Москва".into(),
        exam_date: NaiveDate::from_ymd_opt(2025, 3, 14).unwrap(),
        application_id: format!("A-{:06}", 100 + i),
        full_name: ["Иванова Мария Петровна", "Смирнов Алексей Игоревич", "Ким Виктор Сергеевич"][i % 3].into(),
        registration_number: format!("77-2025-{:06}", 500 + i),
        issue_date: NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(),
    }
}

pub fn blank_number(i: usize) -> String {
    format!("77 {:07}", 12345 + i)
}

/// A certificate printed on a blank: certscan's print rendered by PDFium at `dpi`, plus the blank's
/// frame and its pre-printed number (dark ink).
pub fn printed_page(i: usize, dpi: f32) -> RgbImage {
    static PDFS: OnceLock<std::sync::Mutex<std::collections::HashMap<usize, Vec<u8>>>> = OnceLock::new();
    let pdf = {
        let mut cache = PDFS.get_or_init(Default::default).lock().unwrap();
        cache.entry(i).or_insert_with(|| render_certificates(template(), &[certificate(i)], PrintOffset::default()).unwrap()).clone()
    };
    let mut page = engine().render_page(&pdf, 0, dpi).unwrap();
    let px = dpi / 25.4;
    // The code exactly where the renderer puts it (drawn here too, so these tests do not depend on how
    // the PDF paints it).
    let code = qrcode::QrCode::with_error_correction_level(certificate(i).payload().encode().as_bytes(), qrcode::EcLevel::Q).unwrap();
    let n = code.width();
    let spec = &template().code;
    let module = spec.size_mm / n as f32;
    let colors = code.to_colors();
    for row in 0..n {
        for col in 0..n {
            if colors[row * n + col] == qrcode::Color::Dark {
                let (x, y) = (spec.x_mm + col as f32 * module, spec.y_mm + row as f32 * module);
                fill_rect(&mut page, x * px, y * px, (x + module) * px, (y + module) * px, Rgb([0, 0, 0]));
            }
        }
    }
    // The frame: a 1.2 mm line inside the 10 mm margin.
    let (w, h) = (page.width() as f32, page.height() as f32);
    fill_rect(&mut page, 10.0 * px, 10.0 * px, w - 10.0 * px, 11.2 * px, Rgb([40, 40, 40]));
    fill_rect(&mut page, 10.0 * px, h - 11.2 * px, w - 10.0 * px, h - 10.0 * px, Rgb([40, 40, 40]));
    fill_rect(&mut page, 10.0 * px, 10.0 * px, 11.2 * px, h - 10.0 * px, Rgb([40, 40, 40]));
    fill_rect(&mut page, w - 11.2 * px, 10.0 * px, w - 10.0 * px, h - 10.0 * px, Rgb([40, 40, 40]));
    // The title, pre-printed.
    draw_text(&mut page, "СЕРТИФИКАТ", 62.0 * px, 44.0 * px, 8.0 * px, Rgb([60, 30, 30]));
    // The number: digits 4.2 mm tall, dark blue.
    draw_text(&mut page, &blank_number(i), 140.0 * px, 22.0 * px, 4.2 * px, Rgb([25, 25, 80]));
    page
}

fn fill_rect(page: &mut RgbImage, x0: f32, y0: f32, x1: f32, y1: f32, colour: Rgb<u8>) {
    for y in y0.max(0.0) as u32..(y1 as u32).min(page.height()) {
        for x in x0.max(0.0) as u32..(x1 as u32).min(page.width()) {
            page.put_pixel(x, y, colour);
        }
    }
}

/// Draws text with its baseline at `baseline` and digits `cap_px` tall.
pub fn draw_text(page: &mut RgbImage, text: &str, x: f32, baseline: f32, cap_px: f32, colour: Rgb<u8>) {
    let font = FontRef::try_from_slice(certscan_templates::fonts::DEJAVU_SANS_BOLD).unwrap();
    // DejaVu's digit height is ~0.73 em.
    let scale = PxScale::from(cap_px / 0.73);
    let scaled = font.as_scaled(scale);
    let mut caret = x;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(caret, baseline));
        caret += scaled.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let (px, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                if px >= 0 && py >= 0 && (px as u32) < page.width() && (py as u32) < page.height() && cov > 0.05 {
                    let old = page.get_pixel(px as u32, py as u32).0;
                    let mix = |o: u8, n: u8| (o as f32 * (1.0 - cov) + n as f32 * cov) as u8;
                    page.put_pixel(
                        px as u32,
                        py as u32,
                        Rgb([mix(old[0], colour.0[0]), mix(old[1], colour.0[1]), mix(old[2], colour.0[2])]),
                    );
                }
            });
        }
    }
}

/// What the scanner and handling do to a printed page.
#[derive(Debug, Clone, Copy)]
pub struct Scan {
    /// Clockwise quarter turn.
    pub orientation: u32,
    /// Degrees clockwise.
    pub skew_deg: f32,
    /// Paper shift on the bed, mm.
    pub shift_mm: (f32, f32),
    /// Gaussian-ish noise amplitude (0 = none).
    pub noise: u8,
    /// A blue round stamp centred here (mm on the upright sheet).
    pub stamp_at: Option<(f32, f32)>,
    /// JPEG quality, if compressed.
    pub jpeg_quality: Option<u8>,
    /// Grey paper / lighting: paper level (255 = white).
    pub paper: u8,
}

impl Default for Scan {
    fn default() -> Self {
        Scan { orientation: 0, skew_deg: 0.0, shift_mm: (0.0, 0.0), noise: 0, stamp_at: None, jpeg_quality: None, paper: 255 }
    }
}

/// Simulates scanning `printed` (an upright page at `dpi`).
pub fn scan(printed: &RgbImage, dpi: f32, s: &Scan) -> RgbImage {
    let mut sheet = printed.clone();
    let px = dpi / 25.4;
    if let Some((cx, cy)) = s.stamp_at {
        stamp(&mut sheet, cx * px, cy * px, 20.0 * px);
    }
    let (w, h) = (sheet.width() as f64, sheet.height() as f64);
    let (ow, oh) = if s.orientation % 180 == 90 { (sheet.height(), sheet.width()) } else { (sheet.width(), sheet.height()) };
    let theta = (s.orientation as f64 + s.skew_deg as f64).to_radians();
    let (sin, cos) = theta.sin_cos();
    let (cx, cy) = (ow as f64 / 2.0 + s.shift_mm.0 as f64 * px as f64, oh as f64 / 2.0 + s.shift_mm.1 as f64 * px as f64);
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut out = RgbImage::new(ow, oh);
    for y in 0..oh {
        for x in 0..ow {
            // Inverse rotation about the centres.
            let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
            let sx = cos * dx + sin * dy + w / 2.0 - 0.5;
            let sy = -sin * dx + cos * dy + h / 2.0 - 0.5;
            let mut p = if sx >= 0.0 && sy >= 0.0 && sx < w - 1.0 && sy < h - 1.0 { bilinear(&sheet, sx, sy) } else { [255.0; 3] };
            let paper = s.paper as f64 / 255.0;
            for c in p.iter_mut() {
                *c *= paper;
            }
            if s.noise > 0 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let n = ((rng % (2 * s.noise as u64 + 1)) as f64) - s.noise as f64;
                for c in p.iter_mut() {
                    *c += n;
                }
            }
            out.put_pixel(x, y, Rgb(p.map(|v| v.round().clamp(0.0, 255.0) as u8)));
        }
    }
    match s.jpeg_quality {
        Some(q) => image::load_from_memory(&jpeg(&out, q)).unwrap().into_rgb8(),
        None => out,
    }
}

fn bilinear(img: &RgbImage, x: f64, y: f64) -> [f64; 3] {
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (fx, fy) = (x - x0 as f64, y - y0 as f64);
    let p = |x, y| img.get_pixel(x, y).0.map(|v| v as f64);
    let (a, b, c, d) = (p(x0, y0), p(x0 + 1, y0), p(x0, y0 + 1), p(x0 + 1, y0 + 1));
    let mut out = [0.0; 3];
    for k in 0..3 {
        let top = a[k] + (b[k] - a[k]) * fx;
        let bottom = c[k] + (d[k] - c[k]) * fx;
        out[k] = top + (bottom - top) * fy;
    }
    out
}

/// A blue stamp: a 1 mm ring, an inner ring and some strokes, multiplied over the page like ink.
fn stamp(page: &mut RgbImage, cx: f32, cy: f32, r: f32) {
    let ink = [70.0f32, 90.0, 210.0];
    let line = r / 20.0;
    for y in (cy - r - 2.0).max(0.0) as u32..((cy + r + 2.0) as u32).min(page.height()) {
        for x in (cx - r - 2.0).max(0.0) as u32..((cx + r + 2.0) as u32).min(page.width()) {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            let ring = (d - r).abs() < line || (d - r * 0.7).abs() < line * 0.6;
            let stroke =
                d < r * 0.6 && ((y as f32 - cy) / (line * 3.0)).rem_euclid(3.0) < 0.6 && ((x as f32 - cx) / line).rem_euclid(7.0) < 4.0;
            if ring || stroke {
                let p = page.get_pixel_mut(x, y);
                for (channel, ink) in p.0.iter_mut().zip(ink) {
                    *channel = (*channel as f32 * ink / 255.0) as u8;
                }
            }
        }
    }
}

pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img).unwrap();
    out
}

/// A PDF as a scanner writes it: one full-page DCT (JPEG) image per A4 page.
pub fn scanner_pdf(pages: &[Vec<u8>], dims: &[(u32, u32)]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let mut offsets = Vec::new();
    out.extend_from_slice(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    let n = pages.len();
    // Objects: 1 catalog, 2 pages, then per page: page, content, image.
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 3 + i * 3)).collect();
    let obj = |out: &mut Vec<u8>, offsets: &mut Vec<usize>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(body);
    };
    obj(&mut out, &mut offsets, b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    obj(&mut out, &mut offsets, format!("2 0 obj\n<< /Type /Pages /Kids [{}] /Count {n} >>\nendobj\n", kids.join(" ")).as_bytes());
    for (i, (data, &(w, h))) in pages.iter().zip(dims).enumerate() {
        let (page_id, content_id, image_id) = (3 + i * 3, 4 + i * 3, 5 + i * 3);
        // The page is A4 in the image's orientation.
        let (pw, ph) = if w > h { (842.0, 595.0) } else { (595.0, 842.0) };
        obj(
            &mut out,
            &mut offsets,
            format!(
                "{page_id} 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw} {ph}] /Resources << /XObject << /Im0 {image_id} 0 R >> >> /Contents {content_id} 0 R >>\nendobj\n"
            )
            .as_bytes(),
        );
        let content = format!("q {pw} 0 0 {ph} 0 0 cm /Im0 Do Q");
        obj(
            &mut out,
            &mut offsets,
            format!("{content_id} 0 obj\n<< /Length {} >>\nstream\n{content}\nendstream\nendobj\n", content.len()).as_bytes(),
        );
        let mut body = Vec::new();
        write!(
            body,
            "{image_id} 0 obj\n<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>\nstream\n",
            data.len()
        )
        .unwrap();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream\nendobj\n");
        obj(&mut out, &mut offsets, &body);
    }
    let xref_at = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).unwrap();
    for o in &offsets {
        writeln!(out, "{o:010} 00000 n ").unwrap();
    }
    write!(out, "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n", offsets.len() + 1).unwrap();
    out
}

/// A multi-page TIFF (RGB, uncompressed) with a resolution tag.
pub fn tiff(pages: &[RgbImage], dpi: u32) -> Vec<u8> {
    use tiff::encoder::{colortype, Rational, TiffEncoder};
    let mut out = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).unwrap();
    for page in pages {
        let mut image = encoder.new_image::<colortype::RGB8>(page.width(), page.height()).unwrap();
        image.resolution(tiff::tags::ResolutionUnit::Inch, Rational { n: dpi, d: 1 });
        image.write_data(page.as_raw()).unwrap();
    }
    out.into_inner()
}
