//! The STIX 2.1 patterning language (STIX 2.1 section 9, grammar `STIXPattern.g4`).
//!
//! * [`parse`] turns a pattern into a [`Pattern`] AST, enforcing the grammar plus the spec
//!   rules the grammar cannot express (listed in `parser.rs`); `Display` on the AST prints it
//!   back as valid pattern text.
//! * [`check_objects`] checks object types and first-level properties against the 18 STIX 2.1
//!   SCO types.
//! * [`observables`] lists the `type:property = 'value'` facts a pattern positively asserts,
//!   for indexing.
//!
//! Hand-written lexer and recursive-descent parser: no panics on any input, nesting limited to
//! 100 levels of `(` and `[`.

mod ast;
mod lexer;
mod objects;
mod parser;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_objects;

pub use ast::{
    Comparison, ComparisonExpression, Literal, ObjectPath, ObservationExpression, Operand, Operator, PathComponent,
    Pattern, Qualifier,
};
pub use objects::{check_objects, observables, Observable};
pub use parser::parse;

/// Why a pattern was rejected. `message` is the complete human-readable text, including the
/// offset (e.g. `expected ']' at offset 27`, or `unexpected 'FOO' at offset 3, expected a
/// comparison operator`); `offset` is the byte offset in the input where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatternError {
    pub offset: usize,
    pub message: String,
}

impl PatternError {
    /// `"{what} at offset {offset}"`
    pub(crate) fn new(offset: usize, what: impl AsRef<str>) -> Self {
        PatternError { offset, message: format!("{} at offset {offset}", what.as_ref()) }
    }

    /// `"{what} at offset {offset}, expected {expected}"`
    pub(crate) fn with_expected(offset: usize, what: impl AsRef<str>, expected: &str) -> Self {
        PatternError { offset, message: format!("{} at offset {offset}, expected {expected}", what.as_ref()) }
    }
}

/// Input text for an error message, cut to a readable length.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 40;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}
