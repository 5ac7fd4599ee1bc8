//! Any bytes as the request's `Origin`, on a simple GET and on a
//! preflight, under every policy; and the configured-origin parser.
#![no_main]

use corsgate_fuzz::{cases, check};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(origin) = corsgate::Origin::parse(text)
    {
        // A parsed origin is normalised once and for all.
        let again = corsgate::Origin::parse(origin.as_str()).expect("a serialized origin parses");
        assert_eq!(again.as_str(), origin.as_str());
    }
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("origin", value);
    for case in cases() {
        for path in ["/api/x", "/public/x", "/private/x", "/"] {
            check(case, &Method::GET, path, &headers);
        }
        let mut preflight = headers.clone();
        preflight.insert(
            "access-control-request-method",
            HeaderValue::from_static("PUT"),
        );
        check(case, &Method::OPTIONS, "/api/x", &preflight);
    }
});
