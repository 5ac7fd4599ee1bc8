//! `corsgate proxy` under hostile clients and broken upstreams (issue #11):
//! real processes on loopback, every loop bounded in count and time. Each
//! test checks that other clients keep being served, that the status says
//! what happened, and, where sockets pile up, that descriptors are given
//! back.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{Proxy, TempDir};

const ORIGIN: &str = "http://127.0.0.1:5000";

/// A raw HTTP/1.1 upstream that misbehaves on purpose, by path. Runs until
/// dropped (its accept loop is woken by a last connection).
struct RawUpstream {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Connections accepted, and open now.
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl RawUpstream {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (flag, counted, opened) = (Arc::clone(&stop), Arc::clone(&accepted), Arc::clone(&open));
        thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                opened.fetch_add(1, Ordering::SeqCst);
                let (flag, opened) = (Arc::clone(&flag), Arc::clone(&opened));
                thread::spawn(move || {
                    serve_raw(stream, &flag);
                    opened.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            stop,
            accepted,
            open,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads one request head; the path and the declared body length.
fn read_head(stream: &mut TcpStream) -> Option<(String, usize)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) if head.len() > 64 * 1024 => return None,
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let path = text.split(' ').nth(1)?.to_owned();
    Some((path, content_length(&text)))
}

/// A message head's `Content-Length`, 0 without one.
fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0)
}

fn serve_raw(mut stream: TcpStream, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
    let mut served = 0;
    while let Some((path, length)) = read_head(&mut stream) {
        let mut body = vec![0u8; length];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        served += 1;
        let reply: Vec<u8> = match path.as_str() {
            "/ok" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            // Answered on a new connection; on a kept one the upstream
            // closes it instead, as if its keep-alive timeout ran out just
            // as the request came.
            "/ok-once" if served > 1 => return,
            "/ok-once" => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            // Kept alive, then closed by the upstream while idle.
            "/ok-then-close" => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                thread::sleep(Duration::from_millis(100));
                return;
            }
            // Each request then needs a new upstream connection.
            "/ok-close" => {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                return;
            }
            "/upload" => {
                let sum = body.iter().fold(0u64, |s, b| s.wrapping_add(u64::from(*b)));
                let text = format!("{} {sum}", body.len());
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                )
                .into_bytes()
            }
            "/refuse-upgrade" => b"HTTP/1.1 400 Bad Request\r\nAccess-Control-Allow-Origin: *\r\n\
                Access-Control-Allow-Credentials: true\r\nContent-Length: 2\r\n\r\nno"
                .to_vec(),
            "/hang" => {
                while !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(50));
                }
                return;
            }
            "/reset" => {
                let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".to_vec();
                reply.extend(vec![b'x'; 1000]);
                let _ = stream.write_all(&reply);
                return;
            }
            "/garbage" => b"NOT HTTP AT ALL\r\n\r\n".to_vec(),
            "/huge-header" => {
                let mut reply = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
                reply.extend(vec![b'a'; 1024 * 1024]);
                reply.extend(b"\r\nContent-Length: 0\r\n\r\n");
                reply
            }
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if stream.write_all(&reply).is_err() {
            return;
        }
    }
}

/// Sends raw bytes, then reads until the server closes or `limit` passes:
/// (what was read, whether the server closed).
fn exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    read_until_closed(&mut stream, limit)
}

fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = stream.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        match stream.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true);
            }
            // Interrupted: a signal meant for another thread of this test
            // process ends a read that has a timeout with EINTR, even under
            // SA_RESTART (signal(7)); it is not the proxy's doing.
            Err(e) if is_transient(&e) => {}
            Err(e) => panic!("reading the proxy's reply: {e}"),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), false)
}

/// A read error that is no answer: the read timed out (the caller's
/// deadline decides) or a signal interrupted it.
fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
    matches!(e.kind(), Interrupted | TimedOut | WouldBlock)
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

