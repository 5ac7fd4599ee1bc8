//! The demo's REST API: a JSON items resource and a cookie login, knowing
//! nothing of CORS. corsgate's tower layer wraps it; the same API is also
//! served bare under `/without` (the "before": no CORS headers at all). An
//! outer layer records each request for the terminal and the page: the
//! layer's decision, and what Chromium says of the answer (corsgate's
//! browser model).

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use corsgate::browser::{self, Api, Credentials, Stage};
use corsgate::tower::CorsLayer;
use corsgate::{Decision, DecisionKind, Policy};
use serde_json::{Value, json};

use super::{DecisionLog, Logged, query_number};

/// The token `PUT /items/{id}` wants: `Authorization: Bearer demo-token`.
const TOKEN: &str = "demo-token";
const COOKIE: &str = "corsgate_demo_session";
/// Bounds, so a loop in someone's page cannot grow the process.
const MAX_ITEMS: usize = 1000;
const MAX_NAME: usize = 200;
const MAX_SESSIONS: usize = 1000;

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    items: Vec<(u64, String)>,
    sessions: Vec<String>,
    sessions_made: u64,
}

type Shared = Arc<Mutex<Store>>;

fn lock(store: &Shared) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the bare API (no CORS layer) is served: the demo's "before".
pub(super) const WITHOUT: &str = "/without";

/// What the recording layer needs: the log, and the API's origin (the
/// URLs in Chromium's messages are absolute).
#[derive(Clone)]
struct Recorder {
    log: Arc<DecisionLog>,
    api_origin: String,
}

pub(super) fn router(policy: Policy, log: Arc<DecisionLog>, api_origin: String) -> Router {
    let store = Shared::default();
    {
        let mut s = lock(&store);
        s.items = vec![
            (1, "Write the API".into()),
            (2, "Call it from the page".into()),
        ];
        s.next_id = 3;
    }
    let api = |store: Shared| {
        Router::new()
            .route("/", get(index))
            .route("/items", get(list).post(create))
            .route("/items/{id}", put(update).delete(remove))
            .route("/login", post(login))
            .route("/logout", post(logout))
            .route("/me", get(me))
            .route("/internal/stats", get(stats))
            .fallback(not_found)
            .with_state(store)
    };
    // Around the whole router (not per route), so preflights never reach
    // axum's method routing.
    let guarded = Router::new()
        .fallback_service(api(Arc::clone(&store)))
        .layer(CorsLayer::new(policy).exposing_decision());
    Router::new()
        .nest(WITHOUT, api(store))
        .fallback_service(guarded)
        .layer(middleware::from_fn_with_state(
            Recorder { log, api_origin },
            record_decision,
        ))
}

/// What Chromium does with this answer to a cross-origin request: `None`
/// when the page may read it, else the console line (corsgate's browser
/// model, which the browser suite checks against Chromium).
fn browser_says(
    url: &str,
    origin: &str,
    method: &str,
    request: &HeaderMap,
    credentials: Credentials,
    response: &Response,
) -> Option<String> {
    let requested = request
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok());
    let (stage, failure) = match requested {
        Some(requested) if method == "OPTIONS" => {
            let names: Vec<String> = request
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .and_then(|h| h.to_str().ok())
                .map(|h| {
                    h.split(',')
                        .map(|n| n.trim().to_ascii_lowercase())
                        .collect()
                })
                .unwrap_or_default();
            let check = browser::preflight_check(
                response.status().as_u16(),
                response.headers(),
                origin,
                credentials,
                requested,
                &names,
            );
            (Stage::Preflight, check.err()?)
        }
        _ => (
            Stage::Actual,
            browser::cors_check(response.headers(), origin, credentials).err()?,
        ),
    };
    Some(browser::console_message(
        Api::Fetch,
        url,
        None,
        origin,
        &failure,
        stage,
    ))
}

