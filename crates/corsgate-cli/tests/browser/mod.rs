//! Real-browser tests: Debian's Chromium, headless, driven through
//! ChromeDriver (WebDriver, with `fantoccini`). The browser is the judge:
//! each test asserts what Chromium let a page do, and what reached the
//! server.
//!
//! Chromium and ChromeDriver are found at `/usr/bin/chromium` and
//! `/usr/bin/chromedriver` (Debian's `chromium` and `chromium-driver`), or
//! where `CORSGATE_CHROMIUM` / `CORSGATE_CHROMEDRIVER` say. A missing
//! browser fails these tests with instructions; it never skips them. To run
//! everything else without a browser: `cargo test --workspace
//! --all-features -- --skip browser::`.

mod demo;
mod fetch;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{Html, Response};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

use crate::support::TempDir;
pub(crate) use crate::support::serve;

/// One browser at a time: two cores, and timing-sensitive tests (the
/// preflight cache) must not starve.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn executable(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found at {}: the browser tests need Debian's Chromium and ChromeDriver \
         (`apt-get install -y chromium chromium-driver`), or set {env}. \
         To run the other tests without a browser: cargo test --workspace --all-features -- --skip browser::",
        default.rsplit('/').next().unwrap_or(default),
        path.display()
    );
    path
}

/// A headless Chromium session with a fresh profile. Everything it started
/// is killed on drop, also when a test panics.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    profile: TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`start`](Self::start), with more Chromium arguments.
    pub(crate) async fn start_with(extra: &[String]) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        let chromium = executable("CORSGATE_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = executable("CORSGATE_CHROMEDRIVER", "/usr/bin/chromedriver");
        let mut driver = Command::new(&chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let stdout = driver.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // "ChromeDriver was started successfully on port 41481."
                // (The first line, "Starting ChromeDriver … on port 0", is not it.)
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('.').parse::<u16>().ok());
                }
                // Keep draining so the driver never blocks on a full pipe.
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(port)) => port,
            _ => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("ChromeDriver did not report its port within 20 s");
            }
        };
        let profile = TempDir::new("chromium-profile");
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1400",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend_from_slice(extra);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        // The console, for `console()`.
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let connected =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
        let client = match connected {
            Ok(client) => client,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("ChromeDriver could not start Chromium: {e}");
            }
        };
        Self {
            client,
            driver,
            profile,
            _turn: turn,
        }
    }

    /// Opens `url` and waits for the load event.
    pub(crate) async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// Runs `fetch(url, init)` in the current page and reports what the page
    /// could see: the status, body and the named response headers, or that
    /// the browser blocked it (fetch rejected with a TypeError).
    pub(crate) async fn fetch(&self, url: &str, init: Value, read_headers: &[&str]) -> Fetched {
        const SCRIPT: &str = r#"
            const [url, init, names, done] = arguments;
            fetch(url, init).then(
              async (r) => done({ blocked: false, status: r.status, body: await r.text(),
                                  headers: Object.fromEntries(names.map((n) => [n, r.headers.get(n)])) }),
              (e) => done({ blocked: true, error: `${e.name}: ${e.message}` }));
        "#;
        let value = self
            .client
            .execute_async(SCRIPT, vec![json!(url), init, json!(read_headers)])
            .await
            .unwrap_or_else(|e| panic!("the page could not run fetch({url}): {e}"));
        Fetched(value)
    }

    /// The console lines logged since the last call: ChromeDriver's
    /// browser log, each as `(source, message)`. A network failure's
    /// message is `<url> - Failed to load resource: net::ERR_…`.
    pub(crate) async fn console(&self) -> Vec<(String, String)> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .unwrap_or_else(|e| panic!("cannot read the browser log: {e}"));
        entries
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| {
                        (
                            e["source"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Evaluates a JavaScript expression in the current page.
    pub(crate) async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return {expression};"), vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot evaluate `{expression}`: {e}"))
    }

    /// Ends the session (Chromium exits) and stops the driver.
    pub(crate) async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        kill_processes_mentioning(&self.profile.path().display().to_string());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.stop();
    }
}

/// ChromeDriver's log endpoint (not in the W3C protocol).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// Kills every process whose command line contains `needle` (the profile
/// folder identifies this test's Chromium and its helpers).
fn kill_processes_mentioning(needle: &str) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let pids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| String::from_utf8_lossy(&cmd).contains(needle))
        })
        .collect();
    if !pids.is_empty() {
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -9 {} 2>/dev/null", pids.join(" "))])
            .status();
    }
}

/// What a page's `fetch` saw.
#[derive(Debug)]
pub(crate) struct Fetched(Value);

impl Fetched {
    pub(crate) fn blocked(&self) -> bool {
        self.0["blocked"] == json!(true)
    }

    #[track_caller]
    pub(crate) fn assert_blocked(&self) {
        assert!(
            self.blocked(),
            "expected the browser to block, got {:?}",
            self.0
        );
        let error = self.0["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("TypeError"), "{error}");
    }

    #[track_caller]
    pub(crate) fn assert_readable(&self, status: u16) -> &Self {
        assert!(
            !self.blocked(),
            "expected a readable response, got {:?}",
            self.0
        );
        assert_eq!(self.0["status"], json!(status), "{:?}", self.0);
        self
    }

    pub(crate) fn body(&self) -> &str {
        self.0["body"].as_str().unwrap_or_default()
    }

    /// The value the page read for `name` (`None`: not readable or absent).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.0["headers"][name].as_str()
    }
}

/// One request as a server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) origin: Option<String>,
    pub(crate) cookie: Option<String>,
}

/// The requests a server saw, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    pub(crate) fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// The methods of the requests to `path`, in order.
    pub(crate) fn methods_for(&self, path: &str) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|s| s.path == path)
            .map(|s| s.method)
            .collect()
    }

    /// Wraps `router` so every request, preflights included, is recorded
    /// before anything else sees it.
    pub(crate) fn around(&self, router: Router) -> Router {
        let recorder = self.clone();
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let recorder = recorder.clone();
                async move {
                    let seen = {
                        let header = |name: http::HeaderName| {
                            request
                                .headers()
                                .get(name)
                                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                        };
                        Seen {
                            method: request.method().to_string(),
                            path: request.uri().path().to_owned(),
                            origin: header(http::header::ORIGIN),
                            cookie: header(http::header::COOKIE),
                        }
                    };
                    recorder.0.lock().unwrap().push(seen);
                    next.run(request).await
                }
            },
        ))
    }
}

/// A page server: an empty HTML page at `/` on its own origin.
pub(crate) async fn page_origin() -> String {
    format!("http://{}", serve(page_router()).await)
}

/// The empty test page at `/`, to serve over http or https.
pub(crate) fn page_router() -> Router {
    Router::new().route(
        "/",
        axum::routing::get(|| async {
            Html("<!doctype html><meta charset=utf-8><title>page</title><p>test page</p>")
        }),
    )
}

/// The response every test API gives: a body and two extra headers.
pub(crate) async fn api_response() -> Response {
    let mut response = Response::new(axum::body::Body::from("hello from the API"));
    let headers = response.headers_mut();
    headers.insert("content-type", http::HeaderValue::from_static("text/plain"));
    headers.insert("x-total-count", http::HeaderValue::from_static("42"));
    headers.insert("x-secret", http::HeaderValue::from_static("hidden"));
    response
}
