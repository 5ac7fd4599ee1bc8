//! `corsgate doctor` against loopback servers that answer with scripted
//! headers: every failure class, then the corsgate proxy and tower adapter.

use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use corsgate::tower::CorsLayer;
use serde_json::Value;

use crate::support::{Proxy, doctor_json as doctor, run, serve};

const ORIGIN: &str = "http://127.0.0.1:5000";

/// Answers by path; `other` is the address of a second server for
/// cross-origin redirects.
async fn scripted(
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    other: Option<SocketAddr>,
) -> Response {
    let origin = headers
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let preflight = method == Method::OPTIONS;
    let acao = |v: &str| vec![("access-control-allow-origin".to_owned(), v.to_owned())];
    let (status, list): (u16, Vec<(String, String)>) = match (uri.path(), preflight) {
        ("/missing", _) => (200, vec![]),
        ("/ok", _) => (200, acao(&origin)),
        ("/star", _) => (200, acao("*")),
        ("/dup", _) => (200, [acao(ORIGIN), acao(ORIGIN)].concat()),
        ("/wrong", _) => (200, acao("http://other.example")),
        ("/trailing-slash", _) => (200, acao("http://127.0.0.1:5000/")),
        ("/acac-capital", _) => (
            200,
            [
                acao(&origin),
                vec![("access-control-allow-credentials".into(), "True".into())],
            ]
            .concat(),
        ),
        ("/acac-ok", _) => (
            200,
            [
                acao(&origin),
                vec![("access-control-allow-credentials".into(), "true".into())],
            ]
            .concat(),
        ),
        ("/preflight-404", true) => (404, acao(&origin)),
        ("/preflight-405", true) => (405, vec![]),
        ("/preflight-redirect", true) => (302, vec![("location".into(), "/ok".into())]),
        ("/methods", true) => (
            200,
            [
                acao(&origin),
                vec![("access-control-allow-methods".into(), "GET, POST".into())],
            ]
            .concat(),
        ),
        ("/headers", true) => (
            200,
            [
                acao(&origin),
                vec![
                    ("access-control-allow-methods".into(), "PUT".into()),
                    ("access-control-allow-headers".into(), "x-other".into()),
                ],
            ]
            .concat(),
        ),
        ("/star-headers", true) => (
            200,
            [
                acao(&origin),
                vec![
                    ("access-control-allow-methods".into(), "*".into()),
                    ("access-control-allow-headers".into(), "*".into()),
                ],
            ]
            .concat(),
        ),
        ("/expose-star", _) => (
            200,
            [
                acao(&origin),
                vec![
                    ("access-control-allow-credentials".into(), "true".into()),
                    ("access-control-expose-headers".into(), "*".into()),
                    ("x-total-count".into(), "2".into()),
                ],
            ]
            .concat(),
        ),
        ("/expose", _) => (
            200,
            [
                acao(&origin),
                vec![
                    (
                        "access-control-expose-headers".into(),
                        "x-total-count".into(),
                    ),
                    ("x-total-count".into(), "2".into()),
                    ("x-secret".into(), "1".into()),
                ],
            ]
            .concat(),
        ),
        // A redirect hop must pass the CORS check itself, so it carries ACAO.
        ("/redirect-cross", _) => (
            302,
            [
                acao(&origin),
                vec![(
                    "location".into(),
                    format!("http://{}/ok-listed", other.unwrap()),
                )],
            ]
            .concat(),
        ),
        ("/redirect-bare", _) => (302, vec![("location".into(), "/ok".into())]),
        // A preflighted PUT redirected to another origin, whose preflight
        // allows only `null`: what Chromium and WebKit send there, not Firefox.
        ("/put-redirect", true) => (
            200,
            [
                acao(&origin),
                vec![("access-control-allow-methods".into(), "PUT".into())],
            ]
            .concat(),
        ),
        ("/put-redirect", false) => (
            307,
            [
                acao(&origin),
                vec![(
                    "location".into(),
                    format!("http://{}/null-only", other.unwrap()),
                )],
            ]
            .concat(),
        ),
        ("/null-only", true) => (
            200,
            [
                acao("null"),
                vec![("access-control-allow-methods".into(), "PUT".into())],
            ]
            .concat(),
        ),
        ("/ok-listed", _) => (200, acao(ORIGIN)),
        // `/reflect` reflects every origin; `/https-prefix` is
        // django-cors-headers with `CORS_ALLOWED_ORIGIN_REGEXES =
        // [r"^https://127\.0\.0\.1"]`: anchored at the start only, and
        // https only.
        (path @ ("/reflect" | "/https-prefix"), _)
            if path == "/reflect" || origin.starts_with("https://127.0.0.1") =>
        {
            (
                200,
                [
                    acao(&origin),
                    vec![
                        ("access-control-allow-credentials".into(), "true".into()),
                        ("vary".into(), "Origin".into()),
                    ],
                ]
                .concat(),
            )
        }
        ("/https-prefix", _) => (200, vec![("vary".into(), "Origin".into())]),
        (_, true) => (200, acao(&origin)),
        _ => (200, acao(&origin)),
    };
    let mut response = (StatusCode::from_u16(status).unwrap(), "body").into_response();
    for (n, v) in list {
        response.headers_mut().append(
            axum::http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    response
}

async fn scripted_servers() -> SocketAddr {
    let other = serve(Router::new().fallback(|m, u, h| scripted(m, u, h, None))).await;
    serve(Router::new().fallback(move |m, u, h| scripted(m, u, h, Some(other)))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_class_is_diagnosed() {
    let addr = scripted_servers().await;
    let url = |p: &str| format!("http://{addr}{p}");
    // (path, extra args, error_kind, failing step, message tail)
    let cases: Vec<(&str, Vec<&str>, &str, &str, &str)> = vec![
        (
            "/missing",
            vec![],
            "MissingAllowOriginHeader",
            "actual request",
            "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
        ),
        (
            "/dup",
            vec![],
            "MultipleAllowOriginValues",
            "actual request",
            "contains multiple values 'http://127.0.0.1:5000, http://127.0.0.1:5000', but only one is allowed. Have the server send the header with a valid value.",
        ),
        (
            "/wrong",
            vec![],
            "AllowOriginMismatch",
            "actual request",
            "has a value 'http://other.example' that is not equal to the supplied origin. Have the server send the header with a valid value.",
        ),
        (
            "/trailing-slash",
            vec![],
            "AllowOriginMismatch",
            "actual request",
            "has a value 'http://127.0.0.1:5000/' that is not equal to the supplied origin. Have the server send the header with a valid value.",
        ),
        (
            "/star",
            vec!["--credentials", "include"],
            "WildcardOriginNotAllowed",
            "actual request",
            "must not be the wildcard '*' when the request's credentials mode is 'include'.",
        ),
        (
            "/acac-capital",
            vec!["--credentials", "include"],
            "InvalidAllowCredentials",
            "actual request",
            "header in the response is 'True' which must be 'true' when the request's credentials mode is 'include'.",
        ),
        (
            "/missing",
            vec!["--credentials", "include", "--xhr"],
            "MissingAllowOriginHeader",
            "actual request",
            "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
        ),
        (
            "/preflight-404",
            vec!["--method", "PUT"],
            "PreflightInvalidStatus",
            "preflight",
            "Response to preflight request doesn't pass access control check: It does not have HTTP ok status.",
        ),
        (
            "/preflight-405",
            vec!["--method", "DELETE"],
            // A failure on the preflight's response has its own DevTools name.
            "PreflightMissingAllowOriginHeader",
            "preflight",
            "Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' header is present on the requested resource.",
        ),
        (
            "/preflight-redirect",
            vec!["--method", "PUT"],
            "PreflightDisallowedRedirect",
            "preflight",
            "Response to preflight request doesn't pass access control check: Redirect is not allowed for a preflight request.",
        ),
        (
            "/methods",
            vec!["--method", "put"],
            "MethodDisallowedByPreflightResponse",
            "preflight",
            "Method PUT is not allowed by Access-Control-Allow-Methods in preflight response.",
        ),
        (
            "/methods",
            vec!["--method", "patch"],
            "MethodDisallowedByPreflightResponse",
            "preflight",
            "Method patch is not allowed by Access-Control-Allow-Methods in preflight response.",
        ),
        (
            "/headers",
            vec!["--method", "PUT", "-H", "Content-Type: application/json"],
            "HeaderDisallowedByPreflightResponse",
            "preflight",
            "Request header field content-type is not allowed by Access-Control-Allow-Headers in preflight response.",
        ),
        (
            "/star-headers",
            vec![
                "--method",
                "PUT",
                "-H",
                "X-Api-Key: 1",
                "--credentials",
                "include",
            ],
            "PreflightInvalidAllowCredentials",
            "preflight",
            "Response to preflight request doesn't pass access control check: The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' when the request's credentials mode is 'include'.",
        ),
        (
            "/redirect-bare",
            vec![],
            "MissingAllowOriginHeader",
            "redirect",
            "No 'Access-Control-Allow-Origin' header is present on the requested resource.",
        ),
        (
            "/redirect-cross",
            vec![],
            "AllowOriginMismatch",
            "actual request",
            "has a value 'http://127.0.0.1:5000' that is not equal to the supplied origin. Have the server send the header with a valid value.",
        ),
    ];
    let mut failures = Vec::new();
    for (path, extra, kind, step, tail) in cases {
        let target = url(path);
        let mut args = vec![target.as_str(), "--origin", ORIGIN];
        args.extend(extra.iter().copied());
        let (code, report) = doctor(&args);
        let message = report["console_message"].as_str().unwrap_or("");
        let ok = code == 1
            && report["verdict"] == "blocked"
            && report["error_kind"] == kind
            && report["failing_step"] == step
            && message.ends_with(tail)
            && report["fixes"].as_array().is_some_and(|f| !f.is_empty());
        if !ok {
            failures.push(format!("{path} {extra:?}: exit {code}\n{report:#}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_name_the_api_and_the_redirect() {
    let addr = scripted_servers().await;
    let (_, report) = doctor(&[
        &format!("http://{addr}/missing"),
        "--origin",
        ORIGIN,
        "--xhr",
    ]);
    assert_eq!(
        report["console_message"],
        format!(
            "Access to XMLHttpRequest at 'http://{addr}/missing' from origin 'http://127.0.0.1:5000' has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present on the requested resource."
        )
    );
    let (_, report) = doctor(&[&format!("http://{addr}/redirect-cross"), "--origin", ORIGIN]);
    let message = report["console_message"].as_str().unwrap();
    // The request carries `Origin: null` after the cross-origin hop; the
    // console line still names the page's origin (browser-messages.md).
    assert!(
        message.contains(&format!(
            "(redirected from 'http://{addr}/redirect-cross') from origin 'http://127.0.0.1:5000'"
        )),
        "{message}"
    );
    let actual = report["exchanges"].as_array().unwrap().last().unwrap();
    assert!(
        actual["request"]["headers"]
            .to_string()
            .contains(r#"["Origin","null"]"#),
        "{actual:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_requests_report_what_the_page_can_read() {
    let addr = scripted_servers().await;
    let (code, report) = doctor(&[&format!("http://{addr}/expose"), "--origin", ORIGIN]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["verdict"], "allowed");
    assert_eq!(report["preflight"]["needed"], false);
    assert_eq!(report["error_kind"], Value::Null);
    assert_eq!(
        report["readable_headers"],
        serde_json::json!(["content-length", "content-type", "x-total-count"])
    );

    let (code, report) = doctor(&[
        &format!("http://{addr}/acac-ok"),
        "--origin",
        ORIGIN,
        "--credentials",
        "include",
    ]);
    assert_eq!(code, 0, "{report:#}");

    // Chromium lets `*` cover Authorization; the report warns that the standard does not.
    let (code, report) = doctor(&[
        &format!("http://{addr}/star-headers"),
        "--origin",
        ORIGIN,
        "--method",
        "PUT",
        "-H",
        "Authorization: Bearer x",
    ]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["preflight"]["needed"], true);
    assert_eq!(
        report["preflight"]["request"]["headers"][3],
        serde_json::json!(["Access-Control-Request-Headers", "authorization"])
    );
    assert!(
        report["warnings"].to_string().contains("Fetch standard"),
        "{report:#}"
    );
    // Every engine allows it; Firefox says so in its console, as a warning.
    let (code, report) = doctor(&[
        &format!("http://{addr}/star-headers"),
        "--origin",
        ORIGIN,
        "--method",
        "PUT",
        "-H",
        "Authorization: Bearer x",
        "--browser",
        "all",
    ]);
    assert_eq!(code, 0, "{report:#}");
    let engines = &report["engines"];
    for engine in ["chromium", "firefox", "webkit"] {
        assert_eq!(engines[engine]["verdict"], "allowed", "{engine}");
        assert_eq!(engines[engine]["error_kind"], Value::Null, "{engine}");
    }
    assert_eq!(
        engines["chromium"]["console_messages"],
        serde_json::json!([])
    );
    assert_eq!(engines["webkit"]["console_messages"], serde_json::json!([]));
    assert_eq!(
        engines["firefox"]["console_message"],
        format!(
            "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote resource at http://{addr}/star-headers soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. To include the `Authorization` header, it must be explicitly listed in CORS header `Access-Control-Allow-Headers`)."
        )
    );
    assert_eq!(report["console_message"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_headers_are_sent_like_a_browser() {
    let addr = scripted_servers().await;
    let (_, report) = doctor(&[
        &format!("http://{addr}/ok"),
        "--origin",
        ORIGIN,
        "--method",
        "post",
        "-H",
        "X-B: 1",
        "-H",
        "Content-Type: application/json",
        "-H",
        "x-a: 2",
        "-H",
        "Cookie: a=b",
    ]);
    assert_eq!(report["method"], "POST");
    let sent = &report["preflight"]["request"]["headers"];
    assert_eq!(
        sent[2],
        serde_json::json!(["Access-Control-Request-Method", "POST"])
    );
    assert_eq!(
        sent[3],
        serde_json::json!(["Access-Control-Request-Headers", "content-type,x-a,x-b"])
    );
    assert!(
        report["warnings"]
            .to_string()
            .contains("a page cannot set `Cookie`")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_agrees_with_the_tower_adapter_and_the_proxy() {
    let policy = corsgate::Config::builder()
        .allowed_origins([ORIGIN])
        .allow_headers(["content-type"])
        .compile()
        .unwrap();
    let app = Router::new()
        .route(
            "/users",
            axum::routing::get(|| async { "[]" }).put(|| async { "ok" }),
        )
        .layer(CorsLayer::new(policy));
    let api = serve(app).await;
    let (code, report) = doctor(&[
        &format!("http://{api}/users"),
        "--origin",
        ORIGIN,
        "--method",
        "PUT",
        "-H",
        "Content-Type: application/json",
    ]);
    assert_eq!(
        (code, report["verdict"].as_str()),
        (0, Some("allowed")),
        "{report:#}"
    );
    let (code, report) = doctor(&[
        &format!("http://{api}/users"),
        "--origin",
        "http://localhost:5000",
    ]);
    assert_eq!(
        (code, report["error_kind"].as_str()),
        (1, Some("MissingAllowOriginHeader"))
    );
    let (code, report) = doctor(&[
        &format!("http://{api}/users"),
        "--origin",
        ORIGIN,
        "--method",
        "PUT",
        "-H",
        "X-Api-Key: 1",
    ]);
    assert_eq!(
        (code, report["error_kind"].as_str()),
        (1, Some("HeaderDisallowedByPreflightResponse"))
    );
    assert!(
        report["fixes"]
            .to_string()
            .contains("add `\\\"x-api-key\\\"` to `CORS_ALLOW_HEADERS`"),
        "{report:#}"
    );
    // The complete list: what the server allows now plus the missing one,
    // never the missing one alone (which would drop `content-type`).
    let corsgate_fix = report["fixes"][0]["corsgate"].as_str().unwrap_or_default();
    assert!(
        corsgate_fix.contains(r#"set `allow_headers = ["content-type", "x-api-key"]`"#),
        "{corsgate_fix}"
    );
    assert!(
        corsgate_fix.contains("`--allow-header x-api-key`"),
        "{corsgate_fix}"
    );
    assert_eq!(
        report["fixes"][0]["header"],
        "Access-Control-Allow-Headers: content-type, x-api-key"
    );
    // …and as the environment variable a container sets (#14).
    assert_eq!(
        report["fixes"][0]["env"],
        "`CORS_ALLOW_HEADERS=content-type,x-api-key` (the whole list)"
    );

    // The proxy in front of a back-end without CORS.
    let backend = serve(Router::new().fallback(|| async { "plain" })).await;
    let proxy = tokio::task::block_in_place(|| {
        Proxy::start(&[
            "--upstream",
            &format!("http://{backend}"),
            "--allow-origin",
            ORIGIN,
        ])
    });
    let (code, _) = doctor(&[&proxy.url("/x"), "--origin", ORIGIN, "--method", "DELETE"]);
    assert_eq!(code, 0);
    let (code, report) = doctor(&[
        &proxy.url("/x"),
        "--origin",
        ORIGIN,
        "--credentials",
        "include",
    ]);
    assert_eq!(
        (code, report["error_kind"].as_str()),
        (1, Some("InvalidAllowCredentials"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_and_network_errors_exit_4() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, stderr) = tokio::task::block_in_place(|| {
        run(&["doctor", &format!("http://{free}/"), "--origin", ORIGIN])
    });
    assert_eq!(code, 4, "no answer: no verdict");
    assert!(
        stderr.contains(&format!(
            "cannot reach http://{free}/: nothing is listening on {free} (connection refused): start the server, or check the host and port"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("\n  detail: "), "{stderr}");
    let (code, _, stderr) = tokio::task::block_in_place(|| {
        run(&[
            "doctor",
            "http://127.0.0.1:1/",
            "--origin",
            "127.0.0.1:5000",
        ])
    });
    assert_eq!(code, 2);
    assert!(stderr.contains("has no scheme"), "{stderr}");
    let (code, _, _) = tokio::task::block_in_place(|| run(&["doctor", "http://127.0.0.1:1/"]));
    assert_eq!(code, 2, "--origin is required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_finds_reflection_with_credentials_and_passes_a_strict_policy() {
    let addr = scripted_servers().await;
    let (code, report) = doctor(&["--scan", &format!("http://{addr}/reflect")]);
    assert_eq!(code, 1, "{report:#}");
    let classes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["class"].as_str().unwrap())
        .collect();
    for class in [
        "reflect-any-origin",
        "null-trusted",
        "prefix-match",
        "suffix-match",
        "any-subdomain",
        "third-party",
    ] {
        assert!(classes.contains(&class), "{class} missing: {report:#}");
    }
    assert_eq!(report["findings"][0]["severity"], "high");
    // Issue #14: grouped by cause — reflecting any origin explains every
    // look-alike probe, and each cause is one entry.
    let causes = report["root_causes"].as_array().unwrap();
    assert_eq!(causes[0]["class"], "reflect-any-origin", "{report:#}");
    let explains = causes[0]["explains"].to_string();
    for class in [
        "null-trusted",
        "prefix-match",
        "suffix-match",
        "any-subdomain",
        "third-party",
    ] {
        assert!(explains.contains(class), "{class}: {explains}");
    }
    assert!(causes.len() <= 3, "{causes:#?}");
    let (_, text, _) = tokio::task::block_in_place(|| {
        run(&["doctor", "--scan", &format!("http://{addr}/reflect")])
    });
    assert_eq!(text.matches("reflect-any-origin").count(), 1, "{text}");
    assert!(text.matches("missing-vary-origin").count() <= 1, "{text}");
    assert!(
        text.contains("  this also explains the probes: null-trusted, prefix-match"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(&format!(
            "{} findings from {} causes",
            classes.len(),
            causes.len()
        )),
        "{text}"
    );

    let policy = corsgate::Config::builder()
        .allowed_origins([ORIGIN])
        .allow_credentials(true)
        .compile()
        .unwrap();
    let strict = serve(
        Router::new()
            .fallback(|| async { "ok" })
            .layer(CorsLayer::new(policy)),
    )
    .await;
    let (code, report) = doctor(&["--scan", &format!("http://{strict}/")]);
    assert_eq!(
        (code, report["findings"].as_array().map(Vec::len)),
        (0, Some(0)),
        "{report:#}"
    );
}

/// A policy that trusts only https look-alikes is found from an http URL
/// too: an attacker picks the scheme the server trusts, so each look-alike
/// is sent with both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_probes_look_alikes_over_https_and_http() {
    let addr = scripted_servers().await;
    let (code, report) = doctor(&["--scan", &format!("http://{addr}/https-prefix")]);
    assert_eq!(code, 1, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let prefix = findings
        .iter()
        .find(|f| f["class"] == "prefix-match")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(prefix["probe"], "https://127.0.0.1.evil.example");
    assert_eq!(prefix["severity"], "high");
    // And the `_` look-alike, which starts the same; nothing else: the
    // server refuses every other probe, in either scheme.
    let classes: Vec<&str> = findings
        .iter()
        .map(|f| f["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["prefix-match", "special-character"], "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_without_authorization_and_expose_with_credentials() {
    let addr = scripted_servers().await;
    // `Allow-Headers: *` covers a custom header without credentials, with no warning.
    let (code, report) = doctor(&[
        &format!("http://{addr}/star-headers"),
        "--origin",
        ORIGIN,
        "--method",
        "PUT",
        "-H",
        "X-Api-Key: 1",
    ]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["warnings"], serde_json::json!([]));
    // `Expose-Headers: *` exposes everything without credentials, nothing extra with them.
    let url = format!("http://{addr}/expose-star");
    let (code, report) = doctor(&[&url, "--origin", ORIGIN]);
    assert_eq!(code, 0);
    assert!(
        report["readable_headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("x-total-count")),
        "{report:#}"
    );
    let (code, report) = doctor(&[&url, "--origin", ORIGIN, "--credentials", "include"]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        !report["readable_headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("x-total-count")),
        "{report:#}"
    );
    // The same request with credentials through an exposing server: the listed header is readable.
    let (_, report) = doctor(&[&format!("http://{addr}/expose"), "--origin", ORIGIN]);
    assert!(
        report["readable_headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("x-total-count"))
    );
    assert!(
        !report["readable_headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("x-secret"))
    );
}

// Issue #14: through a proxy whose back-end is down, doctor said ALLOWED
// and nothing else; the 502 was only in the raw dump.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_part_of_the_verdict() {
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = tokio::task::block_in_place(|| {
        Proxy::start(&[
            "--upstream",
            &format!("http://{down}"),
            "--allow-origin",
            ORIGIN,
        ])
    });
    let (code, report) = doctor(&[&proxy.url("/users"), "--origin", ORIGIN]);
    assert_eq!((code, report["verdict"].as_str()), (0, Some("allowed")));
    assert_eq!(report["server_error"]["status"], 502, "{report:#}");
    let message = report["server_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("502 Bad Gateway"), "{message}");
    assert!(message.contains("CORS lets the page read it"), "{message}");
    let (_, text, _) =
        tokio::task::block_in_place(|| run(&["doctor", &proxy.url("/users"), "--origin", ORIGIN]));
    assert!(
        text.contains("\nbut: the server answered 502 Bad Gateway"),
        "{text}"
    );

    // A back-end's own 500 without CORS headers: blocked, and the 500 named.
    let api =
        serve(Router::new().fallback(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }))
            .await;
    let (code, report) = doctor(&[&format!("http://{api}/users"), "--origin", ORIGIN]);
    assert_eq!((code, report["verdict"].as_str()), (1, Some("blocked")));
    let message = report["server_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("the real problem is the server error"),
        "{message}"
    );
    // A healthy answer has no such field.
    let ok = serve(
        Router::new()
            .fallback(|| async { "[]" })
            .layer(CorsLayer::new(
                corsgate::Config::builder()
                    .allowed_origins([ORIGIN])
                    .compile()
                    .unwrap(),
            )),
    )
    .await;
    let (code, report) = doctor(&[&format!("http://{ok}/users"), "--origin", ORIGIN]);
    assert_eq!(code, 0);
    assert!(report.get("server_error").is_none(), "{report:#}");
}

// Issue #16: `--browser` gives each engine's verdict, name and console
// lines (../shared/spec/{browser,firefox,webkit}-messages.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_engine_names_a_failed_preflight_its_own_way() {
    let addr = scripted_servers().await;
    let url = format!("http://{addr}/preflight-405");
    let args = [url.as_str(), "--origin", ORIGIN, "-X", "PUT"];
    // The default is Chromium, as before: the engines object holds it alone.
    let (code, json) = doctor(&args);
    assert_eq!(code, 1);
    assert_eq!(json["error_kind"], "PreflightMissingAllowOriginHeader");
    let engines = json["engines"].as_object().unwrap();
    assert_eq!(engines.keys().collect::<Vec<_>>(), ["chromium"]);
    assert_eq!(
        engines["chromium"]["console_message"],
        json["console_message"]
    );
    assert_eq!(
        engines["chromium"]["console_messages"][1],
        "Failed to load resource: net::ERR_FAILED"
    );

    let (code, json) = doctor(&[&args[..], &["--browser", "all"]].concat());
    assert_eq!(code, 1);
    // The top-level fields are the first engine's: Chromium's.
    assert_eq!(json["error_kind"], "PreflightMissingAllowOriginHeader");
    let firefox = &json["engines"]["firefox"];
    assert_eq!(firefox["verdict"], "blocked");
    assert_eq!(firefox["error_kind"], "CORSMissingAllowOrigin");
    let blocked = format!(
        "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at {url}."
    );
    assert_eq!(
        firefox["console_messages"],
        serde_json::json!([
            format!(
                "{blocked} (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 405."
            ),
            format!("{blocked} (Reason: CORS request did not succeed). Status code: (null)."),
        ])
    );
    // WebKit looks at the preflight's status first.
    let webkit = &json["engines"]["webkit"];
    assert_eq!(webkit["error_kind"], "PreflightNotSuccessful");
    assert_eq!(
        webkit["console_messages"],
        serde_json::json!([
            "Preflight response is not successful. Status code: 405",
            format!("Fetch API cannot load {url} due to access control checks."),
        ])
    );

    let (_, json) = doctor(&[&args[..], &["--browser", "webkit"]].concat());
    assert_eq!(json["error_kind"], "PreflightNotSuccessful");
    assert_eq!(
        json["console_message"],
        "Preflight response is not successful. Status code: 405"
    );
    assert_eq!(
        json["engines"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["webkit"]
    );

    let (code, text, _) = tokio::task::block_in_place(|| {
        run(&[&["doctor"][..], &args[..], &["--browser", "all"]].concat())
    });
    assert_eq!(code, 1);
    for expected in [
        "Chromium says:",
        "Firefox says:",
        "WebKit says:",
        "the engines disagree:",
        "WebKit: blocked, first failing check PreflightInvalidStatus",
        "the OPTIONS answer must be 2xx as well",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

// Firefox's preflight after a cross-origin redirect carries the page's
// origin; Chromium's and WebKit's `null`. A target that allows only `null`
// lets Chromium and WebKit through and blocks Firefox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_preflights_a_redirect_target_with_the_pages_origin() {
    let addr = scripted_servers().await;
    let url = format!("http://{addr}/put-redirect");
    let args = [
        url.as_str(),
        "--origin",
        ORIGIN,
        "-X",
        "PUT",
        "--browser",
        "all",
    ];
    let (code, json) = doctor(&args);
    assert_eq!(code, 1, "Firefox blocks it: {json:#}");
    assert_eq!(json["verdict"], "allowed");
    assert_eq!(json["engines"]["chromium"]["verdict"], "allowed");
    assert_eq!(json["engines"]["webkit"]["verdict"], "allowed");
    let firefox = &json["engines"]["firefox"];
    assert_eq!(firefox["verdict"], "blocked");
    assert_eq!(firefox["error_kind"], "CORSAllowOriginNotMatchingOrigin");
    let message = firefox["console_message"].as_str().unwrap();
    assert!(
        message.ends_with(
            "(Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘null’)."
        ),
        "{message}"
    );
    // Chromium alone passes; Firefox alone makes its own requests: its
    // preflight at the target carried the page's origin.
    let (code, json) = doctor(&args[..5]);
    assert_eq!(code, 0, "Chromium alone passes: {json:#}");
    let (code, json) = doctor(&[&args[..5], &["--browser", "firefox"]].concat());
    assert_eq!(code, 1);
    let preflights: Vec<&Value> = json["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["step"] == "preflight")
        .collect();
    let origin_of = |e: &Value| {
        e["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h[0] == "Origin")
            .map(|h| h[1].clone())
    };
    assert_eq!(preflights.len(), 2);
    assert_eq!(origin_of(preflights[1]), Some(Value::from(ORIGIN)));
    let (_, text, _) = tokio::task::block_in_place(|| run(&[&["doctor"][..], &args[..]].concat()));
    assert!(
        text.contains("Firefox's preflight carries the page's origin"),
        "{text}"
    );
}
