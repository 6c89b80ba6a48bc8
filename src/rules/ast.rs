//! The syntax tree of a rule and its JSON form.
//!
//! Text and JSON are two spellings of the same tree: [`crate::rules::parse`] reads text,
//! [`Expr`]'s `Display` (in `print.rs`) writes it back, and serde reads and writes the JSON form
//! (externally tagged, snake_case: `{"and": [...]}`, `{"compare": {"op": ">=", "left": ...}}`).
//! Spans record where a node was written; they take no part in equality or in the JSON form.

use crate::prelude::*;

use serde::{Deserialize, Serialize};

use crate::diag::Span;
use crate::time::{format_timestamp, parse_timestamp, Duration, UnixSecs};

/// A rule expression with the span it was written at.
#[derive(Debug, Clone)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it was written (zero for trees built from JSON).
    pub span: Span,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl Expr {
    /// A node without a source position.
    pub fn new(kind: ExprKind) -> Expr {
        Expr { kind, span: Span::default() }
    }
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.kind.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ExprKind::deserialize(d).map(Expr::new)
    }
}

/// A name written in a rule (event, property), with its span.
#[derive(Debug, Clone)]
pub struct Name {
    /// The name.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Name {
    /// A name without a source position.
    pub fn new(text: impl Into<String>) -> Name {
        Name { text: text.into(), span: Span::default() }
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.text.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Name::new)
    }
}

/// An instant in the JSON form: an RFC 3339 string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub UnixSecs);

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(self.0))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <alloc::borrow::Cow<'de, str>>::deserialize(d)?;
        parse_timestamp(&text).map(Timestamp).map_err(serde::de::Error::custom)
    }
}

/// A constant in a `[...]` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Literal {
    /// A finite number.
    Number(f64),
    /// A string.
    String(String),
    /// `true` / `false`.
    Bool(bool),
    /// `@2026-01-01`.
    Time(Timestamp),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "the serde names are the operators")]
pub enum CmpOp {
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// True for `<`, `<=`, `>`, `>=`.
    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }

    /// Applies the operator to an ordering.
    pub fn holds(self, ord: core::cmp::Ordering) -> bool {
        use core::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

/// Aggregations over a window of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs, reason = "the names are the functions")]
pub enum AggFn {
    Sum,
    Avg,
    Min,
    Max,
}

impl AggFn {
    /// The function's name.
    pub fn name(self) -> &'static str {
        match self {
            AggFn::Sum => "sum",
            AggFn::Avg => "avg",
            AggFn::Min => "min",
            AggFn::Max => "max",
        }
    }
}

