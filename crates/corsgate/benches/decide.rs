//! Per-request cost of CORS handling, measured against a baseline in the
//! same run: a bare tower service, tower-http's `CorsLayer`, and
//! corsgate's `CorsLayer`, alone and under an axum `Router`; with the
//! `actix` feature also a bare actix-web app, actix-cors and corsgate's
//! actix middleware; each answering a CORS
//! GET, a preflight (with only the CORS headers, and with every header
//! Chromium sends), a GET from an origin the policy refuses and a GET
//! without `Origin`; plus the bare `Policy::decide` + `apply` with many
//! listed origins.
//!
//! Each iteration drops its answer (`.map(|r| r.status())`), as a server
//! drops a response once written: kept to the end of a sample, a
//! thousand live answers make their allocations miss malloc's per-thread
//! cache, which no server pays.
//!
//! `cargo bench -p corsgate --features actix --bench decide` for times and
//! allocations; `scripts/bench.sh` for callgrind instruction counts and
//! ratios. Results: docs/benchmarks.md.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use corsgate::{Config, RequestView};
use divan::Bencher;
use http::{HeaderValue, Method, Request, Response};
use tower::{Layer, Service, ServiceExt};

/// Counts allocations: divan prints them per iteration beside the times.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

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
        "browser-preflight" => browser_preflight,
        "disallowed" => disallowed,
        _ => no_origin,
    }
}

const SCENARIOS: [&str; 5] = [
    "get",
    "preflight",
    "browser-preflight",
    "disallowed",
    "no-origin",
];

fn preflight() -> Request<()> {
    Request::options("/users")
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type,x-csrftoken")
        .body(())
        .unwrap()
}

/// The same preflight with every header Chromium sends on one (its
/// `fetch` of a JSON `PUT` from another site), in Chromium's order: the
/// CORS headers among a browser's dozen others.
const BROWSER_PREFLIGHT: [(&str, &str); 13] = [
    ("host", "127.0.0.1:8000"),
    ("connection", "keep-alive"),
    ("accept", "*/*"),
    ("access-control-request-method", "PUT"),
    ("access-control-request-headers", "content-type,x-csrftoken"),
    ("origin", ORIGIN),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
         Chrome/131.0.0.0 Safari/537.36",
    ),
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-site", "same-site"),
    ("sec-fetch-dest", "empty"),
    ("referer", "http://127.0.0.1:5000/"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("accept-language", "en-US,en;q=0.9"),
];

fn browser_preflight() -> Request<()> {
    let mut request = Request::options("/users");
    for (name, value) in BROWSER_PREFLIGHT {
        request = request.header(name, value);
    }
    request.body(()).unwrap()
}

/// The policy every contender applies: one origin, with credentials.
fn corsgate_policy() -> corsgate::Policy {
    Config::builder()
        .allowed_origins([ORIGIN])
        .allow_credentials(true)
        .compile()
        .unwrap()
}

fn corsgate_layer() -> corsgate::tower::CorsLayer {
    corsgate::tower::CorsLayer::new(corsgate_policy())
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
        .bench_local_values(|req| ready(service.clone().oneshot(req)).map(|r| r.status()));
}

#[divan::bench(args = SCENARIOS)]
fn tower_http_cors(bencher: Bencher, kind: &str) {
    let service = tower_http_layer().layer(app());
    let make = request_for(kind);
    bencher
        .with_inputs(make)
        .bench_local_values(|req| ready(service.clone().oneshot(req)).map(|r| r.status()));
}

#[divan::bench(args = SCENARIOS)]
fn corsgate_cors(bencher: Bencher, kind: &str) {
    let service = corsgate_layer().layer(app());
    let make = request_for(kind);
    bencher
        .with_inputs(make)
        .bench_local_values(|req| ready(service.clone().oneshot(req)).map(|r| r.status()));
}

/// axum 0.8: a `Router` with one route (`GET /users`), bare and with each
/// CORS layer, the same policy and scenarios as above. The router clones
/// each route's service (the layer with it) for every request, as every
/// axum app does; the bare router is the baseline.
mod axum_router {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use divan::Bencher;
    use http::Request;
    use tower::{Service, ServiceExt};

    use super::{SCENARIOS, corsgate_layer, ready, request_for, tower_http_layer};

