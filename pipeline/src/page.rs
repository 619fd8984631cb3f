//! One page, start to finish: blank-page check, the code (cheap pass first), the sheet's pose (from the
//! code, else from the page), the blank number, and the typed [`PageReading`]. When the cheap code pass
//! fails, the full code search and the page-pose OCR run side by side (`rayon::join`), since either may
//! be the one that places the page. Talks to `qr`, `orient`, `locate` and `ocr`; nothing else.

use std::time::Instant;

use certscan_domain::{is_certscan_code, CertificatePayload, PayloadError, RegisterPagePayload};
use certscan_templates::{fonts, Align, Rect, Template};

use crate::locate::SheetPose;
use crate::ocr::{read_blank_number, read_zone_line, search_margin_mm, BlankNumberReading, NumberImage, Ocr, OcrError};
use crate::orient::{orientation_from_page, pose_from_code, InkMap};
use crate::pixels::Pixels;
use crate::qr::{
    find_code, find_code_in_zones, second_decoder_certificate, CodeSearch, CodeSearchInput, CodeSearchOptions, FoundCode, QrStrategy,
    SearchStart,
};
use crate::raster;
use crate::register_page::{read_register_page, RegisterPageReading};
use crate::source::{DecodedPage, PageOrigin};

/// What a page reader does; the defaults suit 200–600 dpi scans of the reference blank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageOptions {
    pub code: CodeSearchOptions,
    /// Pages above this resolution are reduced by a whole factor to at most it first (400 dpi → 200,
    /// 600 → 300): more detail buys nothing and costs time.
    pub max_working_dpi: f32,
    /// A page with less inner ink than this share is blank (0.2 % ≈ a few specks).
    pub blank_ink_fraction: f32,
    /// Also OCR the printed registration-number line (a fallback identity when no code is read).
    pub read_registration_number: bool,
}

impl Default for PageOptions {
    fn default() -> Self {
        PageOptions {
            code: CodeSearchOptions::default(),
            max_working_dpi: 300.0,
            blank_ink_fraction: 0.002,
            read_registration_number: true,
        }
    }
}

/// The code read from a page.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeReading {
    pub text: String,
    /// The text parsed as a certscan payload, or why it is not one (a foreign or damaged code).
    pub payload: Result<CertificatePayload, PayloadError>,
    /// Symbol corners in page pixels (of the image as decoded), symbol order.
    pub corners: [(f64, f64); 4],
    pub strategy: QrStrategy,
}

/// How the page was straightened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Straightening {
    /// Pose fitted to the code's corners: orientation, skew, scale and position are measured.
    FromCode,
    /// Pose from the page's aspect, ink profile and text rows; `confirmed` when the blank number read
    /// in that orientation matched its pattern.
    FromPage { confirmed: bool },
    /// Nothing to straighten: blank or unreadable page.
    None,
}

/// Milliseconds spent per stage (wall clock; stages that ran side by side overlap).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PageTimings {
    pub decode_ms: f32,
    pub prepare_ms: f32,
    pub code_ms: f32,
    pub orient_ms: f32,
    pub ocr_ms: f32,
    pub total_ms: f32,
    /// Decode attempts the code search made.
    pub code_attempts: usize,
}