/// String tests with a constant pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs, reason = "the names are the operators")]
pub enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextOp {
    /// The operator as written.
    pub fn keyword(self) -> &'static str {
        match self {
            TextOp::Contains => "contains",
            TextOp::StartsWith => "starts_with",
            TextOp::EndsWith => "ends_with",
        }
    }
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ExprKind {
    /// A number literal.
    Number(f64),
    /// A string literal.
    String(String),
    /// `true` / `false`.
    Bool(bool),
    /// `@2026-01-01`.
    Time(Timestamp),
    /// `90d` (only meaningful after `within` and in windows, which hold it directly).
    Duration(Duration),
    /// `[1, 2]`.
    List(Vec<Literal>),
    /// `budget`, or `category` / `purchase.category` inside `where`.
    Path(Vec<String>),
    /// `count(event [where filter], window)`.
    Count {
        /// Event type.
        event: Name,
        /// Condition on each event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Expr>>,
        /// Window length.
        window: Duration,
    },
    /// `sum|avg|min|max(event.prop [where filter], window)`.
    Aggregate {
        /// Which aggregation.
        func: AggFn,
        /// Event type.
        event: Name,
        /// Numeric property aggregated.
        prop: Name,
        /// Condition on each event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Expr>>,
        /// Window length.
        window: Duration,
    },
    /// `any(event [where filter], window)`.
    Any {
        /// Event type.
        event: Name,
        /// Condition on each event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Expr>>,
        /// Window length.
        window: Duration,
    },
    /// `last(event [where filter])`: time of the latest such event.
    Last {
        /// Event type.
        event: Name,
        /// Condition on each event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Expr>>,
    },
    /// `first(event [where filter])`: time of the earliest such event.
    First {
        /// Event type.
        event: Name,
        /// Condition on each event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Box<Expr>>,
    },
    /// `lower(value)`.
    Lower(Box<Expr>),
    /// `days_since(value)`.
    DaysSince(Box<Expr>),
    /// `segment("id")`.
    Segment(Name),
    /// `left op right`.
    Compare {
        /// Operator.
        op: CmpOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `value in [...]`.
    In {
        /// Tested value.
        value: Box<Expr>,
        /// Constants.
        list: Vec<Literal>,
    },
    /// `value not in [...]`.
    NotIn {
        /// Tested value.
        value: Box<Expr>,
        /// Constants.
        list: Vec<Literal>,
    },
    /// `set has item`.
    Has {
        /// A set.
        value: Box<Expr>,
        /// A string.
        item: Box<Expr>,
    },
    /// `set has any [...]`.
    HasAny {
        /// A set.
        value: Box<Expr>,
        /// Strings.
        list: Vec<Literal>,
    },
    /// `set has all [...]`.
    HasAll {
        /// A set.
        value: Box<Expr>,
        /// Strings.
        list: Vec<Literal>,
    },
    /// `value contains|starts_with|ends_with "text"`.
    Text {
        /// Operator.
        op: TextOp,
        /// A string.
        value: Box<Expr>,
        /// The constant pattern.
        pattern: String,
    },
    /// `value exists`.
    Exists(Box<Expr>),
    /// `time within 30d`.
    Within {
        /// A time.
        value: Box<Expr>,
        /// How far back from `now`.
        duration: Duration,
    },
    /// `time before @...`.
    Before {
        /// A time.
        value: Box<Expr>,
        /// The constant instant.
        time: Timestamp,
    },
    /// `time after @...`.
    After {
        /// A time.
        value: Box<Expr>,
        /// The constant instant.
        time: Timestamp,
    },
    /// `not e`.
    Not(Box<Expr>),
    /// `a and b and ...` (at least two operands).
    And(Vec<Expr>),
    /// `a or b or ...` (at least two operands).
    Or(Vec<Expr>),
}

impl Expr {
    /// Calls `f` on each direct child expression.
    pub fn for_each_child(&self, mut f: impl FnMut(&Expr)) {
        use ExprKind::*;
        match &self.kind {
            Number(_) | String(_) | Bool(_) | Time(_) | Duration(_) | List(_) | Path(_)
            | Segment(_) => {}
            Count { filter, .. }
            | Aggregate { filter, .. }
            | Any { filter, .. }
            | Last { filter, .. }
            | First { filter, .. } => {
                if let Some(e) = filter {
                    f(e);
                }
            }
            Lower(e) | DaysSince(e) | Exists(e) | Not(e) => f(e),
            Compare { left, right, .. } => {
                f(left);
                f(right);
            }
            Has { value, item } => {
                f(value);
                f(item);
            }
            In { value, .. }
            | NotIn { value, .. }
            | HasAny { value, .. }
            | HasAll { value, .. }
            | Text { value, .. }
            | Within { value, .. }
            | Before { value, .. }
            | After { value, .. } => f(value),
            And(v) | Or(v) => v.iter().for_each(f),
        }
    }

    /// Number of nodes and depth of the tree (a leaf has depth 1).
    pub fn size(&self) -> (usize, usize) {
        let mut nodes = 1;
        let mut depth = 0;
        self.for_each_child(|c| {
            let (n, d) = c.size();
            nodes += n;
            depth = depth.max(d);
        });
        (nodes, depth + 1)
    }
}
