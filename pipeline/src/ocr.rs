//! Reading the pre-printed blank number. The OCR engine sits behind the small [`Ocr`] trait (one line of
//! text in, text and confidence out) so tests can swap it; [`TesseractOcr`] is the real one (leptess,
//! page-segmentation mode 7 "single line", whitelist = the template's charset, one engine per thread
//! because Tesseract is not `Sync`). Tesseract must run single-threaded inside (`OMP_THREAD_LIMIT=1`,
//! set by the process that runs us; this library never touches the environment) since rayon owns the
//! cores.
//!
//! [`read_blank_number`] cuts the template's zone out of the straightened page, drops stamp colour,
//! finds the printed line inside the zone (a band of inked rows, or a row of character-sized pieces of
//! ink when a frame broken into bits inks every row), and reads a few variants (threshold levels, grey,
//! a wider cut); only a text matching the template's pattern counts, and agreement between variants
//! raises the confidence. An image with a mark running through the characters (a pen, a stamp's ring)
//! only gives hints, capped below what a reading needs to be used. Without a sure reading the inks are
//! separated by colour (k-means) and each is read alone; where a darker ink covered the digits, the
//! number's ink is put back from the colour (inks multiply) and trusted only when a reading with the
//! mark still there agrees.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;

use image::{GrayImage, RgbImage};
use regex::Regex;

use certscan_templates::model::BlankNumberZone;
use certscan_templates::Rect;

pub use crate::blank_number::BlankNumberReading;
use crate::blank_number::{HINT_CONFIDENCE_CAP, MIN_BLANK_NUMBER_CONFIDENCE};
use crate::glyphs;
use crate::locate::{grow, SheetPose};
use crate::pixels::Pixels;
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
    /// Checks that the engine starts with `language` (e.g. "eng"), by starting it on every thread of
    /// rayon's pool, where pages are read, side by side (about 0.1 s of one core each). A thread outside
    /// the pool that reads a line starts its own engine then.
    pub fn new(data_path: Option<&str>, language: &str) -> Result<TesseractOcr, OcrError> {
        let ocr = TesseractOcr { data_path: data_path.map(str::to_owned), language: language.to_owned() };
        rayon::broadcast(|_| ocr.with_engine(|_| Ok(()))).into_iter().collect::<Result<Vec<()>, OcrError>>()?;
        Ok(ocr)
    }

    /// Ends the Tesseract engines started on this thread and on every thread of rayon's pool. Tesseract
    /// checks its shared caches when the process exits and prints "ObjectCache ... LEAK!" for each engine
    /// still alive (rayon's threads never end): a binary calls this before it returns.
    pub fn release_engines() {
        rayon::broadcast(|_| ENGINES.with(|engines| engines.borrow_mut().clear()));
        ENGINES.with(|engines| engines.borrow_mut().clear());
    }

    fn with_engine<T>(&self, f: impl FnOnce(&mut Engine) -> Result<T, OcrError>) -> Result<T, OcrError> {
        ENGINES.with(|engines| {
            let mut engines = engines.borrow_mut();
            let key = (self.data_path.clone(), self.language.clone());
            if !engines.contains_key(&key) {
                let mut tess = leptess::LepTess::new(self.data_path.as_deref(), &self.language)
                    .map_err(|e| OcrError::Init { language: self.language.clone(), reason: e.to_string() })?;
                // One line of text (PSM 7); never retry the line as white-on-black (halves the time).
                for (name, value) in [(leptess::Variable::TesseditPagesegMode, "7"), (leptess::Variable::TesseditDoInvert, "0")] {
                    tess.set_variable(name, value)
                        .map_err(|_| OcrError::Init { language: self.language.clone(), reason: format!("cannot set {value:?}") })?;
                }
                engines.insert(key.clone(), Engine { tess, charset: None });
            }
            f(engines.get_mut(&key).expect("inserted above"))
        })
    }
}

thread_local! {
    // Engines are expensive to start (~50 ms) and not Sync: one per thread and configuration.
    static ENGINES: RefCell<HashMap<(Option<String>, String), Engine>> = RefCell::new(HashMap::new());
}

/// One thread's Tesseract and the whitelist it was last given (setting it costs a little each time).
struct Engine {
    tess: leptess::LepTess,
    charset: Option<String>,
}

/// Tesseract's line model misreads characters taller than it reads best (a serif 5 45 px tall read as a
/// 9 by every variant, the same lines 16–28 px tall read right; taller than 30 px it flips between 5 and
/// 9): lines whose ink is taller than this are scaled down to [`TESSERACT_LINE_PX`] first.
const TESSERACT_MAX_LINE_PX: u32 = 30;
const TESSERACT_LINE_PX: f32 = 26.0;

/// Rows between the first and the last one holding ink (darker than half way from the darkest pixel to
/// the lightest).
fn ink_height(image: &GrayImage) -> u32 {
    let (lo, hi) = image.as_raw().iter().fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let level = ((lo as u16 + hi as u16) / 2) as u8;
    let w = image.width() as usize;
    let inked: Vec<usize> =
        image.as_raw().chunks_exact(w.max(1)).enumerate().filter(|(_, row)| row.iter().any(|&v| v < level)).map(|(y, _)| y).collect();
    match (inked.first(), inked.last()) {
        (Some(a), Some(b)) if hi > lo => (b - a + 1) as u32,
        _ => 0,
    }
}

