//! The segment rule language (docs/limits.md): text and JSON forms, type checking against the data
//! map, compilation to a compact IR, evaluation and explanation.
//!
//! Pipeline: [`lex`] → [`parse`] (text) or serde (JSON) → [`ast::Expr`] → [`compile`] (type check
//! and lower, names resolved to integer ids) → [`ir::Program`] → [`eval`] / [`explain`].

use crate::prelude::*;

pub mod ast;
pub mod compile;
pub mod eval;
pub mod explain;
pub mod ir;
pub mod lex;
pub mod lower;
pub mod parse;
#[cfg(feature = "std")]
pub mod phrase;
pub mod print;
#[cfg(feature = "std")]
pub mod words;

use core::fmt;

use crate::diag::{caret_snippet, line_col, LineCol, Span};
use crate::time::TimeError;

pub use parse::parse;

/// An error in one rule, with the span of the offending text.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    /// What is wrong.
    pub kind: RuleErrorKind,
    /// Where, in bytes of the rule text.
    pub span: Span,
}

impl RuleError {
    /// An error of `kind` at `span`.
    pub fn new(kind: RuleErrorKind, span: Span) -> RuleError {
        RuleError { kind, span }
    }

    /// Line and column of the error in `source`.
    pub fn position(&self, source: &str) -> LineCol {
        line_col(source, self.span.start)
    }

