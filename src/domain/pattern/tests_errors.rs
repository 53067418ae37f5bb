//! Parser error tests: syntax, literals, qualifiers, spec rules, limits; messages and offsets
//! are asserted exactly.

use super::tests::ok;
use super::*;

#[track_caller]
fn err(input: &str) -> PatternError {
    match parse(input) {
        Ok(p) => panic!("{input:?} should be rejected, parsed as {p:?}"),
        Err(e) => {
            assert_eq!(e.to_string(), e.message);
            assert!(e.offset <= input.len());
            e
        }
    }
}

#[track_caller]
fn err_at(input: &str, offset: usize, message: &str) {
    let e = err(input);
    assert_eq!((e.offset, e.message.as_str()), (offset, message), "for {input:?}");
}

#[test]
fn syntax_errors_with_offsets() {
    err_at("[ipv4-addr:value = '1.2.3.4'", 28, "expected ']' at offset 28");
    err_at("[ipv4-addr:value = '1.2.3.4' ipv4-addr:value = '1']", 29, "expected ']' at offset 29");
    err_at("[file:name FOO 'x']", 11, "unexpected 'FOO' at offset 11, expected a comparison operator");
    err_at("[file:hashes.MD5 =? 'x']", 18, "unexpected character '?' at offset 18");
    err_at("[file:name ! 'x']", 11, "unexpected character '!' at offset 11");
    err_at(
        "[file:name = 'a'] foo",
        18,
        "unexpected 'foo' at offset 18, expected AND, OR, FOLLOWEDBY, a qualifier or the end of \
         the pattern",
    );
    err_at("[]", 1, "unexpected ']' at offset 1, expected an object path, '(', NOT or EXISTS");
    err_at("", 0, "unexpected end of input at offset 0, expected '[' or '('");
    err_at("file:size = 1280", 0, "unexpected 'file' at offset 0, expected '[' or '('");
    err_at("[file:size = ]", 13, "unexpected ']' at offset 13, expected a literal");
    err_at("[file.size = 1280]", 5, "expected ':' after the object type at offset 5");
    err_at("[file:hashes.MD5 = cead3f77]", 19, "unexpected 'cead3f77' at offset 19, expected a literal");
    err_at("[file:name MATCHES /.*/]", 19, "unexpected character '/' at offset 19");
    err_at("[file:name LIKE 5]", 16, "unexpected '5' at offset 16, expected a string literal");
    err_at(
        "[file:size < true]",
        13,
        "unexpected 'true' at offset 13, expected a number, string, timestamp, binary or hex \
         literal",
    );
    err_at("[NOT file:name = 'a']", 5, "unexpected 'file' at offset 5, expected EXISTS");
    err_at("[file:IN = 1]", 6, "unexpected 'IN' at offset 6, expected a property name");
    err_at("[file:LAST = 1]", 6, "unexpected 'LAST' at offset 6, expected a property name");
    err_at("[file:hashes.SHA-256 = 'x']", 13, "property name 'SHA-256' contains '-' and must be quoted at offset 13");
    err_at("[x:y[a] = 1]", 5, "unexpected 'a' at offset 5, expected a list index or '*'");
    err_at("[file:name = 'a'] AND", 21, "unexpected end of input at offset 21, expected '[' or '('");
    err_at("([file:name = 'a']", 18, "expected ')' at offset 18");
    err_at("[(file:name = 'a']", 17, "expected ')' at offset 17");
    err_at("[file:size IN (1, 2]", 19, "unexpected ']' at offset 19, expected ',' or ')'");
    err_at("[file:size IN 1]", 14, "unexpected '1' at offset 14, expected '(' to start the set");
    // Keywords are case-sensitive.
    err_at(
        "[foo:bar = 1] within 2 seconds",
        14,
        "unexpected 'within' at offset 14, expected AND, OR, FOLLOWEDBY, a qualifier or the end \
         of the pattern",
    );
    err_at(
        "[file:name = 'a'] and [file:name = 'b']",
        18,
        "unexpected 'and' at offset 18, expected AND, OR, FOLLOWEDBY, a qualifier or the end of \
         the pattern",
    );
    assert!(err("[file:name like 'a']").message.contains("expected a comparison operator"));
    err_at("[a:b = 1] /* open", 10, "unterminated comment at offset 10");
}

