//! The doctor's browser-side checks over arbitrary responses: never a
//! panic, and never "allowed" where Fetch forbids it.
//! Input: status (2 bytes) then (name 0xFF value)* for the response;
//! the first value is used as the page's origin.
#![no_main]

use corsgate::browser::{Credentials, cors_check, preflight_check, readable_headers};
use corsgate_fuzz::{fields, headers};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]) % 600;
    let parts = fields(&data[2..]);
    // A page's origin is serialized by the browser: ASCII (international
    // names in punycode), never a space or a comma. (With a comma, two
    // joined allow-origin lines could equal it; with U+FFFD, the model's
    // lossy reading of a non-UTF-8 header could.)
    let origin = std::str::from_utf8(parts[0])
        .ok()
        .filter(|o| o.is_ascii() && !o.contains([' ', ',']))
        .unwrap_or("https://app.example");
    let headers = headers(
        &parts[1..],
        &[
            (b"o", "access-control-allow-origin"),
            (b"c", "access-control-allow-credentials"),
            (b"m", "access-control-allow-methods"),
            (b"h", "access-control-allow-headers"),
            (b"e", "access-control-expose-headers"),
            (b"a", "access-control-max-age"),
        ],
    );
    for credentials in [
        Credentials::Include,
        Credentials::SameOrigin,
        Credentials::Omit,
    ] {
        let ok = cors_check(&headers, origin, credentials).is_ok();
        if ok {
            let acao: Vec<_> = headers
                .get_all("access-control-allow-origin")
                .iter()
                .collect();
            assert_eq!(
                acao.len(),
                1,
                "allowed with {} allow-origin lines",
                acao.len()
            );
            assert!(
                acao[0] == "*" || acao[0].as_bytes() == origin.as_bytes(),
                "allowed another origin"
            );
            if credentials == Credentials::Include {
                assert!(acao[0] != "*", "`*` allowed with credentials");
                assert!(
                    headers
                        .get_all("access-control-allow-credentials")
                        .iter()
                        .any(|v| v == "true"),
                    "credentials allowed without `true`"
                );
            }
        }
        let _ = readable_headers(&headers, credentials);
        let unsafe_headers = vec!["x-custom".to_owned(), "authorization".to_owned()];
        if let Ok(grant) = preflight_check(
            status,
            &headers,
            origin,
            credentials,
            "PUT",
            &unsafe_headers,
        ) {
            assert!(
                (200..300).contains(&status),
                "preflight allowed with status {status}"
            );
            assert!(ok, "a preflight passed a failing CORS check");
            assert!(grant.max_age <= 7200);
        }
    }
});