    fn router() -> Router {
        Router::new().route("/users", get(|| async { "[]" }))
    }

    fn run(bencher: Bencher, kind: &str, mut router: Router) {
        let make = request_for(kind);
        bencher
            .with_inputs(|| make().map(|()| Body::empty()))
            .bench_local_values(|req: Request<Body>| {
                let router = ready(ServiceExt::<Request<Body>>::ready(&mut router))
                    .expect("a router is always ready");
                ready(router.call(req)).map(|r| r.status())
            });
    }

    #[divan::bench(args = SCENARIOS)]
    fn bare_router(bencher: Bencher, kind: &str) {
        run(bencher, kind, router());
    }

    #[divan::bench(args = SCENARIOS)]
    fn tower_http_cors(bencher: Bencher, kind: &str) {
        run(bencher, kind, router().layer(tower_http_layer()));
    }

    #[divan::bench(args = SCENARIOS)]
    fn corsgate_cors(bencher: Bencher, kind: &str) {
        run(bencher, kind, router().layer(corsgate_layer()));
    }
}

/// The listed origins of the many-origins benchmarks: `n - 1` others, then
/// the request's, last.
fn many_origins(n: usize) -> Vec<String> {
    let mut list: Vec<String> = (1..n)
        .map(|i| format!("https://app{i}.example.com"))
        .collect();
    list.push(ORIGIN.to_owned());
    list
}

/// A CORS GET through a whole layer with 1 or 10,000 listed origins: the
/// bare service (`bare_service::get`) is the baseline, and tower-http is
/// given its list, and a `HashSet` in a predicate (what a user with many
/// origins would write).
#[divan::bench(args = [1, 10_000])]
fn origins_corsgate(bencher: Bencher, origins: usize) {
    let policy = Config::builder()
        .allowed_origins(many_origins(origins))
        .allow_credentials(true)
        .compile()
        .unwrap();
    let service = corsgate::tower::CorsLayer::new(policy).layer(app());
    bencher
        .with_inputs(get)
        .bench_local_values(|req| ready(service.clone().oneshot(req)).map(|r| r.status()));
}

#[divan::bench(args = [1, 10_000])]
fn origins_tower_http_list(bencher: Bencher, origins: usize) {
    let list = many_origins(origins)
        .into_iter()
        .map(|o| HeaderValue::try_from(o).unwrap());
    let layer = tower_http_layer().allow_origin(tower_http::cors::AllowOrigin::list(list));
    let service = layer.layer(app());
    bencher
        .with_inputs(get)
        .bench_local_values(|req| ready(service.clone().oneshot(req)).map(|r| r.status()));
}

#[divan::bench(args = [1, 10_000])]
fn origins_tower_http_set(bencher: Bencher, origins: usize) {
    let set: std::collections::HashSet<Vec<u8>> = many_origins(origins)
        .into_iter()
        .map(String::into_bytes)
        .collect();
    let allow = tower_http::cors::AllowOrigin::predicate(move |origin: &HeaderValue, _| {
        set.contains(origin.as_bytes())
    });
    let service = tower_http_layer().allow_origin(allow).layer(app());
    bencher
        .with_inputs(get)
        .bench_local_values(|req| ready(service.clone().oneshot(req)).map(|r| r.status()));
}

/// decide + apply alone, with 1 or 10,000 listed origins (the request's
/// origin is the last one listed).
#[divan::bench(args = [1, 10_000])]
fn policy_decide_apply(bencher: Bencher, origins: usize) {
    let policy = Config::builder()
        .allowed_origins(many_origins(origins))
        .compile()
        .unwrap();
    decide_apply(bencher, &policy, &get());
}

/// decide + apply alone, with 1 or 1,000 subdomain patterns (each its own
/// parent domain, at two to four labels; the request matches the last).
#[divan::bench(args = [1, 1_000])]
fn patterns_decide_apply(bencher: Bencher, patterns: usize) {
    let list: Vec<String> = (0..patterns)
        .map(|i| match i % 3 {
            0 => format!("https://*.app{i}.example"),
            1 => format!("https://*.app{i}.example.com"),
            _ => format!("https://*.eu.app{i}.example.com"),
        })
        .collect();
    let last = list.last().unwrap().replace('*', "tenant");
    let policy = Config::builder().allowed_origins(list).compile().unwrap();
    let request = Request::get("/users")
        .header("origin", last)
        .body(())
        .unwrap();
    decide_apply(bencher, &policy, &request);
}