#[test]
fn literal_errors_with_offsets() {
    err_at("[file:name = 'abc]", 13, "unterminated string literal at offset 13");
    err_at("[file:name = 'abc\\", 13, "unterminated string literal at offset 13");
    err_at(
        "[file:name = 'a\\nb']",
        15,
        "invalid escape sequence '\\n' in string literal (only \\' and \\\\ are allowed) at \
         offset 15",
    );
    err_at(
        "[file:ctime = t'2016-13-01T00:00:00Z']",
        14,
        "invalid timestamp literal t'2016-13-01T00:00:00Z': month must be 01-12 at offset 14",
    );
    err_at(
        "[file:ctime = t'2016-02-30T00:00:00Z']",
        14,
        "invalid timestamp literal t'2016-02-30T00:00:00Z': day does not exist in that month at \
         offset 14",
    );
    for bad in [
        "2023-02-29T00:00:00Z",
        "2016-01-32T00:00:00Z",
        "2016-01-00T00:00:00Z",
        "2016-01-01T24:00:00Z",
        "2016-01-01T00:60:00Z",
        "2016-01-01T00:00:61Z",
        "2016-01-01T00:00:00",
        "2016-01-01T00:00:00+01:00",
        "2016-01-01t00:00:00Z",
        "2016-01-01T00:00:00.Z",
        "2016-1-01T00:00:00Z",
        "16-01-01T00:00:00Z",
        "not-a-timestamp",
        "",
        "2016-01-01T00:00:00Zé",
    ] {
        let e = err(&format!("[file:ctime = t'{bad}']"));
        assert_eq!(e.offset, 14, "{bad}");
        assert!(e.message.starts_with("invalid timestamp literal"), "{bad}: {e}");
    }
    err_at("[x:y = t'2016-01-01T00:00:00Z", 7, "unterminated timestamp literal at offset 7");
    err_at("[file:magic_number_hex = h'abc']", 25, "invalid hex literal h'abc': odd number of hex digits at offset 25");
    err_at(
        "[file:magic_number_hex = h'zz']",
        25,
        "invalid hex literal h'zz': only hex digits 0-9, a-f, A-F are allowed at offset 25",
    );
    err_at(
        "[artifact:payload_bin = b'====']",
        24,
        "invalid binary literal b'====': at most two '=' padding characters are allowed at offset 24",
    );
    for bad in ["abc", "ab=c", "a===", "A", "ab c", "QQ==QQ==", "", "AB*="] {
        let e = err(&format!("[artifact:payload_bin = b'{bad}']"));
        assert_eq!(e.offset, 24, "{bad}");
        assert!(e.message.starts_with("invalid binary literal"), "{bad}: {e}");
    }
    err_at("[x:y = 007]", 7, "invalid integer literal '007': leading zeros are not allowed at offset 7");
    err_at(
        "[x:y = 9007199254740992]",
        7,
        "integer literal '9007199254740992' is out of range (STIX integers must be within \
         ±9007199254740991) at offset 7",
    );
    assert!(err("[x:y = -99999999999999999999999]").message.contains("out of range"));
    let huge = format!("[x:y = 1{}.0]", "0".repeat(400));
    let e = err(&huge);
    assert_eq!(e.offset, 7);
    assert!(e.message.starts_with("float literal '1000"), "{e}");
    assert!(e.message.contains("…' is out of range"), "{e}");
}

