//! Pages in: one scan file (PDF, multi-page TIFF, single JPEG or PNG, told apart by magic bytes) yielded
//! one page at a time, so memory does not grow with the page count. Talks to PDFium through [`crate::pdf`]
//! (serially, under its lock), to libjpeg-turbo through the `jpeg` submodule, and to the `tiff` and `png`
//! decoders (row by row, `tiff_page`, `png_page`).
//!
//! A PDF page that is one full-page JPEG — what scanners write — is taken out as its encoded bytes under
//! the PDFium lock and decoded outside it ([`EncodedPage::decode`], which a caller may run on another
//! thread); any other page is rendered. JPEG data is decoded at a reduced scale when the page has more
//! resolution than [`SourceOptions::decode_dpi`]; TIFF and PNG pages are decoded a strip or row at a time
//! and reduced on the way (`reduce`), so no page is held whole twice. The pixel limit is checked from
//! headers before anything is decoded (`check_before_decoding`). A page that cannot be read is a value
//! ([`PageImage::Unreadable`]) and the file goes on; only whole-file problems are a [`SourceError`].

mod jpeg;
mod png_page;
mod reduce;
mod tiff_page;

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use image::{ImageFormat, RgbImage};

use crate::pdf::{ExtractPolicy, PdfEngine, PdfError, PdfPageRaster, RENDER_MAX_PIXELS};
use crate::pixels::PagePixels;

/// What the source decodes and how large a page may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceOptions {
    /// A page with more pixels than this is refused before decoding (a decompression bomb or a
    /// mis-set scanner). Default 60 megapixels: A4 at 600 dpi is 35.
    pub max_pixels: u64,
    /// Resolution for PDF pages that must be rendered. Default 300.
    pub render_dpi: f32,
    /// Resolution assumed for an image file that declares none. Default 300.
    pub default_dpi: f32,
    /// Resolution a JPEG page is decoded down to, at the smallest of libjpeg-turbo's scales M/8 that keeps
    /// at least this (2 % slack): a 600-dpi scan is decoded at 1/2, a quarter of the pixels, since reading
    /// needs no more than 300. A JPEG page whose dpi is assumed is decoded whole. TIFF and PNG pages above
    /// it (5 % slack) are reduced by the whole factor page reading would use (600 → 300, 400 → 200) while
    /// their rows are decoded. `f32::INFINITY` decodes every page at its full resolution (what export
    /// does, within `keep_pixels`). Default 300.
    pub decode_dpi: f32,
    /// An image page (JPEG, TIFF, PNG) larger than this is decoded reduced until it fits, whatever its dpi
    /// (a large-format scan comes out at a lower dpi), so a page's pixels never take more than 3 bytes
    /// each of this. Default [`RENDER_MAX_PIXELS`] (10 MP, as large as a rendered page: A4 keeps 300
    /// dpi); export's page files use [`EXPORT_MAX_PIXELS`].
    pub keep_pixels: u64,
}

/// What export keeps of an image page: A4 at 600 dpi (35 MP) stays whole.
pub const EXPORT_MAX_PIXELS: u64 = 36_000_000;

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions { max_pixels: 60_000_000, render_dpi: 300.0, default_dpi: 300.0, decode_dpi: 300.0, keep_pixels: RENDER_MAX_PIXELS }
    }
}

/// The container a scan came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanFormat {
    Pdf,
    Tiff,
    Jpeg,
    Png,
}

/// How a page's pixels were obtained; says whether its dpi is measured or assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageOrigin {
    /// The JPEG a scanner embedded in a PDF page, decoded as stored (maybe at a reduced scale).
    PdfJpeg,
    /// Rendered by PDFium (vector page, or an image other than one upright JPEG).
    PdfRendered,
    /// An image file page whose header declares its resolution.
    ImageWithDpi,
    /// An image file page without a declared resolution: dpi is the default.
    ImageAssumedDpi,
}

/// One decoded page.
#[derive(Debug, Clone)]
pub struct DecodedPage {
    /// 1-based page number in the file.
    pub page: usize,
    /// Grey for a grey JPEG page and for an RGB page whose every pixel is neutral; colour otherwise.
    pub image: PagePixels,
    /// Pixels per inch of `image` on the scanned sheet, as far as the file tells (a JPEG decoded at a
    /// reduced scale has its dpi scaled alike).
    pub dpi: f32,
    pub origin: PageOrigin,
}

/// One page of a scan file: decoded, or the reason it is not.
#[derive(Debug, Clone)]
pub enum PageImage {
    Decoded(DecodedPage),
    Unreadable { page: usize, reason: String },
}

impl PageImage {
    pub fn page(&self) -> usize {
        match self {
            PageImage::Decoded(d) => d.page,
            PageImage::Unreadable { page, .. } => *page,
        }
    }
}

/// A page taken out of the file but maybe not yet decoded: decoding a JPEG is the expensive part and
/// needs no lock, so a caller may move this to another thread first.
#[derive(Debug, Clone)]
pub struct EncodedPage {
    pub page: usize,
    content: Content,
    dpi: f32,
    origin: PageOrigin,
    max_pixels: u64,
    decode_dpi: f32,
    keep_pixels: u64,
}

