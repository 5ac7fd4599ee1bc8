//! Policies that change at run time, through the tower layer: dynamic
//! origin checks, report-only mode, live swap.
#![cfg(feature = "tower")]

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corsgate::tower::CorsLayer;
use corsgate::{Config, DecisionKind, OriginCheck, PolicyHandle, ReasonKind};
use http::{HeaderMap, Request, Response, StatusCode};
use tower::{Layer, Service, ServiceExt};

const APP: &str = "https://app.example.com";
const TENANT: &str = "https://tenant-b.example.com";

/// The application: its own headers, including a CORS header of its own, so
/// "untouched" can be told from "rewritten".
async fn app(_: Request<String>) -> Result<Response<String>, Infallible> {
    let mut response = Response::new("hello".to_owned());
    *response.status_mut() = StatusCode::ACCEPTED;
    let headers = response.headers_mut();
    headers.insert("x-app", "1".parse().unwrap());
    headers.insert("access-control-allow-origin", "*".parse().unwrap());
    headers.append("vary", "Accept-Encoding".parse().unwrap());
    Ok(response)
}

fn request(method: &str, origin: Option<&str>, extra: &[(&str, &str)]) -> Request<String> {
    let mut builder = Request::builder().method(method).uri("/api/items");
    if let Some(origin) = origin {
        builder = builder.header("origin", origin);
    }
    for (n, v) in extra {
        builder = builder.header(*n, *v);
    }
    builder.body(String::new()).unwrap()
}

fn preflight(origin: &str) -> Request<String> {
    request(
        "OPTIONS",
        Some(origin),
        &[("access-control-request-method", "PUT")],
    )
}

async fn send(layer: &CorsLayer, req: Request<String>) -> Response<String> {
    layer
        .layer(tower::service_fn(app))
        .oneshot(req)
        .await
        .unwrap()
}

fn acao(response: &Response<String>) -> Vec<&str> {
    response
        .headers()
        .get_all("access-control-allow-origin")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// A fake tenant store with an async lookup (as a database client has).
#[derive(Clone, Default)]
struct Store(Arc<Mutex<HashSet<String>>>);

impl Store {
    async fn contains(&self, origin: &str) -> Result<bool, std::io::Error> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(self.0.lock().unwrap().contains(origin))
    }

    fn add(&self, origin: &str) {
        self.0.lock().unwrap().insert(origin.to_owned());
    }
}

fn store_check(store: &Store) -> OriginCheck {
    let store = store.clone();
    OriginCheck::new_async(move |request| {
        let store = store.clone();
        let origin = request.origin().unwrap_or_default().to_owned();
        async move { store.contains(&origin).await }
    })
}

#[tokio::test]
async fn an_async_check_allows_an_origin_added_at_run_time() {
    let store = Store::default();
    let policy = Config::builder()
        .allowed_origins([APP])
        .allow_credentials(true)
        .compile()
        .unwrap();
    let layer = CorsLayer::new(policy).with_origin_check(store_check(&store));

    // Not yet a tenant: refused, the check was asked.
    let before = send(&layer, request("GET", Some(TENANT), &[])).await;
    assert_eq!(
        acao(&before),
        ["*"],
        "the app's own header, as without a grant"
    );
    assert_eq!(
        before.headers().get("access-control-allow-credentials"),
        None
    );

    store.add(TENANT);
    let after = send(&layer, request("GET", Some(TENANT), &[])).await;
    assert_eq!(acao(&after), [TENANT]);
    assert_eq!(after.headers()["access-control-allow-credentials"], "true");
    assert_eq!(after.status(), StatusCode::ACCEPTED);
    let answer = send(&layer, preflight(TENANT)).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(acao(&answer), [TENANT]);
    assert!(
        answer
            .headers()
            .contains_key("access-control-allow-methods")
    );

    // A statically allowed origin never consults the check; nor does `null`.
    assert_eq!(
        acao(&send(&layer, request("GET", Some(APP), &[])).await),
        [APP]
    );
    let null = send(&layer, request("GET", Some("null"), &[])).await;
    assert_eq!(acao(&null), ["*"]);

    let stats = layer.stats().snapshot();
    assert_eq!(
        (
            stats.checks_allowed,
            stats.checks_denied,
            stats.checks_failed
        ),
        (2, 1, 0)
    );
    assert_eq!(stats.rejected(ReasonKind::OriginNotAllowed), 2, "{stats:?}");
    assert!(
        stats
            .decisions
            .contains(&(DecisionKind::Actual, ReasonKind::AllowedByCheck, 1))
    );
    assert!(
        stats
            .decisions
            .contains(&(DecisionKind::Preflight, ReasonKind::AllowedByCheck, 1))
    );
}