/// Everything read from one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageReading {
    /// 1-based page number in the file.
    pub page: usize,
    pub code: Option<CodeReading>,
    /// Clockwise quarter turn of the sheet as scanned (0, 90, 180, 270).
    pub orientation_deg: u32,
    /// Remaining rotation, degrees clockwise.
    pub skew_deg: f32,
    pub blank_number: Option<BlankNumberReading>,
    /// The blank number's image when the page's code was found (read through the code's pose, or through the
    /// page's own pose when that agreed with the code's), for the stack check; taken out by
    /// `process_scan` as the pages come in.
    pub number_image: Option<NumberImage>,
    /// OCR of the registration-number line, on a page whose code was not read; with
    /// [`PageReading::application_id_ocr`] the printed identity (see `matching::printed_identity`).
    pub registration_number_ocr: Option<String>,
    /// The glyph reader (the reader that is not Tesseract) on the same line, shaped like
    /// [`PageReading::registration_number_ocr`]: its separators, each digit the glyph reader's, `?` where
    /// it is not sure; None when it could not cut the line into those digits.
    pub registration_number_glyphs: Option<String>,
    /// OCR of the application line printed under the code («Заявка A-689377»), on a page whose code
    /// was not read.
    pub application_id_ocr: Option<String>,
    /// Almost no ink: a blank sheet in the stack.
    pub blank_page: bool,
    /// Why the page could not be decoded at all (then nothing else is set).
    pub unreadable: Option<String>,
    pub straightening: Straightening,
    /// Resolution the page was analysed at (measured from the code when there is one).
    pub dpi: f32,
    pub timings: PageTimings,
    /// A page of the issuance register (its code says so): what it is and its signature check. Such a
    /// page has no blank number; it goes to the register, not to an application.
    pub register: Option<RegisterPageReading>,
}

impl PageReading {
    pub(crate) fn empty(page: usize, dpi: f32) -> PageReading {
        PageReading {
            page,
            code: None,
            orientation_deg: 0,
            skew_deg: 0.0,
            blank_number: None,
            number_image: None,
            registration_number_ocr: None,
            registration_number_glyphs: None,
            application_id_ocr: None,
            blank_page: false,
            unreadable: None,
            straightening: Straightening::None,
            dpi,
            timings: PageTimings::default(),
            register: None,
        }
    }

    /// A page the source could not decode.
    pub fn unreadable(page: usize, reason: String) -> PageReading {
        PageReading { unreadable: Some(reason), ..PageReading::empty(page, 0.0) }
    }
}

fn ms(since: Instant) -> f32 {
    since.elapsed().as_secs_f32() * 1000.0
}

/// Reads a decoded page; an image file without a declared resolution gets its dpi from its size when
/// it has the template sheet's proportions.
pub fn read_decoded(page: &DecodedPage, template: &Template, ocr: &dyn Ocr, options: &PageOptions) -> Result<PageReading, OcrError> {
    let mut dpi = page.dpi;
    if page.origin == PageOrigin::ImageAssumedDpi {
        if let Some(estimate) = dpi_from_size(page.image.width(), page.image.height(), template) {
            dpi = estimate;
        }
    }
    let mut reading = read_page(&page.image, dpi, template, ocr, options)?;
    reading.page = page.page;
    Ok(reading)
}

/// The dpi at which the image is exactly the template's sheet, if its proportions are the sheet's (±4 %).
pub fn dpi_from_size(width: u32, height: u32, template: &Template) -> Option<f32> {
    let (short_px, long_px) = (width.min(height) as f32, width.max(height) as f32);
    let (short_mm, long_mm) = {
        let (w, h) = (template.page.width_mm, template.page.height_mm);
        (w.min(h), w.max(h))
    };
    let ratio = (long_px / short_px) / (long_mm / short_mm);
    ((0.96..=1.04).contains(&ratio)).then(|| short_px / short_mm * 25.4)
}