/// Prints and records the decision the layer made (it hands it over in the
/// response's extensions), once the response is known.
async fn record_decision(
    State(recorder): State<Recorder>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let url = format!("{}{}", recorder.api_origin, request.uri());
    let query = request.uri().query().unwrap_or("");
    let (run, row) = (query_number(query, "run"), query_number(query, "row"));
    // The page marks its `credentials: "include"` calls (`cred=1`).
    let credentials = if query_number(query, "cred") == Some(1) {
        Credentials::Include
    } else {
        Credentials::SameOrigin
    };
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .map(|o| String::from_utf8_lossy(o.as_bytes()).into_owned());
    let headers = request.headers().clone();
    let response = next.run(request).await;
    let cross_origin = origin.as_deref().filter(|o| *o != recorder.api_origin);
    let says =
        cross_origin.and_then(|o| browser_says(&url, o, &method, &headers, credentials, &response));
    let without = path == WITHOUT || path.starts_with(&format!("{WITHOUT}/"));
    // What the terminal and the page say: the verdict and its detail.
    let (kind, allowed, verdict, reason, reason_text, detail) = if without {
        let why = says
            .as_deref()
            .and_then(|s| s.split_once("has been blocked by CORS policy: "))
            .map_or("no CORS headers", |(_, why)| why)
            .to_owned();
        let kind = if headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
            "preflight"
        } else {
            "actual"
        };
        let text = "no CORS headers: this API runs without corsgate".to_owned();
        (
            kind,
            says.is_none(),
            "without corsgate",
            "without-corsgate",
            text,
            why,
        )
    } else {
        let Some(decision) = response.extensions().get::<Decision>().cloned() else {
            return response;
        };
        let allowed = decision.is_allowed();
        let kind = match decision.kind() {
            DecisionKind::Preflight => "preflight",
            DecisionKind::OutOfScope => "out-of-scope",
            _ => "actual",
        };
        let verdict = match (decision.kind(), allowed) {
            (DecisionKind::Preflight, true) => "preflight allowed",
            (DecisionKind::Preflight, false) => {
                "preflight rejected (the browser will not send the request)"
            }
            (DecisionKind::OutOfScope, _) => "no CORS headers",
            (_, true) if origin.is_none() => "not a CORS request",
            (_, true) => "allowed",
            (_, false) => "not allowed (the browser will hide the response)",
        };
        let text = decision.reason().to_string();
        (
            kind,
            allowed,
            verdict,
            decision.reason().name(),
            text.clone(),
            text,
        )
    };
    let status = response.status().as_u16();
    let row_tag = row.map_or_else(String::new, |r| format!("#{} ", r + 1));
    // A closed stdout (`corsgate demo | head`) must not stop the demo.
    let _ = writeln!(
        std::io::stdout().lock(),
        "{row_tag}{method:<7} {path:<24} {status}  {}: {verdict}: {detail}",
        origin.as_deref().unwrap_or("(no Origin)"),
    );
    recorder.log.push(Logged {
        run,
        row,
        without,
        method,
        path,
        origin,
        kind,
        allowed,
        reason,
        reason_text,
        status,
        browser_says: says,
    });
    response
}

fn item(id: u64, name: &str) -> Value {
    json!({ "id": id, "name": name })
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn index() -> Json<Value> {
    Json(json!({
        "endpoints": [
            "GET /items", "POST /items", "PUT /items/{id} (Authorization: Bearer demo-token)",
            "DELETE /items/{id}", "POST /login", "POST /logout", "GET /me (cookie)",
            "GET /internal/stats (outside the CORS scope)"
        ]
    }))
}

async fn list(State(store): State<Shared>) -> Response {
    let s = lock(&store);
    let items: Vec<Value> = s.items.iter().map(|(id, name)| item(*id, name)).collect();
    let mut response = Json(items).into_response();
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(s.items.len()));
    // Not in `expose_headers`: the page cannot read it.
    headers.insert("x-request-id", HeaderValue::from(s.next_id * 7919));
    response
}

/// The `name` of a JSON body `{"name": "…"}`, if it is a valid one.
fn name_of(body: &Value) -> Option<String> {
    body.get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty() && name.len() <= MAX_NAME)
        .map(str::to_owned)
}

fn bad_name() -> Response {
    error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "expected a JSON object with a \"name\" string of 1 to 200 bytes",
    )
}

async fn create(State(store): State<Shared>, Json(body): Json<Value>) -> Response {
    let Some(name) = name_of(&body) else {
        return bad_name();
    };
    let mut s = lock(&store);
    if s.items.len() >= MAX_ITEMS {
        return error(
            StatusCode::INSUFFICIENT_STORAGE,
            "the demo keeps 1000 items at most",
        );
    }
    let id = s.next_id;
    s.next_id += 1;
    s.items.push((id, name.clone()));
    (StatusCode::CREATED, Json(item(id, &name))).into_response()
}

async fn update(
    State(store): State<Shared>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let expected = format!("Bearer {TOKEN}");
    if headers
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes)
        != Some(expected.as_bytes())
    {
        return error(
            StatusCode::UNAUTHORIZED,
            "send `Authorization: Bearer demo-token`",
        );
    }
    let Some(name) = name_of(&body) else {
        return bad_name();
    };
    let mut s = lock(&store);
    match s.items.iter_mut().find(|(i, _)| *i == id) {
        Some(entry) => {
            entry.1 = name;
            Json(item(id, &entry.1)).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "no such item"),
    }
}

async fn remove(State(store): State<Shared>, Path(id): Path<u64>) -> Response {
    let mut s = lock(&store);
    let before = s.items.len();
    s.items.retain(|(i, _)| *i != id);
    if s.items.len() == before {
        error(StatusCode::NOT_FOUND, "no such item")
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

fn session_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

async fn login(State(store): State<Shared>) -> Response {
    let mut s = lock(&store);
    s.sessions_made += 1;
    let token = format!("s{}x{}", s.sessions_made, std::process::id());
    if s.sessions.len() >= MAX_SESSIONS {
        s.sessions.remove(0);
    }
    s.sessions.push(token.clone());
    // Same site (127.0.0.1, any port), so `SameSite=Lax` cookies travel
    // with the page's credentialed requests.
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
    let mut response = Json(json!({ "user": "demo" })).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn logout(State(store): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(token) = session_of(&headers) {
        lock(&store).sessions.retain(|t| t != token);
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn me(State(store): State<Shared>, headers: HeaderMap) -> Response {
    let logged_in =
        session_of(&headers).is_some_and(|t| lock(&store).sessions.iter().any(|s| s == t));
    if logged_in {
        Json(json!({ "user": "demo" })).into_response()
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "no session cookie: POST /login first, with credentials",
        )
    }
}

async fn stats(State(store): State<Shared>) -> Json<Value> {
    Json(json!({ "items": lock(&store).items.len() }))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint; GET / lists them")
}
