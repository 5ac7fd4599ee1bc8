//! The conformance table (`testdata/conformance/*.toml`), run row for row
//! against the bare `Policy`, through the tower adapter inside a real axum
//! app, and through the actix adapter inside a real actix-web app. Every row must give the same result through every runner.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use corsgate::tower::CorsLayer;
use corsgate_testkit::{Case, Observed, load_cases, run_policy};
use tower::ServiceExt;

fn report(failures: Vec<String>, runner: &str, total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} conformance rows failed through {runner}:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_row_passes_against_the_bare_policy() {
    let cases = load_cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let (observed, decision) = run_policy(case);
            let problems = [
                case.check(&observed, Some(decision.reason().name())).err(),
                accessors_disagree(case, &decision),
            ];
            let problems: Vec<String> = problems.into_iter().flatten().collect();
            (!problems.is_empty()).then(|| problems.join("\n"))
        })
        .collect();
    report(failures, "the bare Policy", cases.len());
}

/// The reasons that let the page read the response, written out here (not
/// asked of the library) so that `is_allowed` is checked against the table.
const READABLE: [&str; 8] = [
    "path-not-in-scope",
    "no-origin",
    "origin-listed",
    "null-listed",
    "origin-matches-pattern",
    "origin-matches-regex",
    "all-origins-allowed",
    "allowed-by-check",
];

/// The decision's accessors against what the row expects: a preflight is
/// answered without the app, an allowed origin is one the decision writes
/// `Access-Control-Allow-Origin` for (on a response that had none: a row's
/// app may set its own), and the reason says whether the page may read.
fn accessors_disagree(case: &Case, decision: &corsgate::Decision) -> Option<String> {
    let expect = &case.expect;
    let mut problems = Vec::new();
    if decision.is_preflight() == expect.app_called {
        problems.push(format!("is_preflight() is {}", decision.is_preflight()));
    }
    let mut bare = http::HeaderMap::new();
    decision.apply(&mut bare);
    let granted = bare.contains_key("access-control-allow-origin");
    if decision.origin_allowed() != granted {
        problems.push(format!("origin_allowed() is {}", decision.origin_allowed()));
    }
    let readable = READABLE.contains(&expect.reason.as_str());
    if decision.is_allowed() != readable || decision.reason().is_allowed() != readable {
        problems.push(format!(
            "is_allowed() is {}, reason().is_allowed() is {}",
            decision.is_allowed(),
            decision.reason().is_allowed()
        ));
    }
    let kind = decision.reason().kind();
    if kind.is_allowed() != readable || corsgate::ReasonKind::from_name(kind.name()) != Some(kind) {
        problems.push(format!("reason kind {kind:?} disagrees"));
    }
    (!problems.is_empty()).then(|| format!("row `{}`: {}", case.name, problems.join("; ")))
}

/// An axum app whose every route answers as the row's `app` says, and
/// records that it was called.
fn axum_app(case: &Case, called: Arc<AtomicBool>) -> Router {
    let response = case.app_response::<()>();
    let handler = move || {
        let called = Arc::clone(&called);
        let response = response.clone();
        async move {
            called.store(true, Ordering::SeqCst);
            response.map(|()| Body::from("app"))
        }
    };
    Router::new()
        .route(
            "/only-this-route",
            axum::routing::get(|| async { "routed" }),
        )
        .fallback(handler)
        .layer(CorsLayer::new(case.policy()))
}

#[tokio::test]
async fn every_row_passes_through_tower_in_axum() {
    let cases = load_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let called = Arc::new(AtomicBool::new(false));
        let app = axum_app(case, Arc::clone(&called));
        let response = app
            .oneshot(case.request::<Body>())
            .await
            .expect("infallible");
        let observed = Observed {
            status: response.status(),
            headers: response.headers().clone(),
            app_called: called.load(Ordering::SeqCst),
        };
        // The adapter does not expose the decision; its effect is checked.
        if let Err(failure) = case.check(&observed, None) {
            failures.push(failure);
        }
        if !case.expect.app_called {
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .expect("body");
            if !body.is_empty() {
                failures.push(format!(
                    "row `{}`: a preflight answer must have an empty body",
                    case.name
                ));
            }
        }
    }
    report(failures, "tower in axum", cases.len());
}

/// The actix runner: the row's app as an actix-web default service behind
/// `corsgate::actix::Cors`, called through `actix_web::test`.
#[cfg(feature = "actix")]
#[actix_web::test]
async fn every_row_passes_through_actix() {
    use actix_web::http::header::{HeaderName, HeaderValue};
    use actix_web::{App, HttpResponse, test, web};

    let cases = load_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let called = Arc::new(AtomicBool::new(false));
        let app_response = case.app_response::<()>();
        let flag = Arc::clone(&called);
        let handler = move || {
            flag.store(true, Ordering::SeqCst);
            let mut response = HttpResponse::build(
                actix_web::http::StatusCode::from_u16(app_response.status().as_u16()).unwrap(),
            );
            for (name, value) in app_response.headers() {
                response.append_header((name.as_str(), value.as_bytes()));
            }
            let response = response.body("app");
            async move { response }
        };
        let app = test::init_service(
            App::new()
                .wrap(corsgate::actix::Cors::new(case.policy()))
                .route("/only-this-route", web::get().to(|| async { "routed" }))
                .default_service(web::to(handler)),
        )
        .await;
        let mut request = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(case.request.method.as_bytes()).unwrap())
            .uri(&case.request.path);
        let sent: http::Request<()> = case.request();
        for (name, value) in sent.headers() {
            request = request.append_header((
                HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            ));
        }
        let response = test::call_service(&app, request.to_request()).await;
        let mut headers = http::HeaderMap::new();
        for (name, value) in response.headers() {
            headers.append(
                http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        let observed = Observed {
            status: http::StatusCode::from_u16(response.status().as_u16()).unwrap(),
            headers,
            app_called: called.load(Ordering::SeqCst),
        };
        if let Err(failure) = case.check(&observed, None) {
            failures.push(failure);
        }
        if !case.expect.app_called {
            let body = test::read_body(response).await;
            if !body.is_empty() {
                failures.push(format!(
                    "row `{}`: a preflight answer must have an empty body",
                    case.name
                ));
            }
        }
    }
    report(failures, "actix-web", cases.len());
}
