//! Finding and reading the certificate's QR code on a page. [`decode_all`] reads every symbol in one
//! image with rqrr; the quick passes try zxing-cpp first (`fast`: a fraction of rqrr's time on the same
//! crop, and another finder and binariser). [`find_code`] escalates through strategies, cheapest first,
//! and stops at the first symbol whose text is a certscan payload:
//! 1. the expected code zone in the two orientations the page's aspect allows, reduced to ~150 dpi:
//!    zxing-cpp on its luminance, then on its brightest channel (a blue stamp over the code drops out),
//!    then rqrr (most scans end at the first of these);
//! 2. the whole page reduced to ~150 dpi (a code far from where the template puts it), zxing-cpp then rqrr;
//! 3. the expected code zone of the template in each of the 4 orientations, at full resolution, then
//!    with the stamp-dropping ink channel, local-mean and Otsu binarisation, and blurred (rqrr);
//! 4. the whole page at full resolution, then a scale pyramid (100 and 200 dpi), then binarised (rqrr).
//!
//! Corners come back in page pixels, in the symbol's own order and rqrr's convention whichever reader
//! found them, so `orient` can tell the rotation. Talks to nothing; `certscan_domain` decides whether a
//! text is ours.

use image::GrayImage;

use certscan_templates::Template;

use crate::locate::{grow, SheetPose};
use crate::pixels::Pixels;
use crate::raster;

mod fast;

/// One decoded QR symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedCode {
    pub text: String,
    /// Corners in pixel coordinates, in the symbol's own order (top-left, top-right, bottom-right,
    /// bottom-left as printed), so the page's rotation can be read from them. rqrr's corners are module
    /// grid points (0, 0) to (modules + 1, modules + 1): the top-left corner of the symbol, and one
    /// module beyond its right and bottom edges.
    pub corners: [(i32, i32); 4],
    /// Modules across the symbol (21 for version 1, +4 per version).
    pub modules: usize,
}

/// Every QR symbol rqrr can decode in the image.
pub fn decode_all(image: &GrayImage) -> Vec<DecodedCode> {
    // rqrr's own thresholding, pixel for pixel (see `rqrr_threshold`), into rqrr's plain buffer.
    let (w, black) = (image.width() as usize, rqrr_threshold(image));
    let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, image.height() as usize, |x, y| black[y * w + x]);
    let grids = prepared.detect_grids();
    decode_grids(grids)
}

/// Which pixels rqrr's `PreparedImage::prepare` makes black: each row against running averages taken
/// from both of its ends (alternating by row and carried over from row to row), exactly as rqrr does,
/// but without its two 64-bit divisions per pixel, which made that preparation a twentieth of a page's
/// time. rqrr's flood fills then also run on its plain buffer instead of an `image` buffer.
fn rqrr_threshold(image: &GrayImage) -> Vec<bool> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let mut black = vec![false; w * h];
    if w == 0 {
        return black;
    }
    let s = (w / 8).max(1) as u64;
    let (keep, by_s) = (s - 1, Divisor::new(s));
    let mut row_average = vec![0u64; w];
    let (mut avg_v, mut avg_u) = (0u64, 0u64);
    for (y, (row, out)) in raw.chunks_exact(w).zip(black.chunks_exact_mut(w)).enumerate() {
        row_average.fill(0);
        for x in 0..w {
            let (v, u) = if y % 2 == 0 { (w - 1 - x, x) } else { (x, w - 1 - x) };
            avg_v = by_s.div(avg_v * keep) + row[v] as u64;
            avg_u = by_s.div(avg_u * keep) + row[u] as u64;
            row_average[v] += avg_v;
            row_average[u] += avg_u;
        }
        // rqrr: black when p < average * 95 / (200 s), the quotient floored; for a whole number p that
        // is (p + 1) * 200 s <= average * 95, with no division.
        for ((o, &p), &average) in out.iter_mut().zip(row).zip(&row_average) {
            *o = (p as u64 + 1) * 200 * s <= average * 95;
        }
    }
    black
}

