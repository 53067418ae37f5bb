//! Parser tests: every construct, precedence, qualifiers, whitespace, the spec examples.

use super::*;

pub(super) fn without_offsets(p: &Pattern) -> Pattern {
    fn cmp(c: &mut ComparisonExpression) {
        match c {
            ComparisonExpression::Comparison(c) => {
                c.path.offset = 0;
                c.path.property_offset = 0;
            }
            ComparisonExpression::And(items) | ComparisonExpression::Or(items) => items.iter_mut().for_each(cmp),
        }
    }
    fn obs(e: &mut ObservationExpression) {
        match e {
            ObservationExpression::Observation(c) => cmp(c),
            ObservationExpression::And(items)
            | ObservationExpression::Or(items)
            | ObservationExpression::FollowedBy(items) => items.iter_mut().for_each(obs),
            ObservationExpression::Qualified { expression, .. } => obs(expression),
        }
    }
    let mut p = p.clone();
    obs(&mut p.expression);
    p
}

#[track_caller]
pub(super) fn ok(input: &str) -> Pattern {
    match parse(input) {
        Ok(p) => {
            // Every accepted pattern prints back to text that parses to the same AST.
            let text = p.to_string();
            let again = parse(&text).unwrap_or_else(|e| panic!("{text:?} does not reparse: {e}"));
            assert_eq!(without_offsets(&again), without_offsets(&p), "round trip of {input:?}");
            p
        }
        Err(e) => panic!("{input:?} should parse, got: {e}"),
    }
}

fn path(t: &str, prop: &str, steps: Vec<PathComponent>) -> ObjectPath {
    ObjectPath { object_type: t.into(), property: prop.into(), steps, offset: 0, property_offset: 0 }
}

fn cmp(t: &str, prop: &str, operator: Operator, operand: Operand) -> ComparisonExpression {
    ComparisonExpression::Comparison(Comparison { path: path(t, prop, vec![]), negated: false, operator, operand })
}

fn eq_int(t: &str, prop: &str, v: i64) -> ComparisonExpression {
    cmp(t, prop, Operator::Equal, Operand::Literal(Literal::Integer(v)))
}

/// The AST of `input` without offsets.
fn shape(input: &str) -> ObservationExpression {
    without_offsets(&ok(input)).expression
}

fn obs(c: ComparisonExpression) -> ObservationExpression {
    ObservationExpression::Observation(c)
}

/// The single comparison of a `[ … ]` pattern.
fn single(input: &str) -> Comparison {
    match ok(input).expression {
        ObservationExpression::Observation(ComparisonExpression::Comparison(c)) => c,
        other => panic!("not a single comparison: {other:?}"),
    }
}

fn literal(input: &str) -> Literal {
    match single(input).operand {
        Operand::Literal(l) => l,
        other => panic!("not a literal: {other:?}"),
    }
}

#[test]
fn simple_pattern_structure_and_offsets() {
    let p = ok("[ipv4-addr:value = '198.51.100.1/32']");
    let ObservationExpression::Observation(ComparisonExpression::Comparison(c)) = &p.expression else {
        panic!("{p:?}")
    };
    assert_eq!(c.path.object_type, "ipv4-addr");
    assert_eq!(c.path.property, "value");
    assert_eq!((c.path.offset, c.path.property_offset), (1, 11));
    assert_eq!(c.operator, Operator::Equal);
    assert_eq!(c.operand, Operand::Literal(Literal::String("198.51.100.1/32".into())));
    assert_eq!(p.to_string(), "[ipv4-addr:value = '198.51.100.1/32']");
}

#[test]
fn every_operator_with_and_without_not() {
    let cases = [
        ("=", Operator::Equal),
        ("==", Operator::Equal),
        ("!=", Operator::NotEqual),
        ("<>", Operator::NotEqual),
        ("<", Operator::Less),
        ("<=", Operator::LessOrEqual),
        (">", Operator::Greater),
        (">=", Operator::GreaterOrEqual),
        ("LIKE", Operator::Like),
        ("MATCHES", Operator::Matches),
        ("ISSUBSET", Operator::IsSubset),
        ("ISSUPERSET", Operator::IsSuperset),
    ];
    for (text, op) in cases {
        for not in ["", "NOT "] {
            let c = single(&format!("[ipv4-addr:value {not}{text} '10.0.0.0/8']"));
            assert_eq!((c.operator, c.negated), (op, !not.is_empty()), "{not}{text}");
        }
    }
    let c = single("[file:size NOT IN (1, 2, 3)]");
    assert!(c.negated);
    assert_eq!(c.operator, Operator::In);
    assert_eq!(c.operand, Operand::Set(vec![Literal::Integer(1), Literal::Integer(2), Literal::Integer(3)]));
    assert_eq!(single("[file:name IN ()]").operand, Operand::Set(vec![]));
    assert_eq!(single("[file:name IN('a')]").operand, Operand::Set(vec![Literal::String("a".into())]));
    let c = single("[EXISTS windows-registry-key:values]");
    assert_eq!((c.operator, c.negated, c.operand), (Operator::Exists, false, Operand::None));
    let c = single("[NOT EXISTS windows-registry-key:values]");
    assert_eq!((c.operator, c.negated), (Operator::Exists, true));
    assert_eq!(c.path.offset, 12);
}

