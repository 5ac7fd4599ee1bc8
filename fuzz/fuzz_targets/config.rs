//! Any text as a TOML, a JSON and a settings.py configuration, loaded and compiled through
//! the reload path (`Policy::from_file_contents`, which `Policy::from_file`
//! and `Config::from_*_str` share): never a panic or an abort; an error
//! is printable (no control characters but line breaks) and short; a
//! policy that compiles answers within the invariants; the audit of a
//! configuration that loads (what `corsgate check` and the proxy run,
//! trying each origin regex on probe origins) never panics and prints
//! its findings as it prints errors.
#![no_main]

use corsgate::Policy;
use libfuzzer_sys::fuzz_target;

/// No control characters but line breaks.
fn printable(text: &str) {
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control characters in {text:?}"
    );
}

fn printable_and_short(errors: &corsgate::ConfigErrors) {
    for error in errors {
        let text = error.to_string();
        printable(&text);
        assert!(text.len() < 4_096, "a {}-byte message", text.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["cors.toml", "cors.json", "settings.py"] {
        if let Ok(config) = corsgate::Config::from_file_contents(name, text) {
            for finding in corsgate::audit::audit(&config) {
                printable(&finding.to_string());
            }
        }
        match Policy::from_file_contents(name, text) {
            Ok(policy) => {
                let case = corsgate_fuzz::Case {
                    name: "fuzzed",
                    policy,
                    null_allowed: true,
                };
                let mut headers = http::HeaderMap::new();
                headers.insert(
                    "origin",
                    http::HeaderValue::from_static("https://evil.example"),
                );
                corsgate_fuzz::check(&case, &http::Method::GET, "/api/x", &headers);
            }
            Err(errors) => printable_and_short(&errors),
        }
    }
});
