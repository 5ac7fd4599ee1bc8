//! `corsgate demo`: the tutorials' two-origin story, for real. A JSON API
//! guarded by corsgate's tower layer, and a page on another origin that
//! calls it with `fetch` and shows what the browser allowed and blocked.
//!
//! Both servers run in this process, so the page can also show *why*: it
//! reads the API's decisions from its own origin (`/decisions`), where no
//! CORS is involved.

mod api;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use corsgate::{Config, Policy};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::cli::DemoArgs;
use crate::exit;

/// The embedded default policy; its page origin is rewritten to the real one.
const DEFAULT_POLICY: &str = include_str!("policy.toml");
const DEFAULT_PAGE_ORIGIN: &str = "http://127.0.0.1:5000";
const PAGE: &str = include_str!("page.html");

/// How many decisions the page can look back on.
const LOG_CAPACITY: usize = 500;

/// One request the API saw, as the page and the terminal show it.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    /// The page's `run` and `row` query parameters, when present.
    run: Option<u32>,
    row: Option<u32>,
    /// Sent to the bare API (`/without`), not through corsgate.
    without: bool,
    method: String,
    path: String,
    origin: Option<String>,
    kind: &'static str,
    allowed: bool,
    reason: &'static str,
    reason_text: String,
    status: u16,
    /// Chromium's console line when it blocks the answer.
    browser_says: Option<String>,
}

/// The API's decisions, newest last, bounded.
#[derive(Debug, Default)]
pub(crate) struct DecisionLog {
    entries: Mutex<VecDeque<Logged>>,
}

impl DecisionLog {
    fn push(&self, entry: Logged) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() == LOG_CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    fn for_run(&self, run: u32) -> Vec<Value> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .filter(|e| e.run == Some(run))
            .map(|e| {
                json!({
                    "row": e.row,
                    "without": e.without,
                    "browser_says": e.browser_says,
                    "method": e.method,
                    "path": e.path,
                    "origin": e.origin,
                    "kind": e.kind,
                    "allowed": e.allowed,
                    "reason": e.reason,
                    "reason_text": e.reason_text,
                    "status": e.status,
                })
            })
            .collect()
    }
}

pub(crate) fn run(args: &DemoArgs) -> ExitCode {
    for (flag, addr) in [("--api", args.api), ("--page", args.page)] {
        if !addr.ip().is_loopback() {
            eprintln!(
                "error: `{flag} {addr}`: the demo listens on loopback only; use 127.0.0.1 or [::1]"
            );
            return exit::code(exit::ERRORS);
        }
    }
    match crate::rt::runtime(false) {
        Ok(runtime) => runtime.block_on(serve(args)),
        Err(code) => code,
    }
}

/// Binds `addr`, or the same IP on a free port when `addr`'s port is taken.
async fn bind(what: &str, addr: SocketAddr) -> std::io::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && addr.port() != 0 => {
            let listener = TcpListener::bind(SocketAddr::new(addr.ip(), 0)).await?;
            if let Ok(local) = listener.local_addr() {
                println!(
                    "corsgate demo: port {} is taken; the {what} uses {} instead",
                    addr.port(),
                    local.port()
                );
            }
            Ok(listener)
        }
        other => other,
    }
}

fn origin_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// The policy: the user's file, or the embedded one for `page_origin`.
fn load_policy(args: &DemoArgs, page_origin: &str) -> Result<(Policy, String), String> {
    match &args.config {
        Some(path) => Policy::from_file(path)
            .map(|p| (p, format!("from {}", path.display())))
            .map_err(|e| e.to_string()),
        None => {
            let text = DEFAULT_POLICY.replace(
                &format!("[\"{DEFAULT_PAGE_ORIGIN}\"]"),
                &format!("[\"{page_origin}\"]"),
            );
            Config::from_toml_str(&text)
                .and_then(|c| c.compile())
                .map(|p| {
                    (
                        p,
                        format!("embedded default: allows {page_origin}, with credentials"),
                    )
                })
                .map_err(|e| format!("the embedded policy is invalid (a bug): {e}"))
        }
    }
}

