//! Tokeniser for STIX patterns, following the lexer rules of `STIXPattern.g4`.
//!
//! Tokens are produced on demand (the parser pulls one at a time), so the first error reported
//! is the first one in input order, whether it is lexical or syntactic.
//!
//! Notes on the grammar's lexer rules and how they are mirrored here:
//! * ANTLR picks the longest match, and among equal lengths the first rule. So `AND` is a
//!   keyword, `ANDx` and `AND-x` are identifiers, `true`/`false` are booleans, and a name with a
//!   hyphen is an `IdentifierWithHyphen` (valid only as an object type).
//! * `t'…'`, `b'…'` and `h'…'` are typed literals. When their content is malformed ANTLR falls
//!   back to an identifier followed by a string, which no parser rule accepts; we report the
//!   malformed literal directly instead, which rejects exactly the same inputs.
//! * Signs belong to numbers (`-5` is one `IntNegLiteral`); a lone `+`, `-`, `/`, `^` or any
//!   other character no parser rule uses is reported as an unexpected character.
//! * Whitespace is the grammar's list, which is exactly Unicode `White_Space`; `/* … */` and
//!   `// …` comments are skipped like whitespace.

use super::{excerpt, PatternError};

/// Largest magnitude of a STIX integer: the spec (section 2, "integer") limits integers to
/// 54-bit signed values, [-(2^53)+1, (2^53)-1], and section 9.2 applies that range to patterns.
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    /// Reserved by the grammar's lexer but used by no parser rule.
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
}

/// Every word the lexer does not treat as an identifier (keywords are case-sensitive).
pub(crate) const RESERVED_WORDS: [&str; 19] = [
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "LAST",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
    "true",
    "false",
];