impl Ocr for TesseractOcr {
    fn read_line(&self, image: &GrayImage, charset: &str) -> Result<OcrLine, OcrError> {
        let height = ink_height(image);
        let (image, resolution) = if height > TESSERACT_MAX_LINE_PX {
            let factor = height as f32 / TESSERACT_LINE_PX;
            (std::borrow::Cow::Owned(raster::rescale(image, factor)), OCR_PX_PER_MM * 25.4 / factor as f64)
        } else {
            (std::borrow::Cow::Borrowed(image), OCR_PX_PER_MM * 25.4)
        };
        let image = image.as_ref();
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
            // Tesseract takes nothing under 70 dpi and says so on stderr for every line (a line scaled
            // down from ink 10 mm tall, such as a mark the line finder took in).
            tess.set_source_resolution(resolution.round().max(MIN_TESSERACT_DPI) as i32);
            let text = tess.get_utf8_text().map_err(|e| OcrError::Engine(e.to_string()))?;
            let confidence = tess.mean_text_conf().clamp(0, 100) as f32 / 100.0;
            Ok(OcrLine { text, confidence })
        })
    }
}

/// The lowest source resolution Tesseract accepts without a warning.
const MIN_TESSERACT_DPI: f64 = 70.0;

/// Crop resolution for OCR: characters 3.5–5 mm tall come out 35–50 px, what Tesseract reads best.
const OCR_PX_PER_MM: f64 = 10.0;

