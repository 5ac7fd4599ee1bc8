//! Real-browser tests, in each engine the doctor speaks for: Debian's
//! Chromium (through ChromeDriver), Firefox ESR (WebDriver BiDi, which
//! Firefox speaks itself) and WebKitGTK (WebKitWebDriver, under Xvfb). The
//! browser is the judge: each test asserts what the browser let a page do,
//! what reached the server, and what the browser printed.
//!
//! The programs are found at Debian's paths (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`, `/usr/bin/firefox-esr`, `/usr/bin/WebKitWebDriver`,
//! `/usr/bin/Xvfb`, WebKitGTK's MiniBrowser under `/usr/lib/<triplet>/`) or
//! where `CORSGATE_CHROMIUM`, `CORSGATE_CHROMEDRIVER`, `CORSGATE_FIREFOX`,
//! `CORSGATE_WEBKITWEBDRIVER`, `CORSGATE_MINIBROWSER` and `CORSGATE_XVFB`
//! say. A missing browser fails these tests with instructions; it never
//! skips them. To run everything else without a browser: `cargo test
//! --workspace --all-features -- --skip browser::`.

mod bidi;
mod demo;
mod fetch;
mod verdicts;
mod webkit;

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

/// Which output of a program reports what the suite waits for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Output {
    Stdout,
    Stderr,
}

/// Starts `command` (its other output discarded) and waits, at most
/// `wait`, for the first line of `output` that `find` accepts; the rest is drained
/// so the program never blocks on a full pipe. On a timeout the program is
/// killed and the test fails, naming `what`.
pub(crate) fn spawn_reporting<T: Send + 'static>(
    mut command: Command,
    output: Output,
    wait: Duration,
    what: &str,
    find: impl Fn(&str) -> Option<T> + Send + 'static,
) -> (Child, T) {
    command.stdin(Stdio::null());
    match output {
        Output::Stdout => command.stdout(Stdio::piped()).stderr(Stdio::null()),
        Output::Stderr => command.stdout(Stdio::null()).stderr(Stdio::piped()),
    };
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let reader: Box<dyn std::io::Read + Send> = match output {
        Output::Stdout => Box::new(child.stdout.take().expect("piped")),
        Output::Stderr => Box::new(child.stderr.take().expect("piped")),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if let Some(found) = find(&line) {
                let _ = tx.send(found);
            }
        }
    });
    match rx.recv_timeout(wait) {
        Ok(found) => (child, found),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} did not report {what} within {wait:?}");
        }
    }
}

/// Processes a session started (the driver, the browser, an X server):
/// killed in reverse order on [`stop`](Self::stop) or drop, also when
/// starting the rest panicked.
pub(crate) struct Processes(pub(crate) Vec<Child>);

impl Processes {
    pub(crate) fn stop(&mut self) {
        while let Some(mut child) = self.0.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A browser engine of the suite, as `corsgate doctor --browser` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Chromium,
    Firefox,
    Webkit,
}

impl Engine {
    /// The name `corsgate doctor --browser` takes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Chromium => "chromium",
            Self::Firefox => "firefox",
            Self::Webkit => "webkit",
        }
    }
}

/// Makes `async fn NAME(engine: Engine)` a test per engine:
/// `NAME::chromium`, `NAME::firefox`, `NAME::webkit`.
macro_rules! in_each_engine {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::browser::Engine;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn chromium() {
                super::$name(Engine::Chromium).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn firefox() {
                super::$name(Engine::Firefox).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn webkit() {
                super::$name(Engine::Webkit).await;
            }
        }
    )*};
}
pub(crate) use in_each_engine;

/// A program the suite runs: `$env`, or the first of `defaults` that exists.
pub(crate) fn executable(env: &str, defaults: &[&str], package: &str) -> PathBuf {
    crate::support::installed(
        env,
        defaults,
        package,
        "the browser tests",
        ". To run the other tests without a browser: cargo test --workspace --all-features -- --skip browser::",
    )
}

/// How the suite talks to the browser.
enum Driver {
    /// W3C WebDriver: ChromeDriver (Chromium) or WebKitWebDriver (WebKit).
    WebDriver(Client),
    /// WebDriver BiDi, straight to Firefox.
    Bidi(bidi::Session),
}

/// A browser session with a fresh profile. Everything it started is
/// killed on drop, also when a test panics.
pub(crate) struct Browser {
    pub(crate) engine: Engine,
    driver: Driver,
    /// The driver, the browser or the X server: killed in reverse order.
    processes: Processes,
    profile: TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    /// A session in `engine`.
    pub(crate) async fn start_engine(engine: Engine) -> Self {
        Self::start_checking_certificates(engine, true).await
    }

    /// A Firefox or WebKit session that accepts any certificate (their
    /// drivers' `acceptInsecureCerts`: neither can trust one key alone, as
    /// Chromium's `--ignore-certificate-errors-spki-list` does).
    pub(crate) async fn start_accepting_any_certificate(engine: Engine) -> Self {
        assert_ne!(
            engine,
            Engine::Chromium,
            "Chromium trusts a key: start_with"
        );
        Self::start_checking_certificates(engine, false).await
    }

    async fn start_checking_certificates(engine: Engine, check: bool) -> Self {
        match engine {
            Engine::Chromium => Self::start_with(&[]).await,
            Engine::Firefox => {
                let turn = ONE_AT_A_TIME.lock().await;
                let profile = TempDir::new("firefox-profile");
                let (session, firefox) = bidi::Session::start(profile.path(), !check).await;
                Self {
                    engine,
                    driver: Driver::Bidi(session),
                    processes: Processes(vec![firefox]),
                    profile,
                    _turn: turn,
                }
            }
            Engine::Webkit => {
                let turn = ONE_AT_A_TIME.lock().await;
                let profile = TempDir::new("webkit-profile");
                let (client, processes) = webkit::start_webdriver(profile.path(), !check).await;
                Self {
                    engine,
                    driver: Driver::WebDriver(client),
                    processes,
                    profile,
                    _turn: turn,
                }
            }
        }
    }

