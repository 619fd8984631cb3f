//! Reading the pre-printed blank number. The OCR engine sits behind the small [`Ocr`] trait (one line of
//! text in, text and confidence out) so tests can swap it; [`TesseractOcr`] is the real one (leptess,
//! page-segmentation mode 7 "single line", whitelist = the template's charset, one engine per thread
//! because Tesseract is not `Sync`). Tesseract must run single-threaded inside (`OMP_THREAD_LIMIT=1`,
//! set by the process that runs us; this library never touches the environment) since rayon owns the
//! cores.
//!
//! [`read_blank_number`] cuts the template's zone out of the straightened page, drops stamp colour,
//! finds the printed line inside the zone, and reads a few variants (threshold levels, grey, a wider
//! cut); only a text matching the template's pattern counts, and agreement between variants raises the
//! confidence.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;

use image::{GrayImage, RgbImage};
use regex::Regex;

use certscan_templates::model::BlankNumberZone;
use certscan_templates::Rect;

use crate::locate::{cut, grow, SheetPose};
use crate::raster;

/// One line of recognised text.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrLine {
    pub text: String,
    /// Mean confidence, 0..1.
    pub confidence: f32,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OcrError {
    #[error("cannot start the OCR engine (language {language:?}): {reason}")]
    Init { language: String, reason: String },
    #[error("OCR failed: {0}")]
    Engine(String),
}

/// An OCR engine that reads one line of text restricted to `charset`.
pub trait Ocr: Send + Sync {
    fn read_line(&self, image: &GrayImage, charset: &str) -> Result<OcrLine, OcrError>;
}

/// Tesseract through leptess.
#[derive(Debug, Clone)]
pub struct TesseractOcr {
    /// The tessdata folder; None = Tesseract's compiled-in default.
    data_path: Option<String>,
    language: String,
}

impl TesseractOcr {
    /// Checks that the engine starts with `language` (e.g. "eng") on this thread.
    pub fn new(data_path: Option<&str>, language: &str) -> Result<TesseractOcr, OcrError> {
        let ocr = TesseractOcr { data_path: data_path.map(str::to_owned), language: language.to_owned() };
        ocr.with_engine(|_| Ok(()))?;
        Ok(ocr)
    }

    fn with_engine<T>(&self, f: impl FnOnce(&mut Engine) -> Result<T, OcrError>) -> Result<T, OcrError> {
        thread_local! {
            // Engines are expensive to start (~50 ms) and not Sync: one per thread and configuration.
            static ENGINES: RefCell<HashMap<(Option<String>, String), Engine>> = RefCell::new(HashMap::new());
        }
        ENGINES.with(|engines| {
            let mut engines = engines.borrow_mut();
            let key = (self.data_path.clone(), self.language.clone());
            if !engines.contains_key(&key) {
                let mut tess = leptess::LepTess::new(self.data_path.as_deref(), &self.language)
                    .map_err(|e| OcrError::Init { language: self.language.clone(), reason: e.to_string() })?;
                // One line of text (PSM 7); never retry the line as white-on-black (halves the time).
                for (name, value) in
                    [(leptess::Variable::TesseditPagesegMode, "7"), (leptess::Variable::TesseditDoInvert, "0")]
                {
                    tess.set_variable(name, value).map_err(|_| OcrError::Init {
                        language: self.language.clone(),
                        reason: format!("cannot set {value:?}"),
                    })?;
                }
                engines.insert(key.clone(), Engine { tess, charset: None });
            }
            f(engines.get_mut(&key).expect("inserted above"))
        })
    }
}

/// One thread's Tesseract and the whitelist it was last given (setting it costs a little each time).
struct Engine {
    tess: leptess::LepTess,
    charset: Option<String>,
}

