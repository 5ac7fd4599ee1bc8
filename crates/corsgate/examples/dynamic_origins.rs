//! Tenants' origins from a database: a dynamic origin check backed by an
//! in-memory set that a background task refreshes. The check itself never
//! waits on the database, so it is a cheap synchronous lookup.
//!
//! ```text
//! cargo run -p corsgate --example dynamic_origins        # 127.0.0.1:8000
//! curl -i http://127.0.0.1:8000/api/data -H 'Origin: https://acme.example'     # allowed (seeded)
//! curl -i http://127.0.0.1:8000/api/data -H 'Origin: https://newco.example'    # not yet
//! curl -X POST 'http://127.0.0.1:8000/tenants?origin=https://newco.example'    # sign up
//! curl -i http://127.0.0.1:8000/api/data -H 'Origin: https://newco.example'    # allowed now
//! ```
//!
//! For a lookup that must go to the database on each request, use
//! `OriginCheck::new_async` instead (with `.timeout(..)`): a failing or slow
//! lookup then refuses the origin (fail closed) and is logged.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::RawQuery;
use axum::routing::{get, post};
use axum::{Router, http::StatusCode};
use corsgate::{Config, OriginCheck, tower::CorsLayer};

/// Stands in for the tenants table.
#[derive(Clone, Default)]
struct Database(Arc<Mutex<Vec<String>>>);

impl Database {
    async fn tenant_origins(&self) -> Vec<String> {
        tokio::time::sleep(Duration::from_millis(20)).await; // a query
        self.0.lock().unwrap().clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Database::default();
    db.0.lock().unwrap().push("https://acme.example".into());

    // The cache the check reads: filled now, refreshed every 30 s.
    let cache: Arc<RwLock<HashSet<String>>> = Arc::default();
    *cache.write().unwrap() = db.tenant_origins().await.into_iter().collect();
    tokio::spawn({
        let (db, cache) = (db.clone(), Arc::clone(&cache));
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                let fresh: HashSet<String> = db.tenant_origins().await.into_iter().collect();
                *cache.write().unwrap() = fresh;
            }
        }
    });

    let check = OriginCheck::new({
        let cache = Arc::clone(&cache);
        move |request| {
            request
                .origin()
                .is_some_and(|origin| cache.read().unwrap().contains(origin))
        }
    });
    // The static list still applies first (the company's own front-end).
    let policy = Config::builder()
        .allowed_origins(["https://app.example.com"])
        .allow_credentials(true)
        .urls_regex("^/api/")
        .compile()?;
    let cors = CorsLayer::new(policy).with_origin_check(check);

    let app = Router::new()
        .route("/api/data", get(|| async { "tenant data" }))
        .layer(cors)
        // Signing up writes the database and the cache at once.
        .route(
            "/tenants",
            post(move |RawQuery(query): RawQuery| async move {
                let Some(origin) = query.as_deref().and_then(|q| q.strip_prefix("origin=")) else {
                    return (StatusCode::BAD_REQUEST, "expected ?origin=https://…");
                };
                db.0.lock().unwrap().push(origin.to_owned());
                cache.write().unwrap().insert(origin.to_owned());
                (StatusCode::CREATED, "added")
            }),
        );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    println!("API on http://{}/api/data", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