/// A well-behaved client's request: its status line, within `limit`.
fn served_within(proxy: &Proxy, limit: Duration) -> String {
    served_within_at(proxy, "/ok", limit)
}

fn served_within_at(proxy: &Proxy, path: &str, limit: Duration) -> String {
    let start = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr).expect("connect");
    stream.write_all(&get(path)).unwrap();
    let (reply, _) = read_until_closed(&mut stream, limit);
    let status = reply.lines().next().unwrap_or("").to_owned();
    assert!(
        start.elapsed() <= limit,
        "served after {:?}: {status}",
        start.elapsed()
    );
    status
}

fn proxy_for(up: &RawUpstream, extra: &[&str]) -> Proxy {
    let upstream = up.url();
    let mut args = vec!["--upstream", &upstream, "--allow-origin", ORIGIN];
    args.extend_from_slice(extra);
    Proxy::start(&args)
}

#[test]
fn issue_11_an_idle_socket_is_closed_after_the_header_timeout() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &["--header-timeout", "1"]);
    let start = Instant::now();
    let (_, closed) = exchange(proxy.addr, b"", Duration::from_secs(5));
    assert!(closed, "an idle socket is still open after 5 s");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
}

#[test]
fn issue_11_a_slowloris_client_is_cut_off() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &["--header-timeout", "1"]);
    let mut stream = TcpStream::connect(proxy.addr).unwrap();
    let start = Instant::now();
    let request = get("/ok");
    let mut closed_at = None;
    // One header byte every 100 ms: the whole head would take 8 s.
    for byte in &request {
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            closed_at = Some(start.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(100));
        if start.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    let closed_at = closed_at.unwrap_or_else(|| {
        let (reply, closed) = read_until_closed(&mut stream, Duration::from_secs(1));
        assert!(closed, "still open after 4 s of slow headers: {reply}");
        start.elapsed()
    });
    assert!(closed_at < Duration::from_secs(5), "{closed_at:?}");
}

#[test]
fn issue_11_a_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &["--idle-timeout", "1"]);
    let mut stream = TcpStream::connect(proxy.addr).unwrap();
    stream
        .write_all(format!("GET /ok HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\n\r\n").as_bytes())
        .unwrap();
    let (reply, closed) = read_until_closed(&mut stream, Duration::from_secs(4));
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(
        closed,
        "the idle keep-alive connection is still open after 4 s"
    );
}

// Issue #11: under a 256-descriptor limit, 300 idle sockets locked every
// real client out, with 20 "accept failed" lines a second. Then (CI, stop
// 20) one request in four right after such a burst got a 502: the proxy
// accepted the queued idle sockets faster than the evicted ones closed, so
// the real client's upstream connection found no descriptor. Five bursts,
// each request on a new upstream connection.
#[test]
fn issue_11_idle_sockets_cannot_lock_out_a_real_client() {
    let up = RawUpstream::start();
    let upstream = up.url();
    let proxy = Proxy::start_under(
        Some("-n 256"),
        &["--upstream", &upstream, "--allow-origin", ORIGIN],
    );
    for burst in 0..5 {
        let idle: Vec<TcpStream> = (0..300)
            .filter_map(|_| TcpStream::connect_timeout(&proxy.addr, Duration::from_secs(1)).ok())
            .collect();
        assert!(idle.len() >= 250, "only {} connected", idle.len());
        for request in 0..3 {
            assert_eq!(
                served_within_at(&proxy, "/ok-close", Duration::from_secs(1)),
                "HTTP/1.1 200 OK",
                "burst {burst}, request {request}: {}",
                proxy.stderr()
            );
        }
        drop(idle);
    }
    thread::sleep(Duration::from_millis(500));
    let floods = proxy.stderr().matches("accept failed").count();
    assert!(floods <= 2, "{floods} accept-failure lines");
}