#[derive(Debug, Clone)]
enum Content {
    Jpeg(Vec<u8>),
    Pixels(RgbImage),
    Failed(String),
}

impl EncodedPage {
    /// Decodes the page (checking the pixel limit from the header first); a JPEG at a reduced scale
    /// when its dpi allows (see [`SourceOptions::decode_dpi`]).
    pub fn decode(self) -> PageImage {
        let page = self.page;
        let unreadable = |reason: String| PageImage::Unreadable { page, reason };
        let (image, dpi) = match self.content {
            Content::Failed(reason) => return unreadable(reason),
            Content::Pixels(image) => (PagePixels::neutral_as_grey(image), self.dpi),
            Content::Jpeg(data) => {
                // An assumed dpi may be far from the truth (the page's size corrects it later): no reduction.
                let decode_dpi = if self.origin == PageOrigin::ImageAssumedDpi { f32::INFINITY } else { self.decode_dpi };
                match jpeg::decode(&data, self.dpi, decode_dpi, self.max_pixels, self.keep_pixels) {
                    Ok(decoded) => decoded,
                    Err(reason) => return unreadable(reason),
                }
            }
        };
        PageImage::Decoded(DecodedPage { page, image, dpi, origin: self.origin })
    }
}

/// Whole-file problems: the file cannot be read as a scan at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("not a scan: the file is neither PDF, TIFF, JPEG nor PNG")]
    UnknownFormat,
    #[error("the file is empty")]
    Empty,
    #[error("the PDF is password-protected")]
    Encrypted,
    #[error("the file has no pages")]
    NoPages,
    #[error("the {format:?} file is damaged beyond repair: {reason}")]
    Damaged { format: ScanFormat, reason: String },
    #[error("a PDF needs the PDFium engine, and none was given")]
    NoPdfEngine,
    #[error(transparent)]
    Pdf(PdfError),
}

/// Tells the container from its first bytes.
pub fn detect_format(bytes: &[u8]) -> Option<ScanFormat> {
    // PDF readers accept the header anywhere in the first kilobyte (some scanners prepend junk).
    let head = &bytes[..bytes.len().min(1024)];
    if head.windows(5).any(|w| w == b"%PDF-") {
        return Some(ScanFormat::Pdf);
    }
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some(ScanFormat::Jpeg),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(ScanFormat::Png),
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] | [b'I', b'I', 43, 0, ..] | [b'M', b'M', 0, 43, ..] => Some(ScanFormat::Tiff),
        _ => None,
    }
}

/// A scan file to read: bytes in memory, or a PDF on disk that PDFium reads as it needs (a 500-page
/// scan need not be held in memory). [`PdfEngine`] takes PDFs in either form too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanInput<'a> {
    Bytes(&'a [u8]),
    PdfFile(&'a Path),
}

impl ScanInput<'_> {
    /// The container, from the first bytes (a `PdfFile` is a PDF by construction).
    pub fn format(&self) -> Option<ScanFormat> {
        match self {
            ScanInput::Bytes(bytes) => detect_format(bytes),
            ScanInput::PdfFile(_) => Some(ScanFormat::Pdf),
        }
    }
}

impl<'a> From<&'a [u8]> for ScanInput<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        ScanInput::Bytes(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for ScanInput<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        ScanInput::Bytes(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for ScanInput<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        ScanInput::Bytes(bytes)
    }
}

/// A scan file opened from disk: a PDF stays on disk for PDFium to read from; TIFF, JPEG and PNG files
/// (and anything that is not a PDF, for the error message) are read into memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanFile {
    Pdf(PathBuf),
    Bytes(Vec<u8>),
}

impl ScanFile {
    pub fn open(path: &Path) -> std::io::Result<ScanFile> {
        let mut head = Vec::with_capacity(1024);
        std::fs::File::open(path)?.take(1024).read_to_end(&mut head)?;
        if detect_format(&head) == Some(ScanFormat::Pdf) {
            return Ok(ScanFile::Pdf(path.to_path_buf()));
        }
        std::fs::read(path).map(ScanFile::Bytes)
    }

    pub fn input(&self) -> ScanInput<'_> {
        match self {
            ScanFile::Pdf(path) => ScanInput::PdfFile(path),
            ScanFile::Bytes(bytes) => ScanInput::Bytes(bytes),
        }
    }
}

/// The pages of one scan file, one at a time. As an iterator it yields decoded pages; `next_encoded`
/// yields them before decoding.
pub struct PageSource<'a> {
    bytes: &'a [u8],
    format: ScanFormat,
    options: SourceOptions,
    state: State<'a>,
    /// 0-based index of the next page.
    next: usize,
}

enum State<'a> {
    Pdf { engine: &'a PdfEngine, input: ScanInput<'a>, count: usize },
    Tiff { decoder: Box<tiff_page::TiffDecoder<'a>>, done: bool },
    Single { done: bool },
}

impl std::fmt::Debug for PageSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageSource").field("format", &self.format).field("next", &self.next).finish()
    }
}