/// Floor division by a fixed divisor as a multiplication and a shift (Granlund and Montgomery): with
/// m = floor(2^64 / d) + 1, floor(n * m / 2^64) is exactly floor(n / d) for every n below 2^32 (m d
/// exceeds 2^64 by at most d; a d above 2^32 gives m n below 2^64, so 0, as it should); larger n are
/// divided plainly. rqrr's running averages stay under 255 s^2, far below that.
struct Divisor {
    d: u64,
    m: u128,
}

impl Divisor {
    fn new(d: u64) -> Divisor {
        let d = d.max(1);
        Divisor { d, m: (1u128 << 64) / d as u128 + 1 }
    }

    #[inline]
    fn div(&self, n: u64) -> u64 {
        if n < 1 << 32 {
            ((n as u128 * self.m) >> 64) as u64
        } else {
            n / self.d
        }
    }
}

/// Every QR symbol in a binary image (0 = ink).
fn decode_binary(binary: &GrayImage) -> Vec<DecodedCode> {
    let (w, raw) = (binary.width() as usize, binary.as_raw());
    let mut prepared = rqrr::PreparedImage::prepare_from_bitmap(w, binary.height() as usize, |x, y| raw[y * w + x] < 128);
    let grids = prepared.detect_grids();
    decode_grids(grids)
}

fn decode_grids<G: rqrr::BitGrid>(grids: Vec<rqrr::Grid<G>>) -> Vec<DecodedCode> {
    grids
        .into_iter()
        .filter_map(|grid| {
            let corners = grid.bounds.map(|p| (p.x, p.y));
            let modules = grid.grid.size();
            grid.decode().ok().map(|(_, text)| DecodedCode { text, corners, modules })
        })
        .collect()
}

/// Pages read by the second decoder are brought to about this resolution first (a code's modules are
/// 4 px and more there; a 600-dpi page would cost four times as much for nothing).
const SECOND_DECODER_DPI: f64 = 300.0;

/// The text of a certscan certificate code the second decoder (rxing, a port of ZXing: another finder
/// pattern search, another binariser, its own Reed-Solomon decoding) reads anywhere on the page. For the
/// pages where every rqrr strategy failed (a stamp's ring through a black-and-white code, a code
/// thickened by a 200-dpi threshold): about 20-100 ms a page, spent on those pages only. Only the text
/// is used; the sheet's pose then comes from the page itself.
pub fn second_decoder_certificate(gray: &GrayImage, dpi: f64) -> Option<String> {
    let factor = (dpi / SECOND_DECODER_DPI).floor().max(1.0);
    let small;
    let image = if factor > 1.0 {
        small = raster::downscale(gray, factor as f32);
        &small
    } else {
        gray
    };
    let mut hints = rxing::DecodeHints::default().with(rxing::DecodeHintValue::TryHarder(true));
    let result = rxing::helpers::detect_in_luma_slice_with_hints(
        image.as_raw(),
        image.width(),
        image.height(),
        Some(rxing::BarcodeFormat::QR_CODE),
        &mut hints,
    )
    .ok()?;
    let text = result.getText().to_string();
    certscan_domain::CertificatePayload::parse(&text).is_ok().then_some(text)
}

/// Which strategy found the code; kept in the page's reading so weak spots show up in statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QrStrategy {
    /// The template's code zone, reduced to about 150 dpi, in one of the two orientations the page's
    /// aspect allows (the first, cheapest pass).
    ZoneQuick { orientation_deg: u32, reader: Reader },
    /// Whole page, reduced to about 150 dpi.
    PageReduced { reader: Reader },
    /// The template's code zone, assuming the page is turned by `orientation_deg`.
    Zone { orientation_deg: u32, variant: ZoneVariant },
    /// Whole page at working resolution.
    PageFull,
    /// Whole page at another scale of the pyramid.
    PagePyramid { dpi: u32 },
    /// Whole page reduced and binarised with local means.
    PageBinarised,
    /// The second decoder (rxing, a port of ZXing) over the whole page, when rqrr found no certscan
    /// code at all: its text only; the sheet's pose then comes from the page.
    SecondDecoder,
}

/// Which QR reader decoded a code in the quick passes (the code zone, the whole page reduced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// zxing-cpp, tried first.
    Fast,
    /// zxing-cpp on the zone's brightest channel (a blue stamp over the code drops out); colour pages.
    FastInk,
    /// rqrr, on the luminance crops, when zxing-cpp read nothing there.
    Rqrr,
}