/// The application and an async check run side by side, and either may
/// finish first: the answer waits for both, and the check's decision is
/// applied to the application's response (or its error passed on) in
/// either order.
#[tokio::test]
async fn an_async_check_and_the_application_may_finish_in_either_order() {
    let policy = Config::builder().allowed_origins([APP]).compile().unwrap();
    let millis = |ms: u64| Duration::from_millis(ms);
    for (check_ms, app_ms) in [(0, 0), (30, 0), (0, 30), (10, 40), (40, 10)] {
        let check = OriginCheck::new_async(move |_| async move {
            tokio::time::sleep(millis(check_ms)).await;
            Ok::<_, std::io::Error>(true)
        });
        let layer = CorsLayer::new(policy.clone()).with_origin_check(check);
        let slow_app = tower::service_fn(move |request: Request<String>| async move {
            tokio::time::sleep(millis(app_ms)).await;
            if request.uri().path() == "/fail" {
                return Err("the application failed");
            }
            Ok(Response::new("hello".to_owned()))
        });
        let mut service = layer.layer(slow_app);
        let case = format!("check {check_ms} ms, application {app_ms} ms");
        let started = Instant::now();
        let response = service
            .ready()
            .await
            .unwrap()
            .call(request("GET", Some(TENANT), &[]))
            .await
            .unwrap();
        assert_eq!(acao(&response), [TENANT], "{case}");
        assert_eq!(response.body(), "hello", "{case}");
        assert!(started.elapsed() >= millis(check_ms.max(app_ms)), "{case}");
        let failed = Request::builder()
            .uri("/fail")
            .header("origin", TENANT)
            .body(String::new())
            .unwrap();
        let error = service.ready().await.unwrap().call(failed).await;
        assert_eq!(error.unwrap_err(), "the application failed", "{case}");
    }
    // Polled after its answer, the future says so instead of polling the
    // application's finished future again.
    let layer = CorsLayer::new(policy);
    let mut future = std::pin::pin!(layer.layer(tower::service_fn(app)).call(request(
        "GET",
        Some(APP),
        &[]
    )));
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(future.as_mut().poll(&mut cx).is_ready());
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = future.as_mut().poll(&mut cx);
    }));
    let message = again.expect_err("a second poll panics");
    assert_eq!(
        message.downcast_ref::<&str>(),
        Some(&"ResponseFuture polled after completion")
    );
}

#[tokio::test]
async fn a_sync_check_sees_the_request() {
    let check = OriginCheck::new(|request| {
        request.path().starts_with("/api/") && request.origin() == Some(TENANT)
    });
    let layer = CorsLayer::new(Config::builder().compile().unwrap()).with_origin_check(check);
    let allowed = send(&layer, request("GET", Some(TENANT), &[])).await;
    assert_eq!(acao(&allowed), [TENANT]);
    let other = send(&layer, request("GET", Some("https://x.example"), &[])).await;
    assert_eq!(acao(&other), ["*"]);
    let stats = layer.stats().snapshot();
    assert_eq!((stats.checks_allowed, stats.checks_denied), (1, 1));
}

