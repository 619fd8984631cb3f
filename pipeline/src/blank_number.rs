//! The blank number of a page: what each reader read, and whether that is certain enough to attach.
//! One place for the rule, so no float threshold is scattered over `ocr`, `stack` and `matching`.
//!
//! Two readers look at every number, and they fail differently: **Tesseract** ([`crate::ocr`], line
//! OCR with a whitelist, its certainty from variants of one crop agreeing) and the **glyph reader**
//! ([`crate::glyphs`], each character cut out and compared with digit shapes of many typefaces, no
//! language model, no learning from the stack). Variants of one engine agreeing, or a stack agreeing
//! with itself, is not evidence; two engines agreeing is. So:
//! - a number is **sure** when Tesseract read it for sure (clean variants agreeing, no mark over the
//!   line) AND the glyph reader read every character of it alike ([`Evidence::Readers`]);
//! - or when the stack check settled it ([`Evidence::Stack`]): the stack's own print, learned only from
//!   pages both readers read alike, fits this page's ink for exactly one of the numbers the run (also
//!   made only of such pages) leaves unread, and no reader read anything else here for sure;
//! - anything else is a hint for the reviewer (`blank_number_unreadable`, both readings in the report).

use serde::Serialize;

/// A blank number read with less confidence than this is a hint for a reviewer, not evidence: the
/// reader caps readings of a number covered by another ink at [`HINT_CONFIDENCE_CAP`], and agreeing
/// readings score 0.9+.
pub const MIN_BLANK_NUMBER_CONFIDENCE: f32 = 0.5;

/// The most a hint may claim: a reading of an image with a mark through the digits, or of an ink layer
/// another ink covered.
pub const HINT_CONFIDENCE_CAP: f32 = 0.4;

/// The confidence a number the stack check settled is reported with: above the level the decision step
/// acts on, below any agreeing reading of both readers.
pub const STACK_CONFIDENCE: f32 = 0.6;

/// The blank number read from a page.
#[derive(Debug, Clone, PartialEq)]
pub struct BlankNumberReading {
    /// Normalised text matching the template's pattern, e.g. `77 0012345`: the number this page would
    /// take (Tesseract's reading, or the stack's); or, when Tesseract read nothing, the glyph reader's,
    /// with `?` for a character it could not read (`5? 05335?6`: a hint, never attached).
    pub text: String,
    /// 0..1: Tesseract's own confidence, raised when variants agree, lowered when they disagree, capped
    /// for a hint; [`STACK_CONFIDENCE`] for a number the stack settled; 0 for the glyph reader alone.
    pub confidence: f32,
    /// How many Tesseract variants read exactly this text.
    pub agreeing: usize,
    /// How many Tesseract variants produced a text matching the pattern at all.
    pub matching: usize,
    /// Not read by the readers alone: the only unread number of the stack's run that the stack's own
    /// printed glyphs fit (see `crate::stack`).
    pub from_stack: bool,
    /// What Tesseract read (its best text), None when it read nothing matching the pattern.
    pub tesseract: Option<String>,
    /// What the glyph reader read on the same line, `?` for a character it is not sure of; None when it
    /// could not cut the line into the template's characters.
    pub glyphs: Option<String>,
}

/// Why a page's number may be attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Tesseract for sure and the glyph reader in every character.
    Readers,
    /// The stack check (see the module doc).
    Stack,
}

impl Evidence {
    /// The report's `blank_number_read_by`.
    pub fn code(self) -> &'static str {
        match self {
            Evidence::Readers => "readers",
            Evidence::Stack => "stack",
        }
    }
}

impl BlankNumberReading {
    /// A reading only the glyph reader made (matching the pattern, maybe with `?` for characters a mark
    /// hid): a hint, never sure alone.
    pub fn glyphs_only(text: String) -> BlankNumberReading {
        BlankNumberReading {
            glyphs: Some(text.clone()),
            text,
            confidence: 0.0,
            agreeing: 0,
            matching: 0,
            from_stack: false,
            tesseract: None,
        }
    }

    /// Both readers read exactly this text.
    pub fn readers_agree(&self) -> bool {
        self.tesseract.as_deref() == Some(self.text.as_str()) && self.glyphs.as_deref() == Some(self.text.as_str())
    }

