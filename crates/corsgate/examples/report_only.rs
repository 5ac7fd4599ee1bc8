//! Trying a stricter policy before enforcing it: `report_only = true`
//! decides, logs and counts every request but changes no response. The
//! counters are served at `/counters` (feed them to your metrics crate;
//! `corsgate proxy --metrics-listen` serves them in the Prometheus format).
//!
//! ```text
//! cargo run -p corsgate --example report_only
//! curl -i http://127.0.0.1:8000/api/users -H 'Origin: https://old-partner.example'
//! curl http://127.0.0.1:8000/counters     # rejected origin-not-allowed: 1
//! ```
//!
//! When the counters show only what you meant to block, set
//! `report_only = false` (or drop the line) to enforce the policy.

use axum::{Router, routing::get};
use corsgate::{Policy, tower::CorsLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Policy::from_toml_str(
        r#"
        allowed_origins = ["https://app.example.com"]
        urls_regex = '^/api/'
        report_only = true
        "#,
    )?;
    let cors = CorsLayer::new(policy);
    let stats = cors.stats();
    let app = Router::new()
        .route("/api/users", get(|| async { r#"["ada","grace"]"# }))
        .layer(cors)
        .route(
            "/counters",
            get(move || {
                let now = stats.snapshot();
                async move {
                    let mut text = format!("allowed: {}\n", now.allowed());
                    for (_, reason, n) in now.decisions.iter().filter(|(_, r, _)| !r.is_allowed()) {
                        text.push_str(&format!("rejected {reason}: {n}\n"));
                    }
                    text
                }
            }),
        );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    println!(
        "API on http://{0}/api/users, counters on http://{0}/counters",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