/// How a code-zone crop was prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneVariant {
    /// Luminance, rqrr's own thresholding.
    Plain,
    /// Brightest channel: a coloured stamp over the code fades out.
    InkChannel,
    /// Local-mean binarisation (uneven lighting, grey paper).
    LocalMean,
    /// One global Otsu threshold.
    Otsu,
    /// Halved, which averages out JPEG noise and speckle.
    Reduced,
    /// Box-blurred then Otsu: broken modules close up.
    Blurred,
    /// A global threshold close to the darkest ink: a stamp lighter than the printed modules (a grey
    /// scan's coloured stamp) drops out where Otsu would split the difference.
    DarkThreshold,
    /// Otsu, then a morphological opening about a third of a module wide: pen strokes thinner than a
    /// module (a signature across the code) disappear, modules stay.
    StrokesRemoved,
}

/// A code found on the page.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundCode {
    pub text: String,
    /// Symbol corners in page pixels, in symbol order (top-left, top-right, bottom-right, bottom-left
    /// as printed); rqrr's grid points, see [`DecodedCode::corners`].
    pub corners: [(f64, f64); 4],
    pub modules: usize,
    pub strategy: QrStrategy,
}

/// The outcome of a search: the code (a certscan payload if any was found, else the first foreign
/// code) and how many decode attempts it took.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeSearch {
    pub code: Option<FoundCode>,
    pub attempts: usize,
}

/// What the search looks at: one page, in grey and (for colour scans) the ink channel.
#[derive(Debug, Clone, Copy)]
pub struct CodeSearchInput<'a> {
    pub gray: &'a GrayImage,
    /// The brightest-channel image, when the page has colour.
    pub ink: Option<&'a GrayImage>,
    /// Page pixels per inch of the sheet (from the file or estimated from the page size).
    pub dpi: f64,
    pub template: &'a Template,
}

/// How far the search goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSearchOptions {
    /// Stop after the quick passes (zone and whole page at ~150 dpi; enough for most pages); the
    /// default goes all the way.
    pub quick_only: bool,
    /// Where the search starts: a caller that already ran the first passes goes on from there.
    pub start: SearchStart,
    /// Millimetres of play around the expected code zone (printer offset + paper shift + skew).
    pub zone_margin_mm: u32,
}

impl Default for CodeSearchOptions {
    fn default() -> Self {
        CodeSearchOptions { quick_only: false, start: SearchStart::CodeZone, zone_margin_mm: 16 }
    }
}

/// The passes of [`find_code`], in order; a search runs from its start to the end (or to the end of the
/// quick passes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SearchStart {
    /// The code zone at ~150 dpi (quick).
    CodeZone,
    /// The whole page at ~150 dpi (quick).
    WholePage,
    /// The escalation: zone variants, full resolution, the pyramid, binarised.
    Escalation,
}

struct Search {
    attempts: usize,
    foreign: Option<FoundCode>,
}

impl Search {
    /// Runs one decode; returns a certscan code if this attempt found one.
    fn attempt(
        &mut self,
        strategy: QrStrategy,
        decode: impl FnOnce() -> Vec<DecodedCode>,
        to_page: impl Fn((i32, i32)) -> (f64, f64),
    ) -> Option<FoundCode> {
        self.attempts += 1;
        let mut ours = None;
        for code in decode() {
            let found = FoundCode { corners: code.corners.map(&to_page), text: code.text, modules: code.modules, strategy };
            if certscan_domain::is_certscan_code(&found.text) {
                ours = Some(found);
                break;
            }
            self.foreign.get_or_insert(found);
        }
        ours
    }
}

/// Looks for the certificate code on a page, cheapest strategy first.
pub fn find_code(input: CodeSearchInput<'_>, options: &CodeSearchOptions) -> CodeSearch {
    let mut search = Search { attempts: 0, foreign: None };
    let found = run_strategies(&input, options, &mut search);
    CodeSearch { code: found.or(search.foreign), attempts: search.attempts }
}