// Issue #11: 10,000 idle sockets with a 1,024 soft limit must not keep a
// normal client from being served within 1 s; descriptors come back.
#[test]
fn issue_11_ten_thousand_idle_sockets_under_a_1024_soft_limit() {
    // This test's own side needs 10,000 descriptors too.
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    let ours = rlimit::increase_nofile_limit(hard).unwrap();
    assert!(
        ours >= 10_500,
        "the hard open-file limit ({hard}) is too low for this test; raise it (`ulimit -Hn 20000`)"
    );
    let _ = soft;
    let up = RawUpstream::start();
    let upstream = up.url();
    let proxy = Proxy::start_under(
        Some("-Sn 1024"),
        &[
            "--upstream",
            &upstream,
            "--allow-origin",
            ORIGIN,
            "--header-timeout",
            "3",
        ],
    );
    assert_eq!(
        served_within(&proxy, Duration::from_secs(1)),
        "HTTP/1.1 200 OK"
    );
    let (fds_before, rss_before) = proxy.fds_and_rss();
    let start = Instant::now();
    let mut idle = Vec::with_capacity(10_000);
    while idle.len() < 10_000 && start.elapsed() < Duration::from_secs(20) {
        if let Ok(s) = TcpStream::connect_timeout(&proxy.addr, Duration::from_secs(1)) {
            idle.push(s);
        }
    }
    assert_eq!(idle.len(), 10_000, "connected in {:?}", start.elapsed());
    for _ in 0..3 {
        assert_eq!(
            served_within(&proxy, Duration::from_secs(1)),
            "HTTP/1.1 200 OK"
        );
    }
    let (fds_peak, rss_peak) = proxy.fds_and_rss();
    // The header timeout closes them all; the descriptors come back.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut fds_after = fds_peak;
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(200));
        fds_after = proxy.fds_and_rss().0;
        if fds_after <= fds_before + 2 {
            break;
        }
    }
    drop(idle);
    let (_, rss_after) = proxy.fds_and_rss();
    eprintln!(
        "10,000 idle sockets: fds {fds_before} → {fds_peak} → {fds_after}; RSS {rss_before} → {rss_peak} → {rss_after} KiB"
    );
    assert!(
        fds_after <= fds_before + 2,
        "{fds_after} descriptors left open (was {fds_before})"
    );
    assert!(
        rss_peak < rss_before + 200 * 1024,
        "RSS grew to {rss_peak} KiB"
    );
}

// Issue #11: `--timeout 1` answered a 1.5 MiB upload sent over 3 s with
// `504 upstream_timeout`, blaming a healthy upstream.
#[test]
fn issue_11_the_upstream_timeout_starts_after_the_upload() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &["--timeout", "1"]);
    // 30 chunks of 52,429 bytes: 1.5 MiB, sent over 3 s.
    let total = 30 * 52_429;
    let mut stream = TcpStream::connect(proxy.addr).unwrap();
    stream
        .write_all(
            format!("POST /upload HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let chunk: Vec<u8> = (0..52_429).map(|i| (i % 251) as u8).collect();
    let mut expected_sum = 0u64;
    for _ in 0..30 {
        stream.write_all(&chunk).unwrap();
        expected_sum = chunk
            .iter()
            .fold(expected_sum, |s, b| s.wrapping_add(u64::from(*b)));
        thread::sleep(Duration::from_millis(100));
    }
    let (reply, _) = read_until_closed(&mut stream, Duration::from_secs(10));
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "{reply}\n{}",
        proxy.stderr()
    );
    assert!(
        reply.ends_with(&format!("{total} {expected_sum}")),
        "{reply}"
    );
}

#[test]
fn issue_11_a_stalled_upload_is_408_with_cors_headers() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &["--body-timeout", "1"]);
    let mut stream = TcpStream::connect(proxy.addr).unwrap();
    stream
        .write_all(format!("POST /upload HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nContent-Length: 1000\r\n\r\n0123456789").as_bytes())
        .unwrap();
    let (reply, _) = read_until_closed(&mut stream, Duration::from_secs(5));
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("\"body_timeout\""), "{reply}");
    assert!(
        reply
            .to_ascii_lowercase()
            .contains(&format!("access-control-allow-origin: {ORIGIN}")),
        "{reply}"
    );
}

