//! The compiled form of rules: a flat arena of nodes addressed by [`NodeId`].
//!
//! Names are resolved to integer ids, constants are parsed and list constants sorted for binary
//! search. One [`Program`] holds every rule of a campaign; each node remembers which rule and
//! which span of its text it came from, so explanations can quote the source.

use crate::prelude::*;

use crate::diag::Span;
use crate::rules::ast::{AggFn, CmpOp, TextOp};
use crate::schema::{AttrId, EventId, PropId};
use crate::time::UnixSecs;

/// Index of a node in [`Program::nodes`].
pub type NodeId = u32;

/// Sorted constants of an `in` list, one variant per element type.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstSet {
    /// Numbers (in written order; lists are short).
    Number(Box<[f64]>),
    /// Strings, sorted and deduplicated.
    String(Box<[Box<str>]>),
    /// Booleans.
    Bool(Box<[bool]>),
    /// Instants, sorted and deduplicated.
    Time(Box<[UnixSecs]>),
}

/// One IR node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A number constant.
    Number(f64),
    /// A string constant.
    String(Box<str>),
    /// A boolean constant.
    Bool(bool),
    /// An instant constant.
    Time(UnixSecs),
    /// An attribute's value.
    Attr(AttrId),
    /// A property of the event being filtered.
    Prop(PropId),
    /// `l op r`.
    Compare {
        /// Operator.
        op: CmpOp,
        /// Left operand.
        l: NodeId,
        /// Right operand.
        r: NodeId,
    },
    /// `v [not] in [...]`.
    In {
        /// Tested value.
        v: NodeId,
        /// Constants.
        set: ConstSet,
        /// `not in`.
        negated: bool,
    },
    /// `set has item`.
    Has {
        /// A set value.
        set: NodeId,
        /// A string value.
        item: NodeId,
    },
    /// `set has any|all [...]` with sorted, deduplicated words.
    HasList {
        /// A set value.
        set: NodeId,
        /// The words.
        words: Box<[Box<str>]>,
        /// `all` rather than `any`.
        all: bool,
    },
    /// `v contains|starts_with|ends_with "pattern"`.
    Text {
        /// Operator.
        op: TextOp,
        /// A string value.
        v: NodeId,
        /// The pattern.
        pattern: Box<str>,
    },
    /// `v exists`.
    Exists(NodeId),
    /// `v within d`.
    Within {
        /// A time value.
        v: NodeId,
        /// Window length.
        secs: i64,
    },
    /// `v before t` (`after == false`) or `v after t`.
    TimeCmp {
        /// A time value.
        v: NodeId,
        /// The constant.
        t: UnixSecs,
        /// `after` rather than `before`.
        after: bool,
    },
    /// `not n`.
    Not(NodeId),
    /// `a and b ...`.
    And(Box<[NodeId]>),
    /// `a or b ...`.
    Or(Box<[NodeId]>),
    /// `count(ev [where filter], window)`, or `any(...)` when `any`.
    Count {
        /// Event type.
        ev: EventId,
        /// Condition evaluated per event.
        filter: Option<NodeId>,
        /// Window length.
        secs: i64,
        /// Answer `count > 0` as a boolean.
        any: bool,
    },
    /// `sum|avg|min|max(ev.prop [where filter], window)`.
    Aggregate {
        /// Which aggregation.
        func: AggFn,
        /// Event type.
        ev: EventId,
        /// Numeric property.
        prop: PropId,
        /// Condition evaluated per event.
        filter: Option<NodeId>,
        /// Window length.
        secs: i64,
    },
    /// `last|first(ev [where filter])`.
    Occurrence {
        /// Event type.
        ev: EventId,
        /// Condition evaluated per event.
        filter: Option<NodeId>,
        /// `last` rather than `first`.
        last: bool,
    },
    /// `lower(v)`.
    Lower(NodeId),
    /// `days_since(v)`.
    DaysSince(NodeId),
    /// `segment("id")`, by index into the campaign's segments.
    Segment(u16),
}

/// Where a node came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Index of the rule in the program's rule list.
    pub rule: u16,
    /// Span in that rule's text.
    pub span: Span,
}

/// The compiled rules of one campaign.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    /// All nodes; children precede parents.
    pub(crate) nodes: Vec<Node>,
    /// Parallel to `nodes`.
    pub(crate) origins: Vec<Origin>,
    /// For each node inside a `where`, the event type being filtered (`None` outside).
    pub(crate) event_ctx: Vec<Option<EventId>>,
}

impl Program {
    /// Appends a node; returns its id.
    pub(crate) fn push(&mut self, node: Node, origin: Origin, ctx: Option<EventId>) -> NodeId {
        let id = NodeId::try_from(self.nodes.len()).unwrap_or(NodeId::MAX);
        self.nodes.push(node);
        self.origins.push(origin);
        self.event_ctx.push(ctx);
        id
    }

