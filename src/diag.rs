//! Shared pieces of user-facing error reporting: positions, caret snippets and "did you mean".

use crate::prelude::*;

use core::fmt;

/// A byte range in a rule's text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: clamp_u32(start), end: clamp_u32(end.max(start)) }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// The span's text in `source`, or `""` when it does not fit.
    pub fn text(self, source: &str) -> &str {
        source.get(self.start as usize..self.end as usize).unwrap_or("")
    }
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineCol {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
}

impl fmt::Display for LineCol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The line and column of byte `offset` in `source`.
pub fn line_col(source: &str, offset: u32) -> LineCol {
    let offset = (offset as usize).min(source.len());
    let mut line = 1u32;
    let mut column = 1u32;
    for (i, c) in source.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    LineCol { line, column }
}

/// The source line holding `span` with a caret line under it:
///
/// ```text
/// budjet > 100
/// ^^^^^^
/// ```
pub fn caret_snippet(source: &str, span: Span) -> String {
    let start = (span.start as usize).min(source.len());
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..].find('\n').map_or(source.len(), |i| start + i);
    let line = &source[line_start..line_end];
    let pad = source[line_start..start].chars().count();
    let end = (span.end as usize).clamp(start, line_end);
    let width = source[start..end].chars().count().max(1);
    format!("{line}\n{}{}", " ".repeat(pad), "^".repeat(width))
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (char_count(word) / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        if d <= limit && best.is_none_or(|b| (d, c) < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Characters, counted without `chars().count()`'s large fast path (this runs in the browser's
/// runtime module).
fn char_count(s: &str) -> usize {
    s.bytes().filter(|b| b & 0xC0 != 0x80).count()
}

/// Levenshtein distance in characters (inputs are short identifiers).
fn edit_distance(a: &str, b: &str) -> usize {
    // One row of the table over b's characters, updated in place.
    let mut row: Vec<usize> = (0..=char_count(b)).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = i;
        row[0] = i + 1;
        for (j, cb) in b.chars().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb)).min(above + 1).min(row[j] + 1);
            diagonal = above;
        }
    }
    row[row.len() - 1]
}

/// ", did you mean 'x'?" or "".
pub(crate) fn suggestion_suffix(s: Option<&str>) -> String {
    s.map(|s| crate::text::cat(&["; did you mean '", s, "'?"])).unwrap_or_default()
}

/// True when `s` is an identifier of the rule language: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let src = "a and\n  é > 1";
        assert_eq!(line_col(src, 0), LineCol { line: 1, column: 1 });
        assert_eq!(line_col(src, 8), LineCol { line: 2, column: 3 });
        assert_eq!(line_col(src, 10), LineCol { line: 2, column: 4 });
        assert_eq!(caret_snippet(src, Span::new(8, 10)), "  é > 1\n  ^");
    }

    #[test]
    fn suggestions_pick_close_names_only() {
        let names = ["budget", "interests", "country"];
        assert_eq!(did_you_mean("budjet", names), Some("budget"));
        assert_eq!(did_you_mean("intrests", names), Some("interests"));
        assert_eq!(did_you_mean("zzz", names), None);
    }

    /// The textbook two-row Levenshtein distance over characters, and the suggestion rule
    /// written with iterator adapters: what the single-row versions above must equal.
    fn reference_distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        let mut cur = vec![0; b.len() + 1];
        for (i, ca) in a.chars().enumerate() {
            cur[0] = i + 1;
            for (j, &cb) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            core::mem::swap(&mut prev, &mut cur);
        }
        prev[b.len()]
    }

    proptest::proptest! {
        #[test]
        fn distance_and_suggestion_match_the_reference(
            a in "[a-dé_]{0,8}",
            names in proptest::collection::vec("[a-dé_]{0,8}", 0..6),
        ) {
            for b in &names {
                proptest::prop_assert_eq!(edit_distance(&a, b), reference_distance(&a, b));
            }
            let limit = (a.chars().count() / 3).clamp(1, 3);
            let want = names
                .iter()
                .map(|c| (reference_distance(&a, c), c.as_str()))
                .filter(|&(d, _)| d <= limit)
                .min_by_key(|&(d, c)| (d, c))
                .map(|(_, c)| c);
            proptest::prop_assert_eq!(did_you_mean(&a, names.iter().map(String::as_str)), want);
        }
    }
}