impl<'a> PageSource<'a> {
    /// Opens a scan file. `pdf` is needed only if the file is a PDF.
    pub fn open(input: impl Into<ScanInput<'a>>, pdf: Option<&'a PdfEngine>, options: SourceOptions) -> Result<Self, SourceError> {
        let input = input.into();
        // A PDF on disk has no bytes here: PDFium reads it.
        let bytes: &'a [u8] = match input {
            ScanInput::Bytes([]) => return Err(SourceError::Empty),
            ScanInput::Bytes(bytes) => bytes,
            ScanInput::PdfFile(_) => &[],
        };
        let format = input.format().ok_or(SourceError::UnknownFormat)?;
        let damaged = |reason: String| SourceError::Damaged { format, reason };
        let state = match format {
            ScanFormat::Pdf => {
                let engine = pdf.ok_or(SourceError::NoPdfEngine)?;
                let count = engine.page_count(input).map_err(|e| match e {
                    PdfError::Encrypted => SourceError::Encrypted,
                    PdfError::Unreadable(reason) => damaged(reason),
                    other => SourceError::Pdf(other),
                })?;
                if count == 0 {
                    return Err(SourceError::NoPages);
                }
                State::Pdf { engine, input, count }
            }
            ScanFormat::Tiff => {
                let decoder = tiff::decoder::Decoder::new(Cursor::new(bytes))
                    .map_err(|e| damaged(e.to_string()))?
                    .with_limits(tiff_page::limits(options.max_pixels));
                State::Tiff { decoder: Box::new(decoder), done: false }
            }
            ScanFormat::Jpeg | ScanFormat::Png => {
                // A header that does not even give the size is not a page to go on with.
                header_size(bytes, format).ok_or_else(|| damaged("no readable image header".into()))?;
                State::Single { done: false }
            }
        };
        Ok(PageSource { bytes, format, options, state, next: 0 })
    }

    pub fn format(&self) -> ScanFormat {
        self.format
    }

    /// The page count when the container states it up front (PDF, single images); TIFF is counted
    /// while reading.
    pub fn page_count(&self) -> Option<usize> {
        match &self.state {
            State::Pdf { count, .. } => Some(*count),
            State::Single { .. } => Some(1),
            State::Tiff { .. } => None,
        }
    }

    /// The next page, taken out but (for a PDF JPEG) not decoded yet.
    pub fn next_encoded(&mut self) -> Option<EncodedPage> {
        let index = self.next;
        let page = index + 1;
        let options = self.options;
        let encoded = |content: Content, dpi: f32, origin: PageOrigin| EncodedPage {
            page,
            content,
            dpi,
            origin,
            max_pixels: options.max_pixels,
            decode_dpi: options.decode_dpi,
            keep_pixels: options.keep_pixels,
        };
        let failed = |reason: String| encoded(Content::Failed(reason), 0.0, PageOrigin::PdfRendered);
        let result = match &mut self.state {
            State::Pdf { engine, input, count } => {
                if index >= *count {
                    return None;
                }
                let policy = ExtractPolicy { render_dpi: options.render_dpi, max_pixels: options.max_pixels };
                match engine.extract_page(*input, index, &policy) {
                    Ok(PdfPageRaster::Jpeg { data, dpi }) => encoded(Content::Jpeg(data), dpi, PageOrigin::PdfJpeg),
                    Ok(PdfPageRaster::Rendered { image, dpi }) => encoded(Content::Pixels(image), dpi, PageOrigin::PdfRendered),
                    Err(PdfError::Page { reason, .. }) => failed(reason),
                    Err(other) => failed(other.to_string()),
                }
            }
            State::Single { done } => {
                if *done {
                    return None;
                }
                *done = true;
                let stated = header_dpi(self.bytes, self.format);
                let (dpi, origin) = match stated {
                    Some(dpi) => (dpi, PageOrigin::ImageWithDpi),
                    None => (options.default_dpi, PageOrigin::ImageAssumedDpi),
                };
                if self.format == ScanFormat::Jpeg {
                    encoded(Content::Jpeg(self.bytes.to_vec()), dpi, origin)
                } else {
                    match png_page::decode(self.bytes, options, stated) {
                        Ok((image, k)) => encoded(Content::Pixels(image), dpi / k as f32, origin),
                        Err(reason) => failed(reason),
                    }
                }
            }
            State::Tiff { decoder, done } => {
                if *done {
                    return None;
                }
                if index > 0 {
                    if !decoder.more_images() {
                        *done = true;
                        return None;
                    }
                    if let Err(e) = decoder.next_image() {
                        // The chain of pages is broken: nothing after this can be found.
                        *done = true;
                        return Some(failed(format!("the TIFF page chain is broken: {e}")));
                    }
                }
                let stated = tiff_page::dpi(decoder);
                let (dpi, origin) = match stated {
                    Some(dpi) => (dpi, PageOrigin::ImageWithDpi),
                    None => (options.default_dpi, PageOrigin::ImageAssumedDpi),
                };
                match tiff_page::decode_page(decoder, options, stated) {
                    Ok((image, k)) => encoded(Content::Pixels(image), dpi / k as f32, origin),
                    Err(reason) => failed(reason),
                }
            }
        };
        self.next += 1;
        Some(result)
    }
}

impl Iterator for PageSource<'_> {
    type Item = PageImage;
    fn next(&mut self) -> Option<PageImage> {
        self.next_encoded().map(EncodedPage::decode)
    }
}

