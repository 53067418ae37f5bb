//! Recursive-descent parser for `STIXPattern.g4`, plus the spec rules the grammar cannot
//! express.
//!
//! Grammar → functions (each left-recursive rule becomes a loop, i.e. left-associative):
//! ```text
//! pattern            := followed_by EOF
//! followed_by        := or ("FOLLOWEDBY" or)*           -- loosest
//! or                 := and ("OR" and)*
//! and                := qualified ("AND" qualified)*     -- tightest
//! qualified          := primary qualifier*
//! primary            := "[" cmp_or "]" | "(" followed_by ")"
//! cmp_or             := cmp_and ("OR" cmp_and)*
//! cmp_and            := prop_test ("AND" prop_test)*
//! prop_test          := "(" cmp_or ")" | "NOT"? "EXISTS" path | path "NOT"? op operand
//! ```
//! Spec rules enforced on top of the grammar (STIX 2.1 section 9):
//! * 9.5: comparisons joined by AND inside one `[ ]` must be satisfiable by one object, i.e. of
//!   the same object type (types may differ only across OR).
//! * 9.5.1: at most one qualifier of each kind after one observation expression; `REPEATS`
//!   needs a positive integer and `WITHIN` a positive number.
//! * 9.6.1: the constants of an `IN` set are of one type.
//! * section 2 (via 9.2): integers within ±(2^53-1), floats finite (in the lexer).

use std::collections::BTreeSet;

use super::ast::*;
use super::lexer::{Keyword, Lexer, Tok, Token};
use super::PatternError;

/// Maximum nesting of `(` and `[`; deeper input is rejected rather than risking the stack.
pub(crate) const MAX_DEPTH: usize = 100;

/// Parses a STIX 2.1 pattern. Never panics; errors carry the byte offset of the problem.
pub fn parse(input: &str) -> Result<Pattern, PatternError> {
    let mut p = Parser { src: input, lexer: Lexer::new(input), peeked: None, depth: 0 };
    let expression = p.followed_by()?;
    let t = p.bump()?;
    if t.tok != Tok::Eof {
        return Err(p.unexpected(&t, "AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern"));
    }
    Ok(Pattern { expression })
}

struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    depth: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum QualifierKind {
    Within,
    Repeats,
    StartStop,
}

