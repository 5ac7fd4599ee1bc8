//! WebKitGTK (Safari's engine): MiniBrowser on its own X server (Xvfb),
//! driven by WebKitWebDriver, or — for its console — run on a page that
//! scripts itself.
//!
//! WebKitWebDriver has no log endpoint and WebKitGTK 2.50 no WebDriver BiDi,
//! and MiniBrowser in automation mode ignores the setting that prints the
//! console (`--enable-write-console-messages-to-stdout`). So the suite
//! reads WebKit's console lines from a MiniBrowser started without
//! automation on a page that runs the scenarios itself and marks each one
//! with a `console.log` line ([`Runner`]).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

use super::{Output, Processes, executable, spawn_reporting};
use crate::support::{free_port, wait_listening};

fn minibrowser() -> PathBuf {
    executable(
        "CORSGATE_MINIBROWSER",
        &[
            "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
            "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
            "/usr/libexec/webkit2gtk-4.1/MiniBrowser",
        ],
        "webkit2gtk-driver",
    )
}

/// Starts an X server on a free display: the child and its `DISPLAY`.
fn xvfb() -> (Child, String) {
    let xvfb = executable("CORSGATE_XVFB", &["/usr/bin/Xvfb"], "xvfb");
    // `-displayfd 1`: Xvfb picks a free display and writes its number on
    // standard output once it accepts clients.
    let mut command = Command::new(&xvfb);
    command.args([
        "-displayfd",
        "1",
        "-screen",
        "0",
        "1280x1400x24",
        "-nolisten",
        "tcp",
    ]);
    spawn_reporting(
        command,
        Output::Stdout,
        Duration::from_secs(20),
        "a display",
        |line| {
            let number = line.trim();
            (!number.is_empty()).then(|| format!(":{number}"))
        },
    )
}

/// The environment WebKit runs in: the X server, and a profile of its own.
fn webkit_env(command: &mut Command, display: &str, profile: &Path) {
    command
        .env("DISPLAY", display)
        .env("HOME", profile)
        .env("XDG_CONFIG_HOME", profile.join("config"))
        .env("XDG_CACHE_HOME", profile.join("cache"))
        .env("XDG_DATA_HOME", profile.join("data"))
        // Software rendering: Xvfb has no GPU.
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
}

/// A WebDriver session in MiniBrowser (accepting any certificate with
/// `accept_insecure`): the client, and the processes (Xvfb first, then the
/// driver) to kill in reverse order.
pub(crate) async fn start_webdriver(profile: &Path, accept_insecure: bool) -> (Client, Processes) {
    let driver_path = executable(
        "CORSGATE_WEBKITWEBDRIVER",
        &["/usr/bin/WebKitWebDriver"],
        "webkit2gtk-driver",
    );
    let minibrowser = minibrowser();
    let (x, display) = xvfb();
    let mut processes = Processes(vec![x]);
    // A port chosen free can be taken before the driver binds it (other
    // tests bind ports too): the driver then exits, and another is tried.
    let mut port = 0;
    for _ in 0..5 {
        port = free_port();
        let mut command = Command::new(&driver_path);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        webkit_env(&mut command, &display, profile);
        let mut driver = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver_path.display()));
        // Its own listener, not another test's server on a port taken
        // meanwhile (support::wait_listening says why).
        let listening = tokio::task::block_in_place(|| {
            wait_listening(
                &mut driver,
                port,
                "WebKitWebDriver",
                Duration::from_secs(20),
            )
        });
        processes.0.push(driver);
        if listening {
            break;
        }
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "webkitgtk:browserOptions".into(),
        json!({ "binary": minibrowser, "args": ["--automation"] }),
    );
    caps.insert("acceptInsecureCerts".into(), json!(accept_insecure));
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("WebKitWebDriver could not start MiniBrowser: {e}"));
    let _ = client.set_window_size(1280, 1400).await;
    (client, processes)
}

/// One console line MiniBrowser printed (on standard error): `CONSOLE <SOURCE> <LEVEL> <text>`,
/// after an optional `<url>:<line>:<column>: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConsoleLine {
    /// `LOG`'s source and level: `SECURITY ERROR`, `JS ERROR`, `LOG`, …
    pub(crate) kind: String,
    pub(crate) text: String,
}

fn parse_console(line: &str) -> Option<ConsoleLine> {
    let rest = &line[line.find("CONSOLE ")? + "CONSOLE ".len()..];
    // The kind is one or two upper-case words before the text.
    let mut words = rest.splitn(3, ' ');
    let first = words.next()?;
    let second = words.next()?;
    let (kind, text) = if matches!(second, "ERROR" | "WARN" | "LOG" | "INFO" | "DEBUG") {
        (
            format!("{first} {second}"),
            words.next().unwrap_or_default(),
        )
    } else {
        (first.to_owned(), &rest[first.len() + 1..])
    };
    Some(ConsoleLine {
        kind,
        text: text.to_owned(),
    })
}

/// MiniBrowser, without automation, printing its console, on a page that
/// runs by itself: [`run`](Self::run) returns every console line it printed
/// until the page logged `done_marker`.
pub(crate) struct Runner;

impl Runner {
    pub(crate) fn run(url: &str, done_marker: &str, profile: &Path) -> Vec<ConsoleLine> {
        let (mut x, display) = xvfb();
        let minibrowser = minibrowser();
        let mut command = Command::new(&minibrowser);
        command
            .arg("--enable-write-console-messages-to-stdout=true")
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        webkit_env(&mut command, &display, profile);
        let mut browser = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", minibrowser.display()));
        // Despite the setting's name, WebKit writes its console on standard
        // error (unbuffered, so each line arrives as it is printed).
        let stderr = browser.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut lines = Vec::new();
        let mut done = false;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = rx.recv_timeout(left) else {
                break;
            };
            if let Some(console) = parse_console(&line) {
                done = console.text == done_marker;
                lines.push(console);
                if done {
                    break;
                }
            }
        }
        let _ = browser.kill();
        let _ = browser.wait();
        let _ = x.kill();
        let _ = x.wait();
        assert!(
            done,
            "MiniBrowser did not finish {url} within 90 s; it printed {lines:#?}"
        );
        lines
    }
}

#[test]
fn console_lines_are_split_into_kind_and_text() {
    assert_eq!(
        parse_console("http://127.0.0.1:1/t:1:51: CONSOLE LOG hello there"),
        Some(ConsoleLine {
            kind: "LOG".into(),
            text: "hello there".into()
        })
    );
    assert_eq!(
        parse_console("CONSOLE SECURITY ERROR Origin http://a is not allowed"),
        Some(ConsoleLine {
            kind: "SECURITY ERROR".into(),
            text: "Origin http://a is not allowed".into()
        })
    );
    assert_eq!(parse_console("unrelated"), None);
}
