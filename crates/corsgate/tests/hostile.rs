//! Hostile configurations: patterns that try to escape their anchoring,
//! nesting and sizes meant to exhaust the loader, bytes meant for the
//! terminal. Each is refused with a normal error, never a panic, an abort
//! or a policy weaker than the text says (issue #11).

use std::time::{Duration, Instant};

use corsgate::{Config, ConfigErrorKind, Policy, RequestView};
use http::{HeaderMap, HeaderValue, Method};

fn decide_get(policy: &Policy, path: &str, origin: &str) -> corsgate::Decision {
    let mut headers = HeaderMap::new();
    headers.insert("origin", HeaderValue::from_str(origin).unwrap());
    policy.decide(&RequestView::new(&Method::GET, path, &headers))
}

fn kinds(errors: &corsgate::ConfigErrors) -> Vec<(String, ConfigErrorKind)> {
    errors
        .iter()
        .map(|e| (e.key().to_owned(), e.kind()))
        .collect()
}

// Issue #11, case 1: the user's `)` closed the `^(?:…)$` wrapper.
#[test]
fn issue_11_an_origin_regex_cannot_close_its_anchoring_group() {
    let errors = Policy::from_toml_str(
        r#"
        allowed_origin_regexes = ['https://good\.example)|(.*']
        allow_credentials = true
        "#,
    )
    .unwrap_err();
    assert_eq!(
        kinds(&errors),
        [(
            "allowed_origin_regexes[0]".to_owned(),
            ConfigErrorKind::InvalidRegex
        )]
    );
    let text = errors.to_string();
    assert!(text.contains("unopened group"), "{text}");
}

#[test]
fn issue_11_a_urls_regex_cannot_close_its_anchoring_group() {
    let errors = Policy::from_toml_str(
        r#"
        allowed_origins = ["https://good.example"]
        urls_regex = '/api/)|(.*'
        "#,
    )
    .unwrap_err();
    assert_eq!(
        kinds(&errors),
        [("urls_regex".to_owned(), ConfigErrorKind::InvalidRegex)]
    );
}

/// Patterns that are valid on their own but would change meaning if pasted
/// into a wrapper as text: a verbose-mode comment that swallows the closing
/// `)$`, an alternation, a multi-line flag. Anchoring is structural, so each
/// still has to match the whole origin.
#[test]
fn issue_11_a_valid_pattern_keeps_its_meaning_when_anchored() {
    let policy = Policy::from_toml_str(
        r#"
        allowed_origin_regexes = [
            'https://a\.example(?x)#',
            'https://b\.example|https://c\.example',
            '(?m)https://d\.example$',
        ]
        allow_credentials = true
        "#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for allowed in [
        "https://a.example",
        "https://b.example",
        "https://c.example",
        "https://d.example",
    ] {
        assert!(
            decide_get(&policy, "/", allowed).origin_allowed(),
            "{allowed}"
        );
    }
    for refused in [
        "https://evil.example",
        "https://a.example.evil.example",
        "https://b.example.evil.example",
        "https://evil.example.https://c.example",
        "https://c.example.evil.example",
        "https://d.example.evil.example",
    ] {
        let decision = decide_get(&policy, "/", refused);
        assert!(!decision.origin_allowed(), "{refused}: {decision:?}");
    }
}

