//! The common paths of `decide` + `apply` allocate nothing: a counting
//! global allocator asserts it (rs/cors quotes this; we enforce it).

// A global allocator is unsafe by nature; this one only forwards and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use corsgate::{Config, Policy, RequestView};
use http::{HeaderMap, HeaderValue, Method};

struct Counting;

thread_local! {
    /// This thread's allocations: the test harness's own threads (which
    /// report a finished test while another measures) are not counted.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread's allocations hold now: what it allocated, less
    /// what it freed (freed on another thread, it would wrap: not here).
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down has no counter left.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn hold(more: usize, less: usize) {
    let _ = LIVE.try_with(|n| n.set(n.get().wrapping_add(more).wrapping_sub(less)));
}

/// Allocations made so far on this thread.
fn allocated() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            hold(layout.size(), 0);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        hold(0, layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        // A failed `realloc` leaves the old block in place.
        if !moved.is_null() {
            hold(new_size, layout.size());
        }
        moved
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The counter is global: one measuring test at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Allocations made by `decide` + `apply` for one request, after a warm-up
/// run (the first clone of a prebuilt value may share its buffer once).
fn allocations(
    policy: &Policy,
    method: Method,
    path: &str,
    request: &[(&'static str, &'static str)],
) -> usize {
    let mut headers = HeaderMap::new();
    for (name, value) in request {
        headers.append(*name, HeaderValue::from_static(value));
    }
    // Room for what `apply` writes, as a server's response map would have.
    let mut response = HeaderMap::with_capacity(16);
    let run = |response: &mut HeaderMap| {
        response.clear();
        let decision = policy.decide(&RequestView::new(&method, path, &headers));
        decision.apply(response);
    };
    run(&mut response);
    let before = allocated();
    for _ in 0..100 {
        run(&mut response);
    }
    allocated() - before
}

/// (name, policy, method, path, request headers)
type Row<'a> = (
    &'a str,
    &'a Policy,
    Method,
    &'a str,
    Vec<(&'static str, &'static str)>,
);

#[test]
fn common_paths_allocate_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let listed = Config::builder()
        .allowed_origins(["http://127.0.0.1:5000", "https://*.example.com"])
        .allowed_origin_regexes([r"^https://\w+\.example\.org$"])
        .expose_headers(["x-total-count"])
        .allow_credentials(true)
        .compile()
        .unwrap();
    let all = Config::builder().allow_all_origins(true).compile().unwrap();
    let scoped = Config::builder()
        .allowed_origins(["http://127.0.0.1:5000"])
        .urls_regex("^/api/")
        .compile()
        .unwrap();
    let origin = ("origin", "http://127.0.0.1:5000");
    let cases: Vec<Row<'_>> = vec![
        (
            "actual, listed origin",
            &listed,
            Method::GET,
            "/users",
            vec![origin],
        ),
        (
            "actual, pattern origin",
            &listed,
            Method::GET,
            "/users",
            vec![("origin", "https://api.example.com")],
        ),
        (
            "actual, regex origin",
            &listed,
            Method::GET,
            "/users",
            vec![("origin", "https://api.example.org")],
        ),
        ("actual, no origin", &listed, Method::GET, "/users", vec![]),
        (
            "actual, allow all",
            &all,
            Method::POST,
            "/users",
            vec![origin],
        ),
        (
            "preflight, listed origin",
            &listed,
            Method::OPTIONS,
            "/users",
            vec![
                origin,
                ("access-control-request-method", "PUT"),
                ("access-control-request-headers", "content-type,x-csrftoken"),
            ],
        ),
        (
            "actual, scoped path",
            &scoped,
            Method::GET,
            "/api/users",
            vec![origin],
        ),
        (
            "actual, out of scope",
            &scoped,
            Method::GET,
            "/static/app.js",
            vec![origin],
        ),
        (
            "actual, rejected origin",
            &listed,
            Method::GET,
            "/users",
            vec![("origin", "https://evil.example")],
        ),
    ];
    let mut failures = Vec::new();
    for (name, policy, method, path, request) in cases {
        let count = allocations(policy, method, path, &request);
        if count != 0 {
            failures.push(format!("{name}: {count} allocations in 100 requests"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[cfg(feature = "tower")]
/// The tower layer adds nothing to that: loading the live policy from its
/// handle, counting in `Stats` and the response future allocate nothing.
#[test]
fn the_tower_layer_allocates_nothing_on_the_common_path() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    use std::cell::RefCell;
    use std::future::Future;
    use std::rc::Rc;
    use std::task::{Context, Poll, Waker};
    use tower::{Layer, Service};

    let policy = Config::builder()
        .allowed_origins(["https://app.example.com"])
        .compile()
        .unwrap();
    let layer = corsgate::tower::CorsLayer::new(policy);
    // Requests and the app's responses are made beforehand, the responses
    // with room for the CORS headers (as a server's would have): only the
    // layer's own work is counted.
    let make_request = || {
        let mut r = http::Request::new(());
        r.headers_mut().insert(
            "origin",
            HeaderValue::from_static("https://app.example.com"),
        );
        r
    };
    let make_response = || {
        let mut r = http::Response::new(());
        *r.headers_mut() = HeaderMap::with_capacity(16);
        r
    };
    let pool: Rc<RefCell<Vec<http::Response<()>>>> =
        Rc::new(RefCell::new((0..101).map(|_| make_response()).collect()));
    let app_pool = Rc::clone(&pool);
    let mut service = layer.layer(tower::service_fn(move |_: http::Request<()>| {
        let response = app_pool.borrow_mut().pop().expect("a response");
        std::future::ready(Ok::<_, std::convert::Infallible>(response))
    }));
    let mut requests: Vec<_> = (0..101).map(|_| make_request()).collect();
    let mut responses = Vec::with_capacity(101);
    let mut cx = Context::from_waker(Waker::noop());
    let mut one = |responses: &mut Vec<http::Response<()>>| {
        let request = requests.pop().expect("a request");
        let mut future = std::pin::pin!(service.call(request));
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(response)) => responses.push(response),
            _ => panic!("a ready service answers at once"),
        }
    };
    one(&mut responses);
    let before = allocated();
    for _ in 0..100 {
        one(&mut responses);
    }
    let allocations = allocated() - before;
    assert_eq!(
        allocations, 0,
        "allocations in 100 requests through the layer"
    );
    assert_eq!(
        responses[100].headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(layer.stats().snapshot().allowed(), 101);
}

/// A policy whose preflight answer carries every header one can.
fn every_preflight_header() -> Policy {
    Config::builder()
        .allowed_origins(["https://app.example.com"])
        .allow_credentials(true)
        .expose_headers(["x-total-count"])
        .allow_private_network(true)
        .compile()
        .unwrap()
}

/// A preflight's answer is built with its header map sized once: the map's
/// first allocation and nothing after it, whatever the policy sends
/// (issue #13: it used to grow, and re-index, at the seventh header).
#[test]
fn a_preflight_answer_allocates_its_map_once() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let policy = every_preflight_header();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "content-type,x-csrftoken"),
        ("access-control-request-private-network", "true"),
    ] {
        headers.append(name, HeaderValue::from_static(value));
    }
    let method = Method::OPTIONS;
    let decision = policy.decide(&RequestView::new(&method, "/api", &headers));
    let _warm: http::Response<()> = decision.preflight_response();
    let before = allocated();
    let response: http::Response<()> = decision.preflight_response();
    let allocations = allocated() - before;
    // Every header a preflight answer can carry is there.
    assert_eq!(response.headers().len(), 9, "{:?}", response.headers());
    // `HeaderMap::with_capacity` allocates its index and its entries.
    assert_eq!(allocations, 2, "allocations for one preflight answer");
}