impl Ocr for TesseractOcr {
    fn read_line(&self, image: &GrayImage, charset: &str) -> Result<OcrLine, OcrError> {
        // Leptonica reads PNM from memory without any codec library.
        let mut pnm = Vec::with_capacity(image.as_raw().len() + 32);
        write!(pnm, "P5\n{} {}\n255\n", image.width(), image.height()).expect("writing to a Vec");
        pnm.extend_from_slice(image.as_raw());
        self.with_engine(|engine| {
            if engine.charset.as_deref() != Some(charset) {
                engine
                    .tess
                    .set_variable(leptess::Variable::TesseditCharWhitelist, charset)
                    .map_err(|_| OcrError::Engine(format!("cannot set the whitelist {charset:?}")))?;
                engine.charset = Some(charset.to_owned());
            }
            let tess = &mut engine.tess;
            tess.set_image_from_mem(&pnm).map_err(|e| OcrError::Engine(e.to_string()))?;
            tess.set_source_resolution((OCR_PX_PER_MM * 25.4).round() as i32);
            let text = tess.get_utf8_text().map_err(|e| OcrError::Engine(e.to_string()))?;
            let confidence = tess.mean_text_conf().clamp(0, 100) as f32 / 100.0;
            Ok(OcrLine { text, confidence })
        })
    }
}

/// The blank number read from a page.
#[derive(Debug, Clone, PartialEq)]
pub struct BlankNumberReading {
    /// Normalised text matching the template's pattern, e.g. `77 0012345`.
    pub text: String,
    /// 0..1: the OCR's own confidence, raised when variants agree, lowered when they disagree.
    pub confidence: f32,
    /// How many variants read exactly this text.
    pub agreeing: usize,
    /// How many variants produced a text matching the pattern at all.
    pub matching: usize,
}

/// Crop resolution for OCR: characters 3.5–5 mm tall come out 35–50 px, what Tesseract reads best.
const OCR_PX_PER_MM: f64 = 10.0;

/// Reads the blank number from the page, with the zone placed through `pose` and grown by `margin_mm`
/// of play. `colour`: the page is a colour scan (stamps can be told apart by colour).
pub fn read_blank_number(
    page: &RgbImage,
    pose: &SheetPose,
    zone: &BlankNumberZone,
    margin_mm: f32,
    colour: bool,
    ocr: &dyn Ocr,
) -> Result<Option<BlankNumberReading>, OcrError> {
    let pattern = Regex::new(&zone.pattern).map_err(|e| OcrError::Engine(format!("bad blank number pattern: {e}")))?;
    let area = grow(&zone.rect, margin_mm);
    let crop = cut(page, pose, &area, OCR_PX_PER_MM);
    let gray = if colour { raster::ink_channel(&crop) } else { raster::luminance(&crop) };
    let mut votes = Votes::default();
    for line in find_text_lines(&gray) {
        let otsu = raster::otsu(&line.tight);
        let (dark, paper) = ink_and_paper(&line.tight);
        // The number is usually the darkest ink in the zone; a stamp or a pen over it is lighter:
        // thresholds close to the number's own darkness drop them.
        let between = |f: f32| (dark as f32 + (paper as f32 - dark as f32) * f).round() as u8;
        let variants: [&dyn Fn() -> GrayImage; 6] = [
            &|| raster::threshold(&line.tight, between(0.4)),
            &|| raster::threshold(&line.tight, otsu),
            &|| raster::stretch_contrast(&line.tight),
            &|| raster::threshold(&line.tight, between(0.25)),
            &|| raster::threshold(&line.wide, between(0.4)),
            &|| raster::threshold(&line.tight, between(0.6)),
        ];
        for variant in variants {
            votes.read(ocr, &raster::pad_white(&variant(), 12), zone, &pattern)?;
            if votes.settled() {
                break;
            }
        }
        // The band that gave a number is the number's; other bands are tried only when it gave none.
        if !votes.texts.is_empty() {
            break;
        }
    }
    // A pen or a stamp darker than the number (a black signature over a red number): separate the
    // inks by colour and read each ink alone. The layers have holes where the other ink covered the
    // digits, so what they read is a hint for a person, never a sure reading: capped confidence.
    if votes.texts.is_empty() {
        let layers = ink_layers(&crop);
        let mut clear = Votes::default();
        let mut hints = Votes::default();
        for (k, layer) in layers.iter().enumerate() {
            let Some(line) = find_text_line(layer) else {
                continue;
            };
            // Another ink over this line's digits leaves holes in them: then only a hint.
            let (x, y, w, h) = line.tight_box;
            let (mut own, mut other) = (0usize, 0usize);
            for yy in y.max(0)..(y + h).min(layer.height() as i64) {
                for xx in x.max(0)..(x + w).min(layer.width() as i64) {
                    let (xx, yy) = (xx as u32, yy as u32);
                    if layer.get_pixel(xx, yy).0[0] == 0 {
                        own += 1;
                    } else if layers.iter().enumerate().any(|(j, l)| j != k && l.get_pixel(xx, yy).0[0] == 0) {
                        other += 1;
                    }
                }
            }
            let occluded = other * 10 > own;
            let votes = if occluded { &mut hints } else { &mut clear };
            let before = votes.matching;
            votes.read(ocr, &raster::pad_white(&line.tight, 12), zone, &pattern)?;
            if !occluded || votes.matching == before {
                votes.read(ocr, &raster::pad_white(&line.wide, 12), zone, &pattern)?;
            }
        }
        if !clear.texts.is_empty() {
            return Ok(clear.best());
        }
        return Ok(hints.best().map(|r| BlankNumberReading { confidence: r.confidence.min(LAYER_CONFIDENCE_CAP), ..r }));
    }
    Ok(votes.best())
}