/// Reads the blank number from the page, with the zone placed through `pose` and grown by `margin_mm`
/// of play. `colour`: the page is a colour scan (stamps can be told apart by colour). Also gives back the
/// zone's image for the stack check (`crate::stack`): the printed line when it was read for sure, else
/// the whole zone crop.
pub fn read_blank_number<'a>(
    page: impl Into<Pixels<'a>>,
    pose: &SheetPose,
    zone: &BlankNumberZone,
    margin_mm: f32,
    colour: bool,
    ocr: &dyn Ocr,
) -> Result<(Option<BlankNumberReading>, NumberImage), OcrError> {
    let pattern = Regex::new(&zone.pattern).map_err(|e| OcrError::Engine(format!("bad blank number pattern: {e}")))?;
    let area = grow(&zone.rect, margin_mm);
    let crop = page.into().cut(pose, &area, OCR_PX_PER_MM);
    let gray = if colour { raster::ink_channel(&crop) } else { raster::luminance(&crop) };
    let mut votes = Votes::default();
    let mut hints = Votes::default();
    // The line whose clean variants settled the reading: a sample of the stack's print.
    let mut settled_line: Option<GrayImage> = None;
    // What the glyph reader (the reader that is not Tesseract) read on the images of the number: the band
    // that gave the number (the reader cuts it itself and gives nothing when a mark joins characters), and
    // the inks separated by colour that no other ink covers; merged character by character. A band that
    // gave no number lends its reading only when no other image gave one.
    let groups = glyphs::groups_of(&zone.example);
    let mut glyph_readings: Vec<glyphs::GlyphReading> = Vec::new();
    let mut other_band: Option<glyphs::GlyphReading> = None;
    for line in find_text_lines(&gray) {
        let line_glyphs = glyphs_on_line(&gray, &line, &groups);
        // The glyph reader read every character of this line for sure: one clean Tesseract variant that
        // reads the same is two readers that fail differently agreeing, worth more than a second
        // variant of Tesseract, so no more variants are read.
        let glyph_text = line_glyphs.as_ref().filter(|g| g.complete()).map(glyphs::GlyphReading::text);
        let otsu = raster::otsu(&line.tight);
        let (dark, paper) = ink_and_paper(&line.tight);
        // The number is usually the darkest ink in the zone; a stamp or a pen over it is lighter:
        // thresholds close to the number's own darkness drop them.
        let between = |f: f32| (dark as f32 + (paper as f32 - dark as f32) * f).round() as u8;
        // Each variant with the crop it is made from: the crop of the variant that settles the reading is
        // the line the stack's book learns from and checks. The wide crop can hold a character the line
        // finder left out of the tight one (a last digit beyond a stamp's ring): checked on the tight
        // crop, that character would be missing and the book would contradict a right reading.
        type Variant<'a> = (&'a GrayImage, &'a dyn Fn(&GrayImage) -> GrayImage);
        let variants: [Variant; 6] = [
            (&line.tight, &|crop| raster::threshold(crop, between(0.4))),
            (&line.tight, &|crop| raster::threshold(crop, otsu)),
            (&line.tight, &raster::stretch_contrast),
            (&line.tight, &|crop| raster::threshold(crop, between(0.25))),
            (&line.wide, &|crop| raster::threshold(crop, between(0.4))),
            (&line.tight, &|crop| raster::threshold(crop, between(0.6))),
        ];
        for (source, variant) in variants {
            let image = variant(source);
            // A mark running through the digits turns one into another now and then, with Tesseract
            // none the wiser: what such an image reads is a hint, never a sure reading.
            // So is a line whose crop cuts through ink at its side: a character there may be cut in half
            // (a 9 whose left half a stamp's ring hid from the line finder reads as a 1).
            let target = if crossed_by_marks(&image) || cuts_ink_at_side(&image) { &mut hints } else { &mut votes };
            target.read(ocr, &raster::pad_white(&image, 12), zone, &pattern)?;
            if let Some(text) = glyph_text.as_ref().filter(|g| votes.texts.iter().any(|v| &v.0 == *g)) {
                votes.confirmed = Some(text.clone());
            }
            if votes.settled() {
                settled_line = Some(source.clone());
                break;
            }
        }
        // The band that gave a number is the number's; other bands are tried only when it gave none.
        if !votes.texts.is_empty() || !hints.texts.is_empty() {
            glyph_readings.extend(line_glyphs);
            break;
        }
        // Of the bands that gave no number, the one whose reading is surest lends it (the first of
        // equals): a band of a stamp's lettering beside the number, widened, cuts through the digits'
        // rows and reads some of them wrong for sure; the number's own band, read whole, must not lose
        // to it for coming second (office seed 6412 p7).
        let sure = |g: &glyphs::GlyphReading| g.chars.iter().filter(|c| c.sure()).count();
        if let Some(g) = line_glyphs.filter(|g| other_band.as_ref().is_none_or(|o| sure(g) > sure(o))) {
            other_band = Some(g);
        }
    }
    // A pen or a stamp over the number (a black signature over a red number, a stamp's ring joining
    // the digits): separate the inks by colour and read each ink alone, when the lines gave no number
    // or no sure one. A layer that a darker ink crossed has holes where it covered the digits, so what
    // it reads is a hint for a person, never a sure reading: capped confidence.
    if votes.best_confidence() < MIN_BLANK_NUMBER_CONFIDENCE {
        let layers = ink_layers(&crop);
        let mut clear = Votes::default();
        for (k, layer) in layers.iter().map(|l| &l.image).enumerate() {
            let Some(line) = find_text_line(layer) else {
                continue;
            };
            // Another ink over this line's digits leaves holes in them: then only a hint. Only an ink
            // about as dark as this one or darker can: where a lighter ink (a stamp over a black number)
            // crosses the digits, the two together are darker still and stay in this layer.
            let (x, y, w, h) = line.tight_box;
            let hiding: Vec<&GrayImage> = layers
                .iter()
                .enumerate()
                .filter(|&(j, l)| j != k && l.luminance < layers[k].luminance + LIGHTER_INK)
                .map(|(_, l)| &l.image)
                .collect();
            let (mut own, mut other) = (0usize, 0usize);
            for yy in y.max(0)..(y + h).min(layer.height() as i64) {
                for xx in x.max(0)..(x + w).min(layer.width() as i64) {
                    let (xx, yy) = (xx as u32, yy as u32);
                    if layer.get_pixel(xx, yy).0[0] == 0 {
                        own += 1;
                    } else if hiding.iter().any(|l| l.get_pixel(xx, yy).0[0] == 0) {
                        other += 1;
                    }
                }
            }
            let occluded = other * 10 > own;
            if !occluded && !crossed_by_marks(&line.tight) {
                glyph_readings.extend(glyphs::read(&line.tight, &groups));
            }
            for image in [&line.tight, &line.wide] {
                let unsure = occluded || crossed_by_marks(image);
                let votes = if unsure { &mut hints } else { &mut clear };
                let before = votes.matching;
                votes.read(ocr, &raster::pad_white(image, 12), zone, &pattern)?;
                if !unsure && votes.matching > before {
                    break;
                }
            }
            // Inks multiply: where the darker ink covers the digits, the number's ink is still in the
            // colour. Put those pixels back in this layer when the two inks tell apart, and read that.
            // Putting back can also draw a stroke out of the pen's edge, so what it reads is sure only
            // when a reading without it (this layer with its holes, or the lines with the pen on them)
            // said the same.
            let uncovered = if occluded { uncover(&crop, layer, &hiding, (y, y + h)) } else { None };
            let with_pen: Vec<String> = hints.texts.iter().map(|v| v.0.clone()).collect();
            if let Some(found) = uncovered.as_ref().and_then(find_text_line) {
                for image in [&found.tight, &found.wide] {
                    let Some((text, confidence)) = read_number(ocr, &raster::pad_white(image, 12), zone, &pattern)? else {
                        continue;
                    };
                    let confirmed = !crossed_by_marks(image) && with_pen.contains(&text);
                    if confirmed {
                        clear.add(text, confidence);
                        break;
                    }
                    hints.add(text, confidence);
                }
            }
        }
        // The lines' readings and the clear layers' count together: disagreement lowers both.
        votes.merge(clear);
    }
    let confirmed = votes.confirmed.clone();
    let reading = if votes.texts.is_empty() {
        hints.best().map(|r| BlankNumberReading { confidence: r.confidence.min(HINT_CONFIDENCE_CAP), ..r })
    } else {
        votes.best()
    };
    if glyph_readings.is_empty() {
        glyph_readings.extend(other_band);
    }
    let glyph_text = glyphs::merge(&glyph_readings).map(|g| g.text());
    let reading = match reading {
        Some(r) => Some(BlankNumberReading { tesseract: Some(r.text.clone()), glyphs: glyph_text, ..r }),
        // Only the glyph reader read the number, maybe only some characters of it (a mark hid the
        // others): a hint for the reviewer and a voice for the stack check.
        None => glyph_text
            .filter(|g| g.chars().any(|c| c.is_ascii_digit()) && pattern.is_match(&g.replace('?', "0")))
            .map(BlankNumberReading::glyphs_only),
    };
    let image = match (&reading, settled_line) {
        (Some(r), Some(line))
            if r.confidence >= SAMPLE_CONFIDENCE
                && (r.agreeing >= 2 || confirmed.as_deref() == Some(r.text.as_str()))
                && r.readers_agree() =>
        {
            NumberImage::Read { text: r.text.clone(), line }
        }
        _ => NumberImage::Unread { zone: gray },
    };
    Ok((reading, image))
}

