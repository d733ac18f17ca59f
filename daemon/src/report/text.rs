//! Text handling for the built-in PDF fonts: mapping to WinAnsi, measuring, wrapping and
//! cutting with an ellipsis.

use printpdf::BuiltinFont;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The ellipsis used when text is cut (WinAnsi 0x85).
pub(super) const ELLIPSIS: char = '\u{2026}';

/// A built-in font face; the oblique face shares the regular face's widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Face {
    Regular,
    Bold,
    Oblique,
}

impl Face {
    pub(super) fn builtin(self) -> BuiltinFont {
        match self {
            Face::Regular => BuiltinFont::Helvetica,
            Face::Bold => BuiltinFont::HelveticaBold,
            Face::Oblique => BuiltinFont::HelveticaOblique,
        }
    }

    fn widths(self) -> &'static [u16; 224] {
        match self {
            Face::Regular | Face::Oblique => &HELVETICA,
            Face::Bold => &HELVETICA_BOLD,
        }
    }

    /// Advance width of `c` in points at `size`; `c` should come from [`to_win_ansi`].
    fn char_width(self, c: char, size: f32) -> f32 {
        let units = match win_ansi_byte(c) {
            Some(b) if b >= 0x20 => self.widths()[usize::from(b - 0x20)],
            _ => 0,
        };
        // Unassigned slots cannot come out of `to_win_ansi`; measure them generously anyway.
        let units = if units == 0 { 556 } else { units };
        f32::from(units) * size / 1000.0
    }

    /// Width of `s` in points at `size`.
    pub(super) fn width(self, s: &str, size: f32) -> f32 {
        s.chars().map(|c| self.char_width(c, size)).sum()
    }
}

/// Maps `s` onto the characters the built-in fonts can show (WinAnsi). Line breaks and other
/// white space become spaces, control characters are dropped, letters missing from WinAnsi lose
/// their accents (or ligatures split) when that gives WinAnsi characters, the rest become `?`.
pub(super) fn to_win_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfc() {
        push_win_ansi(c, &mut out);
    }
    out
}

fn push_win_ansi(c: char, out: &mut String) {
    match c {
        // Soft hyphen and zero-width characters: invisible, so drop them.
        '\u{AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
        _ if win_ansi_byte(c).is_some() => out.push(c),
        _ if c.is_whitespace() => out.push(' '),
        _ if c.is_control() || is_combining_mark(c) => {}
        '\u{2010}'..='\u{2012}' | '\u{2212}' => out.push('-'),
        '\u{2015}' => out.push('\u{2014}'),
        '\u{2032}' => out.push('\''),
        '\u{2033}' => out.push('"'),
        'ł' => out.push('l'),
        'Ł' => out.push('L'),
        'đ' => out.push('d'),
        'Đ' => out.push('D'),
        'ħ' => out.push('h'),
        'Ħ' => out.push('H'),
        'ı' => out.push('i'),
        _ => {
            let mut base = String::new();
            let mut ok = true;
            decompose_compatible(c, |d| {
                if is_combining_mark(d) {
                    return;
                }
                if win_ansi_byte(d).is_some() {
                    base.push(d);
                } else {
                    ok = false;
                }
            });
            if ok && !base.is_empty() && base != c.to_string() {
                out.push_str(&base);
            } else {
                out.push('?');
            }
        }
    }
}

/// The WinAnsi byte for `c` (PDF 32000-1 Annex D.2), for printable characters only.
fn win_ansi_byte(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if (0x20..=0x7E).contains(&cp) || (0xA0..=0xFF).contains(&cp) {
        return u8::try_from(cp).ok();
    }
    Some(match c {
        '\u{20AC}' => 0x80,
        '\u{201A}' => 0x82,
        '\u{0192}' => 0x83,
        '\u{201E}' => 0x84,
        '\u{2026}' => 0x85,
        '\u{2020}' => 0x86,
        '\u{2021}' => 0x87,
        '\u{02C6}' => 0x88,
        '\u{2030}' => 0x89,
        '\u{0160}' => 0x8A,
        '\u{2039}' => 0x8B,
        '\u{0152}' => 0x8C,
        '\u{017D}' => 0x8E,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201C}' => 0x93,
        '\u{201D}' => 0x94,
        '\u{2022}' => 0x95,
        '\u{2013}' => 0x96,
        '\u{2014}' => 0x97,
        '\u{02DC}' => 0x98,
        '\u{2122}' => 0x99,
        '\u{0161}' => 0x9A,
        '\u{203A}' => 0x9B,
        '\u{0153}' => 0x9C,
        '\u{017E}' => 0x9E,
        '\u{0178}' => 0x9F,
        _ => return None,
    })
}

/// `s` unchanged if it fits in `max_w`, else its longest prefix that fits with an ellipsis.
pub(super) fn fit(s: &str, face: Face, size: f32, max_w: f32) -> String {
    if face.width(s, size) <= max_w { s.to_owned() } else { cut(s, face, size, max_w) }
}

/// The longest prefix of `s` that fits in `max_w` together with a trailing ellipsis.
fn cut(s: &str, face: Face, size: f32, max_w: f32) -> String {
    let budget = max_w - face.char_width(ELLIPSIS, size);
    if budget < 0.0 {
        return String::new();
    }
    let mut used = 0.0;
    let mut out = String::new();
    for c in s.chars() {
        used += face.char_width(c, size);
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push(ELLIPSIS);
    out
}

/// Wraps `s` on spaces into lines no wider than `max_w`; a word wider than a line is broken
/// between characters. More than `max_lines` lines: the last kept one ends in an ellipsis.
/// Always returns at least one (possibly empty) line.
pub(super) fn wrap(s: &str, face: Face, size: f32, max_w: f32, max_lines: usize) -> Vec<String> {
    let space = face.char_width(' ', size);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_w = 0.0;
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        if lines.len() > max_lines {
            break; // already overflowing: the rest will not be shown
        }
        let word_w = face.width(word, size);
        if !cur.is_empty() && cur_w + space + word_w <= max_w {
            cur.push(' ');
            cur.push_str(word);
            cur_w += space + word_w;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        cur_w = 0.0;
        for c in word.chars() {
            let w = face.char_width(c, size);
            if !cur.is_empty() && cur_w + w > max_w {
                lines.push(std::mem::take(&mut cur));
                cur_w = 0.0;
            }
            cur.push(c);
            cur_w += w;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    let max_lines = max_lines.max(1);
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            *last = cut(last, face, size, max_w);
        }
    }
    lines
}

/// Advance widths (1/1000 em) of WinAnsi bytes 0x20..=0xFF in Helvetica; 0 = unassigned.
const HELVETICA: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556,
    556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334,
    260, 334, 584, 0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 222, 222, 333,
    278, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370,
    556, 584, 333, 737, 333, 400, 549, 333, 333, 333, 576, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, 667, 667,
    667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778,
    722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 549, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Same for Helvetica-Bold.
const HELVETICA_BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556,
    556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611,
    556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389,
    280, 389, 584, 0, 556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 278, 278, 500,
    333, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370,
    556, 584, 333, 737, 333, 400, 549, 333, 333, 333, 576, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611, 722, 722,
    722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778,
    722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 549, 611, 611, 611, 611, 611, 556, 611, 556,
];
