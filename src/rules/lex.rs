//! Lexer: rule text to tokens with byte spans (docs/limits.md).
//!
//! Keywords are lexed as identifiers and recognised by the parser; [`is_reserved`] lists the
//! words that can never name an attribute, event or property.

use crate::prelude::*;

use crate::diag::Span;
use crate::rules::{RuleError, RuleErrorKind};
use crate::time::{parse_timestamp, Duration, DurationUnit};

/// Words with a fixed meaning in the rule language. Function names (`count`, `lower`, ...) are
/// not reserved: they are calls only when followed by `(`.
pub const RESERVED: &[&str] = &[
    "after",
    "all",
    "and",
    "any",
    "before",
    "contains",
    "ends_with",
    "exists",
    "false",
    "has",
    "in",
    "not",
    "or",
    "starts_with",
    "true",
    "where",
    "within",
];

/// True when `word` is reserved by the rule language.
pub fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word)
}

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword.
    Ident(String),
    /// A number literal (`-12.5`).
    Number(f64),
    /// A string literal, unescaped.
    Str(String),
    /// A duration literal (`90d`).
    Duration(Duration),
    /// A time literal (`@2026-01-01`), Unix seconds.
    Time(i64),
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// End of input.
    Eof,
}

impl Tok {
    /// How the token is described in error messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Number(n) => format!("number {n}"),
            Tok::Str(_) => "a string".into(),
            Tok::Duration(d) => format!("duration {d}"),
            Tok::Time(_) => "a time".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Comma => "','".into(),
            Tok::Dot => "'.'".into(),
            Tok::EqEq => "'=='".into(),
            Tok::Ne => "'!='".into(),
            Tok::Lt => "'<'".into(),
            Tok::Le => "'<='".into(),
            Tok::Gt => "'>'".into(),
            Tok::Ge => "'>='".into(),
            Tok::Eof => "the end of the rule".into(),
        }
    }
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
///
/// # Errors
/// On a character that starts no token, an unterminated string, a bad escape, or a malformed
/// number, duration or time.
pub fn lex(src: &str) -> Result<Vec<(Tok, Span)>, RuleError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let err = |kind, end: usize| Err(RuleError::new(kind, Span::new(start, end)));
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'.' => Tok::Dot,
            b'=' if b.get(i + 1) == Some(&b'=') => Tok::EqEq,
            b'!' if b.get(i + 1) == Some(&b'=') => Tok::Ne,
            b'<' if b.get(i + 1) == Some(&b'=') => Tok::Le,
            b'>' if b.get(i + 1) == Some(&b'=') => Tok::Ge,
            b'<' => Tok::Lt,
            b'>' => Tok::Gt,
            b'=' => {
                return err(
                    RuleErrorKind::UnexpectedChar { found: '=', hint: "; use '==' to compare" },
                    i + 1,
                )
            }
            b'"' => {
                let (s, end) = lex_string(src, i)?;
                out.push((Tok::Str(s), Span::new(start, end)));
                i = end;
                continue;
            }
            b'@' => {
                let mut end = i + 1;
                while end < b.len()
                    && (b[end].is_ascii_alphanumeric()
                        || matches!(b[end], b'-' | b':' | b'+' | b'.'))
                {
                    end += 1;
                }
                let t = parse_timestamp(&src[i + 1..end]).map_err(|e| {
                    RuleError::new(RuleErrorKind::BadTime(e), Span::new(start, end))
                })?;
                out.push((Tok::Time(t), Span::new(start, end)));
                i = end;
                continue;
            }
            b'-' | b'0'..=b'9' => {
                let (tok, end) = lex_number(src, i)?;
                out.push((tok, Span::new(start, end)));
                i = end;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut end = i + 1;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
                    end += 1;
                }
                out.push((Tok::Ident(src[i..end].to_owned()), Span::new(start, end)));
                i = end;
                continue;
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                let hint = match ch {
                    '&' => "; use 'and'",
                    '|' => "; use 'or'",
                    '!' => "; use 'not'",
                    '\'' => "; strings use double quotes",
                    _ => "",
                };
                return err(RuleErrorKind::UnexpectedChar { found: ch, hint }, i + ch.len_utf8());
            }
        };
        i += match tok {
            Tok::EqEq | Tok::Ne | Tok::Le | Tok::Ge => 2,
            _ => 1,
        };
        out.push((tok, Span::new(start, i)));
    }
    out.push((Tok::Eof, Span::new(b.len(), b.len())));
    Ok(out)
}