/// How far beside a line's tight crop the glyph reader looks for characters the line finder left out.
const ACROSS_MM: f64 = 15.0;

/// The glyph reader on a line of the zone: its tight crop, and where that reads less than every
/// character, also the line's rows [`ACROSS_MM`] further on each side, merged character by character
/// ([`glyphs::merge`]: a character two crops read differently for sure is unsure). The line finder ends
/// a line at the last character-sized piece, so the characters a mark joined into one large piece (and
/// the mark itself) fall outside the tight crop; across, the glyph reader sees them and the mark, and
/// reads the characters in the clear in their places.
fn glyphs_on_line(gray: &GrayImage, line: &TextLine, groups: &[usize]) -> Option<glyphs::GlyphReading> {
    let tight = glyphs::read(&line.tight, groups);
    if tight.as_ref().is_some_and(glyphs::GlyphReading::complete) {
        return tight;
    }
    let (x, y, w, h) = line.tight_box;
    let more = (ACROSS_MM * OCR_PX_PER_MM) as i64;
    let across = raster::crop(gray, x - more, y, w + 2 * more, h).and_then(|band| glyphs::read(&band, groups));
    let readings: Vec<glyphs::GlyphReading> = tight.into_iter().chain(across).collect();
    glyphs::merge(&readings)
}

/// A reading this sure lends its line to the stack's glyph book.
const SAMPLE_CONFIDENCE: f32 = 0.85;

/// The blank number's image on a page whose pose came from its code, kept for the stack check.
#[derive(Debug, Clone, PartialEq)]
pub enum NumberImage {
    /// The printed line of a number read for sure (grey, 10 px/mm): the crop the settling reading was
    /// made from, tight around the characters or, where the tight crop left one out, the wider one.
    Read { text: String, line: GrayImage },
    /// The whole search zone of a number not read for sure (grey, 10 px/mm).
    Unread { zone: GrayImage },
}

/// How much lighter (mean luminance of its layer, 0–255) another ink must be than the number's own to
/// be unable to hide the number's strokes (an ink about as dark is counted as hiding).
const LIGHTER_INK: f32 = 10.0;

/// OCR of one line image: the text normalised to the pattern and Tesseract's confidence, if it matches.
fn read_number(ocr: &dyn Ocr, image: &GrayImage, zone: &BlankNumberZone, pattern: &Regex) -> Result<Option<(String, f32)>, OcrError> {
    let result = ocr.read_line(image, &zone.charset)?;
    Ok(normalise(&result.text, pattern, &zone.example).map(|text| (text, result.confidence)))
}

/// Texts that matched the pattern, with how many variants read each and their best confidence.
#[derive(Default, Clone)]
struct Votes {
    texts: Vec<(String, usize, f32)>,
    matching: usize,
    /// A text the glyph reader also read, every character for sure, on the same line.
    confirmed: Option<String>,
}

impl Votes {
    fn read(&mut self, ocr: &dyn Ocr, image: &GrayImage, zone: &BlankNumberZone, pattern: &Regex) -> Result<(), OcrError> {
        if let Some((text, confidence)) = read_number(ocr, image, zone, pattern)? {
            self.add(text, confidence);
        }
        Ok(())
    }

    fn add(&mut self, text: String, confidence: f32) {
        self.matching += 1;
        match self.texts.iter_mut().find(|v| v.0 == text) {
            Some(v) => {
                v.1 += 1;
                v.2 = v.2.max(confidence);
            }
            None => self.texts.push((text, 1, confidence)),
        }
    }

    fn merge(&mut self, other: Votes) {
        self.matching += other.matching;
        self.confirmed = self.confirmed.take().or(other.confirmed);
        for (text, n, confidence) in other.texts {
            match self.texts.iter_mut().find(|v| v.0 == text) {
                Some(v) => {
                    v.1 += n;
                    v.2 = v.2.max(confidence);
                }
                None => self.texts.push((text, n, confidence)),
            }
        }
    }

    /// The confidence [`Votes::best`] would give (0 with no reading).
    fn best_confidence(&self) -> f32 {
        self.clone().best().map_or(0.0, |r| r.confidence)
    }

    /// Two variants agree, or the glyph reader confirmed one: more reading would not change the answer.
    fn settled(&self) -> bool {
        self.confirmed.is_some() || self.texts.iter().any(|v| v.1 >= 2)
    }