#[test]
fn issue_11_a_scope_regex_is_anchored_at_the_start_only() {
    let policy = Policy::from_toml_str(
        r#"
        allowed_origins = ["https://good.example"]
        urls_regex = '/api/|/v2/(?x)#'
        "#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(decide_get(&policy, "/api/x", "https://good.example").origin_allowed());
    assert!(decide_get(&policy, "/v2/x", "https://good.example").origin_allowed());
    assert!(!decide_get(&policy, "/other/api/", "https://good.example").origin_allowed());
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

// Issue #11, case 2: 10,000 levels overflowed the stack (exit 134).
#[test]
fn issue_11_deep_nesting_is_a_config_error_not_a_crash() {
    let cases = [
        (
            "json",
            format!("{{\"allowed_origins\": {}}}", nested("[", "]", 10_000)),
        ),
        (
            "json",
            format!("{{\"path_rules\": {}}}", nested("{\"a\":", "}", 10_000)),
        ),
        (
            "toml",
            format!("allowed_origins = {}", nested("[", "]", 10_000)),
        ),
        (
            "toml",
            format!("allowed_origins = {}", nested("{a=", "}", 10_000)),
        ),
        (
            "toml",
            format!("allowed_origins = {}", nested("[", "]", 2_000)),
        ),
    ];
    for (format, text) in cases {
        // A thread with a small stack, as a Tokio worker has: the limit
        // must hold there too.
        let outcome = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let result = if format == "json" {
                    Policy::from_json_str(&text)
                } else {
                    Policy::from_toml_str(&text)
                };
                result.map(|_| ()).map_err(|e| kinds(&e))
            })
            .unwrap()
            .join()
            .expect("the loader did not crash");
        assert_eq!(
            outcome,
            Err(vec![(String::new(), ConfigErrorKind::TooDeep)]),
            "{format}"
        );
    }
}