// Issue #11: the client's malformed chunked body was answered `502 upstream_error`.
#[test]
fn issue_11_a_malformed_chunked_body_is_the_clients_fault() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &[]);
    // To an upstream that never answers: had it answered first (this one
    // reads no chunked body), that answer would be the right reply.
    let request = format!(
        "POST /hang HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\n"
    );
    let (reply, _) = exchange(proxy.addr, request.as_bytes(), Duration::from_secs(5));
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("\"bad_request_body\""), "{reply}");
}

// Issue #11: an upstream's non-101 answer to an Upgrade reached the client
// with the upstream's `*` and credentials.
#[test]
fn issue_11_a_refused_upgrade_gets_the_policys_cors_headers() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &[]);
    for (origin, allowed) in [(ORIGIN, true), ("https://evil.example", false)] {
        let request = format!(
            "GET /refuse-upgrade HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        let (reply, _) = exchange(proxy.addr, request.as_bytes(), Duration::from_secs(3));
        let lower = reply.to_ascii_lowercase();
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
        assert!(!lower.contains("access-control-allow-origin: *"), "{reply}");
        assert!(
            !lower.contains("access-control-allow-credentials"),
            "{reply}"
        );
        assert!(lower.contains("vary: origin"), "{reply}");
        assert_eq!(
            lower.contains(&format!("access-control-allow-origin: {origin}")),
            allowed,
            "{reply}"
        );
    }
}

#[test]
fn issue_11_broken_upstreams_get_clear_statuses_and_others_keep_being_served() {
    let up = RawUpstream::start();
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let good = format!("/ok={}", up.url());
    let broken = up.url();
    let refused = format!("/refused=http://{closed_port}");
    let proxy = Proxy::start(&[
        "--upstream",
        &broken,
        "--upstream",
        &good,
        "--upstream",
        &refused,
        "--allow-origin",
        ORIGIN,
        "--timeout",
        "1",
    ]);
    let cases = [
        ("/hang", "HTTP/1.1 504", "upstream_timeout"),
        ("/garbage", "HTTP/1.1 502", "upstream_error"),
        ("/huge-header", "HTTP/1.1 502", "upstream_error"),
        ("/refused/x", "HTTP/1.1 502", "upstream_unreachable"),
    ];
    let (fds_before, _) = proxy.fds_and_rss();
    for round in 0..3 {
        for (path, status, kind) in cases {
            let start = Instant::now();
            let (reply, closed) = exchange(proxy.addr, &get(path), Duration::from_secs(5));
            assert!(
                reply.starts_with(status),
                "round {round} {path} (closed: {closed}, after {:?}): {reply}\nproxy's log:\n{}",
                start.elapsed(),
                proxy.stderr()
            );
            assert!(reply.contains(kind), "round {round} {path}: {reply}");
            assert!(
                reply.contains(&format!("access-control-allow-origin: {ORIGIN}")),
                "{path}: {reply}"
            );
            assert_eq!(
                served_within(&proxy, Duration::from_secs(1)),
                "HTTP/1.1 200 OK"
            );
        }
        // Reset mid-body: the status was sent; the body is cut short.
        let (reply, closed) = exchange(proxy.addr, &get("/reset"), Duration::from_secs(5));
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(closed && reply.len() < 1_000_000, "{} bytes", reply.len());
    }
    thread::sleep(Duration::from_millis(300));
    let (fds_after, _) = proxy.fds_and_rss();
    assert!(
        fds_after <= fds_before + 4,
        "descriptors {fds_before} → {fds_after}"
    );
}

