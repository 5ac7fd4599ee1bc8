//! Any bytes as the request's `Origin`, on a simple GET and on a
//! preflight, under every policy.
#![no_main]

use corsgate_fuzz::{cases, check};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("origin", value);
    let mut preflight = headers.clone();
    preflight.insert(
        "access-control-request-method",
        HeaderValue::from_static("PUT"),
    );
    for case in cases() {
        // Every rule of every policy: `/api/` is the scope of one, the
        // path rules cover `/public/` and `/private/`.
        let paths: &[&str] = if case.name == "path-rules" {
            &["/public/x", "/private/x", "/"]
        } else {
            &["/api/x"]
        };
        for path in paths {
            check(case, &Method::GET, path, &headers);
        }
        check(case, &Method::OPTIONS, paths[0], &preflight);
    }
});
