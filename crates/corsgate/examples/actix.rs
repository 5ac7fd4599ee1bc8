//! The seeds' story with actix-web: an API on 127.0.0.1:8000 that a
//! front-end on http://127.0.0.1:5000 may call.
//!
//! ```text
//! cargo run -p corsgate --features actix --example actix
//! curl -i http://127.0.0.1:8000/users -H 'Origin: http://127.0.0.1:5000'
//! ```

use actix_web::{App, HttpResponse, HttpServer, web};
use corsgate::{Config, actix::Cors};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Config::builder()
        .allowed_origins(["http://127.0.0.1:5000", "http://localhost:5000"])
        .expose_headers(["x-total-count"])
        .compile()?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    println!("API on http://127.0.0.1:{port}/users, allowing http://127.0.0.1:5000");
    HttpServer::new(move || {
        App::new().wrap(Cors::new(policy.clone())).route(
            "/users",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .insert_header(("x-total-count", "2"))
                    .content_type("application/json")
                    .body(r#"["ada","grace"]"#)
            }),
        )
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    Ok(())
}