    fn best(mut self) -> Option<BlankNumberReading> {
        // Readings that count as agreeing ones: the variants that read the text, and the glyph reader
        // when it confirmed it.
        let confirmed = self.confirmed.take();
        let support = |text: &str, agreeing: usize| agreeing + usize::from(confirmed.as_deref() == Some(text));
        self.texts.sort_by(|a, b| support(&b.0, b.1).cmp(&support(&a.0, a.1)).then(b.1.cmp(&a.1)).then(b.2.total_cmp(&a.2)));
        let matching = self.matching;
        self.texts.into_iter().next().map(|(text, agreeing, confidence)| {
            // One lone reading is worth less; disagreeing readings pull it down further.
            let agreement = if support(&text, agreeing) >= 2 { 1.0 } else { 0.8 };
            let consensus = agreeing as f32 / matching as f32;
            BlankNumberReading {
                text,
                confidence: (confidence * agreement * consensus).clamp(0.0, 1.0),
                agreeing,
                matching,
                from_stack: false,
                tesseract: None,
                glyphs: None,
            }
        })
    }
}

/// One ink of a crop: a binary image with only that ink, and the ink's mean luminance.
struct InkLayer {
    image: GrayImage,
    luminance: f32,
}

/// Splits the ink of a crop into up to four layers by colour (k-means over the ink pixels' RGB):
/// each layer is a binary image with only that ink. On a grey scan the layers split by darkness.
fn ink_layers(crop: &RgbImage) -> Vec<InkLayer> {
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
    // Seeds: the darkest, the most saturated and the lightest ink, and the ink farthest from those
    // three (a zone can hold four: a red number, a black pen over it, a blue frame, a violet stamp).
    let sat = |p: &[f32; 3]| p.iter().cloned().fold(f32::MIN, f32::max) - p.iter().cloned().fold(f32::MAX, f32::min);
    let sum = |p: &[f32; 3]| p[0] + p[1] + p[2];
    let pick = |key: &dyn Fn(&[f32; 3]) -> f32| inked.iter().map(|(_, p)| *p).max_by(|a, b| key(a).total_cmp(&key(b))).expect("not empty");
    let seeds = [pick(&|p| -sum(p)), pick(&sat), pick(&sum)];
    let farthest = pick(&|p| seeds.iter().map(|s| dist2(p, s)).fold(f32::MAX, f32::min));
    let mut centres = [seeds[0], seeds[1], seeds[2], farthest];
    let mut labels = vec![0usize; inked.len()];
    for _ in 0..8 {
        for (label, (_, p)) in labels.iter_mut().zip(&inked) {
            *label = (0..centres.len()).min_by(|&a, &b| dist2(p, &centres[a]).total_cmp(&dist2(p, &centres[b]))).expect("four centres");
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
            let mut sum = 0u64;
            for ((i, _), _) in inked.iter().zip(&labels).filter(|(_, &l)| l == k) {
                layer[*i] = 0;
                sum += lum.as_raw()[*i] as u64;
            }
            let image = GrayImage::from_raw(crop.width(), crop.height(), layer)?;
            Some(InkLayer { image, luminance: sum as f32 / count as f32 })
        })
        .collect()
}

