//! The doctor's prediction against what each real browser did, row by row:
//! one scripted server answers every row's preflight and request with the
//! row's headers; the browser fetches it from a page on another origin, and
//! `corsgate doctor --browser <engine>` diagnoses the same request. The
//! verdict and every console line the browser printed must be the doctor's.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::{Browser, Engine, in_each_engine, page_router, serve, webkit};
use crate::support::{TempDir, doctor_json};

/// A response: its status and header lines; `{origin}` in a value is the
/// request's `Origin`, `{api}` the server's own origin, `{other}` the
/// other rows server's (for cross-origin redirects).
type Answer = (u16, &'static [(&'static str, &'static str)]);

/// One row: what the page asks (fetch's init) and how the server answers.
struct Row {
    name: &'static str,
    init: fn() -> Value,
    preflight: Answer,
    actual: Answer,
}

const ACAO: (&str, &str) = ("access-control-allow-origin", "{origin}");
const OK: Answer = (200, &[ACAO]);
/// A preflight allowing the rows' JSON `PUT`.
const PUT_ALLOWED: Answer = (
    204,
    &[
        ACAO,
        ("access-control-allow-methods", "PUT"),
        ("access-control-allow-headers", "content-type"),
    ],
);
/// A preflight that allows the origin and `Content-Type`, but not `PUT`.
const ONLY_GET_AND_POST: Answer = (
    204,
    &[
        ACAO,
        ("access-control-allow-methods", "GET, POST"),
        ("access-control-allow-headers", "content-type"),
    ],
);

fn get_() -> Value {
    json!({})
}
fn include() -> Value {
    json!({ "credentials": "include" })
}
fn put() -> Value {
    json!({ "method": "PUT", "headers": { "Content-Type": "application/json" }, "body": "{}" })
}
fn custom_header() -> Value {
    json!({ "headers": { "X-Custom": "1" } })
}
fn authorization() -> Value {
    json!({ "headers": { "Authorization": "Bearer abc" } })
}
fn put_with_credentials() -> Value {
    json!({ "method": "PUT", "credentials": "include", "body": "x" })
}
/// `xhr: true`: the page uses XMLHttpRequest (doctor's `--xhr`).
fn xhr_get() -> Value {
    json!({ "xhr": true })
}
fn xhr_put() -> Value {
    json!({ "xhr": true, "method": "PUT", "headers": { "Content-Type": "application/json" }, "body": "{}" })
}

/// Every failure class a command-line doctor can judge, and allowed rows
/// beside them (an allowed row has no console line in any engine).
const ROWS: &[Row] = &[
    Row {
        name: "allowed-get",
        init: get_,
        preflight: OK,
        actual: OK,
    },
    Row {
        name: "missing-acao",
        init: get_,
        preflight: OK,
        actual: (200, &[]),
    },
    Row {
        name: "wrong-acao",
        init: get_,
        preflight: OK,
        actual: (
            200,
            &[("access-control-allow-origin", "http://other.example")],
        ),
    },
    Row {
        name: "acao-trailing-slash",
        init: get_,
        preflight: OK,
        actual: (200, &[("access-control-allow-origin", "{origin}/")]),
    },
    Row {
        name: "acao-null",
        init: get_,
        preflight: OK,
        actual: (200, &[("access-control-allow-origin", "null")]),
    },
    Row {
        name: "two-acao-lines",
        init: get_,
        preflight: OK,
        actual: (200, &[ACAO, ACAO]),
    },
    // The same two lines, spelled `Access-Control-Allow-Origin` (served by
    // the title-case server): Firefox has a reason of its own for these.
    Row {
        name: "two-acao-lines-title-case",
        init: get_,
        preflight: OK,
        actual: (200, &[ACAO, ACAO]),
    },
    Row {
        name: "acao-list",
        init: get_,
        preflight: OK,
        actual: (
            200,
            &[(
                "access-control-allow-origin",
                "{origin}, http://other.example",
            )],
        ),
    },
    Row {
        name: "server-error-without-acao",
        init: get_,
        preflight: OK,
        actual: (500, &[]),
    },
    Row {
        name: "star-with-credentials",
        init: include,
        preflight: OK,
        actual: (200, &[("access-control-allow-origin", "*")]),
    },
    Row {
        name: "credentials-without-acac",
        init: include,
        preflight: OK,
        actual: OK,
    },
    Row {
        name: "acac-capitalised",
        init: include,
        preflight: OK,
        actual: (200, &[ACAO, ("access-control-allow-credentials", "True")]),
    },
    Row {
        name: "allowed-with-credentials",
        init: include,
        preflight: OK,
        actual: (200, &[ACAO, ("access-control-allow-credentials", "true")]),
    },
    Row {
        name: "allowed-put",
        init: put,
        preflight: PUT_ALLOWED,
        actual: OK,
    },
    Row {
        name: "preflight-without-acao",
        init: put,
        preflight: (204, &[]),
        actual: OK,
    },
    Row {
        name: "preflight-404",
        init: put,
        preflight: (404, &[ACAO, ("access-control-allow-methods", "PUT")]),
        actual: OK,
    },
    Row {
        name: "preflight-405-without-acao",
        init: put,
        preflight: (405, &[]),
        actual: OK,
    },
    Row {
        name: "preflight-redirect",
        init: put,
        preflight: (302, &[ACAO, ("location", "{api}/rows/allowed-get")]),
        actual: OK,
    },
    Row {
        name: "method-not-allowed",
        init: put,
        preflight: ONLY_GET_AND_POST,
        actual: OK,
    },
    Row {
        name: "header-not-allowed",
        init: custom_header,
        preflight: (204, &[ACAO, ("access-control-allow-headers", "x-other")]),
        actual: OK,
    },
    Row {
        name: "invalid-allow-methods",
        init: put,
        preflight: (
            204,
            &[
                ACAO,
                ("access-control-allow-methods", "PUT, GE T"),
                ("access-control-allow-headers", "content-type"),
            ],
        ),
        actual: OK,
    },
    Row {
        name: "preflight-wrong-acao",
        init: custom_header,
        preflight: (
            204,
            &[
                ("access-control-allow-origin", "http://other.example"),
                ("access-control-allow-headers", "x-custom"),
            ],
        ),
        actual: OK,
    },
    Row {
        name: "preflight-without-acac",
        init: put_with_credentials,
        preflight: (204, &[ACAO, ("access-control-allow-methods", "PUT")]),
        actual: (200, &[ACAO, ("access-control-allow-credentials", "true")]),
    },
    Row {
        name: "actual-missing-after-preflight",
        init: put,
        preflight: PUT_ALLOWED,
        actual: (200, &[]),
    },
    Row {
        name: "xhr-missing-acao",
        init: xhr_get,
        preflight: OK,
        actual: (200, &[]),
    },
    Row {
        name: "xhr-method-not-allowed",
        init: xhr_put,
        preflight: ONLY_GET_AND_POST,
        actual: OK,
    },
    // A cross-origin redirect: the hop passes, the target is checked
    // against `Origin: null`.
    Row {
        name: "redirect-then-missing",
        init: get_,
        preflight: OK,
        actual: (302, &[ACAO, ("location", "{other}/rows/missing-acao")]),
    },
    Row {
        name: "redirect-then-star",
        init: get_,
        preflight: OK,
        actual: (302, &[ACAO, ("location", "{other}/rows/star")]),
    },
    Row {
        name: "star",
        init: get_,
        preflight: OK,
        actual: (200, &[("access-control-allow-origin", "*")]),
    },
    // A preflighted PUT redirected to another origin, whose preflight
    // allows only `null`: what Chromium and WebKit send there, not Firefox.
    Row {
        name: "put-redirect",
        init: put,
        preflight: PUT_ALLOWED,
        actual: (307, &[ACAO, ("location", "{other}/rows/null-only")]),
    },
    Row {
        name: "null-only",
        init: put,
        preflight: (
            204,
            &[
                ("access-control-allow-origin", "null"),
                ("access-control-allow-methods", "PUT"),
                ("access-control-allow-headers", "content-type"),
            ],
        ),
        actual: (200, &[("access-control-allow-origin", "null")]),
    },
    Row {
        name: "star-headers-cover-authorization",
        init: authorization,
        preflight: (204, &[ACAO, ("access-control-allow-headers", "*")]),
        actual: OK,
    },
];

/// The scripted server: `/rows/<name>` answers as that row says.
async fn answer(
    State(servers): State<Arc<(String, String)>>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Some(row) = ROWS.iter().find(|r| r.name == name) else {
        return (StatusCode::NOT_FOUND, "no such row").into_response();
    };
    let (status, lines) = if method == Method::OPTIONS {
        row.preflight
    } else {
        row.actual
    };
    let origin = headers
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .unwrap_or("");
    let mut response = (StatusCode::from_u16(status).unwrap(), "row body").into_response();
    for (name, value) in lines {
        let value = value
            .replace("{origin}", origin)
            .replace("{api}", &servers.0)
            .replace("{other}", &servers.1);
        response.headers_mut().append(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

/// Rows served with header names in title case (`Access-Control-Allow-Origin`,
/// as Django, nginx or Go write them); the others in hyper's lower case.
const TITLE_CASE: &[&str] = &["two-acao-lines-title-case"];

/// The rows' servers: lower-case and title-case header names. Returns
/// each one's origin.
async fn rows_servers() -> (String, String) {
    let lower = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let title = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = |l: &tokio::net::TcpListener| format!("http://{}", l.local_addr().unwrap());
    let (lower_api, title_api) = (origin(&lower), origin(&title));
    let router = |api: &str, other: &str| {
        Router::new()
            .route("/rows/{name}", any(answer))
            .with_state(Arc::new((api.to_owned(), other.to_owned())))
    };
    let lower_router = router(&lower_api, &title_api);
    tokio::spawn(async move { axum::serve(lower, lower_router).await });
    let title_router = router(&title_api, &lower_api);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = title.accept().await else {
                break;
            };
            let router = title_router.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    tower::ServiceExt::oneshot(router.clone(), request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .title_case_headers(true)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (lower_api, title_api)
}

/// A row's URL on its server.
fn row_url(row: &Row, (lower, title): &(String, String)) -> String {
    let api = if TITLE_CASE.contains(&row.name) {
        title
    } else {
        lower
    };
    format!("{api}/rows/{}", row.name)
}

/// `corsgate doctor`'s arguments for the request `init` describes.
fn doctor_args(url: &str, page: &str, init: &Value, engine: Engine) -> Vec<String> {
    let mut args: Vec<String> = vec![
        url.into(),
        "--origin".into(),
        page.into(),
        "--browser".into(),
        engine.name().into(),
    ];
    if let Some(method) = init["method"].as_str() {
        args.extend(["--method".into(), method.into()]);
    }
    if let Some(headers) = init["headers"].as_object() {
        for (name, value) in headers {
            args.extend(["-H".into(), format!("{name}: {}", value.as_str().unwrap())]);
        }
    }
    if let Some(mode) = init["credentials"].as_str() {
        args.extend(["--credentials".into(), mode.into()]);
    }
    if let Some(body) = init["body"].as_str() {
        args.extend(["--body".into(), body.into()]);
    }
    if init["xhr"] == true {
        args.push("--xhr".into());
    }
    args
}

/// What the doctor predicts for one engine: blocked?, console lines.
fn predicted(url: &str, page: &str, init: &Value, engine: Engine) -> (bool, Vec<String>, Value) {
    let args = doctor_args(url, page, init, engine);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, json) = doctor_json(&args);
    let said = &json["engines"][engine.name()];
    let lines = said["console_messages"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|m| m.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (said["verdict"] == "blocked", lines, json)
}

/// The page's request for a row, `(url, init) => Promise<blocked?>`:
/// `fetch`, or XMLHttpRequest when `init.xhr`.
const REQUEST: &str = r#"((url, init) => init.xhr
  ? new Promise((done) => {
      const x = new XMLHttpRequest();
      x.open(init.method || "GET", url);
      for (const [n, v] of Object.entries(init.headers || {})) x.setRequestHeader(n, v);
      x.withCredentials = init.credentials === "include";
      x.onload = () => done(false);
      x.onerror = () => done(true);
      x.send(init.body ?? null);
    })
  : fetch(url, init).then(() => false, () => true))"#;

/// What the browser did for one row: blocked?, its console lines.
struct Observed {
    blocked: bool,
    lines: Vec<String>,
}

/// Chromium and Firefox: one session, each row fetched in turn, the console
/// read once its lines have arrived (they may follow fetch's rejection).
async fn observe_by_driver(engine: Engine, apis: &(String, String)) -> (String, Vec<Observed>) {
    let page = format!("http://{}", serve(page_router()).await);
    let browser = Browser::start_engine(engine).await;
    browser.open(&page).await;
    let _ = browser.console().await;
    let mut observed = Vec::new();
    for row in ROWS {
        let url = row_url(row, apis);
        let blocked = browser
            .settle(&format!("{REQUEST}({}, {})", json!(url), (row.init)()))
            .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let lines = browser
            .console()
            .await
            .into_iter()
            .map(|(_, message)| message)
            .collect();
        observed.push(Observed {
            blocked: blocked == true,
            lines,
        });
    }
    browser.close().await;
    (page, observed)
}

/// WebKit: MiniBrowser on a page that fetches every row in turn, marking
/// each in the console (see `webkit`'s module comment for why).
async fn observe_in_webkit(apis: &(String, String)) -> (String, Vec<Observed>) {
    let rows: Vec<Value> = ROWS
        .iter()
        .map(|r| json!({ "name": r.name, "url": row_url(r, apis), "init": (r.init)() }))
        .collect();
    let script = format!(
        r#"const rows = {rows};
const request = {REQUEST};
(async () => {{
  for (const row of rows) {{
    console.log("corsgate-begin " + row.name);
    const blocked = await request(row.url, row.init);
    await new Promise((done) => setTimeout(done, 300));
    console.log("corsgate-end " + (blocked ? "blocked" : "allowed"));
  }}
  console.log("corsgate-done");
}})();"#,
        rows = Value::Array(rows)
    );
    let page_html = format!(
        "<!doctype html><meta charset=utf-8><link rel=icon href=\"data:,\"><title>rows</title><script>{script}</script>"
    );
    let router = page_router().route("/rows", get(move || async move { Html(page_html) }));
    let page = format!("http://{}", serve(router).await);
    let profile = TempDir::new("webkit-runner");
    let url = format!("{page}/rows");
    let lines = tokio::task::spawn_blocking(move || {
        webkit::Runner::run(&url, "corsgate-done", profile.path())
    })
    .await
    .expect("the WebKit runner");
    let mut observed = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in lines {
        if line.text.starts_with("corsgate-begin ") {
            current = Some(Vec::new());
        } else if let Some(verdict) = line.text.strip_prefix("corsgate-end ") {
            observed.push(Observed {
                blocked: verdict == "blocked",
                lines: current.take().expect("a begin before an end"),
            });
        } else if let Some(lines) = current.as_mut()
            && line.kind != "LOG"
        {
            lines.push(line.text);
        }
    }
    (page, observed)
}

/// Rows where the doctor is known to differ from a real engine, and why:
/// the test fails if such a row starts to agree (then remove it here, and
/// from docs/engines.md).
const KNOWN: &[(Engine, &str, &str)] = &[];

/// The lines the browser's console channel carries: Firefox's WebDriver
/// BiDi delivers its CORS errors as `log.entryAdded`, but not its CORS
/// warning (`Cross-Origin Request Warning: …`, observed: no entry at all),
/// so a predicted warning is not compared there.
fn comparable(engine: Engine, lines: Vec<String>) -> Vec<String> {
    match engine {
        Engine::Firefox => lines
            .into_iter()
            .filter(|l| !l.starts_with("Cross-Origin Request Warning:"))
            .collect(),
        Engine::Chromium | Engine::Webkit => lines,
    }
}

/// Chromium's log names where a line came from before the line itself
/// (`<url> - …`, `<url> 12:3 …`); the other engines print the line alone.
fn same_line(engine: Engine, printed: &str, predicted: &str) -> bool {
    match engine {
        Engine::Chromium => printed.ends_with(predicted),
        Engine::Firefox | Engine::Webkit => printed == predicted,
    }
}

async fn the_doctor_predicts_what_the_browser_does(engine: Engine) {
    let apis = rows_servers().await;
    let (page, observed) = match engine {
        Engine::Webkit => observe_in_webkit(&apis).await,
        _ => observe_by_driver(engine, &apis).await,
    };
    assert_eq!(observed.len(), ROWS.len(), "every row ran");
    let mut disagreements = Vec::new();
    for (row, seen) in ROWS.iter().zip(&observed) {
        let url = row_url(row, &apis);
        let (blocked, lines, json) = predicted(&url, &page, &(row.init)(), engine);
        let lines = comparable(engine, lines);
        let agree = blocked == seen.blocked
            && lines.len() == seen.lines.len()
            && lines
                .iter()
                .zip(&seen.lines)
                .all(|(p, s)| same_line(engine, s, p));
        let known = KNOWN
            .iter()
            .find(|(e, name, _)| *e == engine && *name == row.name);
        if let Some((_, _, why)) = known {
            assert!(
                !agree,
                "row {} now agrees in {engine:?}: remove it from KNOWN ({why})",
                row.name
            );
        } else if !agree {
            disagreements.push(format!(
                "row {}: the browser {} and printed\n{:#?}\nthe doctor said {} and\n{:#?}\n(doctor: {})",
                row.name,
                if seen.blocked { "blocked" } else { "allowed" },
                seen.lines,
                if blocked { "blocked" } else { "allowed" },
                lines,
                json["engines"][engine.name()]
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{engine:?}: {} of {} rows disagree\n\n{}",
        disagreements.len(),
        ROWS.len(),
        disagreements.join("\n\n")
    );
}

in_each_engine!(the_doctor_predicts_what_the_browser_does);
