//! Trying a stricter policy before enforcing it: `report_only = true`
//! decides, logs and counts every request but changes no response. The
//! counters are served at `/metrics` in the Prometheus text format.
//!
//! ```text
//! cargo run -p corsgate --example report_only
//! curl -i http://127.0.0.1:8000/api/users -H 'Origin: https://old-partner.example'
//! curl http://127.0.0.1:8000/metrics      # corsgate_rejected_total{reason="origin-not-allowed"} 1
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
            "/metrics",
            get(move || {
                let stats = stats.clone();
                async move { stats.snapshot().to_prometheus() }
            }),
        );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    println!(
        "API on http://{0}/api/users, counters on http://{0}/metrics",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