#[test]
fn issue_11_nesting_within_the_limit_still_gets_its_type_errors() {
    let errors = Policy::from_json_str(r#"{"allowed_origins": [[["a"]]]}"#).unwrap_err();
    assert_eq!(
        kinds(&errors),
        [("allowed_origins[0]".to_owned(), ConfigErrorKind::WrongType)]
    );
}

// Issue #11, case 2: a 30 MB regex took 19 s and was echoed whole.
#[test]
fn issue_11_a_huge_regex_is_refused_at_once_and_not_echoed() {
    let huge = format!("https://{}\\.example", "a".repeat(30 * 1024 * 1024));
    let config = Config::builder().allowed_origin_regexes([huge]);
    let start = Instant::now();
    let errors = config.compile().unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let text = errors.to_string();
    assert!(text.len() < 1_000, "{} bytes", text.len());
    assert!(text.contains("longer than"), "{text}");
    assert_eq!(
        kinds(&errors),
        [(
            "allowed_origin_regexes[0]".to_owned(),
            ConfigErrorKind::TooLarge
        )]
    );
}

#[test]
fn issue_11_a_short_regex_that_compiles_huge_is_refused() {
    let errors = Config::builder()
        .allowed_origin_regexes([r"https://(\w{100}){100}\.example"])
        .compile()
        .unwrap_err();
    assert_eq!(
        kinds(&errors),
        [(
            "allowed_origin_regexes[0]".to_owned(),
            ConfigErrorKind::InvalidRegex
        )]
    );
    let errors = Config::builder()
        .urls_regex(format!("{}x{}", "(".repeat(300), ")".repeat(300)))
        .compile()
        .unwrap_err();
    assert_eq!(
        kinds(&errors),
        [("urls_regex".to_owned(), ConfigErrorKind::InvalidRegex)]
    );
}

#[test]
fn issue_11_a_huge_value_is_shortened_in_every_message() {
    let long = format!("https://{}.example/path", "a".repeat(100_000));
    let errors = Config::builder()
        .allowed_origins([long.as_str()])
        .allow_headers([format!("x-{}", " ".repeat(100_000))])
        .compile()
        .unwrap_err();
    for error in &errors {
        let text = error.to_string();
        assert!(text.len() < 1_000, "{} bytes: {}", text.len(), &text[..200]);
        assert!(text.contains("bytes in all"), "{text}");
    }
}

#[test]
fn issue_11_a_file_over_the_size_limit_is_refused() {
    let dir = std::env::temp_dir().join(format!("corsgate-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.json");
    let big = format!(
        "{{\"allowed_origins\": [{}\"https://a.example\"]}}",
        "\"https://a.example\",".repeat(corsgate::MAX_CONFIG_FILE_BYTES / 20 + 1)
    );
    std::fs::write(&path, big).unwrap();
    let errors = Policy::from_file(&path).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(kinds(&errors), [(String::new(), ConfigErrorKind::TooLarge)]);
    assert!(errors.to_string().contains("larger than"), "{errors}");
}

// Issue #11, case 8: control bytes from an untrusted file reached the terminal raw.
#[test]
fn issue_11_control_bytes_are_escaped_in_messages() {
    let errors = Policy::from_json_str(
        "{\"allowed_origins\": [\"https://a.example\\u001b]0;pwned\\u0007/x\"], \"x\\u001b[2J\": 1}",
    )
    .unwrap_err();
    let text = errors.to_string();
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{text:?}"
    );
    assert!(text.contains("\\u{1b}"), "{text}");
}

// Issue #11, case 8: a UTF-8 byte-order mark gave "expected value at 1:1".
#[test]
fn issue_11_a_byte_order_mark_is_accepted() {
    let json = "\u{feff}{\"allowed_origins\": [\"https://a.example\"]}";
    let policy = Policy::from_json_str(json).unwrap_or_else(|e| panic!("{e}"));
    assert!(decide_get(&policy, "/", "https://a.example").origin_allowed());
    let toml = "\u{feff}allowed_origins = [\"https://a.example\"]";
    let policy = Policy::from_toml_str(toml).unwrap_or_else(|e| panic!("{e}"));
    assert!(decide_get(&policy, "/", "https://a.example").origin_allowed());
}

// Found by the `request_origin` fuzz target (issue #11): after a bracketed
// IPv6 host, anything not starting with `:` was ignored, so allow-all with
// credentials reflected `h://[::1]]0tt…/…\t…` whole.
#[test]
fn issue_11_bytes_after_an_ipv6_host_make_the_origin_malformed() {
    let policy = Policy::from_toml_str("allow_all_origins = true\nallow_credentials = true")
        .unwrap_or_else(|e| panic!("{e}"));
    for garbage in [
        "http://[::1]]",
        "http://[::1]x",
        "http://[::1]/",
        "http://[::1]]0tt\u{4d0}/127.nu4.:.105000\t8sX60",
        "https://[::1]@evil.example",
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(
            "origin",
            HeaderValue::from_bytes(garbage.as_bytes()).unwrap(),
        );
        let decision = policy.decide(&RequestView::new(&Method::GET, "/", &headers));
        assert!(!decision.origin_allowed(), "{garbage:?} was reflected");
    }
    for good in ["http://[::1]", "http://[::1]:8080"] {
        assert!(decide_get(&policy, "/", good).origin_allowed(), "{good}");
    }
}

// Found by the `request_origin` fuzz target (issue #11): a configured
// `https://ei%2avle-eg` normalised to `https://ei*vle-eg`, an origin no
// browser sends and that corsgate's own parser then refused. A configured
// origin (or pattern) must normalise to one a browser can send.
#[test]
fn issue_11_a_configured_origin_must_normalise_to_one_a_browser_sends() {
    for entry in [
        "https://ei%2avle-eg",
        "https://a%2cb.example",
        "https://*.ei%2avle.example",
        "https://a%21.example",
    ] {
        let errors = Config::builder()
            .allowed_origins([entry])
            .compile()
            .unwrap_err();
        assert_eq!(
            kinds(&errors),
            [(
                "allowed_origins[0]".to_owned(),
                ConfigErrorKind::InvalidOrigin
            )],
            "{entry}"
        );
        assert!(errors.to_string().contains("no browser sends"), "{errors}");
    }
    // Percent-encoded letters are fine: they decode to a plain name.
    let policy = Config::builder()
        .allowed_origins(["https://%61pp.example"])
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(decide_get(&policy, "/", "https://app.example").origin_allowed());
}

// Found by the `config` fuzz target (issue #11): a value holding backticks
// of its own split the message's quoting, and 4 KB of it was echoed.
#[test]
fn issue_11_a_value_with_its_own_backticks_is_still_shortened() {
    let regex = format!("\\p{{Nope}}{}", "`x`y".repeat(2_000));
    let errors = Config::builder()
        .allowed_origin_regexes([regex])
        .compile()
        .unwrap_err();
    for error in &errors {
        let text = error.to_string();
        assert!(text.len() < 2_500, "{} bytes", text.len());
    }
}