fn over_limit(width: u32, height: u32, max_pixels: u64) -> Option<String> {
    let pixels = width as u64 * height as u64;
    if pixels == 0 {
        return Some("the image is empty (0 pixels)".into());
    }
    (pixels > max_pixels).then(|| format!("{width}x{height} pixels is over the limit of {max_pixels}"))
}

/// What every decoder of a JPEG or PNG checks first, from the headers alone: the size, the pixel limit
/// on the full size (whatever scale it is then decoded at), a JPEG's end marker and its number of scans.
/// Returns the full width and height.
fn check_before_decoding(data: &[u8], format: ScanFormat, max_pixels: u64) -> Result<(u32, u32), String> {
    let (w, h) = header_size(data, format).ok_or_else(|| "no readable image header".to_string())?;
    if let Some(reason) = over_limit(w, h, max_pixels) {
        return Err(reason);
    }
    if format == ScanFormat::Jpeg {
        // The JPEG decoders fill a cut-off image with grey and call it a success; half a scan must not
        // be attached as a certificate scan, so a JPEG without its end marker is refused.
        if !data.windows(2).rev().take(1024).any(|w| w == [0xFF, 0xD9]) {
            return Err("the JPEG data is truncated (no end-of-image marker)".into());
        }
        jpeg::check_scans(data)?;
    }
    Ok((w, h))
}

/// The `image` crate's decoding of data [`check_before_decoding`] passed, `size` the size it returned.
fn decode_checked(data: &[u8], format: ImageFormat, (w, h): (u32, u32), max_pixels: u64) -> Result<RgbImage, String> {
    let mut reader = image::ImageReader::with_format(Cursor::new(data), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(max_pixels.saturating_mul(8));
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| format!("cannot decode the {format:?} image: {e}"))?;
    // The usual scan layouts directly: `into_rgb8` goes through a colour-space cast that costs as much
    // as the decoding itself.
    Ok(match decoded {
        image::DynamicImage::ImageRgb8(rgb) => rgb,
        image::DynamicImage::ImageLuma8(gray) => crate::raster::gray_to_rgb(&gray),
        other => other.into_rgb8(),
    })
}

fn plausible_dpi(dpi: f32) -> Option<f32> {
    (50.0..=2400.0).contains(&dpi).then_some(dpi)
}

/// Width and height from a JPEG's SOF or a PNG's IHDR, without decoding.
pub(crate) fn header_size(data: &[u8], format: ScanFormat) -> Option<(u32, u32)> {
    match format {
        ScanFormat::Png => {
            let ihdr = data.get(12..24)?;
            if &ihdr[..4] != b"IHDR" {
                return None;
            }
            let w = u32::from_be_bytes(ihdr[4..8].try_into().ok()?);
            let h = u32::from_be_bytes(ihdr[8..12].try_into().ok()?);
            Some((w, h))
        }
        ScanFormat::Jpeg => jpeg_segments(data).find_map(|(marker, body)| {
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
            let sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
            (sof && body.len() >= 5).then(|| (u16::from_be_bytes([body[3], body[4]]) as u32, u16::from_be_bytes([body[1], body[2]]) as u32))
        }),
        _ => None,
    }
}

/// Resolution from a JPEG's JFIF APP0 or a PNG's pHYs chunk.
fn header_dpi(data: &[u8], format: ScanFormat) -> Option<f32> {
    match format {
        ScanFormat::Jpeg => jpeg_segments(data).find_map(|(marker, body)| {
            if marker != 0xE0 || body.len() < 12 || &body[..5] != b"JFIF\0" {
                return None;
            }
            let x = u16::from_be_bytes([body[8], body[9]]) as f32;
            match body[7] {
                1 => plausible_dpi(x),
                2 => plausible_dpi(x * 2.54),
                _ => None,
            }
        }),
        ScanFormat::Png => {
            let mut at = 8;
            while at + 12 <= data.len() {
                let len = u32::from_be_bytes(data[at..at + 4].try_into().ok()?) as usize;
                let kind = &data[at + 4..at + 8];
                if kind == b"pHYs" && len >= 9 && at + 8 + 9 <= data.len() {
                    let body = &data[at + 8..];
                    let ppm = u32::from_be_bytes(body[..4].try_into().ok()?) as f32;
                    return if body[8] == 1 { plausible_dpi(ppm * 0.0254) } else { None };
                }
                if kind == b"IDAT" || kind == b"IEND" {
                    return None;
                }
                at += 12 + len;
            }
            None
        }
        _ => None,
    }
}