/// Reads one page image at `dpi`. The reading's `page` is 0; [`read_decoded`] and the file readers set it.
/// Errors are OCR engine failures only; everything a page can look like is a value.
pub fn read_page<'a>(
    image: impl Into<Pixels<'a>>,
    dpi: f32,
    template: &Template,
    ocr: &dyn Ocr,
    options: &PageOptions,
) -> Result<PageReading, OcrError> {
    let started = Instant::now();
    let mut timings = PageTimings::default();
    let page = image.into();

    // Work at no more than the working resolution; coordinates are scaled back at the end.
    let small;
    let (image, work_dpi, back) = if dpi > options.max_working_dpi * 1.05 {
        // A whole factor: block averaging is fast; 400 dpi becomes 200, 600 becomes 300.
        let k = (dpi / options.max_working_dpi).ceil() as u32;
        small = page.downscale(k);
        let back = page.width() as f64 / small.width() as f64;
        (small.view(), dpi / back as f32, back)
    } else {
        (page, dpi, 1.0)
    };
    let colour = image.has_colour();
    timings.prepare_ms = ms(started);

    let mut reading = PageReading::empty(0, dpi);
    // The code zone first, cut straight from the colour page; a grey copy of the whole page (and for
    // the full search the stamp-dropping ink channel) is made only for the pages that need more.
    let ours = |s: &CodeSearch| s.code.as_ref().is_some_and(|c| is_certscan_code(&c.text));
    let gray_page = std::sync::OnceLock::new();
    let gray = || gray_page.get_or_init(|| image.luminance()).as_ref();
    let t = Instant::now();
    let mut quick = find_code_in_zones(image, work_dpi as f64, template, &options.code);
    // The page's layout map, for the blank-page check and the page's own pose: a tenth of a page's time,
    // made only when the code zone gave no code of ours (a page with one is not blank, and its pose
    // comes from the code).
    let map = if ours(&quick) { None } else { Some(InkMap::from_page(image, work_dpi as f64)) };
    if map.as_ref().is_some_and(|m| m.inner_ink_fraction() < options.blank_ink_fraction) {
        reading.blank_page = true;
        timings.code_ms = ms(t);
        timings.code_attempts = quick.attempts;
        timings.total_ms = ms(started);
        reading.timings = timings;
        return Ok(reading);
    }
    if !ours(&quick) {
        let input = CodeSearchInput { gray: gray(), ink: None, dpi: work_dpi as f64, template };
        let more = find_code(input, &CodeSearchOptions { quick_only: true, start: SearchStart::WholePage, ..options.code });
        // A certscan code from the whole page wins; else the first foreign code seen (the zone's).
        let code = if ours(&more) { more.code } else { quick.code.or(more.code) };
        quick = CodeSearch { attempts: quick.attempts + more.attempts, code };
    }
    timings.code_ms = ms(t);
    let mut attempts = quick.attempts;
    // A page of the issuance register routes itself by its code: no blank number to read on it.
    if let Some(register) = register_reading(image, quick.code.as_ref(), back, &mut reading) {
        timings.code_attempts = attempts;
        timings.total_ms = ms(started);
        reading.timings = timings;
        reading.register = Some(register);
        return Ok(reading);
    }

    let zone = &template.recognition.blank_number;
    type WithCode = (Option<SheetPose>, Option<BlankNumberReading>, Option<NumberImage>, f32);
    let read_with_code = |code: &FoundCode| -> Result<WithCode, OcrError> {
        let t = Instant::now();
        let Some(pose) = pose_from_code(code, template) else {
            return Ok((None, None, None, 0.0));
        };
        let (number, image) = read_blank_number(image, &pose, zone, search_margin_mm(true), colour, ocr)?;
        Ok((Some(pose), number, Some(image), ms(t)))
    };

    let mut code: Option<FoundCode> = quick.code.clone();
    let mut pose: Option<SheetPose> = None;
    let mut number: Option<BlankNumberReading> = None;
    let mut page_pose: Option<(SheetPose, bool)> = None;

    if ours(&quick) {
        let (p, n, i, ocr_ms) = read_with_code(quick.code.as_ref().expect("checked"))?;
        (pose, number, reading.number_image) = (p, n, i);
        timings.ocr_ms = ocr_ms;
        if pose.is_some() {
            reading.straightening = Straightening::FromCode;
        }
    } else {
        // The full code search and the page's own straightening + OCR, side by side.
        let (search, from_page) = rayon::join(
            || {
                let t = Instant::now();
                let ink = colour.then(|| image.ink_channel());
                let input = CodeSearchInput { gray: gray(), ink: ink.as_deref(), dpi: work_dpi as f64, template };
                (find_code(input, &CodeSearchOptions { start: SearchStart::Escalation, ..options.code }), ms(t))
            },
            || -> Result<_, OcrError> {
                let t = Instant::now();
                // Made above whenever the code zone gave no code of ours, which is how this branch is reached.
                let map = match map.as_ref() {
                    Some(map) => std::borrow::Cow::Borrowed(map),
                    None => std::borrow::Cow::Owned(InkMap::from_page(image, work_dpi as f64)),
                };
                let orientation = orientation_from_page(&map, image.dimensions(), work_dpi as f64, template);
                let orient_ms = ms(t);
                let t = Instant::now();
                let mut found = None;
                for candidate in &orientation.candidates {
                    if let (Some(n), image) = read_blank_number(image, candidate, zone, search_margin_mm(false), colour, ocr)? {
                        found = Some((*candidate, n, image));
                        break;
                    }
                }
                Ok((orientation, found, orient_ms, ms(t)))
            },
        );
        let ((full, code_ms), (orientation, found, orient_ms, ocr_ms)) = (search, from_page?);
        timings.code_ms += code_ms;
        timings.orient_ms = orient_ms;
        timings.ocr_ms = ocr_ms;
        attempts += full.attempts;
        if let Some(register) = register_reading(image, full.code.as_ref(), back, &mut reading) {
            timings.code_attempts = attempts;
            timings.total_ms = ms(started);
            reading.timings = timings;
            reading.register = Some(register);
            return Ok(reading);
        }
        if full.code.is_some() {
            code = full.code.clone();
        }
        match (&full.code, ours(&full)) {
            (Some(found_code), true) => {
                let from_code = pose_from_code(found_code, template);
                pose = from_code;
                if pose.is_some() {
                    reading.straightening = Straightening::FromCode;
                }
                // Keep the page-pose reading if it agrees on the orientation; else read again properly.
                let agrees = matches!((&found, from_code), (Some((p, _, _)), Some(c)) if p.orientation_deg() == c.orientation_deg());
                if let Some((_, n, i)) = found.filter(|_| agrees) {
                    (number, reading.number_image) = (Some(n), Some(i));
                } else {
                    let (_, n, i, extra) = read_with_code(found_code)?;
                    (number, reading.number_image) = (n, i);
                    timings.ocr_ms += extra;
                }
            }
            _ => {
                // rqrr found no code of ours anywhere: the second decoder tries the page before it is
                // left without one. It gives the text only; the number stays the one read through the
                // page's own pose, and its image goes to the stack check like any other page's.
                let t = Instant::now();
                let second = second_decoder_certificate(gray(), work_dpi as f64);
                timings.code_ms += ms(t);
                attempts += 1;
                if let Some(text) = second {
                    code = Some(FoundCode { text, corners: [(0.0, 0.0); 4], modules: 0, strategy: QrStrategy::SecondDecoder });
                }
                page_pose = Some(match found {
                    Some((p, n, image)) => {
                        number = Some(n);
                        if code.as_ref().is_some_and(|c| c.strategy == QrStrategy::SecondDecoder) {
                            reading.number_image = Some(image);
                        }
                        (p, true)
                    }
                    None => (orientation.candidates[0], false),
                });
            }
        }
    }

    if let Some(code) = code {
        reading.code = Some(CodeReading {
            payload: CertificatePayload::parse(&code.text),
            corners: code.corners.map(|(x, y)| (x * back, y * back)),
            text: code.text,
            strategy: code.strategy,
        });
    }
    let final_pose = match (pose, page_pose) {
        (Some(p), _) => Some(p),
        (None, Some((p, confirmed))) => {
            reading.straightening = Straightening::FromPage { confirmed };
            Some(p)
        }
        (None, None) => None,
    };
    if let Some(p) = final_pose {
        reading.orientation_deg = p.orientation_deg();
        reading.skew_deg = p.skew_deg() as f32;
        if reading.straightening == Straightening::FromCode {
            reading.dpi = (p.dpi() * back) as f32;
        }
        let no_code = reading.code.as_ref().is_none_or(|c| c.payload.is_err());
        if options.read_registration_number && no_code {
            let t = Instant::now();
            if let Some(line) = read_zone_line(image, &p, &registration_value_rect(template), REGISTRATION_CHARSET, ocr)? {
                let number = registration_number_from_line(&line.ocr.text);
                if !number.is_empty() {
                    reading.registration_number_glyphs = registration_glyphs(&line.tight, &number);
                    reading.registration_number_ocr = Some(number);
                }
            }
            if let Some(rect) = application_value_rect(template) {
                reading.application_id_ocr = read_zone_line(image, &p, &rect, APPLICATION_CHARSET, ocr)?
                    .map(|line| line.ocr.text.split_whitespace().max_by_key(|w| w.len()).unwrap_or("").to_string())
                    .filter(|s| !s.is_empty());
            }
            timings.ocr_ms += ms(t);
        }
    }
    reading.blank_number = number;
    timings.code_attempts = attempts;
    timings.total_ms = ms(started);
    reading.timings = timings;
    Ok(reading)
}