    /// Why this number may be attached, or None when it is only a hint.
    pub fn evidence(&self) -> Option<Evidence> {
        if self.confidence < MIN_BLANK_NUMBER_CONFIDENCE {
            None
        } else if self.from_stack {
            Some(Evidence::Stack)
        } else if self.readers_agree() {
            Some(Evidence::Readers)
        } else {
            None
        }
    }

    /// A number only the stack check settled, on a page where neither reader read anything.
    pub fn stack_only(text: String) -> BlankNumberReading {
        BlankNumberReading { text, confidence: STACK_CONFIDENCE, agreeing: 0, matching: 0, from_stack: true, tesseract: None, glyphs: None }
    }

    /// The stack's number for this page, keeping what the readers read.
    pub fn settled_by_stack(&self, text: String) -> BlankNumberReading {
        BlankNumberReading { text, confidence: STACK_CONFIDENCE, agreeing: 0, matching: 0, from_stack: true, ..self.clone() }
    }
}

/// A Tesseract reading below this confidence had no two of its variants agreeing on it: a lone reading.
pub const LONE_READING: f32 = 0.8;

/// What the stack's print says of Tesseract's own text on a page the stack check is completing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintOnTesseract {
    /// The print clearly contradicts it (a glyph missing, another character's ink).
    Contradicts,
    /// It does not, or cannot tell.
    Silent,
}

/// Whether the stack check may give `text` to a page whose readers read `reading`: no reader may have
/// read anything else there for sure. The glyph reader's sure characters must all be `text`'s, and a
/// sure Tesseract reading (clean variants agreeing) must be `text` itself unless the glyph reader read
/// all of `text` (then two sources that fail differently, the stack's print and the glyph reader,
/// outvote one), or unless that reading is a lone one (no two of Tesseract's variants agreed) that the
/// stack's print clearly contradicts: Tesseract disagreeing with itself and the print ruling its text
/// out is not a reader reading something else for sure.
pub fn stack_may_take(reading: Option<&BlankNumberReading>, text: &str, print: PrintOnTesseract) -> bool {
    let Some(r) = reading else {
        return true;
    };
    let glyphs_consistent = r.glyphs.as_deref().is_none_or(|g| consistent(g, text));
    let glyphs_complete = r.glyphs.as_deref() == Some(text);
    let lone_and_contradicted = r.confidence < LONE_READING && print == PrintOnTesseract::Contradicts;
    let tesseract_sure_elsewhere = r.tesseract.as_deref().is_some_and(|t| t != text)
        && r.confidence >= MIN_BLANK_NUMBER_CONFIDENCE
        && !r.from_stack
        && !lone_and_contradicted;
    glyphs_consistent && (glyphs_complete || !tesseract_sure_elsewhere)
}

/// How a candidate number fits a page's print by the stack's glyph book (`crate::stack`), when the
/// print does not rule it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintFit {
    /// Every glyph whole, nothing left unexplained in its cells.
    Whole,
    /// Neither clearly in nor clearly out (a similar digit, such as a 5 on a 6).
    Unclear,
    /// Whole, but at some character another digit's print is whole too, with strokes of its own: the
    /// page may show that digit, and a mark have drawn this one's missing part away.
    Shadowed,
}

