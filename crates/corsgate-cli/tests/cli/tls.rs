//! TLS on loopback, with a CA and certificates made at test time (rcgen):
//! `doctor` against good, expired, wrong-host and unknown-CA servers and
//! mixed content; the proxy to https upstreams (HTTP/1.1 and HTTP/2) and
//! serving https itself, its certificate reloaded while it runs.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::Value;

use crate::pki::{Pki, serve_tls};
use crate::support::{BIN, Proxy, doctor_json as doctor, run, serve};

const PAGE: &str = "https://app.example.test";

/// Answers every request with CORS for the request's origin and, for the
/// tests to read, the HTTP version, `Host` and `X-Forwarded-Proto` it got.
/// `/to-http` redirects to a plain-http URL off loopback.
async fn echo(version: Version, uri: Uri, headers: HeaderMap) -> Response {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let host = match get("host") {
        h if h.is_empty() => uri.authority().map(ToString::to_string).unwrap_or_default(),
        h => h,
    };
    let status = if uri.path() == "/to-http" {
        StatusCode::FOUND
    } else {
        StatusCode::OK
    };
    let mut response = (status, "hello").into_response();
    let out = response.headers_mut();
    out.insert(
        "access-control-allow-origin",
        get("origin").parse().unwrap(),
    );
    out.insert("vary", "Origin".parse().unwrap());
    out.insert("x-version", format!("{version:?}").parse().unwrap());
    out.insert("x-host", host.parse().unwrap());
    out.insert("x-proto", get("x-forwarded-proto").parse().unwrap());
    out.insert(
        "access-control-expose-headers",
        "x-version, x-host, x-proto".parse().unwrap(),
    );
    if status == StatusCode::FOUND {
        out.insert("location", "http://api.invalid.test/users".parse().unwrap());
    }
    response
}

fn echo_app() -> Router {
    Router::new().fallback(echo)
}

/// What an https client saw: the version, status, headers and the
/// certificate the server presented.
struct Seen {
    version: Version,
    status: u16,
    headers: HeaderMap,
    cert: Vec<u8>,
}

