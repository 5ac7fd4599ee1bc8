//! corsgate: a CORS policy engine correct to the
//! [Fetch standard](https://fetch.spec.whatwg.org/#http-cors-protocol), with
//! the settings of [django-cors-headers](https://pypi.org/project/django-cors-headers/).
//!
//! A front-end on `http://127.0.0.1:5000` calls an API on
//! `http://127.0.0.1:8000` and the browser says *"has been blocked by CORS
//! policy"*. The API must answer with the right `Access-Control-*` headers;
//! corsgate computes them.
//!
//! - [`Config`]: the settings, as plain data; django-cors-headers' names
//!   (`CORS_ALLOWED_ORIGINS`, …) and old aliases are accepted verbatim in
//!   files, so a Django user can paste their settings.
//! - [`Policy`]: the settings checked and compiled once (every mistake
//!   reported at once, with key, line and fix); immutable, cheap to share.
//! - [`Decision`]: the policy's answer for one request, with a typed
//!   [`Reason`]; [`Decision::apply`] writes the headers in place without
//!   allocating.
//! - [`tower::CorsLayer`]: the adapter for axum, hyper and tonic.
//!
//! # Quick start: axum
//!
//! ```
//! use axum::{Router, routing::get};
//! use corsgate::{Config, tower::CorsLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Config::builder()
//!     .allowed_origins(["http://127.0.0.1:5000"])
//!     .compile()?;
//! let app: Router = Router::new()
//!     .route("/users", get(|| async { r#"["ada"]"# }))
//!     .layer(CorsLayer::new(policy));
//! # use tower::ServiceExt;
//! # let request = http::Request::get("/users")
//! #     .header("origin", "http://127.0.0.1:5000")
//! #     .body(axum::body::Body::empty())?;
//! # let response = app.clone().oneshot(request).await?;
//! # assert_eq!(response.headers()["access-control-allow-origin"], "http://127.0.0.1:5000");
//! // Serve it: axum::serve(tokio::net::TcpListener::bind("127.0.0.1:8000").await?, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Plain hyper 1
//!
//! Wrap a `tower` service and hand it to hyper through `hyper-util`:
//!
//! ```
//! use std::convert::Infallible;
//! use corsgate::{Config, tower::CorsLayer};
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use tower::ServiceBuilder;
//!
//! async fn users(_: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
//!     Ok(http::Response::new(Full::new(Bytes::from_static(b"[]"))))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = Config::builder().allowed_origins(["http://127.0.0.1:5000"]).compile()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let addr = listener.local_addr()?;
//! # let server = tokio::spawn(async move {
//! let (stream, _) = listener.accept().await?;
//! let service = ServiceBuilder::new()
//!     .layer(CorsLayer::new(policy))
//!     .service(tower::service_fn(users));
//! hyper::server::conn::http1::Builder::new()
//!     .serve_connection(
//!         hyper_util::rt::TokioIo::new(stream),
//!         hyper_util::service::TowerToHyperService::new(service),
//!     )
//!     .await?;
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # });
//! # use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # let mut client = tokio::net::TcpStream::connect(addr).await?;
//! # client.write_all(b"GET /users HTTP/1.1\r\nHost: x\r\nOrigin: http://127.0.0.1:5000\r\nConnection: close\r\n\r\n").await?;
//! # let mut answer = String::new();
//! # client.read_to_string(&mut answer).await?;
//! # assert!(answer.contains("access-control-allow-origin: http://127.0.0.1:5000"), "{answer}");
//! # server.await?.map_err(|e| e.to_string())?;
//! # Ok(())
//! # }
//! ```
//!
//! # Coming from Django
//!
//! Put your `CORS_*` settings in a JSON or TOML file as they are in
//! `settings.py` and load it with [`Policy::from_file`] (or
//! [`Policy::from_json_str`]):
//!
//! ```
//! let policy = corsgate::Policy::from_json_str(r#"{
//!     "CORS_ALLOWED_ORIGINS": ["http://127.0.0.1:5000"],
//!     "CORS_ALLOW_CREDENTIALS": true,
//!     "CORS_URLS_REGEX": "^/api/"
//! }"#)?;
//! # let _ = policy;
//! # Ok::<(), corsgate::ConfigErrors>(())
//! ```
//!
//! Where corsgate deliberately behaves differently from django-cors-headers
//! (it is stricter where django has holes) is listed in
//! `docs/django-compat.md`; every setting is described in
//! `docs/configuration.md`.
//!
//! # Policies that change at run time
//!
//! [`OriginCheck`] lets your code allow origins no setting lists (fail
//! closed on errors and timeouts); [`Config::report_only`] decides and
//! counts without changing responses; [`Stats`] holds the counters; a
//! [`PolicyHandle`] replaces a running layer's policy atomically. All work
//! the same in the tower and actix adapters.
//!
//! # Other frameworks
//!
//! An adapter is a few lines: build a [`RequestView`], call
//! [`Policy::decide`], answer a preflight with
//! [`Decision::preflight_response`], or call the application and
//! [`Decision::apply`] the decision to its response.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `tower` | yes | [`tower::CorsLayer`] for axum 0.8, hyper 1, tonic (and `OriginCheck`, whose timeout uses Tokio's timer) |
//! | `actix` | no | [`actix::Cors`], an actix-web 4 middleware (and `OriginCheck`) |
//! | `config-files` | yes | loading [`Config`] from TOML and JSON files and Django `settings.py` (serde, toml, serde_json) |
//! | `browser` | no | [`browser`]: Fetch's CORS checks from the browser's side (`corsgate doctor`) |
//! | `audit` | no | [`audit::audit`]: a security audit of a configuration (`corsgate check`) |
//! | `tracing` | yes | adapters log each decision's reason at debug level, target `corsgate` |
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod anchored;
#[cfg(feature = "audit")]
pub mod audit;
#[cfg(feature = "browser")]
pub mod browser;
mod compile;
mod config;
mod decision;
#[cfg(any(feature = "tower", feature = "actix"))]
mod engine;
mod handle;
mod origin;
#[cfg(any(feature = "tower", feature = "actix"))]
mod origin_check;
mod policy;
mod request;
mod rule;
mod stats;
#[cfg(test)]
#[cfg(feature = "tracing")]
mod test_log;
mod value;