#[tokio::test]
async fn failing_checks_fail_closed() {
    let policy = Config::builder().compile().unwrap();
    let erroring = OriginCheck::new_async(|_| async {
        Err::<bool, _>(std::io::Error::other("the database is down"))
    });
    let slow = OriginCheck::new_async(|_| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<_, Infallible>(true)
    })
    .timeout(Duration::from_millis(50));
    let panicking = OriginCheck::new(|_| panic!("a bug in the check"));
    let panicking_async = OriginCheck::new_async(|_| async {
        if true {
            panic!("a bug in the async check");
        }
        Ok::<_, Infallible>(true)
    });
    for (name, check) in [
        ("error", erroring),
        ("timeout", slow),
        ("panic", panicking),
        ("async panic", panicking_async),
    ] {
        let layer = CorsLayer::new(policy.clone()).with_origin_check(check);
        let start = Instant::now();
        let actual = send(&layer, request("GET", Some(TENANT), &[])).await;
        assert_eq!(
            acao(&actual),
            ["*"],
            "{name}: no grant, the app's header stays"
        );
        assert_eq!(
            actual.status(),
            StatusCode::ACCEPTED,
            "{name}: the app still answers"
        );
        let answer = send(&layer, preflight(TENANT)).await;
        assert_eq!(acao(&answer), Vec::<&str>::new(), "{name}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{name}: took {:?}",
            start.elapsed()
        );
        let stats = layer.stats().snapshot();
        assert_eq!(
            (stats.checks_allowed, stats.checks_failed),
            (0, 2),
            "{name}"
        );
    }
}

/// Everything a response is: status, every header line in order, body.
fn bytes_of(response: &Response<String>) -> (StatusCode, Vec<(String, Vec<u8>)>, String) {
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect();
    (response.status(), headers, response.body().clone())
}

#[tokio::test]
async fn report_only_changes_no_response_and_counts() {
    let policy = Config::builder()
        .allowed_origins([APP])
        .allow_methods(["GET"])
        .report_only(true)
        .compile()
        .unwrap();
    assert!(policy.report_only());
    let layer = CorsLayer::new(policy);
    let requests = || {
        vec![
            request("GET", Some(APP), &[]),
            request("GET", Some("https://evil.example"), &[]),
            request("GET", None, &[]),
            preflight(APP),
            preflight("https://evil.example"),
            request("OPTIONS", Some(APP), &[]),
            request("GET", Some("not an origin"), &[]),
        ]
    };
    for (through, alone) in requests().into_iter().zip(requests()) {
        let layered = send(&layer, through).await;
        let bare = app(alone).await.unwrap();
        assert_eq!(bytes_of(&layered), bytes_of(&bare));
    }
    let stats = layer.stats().snapshot();
    assert_eq!(stats.preflights(), 2);
    assert_eq!(stats.rejected(ReasonKind::OriginNotAllowed), 2);
    assert_eq!(
        stats.rejected(ReasonKind::MethodNotAllowed),
        1,
        "PUT is not allowed: {stats:?}"
    );
    assert_eq!(stats.rejected(ReasonKind::MalformedOrigin), 1);
    assert_eq!(stats.allowed(), 2, "the GET and the plain OPTIONS from APP");
    assert_eq!(stats.requests(DecisionKind::Actual), 5);
}

#[tokio::test]
async fn report_only_can_be_read_from_a_file() {
    let policy = corsgate::Policy::from_toml_str(&format!(
        "allowed_origins = [\"{APP}\"]\nreport_only = true\n"
    ))
    .unwrap();
    assert!(policy.report_only());
    let errors =
        corsgate::Policy::from_toml_str("[[path_rules]]\nurls_regex = '^/x'\nreport_only = true\n")
            .unwrap_err()
            .to_string();
    assert!(
        errors.contains("`path_rules[0].report_only`: `report_only` applies to the whole policy"),
        "{errors}"
    );
}