#[test]
fn issue_11_clients_that_hang_up_mid_upload_leak_nothing() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &[]);
    assert_eq!(
        served_within(&proxy, Duration::from_secs(1)),
        "HTTP/1.1 200 OK"
    );
    let (fds_before, rss_before) = proxy.fds_and_rss();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(proxy.addr).unwrap();
        let _ = stream.write_all(
            format!("POST /upload HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nContent-Length: 100000\r\n\r\n")
                .as_bytes(),
        );
        let _ = stream.write_all(&[b'x'; 50_000]);
        let _ = stream.shutdown(Shutdown::Both);
    }
    assert_eq!(
        served_within(&proxy, Duration::from_secs(1)),
        "HTTP/1.1 200 OK"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now = proxy.fds_and_rss();
    while now.0 > fds_before + 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        now = proxy.fds_and_rss();
    }
    assert!(
        now.0 <= fds_before + 2,
        "descriptors {fds_before} → {}",
        now.0
    );
    assert!(
        now.1 < rss_before + 20 * 1024,
        "RSS {rss_before} → {} KiB",
        now.1
    );
}

fn allowed(proxy: &Proxy, origin: &str) -> Option<bool> {
    let request =
        format!("GET /ok HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n");
    let (reply, _) = exchange(proxy.addr, request.as_bytes(), Duration::from_secs(3));
    if !reply.starts_with("HTTP/1.1 200") {
        return None;
    }
    Some(
        reply
            .to_ascii_lowercase()
            .contains(&format!("access-control-allow-origin: {origin}")),
    )
}

// Issue #11: `cat > file` truncates before it writes; the reload in between
// loaded the empty file as the allow-nothing policy.
#[test]
fn issue_11_a_file_being_rewritten_in_place_is_not_loaded_half_written() {
    let up = RawUpstream::start();
    let dir = TempDir::new("rewrite");
    let a = "allowed_origins = [\"http://a.example\"]\n";
    let file = dir.write("cors.toml", a);
    let upstream = up.url();
    let proxy = Proxy::start(&[
        "--upstream",
        &upstream,
        "--config",
        file.to_str().unwrap(),
        "--reload-interval",
        "0.05",
    ]);
    assert_eq!(allowed(&proxy, "http://a.example"), Some(true));
    // Truncated, and left empty for a second (a slow writer).
    std::fs::write(&file, "").unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        assert_eq!(
            allowed(&proxy, "http://a.example"),
            Some(true),
            "during the rewrite"
        );
        thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(&file, "allowed_origins = [\"http://b.example\"]\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while allowed(&proxy, "http://b.example") != Some(true) {
        assert!(
            Instant::now() < deadline,
            "not reloaded: {}",
            proxy.stderr()
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        proxy.stderr().contains("the file is empty"),
        "{}",
        proxy.stderr()
    );
}

// Issue #11: SIGHUP killed a proxy started without `--config`.
#[test]
fn issue_11_sighup_without_a_config_is_logged_not_fatal() {
    let up = RawUpstream::start();
    let mut proxy = proxy_for(&up, &[]);
    proxy.signal("HUP");
    assert_eq!(
        proxy.wait_exit(Duration::from_millis(500)),
        None,
        "the proxy exited"
    );
    assert_eq!(
        served_within(&proxy, Duration::from_secs(1)),
        "HTTP/1.1 200 OK"
    );
    assert!(
        proxy.stderr().contains("nothing to reload"),
        "{}",
        proxy.stderr()
    );
}

#[test]
fn issue_11_a_reload_storm_under_load_serves_one_policy_or_the_other() {
    let up = RawUpstream::start();
    let dir = TempDir::new("storm");
    let policies = [
        "allowed_origins = [\"http://a.example\"]\n",
        "allowed_origins = [\"http://b.example\"]\n",
    ];
    let file = dir.write("cors.toml", policies[0]);
    let upstream = up.url();
    let proxy = Proxy::start(&[
        "--upstream",
        &upstream,
        "--config",
        file.to_str().unwrap(),
        "--reload-interval",
        "0.02",
    ]);
    let stop = Arc::new(AtomicBool::new(false));
    let addr = proxy.addr;
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut served = 0;
                while !stop.load(Ordering::SeqCst) && served < 5_000 {
                    let request = b"GET /ok HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\nConnection: close\r\n\r\n";
                    let (reply, _) = exchange(addr, request, Duration::from_secs(3));
                    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
                    served += 1;
                }
                served
            })
        })
        .collect();
    // 40 atomic rewrites (write a temporary file, rename it over).
    for i in 0..40 {
        let tmp = dir.write("cors.toml.tmp", policies[i % 2]);
        std::fs::rename(tmp, &file).unwrap();
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let served: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(served > 20, "{served} requests served");
    assert!(proxy.stderr().contains("reloaded"), "{}", proxy.stderr());
    assert!(!proxy.stderr().contains("panicked"), "{}", proxy.stderr());
}

