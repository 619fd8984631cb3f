//! A small drawing surface over printpdf in the units templates use: millimetres from the sheet's
//! top-left corner, with a printer offset applied to every position. The certificate renderer and the
//! calibration sheet both draw through it, so they place things identically.

use printpdf::{
    Color, FontId, Line, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, Point as PdfPoint,
    Pt, Rect as PdfRect, Rgb, TextItem,
};

use crate::fonts;
use crate::model::{FontKind, Rect};
use crate::render::PrintOffset;

/// A PDF being built, with the embedded fonts registered once.
pub struct Document {
    doc: PdfDocument,
    regular: FontId,
    bold: FontId,
    pages: Vec<PdfPage>,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document").field("pages", &self.pages.len()).finish()
    }
}

impl Document {
    pub fn new(title: &str) -> Document {
        let mut doc = PdfDocument::new(title);
        let mut warnings = Vec::new();
        let regular = doc.add_font(&ParsedFont::from_bytes(fonts::DEJAVU_SANS, 0, &mut warnings).expect("embedded font parses"));
        let bold = doc.add_font(&ParsedFont::from_bytes(fonts::DEJAVU_SANS_BOLD, 0, &mut warnings).expect("embedded font parses"));
        Document { doc, regular, bold, pages: Vec::new() }
    }

    /// A fresh page of the given size whose drawing is shifted by `offset`.
    pub fn canvas(&self, width_mm: f32, height_mm: f32, offset: PrintOffset) -> Canvas {
        Canvas {
            width_mm,
            height_mm,
            offset,
            regular: self.regular.clone(),
            bold: self.bold.clone(),
            ops: vec![Op::SetFillColor { col: black() }, Op::SetOutlineColor { col: black() }],
        }
    }

    pub fn add_page(&mut self, canvas: Canvas) {
        self.pages.push(PdfPage::new(Mm(canvas.width_mm), Mm(canvas.height_mm), canvas.ops));
    }

    pub fn finish(mut self) -> Vec<u8> {
        let mut warnings = Vec::new();
        let pages = std::mem::take(&mut self.pages);
        self.doc.with_pages(pages).save(&PdfSaveOptions::default(), &mut warnings)
    }
}

/// One page's drawing operations.
pub struct Canvas {
    width_mm: f32,
    height_mm: f32,
    offset: PrintOffset,
    regular: FontId,
    bold: FontId,
    ops: Vec<Op>,
}

impl std::fmt::Debug for Canvas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canvas").field("ops", &self.ops.len()).finish()
    }
}

impl Canvas {
    fn point(&self, x_mm: f32, y_mm: f32) -> PdfPoint {
        let o = self.offset;
        PdfPoint::new(Mm(o.dx_mm + x_mm * o.scale), Mm(self.height_mm - (o.dy_mm + y_mm * o.scale)))
    }

    /// One line of text with its left end of the baseline at (x, y).
    pub fn text(&mut self, font: FontKind, size_pt: f32, x_mm: f32, baseline_mm: f32, text: &str) {
        let handle = match font {
            FontKind::Regular => self.regular.clone(),
            FontKind::Bold => self.bold.clone(),
        };
        let pos = self.point(x_mm, baseline_mm);
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont { font: PdfFontHandle::External(handle), size: Pt(size_pt * self.offset.scale) },
            Op::SetTextCursor { pos },
            Op::ShowText { items: vec![TextItem::Text(text.to_string())] },
            Op::EndTextSection,
        ]);
    }

    pub fn fill_rect(&mut self, r: Rect) {
        let ll = self.point(r.x, r.bottom());
        let s = self.offset.scale;
        // A rectangle without a paint mode is emitted as a path that paints nothing.
        let mut rectangle = PdfRect::from_xywh(ll.x, ll.y, Pt::from(Mm(r.w * s)), Pt::from(Mm(r.h * s)));
        rectangle.mode = Some(PaintMode::Fill);
        self.ops.push(Op::DrawRectangle { rectangle });
    }

    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, thickness_pt: f32) {
        let points = vec![LinePoint { p: self.point(x1, y1), bezier: false }, LinePoint { p: self.point(x2, y2), bezier: false }];
        self.ops.push(Op::SetOutlineThickness { pt: Pt(thickness_pt) });
        self.ops.push(Op::DrawLine { line: Line { points, is_closed: false } });
    }

    pub fn outline(&mut self, r: Rect, thickness_pt: f32) {
        let points = [(r.x, r.y), (r.right(), r.y), (r.right(), r.bottom()), (r.x, r.bottom())]
            .iter()
            .map(|&(x, y)| LinePoint { p: self.point(x, y), bezier: false })
            .collect();
        self.ops.push(Op::SetOutlineThickness { pt: Pt(thickness_pt) });
        self.ops.push(Op::DrawLine { line: Line { points, is_closed: true } });
    }

    /// Sets the colour of what follows (fill and stroke), as RGB in 0..1.
    pub fn color(&mut self, r: f32, g: f32, b: f32) {
        let col = Color::Rgb(Rgb { r, g, b, icc_profile: None });
        self.ops.push(Op::SetFillColor { col: col.clone() });
        self.ops.push(Op::SetOutlineColor { col });
    }
}

fn black() -> Color {
    Color::Rgb(Rgb { r: 0.0, g: 0.0, b: 0.0, icc_profile: None })
}
