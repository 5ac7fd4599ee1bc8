//! A whole request — method, path and any headers — against every policy.
//! Input: method 0xFF path 0xFF (name 0xFF value)*.
#![no_main]

use corsgate_fuzz::{cases, check, fields};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = fields(data);
    let Ok(method) = Method::from_bytes(parts[0]) else {
        return;
    };
    let Some(Ok(path)) = parts.get(1).map(|p| std::str::from_utf8(p)) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for pair in parts[2.min(parts.len())..].chunks(2) {
        let [name, value] = pair else { break };
        // Short names pick the CORS request headers, so the fuzzer reaches them.
        let name = match *name {
            b"o" => HeaderName::from_static("origin"),
            b"m" => HeaderName::from_static("access-control-request-method"),
            b"h" => HeaderName::from_static("access-control-request-headers"),
            b"p" => HeaderName::from_static("access-control-request-private-network"),
            other => match HeaderName::from_bytes(other) {
                Ok(n) => n,
                Err(_) => continue,
            },
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    for case in cases() {
        check(case, &method, path, &headers);
    }
});
