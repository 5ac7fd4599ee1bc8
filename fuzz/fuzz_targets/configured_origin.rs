//! Any text as a configured origin or origin pattern: never a panic; a
//! parsed origin is normalised once and for all (parsing its serialized
//! form gives it back), and it is one the request-origin path accepts.
#![no_main]

use corsgate::{Origin, OriginPattern, Policy, RequestView};
use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(origin) = Origin::parse(text) {
        let again = Origin::parse(origin.as_str()).expect("a serialized origin parses");
        assert_eq!(again.as_str(), origin.as_str());
        // Listed, it allows exactly itself.
        let policy = Policy::from_json_str(&format!(
            "{{\"allowed_origins\": [{:?}], \"allow_credentials\": true}}",
            origin.as_str()
        ))
        .expect("a parsed origin compiles");
        let mut headers = HeaderMap::new();
        headers.insert("origin", HeaderValue::from_str(origin.as_str()).unwrap());
        let decision = policy.decide(&RequestView::new(&Method::GET, "/", &headers));
        assert!(decision.origin_allowed(), "{origin} does not allow itself");
    }
    if let Ok(pattern) = OriginPattern::parse(text) {
        let _ = pattern.matches("https://a.example.com");
    }
});
