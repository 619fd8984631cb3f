//! The fonts certificates are set in. Embedded (DejaVu, see `fonts/LICENSE-DejaVu.txt`) because the
//! PDF's built-in fonts cannot show Cyrillic; metrics come from ab_glyph so text can be centred and fitted.

use ab_glyph::{Font, FontRef};

use crate::model::FontKind;

pub const DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
pub const DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

pub fn bytes(kind: FontKind) -> &'static [u8] {
    match kind {
        FontKind::Regular => DEJAVU_SANS,
        FontKind::Bold => DEJAVU_SANS_BOLD,
    }
}

/// Parsed font for metrics (and for the simulator's raster text).
pub fn font_ref(kind: FontKind) -> FontRef<'static> {
    FontRef::try_from_slice(bytes(kind)).expect("embedded DejaVu fonts parse")
}

/// Metrics of one line of text, in millimetres at the given size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineMetrics {
    pub width_mm: f32,
    /// Height above the baseline of the tallest glyph the font may draw.
    pub ascent_mm: f32,
    /// Depth below the baseline (positive).
    pub descent_mm: f32,
}

const MM_PER_PT: f32 = 25.4 / 72.0;

pub fn measure(kind: FontKind, text: &str, size_pt: f32) -> LineMetrics {
    let font = font_ref(kind);
    let upem = font.units_per_em().unwrap_or(2048.0);
    let advance: f32 = text.chars().map(|c| font.h_advance_unscaled(font.glyph_id(c))).sum();
    let to_mm = size_pt * MM_PER_PT / upem;
    LineMetrics { width_mm: advance * to_mm, ascent_mm: font.ascent_unscaled() * to_mm, descent_mm: -font.descent_unscaled() * to_mm }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyrillic_text_has_real_glyphs_and_width() {
        let font = font_ref(FontKind::Regular);
        assert_ne!(font.glyph_id('Ж').0, 0);
        let m = measure(FontKind::Regular, "Иванова", 12.0);
        assert!(m.width_mm > 15.0 && m.width_mm < 30.0, "{m:?}");
        assert!(m.ascent_mm > 3.0 && m.descent_mm > 0.5);
    }
}