/// Builds an n-ary node only when there is more than one item.
fn join<T>(mut items: Vec<T>, node: fn(Vec<T>) -> T) -> T {
    if items.len() == 1 {
        if let Some(only) = items.pop() {
            return only;
        }
    }
    node(items)
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Result<&Tok, PatternError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        match &self.peeked {
            Some(t) => Ok(&t.tok),
            None => Ok(&Tok::Eof),
        }
    }

    fn bump(&mut self) -> Result<Token, PatternError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn peek_start(&mut self) -> Result<usize, PatternError> {
        self.peek()?;
        Ok(self.peeked.as_ref().map_or(0, |t| t.start))
    }

    fn peek_is(&mut self, tok: &Tok) -> Result<bool, PatternError> {
        Ok(self.peek()? == tok)
    }

    fn eat(&mut self, tok: &Tok) -> Result<Option<Token>, PatternError> {
        if self.peek_is(tok)? {
            self.bump().map(Some)
        } else {
            Ok(None)
        }
    }

    /// `expected ']' at offset N`
    fn expect(&mut self, tok: Tok, shown: &str) -> Result<Token, PatternError> {
        let t = self.bump()?;
        if t.tok == tok {
            Ok(t)
        } else {
            Err(PatternError::new(t.start, format!("expected {shown}")))
        }
    }

    /// `unexpected 'FOO' at offset N, expected …`
    fn unexpected(&self, t: &Token, expected: &str) -> PatternError {
        let found = if t.tok == Tok::Eof {
            "end of input".to_string()
        } else {
            let text = super::excerpt(self.src.get(t.start..t.end).unwrap_or(""));
            if text.contains('\'') {
                text
            } else {
                format!("'{text}'")
            }
        };
        PatternError::with_expected(t.start, format!("unexpected {found}"), expected)
    }

    fn enter(&mut self, at: usize) -> Result<(), PatternError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(PatternError::new(
                at,
                format!("nesting too deep (more than {MAX_DEPTH} levels of '(' and '[')"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- observation expressions ----

    fn followed_by(&mut self) -> Result<ObservationExpression, PatternError> {
        let mut items = vec![self.or()?];
        while self.eat(&Tok::Kw(Keyword::FollowedBy))?.is_some() {
            items.push(self.or()?);
        }
        Ok(join(items, ObservationExpression::FollowedBy))
    }

    fn or(&mut self) -> Result<ObservationExpression, PatternError> {
        let mut items = vec![self.and()?];
        while self.eat(&Tok::Kw(Keyword::Or))?.is_some() {
            items.push(self.and()?);
        }
        Ok(join(items, ObservationExpression::Or))
    }

    fn and(&mut self) -> Result<ObservationExpression, PatternError> {
        let mut items = vec![self.qualified()?];
        while self.eat(&Tok::Kw(Keyword::And))?.is_some() {
            items.push(self.qualified()?);
        }
        Ok(join(items, ObservationExpression::And))
    }

    fn qualified(&mut self) -> Result<ObservationExpression, PatternError> {
        let expression = self.primary()?;
        let mut qualifiers = Vec::new();
        let mut seen: Vec<QualifierKind> = Vec::new();
        while let Some((at, kind, q)) = self.qualifier()? {
            if seen.contains(&kind) {
                let name = match kind {
                    QualifierKind::Within => "WITHIN",
                    QualifierKind::Repeats => "REPEATS",
                    QualifierKind::StartStop => "START/STOP",
                };
                return Err(PatternError::new(
                    at,
                    format!(
                        "duplicate {name} qualifier (an observation expression may have at most \
                         one qualifier of each type)"
                    ),
                ));
            }
            seen.push(kind);
            qualifiers.push(q);
        }
        if qualifiers.is_empty() {
            Ok(expression)
        } else {
            Ok(ObservationExpression::Qualified { expression: Box::new(expression), qualifiers })
        }
    }

    fn primary(&mut self) -> Result<ObservationExpression, PatternError> {
        let t = self.bump()?;
        match t.tok {
            Tok::LBrack => {
                self.enter(t.start)?;
                let c = self.cmp_or()?;
                self.expect(Tok::RBrack, "']'")?;
                self.leave();
                satisfiable_types(&c)?;
                Ok(ObservationExpression::Observation(c))
            }
            Tok::LParen => {
                self.enter(t.start)?;
                let e = self.followed_by()?;
                self.expect(Tok::RParen, "')'")?;
                self.leave();
                Ok(e)
            }
            _ => Err(self.unexpected(&t, "'[' or '('")),
        }
    }

    fn qualifier(&mut self) -> Result<Option<(usize, QualifierKind, Qualifier)>, PatternError> {
        let kind = match self.peek()? {
            Tok::Kw(Keyword::Within) => QualifierKind::Within,
            Tok::Kw(Keyword::Repeats) => QualifierKind::Repeats,
            Tok::Kw(Keyword::Start) => QualifierKind::StartStop,
            _ => return Ok(None),
        };
        let at = self.bump()?.start;
        let q = match kind {
            QualifierKind::Within => {
                let t = self.bump()?;
                let seconds = match t.tok {
                    Tok::Int { value, negative: false } => value as f64,
                    Tok::Float { value, negative: false } => value,
                    _ => return Err(self.unexpected(&t, "a positive number of seconds")),
                };
                if seconds <= 0.0 {
                    return Err(PatternError::new(t.start, "WITHIN requires a positive number of seconds"));
                }
                self.expect(Tok::Kw(Keyword::Seconds), "SECONDS")?;
                Qualifier::Within(seconds)
            }
            QualifierKind::Repeats => {
                let t = self.bump()?;
                let n = match t.tok {
                    Tok::Int { value, negative: false } => u64::try_from(value).unwrap_or(0),
                    _ => return Err(self.unexpected(&t, "a positive integer")),
                };
                if n == 0 {
                    return Err(PatternError::new(t.start, "REPEATS requires a positive integer"));
                }
                self.expect(Tok::Kw(Keyword::Times), "TIMES")?;
                Qualifier::Repeats(n)
            }
            QualifierKind::StartStop => {
                let start = self.timestamp()?;
                self.expect(Tok::Kw(Keyword::Stop), "STOP")?;
                let stop = self.timestamp()?;
                Qualifier::StartStop { start, stop }
            }
        };
        Ok(Some((at, kind, q)))
    }

    fn timestamp(&mut self) -> Result<String, PatternError> {
        let t = self.bump()?;
        match t.tok {
            Tok::Timestamp(s) => Ok(s),
            _ => Err(self.unexpected(&t, "a timestamp t'YYYY-MM-DDTHH:MM:SSZ'")),
        }
    }

    // ---- comparison expressions ----

    fn cmp_or(&mut self) -> Result<ComparisonExpression, PatternError> {
        let mut items = vec![self.cmp_and()?];
        while self.eat(&Tok::Kw(Keyword::Or))?.is_some() {
            items.push(self.cmp_and()?);
        }
        Ok(join(items, ComparisonExpression::Or))
    }

    fn cmp_and(&mut self) -> Result<ComparisonExpression, PatternError> {
        let mut items = vec![self.prop_test()?];
        while self.eat(&Tok::Kw(Keyword::And))?.is_some() {
            items.push(self.prop_test()?);
        }
        Ok(join(items, ComparisonExpression::And))
    }

    fn prop_test(&mut self) -> Result<ComparisonExpression, PatternError> {
        let comparison = |path, negated, operator, operand| {
            Ok(ComparisonExpression::Comparison(Comparison { path, negated, operator, operand }))
        };
        match self.peek()? {
            Tok::LParen => {
                let t = self.bump()?;
                self.enter(t.start)?;
                let c = self.cmp_or()?;
                self.expect(Tok::RParen, "')'")?;
                self.leave();
                Ok(c)
            }
            Tok::Kw(Keyword::Not) | Tok::Kw(Keyword::Exists) => {
                let negated = self.eat(&Tok::Kw(Keyword::Not))?.is_some();
                let t = self.bump()?;
                if t.tok != Tok::Kw(Keyword::Exists) {
                    return Err(self.unexpected(&t, "EXISTS"));
                }
                let path = self.object_path()?;
                comparison(path, negated, Operator::Exists, Operand::None)
            }
            Tok::Ident(_) | Tok::IdentHyphen(_) => {
                let path = self.object_path()?;
                let negated = self.eat(&Tok::Kw(Keyword::Not))?.is_some();
                let t = self.bump()?;
                let operator = match t.tok {
                    Tok::Eq => Operator::Equal,
                    Tok::Neq => Operator::NotEqual,
                    Tok::Lt => Operator::Less,
                    Tok::Le => Operator::LessOrEqual,
                    Tok::Gt => Operator::Greater,
                    Tok::Ge => Operator::GreaterOrEqual,
                    Tok::Kw(Keyword::In) => Operator::In,
                    Tok::Kw(Keyword::Like) => Operator::Like,
                    Tok::Kw(Keyword::Matches) => Operator::Matches,
                    Tok::Kw(Keyword::IsSubset) => Operator::IsSubset,
                    Tok::Kw(Keyword::IsSuperset) => Operator::IsSuperset,
                    _ => return Err(self.unexpected(&t, "a comparison operator")),
                };
                let operand = match operator {
                    Operator::Equal | Operator::NotEqual => Operand::Literal(self.literal(true, "a literal")?),
                    Operator::Less | Operator::LessOrEqual | Operator::Greater | Operator::GreaterOrEqual => {
                        Operand::Literal(self.literal(false, "a number, string, timestamp, binary or hex literal")?)
                    }
                    Operator::In => Operand::Set(self.set()?),
                    _ => {
                        let t = self.bump()?;
                        match t.tok {
                            Tok::Str(s) => Operand::Literal(Literal::String(s)),
                            _ => return Err(self.unexpected(&t, "a string literal")),
                        }
                    }
                };
                comparison(path, negated, operator, operand)
            }
            _ => {
                let t = self.bump()?;
                Err(self.unexpected(&t, "an object path, '(', NOT or EXISTS"))
            }
        }
    }

    fn object_path(&mut self) -> Result<ObjectPath, PatternError> {
        let t = self.bump()?;
        let object_type = match t.tok {
            Tok::Ident(s) | Tok::IdentHyphen(s) => s,
            _ => return Err(self.unexpected(&t, "an object type")),
        };
        let offset = t.start;
        self.expect(Tok::Colon, "':' after the object type")?;
        let t = self.bump()?;
        let property_offset = t.start;
        let property = self.key(t)?;
        let mut steps = Vec::new();
        loop {
            match self.peek()? {
                Tok::Dot => {
                    self.bump()?;
                    let t = self.bump()?;
                    steps.push(PathComponent::Key(self.key(t)?));
                }
                Tok::LBrack => {
                    self.bump()?;
                    let t = self.bump()?;
                    steps.push(match t.tok {
                        Tok::Int { value, .. } => PathComponent::Index(value),
                        Tok::Asterisk => PathComponent::AnyIndex,
                        _ => return Err(self.unexpected(&t, "a list index or '*'")),
                    });
                    self.expect(Tok::RBrack, "']'")?;
                }
                _ => break,
            }
        }
        Ok(ObjectPath { object_type, property, steps, offset, property_offset })
    }

    fn key(&self, t: Token) -> Result<String, PatternError> {
        match t.tok {
            Tok::Ident(s) | Tok::Str(s) => Ok(s),
            Tok::IdentHyphen(ref s) => {
                Err(PatternError::new(t.start, format!("property name '{s}' contains '-' and must be quoted")))
            }
            _ => Err(self.unexpected(&t, "a property name")),
        }
    }

    fn literal(&mut self, allow_bool: bool, expected: &str) -> Result<Literal, PatternError> {
        let t = self.bump()?;
        Ok(match t.tok {
            Tok::Str(s) => Literal::String(s),
            Tok::Int { value, .. } => Literal::Integer(value),
            Tok::Float { value, .. } => Literal::Float(value),
            Tok::Bool(b) if allow_bool => Literal::Boolean(b),
            Tok::Timestamp(s) => Literal::Timestamp(s),
            Tok::Binary(s) => Literal::Binary(s),
            Tok::Hex(s) => Literal::Hex(s),
            _ => return Err(self.unexpected(&t, expected)),
        })
    }

    fn set(&mut self) -> Result<Vec<Literal>, PatternError> {
        let t = self.bump()?;
        if t.tok != Tok::LParen {
            return Err(self.unexpected(&t, "'(' to start the set"));
        }
        let mut items: Vec<Literal> = Vec::new();
        if self.eat(&Tok::RParen)?.is_some() {
            return Ok(items);
        }
        loop {
            let at = self.peek_start()?;
            let lit = self.literal(true, "a literal")?;
            if let Some(first) = items.first() {
                if first.kind() != lit.kind() {
                    return Err(PatternError::new(
                        at,
                        format!(
                            "all constants in an IN set must have the same type, found {} after {}",
                            lit.kind(),
                            first.kind()
                        ),
                    ));
                }
            }
            items.push(lit);
            let t = self.bump()?;
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => return Ok(items),
                _ => return Err(self.unexpected(&t, "',' or ')'")),
            }
        }
    }
}

fn first_path(e: &ComparisonExpression) -> Option<&ObjectPath> {
    match e {
        ComparisonExpression::Comparison(c) => Some(&c.path),
        ComparisonExpression::And(items) | ComparisonExpression::Or(items) => items.first().and_then(first_path),
    }
}

/// The object types that could satisfy `e` on their own: a comparison needs its own type, OR
/// accepts any of its operands' types, AND needs a type common to all operands. An AND whose
/// operands have no type in common can never be satisfied by one object, which section 9.5
/// forbids ("All operands of AND in an Observation Expression MUST be satisfiable with the
/// same object").
fn satisfiable_types(e: &ComparisonExpression) -> Result<BTreeSet<&str>, PatternError> {
    match e {
        ComparisonExpression::Comparison(c) => Ok(BTreeSet::from([c.path.object_type.as_str()])),
        ComparisonExpression::Or(items) => {
            let mut all = BTreeSet::new();
            for item in items {
                all.extend(satisfiable_types(item)?);
            }
            Ok(all)
        }
        ComparisonExpression::And(items) => {
            let mut common: Option<BTreeSet<&str>> = None;
            for item in items {
                let types = satisfiable_types(item)?;
                let Some(acc) = common else {
                    common = Some(types);
                    continue;
                };
                let both: BTreeSet<&str> = acc.intersection(&types).copied().collect();
                if both.is_empty() {
                    let offset = first_path(item).map_or(0, |p| p.offset);
                    let list = |s: &BTreeSet<&str>| {
                        let mut names: Vec<String> =
                            s.iter().take(3).map(|t| format!("'{}'", super::excerpt(t))).collect();
                        if s.len() > 3 {
                            names.push("…".to_string());
                        }
                        names.join(" or ")
                    };
                    return Err(PatternError::new(
                        offset,
                        format!(
                            "comparisons joined by AND must apply to the same object, but this \
                             one is on {} and the preceding ones on {} (use OR, or separate \
                             observation expressions)",
                            list(&types),
                            list(&acc)
                        ),
                    ));
                }
                common = Some(both);
            }
            Ok(common.unwrap_or_default())
        }
    }
}
