//! Recursive-descent parser for the grammar of docs/rules.md.
//!
//! ```text
//! expr  := and ("or" and)*          and := unary ("and" unary)*
//! unary := "not" unary | pred       pred := value [operator ...]
//! ```
//!
//! Recursion is bounded by `rule_depth_max`, so no input can overflow the stack.

use crate::prelude::*;

use crate::diag::{did_you_mean, suggestion_suffix, Span};
use crate::limits::Limits;
use crate::rules::ast::{AggFn, CmpOp, Expr, ExprKind, Literal, Name, TextOp, Timestamp};
use crate::rules::lex::{is_reserved, lex, Tok};
use crate::rules::{RuleError, RuleErrorKind};
use crate::time::Duration;

const FUNCTIONS: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "any",
    "last",
    "first",
    "lower",
    "days_since",
    "segment",
];

/// Parses rule text into a syntax tree, enforcing the text, depth and node limits.
///
/// # Errors
/// On a lexical or syntax error or an exceeded limit, with the span of the offending text.
pub fn parse(src: &str, limits: &Limits) -> Result<Expr, RuleError> {
    if src.len() > limits.rule_bytes_max {
        return Err(RuleError::new(
            RuleErrorKind::TooLong { bytes: src.len(), max: limits.rule_bytes_max },
            Span::new(0, src.len()),
        ));
    }
    let toks = lex(src)?;
    let mut p = Parser { toks, pos: 0, depth: 0, limits };
    let e = p.expr()?;
    p.expect(&Tok::Eof, "'and', 'or' or the end of the rule")?;
    check_size(&e, limits)?;
    Ok(e)
}

/// Checks the node, depth and list limits of a tree (also used for trees read from JSON).
///
/// # Errors
/// When a limit is exceeded.
pub fn check_size(e: &Expr, limits: &Limits) -> Result<(), RuleError> {
    let (nodes, depth) = e.size();
    if nodes > limits.rule_nodes_max {
        return Err(RuleError::new(
            RuleErrorKind::TooManyNodes { nodes, max: limits.rule_nodes_max },
            e.span,
        ));
    }
    if depth > limits.rule_depth_max {
        return Err(RuleError::new(RuleErrorKind::TooDeep { max: limits.rule_depth_max }, e.span));
    }
    Ok(())
}

