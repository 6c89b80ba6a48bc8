//! Printing a syntax tree as canonical rule text.
//!
//! The printer adds exactly the parentheses the grammar needs, so for every tree `t` that the
//! JSON form accepts, `parse(t.to_string()) == t` (the round-trip property tested in
//! `tests/suite/roundtrip.rs`).

use crate::prelude::*;

use core::fmt::{self, Write};

use crate::rules::ast::{Expr, ExprKind, Literal};
use crate::time::format_time_literal;

/// Binding strength: a child printed where a stronger form is required gets parentheses.
fn prec(e: &Expr) -> u8 {
    match e.kind {
        ExprKind::Or(_) => 1,
        ExprKind::And(_) => 2,
        ExprKind::Not(_) => 3,
        ExprKind::Compare { .. }
        | ExprKind::In { .. }
        | ExprKind::NotIn { .. }
        | ExprKind::Has { .. }
        | ExprKind::HasAny { .. }
        | ExprKind::HasAll { .. }
        | ExprKind::Text { .. }
        | ExprKind::Exists(_)
        | ExprKind::Within { .. }
        | ExprKind::Before { .. }
        | ExprKind::After { .. } => 4,
        _ => 5,
    }
}

const VALUE: u8 = 5;

fn at(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if prec(e) < min {
        write!(f, "({e})")
    } else {
        write!(f, "{e}")
    }
}

/// Writes a string literal with the escapes the lexer reads.
pub fn write_string(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(n) => write!(f, "{n}"),
            Literal::String(s) => write_string(f, s),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Time(t) => f.write_str(&format_time_literal(t.0)),
        }
    }
}

fn list(f: &mut fmt::Formatter<'_>, items: &[Literal]) -> fmt::Result {
    f.write_char('[')?;
    for (i, l) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{l}")?;
    }
    f.write_char(']')
}

fn filter(f: &mut fmt::Formatter<'_>, filter: &Option<Box<Expr>>) -> fmt::Result {
    match filter {
        Some(e) => write!(f, " where {e}"),
        None => Ok(()),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Number(n) => write!(f, "{n}"),
            ExprKind::String(s) => write_string(f, s),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Time(t) => f.write_str(&format_time_literal(t.0)),
            ExprKind::Duration(d) => write!(f, "{d}"),
            ExprKind::List(items) => list(f, items),
            ExprKind::Path(parts) => f.write_str(&parts.join(".")),
            ExprKind::Count { event, filter: w, window } => {
                write!(f, "count({}", event.text)?;
                filter(f, w)?;
                write!(f, ", {window})")
            }
            ExprKind::Aggregate { func, event, prop, filter: w, window } => {
                write!(f, "{}({}.{}", func.name(), event.text, prop.text)?;
                filter(f, w)?;
                write!(f, ", {window})")
            }
            ExprKind::Any { event, filter: w, window } => {
                write!(f, "any({}", event.text)?;
                filter(f, w)?;
                write!(f, ", {window})")
            }
            ExprKind::Last { event, filter: w } | ExprKind::First { event, filter: w } => {
                let name =
                    if matches!(self.kind, ExprKind::Last { .. }) { "last" } else { "first" };
                write!(f, "{name}({}", event.text)?;
                filter(f, w)?;
                f.write_char(')')
            }
            ExprKind::Lower(e) => write!(f, "lower({e})"),
            ExprKind::DaysSince(e) => write!(f, "days_since({e})"),
            ExprKind::Segment(id) => {
                f.write_str("segment(")?;
                write_string(f, &id.text)?;
                f.write_char(')')
            }
            ExprKind::Compare { op, left, right } => {
                at(f, left, VALUE)?;
                write!(f, " {} ", op.symbol())?;
                at(f, right, VALUE)
            }
            ExprKind::In { value, list: l } | ExprKind::NotIn { value, list: l } => {
                at(f, value, VALUE)?;
                f.write_str(if matches!(self.kind, ExprKind::In { .. }) {
                    " in "
                } else {
                    " not in "
                })?;
                list(f, l)
            }
            ExprKind::Has { value, item } => {
                at(f, value, VALUE)?;
                f.write_str(" has ")?;
                at(f, item, VALUE)
            }
            ExprKind::HasAny { value, list: l } | ExprKind::HasAll { value, list: l } => {
                at(f, value, VALUE)?;
                f.write_str(if matches!(self.kind, ExprKind::HasAny { .. }) {
                    " has any "
                } else {
                    " has all "
                })?;
                list(f, l)
            }
            ExprKind::Text { op, value, pattern } => {
                at(f, value, VALUE)?;
                write!(f, " {} ", op.keyword())?;
                write_string(f, pattern)
            }
            ExprKind::Exists(value) => {
                at(f, value, VALUE)?;
                f.write_str(" exists")
            }
            ExprKind::Within { value, duration } => {
                at(f, value, VALUE)?;
                write!(f, " within {duration}")
            }
            ExprKind::Before { value, time } | ExprKind::After { value, time } => {
                at(f, value, VALUE)?;
                let kw =
                    if matches!(self.kind, ExprKind::Before { .. }) { "before" } else { "after" };
                write!(f, " {kw} {}", format_time_literal(time.0))
            }
            ExprKind::Not(e) => {
                f.write_str("not ")?;
                at(f, e, 3)
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let (sep, min) =
                    if matches!(self.kind, ExprKind::And(_)) { (" and ", 3) } else { (" or ", 2) };
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    at(f, e, min)?;
                }
                Ok(())
            }
        }
    }
}