/// decide + apply alone, with 1 or 100 regexes (the request matches the
/// last).
#[divan::bench(args = [1, 100])]
fn regexes_decide_apply(bencher: Bencher, regexes: usize) {
    let list: Vec<String> = (0..regexes)
        .map(|i| format!(r"https://[a-z0-9-]+\.app{i}\.example\.com"))
        .collect();
    let origin = format!("https://tenant.app{}.example.com", regexes - 1);
    let policy = Config::builder()
        .allowed_origin_regexes(list)
        .compile()
        .unwrap();
    let request = Request::get("/users")
        .header("origin", origin)
        .body(())
        .unwrap();
    decide_apply(bencher, &policy, &request);
}

fn decide_apply(bencher: Bencher, policy: &corsgate::Policy, request: &Request<()>) {
    let mut response = http::HeaderMap::with_capacity(8);
    bencher.bench_local(|| {
        response.clear();
        let decision = policy.decide(&RequestView::from_request(request));
        assert!(decision.origin_allowed());
        decision.apply(&mut response);
        response.len()
    });
}

/// actix-web 4: the bare app, actix-cors 0.7 and corsgate's middleware, the
/// same policy and scenarios as the tower benchmarks above. Each request
/// goes through the whole app (routing, the handler), as in production;
/// the bare app is the baseline the middlewares' overhead is measured
/// against.
#[cfg(feature = "actix")]
mod actix {
    use actix_web::dev::{Service, ServiceResponse};
    use actix_web::http::header::CONTENT_TYPE;
    use actix_web::{App, HttpResponse, test, web};
    use divan::Bencher;

    use super::{BROWSER_PREFLIGHT, ORIGIN, SCENARIOS, ready};

    fn request(kind: &str) -> actix_http::Request {
        let request = match kind {
            "get" => test::TestRequest::get().insert_header(("origin", ORIGIN)),
            "preflight" => test::TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .insert_header(("origin", ORIGIN))
                .insert_header(("access-control-request-method", "PUT"))
                .insert_header(("access-control-request-headers", "content-type,x-csrftoken")),
            "browser-preflight" => BROWSER_PREFLIGHT.into_iter().fold(
                test::TestRequest::default().method(actix_web::http::Method::OPTIONS),
                |request, header| request.append_header(header),
            ),
            "disallowed" => {
                test::TestRequest::get().insert_header(("origin", "https://evil.example"))
            }
            _ => test::TestRequest::get(),
        };
        request.uri("/users").to_request()
    }

    async fn users() -> HttpResponse {
        HttpResponse::Ok().body("[]")
    }

    /// Builds the app (on actix's runtime, once) and measures one call per
    /// iteration; the handler and the middlewares answer without waiting.
    fn run<S, B>(bencher: Bencher, kind: &str, service: S)
    where
        S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    {
        bencher
            .with_inputs(|| request(kind))
            .bench_local_values(|req| ready(service.call(req)).map(|r| r.status()));
    }

    #[divan::bench(args = SCENARIOS)]
    fn bare_app(bencher: Bencher, kind: &str) {
        let service = actix_web::rt::System::new().block_on(test::init_service(
            App::new().route("/users", web::get().to(users)),
        ));
        run(bencher, kind, service);
    }

    #[divan::bench(args = SCENARIOS)]
    fn actix_cors(bencher: Bencher, kind: &str) {
        let cors = actix_cors::Cors::default()
            .allowed_origin(ORIGIN)
            .supports_credentials()
            .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
            .allowed_headers([
                CONTENT_TYPE,
                actix_web::http::header::HeaderName::from_static("x-csrftoken"),
            ]);
        let service = actix_web::rt::System::new().block_on(test::init_service(
            App::new().wrap(cors).route("/users", web::get().to(users)),
        ));
        run(bencher, kind, service);
    }

    #[divan::bench(args = SCENARIOS)]
    fn corsgate_actix(bencher: Bencher, kind: &str) {
        let cors = corsgate::actix::Cors::new(super::corsgate_policy());
        let service = actix_web::rt::System::new().block_on(test::init_service(
            App::new().wrap(cors).route("/users", web::get().to(users)),
        ));
        run(bencher, kind, service);
    }
}