struct Parser<'l> {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    depth: usize,
    limits: &'l Limits,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |(t, _)| t)
    }

    fn peek_at(&self, k: usize) -> &Tok {
        self.toks.get(self.pos + k).map_or(&Tok::Eof, |(t, _)| t)
    }

    fn span(&self) -> Span {
        self.toks.get(self.pos).or(self.toks.last()).map_or(Span::default(), |(_, s)| *s)
    }

    fn prev_span(&self) -> Span {
        self.pos.checked_sub(1).and_then(|i| self.toks.get(i)).map_or(Span::default(), |(_, s)| *s)
    }

    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks.get(self.pos).cloned().unwrap_or((Tok::Eof, Span::default()));
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.is_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn unexpected(&self, expected: &'static str) -> RuleError {
        RuleError::new(
            RuleErrorKind::UnexpectedToken { found: self.peek().describe(), expected },
            self.span(),
        )
    }

    fn expect(&mut self, tok: &Tok, expected: &'static str) -> Result<Span, RuleError> {
        if self.peek() == tok {
            Ok(self.bump().1)
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn enter(&mut self) -> Result<(), RuleError> {
        self.depth += 1;
        if self.depth > self.limits.rule_depth_max {
            return Err(RuleError::new(
                RuleErrorKind::TooDeep { max: self.limits.rule_depth_max },
                self.span(),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, RuleError> {
        self.enter()?;
        let first = self.and()?;
        let mut items = vec![first];
        while self.eat_kw("or") {
            items.push(self.and()?);
        }
        self.depth -= 1;
        Ok(join(items, ExprKind::Or))
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let first = self.unary()?;
        let mut items = vec![first];
        while self.eat_kw("and") {
            items.push(self.unary()?);
        }
        Ok(join(items, ExprKind::And))
    }

    fn unary(&mut self) -> Result<Expr, RuleError> {
        if self.is_kw("not") {
            let start = self.bump().1;
            self.enter()?;
            let inner = self.unary()?;
            self.depth -= 1;
            let span = start.to(inner.span);
            return Ok(Expr { kind: ExprKind::Not(Box::new(inner)), span });
        }
        self.pred()
    }

    fn pred(&mut self) -> Result<Expr, RuleError> {
        let value = self.value()?;
        let op = match self.peek() {
            Tok::EqEq => Some(CmpOp::Eq),
            Tok::Ne => Some(CmpOp::Ne),
            Tok::Lt => Some(CmpOp::Lt),
            Tok::Le => Some(CmpOp::Le),
            Tok::Gt => Some(CmpOp::Gt),
            Tok::Ge => Some(CmpOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            let right = self.value()?;
            let span = value.span.to(right.span);
            return Ok(Expr {
                kind: ExprKind::Compare { op, left: Box::new(value), right: Box::new(right) },
                span,
            });
        }
        let Tok::Ident(word) = self.peek().clone() else { return Ok(value) };
        let value = Box::new(value);
        let kind = match word.as_str() {
            "in" => {
                self.bump();
                ExprKind::In { value, list: self.list()? }
            }
            "not" if matches!(self.peek_at(1), Tok::Ident(w) if w == "in") => {
                self.bump();
                self.bump();
                ExprKind::NotIn { value, list: self.list()? }
            }
            "has" => {
                self.bump();
                // `has any [...]` / `has all [...]`; `has any(...)` is the call any(...).
                let sub = |p: &Self, w: &str| {
                    matches!(p.peek(), Tok::Ident(s) if s == w) && *p.peek_at(1) != Tok::LParen
                };
                if sub(self, "any") {
                    self.bump();
                    ExprKind::HasAny { value, list: self.list()? }
                } else if sub(self, "all") {
                    self.bump();
                    ExprKind::HasAll { value, list: self.list()? }
                } else {
                    ExprKind::Has { value, item: Box::new(self.value()?) }
                }
            }
            "contains" | "starts_with" | "ends_with" => {
                let op = match word.as_str() {
                    "contains" => TextOp::Contains,
                    "starts_with" => TextOp::StartsWith,
                    _ => TextOp::EndsWith,
                };
                self.bump();
                match self.bump() {
                    (Tok::Str(pattern), _) => ExprKind::Text { op, value, pattern },
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected("a string in double quotes"));
                    }
                }
            }
            "exists" => {
                self.bump();
                ExprKind::Exists(value)
            }
            "within" => {
                self.bump();
                ExprKind::Within { value, duration: self.duration()? }
            }
            "before" | "after" => {
                let before = word == "before";
                self.bump();
                let time = match self.bump() {
                    (Tok::Time(t), _) => Timestamp(t),
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected("a time such as @2026-01-01"));
                    }
                };
                if before {
                    ExprKind::Before { value, time }
                } else {
                    ExprKind::After { value, time }
                }
            }
            _ => return Ok(*value),
        };
        let span = value_span(&kind).to(self.prev_span());
        Ok(Expr { kind, span })
    }

    fn duration(&mut self) -> Result<Duration, RuleError> {
        match self.bump() {
            (Tok::Duration(d), _) => Ok(d),
            _ => {
                self.pos -= 1;
                Err(self.unexpected("a duration such as 30d"))
            }
        }
    }

    fn list(&mut self) -> Result<Vec<Literal>, RuleError> {
        let open = self.expect(&Tok::LBracket, "'[' starting a list")?;
        let mut items = Vec::new();
        if *self.peek() != Tok::RBracket {
            loop {
                let (tok, span) = self.bump();
                let lit = match tok {
                    Tok::Number(n) => Literal::Number(n),
                    Tok::Str(s) => Literal::String(s),
                    Tok::Time(t) => Literal::Time(Timestamp(t)),
                    Tok::Ident(w) if w == "true" => Literal::Bool(true),
                    Tok::Ident(w) if w == "false" => Literal::Bool(false),
                    _ => {
                        self.pos -= 1;
                        return Err(
                            self.unexpected("a number, string, true, false or time in the list")
                        );
                    }
                };
                items.push(lit);
                if items.len() > self.limits.list_items_max {
                    return Err(RuleError::new(
                        RuleErrorKind::ListTooLong { max: self.limits.list_items_max },
                        open.to(span),
                    ));
                }
                if *self.peek() == Tok::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        self.expect(&Tok::RBracket, "',' or ']'")?;
        Ok(items)
    }

    fn value(&mut self) -> Result<Expr, RuleError> {
        let (tok, span) = self.bump();
        let kind = match tok {
            Tok::Number(n) => ExprKind::Number(n),
            Tok::Str(s) => ExprKind::String(s),
            Tok::Time(t) => ExprKind::Time(Timestamp(t)),
            Tok::Duration(d) => ExprKind::Duration(d),
            Tok::LBracket => {
                self.pos -= 1;
                let list = self.list()?;
                return Ok(Expr { kind: ExprKind::List(list), span: span.to(self.prev_span()) });
            }
            Tok::LParen => {
                let inner = self.expr()?;
                self.expect(&Tok::RParen, "')'")?;
                return Ok(inner);
            }
            Tok::Ident(w) if *self.peek() == Tok::LParen => return self.call(w, span),
            Tok::Ident(w) if w == "true" => ExprKind::Bool(true),
            Tok::Ident(w) if w == "false" => ExprKind::Bool(false),
            Tok::Ident(w) if is_reserved(&w) => {
                return Err(RuleError::new(RuleErrorKind::ReservedWord(w), span));
            }
            Tok::Ident(w) => {
                let mut parts = vec![w];
                let mut end = span;
                while *self.peek() == Tok::Dot {
                    self.bump();
                    match self.bump() {
                        (Tok::Ident(w), s) if !is_reserved(&w) => {
                            parts.push(w);
                            end = s;
                        }
                        _ => {
                            self.pos -= 1;
                            return Err(self.unexpected("a name after '.'"));
                        }
                    }
                }
                return Ok(Expr { kind: ExprKind::Path(parts), span: span.to(end) });
            }
            _ => {
                self.pos -= 1;
                return Err(
                    self.unexpected("a value: a name, number, string, time, list, call or '('")
                );
            }
        };
        Ok(Expr { kind, span })
    }

    fn name(&mut self, expected: &'static str) -> Result<Name, RuleError> {
        match self.bump() {
            (Tok::Ident(w), span) if !is_reserved(&w) => Ok(Name { text: w, span }),
            _ => {
                self.pos -= 1;
                Err(self.unexpected(expected))
            }
        }
    }

    fn filter(&mut self) -> Result<Option<Box<Expr>>, RuleError> {
        if self.eat_kw("where") {
            Ok(Some(Box::new(self.expr()?)))
        } else {
            Ok(None)
        }
    }

    fn call(&mut self, func: String, start: Span) -> Result<Expr, RuleError> {
        self.bump(); // (
        self.enter()?;
        let kind = match func.as_str() {
            "count" | "any" => {
                let event = self.name("an event name")?;
                let filter = self.filter()?;
                self.expect(&Tok::Comma, "',' and a window such as 30d")?;
                let window = self.duration()?;
                if func == "count" {
                    ExprKind::Count { event, filter, window }
                } else {
                    ExprKind::Any { event, filter, window }
                }
            }
            "sum" | "avg" | "min" | "max" => {
                let func = match func.as_str() {
                    "sum" => AggFn::Sum,
                    "avg" => AggFn::Avg,
                    "min" => AggFn::Min,
                    _ => AggFn::Max,
                };
                let event = self.name("an event name")?;
                self.expect(&Tok::Dot, "'.' and a property, as in purchase.amount")?;
                let prop = self.name("a property name")?;
                let filter = self.filter()?;
                self.expect(&Tok::Comma, "',' and a window such as 30d")?;
                let window = self.duration()?;
                ExprKind::Aggregate { func, event, prop, filter, window }
            }
            "last" | "first" => {
                let event = self.name("an event name")?;
                let filter = self.filter()?;
                if func == "last" {
                    ExprKind::Last { event, filter }
                } else {
                    ExprKind::First { event, filter }
                }
            }
            "lower" => ExprKind::Lower(Box::new(self.expr()?)),
            "days_since" => ExprKind::DaysSince(Box::new(self.expr()?)),
            "segment" => match self.bump() {
                (Tok::Str(s), span) => ExprKind::Segment(Name { text: s, span }),
                _ => {
                    self.pos -= 1;
                    return Err(self.unexpected("a segment id in double quotes"));
                }
            },
            _ => {
                let suggestion = suggestion_suffix(did_you_mean(&func, FUNCTIONS.iter().copied()));
                return Err(RuleError::new(
                    RuleErrorKind::UnknownFunction { name: func, suggestion },
                    start,
                ));
            }
        };
        let close = self.expect(&Tok::RParen, "')'")?;
        self.depth -= 1;
        Ok(Expr { kind, span: start.to(close) })
    }
}

fn join(mut items: Vec<Expr>, make: fn(Vec<Expr>) -> ExprKind) -> Expr {
    if items.len() == 1 {
        return items.remove(0);
    }
    let span = items[0].span.to(items[items.len() - 1].span);
    Expr { kind: make(items), span }
}

fn value_span(kind: &ExprKind) -> Span {
    match kind {
        ExprKind::In { value, .. }
        | ExprKind::NotIn { value, .. }
        | ExprKind::Has { value, .. }
        | ExprKind::HasAny { value, .. }
        | ExprKind::HasAll { value, .. }
        | ExprKind::Text { value, .. }
        | ExprKind::Exists(value)
        | ExprKind::Within { value, .. }
        | ExprKind::Before { value, .. }
        | ExprKind::After { value, .. } => value.span,
        _ => Span::default(),
    }
}