// Issue #11: a 4 KB file nested 2,000 levels killed a running proxy
// (SIGABRT) on reload.
#[test]
fn issue_11_a_deeply_nested_file_on_reload_keeps_the_old_policy() {
    let up = RawUpstream::start();
    let dir = TempDir::new("deep-reload");
    let file = dir.write("cors.json", "{\"allowed_origins\": [\"http://a.example\"]}");
    let upstream = up.url();
    let mut proxy = Proxy::start(&[
        "--upstream",
        &upstream,
        "--config",
        file.to_str().unwrap(),
        "--reload-interval",
        "0",
    ]);
    assert_eq!(allowed(&proxy, "http://a.example"), Some(true));
    let deep = format!(
        "{{\"allowed_origins\": {}\"http://b.example\"{}}}",
        "[".repeat(2_000),
        "]".repeat(2_000)
    );
    std::fs::write(&file, deep).unwrap();
    proxy.signal("HUP");
    assert!(
        proxy
            .stderr_once("nested more than", Duration::from_secs(5))
            .is_some(),
        "no reload error: {}",
        proxy.stderr()
    );
    assert_eq!(
        proxy.wait_exit(Duration::from_millis(100)),
        None,
        "the proxy died"
    );
    assert_eq!(
        allowed(&proxy, "http://a.example"),
        Some(true),
        "the old policy serves"
    );
}

