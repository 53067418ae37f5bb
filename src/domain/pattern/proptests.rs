//! Property tests: the parser never panics (20,000 generated inputs in total, counted), every
//! accepted input prints back to an equal AST, and random valid ASTs round-trip through text.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::lexer::{MAX_SAFE_INTEGER, RESERVED_WORDS};
use super::tests::{without_offsets, SPEC_EXAMPLES};
use super::*;

const ARBITRARY_CASES: u32 = 8_000;
const TOKEN_CASES: u32 = 6_000;
const TOKEN_EDIT_CASES: u32 = 2_000;
const MUTATION_CASES: u32 = 4_000;
const ROUND_TRIP_CASES: u32 = 3_000;

fn config(cases: u32) -> Config {
    // No persistence: failures are reported by the test output, not written to disk.
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Whatever the input, `parse` returns; errors point inside the input and name their offset;
/// successes survive the other entry points and print back to an equal AST.
fn exercise(input: &str) -> Result<(), TestCaseError> {
    match parse(input) {
        Ok(p) => {
            let _ = check_objects(&p, false);
            let _ = check_objects(&p, true);
            let _ = observables(&p);
            let text = p.to_string();
            let again = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?} (from {input:?}): {e}")))?;
            prop_assert_eq!(without_offsets(&again), without_offsets(&p), "printed as {:?}", text);
        }
        Err(e) => {
            prop_assert!(e.offset <= input.len(), "{:?} for {:?}", e, input);
            prop_assert!(input.is_char_boundary(e.offset), "{:?} for {:?}", e, input);
            let at = format!("at offset {}", e.offset);
            prop_assert!(e.message.contains(&at), "{:?}", e);
        }
    }
    Ok(())
}

fn run_counted<S: Strategy<Value = String>>(name: &str, cases: u32, strategy: S) {
    let count = AtomicUsize::new(0);
    let accepted = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&strategy, |input| {
        count.fetch_add(1, Ordering::Relaxed);
        if parse(&input).is_ok() {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        exercise(&input)
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let (count, accepted) = (count.into_inner(), accepted.into_inner());
    eprintln!("pattern fuzz {name}: {count} inputs, {accepted} accepted");
    assert!(count >= cases as usize, "{name}: only {count} cases ran");
}

#[test]
fn fuzz_arbitrary_strings() {
    run_counted("arbitrary strings", ARBITRARY_CASES, ".{0,200}");
}

const TOKENS: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    "[*]",
    "[0]",
    "[-1]",
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    ":",
    ".",
    ",",
    "*",
    "+",
    "-",
    "'",
    "\\",
    "'a'",
    "'it\\'s'",
    "'\\\\'",
    "'unterminated",
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "IN",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
    "EXISTS",
    "LAST",
    "WITHIN",
    "SECONDS",
    "REPEATS",
    "TIMES",
    "START",
    "STOP",
    "and",
    "ipv4-addr:value",
    "file:hashes.'SHA-256'",
    "file:name",
    "x:y",
    "x-custom:a.b",
    "file",
    "value",
    "t",
    "b",
    "h",
    "0",
    "5",
    "-1",
    "+2",
    "007",
    "1.5",
    "-.5",
    ".",
    "9007199254740992",
    "true",
    "false",
    "t'2016-01-01T00:00:00Z'",
    "t'2016-02-30T00:00:00Z'",
    "t'",
    "b'AAAA'",
    "b'QQ=='",
    "b'A'",
    "h'0a'",
    "h'0'",
    "/*",
    "*/",
    "//",
    "\n",
    " ",
    "\t",
    "\u{3000}",
    "é",
    "\u{0}",
    "🦀",
    // Larger well-formed pieces, so that a fair share of sequences parse.
    "[x:y = 1]",
    "[ipv4-addr:value = '10.0.0.1'",
    "x:y = 'a'",
    "x:y IN (1, 2)",
    "EXISTS x:y",
    "x:y NOT LIKE 'a%'",
    " AND ",
    " OR ",
    " FOLLOWEDBY ",
    " WITHIN 5 SECONDS",
    " REPEATS 2 TIMES",
    " START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'",
];

#[test]
fn fuzz_token_sequences() {
    let token = prop::sample::select(TOKENS);
    let strategy = (prop::collection::vec(token, 0..24), any::<bool>())
        .prop_map(|(tokens, spaced)| tokens.join(if spaced { " " } else { "" }));
    run_counted("token sequences", TOKEN_CASES, strategy);
}

/// Valid patterns (printed random ASTs) with a few token-level edits: near-valid input.
#[test]
fn fuzz_token_edits_of_valid_patterns() {
    let edit = (0u8..5, any::<prop::sample::Index>(), prop::sample::select(TOKENS));
    let strategy = (arb_pattern(), prop::collection::vec(edit, 0..3)).prop_map(|(ast, edits)| {
        let text = ast.to_string();
        let mut tokens: Vec<&str> = text.split(' ').collect();
        for (kind, at, token) in edits {
            let i = at.index(tokens.len());
            match kind {
                0 => {
                    tokens.remove(i);
                }
                1 => tokens.insert(i, token),
                2 => tokens[i] = token,
                3 => tokens.insert(i, tokens[i]),
                _ if i + 1 < tokens.len() => tokens.swap(i, i + 1),
                _ => {}
            }
            if tokens.is_empty() {
                break;
            }
        }
        tokens.join(" ")
    });
    run_counted("token edits of valid patterns", TOKEN_EDIT_CASES, strategy);
}

#[test]
fn fuzz_mutated_spec_examples() {
    let alphabet: Vec<char> = "[]()'\\=!<>:.,*+-_ aAzZ09tbhNOTANDOR\u{0}é\n".chars().collect();
    let edit = (0u8..3, any::<prop::sample::Index>(), prop::sample::select(alphabet));
    let strategy =
        (prop::sample::select(SPEC_EXAMPLES), prop::collection::vec(edit, 1..4)).prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (kind, at, c) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect::<String>()
        });
    run_counted("mutated spec examples", MUTATION_CASES, strategy);
}

