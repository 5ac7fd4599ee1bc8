//! The browsers against the `corsgate` binary: the demo page and `corsgate
//! proxy` in front of a back-end that knows nothing of CORS (each engine),
//! and the proxy and doctor over https (Chromium).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::any;
use serde_json::{Value, json};

use super::{
    Browser, Engine, Recorder, api_response, in_each_engine, page_origin, page_router, serve,
};
use crate::support::{Demo, Proxy};

/// Waits (at most 30 s) until the demo page has run every call.
async fn wait_until_done(browser: &Browser) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser.eval("document.documentElement.dataset.state").await != json!("done") {
        assert!(
            Instant::now() < deadline,
            "the demo page did not finish in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match browser.eval("window.demoResults").await {
        Value::Array(results) => results,
        other => panic!("window.demoResults is not a list: {other}"),
    }
}

async fn the_demo_page_shows_the_expected_outcomes_and_why(engine: Engine) {
    // The README's screenshot tells the tutorials' story, page 5000 → API
    // 8000: refreshing it (by hand) asks for those ports; the suite itself
    // takes free ones.
    let chromium = engine == Engine::Chromium;
    let screenshot_run = chromium && std::env::var_os("CORSGATE_UPDATE_SCREENSHOT").is_some();
    let demo = if screenshot_run {
        Demo::start(&["--page", "127.0.0.1:5000", "--api", "127.0.0.1:8000"])
    } else {
        Demo::start(&[])
    };
    if screenshot_run {
        assert_eq!(
            (demo.page.as_str(), demo.api.as_str()),
            ("http://127.0.0.1:5000", "http://127.0.0.1:8000"),
            "free ports 5000 and 8000 to refresh the screenshot"
        );
    }
    let browser = Browser::start_engine(engine).await;
    browser.open(&demo.page).await;
    let results = wait_until_done(&browser).await;
    // The page shows Chromium's console lines (the doctor's default
    // engine); the other engines' lines are checked in `verdicts`.
    let console = if chromium {
        browser.console().await
    } else {
        Vec::new()
    };
    if chromium {
        // Tall enough for the whole table.
        let height = browser
            .eval("document.documentElement.scrollHeight + 160")
            .await;
        let height = u32::try_from(height.as_u64().unwrap_or(1200).min(3000)).unwrap_or(1200);
        browser
            .client()
            .set_window_size(1280, height)
            .await
            .expect("resize the window");
        let screenshot = browser
            .client()
            .screenshot()
            .await
            .expect("a screenshot of the demo page");
        save_screenshot(&screenshot);
    }
    let summary = browser
        .eval("document.getElementById('summary').textContent")
        .await;
    browser.close().await;

    assert_eq!(results.len(), 9, "{results:#?}");
    for r in &results {
        let name = r["name"].as_str().unwrap_or_default();
        assert_eq!(r["outcome"], r["expect"], "{name}: {r:#}");
        // Before: without corsgate every call is blocked, and the line the
        // page shows is the one Chromium printed, word for word.
        assert_eq!(r["without"]["outcome"], "blocked", "{name}: {r:#}");
        let said = r["without"]["console"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no console line: {r:#}"));
        assert!(
            !chromium || console.iter().any(|(_, line)| line.ends_with(said)),
            "{name}: the page shows\n  {said}\nChromium printed\n{console:#?}"
        );
        let decisions = r["decisions"].as_array().expect("decisions");
        let preflights = decisions
            .iter()
            .filter(|d| d["kind"] == "preflight")
            .count();
        // The Fetch standard's rule as the page states it, checked against
        // what the API actually received from the browser.
        let needed = r["preflight_needed"] == json!(true);
        assert_eq!(preflights, usize::from(needed), "{name}: {decisions:#?}");
    }
    let row = |name: &str| {
        results
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    assert_eq!(row("Read an exposed header")["read"], "X-Total-Count: 2");
    assert_eq!(
        row("Read an unexposed header")["read"],
        "X-Request-Id: null (not exposed)"
    );
    assert_eq!(row("JSON POST")["status"], 201);
    assert_eq!(row("PUT with Authorization")["status"], 200);
    assert_eq!(row("DELETE")["status"], 204);
    assert_eq!(
        row("Credentialed GET")["read"],
        "signed in as demo (cookie sent)"
    );
    let forbidden = &row("A header the policy forbids")["decisions"][0];
    assert_eq!(forbidden["reason"], "header-not-allowed", "{forbidden:#}");
    let scope = &row("A path outside the CORS scope")["decisions"][0];
    assert_eq!(scope["kind"], "out-of-scope", "{scope:#}");
    // Only a simple request reaches the bare API; a preflighted one stops
    // at its preflight.
    assert_eq!(
        row("Simple GET")["without"]["sent"],
        json!(["GET /without/items"])
    );
    assert_eq!(
        row("JSON POST")["without"]["sent"],
        json!(["OPTIONS /without/items"])
    );
    assert_eq!(
        summary,
        "Without corsgate: 9 of 9 calls blocked by the browser. \
         With corsgate: 7 allowed, 2 blocked, each as the default policy intends."
    );

    // The terminal showed each request as it happened, numbered as the rows.
    let out = demo.stdout();
    assert!(out.contains("#4 OPTIONS /items "), "{out}");
    assert!(out.contains("#4 OPTIONS /without/items "), "{out}");
    assert!(
        out.contains("without corsgate: Response to preflight request"),
        "{out}"
    );
    assert!(out.contains("#8 OPTIONS /items "), "{out}");
    assert!(out.contains("preflight rejected"), "{out}");
    assert!(out.contains("#9 GET     /internal/stats "), "{out}");
    assert!(out.contains("no CORS headers"), "{out}");
}

/// The browser suite's screenshot of the demo: always under `target/`, and
/// copied to `docs/demo.png` (shown in the README) with
/// `CORSGATE_UPDATE_SCREENSHOT=1`.
fn save_screenshot(png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = root.join("target/browser");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("demo.png"), png).unwrap();
    if std::env::var_os("CORSGATE_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(root.join("docs/demo.png"), png).unwrap();
    }
}

async fn corsgate_proxy_in_front_of_a_plain_back_end(engine: Engine) {
    let page = page_origin().await;
    let other_page = page_origin().await;
    // A back-end with no CORS at all.
    let seen = Recorder::default();
    let backend = Router::new().route("/api/{*rest}", any(api_response));
    let backend = format!("http://{}", serve(seen.around(backend)).await);
    let config = crate::support::TempDir::new("browser-proxy");
    let file = config.write(
        "cors.toml",
        &format!(
            "allowed_origins = [\"{page}\"]\nexpose_headers = [\"X-Total-Count\"]\nallow_credentials = true\n"
        ),
    );
    let proxy = Proxy::start(&["--upstream", &backend, "--config", file.to_str().unwrap()]);
    let browser = Browser::start_engine(engine).await;

    browser.open(&page).await;
    // Straight to the back-end: blocked, it sends no CORS headers.
    browser
        .fetch(&format!("{backend}/api/direct"), json!({}), &[])
        .await
        .assert_blocked();
    // Through the proxy: readable, exposed header readable, secret not.
    let got = browser
        .fetch(
            &proxy.url("/api/get"),
            json!({ "credentials": "include" }),
            &["X-Total-Count", "X-Secret"],
        )
        .await;
    assert_eq!(got.assert_readable(200).body(), "hello from the API");
    assert_eq!(got.header("X-Total-Count"), Some("42"));
    assert_eq!(got.header("X-Secret"), None);
    let put =
        json!({ "method": "PUT", "headers": { "Content-Type": "application/json" }, "body": "{}" });
    browser
        .fetch(&proxy.url("/api/put"), put.clone(), &[])
        .await
        .assert_readable(200);

    browser.open(&other_page).await;
    browser
        .fetch(&proxy.url("/api/other"), json!({}), &[])
        .await
        .assert_blocked();
    browser
        .fetch(&proxy.url("/api/other-put"), put, &[])
        .await
        .assert_blocked();
    browser.close().await;

    // The proxy answered the preflights: the back-end never saw OPTIONS.
    assert_eq!(seen.methods_for("/api/put"), ["PUT"]);
    assert_eq!(seen.methods_for("/api/other-put"), Vec::<String>::new());
    assert_eq!(seen.methods_for("/api/other"), ["GET"]);
}

/// An https page Chromium trusts and a server it does not: a test CA's
/// certificate for localhost serves the page (`page`, its origin), another
/// CA's serves `untrusted`, and Chromium, on the page, trusts the first by
/// its key's hash (`--ignore-certificate-errors-spki-list`) — not by turning
/// certificate checks off.
struct OnHttps {
    pki: crate::pki::Pki,
    leaf: crate::pki::Leaf,
    page: String,
    untrusted: std::net::SocketAddr,
    browser: Browser,
}

async fn on_https(name: &str, engine: Engine) -> OnHttps {
    let pki = crate::pki::Pki::new(name);
    let leaf = pki.issue("localhost", &["localhost", "127.0.0.1"], false);
    let page = format!(
        "https://localhost:{}",
        crate::pki::serve_tls(&leaf, &["h2", "http/1.1"], page_router())
            .await
            .port()
    );
    let stranger = crate::pki::Pki::new(&format!("{name}-stranger"));
    let other = stranger.issue("localhost", &["localhost"], false);
    let untrusted =
        crate::pki::serve_tls(&other, &["http/1.1"], Router::new().fallback(api_response)).await;
    let browser = match engine {
        Engine::Chromium => {
            Browser::start_with(&[format!(
                "--ignore-certificate-errors-spki-list={}",
                leaf.spki_sha256()
            )])
            .await
        }
        // Neither has a per-key trust switch: their drivers' standard
        // `acceptInsecureCerts` instead (so a stranger is accepted too).
        Engine::Firefox | Engine::Webkit => Browser::start_accepting_any_certificate(engine).await,
    };
    browser.open(&format!("{page}/")).await;
    OnHttps {
        pki,
        leaf,
        page,
        untrusted,
        browser,
    }
}

/// The seeds' story on https: a page on an https origin calls the API
/// through `corsgate proxy --tls-cert/--tls-key` over HTTP/2, in each
/// engine. Chromium trusts the test certificate by its key's hash
/// (`--ignore-certificate-errors-spki-list`), not by turning checks off:
/// a server with another certificate is still refused there. Firefox and
/// WebKit accept any certificate (`acceptInsecureCerts`), so only the
/// CORS part is theirs.
async fn corsgate_proxy_over_https(engine: Engine) {
    let OnHttps {
        pki,
        leaf,
        page,
        untrusted,
        browser,
    } = on_https("browser-tls", engine).await;
    let seen = Recorder::default();
    let backend = Router::new().route("/api/{*rest}", any(api_response));
    let backend = format!("http://{}", serve(seen.around(backend)).await);
    let proxy = Proxy::start(&[
        "--upstream",
        &backend,
        "--allow-origin",
        &page,
        "--allow-credentials",
        "--expose-header",
        "X-Total-Count",
        "--tls-cert",
        leaf.cert.to_str().unwrap(),
        "--tls-key",
        leaf.key.to_str().unwrap(),
    ]);
    let api = format!("https://localhost:{}", proxy.addr.port());
    assert_eq!(
        browser.eval("location.protocol").await,
        json!("https:"),
        "the page is served over https"
    );
    let got = browser
        .fetch(
            &format!("{api}/api/get"),
            json!({ "credentials": "include" }),
            &["X-Total-Count"],
        )
        .await;
    assert_eq!(got.assert_readable(200).body(), "hello from the API");
    assert_eq!(got.header("X-Total-Count"), Some("42"));
    let put =
        json!({ "method": "PUT", "headers": { "Content-Type": "application/json" }, "body": "{}" });
    browser
        .fetch(&format!("{api}/api/put"), put, &[])
        .await
        .assert_readable(200);
    if engine == Engine::Chromium {
        browser
            .fetch(
                &format!("https://localhost:{}/api/x", untrusted.port()),
                json!({}),
                &[],
            )
            .await
            .assert_blocked();
    }
    browser.close().await;
    // The preflight was the proxy's; the back-end saw the PUT once.
    assert_eq!(seen.methods_for("/api/put"), ["PUT"]);
    if engine != Engine::Chromium {
        return;
    }

    // doctor agrees: the trusted proxy allows the page, the stranger is a
    // certificate error, named as Chromium names it.
    let ca = pki.ca_pem.to_str().unwrap().to_owned();
    let url = format!("{api}/api/get");
    let (code, out, _) = tokio::task::block_in_place(|| {
        crate::support::run(&[
            "doctor",
            "--json",
            &url,
            "--origin",
            &page,
            "--credentials",
            "include",
            "--cacert",
            &ca,
        ])
    });
    assert_eq!(code, 0, "{out}");
    let url = format!("https://localhost:{}/api/x", untrusted.port());
    let (code, out, _) = tokio::task::block_in_place(|| {
        crate::support::run(&["doctor", "--json", &url, "--origin", &page, "--cacert", &ca])
    });
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("net::ERR_CERT_AUTHORITY_INVALID"), "{out}");
}

/// doctor's console line for a certificate error and for mixed content is
/// the one Chromium logs (ChromeDriver's log puts the URL, or `security 4`,
/// before it); an IP address of a local network over http is let through
/// with a warning, not blocked, by Chromium, and doctor says the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_tls_and_mixed_content_failures_as_chromium_logs_them() {
    let OnHttps {
        page,
        untrusted,
        browser,
        ..
    } = on_https("console", Engine::Chromium).await;
    let _ = browser.console().await;

    let doctor =
        |url: &str| crate::support::doctor_json(&[url, "--origin", &page, "--timeout", "2"]).1;
    // The same line Chromium logs, whatever it puts before it.
    let logged = |lines: &[(String, String)], message: &str| {
        lines.iter().any(|(_, line)| line.ends_with(message))
    };

    let tls_url = format!("https://localhost:{}/api/x", untrusted.port());
    browser
        .fetch(&tls_url, json!({}), &[])
        .await
        .assert_blocked();
    let lines = browser.console().await;
    let json = doctor(&tls_url);
    let message = json["console_message"]
        .as_str()
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(
        message,
        "Failed to load resource: net::ERR_CERT_AUTHORITY_INVALID"
    );
    assert!(
        logged(&lines, &format!("{tls_url} - {message}")),
        "{lines:#?}"
    );

    let mixed_url = "http://api.invalid.test/users";
    browser
        .fetch(mixed_url, json!({}), &[])
        .await
        .assert_blocked();
    let lines = browser.console().await;
    let json = doctor(mixed_url);
    assert_eq!(json["error_kind"], "MixedContent", "{json:#}");
    let message = json["console_message"].as_str().unwrap();
    assert!(
        logged(&lines, message),
        "doctor: {message}\nChromium: {lines:#?}"
    );

    // A local-network address: Chromium warns and goes on (here the
    // address is unreachable, so the fetch fails later, not as mixed content).
    // The warning comes before any connection; the fetch is not awaited
    // (an unroutable address may take long to fail on another network).
    let local_url = "http://10.255.255.1:8000/users";
    browser
        .eval(&format!("void fetch('{local_url}').catch(() => {{}})"))
        .await;
    let warning = format!(
        "Mixed Content: The page at '{page}/' was loaded over HTTPS, but requested an insecure resource '{local_url}'. This content should also be served over HTTPS."
    );
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines.extend(browser.console().await);
        if logged(&lines, &warning) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(logged(&lines, &warning), "{lines:#?}");
    assert!(
        !lines
            .iter()
            .any(|(_, l)| l.contains("This request has been blocked")),
        "Chromium let it through, with a warning: {lines:#?}"
    );
    browser.close().await;
    let json = doctor(local_url);
    assert_ne!(json["error_kind"], "MixedContent", "{json:#}");
}

in_each_engine!(
    the_demo_page_shows_the_expected_outcomes_and_why,
    corsgate_proxy_in_front_of_a_plain_back_end,
    corsgate_proxy_over_https,
);
