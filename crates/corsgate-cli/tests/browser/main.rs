//! The real-browser suite, a test binary of its own: it needs Chromium and
//! ChromeDriver, which nothing else does. Its tests are named `browser::…`,
//! so `cargo test --workspace --all-features -- --skip browser::` runs
//! everything else.

#[path = "../cli/support.rs"]
#[allow(dead_code)]
mod support;

#[path = "../cli/pki.rs"]
#[allow(dead_code)]
mod pki;

#[path = "mod.rs"]
mod browser;