    /// The full message for a person: `rule 'hikers' 1:17: unknown attribute 'budjet'; did you
    /// mean 'budget'?`, followed by the rule line and a caret line.
    pub fn render(&self, rule_id: &str, source: &str) -> String {
        format!(
            "rule '{rule_id}' {}: {}\n{}",
            self.position(source),
            self.kind,
            caret_snippet(source, self.span)
        )
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl core::error::Error for RuleError {}

/// Everything that can be wrong with a rule. Codes (from [`RuleErrorKind::code`]) are stable.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RuleErrorKind {
    /// A character that starts no token.
    UnexpectedChar {
        /// The character.
        found: char,
        /// A fix, such as "; use '==' to compare".
        hint: &'static str,
    },
    /// A string without its closing quote.
    UnterminatedString,
    /// A backslash escape other than `\" \\ \n \t \r \u{HEX}`.
    BadEscape,
    /// A malformed number.
    BadNumber(String),
    /// A malformed or out-of-range duration.
    BadDuration(String),
    /// A malformed or impossible time literal.
    BadTime(TimeError),
    /// A token the grammar does not allow here.
    UnexpectedToken {
        /// The token found.
        found: String,
        /// What would have been allowed.
        expected: &'static str,
    },
    /// A keyword used as a name.
    ReservedWord(String),
    /// A call of a function that does not exist.
    UnknownFunction {
        /// The name.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// The text is longer than `rule_bytes_max`.
    TooLong {
        /// Length.
        bytes: usize,
        /// Limit.
        max: usize,
    },
    /// The tree has more than `rule_nodes_max` nodes.
    TooManyNodes {
        /// Count.
        nodes: usize,
        /// Limit.
        max: usize,
    },
    /// The tree is deeper than `rule_depth_max`.
    TooDeep {
        /// Limit.
        max: usize,
    },
    /// A list with more than `list_items_max` items.
    ListTooLong {
        /// Limit.
        max: usize,
    },
    /// A name that is not an attribute of the data map.
    UnknownAttribute {
        /// The name.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// A name that is not an event type of the data map.
    UnknownEvent {
        /// The name.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// A name that is not a property of the event type.
    UnknownProp {
        /// Event type.
        event: String,
        /// The name.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// `segment("id")` naming no segment of the campaign.
    UnknownSegment {
        /// The id.
        name: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// Operand types that the operator does not accept.
    TypeMismatch(String),
    /// A constant outside an attribute's closed vocabulary.
    NotInVocabulary {
        /// The attribute.
        attribute: String,
        /// The constant.
        word: String,
        /// "; did you mean …" or "".
        suggestion: String,
    },
    /// A window function inside another window function's `where`.
    NestedWindow,
    /// `segment("id")` references that lead back to where they started.
    SegmentCycle {
        /// The cycle, as `a -> b -> a`.
        path: String,
    },
    /// A JSON tree that no text could produce (such as `and` with one operand).
    BadTree(String),
}

impl RuleErrorKind {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        use RuleErrorKind::*;
        match self {
            UnexpectedChar { .. } => "unexpected-char",
            UnterminatedString => "unterminated-string",
            BadEscape => "bad-escape",
            BadNumber(_) => "bad-number",
            BadDuration(_) => "bad-duration",
            BadTime(_) => "bad-time",
            UnexpectedToken { .. } => "unexpected-token",
            ReservedWord(_) => "reserved-word",
            UnknownFunction { .. } => "unknown-function",
            TooLong { .. } => "rule-too-long",
            TooManyNodes { .. } => "too-many-nodes",
            TooDeep { .. } => "too-deep",
            ListTooLong { .. } => "list-too-long",
            UnknownAttribute { .. } => "unknown-attribute",
            UnknownEvent { .. } => "unknown-event",
            UnknownProp { .. } => "unknown-prop",
            UnknownSegment { .. } => "unknown-segment",
            TypeMismatch(_) => "type-mismatch",
            NotInVocabulary { .. } => "not-in-vocabulary",
            NestedWindow => "nested-window",
            SegmentCycle { .. } => "segment-cycle",
            BadTree(_) => "bad-tree",
        }
    }
}

impl fmt::Display for RuleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RuleErrorKind::*;
        match self {
            UnexpectedChar { found, hint } => write!(f, "unexpected character '{found}'{hint}"),
            UnterminatedString => f.write_str("string is not closed; add a '\"'"),
            BadEscape => f.write_str("unknown escape; use \\\" \\\\ \\n \\t \\r or \\u{HEX}"),
            BadNumber(s) => write!(
                f,
                "'{s}' is not a number; write plain decimals such as 1500 or -2.5 (durations look like 30d)"
            ),
            BadDuration(s) => write!(
                f,
                "'{s}' is not a duration; write a whole number from 1 to 1000000 followed by m, h, d or w (e.g. 30d)"
            ),
            BadTime(e) => write!(f, "{e}"),
            UnexpectedToken { found, expected } => write!(f, "unexpected {found}; expected {expected}"),
            ReservedWord(w) => write!(f, "'{w}' is a keyword and cannot be used as a name here"),
            UnknownFunction { name, suggestion } => write!(f, "unknown function '{name}'{suggestion}"),
            TooLong { bytes, max } => write!(f, "rule is {bytes} bytes; the limit is {max}"),
            TooManyNodes { nodes, max } => {
                write!(f, "rule has {nodes} nodes; the limit is {max}; split it with segment(\"...\")")
            }
            TooDeep { max } => write!(f, "rule nests deeper than {max} levels; split it with segment(\"...\")"),
            ListTooLong { max } => write!(f, "list has more than {max} items"),
            UnknownAttribute { name, suggestion } => write!(f, "unknown attribute '{name}'{suggestion}"),
            UnknownEvent { name, suggestion } => write!(f, "unknown event '{name}'{suggestion}"),
            UnknownProp { event, name, suggestion } => {
                write!(f, "event '{event}' has no property '{name}'{suggestion}")
            }
            UnknownSegment { name, suggestion } => write!(f, "unknown segment '{name}'{suggestion}"),
            TypeMismatch(m) => f.write_str(m),
            NotInVocabulary { attribute, word, suggestion } => {
                write!(f, "'{word}' is not an allowed value of '{attribute}'{suggestion}")
            }
            NestedWindow => f.write_str(
                "a window function cannot be used inside another one's 'where'; use segment(\"...\") for the inner condition",
            ),
            SegmentCycle { path } => {
                write!(f, "segment references form a cycle: {path}; remove one of the references")
            }
            BadTree(m) => write!(f, "invalid rule tree: {m}"),
        }
    }
}

/// One rule compiled on its own (outside a campaign, so without `segment("...")`), for tools,
/// tests and the SDK's "explain this rule" view.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    program: ir::Program,
    root: ir::NodeId,
    source: String,
}

impl Rule {
    /// Parses and compiles rule text against `schema`.
    ///
    /// # Errors
    /// Any syntax, type, name or limit error, with its span in `text`.
    pub fn from_text(
        text: &str,
        schema: &crate::schema::Schema,
        limits: &crate::limits::Limits,
    ) -> Result<Rule, RuleError> {
        let ast = parse(text, limits)?;
        let mut program = ir::Program::default();
        let compiled = compile::compile(&ast, 0, schema, &[], &mut program, limits)?;
        Ok(Rule { program, root: compiled.root, source: text.to_owned() })
    }

    /// Compiles a syntax tree (such as one read from the JSON form) against `schema`. The rule's
    /// source becomes the tree's canonical text.
    ///
    /// # Errors
    /// As [`Rule::from_text`], plus `bad-tree` for trees no text could produce.
    pub fn from_ast(
        ast: &ast::Expr,
        schema: &crate::schema::Schema,
        limits: &crate::limits::Limits,
    ) -> Result<Rule, RuleError> {
        compile::compile(ast, 0, schema, &[], &mut ir::Program::default(), limits)?;
        // Compile the canonical text too, so explanations can quote it with spans.
        Rule::from_text(
            &ast.to_string(),
            schema,
            &crate::limits::Limits { rule_bytes_max: usize::MAX, ..limits.clone() },
        )
    }

    /// The rule's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the rule holds for `profile` at `now`.
    pub fn evaluate(&self, profile: &crate::profile::Profile, now: crate::time::UnixSecs) -> bool {
        eval::eval(&self.program, &eval::Env { profile, now, segments: &[] }, self.root, None)
            .truth()
    }

    /// Why the rule holds or not for `profile` at `now`.
    pub fn explain(
        &self,
        schema: &crate::schema::Schema,
        profile: &crate::profile::Profile,
        now: crate::time::UnixSecs,
    ) -> explain::Explanation {
        let env = eval::Env { profile, now, segments: &[] };
        explain::explain(
            &self.program,
            core::slice::from_ref(&self.source),
            &[],
            schema,
            &env,
            self.root,
        )
    }
}