async fn serve(args: &DemoArgs) -> ExitCode {
    let page_listener = match bind("page", args.page).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {} (--page): {e}", args.page);
            return exit::code(exit::ERRORS);
        }
    };
    let api_listener = match bind("API", args.api).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {} (--api): {e}", args.api);
            return exit::code(exit::ERRORS);
        }
    };
    let (Ok(page_addr), Ok(api_addr)) = (page_listener.local_addr(), api_listener.local_addr())
    else {
        eprintln!("error: cannot read the listening addresses");
        return exit::code(exit::ERRORS);
    };
    let page_origin = origin_of(page_addr);
    let api_origin = origin_of(api_addr);
    let (policy, described) = match load_policy(args, &page_origin) {
        Ok(p) => p,
        Err(report) => {
            eprintln!("{report}");
            eprintln!("corsgate demo: not started: the policy has errors");
            return exit::code(exit::ERRORS);
        }
    };
    let probe = http::Request::get("/items")
        .header(http::header::ORIGIN, &page_origin)
        .body(())
        .ok();
    if probe.is_some_and(|r| !policy.decide_request(&r).origin_allowed()) {
        println!(
            "corsgate demo: note: the policy does not allow the page's origin {page_origin}: expect blocked calls"
        );
    }

    let log = Arc::new(DecisionLog::default());
    let api = api::router(policy, Arc::clone(&log), api_origin.clone());
    let page = page_router(PageState {
        log,
        api_origin: api_origin.clone(),
        expectations: args.config.is_none(),
    });

    // Tests and scripts read these two lines to learn the addresses.
    println!("corsgate demo: page on {page_origin}/");
    println!("corsgate demo: api on {api_origin}/");
    println!("corsgate demo: policy {described}");
    println!(
        "Open {page_origin}/ in a browser; each API request's decision is printed below. Ctrl-C stops."
    );
    println!();

    let api_server = axum::serve(api_listener, api).with_graceful_shutdown(shutdown());
    let page_server = axum::serve(page_listener, page).with_graceful_shutdown(shutdown());
    match tokio::try_join!(async { api_server.await }, async { page_server.await }) {
        Ok(_) => exit::code(exit::OK),
        Err(e) => {
            eprintln!("error: {e}");
            exit::code(exit::ERRORS)
        }
    }
}

async fn shutdown() {
    crate::rt::shutdown_signal().await;
}

#[derive(Clone)]
struct PageState {
    log: Arc<DecisionLog>,
    api_origin: String,
    expectations: bool,
}

fn page_router(state: PageState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/decisions", get(decisions))
        .with_state(state)
}

async fn page(State(state): State<PageState>) -> impl IntoResponse {
    let config = json!({
        "api": state.api_origin,
        "without": api::WITHOUT,
        "expectations": state.expectations,
    });
    // JSON inside <script>: `<` escaped so no value can close the element.
    let config = config.to_string().replace('<', "\\u003c");
    (
        [(http::header::CACHE_CONTROL, "no-store")],
        Html(PAGE.replace("/*DEMO_CONFIG*/null", &config)),
    )
}

async fn decisions(State(state): State<PageState>, RawQuery(query): RawQuery) -> Response {
    match query.as_deref().and_then(|q| query_number(q, "run")) {
        Some(run) => (
            [(http::header::CACHE_CONTROL, "no-store")],
            axum::Json(state.log.for_run(run)),
        )
            .into_response(),
        None => (
            http::StatusCode::BAD_REQUEST,
            "expected `?run=N`, N a page run number",
        )
            .into_response(),
    }
}

/// The number in `name=N` of a query string, if any.
pub(crate) fn query_number(query: &str, name: &str) -> Option<u32> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.parse().ok())
}