/// The marker segments of a JPEG up to the start of scan: (marker, segment body after the length).
fn jpeg_segments(data: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut at = 2;
    std::iter::from_fn(move || loop {
        // Fill bytes (0xFF) may precede a marker.
        while data.get(at) == Some(&0xFF) && data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if data.get(at) != Some(&0xFF) {
            return None;
        }
        let marker = *data.get(at + 1)?;
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            at += 2;
            continue;
        }
        let len = u16::from_be_bytes([*data.get(at + 2)?, *data.get(at + 3)?]) as usize;
        let body = data.get(at + 4..at + 2 + len)?;
        at += 2 + len;
        return Some((marker, body));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255])))
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, image::Rgb([200, 200, 200])))
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
            .unwrap();
        out
    }

    #[test]
    fn formats_are_told_apart_by_their_magic_bytes() {
        assert_eq!(detect_format(b"%PDF-1.7\n..."), Some(ScanFormat::Pdf));
        assert_eq!(detect_format(b"junk\r\n%PDF-1.4"), Some(ScanFormat::Pdf));
        assert_eq!(detect_format(&png(2, 2)), Some(ScanFormat::Png));
        assert_eq!(detect_format(&jpeg(2, 2)), Some(ScanFormat::Jpeg));
        assert_eq!(detect_format(b"II*\0rest"), Some(ScanFormat::Tiff));
        assert_eq!(detect_format(b"MM\0*rest"), Some(ScanFormat::Tiff));
        assert_eq!(detect_format(b"PK\x03\x04 a zip"), None);
    }

    #[test]
    fn image_sizes_are_read_from_headers_without_decoding() {
        assert_eq!(header_size(&png(31, 17), ScanFormat::Png), Some((31, 17)));
        assert_eq!(header_size(&jpeg(33, 19), ScanFormat::Jpeg), Some((33, 19)));
    }

    #[test]
    fn a_page_over_the_pixel_limit_is_unreadable_not_an_error() {
        let bytes = png(100, 100);
        let options = SourceOptions { max_pixels: 5_000, ..SourceOptions::default() };
        let pages: Vec<_> = PageSource::open(&bytes, None, options).unwrap().collect();
        assert_eq!(pages.len(), 1);
        match &pages[0] {
            PageImage::Unreadable { page: 1, reason } => {
                assert!(reason.contains("over the limit"), "{reason}")
            }
            other => panic!("expected unreadable, got {other:?}"),
        }
    }

    #[test]
    fn a_single_jpeg_is_one_page_with_the_default_dpi() {
        let bytes = jpeg(40, 60);
        let pages: Vec<_> = PageSource::open(&bytes, None, SourceOptions::default()).unwrap().collect();
        match &pages[..] {
            [PageImage::Decoded(p)] => {
                assert_eq!((p.page, p.image.width(), p.image.height()), (1, 40, 60));
                assert_eq!(p.origin, PageOrigin::ImageAssumedDpi);
                assert_eq!(p.dpi, 300.0);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_truncated_jpeg_is_an_unreadable_page() {
        let bytes = jpeg(400, 300);
        let cut = &bytes[..bytes.len() / 3];
        let pages: Vec<_> = PageSource::open(cut, None, SourceOptions::default()).unwrap().collect();
        match &pages[..] {
            [PageImage::Unreadable { page: 1, reason }] => {
                assert!(reason.contains("truncated"), "{reason}")
            }
            other => panic!("expected one unreadable page, got {} page(s)", other.len()),
        }
    }

    /// A grey JPEG of `w` x `h` whose JFIF header declares `dpi` (none when 0): a dark left half.
    fn jpeg_at_dpi(w: u32, h: u32, dpi: u16) -> Vec<u8> {
        let page = RgbImage::from_fn(w, h, |x, _| if x < w / 2 { image::Rgb([20, 20, 20]) } else { image::Rgb([235, 235, 235]) });
        let mut out = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
        if dpi > 0 {
            encoder.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(dpi));
        }
        encoder.encode_image(&page).unwrap();
        out
    }

    fn decoded_with(bytes: &[u8], options: SourceOptions) -> DecodedPage {
        match PageSource::open(bytes, None, options).unwrap().collect::<Vec<_>>().as_slice() {
            [PageImage::Decoded(p)] => p.clone(),
            other => panic!("expected one decoded page, got {other:?}"),
        }
    }

    fn unreadable_reason(bytes: &[u8]) -> String {
        match PageSource::open(bytes, None, SourceOptions::default()).unwrap().collect::<Vec<_>>().as_slice() {
            [PageImage::Unreadable { page: 1, reason }] => reason.clone(),
            other => panic!("expected one unreadable page, got {other:?}"),
        }
    }

    #[test]
    fn a_600_dpi_jpeg_is_decoded_at_half_scale_with_its_dpi_halved() {
        let page = decoded_with(&jpeg_at_dpi(801, 1000, 600), SourceOptions::default());
        assert_eq!(page.origin, PageOrigin::ImageWithDpi);
        // libjpeg-turbo rounds a scaled side up.
        assert_eq!(page.image.dimensions(), (401, 500));
        assert_eq!(page.dpi, 300.0);
        // The picture is the same, only smaller: dark left, light right.
        assert!(page.image.to_rgb().get_pixel(100, 250).0[0] < 60, "{:?}", page.image.to_rgb().get_pixel(100, 250));
        assert!(page.image.to_rgb().get_pixel(300, 250).0[0] > 200, "{:?}", page.image.to_rgb().get_pixel(300, 250));
    }

    #[test]
    fn a_400_dpi_jpeg_is_decoded_at_six_eighths() {
        let page = decoded_with(&jpeg_at_dpi(800, 1000, 400), SourceOptions::default());
        assert_eq!((page.image.dimensions(), page.dpi), ((600, 750), 300.0));
    }

    #[test]
    fn a_300_dpi_jpeg_is_decoded_whole() {
        let page = decoded_with(&jpeg_at_dpi(800, 1000, 300), SourceOptions::default());
        assert_eq!((page.image.dimensions(), page.dpi, page.origin), ((800, 1000), 300.0, PageOrigin::ImageWithDpi));
    }

    #[test]
    fn a_jpeg_whose_dpi_is_assumed_is_decoded_whole() {
        // The assumed dpi (here 600) is no measurement: the page is not reduced on its word.
        let options = SourceOptions { default_dpi: 600.0, ..SourceOptions::default() };
        let page = decoded_with(&jpeg_at_dpi(800, 1000, 0), options);
        assert_eq!((page.image.dimensions(), page.dpi, page.origin), ((800, 1000), 600.0, PageOrigin::ImageAssumedDpi));
    }

    #[test]
    fn an_infinite_decode_dpi_decodes_a_600_dpi_jpeg_whole() {
        let options = SourceOptions { decode_dpi: f32::INFINITY, ..SourceOptions::default() };
        let page = decoded_with(&jpeg_at_dpi(801, 1000, 600), options);
        assert_eq!((page.image.dimensions(), page.dpi), ((801, 1000), 600.0));
    }

    #[test]
    fn the_pixel_limit_holds_for_the_full_size_of_a_jpeg_decoded_smaller() {
        // 801 x 1000 is over 500,000 pixels; decoded at half it would be 200,500, under it.
        let options = SourceOptions { max_pixels: 500_000, ..SourceOptions::default() };
        let pages: Vec<_> = PageSource::open(&jpeg_at_dpi(801, 1000, 600), None, options).unwrap().collect();
        assert!(matches!(&pages[..], [PageImage::Unreadable { reason, .. }] if reason.contains("over the limit")), "{pages:?}");
    }

    #[test]
    fn a_truncated_600_dpi_jpeg_is_refused_before_decoding() {
        let bytes = jpeg_at_dpi(801, 1000, 600);
        let reason = unreadable_reason(&bytes[..bytes.len() * 2 / 3]);
        assert!(reason.contains("truncated"), "{reason}");
    }

    /// A progressive JPEG from libjpeg-turbo (about ten scans).
    fn progressive_jpeg() -> Vec<u8> {
        let pixels: Vec<u8> = (0..64 * 64 * 3).map(|i| (i % 251) as u8).collect();
        let image =
            turbojpeg::Image { pixels: pixels.as_slice(), width: 64, pitch: 64 * 3, height: 64, format: turbojpeg::PixelFormat::RGB };
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_progressive(true).unwrap();
        compressor.compress_to_vec(image).unwrap()
    }

    /// The progressive JPEG with its last scan (marker segment and data) repeated `times` more times.
    fn with_last_scan_repeated(jpeg: &[u8], times: usize) -> Vec<u8> {
        let last_sos = jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
        let eoi = jpeg.len() - 2;
        assert_eq!(&jpeg[eoi..], &[0xFF, 0xD9]);
        let scan = &jpeg[last_sos..eoi];
        let mut out = jpeg[..eoi].to_vec();
        for _ in 0..times {
            out.extend_from_slice(scan);
        }
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    #[test]
    fn a_progressive_jpeg_of_a_few_scans_is_decoded() {
        let bytes = progressive_jpeg();
        let scans = jpeg::count_scans(&bytes);
        assert!((2..=jpeg::MAX_SCANS).contains(&scans), "{scans}");
        let page = decoded_with(&bytes, SourceOptions::default());
        assert_eq!(page.image.dimensions(), (64, 64));
    }

    #[test]
    fn a_progressive_jpeg_of_more_than_100_scans_is_refused_as_a_cpu_bomb() {
        let original = progressive_jpeg();
        let bomb = with_last_scan_repeated(&original, 120);
        assert_eq!(jpeg::count_scans(&bomb), jpeg::count_scans(&original) + 120);
        let reason = unreadable_reason(&bomb);
        assert!(reason.contains("progressive") && reason.contains("scans, over the limit of 100"), "{reason}");
    }

    #[test]
    fn a_cmyk_jpeg_is_decoded_by_the_image_crate_instead() {
        // All four inks at one extreme on the left half, at the other on the right (Adobe's CMYK JPEGs
        // store inverted values, so which half is black depends on the convention; they must differ).
        let pixels: Vec<u8> = (0..48 * 32).flat_map(|i| if i % 48 < 24 { [255; 4] } else { [0; 4] }).collect();
        let image =
            turbojpeg::Image { pixels: pixels.as_slice(), width: 48, pitch: 48 * 4, height: 32, format: turbojpeg::PixelFormat::CMYK };
        let mut compressor = turbojpeg::Compressor::new().unwrap();
        compressor.set_quality(95).unwrap();
        let bytes = compressor.compress_to_vec(image).unwrap();
        assert!(matches!(turbojpeg::read_header(&bytes).unwrap().colorspace, turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK));
        let page = decoded_with(&bytes, SourceOptions::default());
        assert_eq!(page.image.dimensions(), (48, 32));
        let (left, right) = (page.image.to_rgb().get_pixel(6, 16).0, page.image.to_rgb().get_pixel(42, 16).0);
        assert!(left.iter().zip(right).all(|(l, r)| l.abs_diff(r) > 150), "left {left:?}, right {right:?}");
    }

    #[test]
    fn a_jpeg_neither_decoder_reads_is_unreadable_with_both_reasons() {
        // A Huffman table that claims more codes than a table can hold: both decoders stop there.
        let mut bytes = jpeg_at_dpi(64, 64, 300);
        let dht = bytes.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
        bytes[dht + 5..dht + 5 + 16].fill(0xFF);
        let reason = unreadable_reason(&bytes);
        assert!(reason.contains("libjpeg-turbo") && reason.contains("cannot decode the Jpeg image"), "{reason}");
    }

    /// An uncompressed one-strip TIFF, written by hand so the photometric tag is ours to choose.
    fn tiff(w: u32, h: u32, bits: u16, photometric: u16, data: &[u8]) -> Vec<u8> {
        let entries: [(u16, u16, u32); 9] = [
            (256, 4, w),
            (257, 4, h),
            (258, 3, bits as u32),
            (259, 3, 1),
            (262, 3, photometric as u32),
            (273, 4, 8 + 2 + 9 * 12 + 4),
            (277, 3, 1),
            (278, 4, h),
            (279, 4, data.len() as u32),
        ];
        let mut out = b"II*\0".to_vec();
        out.extend(8u32.to_le_bytes());
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, value) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(1u32.to_le_bytes());
            match kind {
                3 => out.extend([(value as u16).to_le_bytes(), [0, 0]].concat()),
                _ => out.extend(value.to_le_bytes()),
            }
        }
        out.extend(0u32.to_le_bytes());
        out.extend(data);
        out
    }

    fn only_page(bytes: &[u8]) -> RgbImage {
        decoded_with(bytes, SourceOptions::default()).image.to_rgb().into_owned()
    }

    #[test]
    fn white_is_zero_tiff_pages_come_out_with_black_ink_on_white() {
        // 16 x 2 pixels: the left half inked. In WhiteIsZero a set bit (or 255) is black.
        let bilevel = only_page(&tiff(16, 2, 1, 0, &[0xFF, 0x00, 0xFF, 0x00]));
        let grey = only_page(&tiff(16, 2, 8, 0, &[[255u8; 8], [0u8; 8], [255u8; 8], [0u8; 8]].concat()));
        for (name, page) in [("bilevel", bilevel), ("8-bit", grey)] {
            assert_eq!(page.get_pixel(2, 1).0, [0, 0, 0], "{name}: the inked half must be black");
            assert_eq!(page.get_pixel(12, 1).0, [255, 255, 255], "{name}: the blank half must be white");
        }
        // The same ink in BlackIsZero, the other way round.
        let black_is_zero = only_page(&tiff(16, 2, 1, 1, &[0x00, 0xFF, 0x00, 0xFF]));
        assert_eq!(black_is_zero.get_pixel(2, 1).0, [0, 0, 0]);
        assert_eq!(black_is_zero.get_pixel(12, 1).0, [255, 255, 255]);
    }

    /// A test page with detail at every scale: RGB stripes and a diagonal gradient.
    fn busy_page(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 13 % 256) as u8, ((x + y) % 256) as u8, if (x / 3 + y / 5) % 2 == 0 { 30 } else { 220 }])
        })
    }

    /// An LZW-compressed RGB TIFF of `rows_per_strip`-row strips, declaring `dpi`.
    fn strip_tiff(page: &RgbImage, dpi: u32, rows_per_strip: u32) -> Vec<u8> {
        use tiff::encoder::{colortype::RGB8, Compression, Rational, TiffEncoder};
        let mut out = Cursor::new(Vec::new());
        let mut encoder = TiffEncoder::new(&mut out).unwrap().with_compression(Compression::Lzw);
        let mut image = encoder.new_image::<RGB8>(page.width(), page.height()).unwrap();
        image.resolution(tiff::tags::ResolutionUnit::Inch, Rational { n: dpi, d: 1 });
        image.rows_per_strip(rows_per_strip).unwrap();
        image.write_data(page.as_raw()).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_600_dpi_tiff_is_read_strip_by_strip_at_half_size_as_reading_would_reduce_it() {
        let page = busy_page(203, 151);
        let decoded = decoded_with(&strip_tiff(&page, 600, 16), SourceOptions::default());
        assert_eq!(decoded.dpi, 300.0);
        assert_eq!(decoded.origin, PageOrigin::ImageWithDpi);
        assert_eq!(decoded.image, PagePixels::Rgb(crate::raster::downscale_rgb(&page, 2)), "the same pixels as reducing the whole page");
        // 300 dpi stays whole, every strip in place.
        let whole = decoded_with(&strip_tiff(&page, 300, 7), SourceOptions::default());
        assert_eq!((whole.dpi, &whole.image), (300.0, &PagePixels::Rgb(page.clone())));
        // Export keeps full resolution.
        let export = SourceOptions { decode_dpi: f32::INFINITY, ..SourceOptions::default() };
        assert_eq!(decoded_with(&strip_tiff(&page, 600, 16), export).image, PagePixels::Rgb(page.clone()));
        // The cap on the pixels kept holds whatever the dpi: a quarter of them halves the page.
        let capped = SourceOptions { decode_dpi: f32::INFINITY, keep_pixels: 203 * 151 / 4, ..SourceOptions::default() };
        assert_eq!(decoded_with(&strip_tiff(&page, 600, 16), capped).image, PagePixels::Rgb(crate::raster::downscale_rgb(&page, 2)));
    }

    #[test]
    fn a_tiff_page_with_half_its_rows_missing_is_unreadable() {
        // 16 x 4 grey pixels declared, 2 rows stored.
        let reason = unreadable_reason(&tiff(16, 4, 8, 1, &[128u8; 32]));
        assert!(reason.contains("TIFF"), "{reason}");
    }

    /// An uncompressed 8-bit grey TIFF stored in `tile` x `tile` tiles (edge tiles padded), written by hand.
    fn tiled_tiff(page: &image::GrayImage, tile: u32) -> Vec<u8> {
        let (w, h) = page.dimensions();
        let (across, down) = (w.div_ceil(tile), h.div_ceil(tile));
        let tiles = (across * down) as usize;
        let tile_bytes = (tile * tile) as usize;
        let entries = 10usize;
        let ifd_len = 2 + entries * 12 + 4;
        let offsets_at = 8 + ifd_len;
        let counts_at = offsets_at + 4 * tiles;
        let data_at = counts_at + 4 * tiles;
        let mut out = b"II*\0".to_vec();
        out.extend(8u32.to_le_bytes());
        out.extend((entries as u16).to_le_bytes());
        let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(count.to_le_bytes());
            match kind {
                3 => out.extend([(value as u16).to_le_bytes(), [0, 0]].concat()),
                _ => out.extend(value.to_le_bytes()),
            }
        };
        entry(256, 4, 1, w);
        entry(257, 4, 1, h);
        entry(258, 3, 1, 8);
        entry(259, 3, 1, 1);
        entry(262, 3, 1, 1);
        entry(277, 3, 1, 1);
        entry(322, 4, 1, tile);
        entry(323, 4, 1, tile);
        entry(324, 4, tiles as u32, offsets_at as u32);
        entry(325, 4, tiles as u32, counts_at as u32);
        out.extend(0u32.to_le_bytes());
        for i in 0..tiles {
            out.extend(((data_at + i * tile_bytes) as u32).to_le_bytes());
        }
        for _ in 0..tiles {
            out.extend((tile_bytes as u32).to_le_bytes());
        }
        for ty in 0..down {
            for tx in 0..across {
                for y in 0..tile {
                    for x in 0..tile {
                        let (px, py) = (tx * tile + x, ty * tile + y);
                        out.push(if px < w && py < h { page.get_pixel(px, py).0[0] } else { 77 });
                    }
                }
            }
        }
        out
    }

    #[test]
    fn a_tiled_tiff_comes_out_as_the_page_with_the_tile_padding_dropped() {
        let page = image::GrayImage::from_fn(40, 37, |x, y| image::Luma([(x * 5 + y * 2) as u8]));
        let decoded = only_page(&tiled_tiff(&page, 16));
        assert_eq!(decoded, crate::raster::gray_to_rgb(&page));
    }

    /// A PNG of `page` declaring `dpi`, maybe interlaced.
    fn png_at_dpi(page: &RgbImage, dpi: f32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, page.width(), page.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let ppm = (dpi / 0.0254).round() as u32;
        encoder.set_pixel_dims(Some(png::PixelDimensions { xppu: ppm, yppu: ppm, unit: png::Unit::Meter }));
        encoder.write_header().unwrap().write_image_data(page.as_raw()).unwrap();
        out
    }

    #[test]
    fn a_600_dpi_png_is_read_row_by_row_at_half_size() {
        let page = busy_page(121, 90);
        let decoded = decoded_with(&png_at_dpi(&page, 600.0), SourceOptions::default());
        assert!((decoded.dpi - 300.0).abs() < 0.5, "{}", decoded.dpi);
        assert_eq!(decoded.image, PagePixels::Rgb(crate::raster::downscale_rgb(&page, 2)));
        assert_eq!(decoded_with(&png_at_dpi(&page, 300.0), SourceOptions::default()).image, PagePixels::Rgb(page.clone()));
    }

    #[test]
    fn a_png_cut_short_is_an_unreadable_page() {
        let bytes = png_at_dpi(&busy_page(300, 200), 300.0);
        let reason = unreadable_reason(&bytes[..bytes.len() / 2]);
        assert!(reason.contains("Png"), "{reason}");
    }

    #[test]
    fn whole_file_problems_are_typed_errors() {
        assert!(matches!(PageSource::open(b"", None, SourceOptions::default()), Err(SourceError::Empty)));
        assert!(matches!(PageSource::open(b"hello world", None, SourceOptions::default()), Err(SourceError::UnknownFormat)));
        assert!(matches!(PageSource::open(b"%PDF-1.4", None, SourceOptions::default()), Err(SourceError::NoPdfEngine)));
        assert!(matches!(
            PageSource::open(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A], None, SourceOptions::default()),
            Err(SourceError::Damaged { format: ScanFormat::Png, .. })
        ));
    }
}
