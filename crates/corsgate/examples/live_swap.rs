//! Replacing the policy of a running server: the layer decides with
//! whatever its `PolicyHandle` holds when each request arrives. Here a task
//! reloads `cors.toml` when it changes; a file with errors is reported and
//! the running policy kept.
//!
//! ```text
//! echo 'allowed_origins = ["http://127.0.0.1:5000"]' > cors.toml
//! cargo run -p corsgate --example live_swap
//! # edit cors.toml: the next request uses the new policy, no restart
//! ```

use std::time::Duration;

use axum::{Router, routing::get};
use corsgate::{Policy, PolicyHandle, tower::CorsLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "cors.toml".into());
    let handle = PolicyHandle::new(Policy::from_file(&path)?);

    tokio::spawn({
        let handle = handle.clone();
        async move {
            let mut last = std::fs::read(&path).ok();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let now = std::fs::read(&path).ok();
                if now == last {
                    continue;
                }
                last = now;
                match Policy::from_file(&path) {
                    Ok(policy) => {
                        handle.store(policy);
                        println!("reloaded {path}");
                    }
                    Err(errors) => {
                        eprintln!("kept the running policy: {path} has errors\n{errors}")
                    }
                }
            }
        }
    });

    let app = Router::new()
        .route("/users", get(|| async { r#"["ada","grace"]"# }))
        .layer(CorsLayer::with_handle(handle));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    println!("API on http://{}/users", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
