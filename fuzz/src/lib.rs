//! What every fuzz target asserts about a CORS answer — the security
//! invariants, not only "no panic":
//! - never `Access-Control-Allow-Origin: *` together with credentials;
//! - an echoed origin is exactly the request's one `Origin` value, and only
//!   for a decision that allowed it (a refused origin is never echoed);
//! - `null` is echoed only by a policy that lists it (or allows all);
//! - `Vary: Origin` on every answer in scope (it depended on the origin);
//!   nothing at all out of scope;
//! - the same after replacing an upstream's own (hostile) CORS headers;
//! - the browser-side model agrees: an allowed answer passes Fetch's CORS
//!   check, with credentials exactly when the policy grants them.

use std::sync::OnceLock;

use corsgate::browser::{Credentials, cors_check};
use corsgate::{Decision, DecisionKind, Policy, RequestView};
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS as ACAC, ACCESS_CONTROL_ALLOW_ORIGIN as ACAO, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// A policy under test and what its text promises.
pub struct Case {
    pub name: &'static str,
    pub policy: Policy,
    /// The policy lists `null`, or allows every origin (django reflects
    /// `null` under allow-all too: docs/django-compat.md).
    pub null_allowed: bool,
}

/// Several policies that exercise every matching path: listed origins
/// with credentials, allow-all with and without credentials, patterns,
/// regexes and path rules.
pub fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let toml = |name, null_allowed, text: &str| Case {
            name,
            policy: Policy::from_toml_str(text).unwrap_or_else(|e| panic!("{name}: {e}")),
            null_allowed,
        };
        vec![
            toml(
                "listed-credentials",
                true,
                r#"allowed_origins = ["https://app.example", "http://127.0.0.1:5000", "null", "http://[::1]:8080"]
                   allow_credentials = true
                   expose_headers = ["x-total"]"#,
            ),
            toml(
                "all-credentials",
                true,
                "allow_all_origins = true\nallow_credentials = true",
            ),
            toml("all", true, "allow_all_origins = true\nallow_headers = [\"*\"]"),
            toml(
                "patterns-regexes",
                false,
                r#"allowed_origins = ["https://*.example.com", "http://localhost:*"]
                   allowed_origin_regexes = ['https://[a-z0-9-]+\.example\.org', 'https://(a|b)\.example\.net']
                   allow_credentials = true
                   urls_regex = '^/api/'"#,
            ),
            toml(
                "path-rules",
                true,
                r#"allowed_origins = ["https://app.example"]
                   [[path_rules]]
                   urls_regex = '^/public/'
                   allow_all_origins = true
                   allow_credentials = false
                   [[path_rules]]
                   urls_regex = '^/private/'
                   allowed_origins = ["https://admin.example"]
                   allow_credentials = true
                   allow_methods = ["GET", "DELETE"]"#,
            ),
        ]
    })
}

fn has_vary_origin(headers: &HeaderMap) -> bool {
    headers
        .get_all(VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("origin") || t.trim() == "*")
}

/// Decides `request` under `case`, checks every invariant on the answer
/// (and on an upstream's answer it rewrites), and returns the decision.
pub fn check(case: &Case, method: &Method, path: &str, request: &HeaderMap) -> Decision {
    let decision = case.policy.decide(&RequestView::new(method, path, request));
    let answer = if decision.is_preflight() {
        decision.preflight_response::<()>().headers().clone()
    } else {
        let mut headers = HeaderMap::new();
        decision.apply(&mut headers);
        headers
    };
    invariants(case, request, &decision, &answer);
    if decision.kind() != DecisionKind::OutOfScope {
        // A proxied upstream that sets CORS headers of its own.
        let mut upstream = HeaderMap::new();
        upstream.insert(ACAO, HeaderValue::from_static("*"));
        upstream.insert(ACAC, HeaderValue::from_static("true"));
        upstream.append(VARY, HeaderValue::from_static("Accept-Encoding"));
        decision.apply_replacing(&mut upstream);
        invariants(case, request, &decision, &upstream);
    }
    decision
}

fn invariants(case: &Case, request: &HeaderMap, decision: &Decision, answer: &HeaderMap) {
    let name = case.name;
    let acao: Vec<&HeaderValue> = answer.get_all(ACAO).iter().collect();
    assert!(acao.len() <= 1, "{name}: {} allow-origin lines", acao.len());
    let credentials = answer.get_all(ACAC).iter().any(|v| v == "true");
    if decision.kind() == DecisionKind::OutOfScope {
        assert!(
            answer.is_empty(),
            "{name}: headers out of scope: {answer:?}"
        );
        return;
    }
    assert!(
        has_vary_origin(answer),
        "{name}: no Vary: Origin: {answer:?}"
    );
    let Some(value) = acao.first() else {
        assert!(
            !credentials,
            "{name}: credentials without an allowed origin"
        );
        return;
    };
    assert!(
        decision.origin_allowed(),
        "{name}: an origin header for a refused origin"
    );
    let origins: Vec<&HeaderValue> = request.get_all(ORIGIN).iter().collect();
    if *value == "*" {
        assert!(!credentials, "{name}: `*` with credentials");
    } else {
        assert_eq!(
            origins.len(),
            1,
            "{name}: echoed with {} Origin headers",
            origins.len()
        );
        assert_eq!(
            value.as_bytes(),
            origins[0].as_bytes(),
            "{name}: echoed another value"
        );
        if *value == "null" {
            assert!(case.null_allowed, "{name}: `null` echoed but not allowed");
        }
    }
    // The browser's side: the page may read the answer (a browser's
    // origin is ASCII; the model compares text).
    if let Some(Ok(origin)) = origins.first().map(|o| std::str::from_utf8(o.as_bytes())) {
        let omit = cors_check(answer, origin, Credentials::Omit);
        assert!(
            omit.is_ok(),
            "{name}: the browser would block an allowed answer: {omit:?}"
        );
        let include = cors_check(answer, origin, Credentials::Include);
        assert_eq!(
            include.is_ok(),
            credentials,
            "{name}: credentials disagree: {include:?}"
        );
    }
}

/// Splits fuzz input into fields at `0xFF` (a byte no header value or
/// UTF-8 text holds).
pub fn fields(data: &[u8]) -> Vec<&[u8]> {
    data.split(|b| *b == 0xFF).collect()
}

/// Headers from fields `name, value, name, value, …`. A one-byte name found
/// in `aliases` stands for a long header name, so the fuzzer reaches the
/// CORS headers; other names and values that are not valid HTTP are skipped.
pub fn headers(pairs: &[&[u8]], aliases: &[(&[u8], &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for pair in pairs.chunks(2) {
        let [name, value] = pair else { break };
        let name = match aliases.iter().find(|(short, _)| short == name) {
            Some((_, long)) => HeaderName::from_static(long),
            None => match HeaderName::from_bytes(name) {
                Ok(n) => n,
                Err(_) => continue,
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    headers
}