fn keyword(word: &str) -> Option<Keyword> {
    Some(match word {
        "AND" => Keyword::And,
        "OR" => Keyword::Or,
        "NOT" => Keyword::Not,
        "FOLLOWEDBY" => Keyword::FollowedBy,
        "LIKE" => Keyword::Like,
        "MATCHES" => Keyword::Matches,
        "ISSUPERSET" => Keyword::IsSuperset,
        "ISSUBSET" => Keyword::IsSubset,
        "EXISTS" => Keyword::Exists,
        "LAST" => Keyword::Last,
        "IN" => Keyword::In,
        "START" => Keyword::Start,
        "STOP" => Keyword::Stop,
        "SECONDS" => Keyword::Seconds,
        "WITHIN" => Keyword::Within,
        "REPEATS" => Keyword::Repeats,
        "TIMES" => Keyword::Times,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `IdentifierWithoutHyphen` that is not a reserved word.
    Ident(String),
    /// `IdentifierWithHyphen` (contains at least one `-`).
    IdentHyphen(String),
    Kw(Keyword),
    Bool(bool),
    /// `IntPosLiteral` / `IntNegLiteral`; `negative` records which (so `-0` is negative).
    Int {
        value: i64,
        negative: bool,
    },
    /// `FloatPosLiteral` / `FloatNegLiteral`.
    Float {
        value: f64,
        negative: bool,
    },
    /// Unescaped content of a `StringLiteral`.
    Str(String),
    /// Content between the quotes of `t'…'`, already validated.
    Timestamp(String),
    /// Content between the quotes of `b'…'`, already validated.
    Binary(String),
    /// Content between the quotes of `h'…'`, already validated.
    Hex(String),
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Colon,
    Dot,
    Comma,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Asterisk,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offsets of the token in the input.
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

/// The grammar's `WS` rule; identical to Unicode `White_Space`.
fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_char_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn bump_char(&mut self) -> Option<char> {
        let c = self.peek_char()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_trivia(&mut self) -> Result<(), PatternError> {
        loop {
            let rest = self.rest();
            if let Some(c) = rest.chars().next().filter(|c| is_ws(*c)) {
                self.pos += c.len_utf8();
            } else if rest.starts_with("/*") {
                match rest.get(2..).and_then(|r| r.find("*/")) {
                    Some(i) => self.pos += 2 + i + 2,
                    None => return Err(PatternError::new(self.pos, "unterminated comment")),
                }
            } else if rest.starts_with("//") {
                let len = rest.find(['\r', '\n']).unwrap_or(rest.len());
                self.pos += len;
            } else {
                return Ok(());
            }
        }
    }

    pub fn next_token(&mut self) -> Result<Token, PatternError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(Token { tok: Tok::Eof, start, end: start });
        };
        let next = self.peek_char_at(1);
        let single = |tok| (tok, 1usize);
        let (tok, len) = match c {
            '[' => single(Tok::LBrack),
            ']' => single(Tok::RBrack),
            '(' => single(Tok::LParen),
            ')' => single(Tok::RParen),
            ':' => single(Tok::Colon),
            ',' => single(Tok::Comma),
            '*' => single(Tok::Asterisk),
            '=' if next == Some('=') => (Tok::Eq, 2),
            '=' => single(Tok::Eq),
            '!' if next == Some('=') => (Tok::Neq, 2),
            '<' if next == Some('=') => (Tok::Le, 2),
            '<' if next == Some('>') => (Tok::Neq, 2),
            '<' => single(Tok::Lt),
            '>' if next == Some('=') => (Tok::Ge, 2),
            '>' => single(Tok::Gt),
            '\'' => return self.string(start),
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => return self.number(start),
            '.' => single(Tok::Dot),
            '0'..='9' => return self.number(start),
            '+' | '-'
                if next.is_some_and(|n| n.is_ascii_digit())
                    || (next == Some('.') && self.peek_char_at(2).is_some_and(|n| n.is_ascii_digit())) =>
            {
                return self.number(start)
            }
            c if is_ident_start(c) => return self.word(start),
            c => {
                return Err(PatternError::new(start, format!("unexpected character {c:?}")));
            }
        };
        self.pos += len;
        Ok(Token { tok, start, end: self.pos })
    }

    fn token(&self, tok: Tok, start: usize) -> Result<Token, PatternError> {
        Ok(Token { tok, start, end: self.pos })
    }

    fn eat_digits(&mut self) -> &'a str {
        let from = self.pos;
        while self.peek_char().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.src.get(from..self.pos).unwrap_or("")
    }

    fn number(&mut self, start: usize) -> Result<Token, PatternError> {
        let negative = self.peek_char() == Some('-');
        if matches!(self.peek_char(), Some('+' | '-')) {
            self.pos += 1;
        }
        let int_digits = self.eat_digits();
        let is_float = self.peek_char() == Some('.') && self.peek_char_at(1).is_some_and(|c| c.is_ascii_digit());
        if is_float {
            self.pos += 1;
            self.eat_digits();
            let text = self.src.get(start..self.pos).unwrap_or("");
            return match text.parse::<f64>() {
                Ok(value) if value.is_finite() => self.token(Tok::Float { value, negative }, start),
                _ => Err(PatternError::new(start, format!("float literal '{}' is out of range", excerpt(text)))),
            };
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        if int_digits.len() > 1 && int_digits.starts_with('0') {
            return Err(PatternError::new(
                start,
                format!("invalid integer literal '{}': leading zeros are not allowed", excerpt(text)),
            ));
        }
        let magnitude = int_digits.parse::<u64>().ok().filter(|m| *m <= MAX_SAFE_INTEGER).ok_or_else(|| {
            PatternError::new(
                start,
                format!(
                    "integer literal '{}' is out of range (STIX integers must be within \
                         ±{MAX_SAFE_INTEGER})",
                    excerpt(text)
                ),
            )
        })?;
        // magnitude <= 2^53 - 1, so the conversion and negation cannot overflow.
        let value = i64::try_from(magnitude).unwrap_or(i64::MAX);
        let value = if negative { -value } else { value };
        self.token(Tok::Int { value, negative }, start)
    }

    fn word(&mut self, start: usize) -> Result<Token, PatternError> {
        while self.peek_char().is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        let text = self.src.get(start..self.pos).unwrap_or("");
        if self.peek_char() == Some('\'') && matches!(text, "t" | "b" | "h") {
            return self.typed_literal(start, text);
        }
        let tok = if text.contains('-') {
            Tok::IdentHyphen(text.to_string())
        } else if let Some(kw) = keyword(text) {
            Tok::Kw(kw)
        } else if text == "true" || text == "false" {
            Tok::Bool(text == "true")
        } else {
            Tok::Ident(text.to_string())
        };
        self.token(tok, start)
    }

    /// `t'…'`, `b'…'`, `h'…'`: the content runs to the next apostrophe (none of the three
    /// formats allows an apostrophe or an escape inside).
    fn typed_literal(&mut self, start: usize, prefix: &str) -> Result<Token, PatternError> {
        let kind = match prefix {
            "t" => "timestamp",
            "b" => "binary",
            _ => "hex",
        };
        self.pos += 1; // the opening apostrophe
        let content_start = self.pos;
        let Some(len) = self.rest().find('\'') else {
            return Err(PatternError::new(start, format!("unterminated {kind} literal")));
        };
        let content = self.src.get(content_start..content_start + len).unwrap_or("");
        self.pos = content_start + len + 1;
        let invalid = |why: &str| {
            PatternError::new(start, format!("invalid {kind} literal {prefix}'{}': {why}", excerpt(content)))
        };
        let tok = match prefix {
            "t" => {
                validate_timestamp(content).map_err(invalid)?;
                Tok::Timestamp(content.to_string())
            }
            "b" => {
                validate_base64(content).map_err(invalid)?;
                Tok::Binary(content.to_string())
            }
            _ => {
                validate_hex(content).map_err(invalid)?;
                Tok::Hex(content.to_string())
            }
        };
        self.token(tok, start)
    }

    fn string(&mut self, start: usize) -> Result<Token, PatternError> {
        self.pos += 1; // opening apostrophe
        let mut value = String::new();
        loop {
            let at = self.pos;
            match self.bump_char() {
                None => return Err(PatternError::new(start, "unterminated string literal")),
                Some('\'') => return self.token(Tok::Str(value), start),
                Some('\\') => match self.bump_char() {
                    Some(c @ ('\'' | '\\')) => value.push(c),
                    None => return Err(PatternError::new(start, "unterminated string literal")),
                    Some(c) => {
                        return Err(PatternError::new(
                            at,
                            format!(
                                "invalid escape sequence '\\{}' in string literal (only \\' and \\\\ \
                                 are allowed)",
                                c.escape_debug()
                            ),
                        ))
                    }
                },
                Some(c) => value.push(c),
            }
        }
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The grammar's `TimestampLiteral` body, `YYYY-MM-DDTHH:MM:SS[.s+]Z` with month 01-12, day
/// 01-31, hour 00-23, minute 00-59, second 00-60; additionally the day must exist in that month
/// (RFC 3339 section 5.7, which STIX section 2.16 requires), so `2016-02-30` is rejected.
pub(crate) fn validate_timestamp(s: &str) -> Result<(), &'static str> {
    const FORMAT: &str = "expected YYYY-MM-DDTHH:MM:SS[.s+]Z";
    let b = s.as_bytes();
    let digits =
        |from: usize, len: usize| -> Result<u32, &'static str> {
            let part = b.get(from..from + len).ok_or(FORMAT)?;
            part.iter().try_fold(0u32, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + u32::from(c - b'0'))
                } else {
                    Err(FORMAT)
                }
            })
        };
    let sep = |at: usize, want: u8| {
        if b.get(at) == Some(&want) {
            Ok(())
        } else {
            Err(FORMAT)
        }
    };
    let year = digits(0, 4)?;
    sep(4, b'-')?;
    let month = digits(5, 2)?;
    sep(7, b'-')?;
    let day = digits(8, 2)?;
    sep(10, b'T')?;
    let hour = digits(11, 2)?;
    sep(13, b':')?;
    let minute = digits(14, 2)?;
    sep(16, b':')?;
    let second = digits(17, 2)?;
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac_start {
            return Err("a '.' must be followed by fractional-second digits");
        }
    }
    if b.get(i) != Some(&b'Z') || i + 1 != b.len() {
        return Err("expected YYYY-MM-DDTHH:MM:SS[.s+]Z ending in 'Z' (UTC)");
    }
    if !(1..=12).contains(&month) {
        return Err("month must be 01-12");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day does not exist in that month");
    }
    if hour > 23 {
        return Err("hour must be 00-23");
    }
    if minute > 59 {
        return Err("minute must be 00-59");
    }
    if second > 60 {
        return Err("second must be 00-60");
    }
    Ok(())
}

