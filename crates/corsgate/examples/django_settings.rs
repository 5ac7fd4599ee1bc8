//! A Django user's `CORS_*` settings, loaded from a JSON or TOML file and
//! checked: prints every error with its line and fix, or what the policy
//! decides for a request.
//!
//! ```text
//! cargo run -p corsgate --example django_settings -- settings.json http://127.0.0.1:5000
//! ```

use corsgate::{Policy, RequestView};
use http::{HeaderMap, HeaderValue, Method};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(origin)) = (args.next(), args.next()) else {
        eprintln!("usage: django_settings FILE ORIGIN [PATH]");
        return std::process::ExitCode::from(2);
    };
    let path = args.next().unwrap_or_else(|| "/".into());
    let policy = match Policy::from_file(&file) {
        Ok(policy) => policy,
        Err(errors) => {
            eprintln!("{errors}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let Ok(origin) = HeaderValue::from_str(&origin) else {
        eprintln!("error: `{origin}` cannot be an HTTP header value");
        return std::process::ExitCode::from(2);
    };
    let mut headers = HeaderMap::new();
    headers.insert("origin", origin);
    let decision = policy.decide(&RequestView::new(&Method::GET, &path, &headers));
    let mut response = HeaderMap::new();
    decision.apply(&mut response);
    println!(
        "GET {path}: {} ({})",
        decision.reason(),
        decision.reason().name()
    );
    for (name, value) in &response {
        println!("  {name}: {}", value.to_str().unwrap_or("<binary>"));
    }
    std::process::ExitCode::SUCCESS
}