    /// [`start`](Self::start), with more Chromium arguments.
    pub(crate) async fn start_with(extra: &[String]) -> Self {
        let turn = ONE_AT_A_TIME.lock().await;
        let chromium = executable("CORSGATE_CHROMIUM", &["/usr/bin/chromium"], "chromium");
        let chromedriver = executable(
            "CORSGATE_CHROMEDRIVER",
            &["/usr/bin/chromedriver"],
            "chromium-driver",
        );
        let mut command = Command::new(&chromedriver);
        command.arg("--port=0");
        // "ChromeDriver was started successfully on port 41481." (The first
        // line, "Starting ChromeDriver … on port 0", is not it.)
        let (mut driver, port) = spawn_reporting(
            command,
            Output::Stdout,
            Duration::from_secs(20),
            "its port",
            |line| {
                let rest = line.split("started successfully on port ").nth(1)?;
                rest.trim_end_matches('.').parse::<u16>().ok()
            },
        );
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
            engine: Engine::Chromium,
            driver: Driver::WebDriver(client),
            processes: Processes(vec![driver]),
            profile,
            _turn: turn,
        }
    }

    /// The WebDriver client (Chromium and WebKit).
    pub(crate) fn client(&self) -> &Client {
        match &self.driver {
            Driver::WebDriver(client) => client,
            Driver::Bidi(_) => panic!(
                "{:?} is driven by WebDriver BiDi, not a WebDriver client",
                self.engine
            ),
        }
    }

    /// Opens `url` and waits for the load event.
    pub(crate) async fn open(&self, url: &str) {
        match &self.driver {
            Driver::WebDriver(client) => client
                .goto(url)
                .await
                .unwrap_or_else(|e| panic!("cannot open {url}: {e}")),
            Driver::Bidi(session) => session.navigate(url).await,
        }
    }

    /// Runs `fetch(url, init)` in the current page and reports what the page
    /// could see: the status, body and the named response headers, or that
    /// the browser blocked it (fetch rejected with a TypeError).
    pub(crate) async fn fetch(&self, url: &str, init: Value, read_headers: &[&str]) -> Fetched {
        // The page's answer, as a JSON text (the same for every driver).
        const FETCH: &str = r#"
            fetch(url, init).then(
              async (r) => JSON.stringify({ blocked: false, status: r.status, body: await r.text(),
                                  headers: Object.fromEntries(names.map((n) => [n, r.headers.get(n)])) }),
              (e) => JSON.stringify({ blocked: true, error: `${e.name}: ${e.message}` }))
        "#;
        let bind = format!(
            "const [url, init, names] = [{}, {init}, {}];",
            json!(url),
            json!(read_headers)
        );
        let text = self
            .settle(&format!("(() => {{ {bind} return ({FETCH}); }})()"))
            .await;
        let text = text
            .as_str()
            .unwrap_or_else(|| panic!("fetch({url}) gave {text}"));
        Fetched(serde_json::from_str(text).expect("the page's JSON"))
    }

    /// Evaluates `expression` in the page and waits for the promise it
    /// gives: its value (a string, number, boolean or null).
    pub(crate) async fn settle(&self, expression: &str) -> Value {
        match &self.driver {
            Driver::WebDriver(client) => client
                .execute_async(
                    &format!("Promise.resolve({expression}).then(arguments[0]);"),
                    vec![],
                )
                .await
                .unwrap_or_else(|e| panic!("the page could not run {expression}: {e}")),
            Driver::Bidi(session) => session.evaluate(expression).await,
        }
    }

    /// The console lines logged since the last call, each as `(source,
    /// message)`. Chromium: ChromeDriver's browser log (a network failure's
    /// message is `<url> - Failed to load resource: net::ERR_…`, a CORS
    /// error's `<page url> - <line>`). Firefox: BiDi's `log.entryAdded`
    /// (source `javascript` or `console`, the message as printed). WebKit's
    /// driver has no console: [`webkit::Runner`] reads it from MiniBrowser.
    pub(crate) async fn console(&self) -> Vec<(String, String)> {
        match (&self.driver, self.engine) {
            (Driver::Bidi(session), _) => session.take_log(),
            (Driver::WebDriver(client), Engine::Chromium) => {
                let entries = client
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
            (Driver::WebDriver(_), engine) => {
                panic!("{engine:?}'s WebDriver has no console log: use webkit::Runner")
            }
        }
    }

    /// Evaluates a JavaScript expression in the current page.
    pub(crate) async fn eval(&self, expression: &str) -> Value {
        match &self.driver {
            Driver::WebDriver(client) => client
                .execute(&format!("return {expression};"), vec![])
                .await
                .unwrap_or_else(|e| panic!("cannot evaluate `{expression}`: {e}")),
            Driver::Bidi(session) => {
                let text = session
                    .evaluate(&format!("JSON.stringify(({expression}) ?? null)"))
                    .await;
                serde_json::from_str(text.as_str().unwrap_or("null")).unwrap_or(Value::Null)
            }
        }
    }

    /// Ends the session (the browser exits) and stops the driver.
    pub(crate) async fn close(mut self) {
        if let Driver::WebDriver(client) = &self.driver {
            let _ = client.clone().close().await;
        }
        self.stop();
    }

    fn stop(&mut self) {
        self.processes.stop();
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
            // No favicon request: its 404 would be a console line of its own.
            Html("<!doctype html><meta charset=utf-8><link rel=icon href=\"data:,\"><title>page</title><p>test page</p>")
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