/// When the code is a register page's: the page's code, pose and signature check set on `reading`
/// (coordinates scaled back by `back` to the image as decoded).
fn register_reading(image: Pixels<'_>, code: Option<&FoundCode>, back: f64, reading: &mut PageReading) -> Option<RegisterPageReading> {
    let code = code?;
    let payload = RegisterPagePayload::parse(&code.text).ok()?;
    let (pose, register) = read_register_page(image, code, payload)?;
    reading.code = Some(CodeReading {
        payload: CertificatePayload::parse(&code.text),
        corners: code.corners.map(|(x, y)| (x * back, y * back)),
        text: code.text.clone(),
        strategy: code.strategy,
    });
    reading.orientation_deg = pose.orientation_deg();
    reading.skew_deg = pose.skew_deg() as f32;
    reading.straightening = Straightening::FromCode;
    reading.dpi = (pose.dpi() * back) as f32;
    Some(register)
}

/// What a registration number may contain (the printed label before it is in Cyrillic and is dropped).
const REGISTRATION_CHARSET: &str = "0123456789-/ ";

/// Where the value of a left-aligned field holding `placeholder` begins, after its printed label
/// (measured with the same font metrics the renderer uses), starting `lead_mm` before it: the value's
/// left edge, the line's top and its height. None when the template prints no such field.
fn value_after_label(template: &Template, placeholder: &str, lead_mm: f32) -> Option<(f32, f32, f32)> {
    let field = template.fields.iter().find(|f| f.text.contains(placeholder) && f.align == Align::Left)?;
    let label = field.text.split(placeholder).next().unwrap_or("");
    let metrics = fonts::measure(field.font, label, field.size_pt);
    Some((field.x_mm + metrics.width_mm - lead_mm, field.y_mm - metrics.ascent_mm, metrics.ascent_mm + metrics.descent_mm))
}