#[test]
fn qualifier_errors() {
    err_at("[file:name = 'a'] REPEATS 0 TIMES", 26, "REPEATS requires a positive integer at offset 26");
    err_at("[file:name = 'a'] REPEATS -1 TIMES", 26, "unexpected '-1' at offset 26, expected a positive integer");
    err_at("[file:name = 'a'] REPEATS 1.5 TIMES", 26, "unexpected '1.5' at offset 26, expected a positive integer");
    err_at("[file:name = 'a'] REPEATS 2", 27, "expected TIMES at offset 27");
    err_at("[file:name = 'a'] WITHIN 0 SECONDS", 25, "WITHIN requires a positive number of seconds at offset 25");
    err_at("[file:name = 'a'] WITHIN 0.0 SECONDS", 25, "WITHIN requires a positive number of seconds at offset 25");
    err_at(
        "[file:name = 'a'] WITHIN -5 SECONDS",
        25,
        "unexpected '-5' at offset 25, expected a positive number of seconds",
    );
    err_at("[file:name = 'a'] WITHIN 5 HOURS", 27, "expected SECONDS at offset 27");
    err_at("[file:name = 'a'] START t'2016-01-01T00:00:00Z'", 47, "expected STOP at offset 47");
    err_at(
        "[file:name = 'a'] START '2016-01-01T00:00:00Z' STOP t'2016-01-01T00:00:00Z'",
        24,
        "unexpected '2016-01-01T00:00:00Z' at offset 24, expected a timestamp t'YYYY-MM-DDTHH:MM:SSZ'",
    );
    // Spec 9.5.1: at most one qualifier of each type per observation expression.
    err_at(
        "[file:name = 'a'] WITHIN 5 SECONDS WITHIN 6 SECONDS",
        35,
        "duplicate WITHIN qualifier (an observation expression may have at most one qualifier of \
         each type) at offset 35",
    );
    assert!(err("([file:name = 'a'] REPEATS 2 TIMES REPEATS 3 TIMES)").message.starts_with("duplicate REPEATS"));
    let dup_start = "[a:b = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z' WITHIN 1 \
                     SECONDS START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z'";
    assert!(err(dup_start).message.starts_with("duplicate START/STOP"));
    // Also after parentheses (the OASIS validator does not check this case).
    assert!(err("([a:b = 1]) WITHIN 5 SECONDS WITHIN 6 SECONDS").message.starts_with("duplicate WITHIN"));
}

#[test]
fn spec_rules_beyond_the_grammar() {
    // Spec 9.5: operands of AND within one observation must be satisfiable by the same object.
    err_at(
        "[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'example.com']",
        33,
        "comparisons joined by AND must apply to the same object, but this one is on \
         'domain-name' and the preceding ones on 'ipv4-addr' (use OR, or separate observation \
         expressions) at offset 33",
    );
    let e = err("[(a:x = 1 OR b:x = 1) AND (c:x = 1 OR d:x = 1)]");
    assert_eq!(e.offset, 27);
    assert!(e.message.contains("on 'c' or 'd' and the preceding ones on 'a' or 'b'"), "{e}");
    // Allowed: different types only under OR, or an AND that one type can satisfy.
    ok("[ipv4-addr:value = '1.2.3.4' OR domain-name:value = 'example.com']");
    ok("[(a:x = 1 OR b:x = 1) AND a:y = 2]");
    ok("[(a:x = 1 AND a:y = 1) OR (b:x = 1 AND b:y = 1)]");
    ok("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'example.com']");
    // Spec 9.6.1: IN sets are homogeneous.
    err_at(
        "[file:size IN (1, 'two')]",
        18,
        "all constants in an IN set must have the same type, found string after integer at offset 18",
    );
    assert!(err("[file:size IN (1, 2.5)]").message.contains("found float after integer"));
    ok("[file:size IN (1, 2, +3, -4)]");
}

#[test]
fn nesting_limit() {
    let nested = |n: usize| format!("{}[a:b = 1]{}", "(".repeat(n), ")".repeat(n));
    ok(&nested(99)); // 99 parentheses + 1 bracket = 100 levels
    err_at(&nested(100), 100, "nesting too deep (more than 100 levels of '(' and '[') at offset 100");
    let e = err(&nested(100_000));
    assert_eq!(e.offset, 100);
    let inner = |n: usize| format!("[{}a:b = 1{}]", "(".repeat(n), ")".repeat(n));
    ok(&inner(99));
    assert_eq!(err(&inner(100)).offset, 100);
    // Long flat chains are not nesting: they stay shallow in the AST.
    let long_or = format!("[{}]", vec!["ipv4-addr:value = '10.0.0.1'"; 50_000].join(" OR "));
    let p = ok(&long_or);
    assert_eq!(observables(&p).len(), 1);
    check_objects(&p, false).unwrap();
    let long_and = vec!["[ipv4-addr:value = '10.0.0.1']"; 50_000].join(" AND ");
    assert!(matches!(ok(&long_and).expression, ObservationExpression::And(v) if v.len() == 50_000));
}