/// The number the stack check gives a page, from the print's verdicts on the candidates (each one not
/// ruled out) and what the readers read there:
/// - the one candidate that fits whole while the print rules every other out, when no reader read
///   anything else there for sure ([`stack_may_take`]);
/// - or the one candidate that fits whole while the others left are only unclear, when Tesseract's own
///   text is that candidate and the glyph reader's sure characters agree with it: the print and
///   Tesseract, which fail differently, both put it first. Tesseract's confidence does not count here (a
///   mark over the line caps it); its text does, and the print has found that text's every glyph whole.
///   A shadowed competitor is not overruled this way: there the candidate's advantage may be a mark's
///   ink that both readers took for print (a pen along a 3's open side makes an 8 for both). Nor is an
///   unclear one that the stack's order leaves for the page (`in_sequence`: a number its runs leave
///   unread) when Tesseract's text is none of those: a pen across a 0's top makes a 6 for Tesseract and
///   the print alike, so there they do not fail differently, and the order, which does, points
///   elsewhere (office seed 6415, page 1: 19 9063008 in a run of 19 9062991–19 9063012 taken for
///   19 9063068);
/// - or the one candidate that fits whole, whatever the others (unclear or shadowed), when the page's
///   place in the file gives that very number (`placed`, see `crate::stack`: the pages around it carry
///   the numbers just below and above, read by both readers). The order staff loaded the blanks in fails
///   differently from the print: a mark that makes the print favour a wrong digit does not move the
///   page in the stack, and a blank out of order (a spoiled one replaced) leaves the print favouring its
///   own number, not the place's.
pub fn stack_choice(
    fitting: &[(String, PrintFit)],
    reading: Option<&BlankNumberReading>,
    print: PrintOnTesseract,
    placed: Option<&str>,
    in_sequence: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let mut whole = fitting.iter().filter(|(_, fit)| *fit == PrintFit::Whole).map(|(text, _)| text);
    let (Some(first), None) = (whole.next(), whole.next()) else {
        return None;
    };
    let alone = fitting.len() == 1;
    let others_unclear = fitting.iter().all(|(text, fit)| text == first || *fit == PrintFit::Unclear);
    let tesseract_first = reading.is_some_and(|r| r.tesseract.as_deref() == Some(first.as_str()));
    // Tesseract and the print against the stack's order: a rival the order leaves for this page stands.
    let order_against = !in_sequence(first) && fitting.iter().any(|(text, _)| text != first && in_sequence(text));
    let tesseract_first = tesseract_first && !order_against;
    let in_place = placed == Some(first.as_str());
    ((alone || (tesseract_first && others_unclear) || in_place) && stack_may_take(reading, first, print)).then(|| first.clone())
}

/// Whether the glyph reader's sure characters on the page allow `text`: a candidate they contradict is
/// no candidate for the stack check (a reader that fails differently from the stack's print ruled it
/// out), so it does not keep the print from choosing among the others either.
pub fn glyphs_allow(reading: Option<&BlankNumberReading>, text: &str) -> bool {
    reading.and_then(|r| r.glyphs.as_deref()).is_none_or(|g| consistent(g, text))
}

