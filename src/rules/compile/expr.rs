//! Compiling one expression: the typing rule of every operator and function (the table in
//! `docs/rules.md`), operands first, then the node appended to the program.

use crate::prelude::*;

use super::*;

impl Compiler<'_> {
    pub(super) fn expr(&mut self, e: &Expr) -> Result<Typed, RuleError> {
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Number(n) => {
                if !n.is_finite() {
                    return Err(bad_tree(span, "numbers must be finite"));
                }
                self.typed(Node::Number(*n), span, Ty::Number)
            }
            ExprKind::String(s) => {
                let mut t = self.typed(Node::String(s.as_str().into()), span, Ty::String);
                t.constant = Some(s.clone());
                t
            }
            ExprKind::Bool(b) => self.typed(Node::Bool(*b), span, Ty::Bool),
            ExprKind::Time(t) => self.typed(Node::Time(t.0), span, Ty::Time),
            ExprKind::Duration(d) => {
                return Err(mismatch(span, format!("a duration ({d}) can only follow 'within' or end a window, as in count(purchase, {d})")))
            }
            ExprKind::List(_) => {
                return Err(mismatch(span, "a list can only follow 'in', 'not in', 'has any' or 'has all'".into()))
            }
            ExprKind::Path(parts) => self.path(parts, span)?,
            ExprKind::Count { event, filter, window } | ExprKind::Any { event, filter, window } => {
                let ev = self.event(event, span)?;
                let filter = self.filter(ev, filter)?;
                let any = matches!(e.kind, ExprKind::Any { .. });
                let ty = if any { Ty::Bool } else { Ty::Number };
                self.typed(Node::Count { ev, filter, secs: window.secs(), any }, span, ty)
            }
            ExprKind::Aggregate { func, event, prop, filter, window } => {
                let ev = self.event(event, span)?;
                check_name(&prop.text, span)?;
                let def = self.schema.event_by_id(ev);
                let at = if prop.span == Span::default() { span } else { prop.span };
                let (pid, pdef) = def.and_then(|d| d.prop(&prop.text)).ok_or_else(|| {
                    let suggestion = suggestion_suffix(
                        def.and_then(|d| did_you_mean(&prop.text, d.props.iter().map(|p| p.name.as_str()))),
                    );
                    RuleError::new(
                        RuleErrorKind::UnknownProp { event: event.text.clone(), name: prop.text.clone(), suggestion },
                        at,
                    )
                })?;
                if pdef.ty != AttrType::Number {
                    return Err(mismatch(
                        at,
                        format!("{}() needs a number property, but '{}.{}' is a {}", func.name(), event.text, prop.text, pdef.ty),
                    ));
                }
                let filter = self.filter(ev, filter)?;
                self.typed(Node::Aggregate { func: *func, ev, prop: pid, filter, secs: window.secs() }, span, Ty::Number)
            }
            ExprKind::Last { event, filter } | ExprKind::First { event, filter } => {
                let ev = self.event(event, span)?;
                let filter = self.filter(ev, filter)?;
                let last = matches!(e.kind, ExprKind::Last { .. });
                self.typed(Node::Occurrence { ev, filter, last }, span, Ty::Time)
            }
            ExprKind::Lower(inner) => {
                let t = self.expr(inner)?;
                if t.ty != Ty::String {
                    return Err(mismatch(span, format!("lower() takes a string, found {}", t.ty)));
                }
                self.typed(Node::Lower(t.id), span, Ty::String)
            }
            ExprKind::DaysSince(inner) => {
                let t = self.expr(inner)?;
                if t.ty != Ty::Time {
                    return Err(mismatch(span, format!("days_since() takes a time, found {}", t.ty)));
                }
                self.typed(Node::DaysSince(t.id), span, Ty::Number)
            }
            ExprKind::Segment(name) => {
                let at = if name.span == Span::default() { span } else { name.span };
                let idx = self.segments.iter().position(|s| *s == name.text).and_then(|i| u16::try_from(i).ok());
                let Some(idx) = idx else {
                    let suggestion = suggestion_suffix(did_you_mean(&name.text, self.segments.iter().map(String::as_str)));
                    return Err(RuleError::new(RuleErrorKind::UnknownSegment { name: name.text.clone(), suggestion }, at));
                };
                self.segment_refs.push((idx, at));
                self.typed(Node::Segment(idx), span, Ty::Bool)
            }
            ExprKind::Compare { op, left, right } => {
                let l = self.expr(left)?;
                let r = self.expr(right)?;
                if l.ty != r.ty {
                    return Err(mismatch(
                        span,
                        format!("'{}' compares values of one type, but the left side is {} and the right side is {}", op.symbol(), l.ty, r.ty),
                    ));
                }
                match l.ty {
                    Ty::Set => {
                        return Err(mismatch(span, format!("'{}' cannot compare sets; use 'has', 'has any' or 'has all'", op.symbol())))
                    }
                    Ty::String | Ty::Bool if op.is_ordering() => {
                        return Err(mismatch(
                            span,
                            format!("'{}' orders numbers and times only, found {}; use ==, != or 'in'", op.symbol(), l.ty),
                        ))
                    }
                    _ => {}
                }
                if let Some(c) = &r.constant {
                    self.vocab(l.vocab, c, right.span)?;
                }
                if let Some(c) = &l.constant {
                    self.vocab(r.vocab, c, left.span)?;
                }
                self.typed(Node::Compare { op: *op, l: l.id, r: r.id }, span, Ty::Bool)
            }
            ExprKind::In { value, list } | ExprKind::NotIn { value, list } => {
                let negated = matches!(e.kind, ExprKind::NotIn { .. });
                let what = if negated { "not in" } else { "in" };
                let v = self.expr(value)?;
                if v.ty == Ty::Set {
                    return Err(mismatch(span, format!("'{what}' tests one value; for a set use 'has any' or 'has all'")));
                }
                let set = self.const_set(&v, list, span, what)?;
                self.typed(Node::In { v: v.id, set, negated }, span, Ty::Bool)
            }
            ExprKind::Has { value, item } => {
                let s = self.expr(value)?;
                if s.ty != Ty::Set {
                    let hint = if s.ty == Ty::String { "; for a string use == or contains" } else { "" };
                    return Err(mismatch(span, format!("'has' tests a set, found {}{hint}", s.ty)));
                }
                let i = self.expr(item)?;
                if i.ty != Ty::String {
                    return Err(mismatch(span, format!("'has' looks for a string in a set, found {}", i.ty)));
                }
                if let Some(c) = &i.constant {
                    self.vocab(s.vocab, c, item.span)?;
                }
                self.typed(Node::Has { set: s.id, item: i.id }, span, Ty::Bool)
            }
            ExprKind::HasAny { value, list } | ExprKind::HasAll { value, list } => {
                let all = matches!(e.kind, ExprKind::HasAll { .. });
                let s = self.expr(value)?;
                let what = if all { "has all" } else { "has any" };
                if s.ty != Ty::Set {
                    return Err(mismatch(span, format!("'{what}' tests a set, found {}", s.ty)));
                }
                let as_string = Typed { id: s.id, ty: Ty::String, vocab: s.vocab, constant: None };
                let words = match self.const_set(&as_string, list, span, what)? {
                    ConstSet::String(w) => w,
                    _ => Box::default(),
                };
                self.typed(Node::HasList { set: s.id, words, all }, span, Ty::Bool)
            }
            ExprKind::Text { op, value, pattern } => {
                let v = self.expr(value)?;
                if v.ty != Ty::String {
                    return Err(mismatch(span, format!("'{}' tests a string, found {}", op.keyword(), v.ty)));
                }
                self.typed(Node::Text { op: *op, v: v.id, pattern: pattern.as_str().into() }, span, Ty::Bool)
            }
            ExprKind::Exists(value) => {
                let v = self.expr(value)?;
                self.typed(Node::Exists(v.id), span, Ty::Bool)
            }
            ExprKind::Within { value, duration } => {
                let v = self.time(value, "within")?;
                self.typed(Node::Within { v, secs: duration.secs() }, span, Ty::Bool)
            }
            ExprKind::Before { value, time } | ExprKind::After { value, time } => {
                let after = matches!(e.kind, ExprKind::After { .. });
                let v = self.time(value, if after { "after" } else { "before" })?;
                self.typed(Node::TimeCmp { v, t: time.0, after }, span, Ty::Bool)
            }
            ExprKind::Not(inner) => {
                let i = self.condition(inner)?;
                self.typed(Node::Not(i), span, Ty::Bool)
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let and = matches!(e.kind, ExprKind::And(_));
                if items.len() < 2 {
                    return Err(bad_tree(span, if and { "'and' needs at least two operands" } else { "'or' needs at least two operands" }));
                }
                let ids = items.iter().map(|i| self.condition(i)).collect::<Result<Box<[_]>, _>>()?;
                self.typed(if and { Node::And(ids) } else { Node::Or(ids) }, span, Ty::Bool)
            }
        })
    }

    fn time(&mut self, value: &Expr, what: &str) -> Result<NodeId, RuleError> {
        let v = self.expr(value)?;
        if v.ty != Ty::Time {
            let hint = if v.ty == Ty::Number {
                "; for a number of days use days_since(...) or compare numbers"
            } else {
                ""
            };
            return Err(mismatch(
                value.span,
                format!("'{what}' tests a time, found {}{hint}", v.ty),
            ));
        }
        Ok(v.id)
    }
}