/// The most a reading from a colour-separated ink layer may claim.
const LAYER_CONFIDENCE_CAP: f32 = 0.4;

/// Texts that matched the pattern, with how many variants read each and their best confidence.
#[derive(Default)]
struct Votes {
    texts: Vec<(String, usize, f32)>,
    matching: usize,
}

impl Votes {
    fn read(&mut self, ocr: &dyn Ocr, image: &GrayImage, zone: &BlankNumberZone, pattern: &Regex) -> Result<(), OcrError> {
        let result = ocr.read_line(image, &zone.charset)?;
        if let Some(text) = normalise(&result.text, pattern, &zone.example) {
            self.matching += 1;
            match self.texts.iter_mut().find(|v| v.0 == text) {
                Some(v) => {
                    v.1 += 1;
                    v.2 = v.2.max(result.confidence);
                }
                None => self.texts.push((text, 1, result.confidence)),
            }
        }
        Ok(())
    }

    /// Two variants agree: more reading would not change the answer.
    fn settled(&self) -> bool {
        self.texts.iter().any(|v| v.1 >= 2)
    }

    fn best(mut self) -> Option<BlankNumberReading> {
        self.texts.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)));
        let matching = self.matching;
        self.texts.into_iter().next().map(|(text, agreeing, confidence)| {
            // One lone reading is worth less; disagreeing readings pull it down further.
            let agreement = if agreeing >= 2 { 1.0 } else { 0.8 };
            let consensus = agreeing as f32 / matching as f32;
            BlankNumberReading { text, confidence: (confidence * agreement * consensus).clamp(0.0, 1.0), agreeing, matching }
        })
    }
}