/// The first, cheapest pass straight on the page as decoded (colour or grey): the code zone in the two orientations the
/// page's aspect allows, cut out, turned grey and reduced to ~150 dpi; no grey page of the whole sheet
/// is made. Most pages end here; for the others, [`find_code`] goes on.
pub fn find_code_in_zones<'a>(page: impl Into<Pixels<'a>>, dpi: f64, template: &Template, options: &CodeSearchOptions) -> CodeSearch {
    let page = page.into();
    let mut search = Search { attempts: 0, foreign: None };
    let crop = |x, y, w, h| page.crop_luminance(x, y, w, h);
    // On a colour page, also the brightest channel, in which a blue stamp over the code drops out.
    let ink = |x, y, w, h| page.crop_ink(x, y, w, h);
    let found = quick_zones(&mut search, page.dimensions(), dpi.max(1.0), template, options, crop, ink);
    CodeSearch { code: found.or(search.foreign), attempts: search.attempts }
}

/// Resolution the quick code passes reduce a page towards: modules of the 30 mm code are 4 px there.
const CODE_SEARCH_DPI: f64 = 150.0;

/// The whole factor the quick code passes reduce a page of `dpi` by: the largest that keeps it at about
/// [`CODE_SEARCH_DPI`] or above (7 % under is allowed: 290 dpi halves to 145), 1 when none does. A
/// rounded factor took a 240-dpi page to 120 dpi, where half of such pages' codes went unread and each
/// cost the full search (three times a page's time).
fn code_reduction(dpi: f64) -> f32 {
    (dpi / CODE_SEARCH_DPI + 0.07).floor().max(1.0) as f32
}

fn quick_zones(
    search: &mut Search,
    page_px: (u32, u32),
    dpi: f64,
    template: &Template,
    options: &CodeSearchOptions,
    crop: impl Fn(i64, i64, i64, i64) -> Option<GrayImage>,
    ink: impl Fn(i64, i64, i64, i64) -> Option<GrayImage>,
) -> Option<FoundCode> {
    let likely: [u32; 2] = if page_px.0 > page_px.1 { [90, 270] } else { [0, 180] };
    let sheet = (template.page.width_mm as f64, template.page.height_mm as f64);
    let zone = grow(&template.code.symbol_rect(), options.zone_margin_mm as f32);
    let factor = code_reduction(dpi);
    // Each orientation's zone (luminance or ink channel), cut and reduced to ~150 dpi when first needed.
    // zxing-cpp reads the reduced zone as rqrr does: on the full-resolution zone its corners (whole
    // pixels of the page) gave poses for the number read no better than rqrr's (on 74 stacks of `hard`
    // and `office`, one certificate fewer attached than with rqrr alone; on the reduced zone four more).
    let cut = |o: u32, channel: &dyn Fn(i64, i64, i64, i64) -> Option<GrayImage>| {
        let pose = SheetPose::centred(sheet, page_px, dpi, o, 0.0);
        let (x, y, w, h) = pose.page_box(&zone);
        let crop = channel(x, y, w, h)?;
        let small = raster::downscale(&crop, factor);
        let f = crop.width() as f64 / small.width() as f64;
        Some((small, x.max(0) as f64, y.max(0) as f64, f))
    };
    let plain = [std::cell::OnceCell::new(), std::cell::OnceCell::new()];
    let inked = [std::cell::OnceCell::new(), std::cell::OnceCell::new()];
    // zxing-cpp on both orientations (a fraction of a millisecond each), then on their ink channel (a
    // stamp over the code), then rqrr on both, as before zxing-cpp was there.
    type Decode = fn(&GrayImage) -> Vec<DecodedCode>;
    let passes: [(Reader, bool, Decode); 3] =
        [(Reader::Fast, false, fast::decode_fast), (Reader::FastInk, true, fast::decode_fast), (Reader::Rqrr, false, decode_all)];
    for (reader, on_ink, decode) in passes {
        for (i, o) in likely.into_iter().enumerate() {
            let zone = if on_ink { inked[i].get_or_init(|| cut(o, &ink)) } else { plain[i].get_or_init(|| cut(o, &crop)) };
            let Some((small, x0, y0, f)) = zone else {
                continue;
            };
            let at = move |(px, py): (i32, i32)| (x0 + px as f64 * f, y0 + py as f64 * f);
            if let Some(found) = search.attempt(QrStrategy::ZoneQuick { orientation_deg: o, reader }, || decode(small), at) {
                return Some(found);
            }
        }
    }
    None
}

