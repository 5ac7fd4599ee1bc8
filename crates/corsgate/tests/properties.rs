//! Properties over arbitrary request bytes: the policy never panics and
//! never opens a hole, whatever the client sends.

use corsgate::{
    ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK, Config, DecisionKind, OriginPattern, Policy,
    RequestView,
};
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;

/// A spread of policies: listed, pattern, regex, allow-all, with and
/// without credentials, scoped and not.
fn policies() -> Vec<Policy> {
    let base = || {
        Config::builder().allowed_origins(["https://app.example", "null", "https://*.example.com"])
    };
    vec![
        base().compile().unwrap(),
        base()
            .allow_credentials(true)
            .expose_headers(["x-total-count"])
            .compile()
            .unwrap(),
        Config::builder()
            .allow_all_origins(true)
            .allow_private_network(true)
            .compile()
            .unwrap(),
        Config::builder()
            .allow_all_origins(true)
            .allow_credentials(true)
            .compile()
            .unwrap(),
        Config::builder()
            .allowed_origin_regexes([r"^https://\w+\.example\.org$"])
            .allow_headers(["*"])
            .allow_methods(["*"])
            .allow_credentials(true)
            .urls_regex("^/api/")
            .allow_private_network(true)
            .compile()
            .unwrap(),
    ]
}

/// Header values: arbitrary bytes (including non-UTF-8 and control bytes;
/// those `HeaderValue` refuses are skipped) and near-miss origins.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        "(https?|HTTPS|ftp)://[a-zA-Z0-9.\\-_*\\[\\]:]{0,30}(:[0-9]{0,6})?(/[a-z]*)?"
            .prop_map(String::into_bytes),
        Just(b"null".to_vec()),
        Just(b"https://app.example".to_vec()),
        Just(b"https://api.example.com".to_vec()),
        Just(b"https://example.com.evil.com".to_vec()),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::OPTIONS),
        Just(Method::from_bytes(b"options").unwrap()),
        "[A-Za-z]{1,10}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_owned()),
        Just("/api/x".to_owned()),
        "/[a-z%0-9A-F/]{0,20}",
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_requests_keep_the_invariants(
        which in 0usize..policies().len(),
        method in method(),
        path in path(),
        origins in proptest::collection::vec(header_bytes(), 0..3),
        acrm in proptest::option::of(header_bytes()),
        acrh in proptest::option::of(header_bytes()),
        app_has_acac in any::<bool>(),
        private_network in proptest::option::of(prop_oneof![Just("true"), Just("TRUE"), Just("false")]),
    ) {
        let policy = &policies()[which];
        let mut headers = HeaderMap::new();
        for origin in &origins {
            if let Ok(v) = HeaderValue::from_bytes(origin) {
                headers.append(ORIGIN, v);
            }
        }
        if let Some(Ok(v)) = acrm.as_deref().map(HeaderValue::from_bytes) {
            headers.insert(ACCESS_CONTROL_REQUEST_METHOD, v);
        }
        if let Some(Ok(v)) = acrh.as_deref().map(HeaderValue::from_bytes) {
            headers.insert(ACCESS_CONTROL_REQUEST_HEADERS, v);
        }
        if let Some(value) = private_network {
            headers.insert(ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK, HeaderValue::from_static(value));
        }
        let decision = policy.decide(&RequestView::new(&method, &path, &headers));

        let mut response = HeaderMap::new();
        if app_has_acac {
            response.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        decision.apply(&mut response);

        let acao = response.get_all(ACCESS_CONTROL_ALLOW_ORIGIN).iter().collect::<Vec<_>>();
        prop_assert!(acao.len() <= 1, "one Access-Control-Allow-Origin at most");
        if let Some(acao) = acao.first() {
            // Never `*` together with credentials.
            prop_assert!(!(acao.as_bytes() == b"*" && response.contains_key(ACCESS_CONTROL_ALLOW_CREDENTIALS)));
            // A reflected value is exactly the request's one Origin, and it
            // is `null` or a serialized origin (no garbage echoed).
            if acao.as_bytes() != b"*" {
                let sent: Vec<_> = headers.get_all(ORIGIN).iter().collect();
                prop_assert_eq!(sent.len(), 1);
                prop_assert_eq!(sent[0], *acao);
                let text = acao.to_str().unwrap();
                prop_assert!(
                    text == "null" || corsgate::Origin::parse(text).is_ok_and(|o| o.as_str() == text),
                    "reflected a non-serialized origin `{}`", text
                );
            }
        }
        // A disallowed origin is never echoed.
        if !decision.origin_allowed() {
            let sent_origin_echoed = acao.first().is_some_and(|a| a.as_bytes() != b"*");
            prop_assert!(!sent_origin_echoed);
        }
        // Vary: Origin whenever the answer depended on the Origin.
        if decision.kind() != DecisionKind::OutOfScope {
            let vary: Vec<_> = response.get_all(VARY).iter().collect();
            prop_assert!(vary.iter().any(|v| v.as_bytes().eq_ignore_ascii_case(b"origin")));
        } else {
            prop_assert!(response.is_empty() || (app_has_acac && response.len() == 1));
        }
        // A preflight answer is always well-formed, and its headers (built
        // from a per-rule copy) are exactly `Content-Length: 0` and what
        // `apply` writes, in the same order: for any decision.
        let answer: http::Response<()> = decision.preflight_response();
        prop_assert_eq!(answer.status(), http::StatusCode::OK);
        let mut expected = HeaderMap::new();
        expected.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        decision.apply(&mut expected);
        prop_assert_eq!(
            answer.headers().iter().collect::<Vec<_>>(),
            expected.iter().collect::<Vec<_>>()
        );
    }

    #[test]
    fn configs_from_arbitrary_text_never_panic(text in "\\PC{0,200}") {
        let _ = Config::from_toml_str(&text);
        let _ = Config::from_json_str(&text);
    }

    // The policy files patterns by host; it must allow exactly the origins
    // some pattern matches when compared one by one.
    #[test]
    fn indexed_patterns_allow_what_each_pattern_matches(
        patterns in proptest::collection::vec(
            ("https?", "(\\*\\.)?(a|b|ab|localhost)(\\.(a|b|ab)){0,3}", "(:\\*|:80|:8080)?"),
            1..12,
        ),
        origin in ("https?", "([ab]{1,2}\\.){0,5}(a|b|ab|localhost)", "(:80|:8080|:443)?"),
    ) {
        let patterns: Vec<OriginPattern> = patterns
            .iter()
            .filter_map(|(scheme, host, port)| OriginPattern::parse(&format!("{scheme}://{host}{port}")).ok())
            .collect();
        prop_assume!(!patterns.is_empty());
        let texts: Vec<&str> = patterns.iter().map(OriginPattern::as_str).collect();
        let policy = Config::builder().allowed_origins(texts).compile().unwrap();
        let origin = format!("{}://{}{}", origin.0, origin.1, origin.2);
        let mut headers = http::HeaderMap::new();
        headers.insert("origin", http::HeaderValue::from_str(&origin).unwrap());
        let decision = policy.decide(&RequestView::new(&Method::GET, "/", &headers));
        let scan = patterns.iter().any(|p| p.matches(&origin));
        prop_assert_eq!(decision.origin_allowed(), scan, "{} against {:?}", origin, patterns);
    }

    #[test]
    fn arbitrary_origin_lists_never_panic(entries in proptest::collection::vec("\\PC{0,40}", 0..5)) {
        let _ = Config::builder().allowed_origins(entries.clone()).allowed_origin_regexes(entries).compile();
    }
}