/// Where the registration number's value is printed: after the field's label when the template prints
/// it left-aligned with a label, else the template's whole recognition zone.
fn registration_value_rect(template: &Template) -> Rect {
    let zone = template.recognition.registration_number.rect;
    match value_after_label(template, "{registration_number}", 1.0) {
        Some((x, y, h)) => Rect { x, y, w: (zone.right() - x).max(10.0), h },
        None => zone,
    }
}

/// What an application id may contain (roster ids are letters, digits and separators).
const APPLICATION_CHARSET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_/.";

/// Where the application id is printed after its label, as wide as the longest id the field can hold
/// on the page; None when the template prints no such field.
fn application_value_rect(template: &Template) -> Option<Rect> {
    let (x, y, h) = value_after_label(template, "{application_id}", 0.5)?;
    Some(Rect { x, y, w: (template.page.width_mm - x - 5.0).clamp(10.0, 60.0), h })
}

/// The longest run of the line that looks like a number (digits with separators).
fn registration_number_from_line(line: &str) -> String {
    line.split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_ascii_digit()).count() >= 4)
        .max_by_key(|w| w.len())
        .unwrap_or("")
        .trim_matches(|c: char| !c.is_ascii_digit())
        .to_string()
}

/// The glyph reader on the registration-number line (grey, tight), read as the digit groups of
/// `number` (Tesseract's reading of it, e.g. `77-2025-099896` → 2, 4, 6) and written in its shape: the
/// same separators, each digit the glyph reader's own (`?` where it is not sure). None when the number
/// holds no digits or the glyph reader could not cut the line into exactly those groups (more ink on
/// the line than the number, a mark joining digits): then Tesseract's reading stands alone.
fn registration_glyphs(line: &image::GrayImage, number: &str) -> Option<String> {
    let groups: Vec<usize> = number.split(|c: char| !c.is_ascii_digit()).map(str::len).filter(|&n| n > 0).collect();
    if groups.is_empty() {
        return None;
    }
    // The value's crop starts a little before the value (the pose is a millimetre or so off), so it may
    // hold the label's last letter and its colon: where the whole line does not cut into the groups,
    // the line after its first gap as wide as a word space.
    let read = crate::glyphs::read(line, &groups).or_else(|| crate::glyphs::read(&after_first_word(line)?, &groups))?;
    // The reading's own text (`?` where unsure), its group spaces left out, put in the number's shape.
    let text = read.text();
    let mut digits = text.chars().filter(|c| *c != ' ');
    Some(number.chars().map(|c| if c.is_ascii_digit() { digits.next().unwrap_or('?') } else { c }).collect())
}

