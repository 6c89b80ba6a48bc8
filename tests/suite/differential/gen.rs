//! Random well-typed rules over the test's data map.

use super::*;

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Ty {
    Num,
    Str,
    Bool,
    Set,
    Time,
}

pub(super) struct Gen {
    pub(super) rng: ChaCha8Rng,
    /// Inside a `where` of e1 or e2.
    event: Option<&'static str>,
}

pub(super) fn e(kind: ExprKind) -> Expr {
    Expr::new(kind)
}
pub(super) fn bx(x: Expr) -> Box<Expr> {
    Box::new(x)
}
pub(super) fn path(p: &str) -> Expr {
    e(ExprKind::Path(vec![p.to_owned()]))
}

impl Gen {
    pub(super) fn new(seed: u64) -> Gen {
        Gen { rng: ChaCha8Rng::seed_from_u64(seed), event: None }
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        *xs.choose(&mut self.rng).unwrap_or(&xs[0])
    }

    fn duration(&mut self) -> Duration {
        let unit = self.pick(&[
            DurationUnit::Minutes,
            DurationUnit::Hours,
            DurationUnit::Days,
            DurationUnit::Weeks,
        ]);
        let max = match unit {
            DurationUnit::Minutes => 90_000,
            DurationUnit::Hours => 1_500,
            DurationUnit::Days => 70,
            DurationUnit::Weeks => 10,
        };
        let n = self.rng.gen_range(1..=max);
        Duration::new(n, unit)
            .unwrap_or(Duration::new(1, DurationUnit::Days).unwrap_or_else(|_| unreachable!()))
    }

    fn time_const(&mut self) -> i64 {
        NOW + self.rng.gen_range(-40..3) * DAY + self.pick(&[0, 3_600, 43_200])
    }

    fn filter(&mut self, ev: &'static str, depth: u32) -> Option<Box<Expr>> {
        if self.event.is_some() || !self.rng.gen_bool(0.5) {
            return None;
        }
        self.event = Some(ev);
        let f = self.expr(Ty::Bool, depth);
        self.event = None;
        Some(bx(f))
    }

