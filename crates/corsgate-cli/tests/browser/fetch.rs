//! Each engine against an axum API behind corsgate's tower layer.

use std::time::Duration;

use axum::Router;
use axum::routing::any;
use corsgate::Config;
use corsgate::tower::CorsLayer;
use serde_json::json;

use super::{Browser, Engine, Recorder, api_response, in_each_engine, page_origin, serve};

/// An API answering every path under `/api/` with [`api_response`], behind
/// `config`, recorded. Returns its origin.
async fn api(config: corsgate::ConfigBuilder, recorder: &Recorder) -> String {
    let policy = config.compile().expect("a valid policy");
    let router = Router::new()
        .route("/api/{*rest}", any(api_response))
        .layer(CorsLayer::new(policy));
    format!("http://{}", serve(recorder.around(router)).await)
}

async fn an_allowed_origin_reads_the_response_and_a_disallowed_one_is_blocked(engine: Engine) {
    let page = page_origin().await;
    let other_page = page_origin().await;
    let seen = Recorder::default();
    let api = api(Config::builder().allowed_origins([page.as_str()]), &seen).await;
    let browser = Browser::start_engine(engine).await;

    browser.open(&page).await;
    let got = browser.fetch(&format!("{api}/api/a"), json!({}), &[]).await;
    assert_eq!(got.assert_readable(200).body(), "hello from the API");
    let got = browser
        .fetch(
            &format!("{api}/api/b"),
            json!({ "method": "PUT", "headers": { "Content-Type": "application/json" }, "body": "{}" }),
            &[],
        )
        .await;
    got.assert_readable(200);

    browser.open(&other_page).await;
    // A simple request reaches the server; the browser hides the answer.
    browser
        .fetch(&format!("{api}/api/c"), json!({}), &[])
        .await
        .assert_blocked();
    // A preflighted one never leaves the browser: the preflight fails.
    browser
        .fetch(
            &format!("{api}/api/d"),
            json!({ "method": "PUT", "headers": { "Content-Type": "application/json" }, "body": "{}" }),
            &[],
        )
        .await
        .assert_blocked();
    browser.close().await;

    assert_eq!(seen.methods_for("/api/a"), ["GET"]);
    assert_eq!(seen.methods_for("/api/b"), ["OPTIONS", "PUT"]);
    assert_eq!(seen.methods_for("/api/c"), ["GET"]);
    assert_eq!(seen.methods_for("/api/d"), ["OPTIONS"]);
    let origins: Vec<_> = seen.all().into_iter().map(|s| s.origin).collect();
    assert_eq!(origins[0].as_deref(), Some(page.as_str()));
    assert_eq!(origins[3].as_deref(), Some(other_page.as_str()));
}

async fn a_preflight_is_sent_exactly_when_the_fetch_standard_requires_it(engine: Engine) {
    let page = page_origin().await;
    let seen = Recorder::default();
    let config = Config::builder()
        .allowed_origins([page.as_str()])
        .allow_headers(["accept", "content-type", "x-custom"])
        .allow_methods(["GET", "POST", "PUT", "DELETE", "PATCH"]);
    let api = api(config, &seen).await;
    let browser = Browser::start_engine(engine).await;
    browser.open(&page).await;

    // (path, fetch init, preflight expected)
    let cases = [
        ("get", json!({}), false),
        ("head", json!({ "method": "HEAD" }), false),
        ("post-text", json!({ "method": "POST", "body": "x" }), false),
        (
            "post-form",
            json!({ "method": "POST", "headers": { "Content-Type": "application/x-www-form-urlencoded" }, "body": "a=1" }),
            false,
        ),
        (
            "get-accept",
            json!({ "headers": { "Accept": "application/json", "Accept-Language": "en" } }),
            false,
        ),
        (
            "post-json",
            json!({ "method": "POST", "headers": { "Content-Type": "application/json" }, "body": "{}" }),
            true,
        ),
        (
            "get-custom",
            json!({ "headers": { "X-Custom": "1" } }),
            true,
        ),
        ("put", json!({ "method": "PUT", "body": "x" }), true),
        ("delete", json!({ "method": "DELETE" }), true),
        ("patch", json!({ "method": "PATCH", "body": "x" }), true),
        // Safelisted name, but a value over 128 bytes is not safelisted.
        (
            "long-accept",
            json!({ "headers": { "Accept": "a".repeat(200) } }),
            true,
        ),
    ];
    for (name, init, _) in &cases {
        let got = browser
            .fetch(&format!("{api}/api/{name}"), init.clone(), &[])
            .await;
        assert!(!got.blocked(), "{name}: {got:?}");
    }
    browser.close().await;

    for (name, _, preflight) in &cases {
        let methods = seen.methods_for(&format!("/api/{name}"));
        assert_eq!(
            methods.first().map(String::as_str) == Some("OPTIONS"),
            *preflight,
            "{name}: the server saw {methods:?}"
        );
        assert_eq!(
            methods.len(),
            1 + usize::from(*preflight),
            "{name}: {methods:?}"
        );
    }
}