fn run_strategies(input: &CodeSearchInput<'_>, options: &CodeSearchOptions, search: &mut Search) -> Option<FoundCode> {
    let gray = input.gray;
    let dpi = input.dpi.max(1.0);
    let scaled = |factor: f64| move |(x, y): (i32, i32)| (x as f64 * factor, y as f64 * factor);

    let landscape = gray.width() > gray.height();
    let orientations: [u32; 4] = if landscape { [90, 270, 0, 180] } else { [0, 180, 90, 270] };
    let sheet = (input.template.page.width_mm as f64, input.template.page.height_mm as f64);
    let zone = grow(&input.template.code.symbol_rect(), options.zone_margin_mm as f32);
    let factor = code_reduction(dpi);

    // 1. The code zone in the two orientations the page's aspect allows, at ~150 dpi: a tenth of the
    //    page's pixels, and where the code is on almost every certificate.
    if options.start <= SearchStart::CodeZone {
        let crop = |x, y, w, h| raster::crop(gray, x, y, w, h);
        let ink = |x, y, w, h| input.ink.and_then(|ink| raster::crop(ink, x, y, w, h));
        if let Some(found) = quick_zones(search, (gray.width(), gray.height()), dpi, input.template, options, crop, ink) {
            return Some(found);
        }
    }

    // 2. Whole page at ~150 dpi. The reduced page is made when a step needs it: a search that starts
    //    after this step needs it only at the last step, which most such searches never reach.
    let reduced_page = std::cell::OnceCell::new();
    let reduced = || {
        reduced_page.get_or_init(|| {
            let reduced = raster::downscale(gray, factor);
            let factor_x = gray.width() as f64 / reduced.width() as f64;
            (reduced, factor_x)
        })
    };
    if options.start <= SearchStart::WholePage {
        let (reduced, factor_x) = reduced();
        // zxing-cpp first: on a whole page it costs a few milliseconds where rqrr costs tens.
        for (reader, decode) in [(Reader::Fast, fast::decode_fast as fn(&GrayImage) -> Vec<DecodedCode>), (Reader::Rqrr, decode_all)] {
            if let Some(found) = search.attempt(QrStrategy::PageReduced { reader }, || decode(reduced), scaled(*factor_x)) {
                return Some(found);
            }
        }
    }
    if options.quick_only {
        return None;
    }

    // 3. The code zone in each orientation, most likely orientations (by aspect) first.
    let variants = [
        ZoneVariant::Plain,
        ZoneVariant::InkChannel,
        ZoneVariant::DarkThreshold,
        ZoneVariant::StrokesRemoved,
        ZoneVariant::LocalMean,
        ZoneVariant::Reduced,
        ZoneVariant::Otsu,
        ZoneVariant::Blurred,
    ];
    // The zone of every orientation, cut once. Every variant runs on the two orientations the page's
    // aspect allows before any runs on the other two (a sheet turned across its page is rare): a page
    // whose code needs the third variant takes 7 attempts instead of 13.
    let crops: Vec<_> = orientations
        .iter()
        .filter_map(|&o| {
            let pose = SheetPose::centred(sheet, (gray.width(), gray.height()), dpi, o, 0.0);
            let (x, y, w, h) = pose.page_box(&zone);
            let crop = raster::crop(gray, x, y, w, h)?;
            let ink = input.ink.and_then(|ink| raster::crop(ink, x, y, w, h));
            Some((o, x.max(0) as f64, y.max(0) as f64, crop, ink))
        })
        .collect();
    let module_px = input.template.code.size_mm as f64 / 37.0 * dpi / 25.4;
    let likely = &orientations[..2];
    let aspect_allows = [true, false].into_iter().flat_map(|allowed| variants.iter().map(move |&variant| (allowed, variant)));
    for (allowed, variant) in aspect_allows {
        for (o, x0, y0, crop, ink) in crops.iter().filter(|c| likely.contains(&c.0) == allowed) {
            let strategy = QrStrategy::Zone { orientation_deg: *o, variant };
            let at = |factor: f64| move |(x, y): (i32, i32)| (x0 + x as f64 * factor, y0 + y as f64 * factor);
            let found = match variant {
                ZoneVariant::Plain => search.attempt(strategy, || decode_all(crop), at(1.0)),
                ZoneVariant::InkChannel => match ink {
                    Some(ink) => search.attempt(strategy, || decode_all(ink), at(1.0)),
                    None => None,
                },
                ZoneVariant::LocalMean => {
                    let window = (module_px * 6.0).round().max(15.0) as u32 | 1;
                    search.attempt(strategy, || decode_binary(&raster::local_mean_binarise(crop, window, 12)), at(1.0))
                }
                ZoneVariant::Otsu => search.attempt(strategy, || decode_binary(&raster::threshold(crop, raster::otsu(crop))), at(1.0)),
                ZoneVariant::DarkThreshold => {
                    let [dark, paper] = raster::gray_percentiles(crop, [2, 90]);
                    let level = |share: f32| (dark as f32 + (paper as f32 - dark as f32) * share) as u8;
                    // Nearer the ink first (a darker stamp), then a little lighter (thin, blurred print).
                    let read = || {
                        let first = decode_binary(&raster::threshold(crop, level(0.2)));
                        if first.is_empty() {
                            decode_binary(&raster::threshold(crop, level(0.35)))
                        } else {
                            first
                        }
                    };
                    search.attempt(strategy, read, at(1.0))
                }
                ZoneVariant::Reduced => {
                    let half = raster::downscale(crop, 2.0);
                    let f = crop.width() as f64 / half.width() as f64;
                    search.attempt(strategy, || decode_all(&half), at(f))
                }
                ZoneVariant::StrokesRemoved => {
                    let radius = (module_px * 0.3).round().clamp(1.0, 8.0) as u8;
                    let source = ink.as_ref().unwrap_or(crop);
                    let level = raster::otsu(source);
                    // Ink as foreground (255) for the morphology.
                    let ink_mask = GrayImage::from_raw(
                        source.width(),
                        source.height(),
                        source.as_raw().iter().map(|&v| if v <= level { 255 } else { 0 }).collect(),
                    )
                    .expect("same size");
                    let opened = imageproc::morphology::open(&ink_mask, imageproc::distance_transform::Norm::LInf, radius);
                    let binary = GrayImage::from_raw(opened.width(), opened.height(), opened.as_raw().iter().map(|&v| 255 - v).collect())
                        .expect("same size");
                    search.attempt(strategy, || decode_binary(&binary), at(1.0))
                }
                ZoneVariant::Blurred => {
                    let radius = (module_px / 4.0).round().max(1.0) as u32;
                    let blurred = imageproc::filter::box_filter(crop, radius, radius);
                    search.attempt(strategy, || decode_binary(&raster::threshold(&blurred, raster::otsu(&blurred))), at(1.0))
                }
            };
            if found.is_some() {
                return found;
            }
        }
    }

    // 4. The whole page: full resolution, the pyramid, then binarised.
    if let Some(found) = search.attempt(QrStrategy::PageFull, || decode_all(gray), scaled(1.0)) {
        return Some(found);
    }
    for target in [100u32, 200] {
        let factor = dpi / target as f64;
        if factor <= 1.05 {
            continue;
        }
        let img = raster::rescale(gray, factor as f32);
        let f = gray.width() as f64 / img.width() as f64;
        if let Some(found) = search.attempt(QrStrategy::PagePyramid { dpi: target }, || decode_all(&img), scaled(f)) {
            return Some(found);
        }
    }
    let (reduced, factor_x) = reduced();
    let window = ((module_px / factor_x) * 6.0).round().max(15.0) as u32 | 1;
    let binary = raster::local_mean_binarise(reduced, window, 12);
    search.attempt(QrStrategy::PageBinarised, || decode_binary(&binary), scaled(*factor_x))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raster::tests::noise;

    /// A QR symbol drawn `module` pixels a module with a quiet zone, greyed and speckled.
    pub(super) fn drawn_code(text: &str, module: u32, seed: u64) -> GrayImage {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let n = code.width() as u32;
        let colors = code.to_colors();
        let mut speckle = noise(seed);
        GrayImage::from_fn((n + 8) * module, (n + 8) * module, |x, y| {
            let (col, row) = ((x / module) as i64 - 4, (y / module) as i64 - 4);
            let dark = (0..n as i64).contains(&col)
                && (0..n as i64).contains(&row)
                && colors[(row * n as i64 + col) as usize] == qrcode::Color::Dark;
            let base: u8 = if dark { 40 } else { 215 };
            image::Luma([base.saturating_add(speckle() / 8)])
        })
    }

    #[test]
    fn the_quick_passes_keep_about_150_dpi_whatever_the_page_dpi() {
        for dpi in 140..=1300 {
            let k = code_reduction(dpi as f64);
            assert_eq!(k.fract(), 0.0, "a whole factor at {dpi} dpi");
            let reduced = dpi as f64 / k as f64;
            assert!(reduced >= 140.0, "{dpi} dpi reduced by {k} to {reduced}");
            assert!(reduced < 2.0 * 150.0 || k == 1.0, "{dpi} dpi reduced by {k} to {reduced}: could go further");
        }
        // 240 dpi stays whole: halved it is 120, where codes of blurred scans go unread.
        assert_eq!((code_reduction(200.0), code_reduction(240.0), code_reduction(290.0), code_reduction(300.0)), (1.0, 1.0, 2.0, 2.0));
        assert_eq!(code_reduction(72.0), 1.0);
    }

    #[test]
    fn the_divisor_divides_exactly() {
        for d in [1u64, 2, 3, 7, 8, 50, 61, 200, 310, 12_400, 99_999, (1 << 32) - 1, 1 << 32, (1 << 32) + 1, 1 << 40] {
            let divisor = Divisor::new(d);
            for n in (0..5000).chain([d * 255 * 40, d * 255 * 40 + 1, (1 << 32) - 1, 1 << 32, (1 << 40) + 17, u64::MAX]) {
                assert_eq!(divisor.div(n), n / d, "{n} / {d}");
            }
            for k in (1..3000u64).chain([u64::MAX / d]) {
                for n in [k * d - 1, k * d, (k * d).saturating_add(1)] {
                    assert_eq!(divisor.div(n), n / d, "{n} / {d}");
                }
            }
        }
    }

    #[test]
    fn the_threshold_is_rqrrs_own_pixel_for_pixel() {
        let mut images = vec![drawn_code("77 0012345", 4, 1), drawn_code("certscan test", 3, 2)];
        for (w, h, seed) in [(1, 1, 3), (1, 9, 4), (7, 5, 5), (8, 8, 6), (123, 77, 7), (400, 31, 8)] {
            let mut next = noise(seed);
            images.push(GrayImage::from_fn(w, h, |_, _| image::Luma([next()])));
        }
        // A dark gradient: the running averages cross the threshold everywhere.
        images.push(GrayImage::from_fn(300, 40, |x, y| image::Luma([((x + 3 * y) % 256) as u8])));
        for image in &images {
            let theirs = rqrr::PreparedImage::prepare(image.clone());
            let ours = rqrr_threshold(image);
            let w = image.width() as usize;
            let mut blacks = 0;
            for y in 0..image.height() as usize {
                for x in 0..w {
                    let black = theirs.get_pixel_at(x, y) == 1u8;
                    assert_eq!(ours[y * w + x], black, "{}x{} at ({x}, {y})", image.width(), image.height());
                    blacks += black as usize;
                }
            }
            // Under 16 px wide the running average is the pixel itself: nothing is black.
            assert!(blacks > 0 || image.width() < 16, "nothing black in a {}x{} image", image.width(), image.height());
        }
    }

    #[test]
    fn a_drawn_code_is_read_with_its_corners() {
        let image = drawn_code("77 0012345", 4, 9);
        let codes = decode_all(&image);
        assert_eq!(codes.len(), 1);
        assert_eq!(codes[0].text, "77 0012345");
        // The symbol starts 4 modules (16 px) in; rqrr's corner is the symbol's top-left grid point.
        let (x, y) = codes[0].corners[0];
        assert!((x - 16).abs() <= 2 && (y - 16).abs() <= 2, "{:?}", codes[0].corners);
    }
}