/// The CORS headers of a response, sorted: what "matches a policy" means.
fn cors_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<_> = headers
        .iter()
        .filter(|(n, _)| n.as_str().starts_with("access-control-") || n.as_str() == "vary")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_swap_under_load_never_mixes_two_policies() {
    let old = Config::builder()
        .allowed_origins([APP])
        .expose_headers(["x-old"])
        .compile()
        .unwrap();
    let new = Config::builder()
        .allowed_origins([APP])
        .allow_credentials(true)
        .expose_headers(["x-new-a", "x-new-b"])
        .compile()
        .unwrap();
    let handle = PolicyHandle::new(old.clone());
    let layer = CorsLayer::with_handle(handle.clone());

    // What each policy answers, alone.
    let expect = |policy: &corsgate::Policy| {
        let mut response = HeaderMap::new();
        policy
            .decide_request(&request("GET", Some(APP), &[]))
            .apply(&mut response);
        cors_headers(&response)
    };
    let (expect_old, expect_new) = (expect(&old), expect(&new));
    assert_ne!(expect_old, expect_new);

    // Swaps back and forth until every request task is done (bounded).
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (handle, done) = (handle.clone(), Arc::clone(&done));
        let (old, new) = (old.clone(), new.clone());
        tokio::spawn(async move {
            let mut i = 0u64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) && i < 10_000_000 {
                handle.store(if i.is_multiple_of(2) {
                    new.clone()
                } else {
                    old.clone()
                });
                i += 1;
                tokio::task::yield_now().await;
            }
            handle.store(old);
            i
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let layer = layer.clone();
        let (expect_old, expect_new) = (expect_old.clone(), expect_new.clone());
        tasks.push(tokio::spawn(async move {
            let mut service = layer.layer(tower::service_fn(|_: Request<String>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
            let (mut saw_old, mut saw_new) = (0, 0);
            for _ in 0..300 {
                let response = service
                    .ready()
                    .await
                    .unwrap()
                    .call(request("GET", Some(APP), &[]))
                    .await
                    .unwrap();
                let got = cors_headers(response.headers());
                if got == expect_old {
                    saw_old += 1;
                } else if got == expect_new {
                    saw_new += 1;
                } else {
                    panic!("a mixed response: {got:?}");
                }
                tokio::task::yield_now().await;
            }
            (saw_old, saw_new)
        }));
    }
    let (mut total_old, mut total_new) = (0, 0);
    for task in tasks {
        let (o, n) = task.await.unwrap();
        total_old += o;
        total_new += n;
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let swaps = swapper.await.unwrap();
    assert!(swaps > 1, "{swaps}");
    assert_eq!(total_old + total_new, 16 * 300);
    // Both policies really served while the swaps went on.
    assert!(
        total_old > 0 && total_new > 0,
        "old {total_old}, new {total_new}"
    );
    // The last store wins for every request after it.
    let last = send(&layer, request("GET", Some(APP), &[])).await;
    assert_eq!(last.headers()["access-control-expose-headers"], "x-old");
    assert_eq!(last.headers().get("access-control-allow-credentials"), None);
}

/// A proxy's mode: the application's own CORS headers are replaced even
/// where the origin is refused; and the decision is handed over.
#[tokio::test]
async fn replacing_app_headers_and_exposing_the_decision() {
    let policy = Config::builder().allowed_origins([APP]).compile().unwrap();
    let plain = CorsLayer::new(policy.clone()).layer(tower::service_fn(app));
    let proxy = CorsLayer::new(policy)
        .replacing_app_headers()
        .exposing_decision()
        .layer(tower::service_fn(app));
    let refused = || request("GET", Some("https://evil.example"), &[]);
    // By default (as django) the app's own `*` stays for a refused origin.
    let response = plain.clone().oneshot(refused()).await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response.extensions().get::<corsgate::Decision>().is_none());
    // Replacing: gone, and the decision says why.
    let response = proxy.clone().oneshot(refused()).await.unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let decision = response.extensions().get::<corsgate::Decision>().unwrap();
    assert_eq!(decision.reason().name(), "origin-not-allowed");
    // An allowed origin and a preflight answered by the layer carry theirs.
    let response = proxy
        .clone()
        .oneshot(request("GET", Some(APP), &[]))
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], APP);
    let preflight = request(
        "OPTIONS",
        Some(APP),
        &[("access-control-request-method", "PUT")],
    );
    let response = proxy.oneshot(preflight).await.unwrap();
    let decision = response.extensions().get::<corsgate::Decision>().unwrap();
    assert_eq!(decision.kind(), DecisionKind::Preflight);
}

