//! `corsgate proxy` over real HTTP.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Notify;

use crate::support::{Proxy, TempDir};

const ORIGIN: &str = "http://127.0.0.1:5000";
const EIGHT_MB: usize = 8 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The back-end: a small axum app that knows nothing about CORS (except
/// that it sends a wrong `Access-Control-Allow-Origin: *` of its own).
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    /// Released by the test once it has received the first download chunk.
    gate: Arc<Notify>,
    /// Notified by the upstream when the first upload chunk arrives.
    got_first: Arc<Notify>,
}

async fn start_upstream() -> Upstream {
    let hits = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let got_first = Arc::new(Notify::new());
    let (h, g, f) = (Arc::clone(&hits), Arc::clone(&gate), Arc::clone(&got_first));
    let app = Router::new()
        .route(
            "/users",
            get(|| async {
                let headers = [
                    ("access-control-allow-origin", "*"),
                    ("vary", "Accept-Encoding"),
                    ("content-type", "application/json"),
                ];
                (headers, r#"["ada","grace"]"#)
            }),
        )
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "slow"
            }),
        )
        // The request target as the upstream received it.
        .route(
            "/target",
            get(|uri: axum::http::Uri| async move { uri.to_string() }),
        )
        .route(
            "/headers",
            get(|headers: HeaderMap| async move {
                let mut lines: Vec<String> = headers
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
                    .collect();
                lines.sort();
                lines.join("\n")
            }),
        )
        .route(
            "/stream",
            get(move || {
                let gate = Arc::clone(&g);
                async move {
                    let stream = futures_util::stream::unfold(0usize, move |sent| {
                        let gate = Arc::clone(&gate);
                        async move {
                            if sent >= EIGHT_MB {
                                return None;
                            }
                            if sent == CHUNK {
                                // Hold the rest until the client saw the first chunk.
                                if tokio::time::timeout(Duration::from_secs(10), gate.notified())
                                    .await
                                    .is_err()
                                {
                                    return Some((
                                        Ok::<_, Infallible>(Bytes::from_static(b"TIMEOUT")),
                                        EIGHT_MB,
                                    ));
                                }
                            }
                            Some((Ok(Bytes::from(vec![b'x'; CHUNK])), sent + CHUNK))
                        }
                    });
                    AxumBody::from_stream(stream)
                }
            }),
        )
        .route(
            "/upload",
            post(move |body: AxumBody| {
                let got_first = Arc::clone(&f);
                async move {
                    let mut stream = body.into_data_stream();
                    let (mut len, mut sum) = (0usize, 0u64);
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.unwrap();
                        if len == 0 && !chunk.is_empty() {
                            got_first.notify_one();
                        }
                        len += chunk.len();
                        sum = chunk.iter().fold(sum, |s, b| s.wrapping_add(u64::from(*b)));
                    }
                    format!("{len} {sum}")
                }
            }),
        )
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket| async move {
                    while let Some(Ok(message)) = socket.recv().await {
                        if let Message::Text(text) = message
                            && socket
                                .send(Message::Text(format!("echo: {text}").into()))
                                .await
                                .is_err()
                        {
                            break;
                        }
                    }
                })
            }),
        )
        .layer(axum::middleware::from_fn(
            move |req, next: axum::middleware::Next| {
                let hits = Arc::clone(&h);
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    next.run(req).await
                }
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Upstream {
        addr,
        hits,
        gate,
        got_first,
    }
}

impl Upstream {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

type TestBody = BoxBody<Bytes, Infallible>;

fn client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, Bytes) {
    let mut request = http::Request::builder().method(method).uri(url);
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    let request = request.body(Full::new(Bytes::new()).boxed()).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), client().request(request))
        .await
        .expect("answer within 20 s")
        .expect("a response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

fn all<'a>(headers: &'a http::HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

fn start(args: &[&str]) -> Proxy {
    tokio::task::block_in_place(|| Proxy::start(args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_answered_at_the_proxy() {
    let up = start_upstream().await;
    let proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    let (status, headers, body) = send(
        "OPTIONS",
        &proxy.url("/users"),
        &[
            ("origin", ORIGIN),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
    assert_eq!(
        all(&headers, "access-control-allow-methods"),
        ["DELETE, GET, OPTIONS, PATCH, POST, PUT"]
    );
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        0,
        "the upstream never sees a preflight"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstreams_cors_headers_are_replaced_not_duplicated() {
    let up = start_upstream().await;
    let proxy = start(&[
        "--upstream",
        &up.url(),
        "--allow-origin",
        ORIGIN,
        "--allow-credentials",
    ]);
    let (status, headers, body) = send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
    assert_eq!(status, 200);
    assert_eq!(&body[..], br#"["ada","grace"]"#);
    assert_eq!(
        all(&headers, "access-control-allow-origin"),
        [ORIGIN],
        "one value, ours"
    );
    assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
    assert_eq!(all(&headers, "vary"), ["Accept-Encoding", "Origin"]);

    // A disallowed origin: the upstream's own `*` is removed too.
    let (status, headers, _) = send(
        "GET",
        &proxy.url("/users"),
        &[("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(all(&headers, "access-control-allow-origin").is_empty());

    // Error responses of the upstream get the headers as well.
    let (status, headers, _) = send("GET", &proxy.url("/boom"), &[("origin", ORIGIN)]).await;
    assert_eq!(status, 500);
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_answers_502_with_cors_headers() {
    // A port that was free a moment ago: nothing listens there.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxy = start(&[
        "--upstream",
        &format!("http://{free}"),
        "--allow-origin",
        ORIGIN,
    ]);
    let (status, headers, body) = send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
    assert_eq!(status, 502);
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
    assert_eq!(all(&headers, "content-type"), ["application/json"]);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "upstream_unreachable");
    assert_eq!(json["status"], 502);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_slow_answers_504_with_cors_headers() {
    let up = start_upstream().await;
    let proxy = start(&[
        "--upstream",
        &up.url(),
        "--allow-origin",
        ORIGIN,
        "--timeout",
        "0.3",
    ]);
    let (status, headers, body) = send("GET", &proxy.url("/slow"), &[("origin", ORIGIN)]).await;
    assert_eq!(status, 504);
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"], "upstream_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_bodies_are_streamed_not_buffered() {
    let up = start_upstream().await;
    let proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    let request = http::Request::get(proxy.url("/stream"))
        .header("origin", ORIGIN)
        .body(Full::new(Bytes::new()).boxed())
        .unwrap();
    let response = client().request(request).await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    let mut body = response.into_body();
    let (mut total, mut released) = (0usize, false);
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(20), body.frame())
        .await
        .expect("a frame in time")
    {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        assert!(
            !data.starts_with(b"TIMEOUT"),
            "the upstream waited in vain: the proxy buffered the response"
        );
        total += data.len();
        if !released {
            // The upstream holds the rest back until now.
            up.gate.notify_one();
            released = true;
        }
    }
    assert_eq!(total, EIGHT_MB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_streamed_not_buffered() {
    let up = start_upstream().await;
    let proxy = start(&[
        "--upstream",
        &up.url(),
        "--allow-origin",
        ORIGIN,
        "--max-body",
        "20000000",
    ]);
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(Frame::data(chunk)), rx))
    });
    let request = http::Request::post(proxy.url("/upload"))
        .header("origin", ORIGIN)
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap();
    let pending = tokio::spawn(client().request(request));
    let chunk = Bytes::from((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    tx.send(chunk.clone()).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), up.got_first.notified())
        .await
        .expect("the first chunk reached the upstream before the body was complete: streamed");
    for _ in 1..EIGHT_MB / CHUNK {
        tx.send(chunk.clone()).await.unwrap();
    }
    drop(tx);
    let response = tokio::time::timeout(Duration::from_secs(20), pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let chunk_sum: u64 = chunk.iter().map(|b| u64::from(*b)).sum();
    let expected = format!("{EIGHT_MB} {}", chunk_sum * (EIGHT_MB / CHUNK) as u64);
    assert_eq!(String::from_utf8_lossy(&body), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_over_the_limit_are_refused_with_413() {
    let up = start_upstream().await;
    let proxy = start(&[
        "--upstream",
        &up.url(),
        "--allow-origin",
        ORIGIN,
        "--max-body",
        "1000",
    ]);
    let request = http::Request::post(proxy.url("/upload"))
        .header("origin", ORIGIN)
        .body(Full::new(Bytes::from(vec![0u8; 5000])).boxed())
        .unwrap();
    let response = client().request(request).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["access-control-allow-origin"], ORIGIN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_headers_and_host() {
    let up = start_upstream().await;
    let proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    let (_, _, body) = send(
        "GET",
        &proxy.url("/headers"),
        &[
            ("origin", ORIGIN),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("x-forwarded-for", "10.9.8.7"),
        ],
    )
    .await;
    let seen = String::from_utf8_lossy(&body);
    assert!(seen.contains(&format!("host: {}", up.addr)), "{seen}");
    assert!(
        seen.contains(&format!("x-forwarded-host: {}", proxy.addr)),
        "{seen}"
    );
    assert!(
        seen.contains("x-forwarded-for: 10.9.8.7, 127.0.0.1"),
        "{seen}"
    );
    assert!(seen.contains("x-forwarded-proto: http"), "{seen}");
    assert!(
        !seen.contains("x-hop"),
        "headers named by Connection are hop-by-hop: {seen}"
    );
    // Without one, the client's address is the whole chain.
    let (_, _, body) = send("GET", &proxy.url("/headers"), &[("origin", ORIGIN)]).await;
    let seen = String::from_utf8_lossy(&body);
    assert!(seen.contains("x-forwarded-for: 127.0.0.1\n"), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_is_not_an_open_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = start_upstream().await;
    let proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    // An absolute-form request naming another host still goes to the upstream.
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(b"GET http://example.com/users HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"["ada","grace"]"#), "{answer}");
    assert_eq!(up.hits.load(Ordering::SeqCst), 1);
    // The upstream gets the path and query alone (origin form), from a
    // request in absolute form as from one in origin form, in HTTP/1 and 2.
    for target in ["http://example.com/target?a=1&b=%20", "/target?a=1&b=%20"] {
        let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{target}: {answer}");
        assert!(
            answer.ends_with("\r\n\r\n/target?a=1&b=%20"),
            "{target}: {answer}"
        );
    }
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<http_body_util::Empty<Bytes>>();
    let response = client
        .get(proxy.url("/target?a=1&b=%20").parse().unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "/target?a=1&b=%20");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_pass_through() {
    let up = start_upstream().await;
    let proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    let (status, reply) = crate::support::websocket_hello(&proxy).await;
    assert_eq!(status, 101);
    assert_eq!(reply, "echo: hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_django_settings_json_file_works_as_is() {
    let up = start_upstream().await;
    let dir = TempDir::new("django");
    let settings = dir.write(
        "settings.json",
        r#"{
  "CORS_ALLOWED_ORIGINS": ["http://127.0.0.1:5000"],
  "CORS_ALLOW_CREDENTIALS": true,
  "CORS_URLS_REGEX": "^/users"
}"#,
    );
    let proxy = start(&[
        "--config",
        settings.to_str().unwrap(),
        "--upstream",
        &up.url(),
    ]);
    let (_, headers, _) = send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
    assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
    // Outside CORS_URLS_REGEX the upstream's answer passes untouched.
    let (_, headers, _) = send("GET", &proxy.url("/boom"), &[("origin", ORIGIN)]).await;
    assert!(all(&headers, "access-control-allow-origin").is_empty());
    assert!(all(&headers, "vary").is_empty());
}

/// "Paste your Django settings" taken literally: the proxy reads a
/// settings.py's CORS_* literals, skips the rest, and reloads it (#14).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_django_settings_py_works_as_is_and_reloads() {
    let up = start_upstream().await;
    let dir = TempDir::new("settings-py");
    let settings = dir.write(
        "settings.py",
        "import os\nfrom corsheaders.defaults import default_headers\n\nSECRET_KEY = os.environ['SECRET_KEY']\n\nCORS_ALLOWED_ORIGINS = [\n    'http://127.0.0.1:5000',  # the front-end\n]\nCORS_ALLOW_HEADERS = (*default_headers, 'x-debug')\nCORS_ALLOW_CREDENTIALS = True\n",
    );
    let proxy = start(&[
        "--config",
        settings.to_str().unwrap(),
        "--upstream",
        &up.url(),
        "--reload-interval",
        "0.2",
    ]);
    let (_, headers, _) = send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
    assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
    let preflight = [
        ("origin", ORIGIN),
        ("access-control-request-method", "PUT"),
        ("access-control-request-headers", "content-type,x-debug"),
    ];
    let (status, headers, _) = send("OPTIONS", &proxy.url("/users"), &preflight).await;
    assert_eq!(status, 200);
    let allowed = all(&headers, "access-control-allow-headers").join(",");
    assert!(
        allowed.contains("x-debug") && allowed.contains("content-type"),
        "{allowed}"
    );

    // An edit that computes a value at run time is refused with its line;
    // the old policy keeps serving.
    std::fs::write(
        &settings,
        "CORS_ALLOWED_ORIGINS = os.environ['ORIGINS'].split(',')\n",
    )
    .unwrap();
    let log = proxy
        .stderr_once("not reloading", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no refusal:\n{}", proxy.stderr()));
    assert!(
        log.contains("settings.py:1:24: error: `CORS_ALLOWED_ORIGINS`: reads the environment"),
        "{log}"
    );
    let (_, headers, _) = send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
}

/// Containers configure through the environment: file < environment <
/// flags, at start and after a reload (#14).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_sits_between_the_file_and_the_flags() {
    let up = start_upstream().await;
    let dir = TempDir::new("env");
    let settings = dir.write(
        "settings.py",
        "CORS_ALLOWED_ORIGINS = ['http://file.example']\nCORS_ALLOW_CREDENTIALS = True\nCORS_EXPOSE_HEADERS = ['x-from-file']\n",
    );
    let proxy = Proxy::start_with_env(
        &[
            (
                "CORS_ALLOWED_ORIGINS",
                "http://env.example, http://127.0.0.1:5000",
            ),
            ("CORS_EXPOSE_HEADERS", "x-from-env"),
            ("CORS_PROXY_URL", "another program's variable"),
        ],
        &[
            "--config",
            settings.to_str().unwrap(),
            "--upstream",
            &up.url(),
            "--expose-header",
            "x-from-flag",
            "--reload-interval",
            "0.2",
        ],
    );
    assert!(
        proxy
            .stderr()
            .contains("from the environment: CORS_ALLOWED_ORIGINS, CORS_EXPOSE_HEADERS"),
        "{}",
        proxy.stderr()
    );
    let check = |origin: &'static str| {
        let url = proxy.url("/users");
        async move {
            let (_, headers, _) = send("GET", &url, &[("origin", origin)]).await;
            headers
        }
    };
    // The environment replaced the file's origins; the file's credentials stay.
    let headers = check("http://env.example").await;
    assert_eq!(
        all(&headers, "access-control-allow-origin"),
        ["http://env.example"]
    );
    assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
    assert!(
        all(
            &check("http://file.example").await,
            "access-control-allow-origin"
        )
        .is_empty()
    );
    // The flag added to the environment's list.
    let exposed = all(&check(ORIGIN).await, "access-control-expose-headers").join(",");
    assert_eq!(exposed, "x-from-env, x-from-flag");

    // A reload of the file keeps the environment on top.
    std::fs::write(
        &settings,
        "CORS_ALLOWED_ORIGINS = ['http://file.example']\nCORS_ALLOW_CREDENTIALS = False\n",
    )
    .unwrap();
    proxy
        .stderr_once("reloaded", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no reload:\n{}", proxy.stderr()));
    let headers = check("http://env.example").await;
    assert_eq!(
        all(&headers, "access-control-allow-origin"),
        ["http://env.example"]
    );
    assert!(all(&headers, "access-control-allow-credentials").is_empty());
}

/// The request log is written off the request path (a writer thread), and
/// nothing is lost: every request's line is out once the proxy has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_logged_also_at_shutdown() {
    let up = start_upstream().await;
    let mut proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    for _ in 0..200 {
        send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
    }
    proxy.signal("TERM");
    let code = tokio::task::block_in_place(|| proxy.wait_exit(Duration::from_secs(15)));
    assert_eq!(code, Some(0));
    // The stderr reader thread drains the pipe after the exit.
    let log = proxy
        .stderr_once("stopped", Duration::from_secs(5))
        .unwrap_or_else(|| proxy.stderr());
    let lines = log.lines().filter(|l| l.contains("path=/users")).count();
    assert_eq!(lines, 200, "{log}");
}

/// `--workers 1` serves on the thread that accepts (no serving thread of
/// its own); `--workers 3` on three threads of their own, each with Tokio's
/// single-threaded scheduler (no Tokio worker thread in either). Both
/// answer, log every request and stop cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_sets_the_serving_threads_and_one_means_a_single_thread() {
    let up = start_upstream().await;
    for (workers, expected) in [("1", 0), ("3", 3)] {
        let mut proxy = start(&[
            "--upstream",
            &up.url(),
            "--allow-origin",
            ORIGIN,
            "--workers",
            workers,
        ]);
        for _ in 0..20 {
            let (status, headers, _) =
                send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
            assert_eq!(status, 200);
            assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
        }
        let (status, headers, _) = send(
            "OPTIONS",
            &proxy.url("/users"),
            &[("origin", ORIGIN), ("access-control-request-method", "PUT")],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
        if cfg!(target_os = "linux") {
            let names = proxy.thread_names();
            let serving = names.iter().filter(|n| *n == "corsgate-worker").count();
            assert_eq!(serving, expected, "--workers {workers}: threads {names:?}");
            assert!(
                !names.iter().any(|n| n == "tokio-rt-worker"),
                "--workers {workers}: threads {names:?}"
            );
        }
        proxy.signal("TERM");
        let code = tokio::task::block_in_place(|| proxy.wait_exit(Duration::from_secs(15)));
        assert_eq!(code, Some(0), "--workers {workers}");
        let log = proxy
            .stderr_once("stopped", Duration::from_secs(5))
            .unwrap_or_else(|| proxy.stderr());
        let lines = log.lines().filter(|l| l.contains("path=/users")).count();
        assert_eq!(lines, 21, "--workers {workers}: {log}");
    }
    let (code, _, stderr) =
        crate::support::run(&["proxy", "--upstream", &up.url(), "--workers", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--workers"), "{stderr}");
}

/// A port another proxy listens on is refused, whatever either's thread
/// count: the serving threads' shared listeners (`SO_REUSEPORT` on Linux)
/// never take in another process, which would quietly get part of the
/// requests. The first proxy keeps serving every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_another_proxy_listens_on_is_refused_whatever_the_threads() {
    let up = start_upstream().await;
    for first in ["1", "3"] {
        let proxy = start(&[
            "--upstream",
            &up.url(),
            "--allow-origin",
            ORIGIN,
            "--workers",
            first,
        ]);
        let listen = proxy.addr.to_string();
        for second in ["1", "3"] {
            let (code, _, stderr) = tokio::task::block_in_place(|| {
                crate::support::run(&[
                    "proxy",
                    "--upstream",
                    &up.url(),
                    "--allow-origin",
                    ORIGIN,
                    "--listen",
                    &listen,
                    "--workers",
                    second,
                ])
            });
            assert_eq!(code, 1, "--workers {first}, then {second}: {stderr}");
            assert!(
                stderr.contains(&format!("cannot listen on {listen}")),
                "--workers {first}, then {second}: {stderr}"
            );
        }
        for _ in 0..20 {
            let (status, headers, _) =
                send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
            assert_eq!(status, 200, "--workers {first}");
            assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
        }
    }
}

#[test]
fn a_bad_environment_variable_stops_the_proxy_naming_it() {
    let output = std::process::Command::new(crate::support::BIN)
        .args([
            "proxy",
            "--upstream",
            "http://127.0.0.1:9",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("CORS_ALLOW_CREDENTIALS", "maybe")
        .env("CORS_ALLOWED_ORIGIN", "http://typo.example")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("environment:1:21: error: `CORS_ALLOWED_ORIGIN`: is not a corsgate setting"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `CORS_ALLOWED_ORIGINS`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("environment:2:24: error: `CORS_ALLOW_CREDENTIALS`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not started: the CORS_* environment variables have errors"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_config_stops_the_proxy_before_it_listens_with_every_error() {
    let dir = TempDir::new("invalid");
    let settings = dir.write(
        "settings.json",
        "{\n  \"CORS_ALLOWED_ORIGINS\": [\"127.0.0.1:5000\", \"https://ok.example/\"],\n  \"CORS_ALLOW_CREDENTIALS\": \"yes\"\n}\n",
    );
    let (code, stdout, stderr) = crate::support::run(&[
        "proxy",
        "--config",
        settings.to_str().unwrap(),
        "--upstream",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(!stdout.contains("listening"), "{stdout}");
    let file = settings.display();
    assert!(
        stderr.contains(&format!("{file}:2:28: error: `CORS_ALLOWED_ORIGINS[0]`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:2:46: error: `CORS_ALLOWED_ORIGINS[1]`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{file}:3:29: error: `CORS_ALLOW_CREDENTIALS`")),
        "{stderr}"
    );
    assert!(stderr.contains("not started"), "{stderr}");

    let (code, _, stderr) = crate::support::run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--allow-origin",
        "localhost:5000",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("`--allow-origin[0]`: origin `localhost:5000` has no scheme"),
        "{stderr}"
    );

    let (code, _, stderr) =
        crate::support::run(&["proxy", "--upstream", "https://api.example.com/v1"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("paths are forwarded unchanged\n  help: write `https://api.example.com`"),
        "{stderr}"
    );
}

/// Polls (at most 10 s) until `origin` is allowed or not, as wanted.
async fn wait_for(proxy: &Proxy, origin: &str, allowed: bool) -> bool {
    for _ in 0..200 {
        let (_, headers, _) = send("GET", &proxy.url("/users"), &[("origin", origin)]).await;
        if headers.contains_key("access-control-allow-origin") == allowed {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_good_file_and_keeps_serving_on_a_bad_one() {
    let up = start_upstream().await;
    let dir = TempDir::new("sighup");
    let file = dir.write("cors.toml", "allowed_origins = [\"http://a.example\"]\n");
    let proxy = start(&[
        "--config",
        file.to_str().unwrap(),
        "--upstream",
        &up.url(),
        "--reload-interval",
        "0",
    ]);
    assert!(wait_for(&proxy, "http://a.example", true).await);

    std::fs::write(&file, "allowed_origins = [\"http://b.example\"]\n").unwrap();
    proxy.signal("HUP");
    assert!(
        wait_for(&proxy, "http://b.example", true).await,
        "reloaded on SIGHUP"
    );
    assert!(wait_for(&proxy, "http://a.example", false).await);

    std::fs::write(
        &file,
        "allowed_origins = [\"b.example\"]\nallow_credentials = 1\n",
    )
    .unwrap();
    proxy.signal("HUP");
    let log = tokio::task::block_in_place(|| {
        proxy.stderr_once("the old policy keeps serving", Duration::from_secs(10))
    });
    let log = log.unwrap_or_else(|| panic!("{}", proxy.stderr()));
    assert!(
        log.contains("`allowed_origins[0]`: origin `b.example` has no scheme"),
        "{log}"
    );
    assert!(
        log.contains("`allow_credentials`: expected `true` or `false`"),
        "{log}"
    );
    assert!(
        wait_for(&proxy, "http://b.example", true).await,
        "the old policy still serves"
    );
}

// Issue #14: `--config` and `--allow-origin` could not be combined, and
// there were no flags but for origins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_flags_add_to_the_file_and_survive_a_reload() {
    let up = start_upstream().await;
    let dir = TempDir::new("flags");
    let file = dir.write("cors.toml", "allowed_origins = [\"http://a.example\"]\n");
    let proxy = start(&[
        "--config",
        file.to_str().unwrap(),
        "--upstream",
        &up.url(),
        "--reload-interval",
        "0",
        "--allow-origin",
        "http://b.example",
        "--allow-header",
        "X-Debug",
        "--allow-method",
        "PURGE",
        "--expose-header",
        "x-total-count",
        "--max-age",
        "600",
        "--allow-credentials",
    ]);
    let preflight = |origin: &'static str| {
        let url = proxy.url("/users");
        async move {
            send(
                "OPTIONS",
                &url,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "PURGE"),
                    ("access-control-request-headers", "content-type,x-debug"),
                ],
            )
            .await
        }
    };
    for origin in ["http://a.example", "http://b.example"] {
        let (status, headers, _) = preflight(origin).await;
        assert_eq!(status.as_u16(), 200);
        assert_eq!(all(&headers, "access-control-allow-origin"), [origin]);
        assert_eq!(all(&headers, "access-control-allow-credentials"), ["true"]);
        assert_eq!(all(&headers, "access-control-max-age"), ["600"]);
        let allowed = all(&headers, "access-control-allow-headers").join(",");
        assert!(
            allowed.contains("content-type") && allowed.contains("X-Debug"),
            "{allowed}"
        );
        let methods = all(&headers, "access-control-allow-methods").join(",");
        assert!(
            methods.contains("PURGE") && methods.contains("GET"),
            "{methods}"
        );
        assert_eq!(
            all(&headers, "access-control-expose-headers"),
            ["x-total-count"]
        );
    }
    // The file changes; the flags still apply on top of it.
    std::fs::write(&file, "allowed_origins = [\"http://c.example\"]\n").unwrap();
    proxy.signal("HUP");
    assert!(
        wait_for(&proxy, "http://c.example", true).await,
        "{}",
        proxy.stderr()
    );
    assert!(wait_for(&proxy, "http://b.example", true).await);
    assert!(wait_for(&proxy, "http://a.example", false).await);
}

#[test]
fn a_bad_flag_value_names_the_flag() {
    let (code, _, stderr) = crate::support::run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--allow-header",
        "x debug",
        "--max-age",
        "40000000",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("`--allow-header[0]`: `x debug` is not a valid HTTP header name"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`--max-age`: `40000000` seconds is more than a year"),
        "{stderr}"
    );
}

// Issue #14: the proxy served a policy `check` calls dangerous, in silence.
#[test]
fn a_high_risk_policy_is_refused_unless_its_risk_is_accepted_by_name() {
    let dir = TempDir::new("risk");
    let file = dir.write(
        "risky.json",
        r#"{"CORS_ALLOW_ALL_ORIGINS": true, "CORS_ALLOW_CREDENTIALS": true}"#,
    );
    let file = file.to_str().unwrap();
    let (code, stdout, stderr) = crate::support::run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--config",
        file,
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(
        stderr.contains(
            "high: `CORS_ALLOW_ALL_ORIGINS`: every origin is allowed together with credentials"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("serve it anyway with `--accept-risk credentials-with-all-origins`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not started: the policy has high-risk findings"),
        "{stderr}"
    );
    // The same risk from the flags.
    let (code, _, stderr) = crate::support::run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--allow-origin",
        "null",
        "--allow-credentials",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("--accept-risk null-allowed"), "{stderr}");
    // The same reflection from a regex that matches sites anyone can
    // register, which reads as a careful one.
    let regex = dir.write(
        "regex.json",
        r#"{"CORS_ALLOWED_ORIGIN_REGEXES": ["^https://api\\.example\\.com.*$"], "CORS_ALLOW_CREDENTIALS": true}"#,
    );
    let (code, _, stderr) = crate::support::run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--config",
        regex.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("also matches `https://api.example.com.attacker.com`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--accept-risk regex-matches-other-sites"),
        "{stderr}"
    );

    // Accepted by name: it starts, and says what it accepted.
    let proxy = start(&[
        "--upstream",
        "http://127.0.0.1:9",
        "--config",
        file,
        "--accept-risk",
        "credentials-with-all-origins",
        "--accept-risk",
        "null-alowed",
    ]);
    // The warnings precede the "listening" line, on stderr: wait for them.
    let log = proxy
        .stderr_once("null-alowed", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("{}", proxy.stderr()));
    assert!(
        log.contains("(accepted with `--accept-risk credentials-with-all-origins`)"),
        "{log}"
    );
    assert!(
        log.contains(
            "`--accept-risk null-alowed`: the policy has no high-risk finding `null-alowed`"
        ),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_to_a_high_risk_policy_keeps_the_old_one() {
    let up = start_upstream().await;
    let dir = TempDir::new("risk-reload");
    let file = dir.write(
        "cors.toml",
        "allowed_origins = [\"http://a.example\"]\nallow_credentials = true\n",
    );
    let proxy = start(&[
        "--config",
        file.to_str().unwrap(),
        "--upstream",
        &up.url(),
        "--reload-interval",
        "0",
    ]);
    assert!(wait_for(&proxy, "http://a.example", true).await);
    std::fs::write(
        &file,
        "allowed_origins = [\"http://a.example\", \"null\"]\nallow_credentials = true\n",
    )
    .unwrap();
    proxy.signal("HUP");
    let log = tokio::task::block_in_place(|| {
        proxy.stderr_once(
            "high-risk findings; the old policy keeps serving",
            Duration::from_secs(10),
        )
    });
    let log = log.unwrap_or_else(|| panic!("{}", proxy.stderr()));
    assert!(log.contains("[null-allowed]"), "{log}");
    assert!(
        wait_for(&proxy, "null", false).await,
        "`null` is still refused"
    );
    assert!(wait_for(&proxy, "http://a.example", true).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_is_reloaded_without_a_signal() {
    let up = start_upstream().await;
    let dir = TempDir::new("watch");
    let file = dir.write(
        "cors.json",
        r#"{"CORS_ALLOWED_ORIGINS": ["http://a.example"]}"#,
    );
    let proxy = start(&[
        "--config",
        file.to_str().unwrap(),
        "--upstream",
        &up.url(),
        "--reload-interval",
        "0.1",
    ]);
    assert!(wait_for(&proxy, "http://a.example", true).await);
    std::fs::write(&file, r#"{"CORS_ALLOWED_ORIGINS": ["http://c.example"]}"#).unwrap();
    assert!(
        wait_for(&proxy, "http://c.example", true).await,
        "{}",
        proxy.stderr()
    );
    assert!(dir.path().exists());
}

/// On SIGTERM a request in flight is answered whole, an idle keep-alive
/// connection is closed at once (it does not hold the exit up to
/// `--shutdown-grace`), and the proxy exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_then_exits_0() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let up = start_upstream().await;
    let mut proxy = start(&[
        "--upstream",
        &up.url(),
        "--allow-origin",
        ORIGIN,
        "--shutdown-grace",
        "60",
    ]);
    // A keep-alive connection that has had its answer and sits idle.
    let mut idle = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    idle.write_all(b"GET /users HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = idle.read(&mut answer).await.unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..n])
    );
    let url = proxy.url("/slow");
    let before = up.hits.load(Ordering::SeqCst);
    let in_flight = tokio::spawn(async move { send("GET", &url, &[("origin", ORIGIN)]).await });
    // Let the request reach the upstream, which takes 0.8 s to answer.
    for _ in 0..250 {
        if up.hits.load(Ordering::SeqCst) > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        up.hits.load(Ordering::SeqCst) > before,
        "the request never reached the upstream"
    );
    proxy.signal("TERM");
    // The idle connection is closed (end of stream), not left open.
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read(&mut answer)).await;
    assert!(matches!(closed, Ok(Ok(0))), "idle connection: {closed:?}");
    let (status, headers, body) = in_flight.await.unwrap();
    assert_eq!((status.as_u16(), &body[..]), (200, &b"slow"[..]));
    assert_eq!(all(&headers, "access-control-allow-origin"), [ORIGIN]);
    // Well within the 60 s grace: nothing was left waiting.
    let code = tokio::task::block_in_place(|| proxy.wait_exit(Duration::from_secs(10)));
    assert_eq!(code, Some(0), "{}", proxy.stderr());
    let log = tokio::task::block_in_place(|| {
        proxy
            .stderr_once("stopped", Duration::from_secs(5))
            .unwrap_or_else(|| proxy.stderr())
    });
    assert!(
        log.contains(" INFO stopped") && !log.contains("still in flight"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_info_line_per_request() {
    let up = start_upstream().await;
    let proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    send(
        "GET",
        &proxy.url("/users"),
        &[("origin", "http://evil.example")],
    )
    .await;
    let mut line = None;
    for _ in 0..100 {
        line = proxy
            .stderr()
            .lines()
            .find(|l| l.contains(" INFO ") && l.contains("path=/users"))
            .map(str::to_owned);
        if line.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let line = line.expect("a request log line");
    for part in [
        "INFO",
        "method=GET",
        "origin=\"http://evil.example\"",
        "decision=\"origin-not-allowed\"",
        "status=200",
        "latency_ms=",
    ] {
        assert!(line.contains(part), "`{part}` missing from `{line}`");
    }
    assert!(
        proxy.stderr().contains("cors decision"),
        "the reason at debug level"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_are_served_too() {
    let up = start_upstream().await;
    let proxy = start(&["--upstream", &up.url(), "--allow-origin", ORIGIN]);
    let h2: Client<HttpConnector, TestBody> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = http::Request::get(proxy.url("/users"))
        .header("origin", ORIGIN)
        .body(Full::new(Bytes::new()).boxed())
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), h2.request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert_eq!(
        all(response.headers(), "access-control-allow-origin"),
        [ORIGIN]
    );
}

/// The metrics line's URL, once the proxy printed it (at most 10 s).
fn metrics_url(proxy: &Proxy) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = proxy.stdout();
        if let Some(url) = out
            .lines()
            .find_map(|l| l.strip_prefix("corsgate proxy: metrics on "))
        {
            return url.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no metrics line: {out}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_decisions_in_the_prometheus_format() {
    let upstream = start_upstream().await;
    let proxy = start(&[
        "--upstream",
        &upstream.url(),
        "--allow-origin",
        ORIGIN,
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    let metrics = tokio::task::block_in_place(|| metrics_url(&proxy));
    send("GET", &proxy.url("/users"), &[("origin", ORIGIN)]).await;
    send(
        "GET",
        &proxy.url("/users"),
        &[("origin", "https://evil.example")],
    )
    .await;
    let preflight = [
        ("origin", ORIGIN),
        ("access-control-request-method", "PATCH"),
    ];
    send("OPTIONS", &proxy.url("/users"), &preflight).await;
    let (status, headers, body) = send("GET", &metrics, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        all(&headers, "content-type"),
        ["text/plain; version=0.0.4; charset=utf-8"]
    );
    let body = String::from_utf8(body.to_vec()).unwrap();
    for line in [
        "corsgate_decisions_total{kind=\"actual\",reason=\"origin-not-allowed\",allowed=\"false\"} 1",
        "corsgate_decisions_total{kind=\"actual\",reason=\"origin-listed\",allowed=\"true\"} 1",
        "corsgate_decisions_total{kind=\"preflight\",reason=\"origin-listed\",allowed=\"true\"} 1",
        "corsgate_origin_checks_total{result=\"failed\"} 0",
    ] {
        assert!(body.lines().any(|l| l == line), "no `{line}` in\n{body}");
    }
    let other = metrics.replace("/metrics", "/other");
    assert_eq!(send("GET", &other, &[]).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_only_forwards_everything_untouched_and_logs_what_it_would_block() {
    let upstream = start_upstream().await;
    let dir = TempDir::new("report-only");
    let file = dir.write(
        "cors.toml",
        &format!("allowed_origins = [\"{ORIGIN}\"]\nreport_only = true\n"),
    );
    let proxy = start(&[
        "--upstream",
        &upstream.url(),
        "--config",
        file.to_str().unwrap(),
    ]);
    let direct = send(
        "GET",
        &format!("{}/users", upstream.url()),
        &[("origin", "https://evil.example")],
    )
    .await;
    let through = send(
        "GET",
        &proxy.url("/users"),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(through.0, direct.0);
    assert_eq!(through.2, direct.2);
    for name in ["access-control-allow-origin", "vary", "content-type"] {
        assert_eq!(all(&through.1, name), all(&direct.1, name), "{name}");
    }
    // A preflight goes to the upstream, which has no OPTIONS route.
    let preflight = [("origin", ORIGIN), ("access-control-request-method", "PUT")];
    let (status, headers, _) = send("OPTIONS", &proxy.url("/users"), &preflight).await;
    assert_eq!(status, 405, "the upstream's own answer");
    assert!(all(&headers, "access-control-allow-methods").is_empty());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !proxy
        .stderr()
        .contains("report-only: a browser would block GET /users")
    {
        assert!(std::time::Instant::now() < deadline, "{}", proxy.stderr());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