/// Splits the ink of a crop into up to three layers by colour (k-means over the ink pixels' RGB):
/// each layer is a binary image with only that ink. On a grey scan the layers split by darkness.
fn ink_layers(crop: &RgbImage) -> Vec<GrayImage> {
    let lum = raster::luminance(crop);
    let (_, paper) = ink_and_paper(&lum);
    let inked: Vec<(usize, [f32; 3])> = crop
        .as_raw()
        .chunks_exact(3)
        .enumerate()
        .filter(|(i, _)| (lum.as_raw()[*i] as i32) < paper as i32 - 60)
        .map(|(i, p)| (i, [p[0] as f32, p[1] as f32, p[2] as f32]))
        .collect();
    if inked.len() < 50 {
        return Vec::new();
    }
    // Seeds: the darkest, the most saturated and the lightest ink.
    let sat = |p: &[f32; 3]| p.iter().cloned().fold(f32::MIN, f32::max) - p.iter().cloned().fold(f32::MAX, f32::min);
    let sum = |p: &[f32; 3]| p[0] + p[1] + p[2];
    let pick = |key: &dyn Fn(&[f32; 3]) -> f32| inked.iter().map(|(_, p)| *p).max_by(|a, b| key(a).total_cmp(&key(b))).expect("not empty");
    let mut centres = [pick(&|p| -sum(p)), pick(&sat), pick(&sum)];
    let mut labels = vec![0usize; inked.len()];
    for _ in 0..8 {
        for (label, (_, p)) in labels.iter_mut().zip(&inked) {
            *label = (0..centres.len())
                .min_by(|&a, &b| dist2(p, &centres[a]).total_cmp(&dist2(p, &centres[b])))
                .expect("three centres");
        }
        for (k, centre) in centres.iter_mut().enumerate() {
            let members: Vec<&[f32; 3]> = inked.iter().zip(&labels).filter(|(_, &l)| l == k).map(|((_, p), _)| p).collect();
            if !members.is_empty() {
                let n = members.len() as f32;
                *centre = [0, 1, 2].map(|c| members.iter().map(|p| p[c]).sum::<f32>() / n);
            }
        }
    }
    (0..centres.len())
        .filter_map(|k| {
            let count = labels.iter().filter(|&&l| l == k).count();
            if count * 20 < inked.len() {
                return None;
            }
            let mut layer = vec![255u8; crop.width() as usize * crop.height() as usize];
            for ((i, _), _) in inked.iter().zip(&labels).filter(|(_, &l)| l == k) {
                layer[*i] = 0;
            }
            GrayImage::from_raw(crop.width(), crop.height(), layer)
        })
        .collect()
}

fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// The darkest ink (1st percentile) and the paper (median) of a crop.
fn ink_and_paper(gray: &GrayImage) -> (u8, u8) {
    let [ink, paper] = crate::raster::gray_percentiles(gray, [1, 50]);
    (ink, paper)
}

/// Collapses whitespace; if that does not match, regroups the characters the way the template's
/// example groups them (Tesseract often drops or adds a space in `77 0012345`).
fn normalise(raw: &str, pattern: &Regex, example: &str) -> Option<String> {
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if pattern.is_match(&collapsed) {
        return Some(collapsed);
    }
    let bare: Vec<char> = collapsed.chars().filter(|c| !c.is_whitespace()).collect();
    let groups: Vec<usize> = example.split_whitespace().map(|g| g.chars().count()).collect();
    if groups.iter().sum::<usize>() != bare.len() {
        return None;
    }
    let mut out = String::new();
    let mut at = 0;
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.extend(&bare[at..at + g]);
        at += g;
    }
    pattern.is_match(&out).then_some(out)
}

/// The printed line inside a zone crop: a tight crop around it and a slightly wider one.
struct TextLine {
    tight: GrayImage,
    wide: GrayImage,
    /// The tight crop's box in the zone crop: x, y, w, h.
    tight_box: (i64, i64, i64, i64),
}

/// Finds the densest band of ink rows 2–9 mm tall after removing the blank's frame lines (rows or
/// columns inked across most of the crop), and the ink's extent along it.
fn find_text_line(gray: &GrayImage) -> Option<TextLine> {
    find_text_lines(gray).into_iter().next()
}