/// `Cors::call_decided` answers as `call` does, with the decision beside
/// the response instead of in its extensions: for a refused and an allowed
/// origin, a preflight the layer answers, an origin an async check allows,
/// report-only mode, and an inner service's error.
#[tokio::test]
async fn call_decided_hands_back_the_decision_beside_the_response() {
    async fn decided(
        layer: &CorsLayer,
        req: Request<String>,
    ) -> (Response<String>, corsgate::Decision) {
        let mut service = layer.layer(tower::service_fn(app));
        service.ready().await.unwrap();
        service.call_decided(req).await.unwrap()
    }
    let policy = Config::builder().allowed_origins([APP]).compile().unwrap();
    let proxy = CorsLayer::new(policy.clone()).replacing_app_headers();

    let (response, decision) =
        decided(&proxy, request("GET", Some("https://evil.example"), &[])).await;
    assert_eq!(decision.reason().name(), "origin-not-allowed");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(acao(&response).is_empty());
    assert!(response.extensions().get::<corsgate::Decision>().is_none());

    let (response, decision) = decided(&proxy, request("GET", Some(APP), &[])).await;
    assert_eq!(decision.reason().name(), "origin-listed");
    assert_eq!(acao(&response), [APP]);
    assert_eq!(response.headers()["x-app"], "1");

    let (response, decision) = decided(&proxy, preflight(APP)).await;
    assert_eq!(decision.kind(), DecisionKind::Preflight);
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers().get("x-app").is_none(),
        "the layer answered"
    );
    assert_eq!(acao(&response), [APP]);

    // The caller has the decision: it is not put in the extensions too,
    // even by a layer set to expose it.
    let (response, _) = decided(&proxy.clone().exposing_decision(), preflight(APP)).await;
    assert!(response.extensions().get::<corsgate::Decision>().is_none());

    let store = Store::default();
    store.add(TENANT);
    let checked = CorsLayer::new(policy.clone()).with_origin_check(store_check(&store));
    let (response, decision) = decided(&checked, request("GET", Some(TENANT), &[])).await;
    assert_eq!(decision.reason().kind(), ReasonKind::AllowedByCheck);
    assert_eq!(acao(&response), [TENANT]);

    let report_only = Config::builder()
        .allowed_origins([APP])
        .report_only(true)
        .compile()
        .unwrap();
    let (response, decision) = decided(
        &CorsLayer::new(report_only),
        preflight("https://evil.example"),
    )
    .await;
    assert_eq!(decision.reason().name(), "origin-not-allowed");
    assert_eq!(response.status(), StatusCode::ACCEPTED, "left to the app");
    assert_eq!(acao(&response), ["*"], "untouched");

    let mut failing = CorsLayer::new(policy).layer(tower::service_fn(|_: Request<String>| async {
        Err::<Response<String>, _>("the app failed")
    }));
    failing.ready().await.unwrap();
    let failed = failing.call_decided(request("GET", Some(APP), &[])).await;
    assert_eq!(failed.err(), Some("the app failed"));
}

/// A service made before a store (as a server makes one per connection)
/// answers its next request, and its next preflight, with the policy
/// stored: nothing an instance keeps between requests may hold on to the
/// policy it used before (the layer loads the handle's on every request).
#[tokio::test]
async fn a_stored_policy_serves_the_next_request_of_a_service_already_made() {
    let handle = PolicyHandle::new(Config::builder().allowed_origins([APP]).compile().unwrap());
    let mut service = CorsLayer::with_handle(handle.clone()).layer(tower::service_fn(|_| async {
        Ok::<_, Infallible>(Response::new(String::new()))
    }));
    let mut send = async |req| service.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(acao(&send(request("GET", Some(APP), &[])).await), [APP]);
    assert!(acao(&send(request("GET", Some(TENANT), &[])).await).is_empty());

    handle.store(
        Config::builder()
            .allowed_origins([TENANT])
            .compile()
            .unwrap(),
    );
    assert_eq!(
        acao(&send(request("GET", Some(TENANT), &[])).await),
        [TENANT]
    );
    assert_eq!(acao(&send(preflight(TENANT)).await), [TENANT]);
    assert!(acao(&send(request("GET", Some(APP), &[])).await).is_empty());
    assert!(acao(&send(preflight(APP)).await).is_empty());

    // And back: the first policy again, not a copy kept from before.
    handle.swap(Config::builder().allowed_origins([APP]).compile().unwrap());
    assert_eq!(acao(&send(request("GET", Some(APP), &[])).await), [APP]);
}
