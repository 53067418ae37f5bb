//! The pattern AST and its `Display`, which prints valid pattern syntax: for any AST that
//! [`parse`](super::parse) can produce, `parse(&ast.to_string())` gives the same AST back
//! (apart from the byte offsets recorded in [`ObjectPath`]).
//!
//! Chains of one operator are n-ary (`[a] AND [b] AND [c]` is one `And` with three items) so
//! that long `OR` lists do not make deep trees. Parentheses are not nodes, but they are kept
//! structurally: `[a] AND ([b] AND [c])` is `And[a, And[b, c]]`, and `Display` prints
//! parentheses around any item that binds no tighter than its parent.
//!
//! Invariants the parser guarantees (and `Display` relies on): `And`/`Or`/`FollowedBy` hold at
//! least two items, `Qualified` holds at least one qualifier, and a [`Comparison`]'s operand
//! matches its operator (`Exists` has [`Operand::None`], `In` a set, others a single literal).

use std::fmt::{self, Write};

use super::lexer::RESERVED_WORDS;

/// A parsed STIX pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    pub expression: ObservationExpression,
}

/// An observation expression: `[ … ]`, or observation expressions joined by observation
/// operators, optionally followed by qualifiers.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpression {
    /// `[ comparison-expression ]`
    Observation(ComparisonExpression),
    /// `a AND b AND …` (binds tightest of the three operators).
    And(Vec<ObservationExpression>),
    /// `a OR b OR …`
    Or(Vec<ObservationExpression>),
    /// `a FOLLOWEDBY b FOLLOWEDBY …` (binds loosest).
    FollowedBy(Vec<ObservationExpression>),
    /// `[…] q1 q2 …` or `(…) q1 q2 …`: the qualifiers written directly after one bracketed or
    /// parenthesised expression, in order. At most one of each kind (spec section 9.5.1).
    Qualified { expression: Box<ObservationExpression>, qualifiers: Vec<Qualifier> },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`, n > 0 (an integer in the pattern is stored as its float value).
    Within(f64),
    /// `REPEATS n TIMES`, n >= 1.
    Repeats(u64),
    /// `START t'…' STOP t'…'`: the timestamps as written between the quotes.
    StartStop { start: String, stop: String },
}

/// The Boolean combination of comparisons inside one `[ … ]`.
#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpression {
    Comparison(Comparison),
    /// `a AND b AND …` (binds tighter than OR).
    And(Vec<ComparisonExpression>),
    Or(Vec<ComparisonExpression>),
}

/// `path [NOT] op operand`, or `[NOT] EXISTS path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub path: ObjectPath,
    /// The comparison was preceded by `NOT`.
    pub negated: bool,
    pub operator: Operator,
    pub operand: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=` (also written `==`)
    Equal,
    /// `!=` (also written `<>`)
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
    Exists,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// For `EXISTS`.
    None,
    Literal(Literal),
    /// For `IN ( … )`; may be empty. Elements all have the same literal kind.
    Set(Vec<Literal>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Unescaped string content.
    String(String),
    /// Within ±(2^53 - 1).
    Integer(i64),
    /// Finite.
    Float(f64),
    Boolean(bool),
    /// `t'…'`: the timestamp text between the quotes (validated).
    Timestamp(String),
    /// `b'…'`: the base64 text between the quotes (validated, as written).
    Binary(String),
    /// `h'…'`: the hex digits between the quotes (validated, as written).
    Hex(String),
}

/// `object-type:property` followed by any number of `.key`, `[n]` or `[*]` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectPath {
    pub object_type: String,
    /// The first property name (unquoted/unescaped).
    pub property: String,
    pub steps: Vec<PathComponent>,
    /// Byte offset of the object type in the input (0 for ASTs built by hand).
    pub offset: usize,
    /// Byte offset of the first property name in the input.
    pub property_offset: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathComponent {
    /// `.name` or `.'quoted name'` (stored unquoted).
    Key(String),
    /// `[n]`; the grammar allows negative indexes (they never match).
    Index(i64),
    /// `[*]`
    AnyIndex,
}

impl Operator {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Operator::Equal => "=",
            Operator::NotEqual => "!=",
            Operator::Less => "<",
            Operator::LessOrEqual => "<=",
            Operator::Greater => ">",
            Operator::GreaterOrEqual => ">=",
            Operator::In => "IN",
            Operator::Like => "LIKE",
            Operator::Matches => "MATCHES",
            Operator::IsSubset => "ISSUBSET",
            Operator::IsSuperset => "ISSUPERSET",
            Operator::Exists => "EXISTS",
        }
    }
}

impl Literal {
    /// Name of the literal's kind, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Literal::String(_) => "string",
            Literal::Integer(_) => "integer",
            Literal::Float(_) => "float",
            Literal::Boolean(_) => "boolean",
            Literal::Timestamp(_) => "timestamp",
            Literal::Binary(_) => "binary",
            Literal::Hex(_) => "hex",
        }
    }
}

impl ObjectPath {
    /// The path after the colon in canonical form: keys are quoted only when they have to be.
    pub(crate) fn property_path(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = write_key(&mut s, &self.property);
        for step in &self.steps {
            let _ = write!(s, "{step}");
        }
        s
    }
}

/// A key can be written bare when it lexes as an `IdentifierWithoutHyphen` that is not a
/// reserved word; anything else is written as a quoted string.
fn is_bare_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED_WORDS.contains(&key)
}

fn write_quoted(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        if c == '\'' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('\'')
}

fn write_key(f: &mut impl Write, key: &str) -> fmt::Result {
    if is_bare_key(key) {
        f.write_str(key)
    } else {
        write_quoted(f, key)
    }
}

/// Floats always carry a '.', so they read back as floats (Rust's `Display` for `f64` never
/// uses an exponent and prints the shortest text that reads back to the same value).
fn write_float(f: &mut impl Write, v: f64) -> fmt::Result {
    let s = v.to_string();
    f.write_str(&s)?;
    if !s.contains('.') {
        f.write_str(".0")?;
    }
    Ok(())
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expression.fmt(f)
    }
}

impl ObservationExpression {
    fn precedence(&self) -> u8 {
        match self {
            ObservationExpression::FollowedBy(_) => 1,
            ObservationExpression::Or(_) => 2,
            ObservationExpression::And(_) => 3,
            ObservationExpression::Observation(_) | ObservationExpression::Qualified { .. } => 4,
        }
    }
}

fn write_items<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    separator: &str,
    parent: u8,
    precedence: impl Fn(&T) -> u8,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if precedence(item) <= parent {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}

impl fmt::Display for ObservationExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.precedence();
        match self {
            ObservationExpression::Observation(c) => write!(f, "[{c}]"),
            ObservationExpression::And(items) => write_items(f, items, " AND ", p, Self::precedence),
            ObservationExpression::Or(items) => write_items(f, items, " OR ", p, Self::precedence),
            ObservationExpression::FollowedBy(items) => write_items(f, items, " FOLLOWEDBY ", p, Self::precedence),
            ObservationExpression::Qualified { expression, qualifiers } => {
                match **expression {
                    ObservationExpression::Observation(_) => write!(f, "{expression}")?,
                    _ => write!(f, "({expression})")?,
                }
                for q in qualifiers {
                    write!(f, " {q}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within(seconds) => {
                f.write_str("WITHIN ")?;
                // Integral values below 2^53 print as integers, the rest as floats; both read
                // back to the same f64.
                if seconds.fract() == 0.0 && seconds.abs() < 9_007_199_254_740_992.0 {
                    write!(f, "{}", *seconds as i64)?;
                } else {
                    write_float(f, *seconds)?;
                }
                f.write_str(" SECONDS")
            }
            Qualifier::Repeats(n) => write!(f, "REPEATS {n} TIMES"),
            Qualifier::StartStop { start, stop } => write!(f, "START t'{start}' STOP t'{stop}'"),
        }
    }
}

impl ComparisonExpression {
    fn precedence(&self) -> u8 {
        match self {
            ComparisonExpression::Or(_) => 1,
            ComparisonExpression::And(_) => 2,
            ComparisonExpression::Comparison(_) => 3,
        }
    }
}

impl fmt::Display for ComparisonExpression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.precedence();
        match self {
            ComparisonExpression::Comparison(c) => write!(f, "{c}"),
            ComparisonExpression::And(items) => write_items(f, items, " AND ", p, Self::precedence),
            ComparisonExpression::Or(items) => write_items(f, items, " OR ", p, Self::precedence),
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        if self.operator == Operator::Exists {
            return write!(f, "{not}EXISTS {}", self.path);
        }
        write!(f, "{} {not}{} ", self.path, self.operator.as_str())?;
        match &self.operand {
            Operand::None => Ok(()),
            Operand::Literal(l) => write!(f, "{l}"),
            Operand::Set(items) => {
                f.write_char('(')?;
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{l}")?;
                }
                f.write_char(')')
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_quoted(f, s),
            Literal::Integer(i) => write!(f, "{i}"),
            Literal::Float(v) => write_float(f, *v),
            Literal::Boolean(b) => write!(f, "{b}"),
            Literal::Timestamp(t) => write!(f, "t'{t}'"),
            Literal::Binary(b) => write!(f, "b'{b}'"),
            Literal::Hex(h) => write!(f, "h'{h}'"),
        }
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.object_type, self.property_path())
    }
}

impl fmt::Display for PathComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathComponent::Key(k) => {
                f.write_char('.')?;
                write_key(f, k)
            }
            PathComponent::Index(i) => write!(f, "[{i}]"),
            PathComponent::AnyIndex => f.write_str("[*]"),
        }
    }
}