/// `partial` (with `?` for unsure characters) says nothing against `text`.
pub fn consistent(partial: &str, text: &str) -> bool {
    partial.chars().count() == text.chars().count() && partial.chars().zip(text.chars()).all(|(p, t)| p == '?' || p == t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(text: &str, confidence: f32, tesseract: Option<&str>, glyphs: Option<&str>) -> BlankNumberReading {
        BlankNumberReading {
            text: text.into(),
            confidence,
            agreeing: 2,
            matching: 2,
            from_stack: false,
            tesseract: tesseract.map(str::to_string),
            glyphs: glyphs.map(str::to_string),
        }
    }

    #[test]
    fn a_number_is_sure_only_when_both_readers_read_it_alike() {
        assert_eq!(reading("52 0533596", 0.95, Some("52 0533596"), Some("52 0533596")).evidence(), Some(Evidence::Readers));
        // Tesseract sure, the glyph reader reads another series: one reader only.
        assert_eq!(reading("92 0533596", 0.95, Some("92 0533596"), Some("52 0533596")).evidence(), None);
        // The glyph reader unsure of one character.
        assert_eq!(reading("52 0533596", 0.95, Some("52 0533596"), Some("?2 0533596")).evidence(), None);
        // The glyph reader could not cut the line.
        assert_eq!(reading("52 0533596", 0.95, Some("52 0533596"), None).evidence(), None);
        // Both alike but Tesseract only hinted (a mark over the line).
        assert_eq!(reading("52 0533596", 0.4, Some("52 0533596"), Some("52 0533596")).evidence(), None);
        // The glyph reader alone.
        assert_eq!(BlankNumberReading::glyphs_only("52 0533596".into()).evidence(), None);
    }

    #[test]
    fn the_stack_may_not_overrule_a_reader_that_read_something_else_for_sure() {
        let tesseract_wrong = reading("92 0533596", 0.95, Some("92 0533596"), Some("52 0533596"));
        let silent = PrintOnTesseract::Silent;
        assert!(stack_may_take(Some(&tesseract_wrong), "52 0533596", silent), "glyph reader and stack against Tesseract");
        let glyphs_partial = reading("92 0533596", 0.95, Some("92 0533596"), Some("?2 0533596"));
        assert!(!stack_may_take(Some(&glyphs_partial), "52 0533596", silent), "only the stack against a sure Tesseract");
        let glyphs_other = reading("52 0533596", 0.3, Some("52 0533596"), Some("52 0533597"));
        assert!(!stack_may_take(Some(&glyphs_other), "52 0533596", silent), "the glyph reader read another last digit");
        let hint = reading("52 0533598", 0.3, Some("52 0533598"), Some("52 05335?6"));
        assert!(stack_may_take(Some(&hint), "52 0533596", silent), "a Tesseract hint under a pen does not veto");
        assert!(stack_may_take(None, "52 0533596", silent));
    }

    #[test]
    fn a_lone_tesseract_reading_the_print_contradicts_does_not_veto_but_two_agreeing_variants_do() {
        let contradicts = PrintOnTesseract::Contradicts;
        // Under a pen, no two variants agreed on "09 6290048" and the print has no 2 there.
        let lone = reading("09 6290048", 0.65, Some("09 6290048"), None);
        assert!(stack_may_take(Some(&lone), "09 6790048", contradicts));
        assert!(!stack_may_take(Some(&lone), "09 6790048", PrintOnTesseract::Silent), "the print does not rule it out");
        // Two clean variants agreed: a sure reading vetoes whatever the print says.
        let agreeing = reading("09 6290048", 0.92, Some("09 6290048"), None);
        assert!(!stack_may_take(Some(&agreeing), "09 6790048", contradicts));
        // The glyph reader's sure characters still veto.
        let glyphs_against = reading("09 6290048", 0.65, Some("09 6290048"), Some("09 62?0048"));
        assert!(!stack_may_take(Some(&glyphs_against), "09 6790048", contradicts));
    }

    #[test]
    fn a_partial_reading_is_consistent_only_with_numbers_it_does_not_contradict() {
        assert!(consistent("5? 05335?6", "52 0533596"));
        assert!(!consistent("5? 05335?6", "52 0533597"));
        assert!(!consistent("52 053359", "52 0533596"));
    }

    #[test]
    fn the_stack_takes_a_whole_fit_over_unclear_ones_only_when_tesseract_read_it() {
        use PrintFit::{Shadowed, Unclear, Whole};
        let silent = PrintOnTesseract::Silent;
        let none = |_: &str| false;
        let fits = |list: &[(&str, PrintFit)]| list.iter().map(|(t, f)| (t.to_string(), *f)).collect::<Vec<_>>();
        let alone = fits(&[("44 0031186", Whole)]);
        assert_eq!(stack_choice(&alone, None, silent, None, &none).as_deref(), Some("44 0031186"), "every other candidate ruled out");
        let with_unclear = fits(&[("44 0031185", Unclear), ("44 0031186", Whole), ("44 0031198", Unclear)]);
        assert_eq!(stack_choice(&with_unclear, None, silent, None, &none), None, "no reader read anything");
        let hint = reading("44 0031186", 0.0, Some("44 0031186"), None);
        assert_eq!(
            stack_choice(&with_unclear, Some(&hint), silent, None, &none).as_deref(),
            Some("44 0031186"),
            "Tesseract's text, even as a hint"
        );
        let other_hint = reading("44 0031185", 0.3, Some("44 0031185"), None);
        assert_eq!(stack_choice(&with_unclear, Some(&other_hint), silent, None, &none), None, "Tesseract read one of the unclear ones");
        let glyphs_against = reading("44 0031186", 0.3, Some("44 0031186"), Some("44 00311?5"));
        assert_eq!(
            stack_choice(&with_unclear, Some(&glyphs_against), silent, None, &none),
            None,
            "the glyph reader read another last digit"
        );
        let shadowed = fits(&[("44 0031183", Shadowed), ("44 0031188", Whole)]);
        let hint_8 = reading("44 0031188", 0.3, Some("44 0031188"), None);
        assert_eq!(stack_choice(&shadowed, Some(&hint_8), silent, None, &none), None, "a 3 whose open side a pen may have closed");
        let two_fit = fits(&[("44 0031186", Whole), ("44 0031196", Whole)]);
        assert_eq!(stack_choice(&two_fit, Some(&hint), silent, None, &none), None, "two candidates fit whole");
        let none_whole = fits(&[("44 0031186", Unclear)]);
        assert_eq!(stack_choice(&none_whole, Some(&hint), silent, None, &none), None, "only unclear");
        assert_eq!(stack_choice(&[], Some(&hint), silent, None, &none), None);
    }

    #[test]
    fn tesseract_and_the_print_do_not_overrule_a_rival_the_stacks_order_leaves_for_the_page() {
        use PrintFit::{Unclear, Whole};
        let silent = PrintOnTesseract::Silent;
        // Office seed 6415, page 1: a pen across the top of 19 9063008's second 0 made it a 6 for
        // Tesseract and for the print; the run 19 9062991–19 9063012 left 19 9063008 unread.
        let fitting = vec![("19 9063008".to_string(), Unclear), ("19 9063068".to_string(), Whole)];
        let pen = reading("19 9063068", 0.0, Some("19 9063068"), Some("19 906????"));
        let gap = |t: &str| t == "19 9063008";
        assert_eq!(stack_choice(&fitting, Some(&pen), silent, None, &gap), None, "the order's number stands against both");
        // Tesseract's text is itself a number the order leaves: the print and Tesseract settle it as before.
        let both = |t: &str| t == "19 9063008" || t == "19 9063068";
        assert_eq!(stack_choice(&fitting, Some(&pen), silent, None, &both).as_deref(), Some("19 9063068"));
        // The unclear rival is no number of the order either: as before.
        assert_eq!(stack_choice(&fitting, Some(&pen), silent, None, &|_: &str| false).as_deref(), Some("19 9063068"));
        // Every rival ruled out by the print: the one fit stands, in the order or not.
        let alone = vec![("19 9063068".to_string(), Whole)];
        assert_eq!(stack_choice(&alone, Some(&pen), silent, None, &gap).as_deref(), Some("19 9063068"));
    }

    #[test]
    fn the_pages_place_in_the_file_settles_a_whole_fit_over_shadowed_ones_and_nothing_else() {
        use PrintFit::{Shadowed, Unclear, Whole};
        let silent = PrintOnTesseract::Silent;
        let none = |_: &str| false;
        let fits = |list: &[(&str, PrintFit)]| list.iter().map(|(t, f)| (t.to_string(), *f)).collect::<Vec<_>>();
        let shadowed = fits(&[("44 0031183", Shadowed), ("44 0031188", Whole), ("44 0031190", Unclear)]);
        assert_eq!(
            stack_choice(&shadowed, None, silent, Some("44 0031188"), &none).as_deref(),
            Some("44 0031188"),
            "print and place agree"
        );
        assert_eq!(
            stack_choice(&shadowed, None, silent, Some("44 0031183"), &none),
            None,
            "the place gives a number the print only shadows"
        );
        assert_eq!(stack_choice(&shadowed, None, silent, Some("44 0031177"), &none), None, "the place gives a number that is no candidate");
        assert_eq!(stack_choice(&shadowed, None, silent, None, &none), None, "no place, no reader: as before");
        let two_fit = fits(&[("44 0031186", Whole), ("44 0031196", Whole)]);
        assert_eq!(stack_choice(&two_fit, None, silent, Some("44 0031186"), &none), None, "the print cannot tell two candidates apart");
        let none_whole = fits(&[("44 0031186", Unclear)]);
        assert_eq!(stack_choice(&none_whole, None, silent, Some("44 0031186"), &none), None, "the place alone is no evidence");
        let tesseract_sure_elsewhere = reading("44 0031183", 0.95, Some("44 0031183"), None);
        assert_eq!(
            stack_choice(&shadowed, Some(&tesseract_sure_elsewhere), silent, Some("44 0031188"), &none),
            None,
            "a reader read something else for sure"
        );
        let glyphs_against = reading("44 0031183", 0.3, Some("44 0031183"), Some("44 00311?3"));
        assert_eq!(
            stack_choice(&shadowed, Some(&glyphs_against), silent, Some("44 0031188"), &none),
            None,
            "the glyph reader read a 3 for sure"
        );
    }

    #[test]
    fn only_numbers_the_glyph_readers_sure_characters_allow_stay_candidates() {
        let partial = reading("84 2823720", 0.95, Some("84 2823720"), Some("8? 2823720"));
        assert!(glyphs_allow(Some(&partial), "84 2823720"));
        assert!(!glyphs_allow(Some(&partial), "84 2823726"), "the glyph reader read the last 0 for sure");
        assert!(glyphs_allow(Some(&partial), "89 2823720"), "not sure of the series' second digit");
        let uncut = reading("84 2823720", 0.4, Some("84 2823720"), None);
        assert!(glyphs_allow(Some(&uncut), "84 2823726"), "a line the glyph reader could not cut says nothing");
        assert!(glyphs_allow(None, "84 2823726"));
    }
}
