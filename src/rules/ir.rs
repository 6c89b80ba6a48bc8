//! The compiled form of rules: a flat arena of nodes addressed by [`NodeId`].
//!
//! Names are resolved to integer ids, constants are parsed and list constants sorted for binary
//! search. One [`Program`] holds every rule of a campaign; each node remembers which rule and
//! which span of its text it came from, so explanations can quote the source.

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
