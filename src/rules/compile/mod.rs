//! Type checking and lowering of a syntax tree to the IR.
//!
//! One pass does both: each node's operands are compiled first, their types checked against the
//! operator's typing rule (the table is in `docs/rules.md`), and the node appended to the
//! campaign's [`Program`]. Names are resolved against the [`Schema`] (attributes; events and
//! their properties inside windows) and the campaign's segment list; constants compared with an
//! attribute that has a closed vocabulary must belong to it.

use crate::prelude::*;

use core::fmt;

mod expr;

use crate::diag::{did_you_mean, is_ident, suggestion_suffix, Span};
use crate::limits::Limits;
use crate::rules::ast::{Expr, ExprKind, Literal, Name};
use crate::rules::ir::{ConstSet, Node, NodeId, Origin, Program};
use crate::rules::lex::is_reserved;
use crate::rules::parse::check_size;
use crate::rules::{RuleError, RuleErrorKind};
use crate::schema::{AttrId, AttrType, EventId, Schema};

/// The static type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A number.
    Number,
    /// A string.
    String,
    /// A condition.
    Bool,
    /// A set of strings.
    Set,
    /// An instant.
    Time,
}

impl From<AttrType> for Ty {
    fn from(t: AttrType) -> Ty {
        match t {
            AttrType::Number => Ty::Number,
            AttrType::String => Ty::String,
            AttrType::Bool => Ty::Bool,
            AttrType::Set => Ty::Set,
            AttrType::Time => Ty::Time,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::Number => "a number",
            Ty::String => "a string",
            Ty::Bool => "a condition (true/false)",
            Ty::Set => "a set",
            Ty::Time => "a time",
        })
    }
}

/// Data a rule reads, for purpose and sensitivity checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataRef {
    /// An attribute.
    Attr(AttrId),
    /// An event type (and so its properties).
    Event(EventId),
}

/// What compiling one rule produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledRule {
    /// The root node, a condition.
    pub root: NodeId,
    /// Every read of data, with the span where it is written.
    pub uses: Vec<(DataRef, Span)>,
    /// Every `segment("id")`, by index, with its span.
    pub segment_refs: Vec<(u16, Span)>,
}

/// Compiles `expr` (rule number `rule` of the program) into `prog`.
///
/// `segments` lists the campaign's segment ids; `segment("id")` resolves to an index into it.
/// On error, `prog` is left as it was.
///
/// # Errors
/// On an unknown name, a type error, a constant outside a closed vocabulary, a nested window, an
/// exceeded limit or a tree that no rule text could produce.
pub fn compile(
    expr: &Expr,
    rule: u16,
    schema: &Schema,
    segments: &[String],
    prog: &mut Program,
    limits: &Limits,
) -> Result<CompiledRule, RuleError> {
    check_size(expr, limits)?;
    let mark = prog.len();
    let mut c = Compiler {
        schema,
        segments,
        prog,
        rule,
        event: None,
        uses: Vec::new(),
        segment_refs: Vec::new(),
    };
    match c.condition(expr) {
        Ok(root) => Ok(CompiledRule { root, uses: c.uses, segment_refs: c.segment_refs }),
        Err(e) => {
            prog.nodes.truncate(mark);
            prog.origins.truncate(mark);
            prog.event_ctx.truncate(mark);
            Err(e)
        }
    }
}

struct Typed {
    id: NodeId,
    ty: Ty,
    /// The attribute whose closed vocabulary constrains constants compared with this value.
    vocab: Option<AttrId>,
    /// The string constant, when the node is one.
    constant: Option<String>,
}

struct Compiler<'a> {
    schema: &'a Schema,
    segments: &'a [String],
    prog: &'a mut Program,
    rule: u16,
    /// The event type whose `where` is being compiled.
    event: Option<EventId>,
    uses: Vec<(DataRef, Span)>,
    segment_refs: Vec<(u16, Span)>,
}

fn mismatch(span: Span, msg: String) -> RuleError {
    RuleError::new(RuleErrorKind::TypeMismatch(msg), span)
}

fn bad_tree(span: Span, msg: &str) -> RuleError {
    RuleError::new(RuleErrorKind::BadTree(msg.to_owned()), span)
}

fn check_name(name: &str, span: Span) -> Result<(), RuleError> {
    if is_ident(name) && !is_reserved(name) {
        Ok(())
    } else {
        Err(bad_tree(span, &format!("'{name}' is not a valid name")))
    }
}