// ---- random valid ASTs ----

fn arb_type() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["ipv4-addr", "file", "x-usb-device", "t", "AND-x", "_"]).prop_map(String::from),
        "[a-zA-Z_][a-zA-Z0-9_-]{0,10}".prop_filter("reserved word", |s| { !RESERVED_WORDS.contains(&s.as_str()) }),
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,8}",
        ".{0,8}",
        prop::sample::select(vec!["SHA-256", "IN", "true", "t", "it's", "a\\b", ""]).prop_map(String::from),
    ]
}

fn arb_step() -> impl Strategy<Value = PathComponent> {
    let max = MAX_SAFE_INTEGER as i64;
    prop_oneof![
        arb_key().prop_map(PathComponent::Key),
        (-max..=max).prop_map(PathComponent::Index),
        Just(PathComponent::AnyIndex),
    ]
}

fn arb_timestamp() -> impl Strategy<Value = String> {
    (0u32..=9999, 1u32..=12, 1u32..=31, 0u32..=23, 0u32..=59, 0u32..=60, "(\\.[0-9]{1,9})?").prop_map(
        |(y, mo, d, h, mi, s, frac)| {
            let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
            let days = match mo {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            format!("{y:04}-{mo:02}-{:02}T{h:02}:{mi:02}:{s:02}{frac}Z", d.min(days))
        },
    )
}

fn arb_literal(kind: u8) -> BoxedStrategy<Literal> {
    let max = MAX_SAFE_INTEGER as i64;
    match kind {
        0 => ".{0,12}".prop_map(Literal::String).boxed(),
        1 => (-max..=max).prop_map(Literal::Integer).boxed(),
        2 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Literal::Float).boxed(),
        3 => any::<bool>().prop_map(Literal::Boolean).boxed(),
        4 => arb_timestamp().prop_map(Literal::Timestamp).boxed(),
        5 => prop::collection::vec(any::<u8>(), 1..12)
            .prop_map(|b| Literal::Binary(base64::engine::general_purpose::STANDARD.encode(b)))
            .boxed(),
        _ => (prop::collection::vec(any::<u8>(), 0..8), any::<bool>())
            .prop_map(|(bytes, upper)| {
                Literal::Hex(
                    bytes.iter().map(|b| if upper { format!("{b:02X}") } else { format!("{b:02x}") }).collect(),
                )
            })
            .boxed(),
    }
}

fn arb_operand(operator: Operator) -> BoxedStrategy<Operand> {
    match operator {
        Operator::Exists => Just(Operand::None).boxed(),
        Operator::Equal | Operator::NotEqual => (0u8..7).prop_flat_map(arb_literal).prop_map(Operand::Literal).boxed(),
        Operator::Less | Operator::LessOrEqual | Operator::Greater | Operator::GreaterOrEqual => {
            prop::sample::select(vec![0u8, 1, 2, 4, 5, 6]).prop_flat_map(arb_literal).prop_map(Operand::Literal).boxed()
        }
        Operator::In => {
            (0u8..7).prop_flat_map(|k| prop::collection::vec(arb_literal(k), 0..4)).prop_map(Operand::Set).boxed()
        }
        _ => arb_literal(0).prop_map(Operand::Literal).boxed(),
    }
}