/// A preflight's answer, dropped, has freed every byte it allocated: the
/// granted answer, with and without private network access (a copy of one
/// of the rule's maps, put in place of the one `Response::new` made, which
/// is forgotten, not dropped), and a refused one (built into a fresh map).
#[test]
fn a_preflight_answer_leaks_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let policy = every_preflight_header();
    for (origin, private_network) in [
        ("https://app.example.com", false),
        ("https://app.example.com", true),
        ("https://evil.example", false),
    ] {
        let mut headers = HeaderMap::new();
        headers.append("origin", HeaderValue::from_static(origin));
        headers.append(
            "access-control-request-method",
            HeaderValue::from_static("PUT"),
        );
        if private_network {
            headers.append(
                "access-control-request-private-network",
                HeaderValue::from_static("true"),
            );
        }
        let method = Method::OPTIONS;
        let decision = policy.decide(&RequestView::new(&method, "/api", &headers));
        drop(decision.preflight_response::<()>());
        let before = LIVE.with(Cell::get);
        for _ in 0..10 {
            let response: http::Response<()> = decision.preflight_response();
            assert!(!response.headers().is_empty(), "{origin}");
            drop(response);
        }
        assert_eq!(
            LIVE.with(Cell::get),
            before,
            "bytes left behind by 10 answers to {origin} (private network: {private_network})"
        );
    }
}
