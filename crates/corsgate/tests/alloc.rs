//! The common paths of `decide` + `apply` allocate nothing: a counting
//! global allocator asserts it (rs/cors quotes this; we enforce it).

// A global allocator is unsafe by nature; this one only forwards and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use corsgate::{Config, Policy, RequestView};
use http::{HeaderMap, HeaderValue, Method};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..100 {
        run(&mut response);
    }
    ALLOCATIONS.load(Ordering::SeqCst) - before
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
