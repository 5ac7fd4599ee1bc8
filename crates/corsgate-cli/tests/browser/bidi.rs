//! Firefox through WebDriver BiDi, which Firefox speaks itself
//! (`--remote-debugging-port`): no geckodriver. The suite needs four
//! commands (`session.new`, `session.subscribe`, `browsingContext.navigate`,
//! `script.evaluate`) and one event, `log.entryAdded`, which carries the
//! console lines Firefox prints for a blocked request.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

use super::{Output, executable, spawn_reporting};

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;
type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Message,
>;

/// A BiDi session with one Firefox, on its first tab.
pub(crate) struct Session {
    sink: tokio::sync::Mutex<Sink>,
    pending: Pending,
    log: Arc<Mutex<Vec<(String, String)>>>,
    next: AtomicU64,
    context: String,
    reader: tokio::task::JoinHandle<()>,
}

/// Preferences for a quiet test profile on a machine without a network.
const USER_JS: &str = r#"
user_pref("app.update.enabled", false);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("remote.prefs.recommended", true);
"#;

impl Session {
    /// Starts a headless Firefox on `profile` and opens a BiDi session
    /// (accepting any certificate with `accept_insecure`).
    pub(crate) async fn start(profile: &Path, accept_insecure: bool) -> (Self, Child) {
        let firefox = executable(
            "CORSGATE_FIREFOX",
            &["/usr/bin/firefox-esr", "/usr/bin/firefox"],
            "firefox-esr",
        );
        std::fs::write(profile.join("user.js"), USER_JS).expect("write the Firefox profile");
        let mut command = Command::new(&firefox);
        command
            .args(["--headless", "--no-remote", "--remote-debugging-port", "0"])
            .arg("--profile")
            .arg(profile)
            .env("MOZ_CRASHREPORTER_DISABLE", "1");
        // "WebDriver BiDi listening on ws://127.0.0.1:40441"
        let (mut child, url) = spawn_reporting(
            command,
            Output::Stderr,
            Duration::from_secs(30),
            "its WebDriver BiDi address",
            |line| {
                let url = line.split("WebDriver BiDi listening on ").nth(1)?;
                Some(url.trim().to_owned())
            },
        );
        let socket = match tokio_tungstenite::connect_async(format!("{url}/session")).await {
            Ok((socket, _)) => socket,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cannot connect to Firefox's WebDriver BiDi at {url}: {e}");
            }
        };
        let (sink, mut stream) = socket.split();
        let pending: Pending = Arc::default();
        let log: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let reader = {
            let (pending, log) = (pending.clone(), log.clone());
            tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Ok(text) = message.to_text() else {
                        continue;
                    };
                    let Ok(value) = serde_json::from_str::<Value>(text) else {
                        continue;
                    };
                    if let Some(id) = value["id"].as_u64() {
                        if let Some(reply) = pending.lock().unwrap().remove(&id) {
                            let _ = reply.send(value);
                        }
                    } else if value["method"] == "log.entryAdded" {
                        let entry = &value["params"];
                        log.lock().unwrap().push((
                            entry["type"].as_str().unwrap_or_default().to_owned(),
                            entry["text"].as_str().unwrap_or_default().to_owned(),
                        ));
                    }
                }
            })
        };
        let mut session = Self {
            sink: tokio::sync::Mutex::new(sink),
            pending,
            log,
            next: AtomicU64::new(1),
            context: String::new(),
            reader,
        };
        session
            .command(
                "session.new",
                json!({ "capabilities": { "alwaysMatch": { "acceptInsecureCerts": accept_insecure } } }),
            )
            .await;
        session
            .command("session.subscribe", json!({ "events": ["log.entryAdded"] }))
            .await;
        let tree = session
            .command("browsingContext.getTree", json!({ "maxDepth": 0 }))
            .await;
        session.context = tree["contexts"][0]["context"]
            .as_str()
            .expect("Firefox has a tab")
            .to_owned();
        (session, child)
    }

    /// Sends one command and waits (at most 60 s) for its result.
    async fn command(&self, method: &str, params: Value) -> Value {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        let text = json!({ "id": id, "method": method, "params": params }).to_string();
        self.sink
            .lock()
            .await
            .send(Message::text(text))
            .await
            .unwrap_or_else(|e| panic!("cannot send {method} to Firefox: {e}"));
        let reply = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .unwrap_or_else(|_| panic!("Firefox did not answer {method} within 60 s"))
            .unwrap_or_else(|_| panic!("Firefox closed the session during {method}"));
        assert_eq!(reply["type"], "success", "{method}: {reply}");
        reply["result"].clone()
    }

    /// Opens `url` in the tab and waits for the load event.
    pub(crate) async fn navigate(&self, url: &str) {
        self.command(
            "browsingContext.navigate",
            json!({ "context": self.context, "url": url, "wait": "complete" }),
        )
        .await;
    }

    /// Evaluates `expression` in the page, awaiting a promise; its value
    /// (a string, number, boolean or null) as JSON.
    pub(crate) async fn evaluate(&self, expression: &str) -> Value {
        let result = self
            .command(
                "script.evaluate",
                json!({
                    "expression": expression,
                    "target": { "context": self.context },
                    "awaitPromise": true,
                }),
            )
            .await;
        assert_eq!(result["type"], "success", "`{expression}` threw: {result}");
        let value = &result["result"];
        match value["type"].as_str() {
            Some("string" | "number" | "boolean") => value["value"].clone(),
            _ => Value::Null,
        }
    }

    /// The console lines logged since the last call: `(type, text)`, the
    /// type `javascript` for Firefox's CORS lines, `console` for `console.*`.
    pub(crate) fn take_log(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