fn arb_comparison() -> impl Strategy<Value = Comparison> {
    let operators = vec![
        Operator::Equal,
        Operator::NotEqual,
        Operator::Less,
        Operator::LessOrEqual,
        Operator::Greater,
        Operator::GreaterOrEqual,
        Operator::In,
        Operator::Like,
        Operator::Matches,
        Operator::IsSubset,
        Operator::IsSuperset,
        Operator::Exists,
    ];
    let path =
        (arb_type(), arb_key(), prop::collection::vec(arb_step(), 0..4)).prop_map(|(object_type, property, steps)| {
            ObjectPath { object_type, property, steps, offset: 0, property_offset: 0 }
        });
    (path, any::<bool>(), prop::sample::select(operators)).prop_flat_map(|(path, negated, operator)| {
        arb_operand(operator).prop_map(move |operand| Comparison { path: path.clone(), negated, operator, operand })
    })
}

/// Spec 9.5 (enforced by the parser): everything under an AND uses one object type.
fn unify_and(e: ComparisonExpression) -> ComparisonExpression {
    fn first_type(e: &ComparisonExpression) -> String {
        match e {
            ComparisonExpression::Comparison(c) => c.path.object_type.clone(),
            ComparisonExpression::And(v) | ComparisonExpression::Or(v) => v.first().map(first_type).unwrap_or_default(),
        }
    }
    fn set_type(e: &mut ComparisonExpression, t: &str) {
        match e {
            ComparisonExpression::Comparison(c) => c.path.object_type = t.to_string(),
            ComparisonExpression::And(v) | ComparisonExpression::Or(v) => v.iter_mut().for_each(|i| set_type(i, t)),
        }
    }
    match e {
        ComparisonExpression::And(mut v) => {
            let t = v.first().map(first_type).unwrap_or_default();
            v.iter_mut().for_each(|i| set_type(i, &t));
            ComparisonExpression::And(v)
        }
        ComparisonExpression::Or(v) => ComparisonExpression::Or(v.into_iter().map(unify_and).collect()),
        c => c,
    }
}

fn arb_comparison_expression() -> impl Strategy<Value = ComparisonExpression> {
    arb_comparison()
        .prop_map(ComparisonExpression::Comparison)
        .prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(ComparisonExpression::And),
                prop::collection::vec(inner, 2..4).prop_map(ComparisonExpression::Or),
            ]
        })
        .prop_map(unify_and)
}

fn arb_qualifiers() -> impl Strategy<Value = Vec<Qualifier>> {
    let within = prop_oneof![
        (1u32..100_000).prop_map(f64::from),
        any::<f64>().prop_map(f64::abs).prop_filter("positive, finite", |f| f.is_finite() && *f > 0.0),
    ];
    let repeats = 1..=MAX_SAFE_INTEGER;
    let start_stop = (arb_timestamp(), arb_timestamp());
    (within, repeats, start_stop, prop::sample::subsequence(vec![0, 1, 2], 1..=3).prop_shuffle()).prop_map(
        |(w, r, (start, stop), order)| {
            order
                .into_iter()
                .map(|i| match i {
                    0 => Qualifier::Within(w),
                    1 => Qualifier::Repeats(r),
                    _ => Qualifier::StartStop { start: start.clone(), stop: stop.clone() },
                })
                .collect()
        },
    )
}

fn arb_pattern() -> impl Strategy<Value = Pattern> {
    arb_comparison_expression()
        .prop_map(ObservationExpression::Observation)
        .prop_recursive(4, 16, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpression::And),
                prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpression::Or),
                prop::collection::vec(inner.clone(), 2..4).prop_map(ObservationExpression::FollowedBy),
                (inner, arb_qualifiers()).prop_map(|(e, qualifiers)| {
                    ObservationExpression::Qualified { expression: Box::new(e), qualifiers }
                }),
            ]
        })
        .prop_map(|expression| Pattern { expression })
}

#[test]
fn random_asts_round_trip_through_text() {
    let count = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config(ROUND_TRIP_CASES));
    let result = runner.run(&arb_pattern(), |ast| {
        count.fetch_add(1, Ordering::Relaxed);
        let text = ast.to_string();
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(without_offsets(&parsed), ast, "text: {:?}", text);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("pattern round trip: {} random ASTs", count.into_inner());
}

#[test]
fn total_fuzz_cases() {
    assert_eq!(ARBITRARY_CASES + TOKEN_CASES + TOKEN_EDIT_CASES + MUTATION_CASES, 20_000);
}
