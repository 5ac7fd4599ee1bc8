//! `corsgate demo` without a browser: start-up, errors, and the API over
//! raw HTTP. (What Chromium does with it is in `browser::demo`.)

use std::net::SocketAddr;

use corsgate_testkit::{RawResponse, raw_http};

use crate::support::{Demo, TempDir, run};

async fn send(base: &str, method: &str, path: &str, headers: &[&str], body: &str) -> RawResponse {
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    raw_http(addr, &request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_is_guarded_by_the_embedded_policy() {
    let demo = tokio::task::block_in_place(|| Demo::start(&[]));
    let page_origin = format!("Origin: {}", demo.page);

    let list = send(&demo.api, "GET", "/items", &[&page_origin], "").await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.values("access-control-allow-origin"),
        [demo.page.as_str()]
    );
    assert_eq!(list.values("access-control-allow-credentials"), ["true"]);
    assert_eq!(
        list.values("access-control-expose-headers"),
        ["X-Total-Count"]
    );
    assert_eq!(list.values("x-total-count"), ["2"]);

    let other = send(
        &demo.api,
        "GET",
        "/items",
        &["Origin: http://evil.example"],
        "",
    )
    .await;
    assert_eq!(other.status, 200);
    assert!(other.values("access-control-allow-origin").is_empty());

    let preflight = send(
        &demo.api,
        "OPTIONS",
        "/items/1",
        &[
            &page_origin,
            "Access-Control-Request-Method: PUT",
            "Access-Control-Request-Headers: authorization, content-type",
        ],
        "",
    )
    .await;
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.values("access-control-max-age"), ["600"]);
    assert!(
        preflight.values("allow").is_empty(),
        "axum's routing never sees a preflight"
    );

    let json = "Content-Type: application/json";
    let no_token = send(
        &demo.api,
        "PUT",
        "/items/1",
        &[&page_origin, json],
        r#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(no_token.status, 401, "{}", no_token.body);
    assert_eq!(
        no_token.values("access-control-allow-origin"),
        [demo.page.as_str()],
        "errors carry CORS headers"
    );
    let auth = "Authorization: Bearer demo-token";
    let renamed = send(
        &demo.api,
        "PUT",
        "/items/1",
        &[&page_origin, json, auth],
        r#"{"name":"renamed"}"#,
    )
    .await;
    assert_eq!(
        (renamed.status, renamed.body.as_str()),
        (200, r#"{"id":1,"name":"renamed"}"#)
    );
    let bad = send(&demo.api, "POST", "/items", &[json], r#"{"name":""}"#).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let created = send(&demo.api, "POST", "/items", &[json], r#"{"name":"new"}"#).await;
    assert_eq!(
        (created.status, created.body.as_str()),
        (201, r#"{"id":3,"name":"new"}"#)
    );
    assert_eq!(
        send(&demo.api, "DELETE", "/items/3", &[], "").await.status,
        204
    );
    assert_eq!(
        send(&demo.api, "DELETE", "/items/3", &[], "").await.status,
        404
    );

    // The cookie login.
    assert_eq!(send(&demo.api, "GET", "/me", &[], "").await.status, 401);
    let login = send(&demo.api, "POST", "/login", &[], "").await;
    let cookie = login.values("set-cookie")[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let me = send(&demo.api, "GET", "/me", &[&format!("Cookie: {cookie}")], "").await;
    assert_eq!((me.status, me.body.as_str()), (200, r#"{"user":"demo"}"#));

    // Outside the scope: no CORS headers at all.
    let stats = send(&demo.api, "GET", "/internal/stats", &[&page_origin], "").await;
    assert_eq!(stats.status, 200);
    assert!(stats.values("access-control-allow-origin").is_empty());
    assert!(stats.values("vary").is_empty());

    // The same API without corsgate (the page's "before"): it works, and
    // sends no CORS headers at all, to a preflight neither.
    let bare = send(&demo.api, "GET", "/without/items", &[&page_origin], "").await;
    assert_eq!(bare.status, 200);
    assert!(bare.body.starts_with(r#"[{"id":1"#), "{}", bare.body);
    assert!(bare.values("access-control-allow-origin").is_empty());
    let bare_preflight = send(
        &demo.api,
        "OPTIONS",
        "/without/items",
        &[&page_origin, "Access-Control-Request-Method: POST"],
        "",
    )
    .await;
    assert!(
        bare_preflight
            .values("access-control-allow-origin")
            .is_empty(),
        "{bare_preflight:?}"
    );

    // The page is served with the API's address, and the decisions log
    // answers the page's own origin.
    let page = send(&demo.page, "GET", "/", &[], "").await;
    assert!(
        page.body.contains(&format!(r#""api":"{}""#, demo.api)),
        "{}",
        page.body
    );
    let log = send(&demo.page, "GET", "/decisions?run=7", &[], "").await;
    assert_eq!((log.status, log.body.as_str()), (200, "[]"));
    assert_eq!(
        send(&demo.page, "GET", "/decisions", &[], "").await.status,
        400
    );
    tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(100)));
    let out = demo.stdout();
    assert!(
        out.contains(&format!("{:<7} {:<24} 401", "PUT", "/items/1")),
        "{out}"
    );
    assert!(out.contains("http://evil.example: not allowed"), "{out}");
}

#[test]
fn a_taken_port_is_replaced_by_a_free_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let demo = Demo::start(&["--page", &format!("127.0.0.1:{port}")]);
    assert_ne!(demo.page, format!("http://127.0.0.1:{port}"));
    assert!(
        demo.stdout()
            .contains(&format!("port {port} is taken; the page uses")),
        "{}",
        demo.stdout()
    );
    // The embedded policy follows the page to its new port.
    assert!(
        demo.stdout().contains(&format!("allows {}", demo.page)),
        "{}",
        demo.stdout()
    );
}

#[test]
fn it_listens_on_loopback_only() {
    let (code, _, err) = run(&["demo", "--api", "0.0.0.0:0"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "error: `--api 0.0.0.0:0`: the demo listens on loopback only; use 127.0.0.1 or [::1]"
    );
}

#[test]
fn a_bad_config_is_reported_and_nothing_starts() {
    let dir = TempDir::new("demo-config");
    let file = dir.write("cors.toml", "CORS_ALLOWED_ORIGINS = [\"127.0.0.1:5000\"]\n");
    let (code, out, err) = run(&[
        "demo",
        "--api",
        "127.0.0.1:0",
        "--page",
        "127.0.0.1:0",
        "--config",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("CORS_ALLOWED_ORIGINS[0]"), "{err}");
    assert!(
        err.contains("corsgate demo: not started: the policy has errors"),
        "{err}"
    );
}

#[test]
fn a_config_that_does_not_allow_the_page_says_so() {
    let dir = TempDir::new("demo-config");
    let file = dir.write(
        "cors.toml",
        "allowed_origins = [\"https://app.example.com\"]\n",
    );
    let demo = Demo::start(&["--config", file.to_str().unwrap()]);
    let out = demo.stdout();
    assert!(out.contains("policy from "), "{out}");
    assert!(out.contains("does not allow the page's origin"), "{out}");
}