    fn event(&mut self) -> &'static str {
        self.pick(&["e1", "e2"])
    }

    pub(super) fn expr(&mut self, ty: Ty, depth: u32) -> Expr {
        let leaf = depth == 0 || self.rng.gen_bool(0.3);
        match ty {
            Ty::Num => {
                let choice = if leaf { self.rng.gen_range(0..3) } else { self.rng.gen_range(0..6) };
                match choice {
                    0 => e(ExprKind::Number(self.pick(NUMBERS))),
                    1 if self.event.is_some() => e(ExprKind::Path(vec!["v".into()])),
                    1 | 2 => path(self.pick(&["n1", "n2"])),
                    3 if self.event.is_none() => {
                        let ev = self.event();
                        let window = self.duration();
                        e(ExprKind::Count {
                            event: Name::new(ev),
                            filter: self.filter(ev, depth - 1),
                            window,
                        })
                    }
                    4 if self.event.is_none() => {
                        let ev = self.event();
                        let func = self.pick(&[AggFn::Sum, AggFn::Avg, AggFn::Min, AggFn::Max]);
                        let window = self.duration();
                        let filter = self.filter(ev, depth - 1);
                        e(ExprKind::Aggregate {
                            func,
                            event: Name::new(ev),
                            prop: Name::new("v"),
                            filter,
                            window,
                        })
                    }
                    _ => e(ExprKind::DaysSince(bx(self.expr(Ty::Time, depth - 1)))),
                }
            }
            Ty::Str => match if leaf { self.rng.gen_range(0..3) } else { self.rng.gen_range(0..4) }
            {
                0 => e(ExprKind::String(self.pick(STRINGS).to_owned())),
                1 if self.event == Some("e1") => path("k"),
                1 | 2 => path("s1"),
                _ => e(ExprKind::Lower(bx(self.expr(Ty::Str, depth - 1)))),
            },
            Ty::Time => {
                match if leaf { self.rng.gen_range(0..2) } else { self.rng.gen_range(0..3) } {
                    0 => e(ExprKind::Time(Timestamp(self.time_const()))),
                    1 if self.event == Some("e1") && self.rng.gen_bool(0.5) => path("w"),
                    1 => path(self.pick(&["t1", "t2"])),
                    _ if self.event.is_none() => {
                        let ev = self.event();
                        let filter = self.filter(ev, depth - 1);
                        if self.rng.gen_bool(0.5) {
                            e(ExprKind::Last { event: Name::new(ev), filter })
                        } else {
                            e(ExprKind::First { event: Name::new(ev), filter })
                        }
                    }
                    _ => path("t1"),
                }
            }
            Ty::Set => path(self.pick(&["set1", "set2"])),
            Ty::Bool => self.condition(depth, leaf),
        }
    }

    fn condition(&mut self, depth: u32, leaf: bool) -> Expr {
        if leaf {
            return match self.rng.gen_range(0..3) {
                0 => e(ExprKind::Bool(self.rng.gen_bool(0.5))),
                1 if self.event == Some("e1") => path("f"),
                _ => path("b1"),
            };
        }
        let d = depth - 1;
        match self.rng.gen_range(0..17) {
            0 => {
                let ty = self.pick(&[Ty::Num, Ty::Num, Ty::Time, Ty::Str, Ty::Bool]);
                let ops: &[CmpOp] = if matches!(ty, Ty::Num | Ty::Time) {
                    &[CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge]
                } else {
                    &[CmpOp::Eq, CmpOp::Ne]
                };
                let op = self.pick(ops);
                let (l, r) = (self.expr(ty, d), self.expr(ty, d));
                e(ExprKind::Compare { op, left: bx(l), right: bx(r) })
            }
            1 => {
                let v = if self.rng.gen_bool(0.5) { path("s2") } else { self.expr(Ty::Str, d) };
                let words: &[&str] = if v == path("s2") { VOCAB_S2 } else { STRINGS };
                let list = (0..self.rng.gen_range(0..4))
                    .map(|_| Literal::String(self.pick(words).to_owned()))
                    .collect();
                if self.rng.gen_bool(0.5) {
                    e(ExprKind::In { value: bx(v), list })
                } else {
                    e(ExprKind::NotIn { value: bx(v), list })
                }
            }
            2 => {
                let v = self.expr(Ty::Num, d);
                let list = (0..self.rng.gen_range(0..4))
                    .map(|_| Literal::Number(self.pick(NUMBERS)))
                    .collect();
                e(ExprKind::In { value: bx(v), list })
            }
            3 => {
                let set = self.pick(&["set1", "set2"]);
                let words = if set == "set1" { VOCAB_SET1 } else { FREE_WORDS };
                let item = if set == "set2" && self.rng.gen_bool(0.3) {
                    e(ExprKind::Lower(bx(e(ExprKind::String(self.pick(FREE_WORDS).to_owned())))))
                } else {
                    e(ExprKind::String(self.pick(words).to_owned()))
                };
                e(ExprKind::Has { value: bx(path(set)), item: bx(item) })
            }
            4 => {
                let set = self.pick(&["set1", "set2"]);
                let words = if set == "set1" { VOCAB_SET1 } else { FREE_WORDS };
                let list = (0..self.rng.gen_range(0..4))
                    .map(|_| Literal::String(self.pick(words).to_owned()))
                    .collect();
                if self.rng.gen_bool(0.5) {
                    e(ExprKind::HasAny { value: bx(path(set)), list })
                } else {
                    e(ExprKind::HasAll { value: bx(path(set)), list })
                }
            }
            5 => {
                let op = self.pick(&[TextOp::Contains, TextOp::StartsWith, TextOp::EndsWith]);
                let pattern =
                    self.pick(&["", "a", "b", "ab", "x", "i̇", "ς", "σ", "äb", "Ä"]).to_owned();
                e(ExprKind::Text { op, value: bx(self.expr(Ty::Str, d)), pattern })
            }
            6 => {
                let ty = self.pick(&[Ty::Num, Ty::Str, Ty::Time, Ty::Set]);
                e(ExprKind::Exists(bx(self.expr(ty, d))))
            }
            7 => {
                e(ExprKind::Within { value: bx(self.expr(Ty::Time, d)), duration: self.duration() })
            }
            8 => e(ExprKind::Before {
                value: bx(self.expr(Ty::Time, d)),
                time: Timestamp(self.time_const()),
            }),
            9 => e(ExprKind::After {
                value: bx(self.expr(Ty::Time, d)),
                time: Timestamp(self.time_const()),
            }),
            10 => e(ExprKind::Not(bx(self.expr(Ty::Bool, d)))),
            11 | 12 => {
                let n = self.rng.gen_range(2..4);
                let xs = (0..n).map(|_| self.expr(Ty::Bool, d)).collect();
                if self.rng.gen_bool(0.5) {
                    e(ExprKind::And(xs))
                } else {
                    e(ExprKind::Or(xs))
                }
            }
            13 if self.event.is_none() => {
                let ev = self.event();
                let window = self.duration();
                e(ExprKind::Any { event: Name::new(ev), filter: self.filter(ev, d), window })
            }
            14 => {
                let v = self.expr(Ty::Time, d);
                let list = (0..self.rng.gen_range(0..3))
                    .map(|_| Literal::Time(Timestamp(self.time_const())))
                    .collect();
                e(ExprKind::In { value: bx(v), list })
            }
            _ => self.condition(0, true),
        }
    }
}