/// `layer` with the pixels of the `hiding` (darker) inks inside the rows `rows` put back where the
/// layer's own ink lies under them. Inks multiply, so in optical density (−ln of the share of light
/// left) a pixel is the sum of the inks on it: each pixel is split into the layer's ink and the hiding
/// ink (least squares, both non-negative), the layer's own ink measured inside the rows, the hiding ink
/// where it is alone (outside them). None when the inks are too alike in colour to split (a black pen
/// over a black number) or either is too scarce to measure.
fn uncover(crop: &RgbImage, layer: &GrayImage, hiding: &[&GrayImage], rows: (i64, i64)) -> Option<GrayImage> {
    let (w, h) = crop.dimensions();
    let mut histograms = [[0usize; 256]; 3];
    for p in crop.as_raw().chunks_exact(3) {
        for c in 0..3 {
            histograms[c][p[c] as usize] += 1;
        }
    }
    let median = |hist: &[usize; 256]| {
        let half = (w * h) as usize / 2;
        let mut seen = 0;
        hist.iter().position(|&n| {
            seen += n;
            seen > half
        })
    };
    let paper = [median(&histograms[0])?, median(&histograms[1])?, median(&histograms[2])?].map(|v| v.max(1) as f32);
    let density = |p: &[u8]| -> [f32; 3] { [0, 1, 2].map(|c| (paper[c] / p[c].max(1) as f32).ln().max(0.0)) };
    let hidden = |x: u32, y: u32| hiding.iter().any(|l| l.get_pixel(x, y).0[0] == 0);
    let inside = |y: u32| (y as i64) >= rows.0 && (y as i64) < rows.1;
    let (mut own, mut other): (Vec<[f32; 3]>, Vec<[f32; 3]>) = (Vec::new(), Vec::new());
    for (x, y, p) in crop.enumerate_pixels() {
        if inside(y) && layer.get_pixel(x, y).0[0] == 0 {
            own.push(density(&p.0));
        } else if !inside(y) && hidden(x, y) {
            other.push(density(&p.0));
        }
    }
    if own.len() < 50 || other.len() < 30 {
        return None;
    }
    let typical = |v: &mut Vec<[f32; 3]>| {
        [0, 1, 2].map(|c| {
            v.sort_by(|a, b| a[c].total_cmp(&b[c]));
            v[v.len() / 2][c]
        })
    };
    let (u, v) = (typical(&mut own), typical(&mut other));
    let dot = |a: &[f32; 3], b: &[f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let (uu, vv, uv) = (dot(&u, &u), dot(&v, &v), dot(&u, &v));
    // Directions closer than 20° (cos 0.94): the split would be noise.
    if uu <= 0.0 || vv <= 0.0 || uv / (uu * vv).sqrt() > 0.94 {
        return None;
    }
    let det = uu * vv - uv * uv;
    let (wu, hu) = (w as usize, h as usize);
    let mut under = vec![false; wu * hu];
    for (x, y, p) in crop.enumerate_pixels() {
        if !inside(y) || !hidden(x, y) {
            continue;
        }
        let d = density(&p.0);
        let (du, dv) = (dot(&d, &u), dot(&d, &v));
        let (a, b) = ((du * vv - dv * uv) / det, (dv * uu - du * uv) / det);
        let a = if b < 0.0 { du / uu } else { a };
        under[y as usize * wu + x as usize] = a >= 0.5;
    }
    // A crossing is a blob as wide as the pen and the stroke under it; thin seams along the pen's
    // edges (colour bled there by the scanner and JPEG) are no ink under it: open with a 3×3 square.
    // Whether any pixel of the 3×3 square around (x, y) has `value` in `m`.
    let any_around = |m: &[bool], x: usize, y: usize, value: bool| {
        (y.saturating_sub(1)..=(y + 1).min(hu - 1)).any(|yy| (x.saturating_sub(1)..=(x + 1).min(wu - 1)).any(|xx| m[yy * wu + xx] == value))
    };
    let eroded: Vec<bool> = (0..wu * hu).map(|i| under[i] && !any_around(&under, i % wu, i / wu, false)).collect();
    let mut out = layer.clone();
    for (i, _) in under.iter().enumerate().filter(|(_, &u)| u) {
        if any_around(&eroded, i % wu, i / wu, true) {
            out.put_pixel((i % wu) as u32, (i / wu) as u32, image::Luma([0]));
        }
    }
    Some(out)
}

fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// The darkest ink (1st percentile) and the paper (median) of a crop.
pub(crate) fn ink_and_paper(gray: &GrayImage) -> (u8, u8) {
    let [ink, paper] = crate::raster::gray_percentiles(gray, [1, 50]);
    (ink, paper)
}

/// Whether a mark runs through the characters of a line crop (dark = ink; binary or grey): a pen
/// stroke or a stamp's ring as dark as the print. The characters are the most pieces of ink sharing a
/// top and a bottom along the line's slant (a page straightened to within a degree or two still leaves
/// its line a few pixels higher at one end: the slant is the median slope between pieces of one
/// character height); a piece over their rows that reaches well above or below them, or spans more
/// than two characters' width, is a mark crossing them (or joining them). No such set of at least
/// three characters: nothing to trust either.
fn crossed_by_marks(image: &GrayImage) -> bool {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let level = raster::otsu(image);
    let ink: Vec<bool> = image.as_raw().iter().map(|&v| v <= level).collect();
    let mm = OCR_PX_PER_MM as usize;
    // Specks of noise are no mark.
    let pieces: Vec<Piece> = pieces(&ink, w, h).into_iter().filter(|p| p.ink * 100 >= mm * mm * 12).collect();
    // (count, top, bottom, slant): tops and bottoms measured along the slant (`along_slant`).
    let mut characters: Option<(usize, f32, f32, f32)> = None;
    for a in pieces.iter().filter(|p| (2 * mm..=9 * mm).contains(&p.height())) {
        let tolerance = (a.height() * 15 / 100 + 1) as f32;
        let slant = line_slant(&pieces, a);
        let (a_top, a_bottom) = along_slant(a, slant);
        let aligned: Vec<(f32, f32)> = pieces
            .iter()
            .map(|b| along_slant(b, slant))
            .filter(|&(top, bottom)| (top - a_top).abs() <= tolerance && (bottom - a_bottom).abs() <= tolerance)
            .collect();
        if characters.is_none_or(|(n, ..)| aligned.len() > n) {
            let median = |mut v: Vec<f32>| {
                v.sort_by(f32::total_cmp);
                v[v.len() / 2]
            };
            characters =
                Some((aligned.len(), median(aligned.iter().map(|t| t.0).collect()), median(aligned.iter().map(|t| t.1).collect()), slant));
        }
    }
    let Some((count, top, bottom, slant)) = characters else {
        return true;
    };
    if count < 3 {
        return true;
    }
    let height = bottom - top + 1.0;
    let reach = (height / 5.0).floor().clamp(3.0, 6.0);
    pieces.iter().any(|p| {
        let (y0, y1) = along_slant(p, slant);
        y1 >= top && y0 <= bottom && (y0 + reach < top || y1 > bottom + reach || p.width() as f32 * 10.0 > height * 22.0)
    })
}

/// A piece's top and bottom measured along a line of `slant` (as if the line were turned level about x = 0).
fn along_slant(p: &Piece, slant: f32) -> (f32, f32) {
    let shift = slant * (p.x0 + p.x1) as f32 / 2.0;
    (p.y0 as f32 - shift, p.y1 as f32 - shift)
}

/// The most a line may slant in a crop of a straightened page (about 5 degrees: the page's own skew
/// left after straightening, and the print house's number printed a little askew on its blank).
const MAX_SLANT: f32 = 0.09;

/// The slant (pixels down per pixel right) of the line `a` stands in: the median slope between the
/// centres of the pieces as tall as `a` (within 15 %), within [`MAX_SLANT`]; 0 with fewer than three.
fn line_slant(pieces: &[Piece], a: &Piece) -> f32 {
    let tolerance = a.height() * 15 / 100 + 1;
    let centre = |p: &Piece| ((p.x0 + p.x1) as f32 / 2.0, (p.y0 + p.y1) as f32 / 2.0);
    let like: Vec<(f32, f32)> = pieces.iter().filter(|p| p.height().abs_diff(a.height()) <= tolerance).map(centre).collect();
    if like.len() < 3 {
        return 0.0;
    }
    let mut slopes: Vec<f32> = Vec::new();
    for (i, p) in like.iter().enumerate() {
        for q in &like[i + 1..] {
            let dx = q.0 - p.0;
            if dx.abs() >= 1.0 {
                slopes.push((q.1 - p.1) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return 0.0;
    }
    slopes.sort_by(f32::total_cmp);
    slopes[slopes.len() / 2].clamp(-MAX_SLANT, MAX_SLANT)
}

/// The printed line of a zone crop (grey, tight around the characters) when no mark runs through it and
/// the crop cuts no ink at its sides: a line whose characters can be learned from.
pub(crate) fn clean_line(zone: &GrayImage) -> Option<GrayImage> {
    let line = find_text_line(zone)?;
    let binary = raster::threshold(&line.tight, raster::otsu(&line.tight));
    (!crossed_by_marks(&binary) && !cuts_ink_at_side(&binary)).then_some(line.tight)
}

/// Whether a mark runs through a grey line crop's characters with its ink taken at Otsu's level (where
/// a mark lighter than the print, which the darker thresholds of the reading dropped, is ink again).
pub(crate) fn crossed_at_otsu(line: &GrayImage) -> bool {
    crossed_by_marks(&raster::threshold(line, raster::otsu(line)))
}

/// Whether a binarised line crop has ink in its outermost columns within the rows of its characters.
fn cuts_ink_at_side(image: &GrayImage) -> bool {
    let (w, h) = (image.width(), image.height());
    if w < 4 || h < 4 {
        return false;
    }
    let (top, bottom) = (h / 4, h - h / 4);
    [0, 1, w - 2, w - 1].into_iter().any(|x| (top..bottom).any(|y| image.get_pixel(x, y).0[0] < 128))
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

/// Candidate text lines of a zone: the bands of inked rows, most ink first (at most three), then the
/// rows of character-sized pieces no band gave (at most three more). A frame pattern or a rule that is
/// not solid enough to be dropped as a line can out-ink the number, so a reader tries the next one.
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
    bands.sort_by_key(|b| std::cmp::Reverse(b.2));
    let mut lines: Vec<TextLine> = bands.into_iter().take(3).filter_map(|(top, bottom, _)| line_in_band(gray, &ink, top, bottom)).collect();
    // A patterned frame that the scan broke into small pieces (a guilloche's hairlines at 200 dpi or
    // under JPEG) is neither a line nor one large piece, yet its side still inks every row and joins the
    // number's rows into one band too tall for a line. Rows of character-sized pieces side by side find
    // the number all the same (a column of pieces is no line); tried after the bands, skipping the
    // lines a band already gave.
    for found in component_lines(&ink, w, h).into_iter().take(3) {
        let Some(line) = text_line(gray, found) else {
            continue;
        };
        if !lines.iter().any(|l| mostly_same(l.tight_box, line.tight_box)) {
            lines.push(line);
        }
    }
    lines
}

/// Two boxes (x, y, w, h) overlap by more than half of the smaller one.
fn mostly_same(a: (i64, i64, i64, i64), b: (i64, i64, i64, i64)) -> bool {
    let ix = ((a.0 + a.2).min(b.0 + b.2) - a.0.max(b.0)).max(0);
    let iy = ((a.1 + a.3).min(b.1 + b.3) - a.1.max(b.1)).max(0);
    ix * iy * 2 > (a.2 * a.3).min(b.2 * b.3)
}

/// A piece of ink: bounding box (x0, y0, x1, y1, inclusive) and its pixel count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
    pub ink: usize,
}

impl Piece {
    pub fn height(&self) -> usize {
        self.y1 - self.y0 + 1
    }
    pub fn width(&self) -> usize {
        self.x1 - self.x0 + 1
    }
}

/// Text lines as chains of character-sized pieces of ink: pieces 1.5–9 mm tall of about the same height
/// that overlap vertically and stand closer than about a character's height apart are one line. Lines
/// 2–9 mm tall and wider than high, most ink first: (x0, y0, x1, y1) of each.
fn component_lines(ink: &[bool], w: usize, h: usize) -> Vec<(usize, usize, usize, usize)> {
    let mm = OCR_PX_PER_MM as usize;
    let pieces: Vec<Piece> =
        pieces(ink, w, h).into_iter().filter(|p| p.height() * 10 >= 15 * mm && p.height() <= 9 * mm && p.width() <= 60 * mm).collect();
    // Union-find over pieces that sit side by side.
    let mut parent: Vec<usize> = (0..pieces.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..pieces.len() {
        for j in i + 1..pieces.len() {
            let (a, b) = (&pieces[i], &pieces[j]);
            let (lo, hi) = (a.height().min(b.height()), a.height().max(b.height()));
            let overlap = (a.y1.min(b.y1) + 1).saturating_sub(a.y0.max(b.y0));
            let gap = b.x0.saturating_sub(a.x1).max(a.x0.saturating_sub(b.x1));
            if hi * 10 <= lo * 16 && overlap * 10 >= lo * 6 && gap <= hi * 12 / 10 {
                let (ra, rb) = (root(&mut parent, i), root(&mut parent, j));
                parent[ra] = rb;
            }
        }
    }
    let mut lines: std::collections::BTreeMap<usize, Piece> = std::collections::BTreeMap::new();
    for (i, &p) in pieces.iter().enumerate() {
        let r = root(&mut parent, i);
        lines
            .entry(r)
            .and_modify(|l| {
                *l = Piece { x0: l.x0.min(p.x0), y0: l.y0.min(p.y0), x1: l.x1.max(p.x1), y1: l.y1.max(p.y1), ink: l.ink + p.ink }
            })
            .or_insert(p);
    }
    let mut lines: Vec<Piece> =
        lines.into_values().filter(|l| l.height() >= 2 * mm && l.height() <= 9 * mm && l.width() * 2 >= l.height() * 3).collect();
    lines.sort_by(|a, b| b.ink.cmp(&a.ink).then(a.y0.cmp(&b.y0)));
    lines.into_iter().map(|l| (l.x0, l.y0, l.x1, l.y1)).collect()
}

/// The 8-connected pieces of ink.
pub(crate) fn pieces(ink: &[bool], w: usize, h: usize) -> Vec<Piece> {
    let mask = GrayImage::from_raw(w as u32, h as u32, ink.iter().map(|&b| if b { 255 } else { 0 }).collect()).expect("sizes match");
    let labels =
        imageproc::region_labelling::connected_components(&mask, imageproc::region_labelling::Connectivity::Eight, image::Luma([0u8]));
    let count = labels.as_raw().iter().copied().max().unwrap_or(0) as usize;
    let mut pieces = vec![Piece { x0: usize::MAX, y0: usize::MAX, x1: 0, y1: 0, ink: 0 }; count + 1];
    for (x, y, l) in labels.enumerate_pixels() {
        let p = &mut pieces[l.0[0] as usize];
        let (x, y) = (x as usize, y as usize);
        *p = Piece { x0: p.x0.min(x), y0: p.y0.min(y), x1: p.x1.max(x), y1: p.y1.max(y), ink: p.ink + 1 };
    }
    pieces.into_iter().skip(1).filter(|p| p.ink > 0).collect()
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
    let labels =
        imageproc::region_labelling::connected_components(&mask, imageproc::region_labelling::Connectivity::Eight, image::Luma([0u8]));
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
    // Columns of the band; clusters separated by more than 5 mm, or one and a half times the band's
    // height for large print (a monospaced face puts a whole character's width between the groups of
    // `05 1543383`), are different things.
    let gap = (5 * mm).max((bottom - top + 1) * 3 / 2);
    let cols: Vec<bool> = (0..w).map(|x| (top..=bottom).any(|y| ink[y * w + x])).collect();
    let mut clusters: Vec<(usize, usize, usize)> = Vec::new();
    for (x, &c) in cols.iter().enumerate() {
        if !c {
            continue;
        }
        let n = (top..=bottom).filter(|&y| ink[y * w + x]).count();
        match clusters.last_mut() {
            Some(cl) if x <= cl.1 + gap => {
                cl.1 = x;
                cl.2 += n;
            }
            _ => clusters.push((x, x, n)),
        }
    }
    let (left, right, _) = clusters.into_iter().max_by_key(|c| c.2)?;
    text_line(gray, (left, top, right, bottom))
}

/// The line whose ink spans `(left, top, right, bottom)`, cut with 1 mm of paper around (tight) and more (wide).
fn text_line(gray: &GrayImage, (left, top, right, bottom): (usize, usize, usize, usize)) -> Option<TextLine> {
    let pad = OCR_PX_PER_MM as i64;
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

/// A printed line of a template rectangle as Tesseract read it, with the line's grey crop (tight, 10
/// px/mm) for the glyph reader.
#[derive(Debug)]
pub struct ZoneLine {
    pub ocr: OcrLine,
    pub tight: GrayImage,
}

/// OCR of an arbitrary template rectangle as one line (the printed identity of a page without a code).
pub fn read_zone_line<'a>(
    page: impl Into<Pixels<'a>>,
    pose: &SheetPose,
    rect: &Rect,
    charset: &str,
    ocr: &dyn Ocr,
) -> Result<Option<ZoneLine>, OcrError> {
    let gray = page.into().cut_luminance(pose, &grow(rect, 2.0), OCR_PX_PER_MM);
    let Some(line) = find_text_line(&gray) else {
        return Ok(None);
    };
    let binary = raster::pad_white(&raster::threshold(&line.tight, raster::otsu(&line.tight)), 12);
    let read = ocr.read_line(&binary, charset)?;
    Ok(Some(ZoneLine { ocr: read, tight: line.tight }))
}

#[cfg(test)]
mod tests;