/// Candidate text lines of a zone, most ink first (at most three): a frame pattern or a rule that is
/// not solid enough to be dropped as a line can out-ink the number, so a reader tries the next band.
fn find_text_lines(gray: &GrayImage) -> Vec<TextLine> {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    // Only the darkest ink: a stamp's ring or a signature crossing the zone must not make the band.
    let (dark, paper) = ink_and_paper(gray);
    let strict = (dark as f32 + (paper as f32 - dark as f32) * 0.4) as u8;
    let level = raster::otsu(gray).min(strict);
    let raw = gray.as_raw();
    let mut ink: Vec<bool> = raw.iter().map(|&v| v <= level).collect();
    // Long lines are the frame or a rule, never characters.
    for y in 0..h {
        if ink[y * w..(y + 1) * w].iter().filter(|&&b| b).count() * 10 > w * 6 {
            ink[y * w..(y + 1) * w].fill(false);
        }
    }
    for x in 0..w {
        if (0..h).filter(|&y| ink[y * w + x]).count() * 10 > h * 6 {
            for y in 0..h {
                ink[y * w + x] = false;
            }
        }
    }
    let mut bands = text_bands(&ink, w, h);
    // A patterned frame (a guilloche border) is not solid enough for the line test above, yet its
    // vertical side inks every row and joins the number's band with everything else: drop every
    // connected piece of ink far larger than a character, and look again.
    if bands.is_empty() {
        drop_large_components(&mut ink, w, h);
        bands = text_bands(&ink, w, h);
    }
    bands.sort_by(|a, b| b.2.cmp(&a.2));
    bands.into_iter().take(3).filter_map(|(top, bottom, _)| line_in_band(gray, &ink, top, bottom)).collect()
}

/// Bands of inked rows 2–9 mm tall (gaps under 0.6 mm merged): (top, bottom, ink).
fn text_bands(ink: &[bool], w: usize, h: usize) -> Vec<(usize, usize, usize)> {
    let rows: Vec<usize> = (0..h).map(|y| ink[y * w..(y + 1) * w].iter().filter(|&&b| b).count()).collect();
    let mm = OCR_PX_PER_MM as usize;
    let mut bands: Vec<(usize, usize, usize)> = Vec::new();
    let min_row_ink = (w / 200).max(2);
    for (y, &n) in rows.iter().enumerate() {
        if n < min_row_ink {
            continue;
        }
        match bands.last_mut() {
            Some(b) if y <= b.1 + mm * 6 / 10 => {
                b.1 = y;
                b.2 += n;
            }
            _ => bands.push((y, y, n)),
        }
    }
    bands.into_iter().filter(|b| (b.1 - b.0) >= 2 * mm && (b.1 - b.0) <= 9 * mm).collect()
}

/// Clears connected pieces of ink taller than 9 mm or wider than 60 mm: frames, borders, stamp rings —
/// never characters 3.5–5 mm tall (a whole number merged into one piece is still under 60 mm).
fn drop_large_components(ink: &mut [bool], w: usize, h: usize) {
    let mm = OCR_PX_PER_MM as u32;
    let mask = GrayImage::from_raw(w as u32, h as u32, ink.iter().map(|&b| if b { 255 } else { 0 }).collect()).expect("sizes match");
    let labels = imageproc::region_labelling::connected_components(&mask, imageproc::region_labelling::Connectivity::Eight, image::Luma([0u8]));
    let count = labels.as_raw().iter().copied().max().unwrap_or(0) as usize;
    // Bounding box per label: x0, y0, x1, y1.
    let mut boxes = vec![(u32::MAX, u32::MAX, 0u32, 0u32); count + 1];
    for (x, y, l) in labels.enumerate_pixels() {
        let b = &mut boxes[l.0[0] as usize];
        *b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
    }
    let large: Vec<bool> = boxes.iter().map(|b| b.2 >= b.0 && (b.3 - b.1 > 9 * mm || b.2 - b.0 > 60 * mm)).collect();
    for (i, l) in labels.as_raw().iter().enumerate() {
        if *l != 0 && large[*l as usize] {
            ink[i] = false;
        }
    }
}

