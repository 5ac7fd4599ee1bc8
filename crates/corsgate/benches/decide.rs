//! Per-request cost of CORS handling, measured against a baseline in the
//! same run: a bare tower service, tower-http's `CorsLayer`, and
//! corsgate's `CorsLayer`, each answering a CORS GET, a preflight, a GET
//! from an origin the policy refuses and a GET without `Origin`; plus the
//! bare `Policy::decide` + `apply` with many listed origins.
//!
//! `cargo bench -p corsgate --bench decide` for times; `scripts/bench.sh`
//! for callgrind instruction counts and ratios. Results: docs/benchmarks.md.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use corsgate::{Config, RequestView};
use divan::Bencher;
use http::{HeaderValue, Method, Request, Response};
use tower::{Layer, Service, ServiceExt};

fn main() {
    divan::main();
}

const ORIGIN: &str = "http://127.0.0.1:5000";

/// Polls a future that is ready at once (every service here is).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("the benchmarked services never wait"),
    }
}

fn app() -> impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone {
    tower::service_fn(|_req: Request<()>| async {
        Ok::<_, Infallible>(Response::new(String::from("[]")))
    })
}

fn get() -> Request<()> {
    Request::get("/users")
        .header("origin", ORIGIN)
        .body(())
        .unwrap()
}

fn disallowed() -> Request<()> {
    Request::get("/users")
        .header("origin", "https://evil.example")
        .body(())
        .unwrap()
}

fn no_origin() -> Request<()> {
    Request::get("/users").body(()).unwrap()
}

/// The request of a scenario.
fn request_for(kind: &str) -> fn() -> Request<()> {
    match kind {
        "get" => get,
        "preflight" => preflight,
        "disallowed" => disallowed,
        _ => no_origin,
    }
}

const SCENARIOS: [&str; 4] = ["get", "preflight", "disallowed", "no-origin"];

fn preflight() -> Request<()> {
    Request::options("/users")
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type,x-csrftoken")
        .body(())
        .unwrap()
}

fn corsgate_layer() -> corsgate::tower::CorsLayer {
    corsgate::tower::CorsLayer::new(
        Config::builder()
            .allowed_origins([ORIGIN])
            .allow_credentials(true)
            .compile()
            .unwrap(),
    )
}

fn tower_http_layer() -> tower_http::cors::CorsLayer {
    tower_http::cors::CorsLayer::new()
        .allow_origin(HeaderValue::from_static(ORIGIN))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            http::header::CONTENT_TYPE,
            http::HeaderName::from_static("x-csrftoken"),
        ])
}

#[divan::bench(args = SCENARIOS)]
fn bare_service(bencher: Bencher, kind: &str) {
    let service = app();
    let make = request_for(kind);
    bencher
        .with_inputs(make)
        .bench_local_values(|req| ready(service.clone().oneshot(req)));
}

#[divan::bench(args = SCENARIOS)]
fn tower_http_cors(bencher: Bencher, kind: &str) {
    let service = tower_http_layer().layer(app());
    let make = request_for(kind);
    bencher
        .with_inputs(make)
        .bench_local_values(|req| ready(service.clone().oneshot(req)));
}

#[divan::bench(args = SCENARIOS)]
fn corsgate_cors(bencher: Bencher, kind: &str) {
    let service = corsgate_layer().layer(app());
    let make = request_for(kind);
    bencher
        .with_inputs(make)
        .bench_local_values(|req| ready(service.clone().oneshot(req)));
}

/// decide + apply alone, with 10 or 10,000 listed origins (the request's
/// origin is the last one listed).
#[divan::bench(args = [10, 10_000])]
fn policy_decide_apply(bencher: Bencher, origins: usize) {
    let mut list: Vec<String> = (0..origins)
        .map(|i| format!("https://app{i}.example.com"))
        .collect();
    list.push(ORIGIN.to_owned());
    let policy = Config::builder().allowed_origins(list).compile().unwrap();
    let request = get();
    let mut response = http::HeaderMap::with_capacity(8);
    bencher.bench_local(|| {
        response.clear();
        let decision = policy.decide(&RequestView::from_request(&request));
        decision.apply(&mut response);
        response.len()
    });
}