#[test]
fn literals() {
    assert_eq!(literal("[x:y = 'it\\'s a \\\\ test']"), Literal::String("it's a \\ test".into()));
    assert_eq!(literal("[x:y = '']"), Literal::String(String::new()));
    assert_eq!(literal("[x:y = 'multi\nline é']"), Literal::String("multi\nline é".into()));
    assert_eq!(literal("[x:y = 42]"), Literal::Integer(42));
    assert_eq!(literal("[x:y = +42]"), Literal::Integer(42));
    assert_eq!(literal("[x:y = -42]"), Literal::Integer(-42));
    assert_eq!(literal("[x:y = 0]"), Literal::Integer(0));
    assert_eq!(literal("[x:y = -0]"), Literal::Integer(0));
    assert_eq!(literal("[x:y = 9007199254740991]"), Literal::Integer(9_007_199_254_740_991));
    assert_eq!(literal("[x:y = -9007199254740991]"), Literal::Integer(-9_007_199_254_740_991));
    assert_eq!(literal("[x:y = 7.0]"), Literal::Float(7.0));
    assert_eq!(literal("[x:y = -1.25]"), Literal::Float(-1.25));
    assert_eq!(literal("[x:y = .5]"), Literal::Float(0.5));
    assert_eq!(literal("[x:y = -.5]"), Literal::Float(-0.5));
    assert_eq!(literal("[x:y = +.5]"), Literal::Float(0.5));
    assert_eq!(literal("[x:y = 007.5]"), Literal::Float(7.5));
    assert_eq!(literal("[x:y = true]"), Literal::Boolean(true));
    assert_eq!(literal("[x:y != false]"), Literal::Boolean(false));
    for ts in [
        "2016-01-01T00:00:00Z",
        "2014-01-13T07:03:17.123456789Z",
        "2016-12-31T23:59:60Z",
        "2000-02-29T12:00:00Z",
        "2024-02-29T12:00:00.1Z",
    ] {
        assert_eq!(literal(&format!("[x:y = t'{ts}']")), Literal::Timestamp(ts.into()));
    }
    for b in ["dGhpcyBpcyBhIHRlc3Q=", "ABI=", "QQ==", "AAAA", "+/+/", "dGhp\ncyBp"] {
        assert_eq!(literal(&format!("[x:y_bin = b'{b}']")), Literal::Binary(b.into()));
    }
    for h in ["ffd8", "FFD8", "0a1B", ""] {
        assert_eq!(literal(&format!("[x:y_hex = h'{h}']")), Literal::Hex(h.into()));
    }
    // Order comparisons take any literal but booleans.
    assert_eq!(literal("[file:ctime > t'2016-01-01T00:00:00Z']"), Literal::Timestamp("2016-01-01T00:00:00Z".into()));
    assert_eq!(literal("[file:magic_number_hex < h'ff']"), Literal::Hex("ff".into()));
}

#[test]
fn object_paths() {
    let c = single("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]");
    assert_eq!(
        c.path,
        ObjectPath {
            offset: 1,
            property_offset: 6,
            ..path(
                "file",
                "extensions",
                vec![
                    PathComponent::Key("windows-pebinary-ext".into()),
                    PathComponent::Key("sections".into()),
                    PathComponent::AnyIndex,
                    PathComponent::Key("entropy".into()),
                ],
            )
        }
    );
    let c = single("[file:hashes.'SHA-256' = 'x']");
    assert_eq!(c.path.steps, vec![PathComponent::Key("SHA-256".into())]);
    let c = single("[network-traffic:protocols[0] = 'tcp']");
    assert_eq!(c.path.steps, vec![PathComponent::Index(0)]);
    let c = single("[x:list[-1].a[+2] = 1]");
    assert_eq!(c.path.steps, vec![PathComponent::Index(-1), PathComponent::Key("a".into()), PathComponent::Index(2)]);
    // Quoted first property, keyword keys must be quoted, escapes in keys.
    let c = single("[x-custom:'first-prop'.'IN'.'it\\'s' = 1]");
    assert_eq!(c.path.property, "first-prop");
    assert_eq!(c.path.to_string(), "x-custom:'first-prop'.'IN'.'it\\'s'");
    // Quoting that is not needed is dropped when printing.
    assert_eq!(single("[file:hashes.'MD5' = 'x']").path.to_string(), "file:hashes.MD5");
    // Tokens may be separated by whitespace.
    let c = single("[ file : hashes . 'SHA-256' [ * ] = 'x' ]");
    assert_eq!(c.path.to_string(), "file:hashes.'SHA-256'[*]");
    // Identifiers are ASCII letters, digits, '_' (and '-' in types).
    assert_eq!(single("[x_whatever:_a1 = 1]").path.object_type, "x_whatever");
}