#[cfg(feature = "actix")]
pub mod actix;
#[cfg(feature = "tower")]
pub mod tower;

pub use anchored::MAX_REGEX_BYTES;
pub use config::{
    Config, ConfigBuilder, ConfigError, ConfigErrorKind, ConfigErrors, ConfigLocation,
    DEFAULT_HEADERS, DEFAULT_MAX_AGE, DEFAULT_METHODS, MAX_MAX_AGE, PathRule,
};
#[cfg(feature = "config-files")]
pub use config::{MAX_CONFIG_DEPTH, MAX_CONFIG_FILE_BYTES};
pub use decision::{
    ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK, ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK, Decision,
    DecisionKind, REQUEST_HEADERS, RESPONSE_HEADERS, Reason, ReasonKind,
};
pub use handle::PolicyHandle;
pub use origin::{Origin, OriginError, OriginPattern, OriginProblem};
#[cfg(any(feature = "tower", feature = "actix"))]
pub use origin_check::{CheckError, DEFAULT_CHECK_TIMEOUT, OriginCheck};
pub use policy::Policy;
pub use request::RequestView;
pub use stats::{Stats, StatsSnapshot};

/// Logs a decision at debug level (feature `tracing`), for adapters.
#[cfg(any(feature = "tower", feature = "actix"))]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn trace_decision(decision: &Decision, method: &http::Method, path: &str) {
    #[cfg(feature = "tracing")]
    tracing::debug!(
        target: "corsgate",
        %method,
        path,
        kind = ?decision.kind(),
        reason = decision.reason().name(),
        allowed = decision.is_allowed(),
        "cors decision: {}",
        decision.reason()
    );
}

/// The README's Rust examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