/// A line crop (grey, tight) from its first gap of paper at least a third of the line's height wide on:
/// the text after the first word. None without such a gap.
fn after_first_word(line: &image::GrayImage) -> Option<image::GrayImage> {
    let (w, h) = (line.width(), line.height());
    let [dark, paper] = raster::gray_percentiles(line, [1, 50]);
    let level = ((dark as u16 + paper as u16) / 2) as u8;
    let inked: Vec<bool> = (0..w).map(|x| (0..h).any(|y| line.get_pixel(x, y).0[0] < level)).collect();
    let first = inked.iter().position(|&i| i)?;
    let (mut gap, min_gap) = (0u32, (h / 3).max(3));
    for (x, &ink) in inked.iter().enumerate().skip(first) {
        if ink {
            if gap >= min_gap {
                let from = x.saturating_sub(2) as u32;
                return raster::crop(line, from as i64, 0, (w - from) as i64, h as i64);
            }
            gap = 0;
        } else {
            gap += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glyph_reader_reads_the_registration_number_in_the_groups_tesseract_read() {
        use crate::glyphs::tests::draw;
        let bold = certscan_templates::fonts::DEJAVU_SANS_BOLD;
        let line = draw(bold, 44.0, "77-2025-842692");
        assert_eq!(registration_glyphs(&line, "77-2025-842692").as_deref(), Some("77-2025-842692"));
        // Tesseract misread a digit: the glyph reader's own digit stands, so the two do not agree.
        assert_eq!(registration_glyphs(&line, "77-2025-842682").as_deref(), Some("77-2025-842692"));
        // The label's last letter and colon in the crop: read after them.
        let labelled = draw(bold, 44.0, "р: 77-2025-842692");
        assert_eq!(registration_glyphs(&labelled, "77-2025-842692").as_deref(), Some("77-2025-842692"));
        // Groups that are not on the line: never a confirmation.
        assert_ne!(registration_glyphs(&line, "77-2025842692").as_deref(), Some("77-2025842692"));
        assert_eq!(registration_glyphs(&line, "--"), None);
    }

    #[test]
    fn an_a4_image_without_a_resolution_gets_its_dpi_from_its_size() {
        let t = certscan_templates::reference();
        let dpi = dpi_from_size(2480, 3508, &t).unwrap();
        assert!((dpi - 300.0).abs() < 1.0, "{dpi}");
        let dpi = dpi_from_size(3508, 2480, &t).unwrap();
        assert!((dpi - 300.0).abs() < 1.0, "{dpi}");
        assert_eq!(dpi_from_size(2000, 2000, &t), None);
    }

    #[test]
    fn the_registration_number_is_picked_out_of_a_noisy_line() {
        assert_eq!(registration_number_from_line(" 1 77-2025-000123 "), "77-2025-000123");
        assert_eq!(registration_number_from_line("--"), "");
    }
}