#[test]
fn observation_operator_precedence_and_associativity() {
    // Grammar and spec 9.5.3: AND binds tighter than OR, which binds tighter than FOLLOWEDBY.
    let p = ok("[a:b = 1] OR [a:b = 2] AND [a:b = 3] FOLLOWEDBY [a:b = 4]");
    let o = |n| obs(eq_int("a", "b", n));
    assert_eq!(
        without_offsets(&p).expression,
        ObservationExpression::FollowedBy(vec![
            ObservationExpression::Or(vec![o(1), ObservationExpression::And(vec![o(2), o(3)])]),
            o(4),
        ])
    );
    assert_eq!(
        shape("[a:b = 1] FOLLOWEDBY [a:b = 2] OR [a:b = 3]"),
        ObservationExpression::FollowedBy(vec![o(1), ObservationExpression::Or(vec![o(2), o(3)])])
    );
    // Chains are flat; parentheses are kept as structure.
    assert_eq!(shape("[a:b = 1] AND [a:b = 2] AND [a:b = 3]"), ObservationExpression::And(vec![o(1), o(2), o(3)]));
    let p = ok("[a:b = 1] AND ([a:b = 2] AND [a:b = 3])");
    assert_eq!(
        without_offsets(&p).expression,
        ObservationExpression::And(vec![o(1), ObservationExpression::And(vec![o(2), o(3)])])
    );
    assert_eq!(p.to_string(), "[a:b = 1] AND ([a:b = 2] AND [a:b = 3])");
    assert_eq!(shape("(([a:b = 1]))"), o(1));
    let p = ok("([a:b = 1] OR [a:b = 2]) AND [a:b = 3]");
    assert_eq!(p.to_string(), "([a:b = 1] OR [a:b = 2]) AND [a:b = 3]");
}

#[test]
fn qualifiers() {
    let o = |n| Box::new(obs(eq_int("a", "b", n)));
    // A qualifier applies to the expression right before it (spec 9.5.2).
    assert_eq!(
        shape("[a:b = 1] FOLLOWEDBY [a:b = 2] REPEATS 5 TIMES"),
        ObservationExpression::FollowedBy(vec![
            obs(eq_int("a", "b", 1)),
            ObservationExpression::Qualified { expression: o(2), qualifiers: vec![Qualifier::Repeats(5)] },
        ])
    );
    let p = ok("([a:b = 1] AND [a:b = 2]) REPEATS 5 TIMES WITHIN 300 SECONDS");
    assert_eq!(
        without_offsets(&p).expression,
        ObservationExpression::Qualified {
            expression: Box::new(ObservationExpression::And(vec![*o(1), *o(2)])),
            qualifiers: vec![Qualifier::Repeats(5), Qualifier::Within(300.0)],
        }
    );
    assert_eq!(p.to_string(), "([a:b = 1] AND [a:b = 2]) REPEATS 5 TIMES WITHIN 300 SECONDS");
    let p = ok("[a:b = 1] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z' WITHIN 2.5 SECONDS");
    assert_eq!(
        without_offsets(&p).expression,
        ObservationExpression::Qualified {
            expression: o(1),
            qualifiers: vec![
                Qualifier::StartStop { start: "2016-06-01T00:00:00Z".into(), stop: "2016-07-01T00:00:00Z".into() },
                Qualifier::Within(2.5),
            ],
        }
    );
    // The same kind again is fine once parentheses make a new observation expression.
    let p = ok("([a:b = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS");
    assert_eq!(p.to_string(), "([a:b = 1] WITHIN 5 SECONDS) WITHIN 6 SECONDS");
    ok("[a:b = 1] WITHIN +5 SECONDS REPEATS +2 TIMES");
    ok("[a:b = 1] WITHIN .5 SECONDS");
}

#[test]
fn comparison_precedence_and_parentheses() {
    let c = |p: &str| eq_int("a", p, 1);
    assert_eq!(
        shape("[a:x = 1 AND a:y = 1 OR a:z = 1]"),
        obs(ComparisonExpression::Or(vec![ComparisonExpression::And(vec![c("x"), c("y")]), c("z")]))
    );
    assert_eq!(
        shape("[a:x = 1 AND (a:y = 1 OR a:z = 1)]"),
        obs(ComparisonExpression::And(vec![c("x"), ComparisonExpression::Or(vec![c("y"), c("z")])]))
    );
    assert_eq!(shape("[((a:x = 1))]"), obs(c("x")));
    let p = ok("[(a:x = 1 OR a:y = 1) AND (a:z = 1 OR a:w = 1)]");
    assert_eq!(p.to_string(), "[(a:x = 1 OR a:y = 1) AND (a:z = 1 OR a:w = 1)]");
}