    /// The node `id`.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    /// Where node `id` came from.
    pub fn origin(&self, id: NodeId) -> Option<Origin> {
        self.origins.get(id as usize).copied()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

mod compact {
    //! [`Program`] in the compact form (see [`crate::compact`]). Origins are left out: they
    //! serve explanations, which the runtime does not give.

    use super::{ConstSet, Node, NodeId, Program};
    use crate::compact::{Reader, Writer};
    use crate::prelude::*;
    use crate::rules::ast::{AggFn, CmpOp, TextOp};

    const CMP: [CmpOp; 6] = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];
    const TEXT: [TextOp; 3] = [TextOp::Contains, TextOp::StartsWith, TextOp::EndsWith];
    const AGG: [AggFn; 4] = [AggFn::Sum, AggFn::Avg, AggFn::Min, AggFn::Max];

    fn tag_of<T: PartialEq>(all: &[T], v: &T) -> usize {
        all.iter().position(|x| x == v).unwrap_or(0)
    }

    fn words(w: &mut Writer, xs: &[Box<str>]) {
        w.len(xs.len());
        xs.iter().for_each(|s| w.str(s));
    }

    fn read_words(r: &mut Reader<'_>) -> Box<[Box<str>]> {
        r.list(|r| r.str().into_boxed_str()).into_boxed_slice()
    }

    fn opt(w: &mut Writer, v: Option<NodeId>) {
        w.uint(v.map_or(0, |n| u64::from(n) + 1));
    }

    impl Program {
        /// Appends the compact form.
        pub fn write_compact(&self, w: &mut Writer) {
            w.len(self.nodes.len());
            for (node, ctx) in self.nodes.iter().zip(&self.event_ctx) {
                w.uint(ctx.map_or(0, |e| u64::from(e) + 1));
                write_node(w, node);
            }
        }

        /// Reads the compact form. Every child must precede its parent, as the compiler
        /// guarantees, so evaluation of a decoded program terminates. Failures (malformed
        /// bytes, a forward reference) are recorded in `r` (see [`Reader`]).
        pub fn read_compact(r: &mut Reader<'_>, max_nodes: usize, max_depth: usize) -> Program {
            let n = r.len(max_nodes);
            let mut p = Program::default();
            // Depth of each node's subtree: evaluation recurses that deep.
            let mut depths: Vec<usize> = Vec::with_capacity(n);
            for id in 0..n {
                let ctx = match r.uint() {
                    0 => None,
                    e => Some(r.small_of(e - 1)),
                };
                let deepest = core::cell::Cell::new(0usize);
                let node = read_node(r, u32::try_from(id).unwrap_or(u32::MAX), &|c| {
                    let d = depths.get(c as usize).copied().unwrap_or(0);
                    deepest.set(deepest.get().max(d));
                });
                let depth = deepest.get() + 1;
                if depth > max_depth {
                    r.fail("a shallower program");
                }
                depths.push(depth);
                p.nodes.push(node);
                p.event_ctx.push(ctx);
            }
            p
        }
    }

    fn write_node(w: &mut Writer, node: &Node) {
        match node {
            Node::Number(n) => {
                w.uint(0);
                w.float(*n);
            }
            Node::String(s) => {
                w.uint(1);
                w.str(s);
            }
            Node::Bool(b) => w.uint(if *b { 3 } else { 2 }),
            Node::Time(t) => {
                w.uint(4);
                w.int(*t);
            }
            Node::Attr(a) => {
                w.uint(5);
                w.uint(u64::from(*a));
            }
            Node::Prop(p) => {
                w.uint(6);
                w.uint(u64::from(*p));
            }
            Node::Compare { op, l, r } => {
                w.uint(7);
                w.len(tag_of(&CMP, op));
                w.uint(u64::from(*l));
                w.uint(u64::from(*r));
            }
            Node::In { v, set, negated } => {
                w.uint(8);
                w.uint(u64::from(*v));
                w.uint(u64::from(*negated));
                match set {
                    ConstSet::Number(xs) => {
                        w.uint(0);
                        w.len(xs.len());
                        xs.iter().for_each(|x| w.float(*x));
                    }
                    ConstSet::String(xs) => {
                        w.uint(1);
                        words(w, xs);
                    }
                    ConstSet::Bool(xs) => {
                        w.uint(2);
                        w.len(xs.len());
                        xs.iter().for_each(|x| w.uint(u64::from(*x)));
                    }
                    ConstSet::Time(xs) => {
                        w.uint(3);
                        w.len(xs.len());
                        xs.iter().for_each(|x| w.int(*x));
                    }
                }
            }
            Node::Has { set, item } => {
                w.uint(9);
                w.uint(u64::from(*set));
                w.uint(u64::from(*item));
            }
            Node::HasList { set, words: ws, all } => {
                w.uint(10);
                w.uint(u64::from(*set));
                words(w, ws);
                w.uint(u64::from(*all));
            }
            Node::Text { op, v, pattern } => {
                w.uint(11);
                w.len(tag_of(&TEXT, op));
                w.uint(u64::from(*v));
                w.str(pattern);
            }
            Node::Exists(v) => {
                w.uint(12);
                w.uint(u64::from(*v));
            }
            Node::Within { v, secs } => {
                w.uint(13);
                w.uint(u64::from(*v));
                w.int(*secs);
            }
            Node::TimeCmp { v, t, after } => {
                w.uint(14);
                w.uint(u64::from(*v));
                w.int(*t);
                w.uint(u64::from(*after));
            }
            Node::Not(v) => {
                w.uint(15);
                w.uint(u64::from(*v));
            }
            Node::And(xs) | Node::Or(xs) => {
                w.uint(if matches!(node, Node::And(_)) { 16 } else { 17 });
                w.len(xs.len());
                xs.iter().for_each(|x| w.uint(u64::from(*x)));
            }
            Node::Count { ev, filter, secs, any } => {
                w.uint(18);
                w.uint(u64::from(*ev));
                opt(w, *filter);
                w.int(*secs);
                w.uint(u64::from(*any));
            }
            Node::Aggregate { func, ev, prop, filter, secs } => {
                w.uint(19);
                w.len(tag_of(&AGG, func));
                w.uint(u64::from(*ev));
                w.uint(u64::from(*prop));
                opt(w, *filter);
                w.int(*secs);
            }
            Node::Occurrence { ev, filter, last } => {
                w.uint(20);
                w.uint(u64::from(*ev));
                opt(w, *filter);
                w.uint(u64::from(*last));
            }
            Node::Lower(v) => {
                w.uint(21);
                w.uint(u64::from(*v));
            }
            Node::DaysSince(v) => {
                w.uint(22);
                w.uint(u64::from(*v));
            }
            Node::Segment(i) => {
                w.uint(23);
                w.uint(u64::from(*i));
            }
        }
    }

    /// Reads one node; `seen` is told every child.
    fn read_node(r: &mut Reader<'_>, id: NodeId, seen: &dyn Fn(NodeId)) -> Node {
        // A child: an earlier node.
        let child = |r: &mut Reader<'_>| -> NodeId {
            let c = r.uint();
            match u32::try_from(c).ok().filter(|&c| c < id) {
                Some(c) => {
                    seen(c);
                    c
                }
                None => {
                    r.fail("an earlier node");
                    0
                }
            }
        };
        // An optional child: 0 for none, else the child's id + 1.
        let filter = |r: &mut Reader<'_>| -> Option<NodeId> {
            match r.uint() {
                0 => None,
                c => match u32::try_from(c - 1).ok().filter(|&c| c < id) {
                    Some(c) => {
                        seen(c);
                        Some(c)
                    }
                    None => {
                        r.fail("an earlier node");
                        None
                    }
                },
            }
        };
        match r.uint() {
            0 => Node::Number(r.float()),
            1 => Node::String(r.str().into()),
            2 => Node::Bool(false),
            3 => Node::Bool(true),
            4 => Node::Time(r.int()),
            5 => Node::Attr(r.small()),
            6 => Node::Prop(r.small()),
            7 => Node::Compare { op: r.one_of(&CMP), l: child(r), r: child(r) },
            8 => {
                let v = child(r);
                let negated = r.flag();
                let set = match r.uint() {
                    0 => ConstSet::Number(r.list(Reader::float).into()),
                    1 => ConstSet::String(read_words(r)),
                    2 => ConstSet::Bool(r.list(Reader::flag).into()),
                    3 => ConstSet::Time(r.list(Reader::int).into()),
                    _ => {
                        r.fail("a constant list type");
                        ConstSet::Bool(Box::default())
                    }
                };
                Node::In { v, set, negated }
            }
            9 => Node::Has { set: child(r), item: child(r) },
            10 => Node::HasList { set: child(r), words: read_words(r), all: r.flag() },
            11 => Node::Text { op: r.one_of(&TEXT), v: child(r), pattern: r.str().into() },
            12 => Node::Exists(child(r)),
            13 => Node::Within { v: child(r), secs: r.int() },
            14 => Node::TimeCmp { v: child(r), t: r.int(), after: r.flag() },
            15 => Node::Not(child(r)),
            16 => Node::And(r.list(child).into()),
            17 => Node::Or(r.list(child).into()),
            18 => Node::Count { ev: r.small(), filter: filter(r), secs: r.int(), any: r.flag() },
            19 => Node::Aggregate {
                func: r.one_of(&AGG),
                ev: r.small(),
                prop: r.small(),
                filter: filter(r),
                secs: r.int(),
            },
            20 => Node::Occurrence { ev: r.small(), filter: filter(r), last: r.flag() },
            21 => Node::Lower(child(r)),
            22 => Node::DaysSince(child(r)),
            23 => Node::Segment(r.small()),
            _ => {
                r.fail("a node tag");
                Node::Bool(false)
            }
        }
    }
}