/// One GET over TLS to `addr` as `host`, trusting `ca`, offering `alpn`.
async fn https_get(addr: SocketAddr, host: &str, ca: &Path, alpn: &[&str], path: &str) -> Seen {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(host.to_owned()).unwrap();
    let tls = connector.connect(name, tcp).await.expect("TLS handshake");
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = hyper_util::rt::TokioIo::new(tls);
    let request = http::Request::get(format!("https://{host}:{}{path}", addr.port()))
        .header("origin", "http://127.0.0.1:5000")
        .header("host", format!("{host}:{}", addr.port()))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = if h2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                .await
                .unwrap();
        tokio::spawn(conn);
        let mut request = request;
        request.headers_mut().remove("host");
        sender.send_request(request).await.unwrap()
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(conn);
        let (mut parts, body) = request.into_parts();
        parts.uri = path.parse().unwrap();
        sender
            .send_request(http::Request::from_parts(parts, body))
            .await
            .unwrap()
    };
    Seen {
        version: response.version(),
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        cert,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_over_https_trusts_the_system_store_ssl_cert_file_and_cacert() {
    let pki = Pki::new("doctor-good");
    let leaf = pki.issue("server", &["localhost", "127.0.0.1"], false);
    let addr = serve_tls(&leaf, &["h2", "http/1.1"], echo_app()).await;
    let url = format!("https://127.0.0.1:{}/users", addr.port());
    let ca = pki.ca_pem.to_str().unwrap();

    let (code, json) = doctor(&[&url, "--origin", PAGE, "--cacert", ca]);
    assert_eq!(
        (code, json["verdict"].as_str()),
        (0, Some("allowed")),
        "{json:#}"
    );

    // SSL_CERT_FILE replaces the system's store, as for curl and OpenSSL.
    let output = tokio::task::block_in_place(|| {
        Command::new(BIN)
            .args(["doctor", "--json", &url, "--origin", PAGE])
            .env("SSL_CERT_FILE", &pki.ca_pem)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    });
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (output.status.code(), json["verdict"].as_str()),
        (Some(0), Some("allowed")),
        "{json:#}"
    );

    // The test CA is in no system store: refused, as a browser would.
    let (code, json) = doctor(&[&url, "--origin", PAGE]);
    assert_eq!(code, 4, "{json:#}");
    assert_eq!(json["error_kind"], "net::ERR_CERT_AUTHORITY_INVALID");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_each_tls_failure_as_chromium_does() {
    let pki = Pki::new("doctor-bad");
    let stranger = Pki::new("doctor-stranger");
    let expired = pki.issue("expired", &["localhost", "127.0.0.1"], true);
    let wrong_host = pki.issue("wrong-host", &["other.example.test"], false);
    let unknown_ca = stranger.issue("unknown-ca", &["localhost", "127.0.0.1"], false);
    let ca = pki.ca_pem.to_str().unwrap();
    let plain = serve(echo_app()).await;
    let cases = [
        (
            serve_tls(&expired, &["http/1.1"], echo_app()).await,
            "net::ERR_CERT_DATE_INVALID",
            "expired",
        ),
        (
            serve_tls(&wrong_host, &["http/1.1"], echo_app()).await,
            "net::ERR_CERT_COMMON_NAME_INVALID",
            "another host",
        ),
        (
            serve_tls(&unknown_ca, &["http/1.1"], echo_app()).await,
            "net::ERR_CERT_AUTHORITY_INVALID",
            "not signed by an authority this machine trusts",
        ),
        (
            plain,
            "net::ERR_SSL_PROTOCOL_ERROR",
            "did not answer in TLS",
        ),
    ];
    for (addr, name, what) in cases {
        let url = format!("https://127.0.0.1:{}/users", addr.port());
        let (code, json) = doctor(&[&url, "--origin", PAGE, "--cacert", ca]);
        assert_eq!(code, 4, "{json:#}");
        assert_eq!(json["verdict"], "tls_error", "{json:#}");
        assert_eq!(json["error_kind"], name, "{json:#}");
        assert_eq!(
            json["console_message"],
            format!("Failed to load resource: {name}")
        );
        assert!(json["error"].as_str().unwrap().contains(what), "{json:#}");
        assert!(!json["fixes"][0]["note"].as_str().unwrap().is_empty());

        // The text names it too, with the fix, on stdout.
        let (code, text, _) = tokio::task::block_in_place(|| {
            run(&[
                "doctor", &url, "--origin", PAGE, "--cacert", ca, "-X", "PUT",
            ])
        });
        assert_eq!(code, 4);
        assert!(text.starts_with(&format!("TLS ERROR: PUT {url}")), "{text}");
        assert!(
            text.contains(&format!(
                "Chromium says:\n  Failed to load resource: {name}\n"
            )),
            "{text}"
        );
        assert!(text.contains("\nfix: "), "{text}");
    }

    // --insecure diagnoses CORS anyway, and says what it let through.
    let addr = serve_tls(&unknown_ca, &["h2", "http/1.1"], echo_app()).await;
    let url = format!("https://127.0.0.1:{}/users", addr.port());
    let (code, json) = doctor(&[&url, "--origin", PAGE, "--insecure"]);
    assert_eq!(
        (code, json["verdict"].as_str()),
        (0, Some("allowed")),
        "{json:#}"
    );
    let warnings = json["warnings"].to_string();
    assert!(
        warnings.contains("--insecure: the certificate of 127.0.0.1 was NOT verified")
            && warnings.contains("net::ERR_CERT_AUTHORITY_INVALID"),
        "{warnings}"
    );
    // …and that it changed nothing when nothing was wrong.
    let good = pki.issue("good", &["127.0.0.1"], false);
    let addr = serve_tls(&good, &["http/1.1"], echo_app()).await;
    let url = format!("https://127.0.0.1:{}/users", addr.port());
    let (code, json) = doctor(&[&url, "--origin", PAGE, "--insecure", "--cacert", ca]);
    assert_eq!(code, 0, "{json:#}");
    assert!(
        json["warnings"].to_string().contains("changed nothing"),
        "{json:#}"
    );

    // A bad --cacert is a usage error naming the flag.
    let (code, _, stderr) = tokio::task::block_in_place(|| {
        run(&[
            "doctor",
            &url,
            "--origin",
            PAGE,
            "--cacert",
            "/nonexistent/ca.pem",
        ])
    });
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--cacert /nonexistent/ca.pem: cannot read it"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_content_is_blocked_before_cors() {
    let pki = Pki::new("mixed");
    let leaf = pki.issue("server", &["127.0.0.1"], false);
    let tls = serve_tls(&leaf, &["h2", "http/1.1"], echo_app()).await;
    let plain = serve(echo_app()).await;
    let ca = pki.ca_pem.to_str().unwrap();

    // An https page, an http API off loopback: blocked, nothing sent (the
    // host does not even resolve).
    let (code, json) = doctor(&["http://api.invalid.test/users", "--origin", PAGE]);
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["verdict"], "blocked");
    assert_eq!(json["error_kind"], "MixedContent");
    assert_eq!(json["failing_step"], "mixed content");
    assert_eq!(
        json["console_message"],
        "Mixed Content: The page at 'https://app.example.test/' was loaded over HTTPS, but requested an insecure resource 'http://api.invalid.test/users'. This request has been blocked; the content must be served over HTTPS."
    );
    assert_eq!(json["exchanges"].as_array().unwrap().len(), 0);
    assert!(
        json["fixes"][0]["note"]
            .as_str()
            .unwrap()
            .contains("https://api.invalid.test/users")
    );

    // Loopback is potentially trustworthy: not mixed content.
    let url = format!("http://127.0.0.1:{}/users", plain.port());
    let (code, json) = doctor(&[&url, "--origin", PAGE]);
    assert_eq!(
        (code, json["verdict"].as_str()),
        (0, Some("allowed")),
        "{json:#}"
    );

    // An https API that redirects to http: blocked at the redirect.
    let url = format!("https://127.0.0.1:{}/to-http", tls.port());
    let (code, json) = doctor(&[&url, "--origin", PAGE, "--cacert", ca]);
    assert_eq!(
        (code, json["error_kind"].as_str()),
        (1, Some("MixedContent")),
        "{json:#}"
    );
    assert_eq!(json["exchanges"].as_array().unwrap().len(), 1, "{json:#}");
    assert!(
        json["fixes"]
            .to_string()
            .contains("redirects to plain http"),
        "{json:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_reports_an_https_site_trusting_its_http_origin() {
    let pki = Pki::new("scan");
    let leaf = pki.issue("server", &["localhost"], false);
    let addr = serve_tls(&leaf, &["h2", "http/1.1"], echo_app()).await;
    let url = format!("https://localhost:{}/users", addr.port());
    let (code, stdout, stderr) = tokio::task::block_in_place(|| {
        run(&[
            "doctor",
            "--scan",
            "--json",
            &url,
            "--cacert",
            pki.ca_pem.to_str().unwrap(),
        ])
    });
    assert_eq!(code, 1, "{stdout}{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    let probe = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == "http-origin-trusted")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(probe["probe"], "http://localhost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_forwards_to_https_upstreams_over_http2_and_http1() {
    let pki = Pki::new("upstream");
    let leaf = pki.issue("upstream", &["localhost"], false);
    let h2 = serve_tls(&leaf, &["h2", "http/1.1"], echo_app()).await;
    let h1 = serve_tls(&leaf, &["http/1.1"], echo_app()).await;
    let ca = pki.ca_pem.to_str().unwrap();
    for (addr, version) in [(h2, "HTTP/2.0"), (h1, "HTTP/1.1")] {
        let upstream = format!("https://localhost:{}", addr.port());
        for preserve_host in [false, true] {
            let mut args = vec![
                "--upstream",
                &upstream,
                "--cacert",
                ca,
                "--allow-origin",
                "http://127.0.0.1:5000",
            ];
            if preserve_host {
                args.push("--preserve-host");
            }
            let proxy = Proxy::start(&args);
            let response = corsgate_testkit::raw_http(
                proxy.addr,
                "GET /users HTTP/1.1\r\nHost: api.example.test\r\nOrigin: http://127.0.0.1:5000\r\nConnection: close\r\n\r\n",
            )
            .await;
            assert_eq!(response.status, 200, "{response:?}\n{}", proxy.stderr());
            assert_eq!(response.values("x-version"), [version]);
            // SNI and the certificate check name the upstream's host even
            // when the client's Host is kept.
            let host = if preserve_host {
                "api.example.test".to_owned()
            } else {
                format!("localhost:{}", addr.port())
            };
            assert_eq!(response.values("x-host"), [host.as_str()]);
            assert_eq!(
                response.values("access-control-allow-origin"),
                ["http://127.0.0.1:5000"]
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_upstream_is_a_502_naming_the_tls_error_with_cors_headers() {
    let pki = Pki::new("untrusted-upstream");
    let leaf = pki.issue("upstream", &["localhost"], false);
    let addr = serve_tls(&leaf, &["h2", "http/1.1"], echo_app()).await;
    let upstream = format!("https://localhost:{}", addr.port());
    // No --cacert: the test CA is not trusted.
    let proxy = Proxy::start(&[
        "--upstream",
        &upstream,
        "--allow-origin",
        "http://127.0.0.1:5000",
    ]);
    let response = corsgate_testkit::raw_http(
        proxy.addr,
        "GET /users HTTP/1.1\r\nHost: x\r\nOrigin: http://127.0.0.1:5000\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 502, "{response:?}");
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["error"], "upstream_tls_error");
    assert_eq!(body["tls_error"], "net::ERR_CERT_AUTHORITY_INVALID");
    assert!(
        body["message"].as_str().unwrap().starts_with(&upstream),
        "{body}"
    );
    assert_eq!(
        response.values("access-control-allow-origin"),
        ["http://127.0.0.1:5000"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_serves_https_and_reloads_its_certificate() {
    let pki = Pki::new("listener");
    let first = pki.issue("first", &["localhost", "127.0.0.1"], false);
    let upstream = serve(echo_app()).await;
    let (cert, key) = (pki.path("live.pem"), pki.path("live.key"));
    std::fs::copy(&first.cert, &cert).unwrap();
    std::fs::copy(&first.key, &key).unwrap();
    let proxy = Proxy::start(&[
        "--upstream",
        &format!("http://{upstream}"),
        "--allow-origin",
        "http://127.0.0.1:5000",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--reload-interval",
        "0.2",
    ]);
    for (alpn, version) in [
        (&["h2", "http/1.1"][..], Version::HTTP_2),
        (&["http/1.1"][..], Version::HTTP_11),
    ] {
        let seen = https_get(proxy.addr, "localhost", &pki.ca_pem, alpn, "/users").await;
        assert_eq!((seen.status, seen.version), (200, version));
        assert_eq!(
            header(&seen.headers, "access-control-allow-origin"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(header(&seen.headers, "x-proto"), "https");
        assert_eq!(seen.cert, first.der);
    }

    // A renewed certificate is served from the next handshake on.
    let second = pki.issue("second", &["localhost", "127.0.0.1"], false);
    std::fs::copy(&second.cert, &cert).unwrap();
    std::fs::copy(&second.key, &key).unwrap();
    proxy
        .stderr_once("reloaded the TLS certificate", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no reload:\n{}", proxy.stderr()));
    let seen = https_get(proxy.addr, "localhost", &pki.ca_pem, &["h2"], "/users").await;
    assert_eq!(seen.cert, second.der);

    // A broken one is refused and the old one keeps serving; SIGHUP too.
    std::fs::write(&key, "not a key\n").unwrap();
    proxy
        .stderr_once("not reloading the TLS certificate", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no refusal:\n{}", proxy.stderr()));
    proxy.signal("HUP");
    let seen = https_get(
        proxy.addr,
        "127.0.0.1",
        &pki.ca_pem,
        &["http/1.1"],
        "/users",
    )
    .await;
    assert_eq!((seen.status, seen.cert), (200, second.der.clone()));
    assert!(proxy.stderr().contains("--tls-key"), "{}", proxy.stderr());
}

#[test]
fn tls_flags_are_checked_at_start() {
    let pki = Pki::new("flags");
    let leaf = pki.issue("a", &["localhost"], false);
    let other = pki.issue("b", &["localhost"], false);
    let (code, _, stderr) = run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        leaf.cert.to_str().unwrap(),
        "--tls-key",
        other.key.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("do not belong together"), "{stderr}");
    assert!(
        stderr.contains("not started: the TLS certificate cannot be used"),
        "{stderr}"
    );
    // One without the other is a usage error.
    let (code, _, stderr) = run(&[
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--tls-cert",
        leaf.cert.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_between_http_and_https_are_followed_as_the_browser_does() {
    let pki = Pki::new("redirect");
    let leaf = pki.issue("server", &["localhost"], false);
    let tls = serve_tls(&leaf, &["h2", "http/1.1"], echo_app()).await;
    let target = format!("https://localhost:{}/users", tls.port());
    // A plain-http API that moved to https (its redirect passes the CORS check).
    let moved = Router::new().fallback(move || {
        let target = target.clone();
        async move {
            (
                StatusCode::MOVED_PERMANENTLY,
                [
                    ("location", target),
                    ("access-control-allow-origin", "*".to_owned()),
                ],
            )
        }
    });
    let plain = serve(moved).await;
    let url = format!("http://127.0.0.1:{}/users", plain.port());
    let (code, json) = doctor(&[
        &url,
        "--origin",
        "http://127.0.0.1:5000",
        "--cacert",
        pki.ca_pem.to_str().unwrap(),
    ]);
    assert_eq!(
        (code, json["verdict"].as_str()),
        (0, Some("allowed")),
        "{json:#}"
    );
    let exchanges = json["exchanges"].as_array().unwrap();
    assert_eq!(exchanges.len(), 2, "{json:#}");
    assert_eq!(exchanges[0]["step"], "redirect");
    assert_eq!(
        exchanges[1]["request"]["url"],
        format!("https://localhost:{}/users", tls.port())
    );
    // A cross-origin hop: the browser sends `Origin: null` from then on.
    let sent = exchanges[1]["request"]["headers"].to_string();
    assert!(sent.contains(r#"["Origin","null"]"#), "{sent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_pass_through_to_an_https_upstream() {
    use axum::extract::ws::{Message, WebSocketUpgrade};
    let pki = Pki::new("wss-upstream");
    let leaf = pki.issue("upstream", &["localhost"], false);
    let app = Router::new().route(
        "/ws",
        axum::routing::get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(Message::Text(text))) = socket.recv().await {
                    let reply = Message::Text(format!("echo over tls: {text}").into());
                    if socket.send(reply).await.is_err() {
                        break;
                    }
                }
            })
        }),
    );
    // HTTP/2 offered too: the upgrade must still go over HTTP/1.1.
    let addr = serve_tls(&leaf, &["h2", "http/1.1"], app).await;
    let upstream = format!("https://localhost:{}", addr.port());
    let proxy = Proxy::start(&[
        "--upstream",
        &upstream,
        "--cacert",
        pki.ca_pem.to_str().unwrap(),
        "--allow-origin",
        "http://127.0.0.1:5000",
    ]);
    let (status, reply) = crate::support::websocket_hello(&proxy).await;
    assert_eq!(status, 101);
    assert_eq!(reply, "echo over tls: hello");

    // Without the CA, the upgrade is refused with the TLS error named.
    // (A short header timeout closes the kept-alive connection, which
    // raw_http reads to the end.)
    let proxy = Proxy::start(&["--upstream", &upstream, "--header-timeout", "0.5"]);
    let response = corsgate_testkit::raw_http(
        proxy.addr,
        "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await;
    assert_eq!(response.status, 502, "{response:?}");
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(
        body["tls_error"], "net::ERR_CERT_AUTHORITY_INVALID",
        "{body}"
    );
}

/// The README's certificate for the seeds' story on https, made with its
/// `openssl` command as written, works with the proxy and doctor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_openssl_certificate_serves_the_story_on_https() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let joined = readme.replace("\\\n", " ");
    let command = joined
        .lines()
        .find(|l| l.starts_with("openssl req -x509"))
        .expect("the README's openssl command");
    let dir = crate::support::TempDir::new("readme-openssl");
    let made = tokio::task::block_in_place(|| {
        Command::new("sh")
            .args(["-ec", command])
            .current_dir(dir.path())
            .output()
            .expect("sh")
    });
    assert!(
        made.status.success(),
        "{command}\n{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let upstream = serve(echo_app()).await;
    let proxy = Proxy::start(&[
        "--upstream",
        &format!("http://{upstream}"),
        "--tls-cert",
        dir.path().join("localhost.pem").to_str().unwrap(),
        "--tls-key",
        dir.path().join("localhost-key.pem").to_str().unwrap(),
        "--allow-origin",
        "https://localhost:5173",
    ]);
    let url = format!("https://localhost:{}/api/users", proxy.addr.port());
    let cacert = dir.path().join("localhost.pem");
    let (code, json) = doctor(&[
        &url,
        "--origin",
        "https://localhost:5173",
        "--cacert",
        cacert.to_str().unwrap(),
    ]);
    assert_eq!(
        (code, json["verdict"].as_str()),
        (0, Some("allowed")),
        "{json:#}"
    );
}
