//! The seeds' story with axum: an API on 127.0.0.1:8000 that a front-end on
//! http://127.0.0.1:5000 may call.
//!
//! ```text
//! cargo run -p corsgate --example axum            # listens on 127.0.0.1:8000
//! PORT=9000 cargo run -p corsgate --example axum  # another port
//! curl -i http://127.0.0.1:8000/users -H 'Origin: http://127.0.0.1:5000'
//! ```

use axum::{Router, routing::get};
use corsgate::{Config, tower::CorsLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Config::builder()
        .allowed_origins(["http://127.0.0.1:5000", "http://localhost:5000"])
        .expose_headers(["x-total-count"])
        .compile()?;
    let app = Router::new()
        .route(
            "/users",
            get(|| async {
                let headers = [("content-type", "application/json"), ("x-total-count", "2")];
                (headers, r#"["ada","grace"]"#)
            }),
        )
        .layer(CorsLayer::new(policy));

    let port = std::env::var("PORT").unwrap_or_else(|_| "8000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "API on http://{}/users, allowing http://127.0.0.1:5000",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