/// Lexes `-?digits(.digits)?` optionally followed by a duration unit.
fn lex_number(src: &str, start: usize) -> Result<(Tok, usize), RuleError> {
    let b = src.as_bytes();
    let mut i = start;
    if b[i] == b'-' {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let bad = |end: usize| {
        RuleError::new(RuleErrorKind::BadNumber(src[start..end].to_owned()), Span::new(start, end))
    };
    if i == int_start {
        return Err(bad(i.max(start + 1)));
    }
    let mut is_int = true;
    if i < b.len() && b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        is_int = false;
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    // A unit letter right after a whole number makes a duration; other letters make no number.
    if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
        let mut end = i;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        let text = &src[start..end];
        let bad_duration =
            || RuleError::new(RuleErrorKind::BadDuration(text.to_owned()), Span::new(start, end));
        let Some(unit) =
            (end == i + 1).then(|| DurationUnit::from_letter(char::from(b[i]))).flatten()
        else {
            return Err(RuleError::new(
                RuleErrorKind::BadNumber(text.to_owned()),
                Span::new(start, end),
            ));
        };
        if !is_int || b[start] == b'-' {
            return Err(bad_duration());
        }
        let amount: u32 = src[start..i].parse().map_err(|_| bad_duration())?;
        let d = Duration::new(amount, unit).map_err(|_| bad_duration())?;
        return Ok((Tok::Duration(d), end));
    }
    let n: f64 = src[start..i].parse().map_err(|_| bad(i))?;
    if !n.is_finite() {
        return Err(bad(i));
    }
    Ok((Tok::Number(n), i))
}

/// Lexes a double-quoted string with escapes `\" \\ \n \t \r \u{HEX}`.
fn lex_string(src: &str, start: usize) -> Result<(String, usize), RuleError> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        let pos = start + 1 + off;
        match c {
            '"' => return Ok((out, pos + 1)),
            '\\' => {
                let bad =
                    |end: usize| RuleError::new(RuleErrorKind::BadEscape, Span::new(pos, end));
                match chars.next() {
                    Some((_, '"')) => out.push('"'),
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, 'r')) => out.push('\r'),
                    Some((_, 'u')) => {
                        let rest = &src[pos + 2..];
                        let close = rest
                            .find('}')
                            .filter(|_| rest.starts_with('{'))
                            .ok_or_else(|| bad(pos + 2))?;
                        let ch = u32::from_str_radix(&rest[1..close], 16)
                            .ok()
                            .filter(|_| (1..=6).contains(&(close - 1)))
                            .and_then(char::from_u32)
                            .ok_or_else(|| bad(pos + 3 + close))?;
                        out.push(ch);
                        for _ in 0..=close {
                            chars.next();
                        }
                    }
                    Some((o, c)) => return Err(bad(start + 1 + o + c.len_utf8())),
                    None => return Err(bad(pos + 1)),
                }
            }
            c => out.push(c),
        }
    }
    Err(RuleError::new(RuleErrorKind::UnterminatedString, Span::new(start, src.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        lex(src).map(|v| v.into_iter().map(|(t, _)| t).collect()).unwrap_or_default()
    }

    #[test]
    fn lexes_every_token_kind() {
        let got = toks(r#"a.b == "x\"\u{e9}" != -1.5 < <= > >= ( ) [ ] , 90d @1970-01-02"#);
        let d = Duration::new(90, DurationUnit::Days).ok();
        assert_eq!(
            got,
            vec![
                Tok::Ident("a".into()),
                Tok::Dot,
                Tok::Ident("b".into()),
                Tok::EqEq,
                Tok::Str("x\"é".into()),
                Tok::Ne,
                Tok::Number(-1.5),
                Tok::Lt,
                Tok::Le,
                Tok::Gt,
                Tok::Ge,
                Tok::LParen,
                Tok::RParen,
                Tok::LBracket,
                Tok::RBracket,
                Tok::Comma,
                d.map_or(Tok::Eof, Tok::Duration),
                Tok::Time(86_400),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn errors_point_at_the_bad_text() {
        let err = |src: &str| lex(src).err().map(|e| (e.kind.code(), e.span.start, e.span.end));
        assert_eq!(err("a = 1"), Some(("unexpected-char", 2, 3)));
        assert_eq!(err("a == \"abc"), Some(("unterminated-string", 5, 9)));
        assert_eq!(err(r#""\q""#), Some(("bad-escape", 1, 3)));
        assert_eq!(err("10x"), Some(("bad-number", 0, 3)));
        assert_eq!(err("0d"), Some(("bad-duration", 0, 2)));
        assert_eq!(err("1.5d"), Some(("bad-duration", 0, 4)));
        assert_eq!(err("@2026-13-01"), Some(("bad-time", 0, 11)));
        assert_eq!(err("- 1"), Some(("bad-number", 0, 1)));
        assert_eq!(err("a && b"), Some(("unexpected-char", 2, 3)));
    }
}
