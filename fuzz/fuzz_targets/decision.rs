//! A whole request — method, path and any headers — against every policy.
//! Input: method 0xFF path 0xFF (name 0xFF value)*.
#![no_main]

use corsgate_fuzz::{cases, check, fields, headers};
use http::Method;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parts = fields(data);
    let Ok(method) = Method::from_bytes(parts[0]) else {
        return;
    };
    let Some(Ok(path)) = parts.get(1).map(|p| std::str::from_utf8(p)) else {
        return;
    };
    let headers = headers(
        &parts[2.min(parts.len())..],
        &[
            (b"o", "origin"),
            (b"m", "access-control-request-method"),
            (b"h", "access-control-request-headers"),
            (b"p", "access-control-request-private-network"),
        ],
    );
    for case in cases() {
        check(case, &method, path, &headers);
    }
});
