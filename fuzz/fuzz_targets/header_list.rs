//! Any bytes as `Access-Control-Request-Headers` (and as the requested
//! method) of a preflight from an allowed origin: the answer never grants
//! a header or method the policy does not list.
#![no_main]

use corsgate_fuzz::{cases, check, fields};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = fields(data);
    let Ok(list) = HeaderValue::from_bytes(parts[0]) else {
        return;
    };
    let method = parts.get(1).and_then(|m| HeaderValue::from_bytes(m).ok());
    for (origin, case) in [
        ("https://app.example", &cases()[0]),
        ("https://x.example", &cases()[2]),
        ("https://a.example.com", &cases()[3]),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_static(origin));
        headers.insert(
            "access-control-request-method",
            method.clone().unwrap_or(HeaderValue::from_static("POST")),
        );
        headers.append("access-control-request-headers", list.clone());
        let decision = check(case, &Method::OPTIONS, "/api/x", &headers);
        if decision.is_allowed() && case.name == "listed-credentials" {
            // The default header list: every requested name must be on it.
            let defaults = corsgate::DEFAULT_HEADERS;
            for name in list.to_str().unwrap_or_default().split(',') {
                let name = name.trim_matches([' ', '\t']).to_ascii_lowercase();
                assert!(
                    name.is_empty() || defaults.contains(&name.as_str()),
                    "granted `{name}`"
                );
            }
        }
    }
});