impl Compiler<'_> {
    fn push(&mut self, node: Node, span: Span) -> NodeId {
        self.prog.push(node, Origin { rule: self.rule, span }, self.event)
    }

    fn typed(&mut self, node: Node, span: Span, ty: Ty) -> Typed {
        Typed { id: self.push(node, span), ty, vocab: None, constant: None }
    }

    fn condition(&mut self, e: &Expr) -> Result<NodeId, RuleError> {
        let t = self.expr(e)?;
        if t.ty != Ty::Bool {
            let hint = match t.ty {
                Ty::Number => "; compare it, as in x > 0",
                Ty::String => "; compare it, as in x == \"value\"",
                Ty::Set => "; test it, as in x has \"value\"",
                Ty::Time => "; test it, as in x within 30d",
                Ty::Bool => "",
            };
            return Err(mismatch(e.span, format!("expected a condition, found {}{hint}", t.ty)));
        }
        Ok(t.id)
    }

    fn vocab(&self, attr: Option<AttrId>, word: &str, span: Span) -> Result<(), RuleError> {
        let Some(def) = attr.and_then(|a| self.schema.attribute_by_id(a)) else { return Ok(()) };
        if def.allows(word) {
            return Ok(());
        }
        let suggestion = suggestion_suffix(
            def.values.as_ref().and_then(|v| did_you_mean(word, v.iter().map(String::as_str))),
        );
        Err(RuleError::new(
            RuleErrorKind::NotInVocabulary {
                attribute: def.name.clone(),
                word: word.to_owned(),
                suggestion,
            },
            span,
        ))
    }

    fn event(&mut self, name: &Name, span: Span) -> Result<EventId, RuleError> {
        check_name(&name.text, span)?;
        if self.event.is_some() {
            return Err(RuleError::new(RuleErrorKind::NestedWindow, span));
        }
        let at = if name.span == Span::default() { span } else { name.span };
        let (id, _) = self.schema.event(&name.text).ok_or_else(|| {
            RuleError::new(
                RuleErrorKind::UnknownEvent {
                    name: name.text.clone(),
                    suggestion: self.schema.suggest_event(&name.text),
                },
                at,
            )
        })?;
        self.uses.push((DataRef::Event(id), at));
        Ok(id)
    }

    fn filter(
        &mut self,
        ev: EventId,
        filter: &Option<Box<Expr>>,
    ) -> Result<Option<NodeId>, RuleError> {
        let Some(f) = filter else { return Ok(None) };
        let outer = self.event.replace(ev);
        let r = self.condition(f);
        self.event = outer;
        r.map(Some)
    }

    fn path(&mut self, parts: &[String], span: Span) -> Result<Typed, RuleError> {
        for p in parts {
            check_name(p, span)?;
        }
        if let Some(ev) = self.event.and_then(|e| self.schema.event_by_id(e)) {
            let prop = match parts {
                [p] => ev.prop(p),
                [e, p] if *e == ev.name => ev.prop(p),
                _ => None,
            };
            if let Some((pid, def)) = prop {
                return Ok(self.typed(Node::Prop(pid), span, def.ty.into()));
            }
            if let [e, p] = parts {
                if *e == ev.name {
                    let suggestion = suggestion_suffix(did_you_mean(
                        p,
                        ev.props.iter().map(|p| p.name.as_str()),
                    ));
                    return Err(RuleError::new(
                        RuleErrorKind::UnknownProp {
                            event: e.clone(),
                            name: p.clone(),
                            suggestion,
                        },
                        span,
                    ));
                }
            }
        }
        if let [name] = parts {
            if let Some((id, def)) = self.schema.attribute(name) {
                self.uses.push((DataRef::Attr(id), span));
                let vocab = def.values.is_some().then_some(id);
                let ty = def.ty.into();
                return Ok(Typed {
                    id: self.push(Node::Attr(id), span),
                    ty,
                    vocab,
                    constant: None,
                });
            }
        }
        let full = parts.join(".");
        if let [e, _] = parts {
            if self.schema.event(e).is_some() {
                return Err(mismatch(
                    span,
                    format!("'{full}' is an event property; use it inside count/any/sum(... where ...) of '{e}', or as sum({full}, 30d)"),
                ));
            }
        }
        let mut suggestion = self.schema.suggest_attribute(&full);
        if suggestion.is_empty() {
            if let Some(ev) = self.event.and_then(|e| self.schema.event_by_id(e)) {
                suggestion = suggestion_suffix(did_you_mean(
                    &full,
                    ev.props.iter().map(|p| p.name.as_str()),
                ));
            }
        }
        Err(RuleError::new(RuleErrorKind::UnknownAttribute { name: full, suggestion }, span))
    }

    fn literal_ty(l: &Literal) -> Ty {
        match l {
            Literal::Number(_) => Ty::Number,
            Literal::String(_) => Ty::String,
            Literal::Bool(_) => Ty::Bool,
            Literal::Time(_) => Ty::Time,
        }
    }

    fn const_set(
        &self,
        value: &Typed,
        list: &[Literal],
        span: Span,
        what: &str,
    ) -> Result<ConstSet, RuleError> {
        if let Some(l) = list.iter().find(|l| Self::literal_ty(l) != value.ty) {
            return Err(mismatch(
                span,
                format!(
                    "'{what}' tests {} against a list holding {}",
                    value.ty,
                    Self::literal_ty(l)
                ),
            ));
        }
        for l in list {
            match l {
                Literal::String(s) => self.vocab(value.vocab, s, span)?,
                Literal::Number(n) if !n.is_finite() => {
                    return Err(bad_tree(span, "numbers must be finite"))
                }
                _ => {}
            }
        }
        Ok(match value.ty {
            Ty::Number => ConstSet::Number(
                list.iter()
                    .filter_map(|l| if let Literal::Number(n) = l { Some(*n) } else { None })
                    .collect(),
            ),
            Ty::Bool => ConstSet::Bool(
                list.iter()
                    .filter_map(|l| if let Literal::Bool(b) = l { Some(*b) } else { None })
                    .collect(),
            ),
            Ty::Time => {
                let mut v: Vec<_> = list
                    .iter()
                    .filter_map(|l| if let Literal::Time(t) = l { Some(t.0) } else { None })
                    .collect();
                v.sort_unstable();
                v.dedup();
                ConstSet::Time(v.into())
            }
            Ty::String | Ty::Set => ConstSet::String(sorted_words(list)),
        })
    }
}

fn sorted_words(list: &[Literal]) -> Box<[Box<str>]> {
    let mut v: Vec<Box<str>> = list
        .iter()
        .filter_map(|l| if let Literal::String(s) = l { Some(s.as_str().into()) } else { None })
        .collect();
    v.sort_unstable();
    v.dedup();
    v.into()
}