// Issue #14: a missing --config file was reported as "the policy has errors".
#[test]
fn issue_14_a_missing_config_file_says_it_cannot_be_read() {
    let (code, stdout, stderr) = crate::support::run(&[
        "proxy",
        "--config",
        "/nonexistent/cors.toml",
        "--upstream",
        "http://127.0.0.1:9",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("cannot read `/nonexistent/cors.toml`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not started: cannot read the policy file"),
        "{stderr}"
    );
    assert!(!stderr.contains("has errors"), "{stderr}");
}

// Issue #14: `--listen localhost:8090` was "invalid socket address".
#[test]
fn issue_14_listen_accepts_a_host_name() {
    let up = RawUpstream::start();
    let upstream = up.url();
    let mut child = std::process::Command::new(crate::support::BIN)
        .args(["proxy", "--upstream", &upstream, "--listen", "localhost:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let _ = std::io::BufRead::read_line(&mut out, &mut line);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("corsgate proxy: listening on http://"),
        "{line:?}"
    );
    let addr: SocketAddr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");
}

// Issue #14: `--listen 0.0.0.0:…` gave no word that the proxy is now
// reachable from the network; 502s were logged at INFO without the reason.
#[test]
fn issue_14_a_public_listener_is_warned_about_and_502s_say_why() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let upstream = format!("http://{closed}");
    let mut child = std::process::Command::new(crate::support::BIN)
        .args([
            "proxy",
            "--upstream",
            &upstream,
            "--listen",
            "0.0.0.0:0",
            "--allow-origin",
            ORIGIN,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let _ = std::io::BufRead::read_line(&mut out, &mut line);
    let port: u16 = line.trim().rsplit(':').next().unwrap().parse().unwrap();
    // Loopback only, even though it listens on every interface.
    let local = SocketAddr::from(([127, 0, 0, 1], port));
    let (reply, _) = exchange(local, &get("/x"), Duration::from_secs(5));
    assert!(reply.starts_with("HTTP/1.1 502"), "{reply}");
    thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("reachable from the network"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("status=502"))
        .unwrap_or_else(|| panic!("no 502 line: {stderr}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("upstream_unreachable"), "{line}");
}

// Issue #14: with neither --allow-origin nor --config the proxy refused
// every origin without a hint; an old django alias beside its new name was
// ignored in silence.
#[test]
fn issue_14_a_proxy_that_allows_nothing_or_ignores_an_alias_says_so() {
    let up = RawUpstream::start();
    let upstream = up.url();
    let proxy = Proxy::start(&["--upstream", &upstream]);
    assert_eq!(
        served_within(&proxy, Duration::from_secs(2)),
        "HTTP/1.1 200 OK"
    );
    assert!(
        proxy.stderr().contains("no origin is allowed"),
        "{}",
        proxy.stderr()
    );
    drop(proxy);

    let dir = TempDir::new("alias");
    let file = dir.write(
        "settings.json",
        r#"{"CORS_ORIGIN_WHITELIST": ["http://old.example"], "CORS_ALLOWED_ORIGINS": ["http://new.example"]}"#,
    );
    let proxy = Proxy::start(&["--upstream", &upstream, "--config", file.to_str().unwrap()]);
    assert_eq!(allowed(&proxy, "http://new.example"), Some(true));
    let stderr = proxy.stderr();
    assert!(stderr.contains("CORS_ORIGIN_WHITELIST"), "{stderr}");
    assert!(!stderr.contains("no origin is allowed"), "{stderr}");
}

/// One response on a kept-alive connection: its head and `Content-Length`
/// bytes of body, read within `limit`.
fn read_response(stream: &mut TcpStream, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n")
            && body.len() >= content_length(head)
        {
            return text;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no whole response within {limit:?}: {text}"
        );
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed before a whole response: {text}"),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if is_transient(&e) => {}
            Err(e) => panic!("reading a response: {e}"),
        }
    }
}

fn keep_alive_get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\n\r\n").into_bytes()
}

/// Waits (at most `limit`) until `done` holds.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    done()
}

// Issue #13: an HTTP/1 client connection's requests share one upstream
// connection (not one per request, nor one shared by every client).
#[test]
fn issue_13_a_client_connection_keeps_one_upstream_connection() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &[]);
    let mut clients: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(proxy.addr).unwrap())
        .collect();
    for round in 0..5 {
        for client in &mut clients {
            client.write_all(&keep_alive_get("/ok")).unwrap();
            let reply = read_response(client, Duration::from_secs(5));
            assert!(reply.starts_with("HTTP/1.1 200"), "round {round}: {reply}");
            assert!(
                reply.contains(&format!("access-control-allow-origin: {ORIGIN}")),
                "{reply}"
            );
        }
    }
    assert_eq!(
        up.accepted(),
        2,
        "upstream connections for 2 clients × 5 requests"
    );
}

// Issue #13: a client connection's requests share one `--timeout` timer
// (`Pinned::within`), pushed to each request's deadline. Each request still
// gets its whole time: the first, one right after a timeout, one after the
// connection sat idle past the timeout (the timer fired meanwhile), and one
// that starts while the previous request's deadline is still ahead.
#[test]
fn issue_13_each_request_on_a_kept_connection_gets_its_whole_timeout() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &["--timeout", "0.5"]);
    let mut client = TcpStream::connect(proxy.addr).unwrap();
    let mut ask = |path: &str| {
        let start = Instant::now();
        client.write_all(&keep_alive_get(path)).unwrap();
        let reply = read_response(&mut client, Duration::from_secs(10));
        (reply, start.elapsed())
    };
    let timed_out = |(reply, took): (String, Duration), when: &str| {
        assert!(reply.starts_with("HTTP/1.1 504"), "{when}: {reply}");
        assert!(
            took >= Duration::from_millis(450),
            "{when}: timed out after {took:?}, not 0.5 s"
        );
    };
    timed_out(ask("/hang"), "the first request");
    timed_out(ask("/hang"), "right after a timeout");
    let (reply, _) = ask("/ok");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    thread::sleep(Duration::from_millis(1200));
    timed_out(ask("/hang"), "after idling past the timeout");
    let (reply, _) = ask("/ok");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    thread::sleep(Duration::from_millis(300));
    timed_out(ask("/hang"), "0.3 s after an answered request");
    assert_eq!(
        served_within(&proxy, Duration::from_secs(2)),
        "HTTP/1.1 200 OK"
    );
}