/// The widest cluster of ink in the rows `top..=bottom`, cut tight and wide.
fn line_in_band(gray: &GrayImage, ink: &[bool], top: usize, bottom: usize) -> Option<TextLine> {
    let w = gray.width() as usize;
    let mm = OCR_PX_PER_MM as usize;
    // Columns of the band; clusters separated by more than 5 mm are different things.
    let cols: Vec<bool> = (0..w).map(|x| (top..=bottom).any(|y| ink[y * w + x])).collect();
    let mut clusters: Vec<(usize, usize, usize)> = Vec::new();
    for (x, &c) in cols.iter().enumerate() {
        if !c {
            continue;
        }
        let n = (top..=bottom).filter(|&y| ink[y * w + x]).count();
        match clusters.last_mut() {
            Some(cl) if x <= cl.1 + 5 * mm => {
                cl.1 = x;
                cl.2 += n;
            }
            _ => clusters.push((x, x, n)),
        }
    }
    let (left, right, _) = clusters.into_iter().max_by_key(|c| c.2)?;
    let pad = mm as i64;
    let tight_box = (left as i64 - pad, top as i64 - pad, (right - left) as i64 + 2 * pad, (bottom - top) as i64 + 2 * pad);
    let tight = raster::crop(gray, tight_box.0, tight_box.1, tight_box.2, tight_box.3)?;
    let more = 2 * pad;
    let wide = raster::crop(gray, tight_box.0 - more, tight_box.1 - more / 2, tight_box.2 + 2 * more, tight_box.3 + more)?;
    Some(TextLine { tight, wide, tight_box })
}

/// Where a rectangle of the sheet should be read with a pose that may be a few millimetres off.
pub fn search_margin_mm(pose_from_code: bool) -> f32 {
    // The print house's offset (±2 mm) against certscan's print; without a code, also the paper's
    // shift on the scanner bed.
    if pose_from_code {
        4.0
    } else {
        7.0
    }
}

/// OCR of an arbitrary template rectangle as one line (the registration-number fallback).
pub fn read_zone_line(
    page: &RgbImage,
    pose: &SheetPose,
    rect: &Rect,
    charset: &str,
    ocr: &dyn Ocr,
) -> Result<Option<OcrLine>, OcrError> {
    let crop = cut(page, pose, &grow(rect, 2.0), OCR_PX_PER_MM);
    let gray = raster::luminance(&crop);
    let Some(line) = find_text_line(&gray) else {
        return Ok(None);
    };
    let binary = raster::pad_white(&raster::threshold(&line.tight, raster::otsu(&line.tight)), 12);
    ocr.read_line(&binary, charset).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern() -> Regex {
        Regex::new("^[0-9]{2} [0-9]{7}$").unwrap()
    }

    #[test]
    fn a_dropped_space_is_restored_from_the_example_grouping() {
        assert_eq!(normalise("770012345\n", &pattern(), "77 0012345").as_deref(), Some("77 0012345"));
        assert_eq!(normalise(" 77  0012345 ", &pattern(), "77 0012345").as_deref(), Some("77 0012345"));
        assert_eq!(normalise("7 70 012345", &pattern(), "77 0012345").as_deref(), Some("77 0012345"));
    }

    #[test]
    fn a_black_pen_stroke_over_a_red_number_is_split_into_its_own_ink_layer() {
        let mut crop = RgbImage::from_pixel(200, 60, image::Rgb([245, 240, 235]));
        for y in 20..40 {
            for x in 20..180 {
                if x % 12 < 6 {
                    crop.put_pixel(x, y, image::Rgb([150, 30, 40]));
                }
            }
        }
        for x in 0..200 {
            for y in 28..32 {
                crop.put_pixel(x, y, image::Rgb([30, 30, 35]));
            }
        }
        let layers = ink_layers(&crop);
        let red_only = layers.iter().any(|l| l.get_pixel(26, 22).0[0] == 0 && l.get_pixel(10, 30).0[0] == 255);
        let pen_only = layers.iter().any(|l| l.get_pixel(10, 30).0[0] == 0 && l.get_pixel(26, 22).0[0] == 255);
        assert!(red_only && pen_only, "{} layers", layers.len());
    }

    #[test]
    fn a_text_of_the_wrong_length_is_not_a_blank_number() {
        assert_eq!(normalise("77 001234", &pattern(), "77 0012345"), None);
        assert_eq!(normalise("", &pattern(), "77 0012345"), None);
    }
}