fn is_base64_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// The grammar's `BinaryLiteral` body: one or more groups of four base64 characters, the last
/// of which may end in `=` or `==`. Line feeds are ignored, as section 9.2 of the spec requires
/// ("Line feeds in the base64 encoded data MUST be supported and ignored"); the grammar itself
/// has no provision for them.
pub(crate) fn validate_base64(s: &str) -> Result<(), &'static str> {
    let chars: Vec<u8> = s.bytes().filter(|&c| c != b'\n').collect();
    if chars.is_empty() {
        return Err("empty (the grammar requires at least one group of four characters)");
    }
    if !chars.len().is_multiple_of(4) {
        return Err("length must be a multiple of 4");
    }
    let pad = chars.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return Err("at most two '=' padding characters are allowed");
    }
    let body = chars.get(..chars.len() - pad).unwrap_or(&[]);
    if let Some(&bad) = body.iter().find(|&&c| !is_base64_char(c)) {
        return Err(if bad == b'=' {
            "'=' is only allowed as padding at the end"
        } else {
            "only A-Z, a-z, 0-9, '+', '/' and trailing '=' are allowed"
        });
    }
    Ok(())
}

/// The grammar's `HexLiteral` body: pairs of hex digits (possibly none).
pub(crate) fn validate_hex(s: &str) -> Result<(), &'static str> {
    if !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err("only hex digits 0-9, a-f, A-F are allowed");
    }
    if !s.len().is_multiple_of(2) {
        return Err("odd number of hex digits");
    }
    Ok(())
}