// Issue #13: a client that sends one request per connection does not cost
// a new upstream connection per request: a closed client connection's
// upstream connection is taken by the next.
#[test]
fn issue_13_a_closed_client_connection_passes_its_upstream_connection_on() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &[]);
    for _ in 0..5 {
        // `Connection: close`: the proxy closes the client connection.
        assert_eq!(
            served_within(&proxy, Duration::from_secs(5)),
            "HTTP/1.1 200 OK"
        );
        // Time for the proxy to let the closed connection go.
        thread::sleep(Duration::from_millis(100));
    }
    // One, or two if a pause above was not long enough on a busy machine;
    // a connection per request would be five.
    assert!(
        up.accepted() <= 2,
        "{} upstream connections for 5 requests on 5 client connections",
        up.accepted()
    );
}

// A kept upstream connection can be closed by the upstream (its keep-alive
// timeout) just as a request is written to it: a request without a body
// and with an idempotent method is then sent again on a new connection
// (as nginx does); any other gets its 502, since the upstream may have
// acted on it.
#[test]
fn issue_13_a_kept_connection_closed_as_the_request_came_is_retried_if_safe() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &[]);
    let mut client = TcpStream::connect(proxy.addr).unwrap();
    client.write_all(&keep_alive_get("/ok-once")).unwrap();
    let reply = read_response(&mut client, Duration::from_secs(5));
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // Idle long enough for an upstream to time the connection out.
    thread::sleep(Duration::from_millis(1200));
    client.write_all(&keep_alive_get("/ok-once")).unwrap();
    let reply = read_response(&mut client, Duration::from_secs(5));
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "a GET on a kept connection the upstream closed: {reply}\n{}",
        proxy.stderr()
    );
    assert_eq!(up.accepted(), 2, "sent again on a new connection");

    thread::sleep(Duration::from_millis(1200));
    let post = format!(
        "POST /ok-once HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nContent-Length: 2\r\n\r\nhi"
    );
    client.write_all(post.as_bytes()).unwrap();
    let reply = read_response(&mut client, Duration::from_secs(5));
    assert!(
        reply.starts_with("HTTP/1.1 502"),
        "a POST is not sent twice: {reply}\n{}",
        proxy.stderr()
    );
    assert_eq!(up.accepted(), 2);
}

// Issue #13: a kept upstream connection the upstream closed while idle is
// replaced: the client's next request is answered, not a 502.
#[test]
fn issue_13_an_upstream_connection_closed_while_idle_is_replaced() {
    let up = RawUpstream::start();
    let proxy = proxy_for(&up, &[]);
    let mut client = TcpStream::connect(proxy.addr).unwrap();
    for round in 0..3 {
        client.write_all(&keep_alive_get("/ok-then-close")).unwrap();
        let reply = read_response(&mut client, Duration::from_secs(5));
        assert!(
            reply.starts_with("HTTP/1.1 200"),
            "round {round}: {reply}\n{}",
            proxy.stderr()
        );
        // The upstream closes its side meanwhile.
        assert!(eventually(Duration::from_secs(5), || up.open() == 0));
    }
    assert_eq!(up.accepted(), 3);
}