#[test]
fn whitespace_and_comments() {
    let a = ok("[file:name = 'a'] AND [file:size > 5]");
    for variant in [
        "\t[\r\nfile:name\u{3000}=\u{2028}'a'\u{A0}]\u{85}AND\u{1680}[file:size>5]\u{205F}",
        "/* c1 */[file:name/*c2*/='a'// line\n]AND[file:size>5]// end",
        "[file:name\x0b=\x0c'a']AND[file:size>5]",
    ] {
        assert_eq!(without_offsets(&ok(variant)), without_offsets(&a), "{variant:?}");
    }
}

/// Every pattern in STIX 2.1 section 9 that is written in the concrete syntax (9.1 and 9.3
/// examples, the 9.6.1 operator examples wrapped in brackets, 9.6.4, 9.7 paths, 9.8).
pub(super) const SPEC_EXAMPLES: &[&str] = &[
    // 9.1
    "[ipv4-addr:value = '203.0.113.1' OR ipv4-addr:value = '203.0.113.2']",
    "([ipv4-addr:value = '198.51.100.5'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.10'])",
    "([ipv4-addr:value = '198.51.100.5' ] AND [ipv4-addr:value = '198.51.100.10']) WITHIN 300 SECONDS",
    "[file:name = 'foo.dll'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
    "[ipv4-addr:value = '198.51.100.5'] AND [ ipv4-addr:value = '198.51.100.10']",
    "[file:size = 25536]",
    // 9.3
    "[ipv4-addr:value = '198.51.100.1/32']",
    "[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128']",
    "[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128'] REPEATS 5 TIMES",
    "([ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32' OR ipv6-addr:value = '2001:0db8:dead:beef:dead:beef:dead:0001/128'] FOLLOWEDBY [domain-name:value = 'example.com']) WITHIN 600 SECONDS",
    // 9.5, 9.5.1
    "[ network-traffic:src_ref.value = '203.0.113.10' AND network-traffic:dst_ref.value = '198.51.100.58' ]",
    "([file:hashes.'SHA-256' = '13987239847...'] AND [windows-registry-key:key = 'hkey']) WITHIN 120 SECONDS",
    // 9.6.1
    "[file:name = 'foo.dll']",
    "[file:size != 4112]",
    "[file:size > 256]",
    "[file:size >= 33312]",
    "[process:name IN ('proccy', 'proximus', 'badproc')]",
    r"[directory:path LIKE 'C:\\Windows\\%\\foo']",
    r"[directory:path MATCHES '^C:\\\\Windows\\w+$']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[ipv4-addr:value ISSUPERSET '198.51.100.0/24']",
    "[EXISTS windows-registry-key:values]",
    // 9.6.4
    "[artifact:payload_bin = 'this is a test']",
    "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']",
    "[artifact:payload_bin = h'7468697320697320612074657374']",
    // 9.7
    "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
    "[network-traffic:protocols[0] = 'tcp']",
    "[file:hashes.ssdeep = '3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C']",
    "[file:extensions.'raster-image-ext'.image_height > 1000]",
    "[email-message:from_ref.value = 'jdoe@example.com']",
    "[directory:contains_refs[*].name = 'foo.dll']",
    // 9.8
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    r"[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']",
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']",
    "[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']\nAND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    r"([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS",
    "[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']",
    r"[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']",
    r"[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']",
    "[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']",
    "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']",
    "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS",
    "[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']",
    "[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']",
    "[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']",
    r"[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']",
    "[(file:name = 'pdf.exe' OR file:size = 371712) AND file:created = t'2014-01-13T07:03:17Z']",
    "[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']",
    "[x-usb-device:usbdrive.serial_number = '575833314133343231313937']",
    "[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS",
    "[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']",
    r"([file:name = 'foo.dll'] AND [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:image_ref.name = 'fooproc' OR process:image_ref.name = 'procfoo']",
];

#[test]
fn spec_examples_parse() {
    for example in SPEC_EXAMPLES {
        ok(example);
    }
    // Spot checks of structure.
    let c = single(r"[directory:path LIKE 'C:\\Windows\\%\\foo']");
    assert_eq!(c.operand, Operand::Literal(Literal::String(r"C:\Windows\%\foo".into())));
    let p = ok(SPEC_EXAMPLES[SPEC_EXAMPLES.len() - 1]);
    assert!(matches!(&p.expression, ObservationExpression::Or(items) if items.len() == 2));
}