/// Three identical preflighted PUTs with `preflight_max_age = max_age`, a
/// pause before the third: the methods the server saw, in order.
async fn three_puts(engine: Engine, max_age: u64, pause: Duration) -> Vec<String> {
    let page = page_origin().await;
    let seen = Recorder::default();
    let config = Config::builder()
        .allowed_origins([page.as_str()])
        .preflight_max_age(max_age);
    let api = api(config, &seen).await;
    let browser = Browser::start_engine(engine).await;
    browser.open(&page).await;
    let put =
        json!({ "method": "PUT", "headers": { "Content-Type": "application/json" }, "body": "{}" });
    let url = format!("{api}/api/put");
    for i in 0..3 {
        if i == 2 {
            tokio::time::sleep(pause).await;
        }
        browser
            .fetch(&url, put.clone(), &[])
            .await
            .assert_readable(200);
    }
    browser.close().await;
    seen.methods_for("/api/put")
}

async fn a_preflight_is_cached_for_max_age_then_sent_again(engine: Engine) {
    // Within max-age the second PUT reuses the cached preflight; after it
    // the browser asks again. Firefox ESR preflights every time
    // (../shared/spec/firefox-messages.md, and docs/engines.md).
    let expected: &[&str] = match engine {
        Engine::Chromium | Engine::Webkit => &["OPTIONS", "PUT", "PUT", "OPTIONS", "PUT"],
        Engine::Firefox => &["OPTIONS", "PUT", "OPTIONS", "PUT", "OPTIONS", "PUT"],
    };
    assert_eq!(
        three_puts(engine, 2, Duration::from_millis(2600)).await,
        expected
    );
}

async fn max_age_zero_means_no_caching(engine: Engine) {
    // django omits the header for 0, and Chromium then caches for 5 s;
    // corsgate sends `Access-Control-Max-Age: 0`.
    assert_eq!(
        three_puts(engine, 0, Duration::ZERO).await,
        ["OPTIONS", "PUT", "OPTIONS", "PUT", "OPTIONS", "PUT"]
    );
}

async fn credentials_need_allow_credentials(engine: Engine) {
    let page = page_origin().await;
    let without = Recorder::default();
    let with = Recorder::default();
    let api_without = api(Config::builder().allowed_origins([page.as_str()]), &without).await;
    let api_with = api(
        Config::builder()
            .allowed_origins([page.as_str()])
            .allow_credentials(true),
        &with,
    )
    .await;
    let browser = Browser::start_engine(engine).await;
    browser.open(&page).await;
    // A cookie for 127.0.0.1 (cookies ignore ports): both APIs are same-site.
    browser
        .eval("(document.cookie = 'session=abc; SameSite=Lax; path=/', document.cookie)")
        .await;
    let include = json!({ "credentials": "include" });

    browser
        .fetch(&format!("{api_without}/api/x"), include.clone(), &[])
        .await
        .assert_blocked();
    browser
        .fetch(&format!("{api_without}/api/y"), json!({}), &[])
        .await
        .assert_readable(200);
    browser
        .fetch(&format!("{api_with}/api/z"), include.clone(), &[])
        .await
        .assert_readable(200);
    // A credentialed preflighted request needs it on the preflight too.
    let put = json!({ "method": "PUT", "credentials": "include", "body": "x" });
    browser
        .fetch(&format!("{api_without}/api/p"), put.clone(), &[])
        .await
        .assert_blocked();
    browser
        .fetch(&format!("{api_with}/api/p"), put, &[])
        .await
        .assert_readable(200);
    browser.close().await;

    let cookie_of = |r: &Recorder, path: &str| {
        r.all()
            .into_iter()
            .find(|s| s.path == path && s.method != "OPTIONS")
            .and_then(|s| s.cookie)
    };
    // The blocked request still carried the cookie: CORS protects the
    // response, not the request.
    assert_eq!(
        cookie_of(&without, "/api/x").as_deref(),
        Some("session=abc")
    );
    assert_eq!(cookie_of(&without, "/api/y"), None);
    assert_eq!(cookie_of(&with, "/api/z").as_deref(), Some("session=abc"));
    assert_eq!(without.methods_for("/api/p"), ["OPTIONS"]);
    assert_eq!(with.methods_for("/api/p"), ["OPTIONS", "PUT"]);
}

async fn only_exposed_and_safelisted_response_headers_are_readable(engine: Engine) {
    let page = page_origin().await;
    let seen = Recorder::default();
    let config = Config::builder()
        .allowed_origins([page.as_str()])
        .expose_headers(["X-Total-Count"]);
    let api = api(config, &seen).await;
    let browser = Browser::start_engine(engine).await;
    browser.open(&page).await;
    let got = browser
        .fetch(
            &format!("{api}/api/h"),
            json!({}),
            &["Content-Type", "X-Total-Count", "X-Secret"],
        )
        .await;
    browser.close().await;
    got.assert_readable(200);
    assert_eq!(got.header("Content-Type"), Some("text/plain"));
    assert_eq!(got.header("X-Total-Count"), Some("42"));
    assert_eq!(
        got.header("X-Secret"),
        None,
        "not exposed: the page sees null"
    );
}

in_each_engine!(
    an_allowed_origin_reads_the_response_and_a_disallowed_one_is_blocked,
    a_preflight_is_sent_exactly_when_the_fetch_standard_requires_it,
    a_preflight_is_cached_for_max_age_then_sent_again,
    max_age_zero_means_no_caching,
    credentials_need_allow_credentials,
    only_exposed_and_safelisted_response_headers_are_readable,
);
