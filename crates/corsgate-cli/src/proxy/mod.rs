//! `corsgate proxy`: a reverse proxy that owns CORS for an unmodified
//! back-end. Preflights are answered here; every other request is streamed
//! to the upstream and its response streamed back with the upstream's own
//! CORS headers replaced by the policy's. Upstream failures answer 502/504
//! *with* CORS headers, so the browser shows the real error.

mod body;
mod conns;
pub(crate) mod flags;
mod log;
mod metrics;
mod pinned;
mod upstream;
mod workers;

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corsgate::tower::{Cors, CorsLayer};
use corsgate::{Config, ConfigErrorKind, Policy, PolicyHandle};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};
use tracing::{debug, error, info, warn};

use self::body::{ClientBodyProblem, Guarded, UploadBody, client_body_problem};
use self::conns::{AcceptBackoff, Conn, Serving, Tracker};
use self::flags::PolicyFlags;
use self::pinned::{Pinned, SendError, TimedOut};
use self::upstream::{Upstreams, is_upgrade, strip_hop_by_hop};
use self::workers::Workers;
use crate::cli::ProxyArgs;
use crate::exit;
use crate::tls;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Body = BoxBody<Bytes, BoxError>;

/// A connection's byte stream: plain TCP, or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// What every request handler shares.
struct Shared {
    upstreams: Upstreams,
    /// https upstreams (HTTP/2 by ALPN where offered), and any upstream
    /// for an HTTP/2 client: pooled.
    client: Client<tls::Connector, Body>,
    /// Connections to plain-http upstreams for HTTP/1 clients, each kept
    /// by its client connection ([`Pinned`]).
    connector: HttpConnector,
    /// TLS for a forwarded upgrade (WebSocket): HTTP/1.1 only.
    upgrade_tls: tokio_rustls::TlsConnector,
    /// The proxy itself serves https (`X-Forwarded-Proto`).
    listen_tls: bool,
    connect_timeout: Duration,
    timeout: Duration,
    body_timeout: Duration,
    max_body: u64,
    preserve_host: bool,
}

pub(crate) fn run(args: ProxyArgs) -> ExitCode {
    let _flush_logs_on_exit = init_logging();
    let upstreams = match Upstreams::parse(&args.upstream) {
        Ok(upstreams) => upstreams,
        Err(errors) => {
            for e in errors {
                eprintln!("error: {e}");
            }
            return exit::code(exit::ERRORS);
        }
    };
    // Read once: a reload applies the same variables again.
    let env = Config::env_vars();
    let policy = match initial_policy(&PolicySource::of_proxy(&args), &env) {
        Ok(policy) => policy,
        Err((report, summary)) => {
            eprintln!("{report}");
            eprintln!("corsgate proxy: not started: {summary}");
            return exit::code(exit::ERRORS);
        }
    };
    let durations = [
        ("--connect-timeout", args.connect_timeout),
        ("--timeout", args.timeout),
        ("--reload-interval", args.reload_interval),
        ("--shutdown-grace", args.shutdown_grace),
        ("--header-timeout", args.header_timeout),
        ("--idle-timeout", args.idle_timeout),
        ("--body-timeout", args.body_timeout),
    ];
    for (flag, value) in durations {
        if !(value.is_finite() && (0.0..=86_400.0).contains(&value)) {
            eprintln!("error: `{flag} {value}`: expected a number of seconds from 0 to 86400");
            return exit::code(exit::ERRORS);
        }
    }
    for (flag, value) in [
        ("--header-timeout", args.header_timeout),
        ("--idle-timeout", args.idle_timeout),
        ("--body-timeout", args.body_timeout),
    ] {
        if value < 0.1 {
            eprintln!(
                "error: `{flag} {value}`: at least 0.1 seconds\n  help: a client must have time to send a request; raise it for slow links"
            );
            return exit::code(exit::ERRORS);
        }
    }
    let cert = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match tls::ServerCert::load(cert, key) {
            Ok(cert) => Some(cert),
            Err(e) => {
                eprintln!("error: {e}");
                eprintln!("corsgate proxy: not started: the TLS certificate cannot be used");
                return exit::code(exit::ERRORS);
            }
        },
        _ => None,
    };
    let upstream_tls = match (tls::ClientOptions {
        cacert: args.cacert.clone(),
        insecure: false,
    })
    .build()
    {
        Ok(client) => client,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::code(exit::ERRORS);
        }
    };
    if upstreams.iter().any(|u| u.tls) {
        for warning in &upstream_tls.warnings {
            eprintln!("warning: {warning}");
        }
    }
    // The main thread's runtime: signals, reloads, metrics; with one
    // serving thread it accepts and serves too (`workers.rs`).
    match crate::rt::runtime(true) {
        Ok(runtime) => runtime.block_on(serve(
            args,
            policy,
            upstreams,
            cert,
            upstream_tls.config,
            env,
        )),
        Err(code) => code,
    }
}

/// Logs to stderr in batches (`log.rs`): a request's log line is copied
/// into memory, never written on the request's path (a write per line, or
/// a wake-up of a writer thread per line, cost a tenth of the throughput
/// and more: docs/benchmarks.md). Nothing is dropped. The guard writes
/// what is left when the proxy stops; keep it until then.
fn init_logging() -> Option<log::Flush> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("corsgate=info"));
    let (writer, flush) = match log::batched(std::io::stderr(), log::Limits::DEFAULT) {
        Ok(batched) => batched,
        Err(e) => {
            eprintln!("warning: no log: cannot start its writer thread: {e}");
            return None;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone())
        .event_format(log::LineFormat)
        .try_init()
        .ok()
        .map(|()| {
            log::set_access_writer(writer);
            flush
        })
}

/// The policy from `--config` or the flags; else the report and a one-line
/// summary that tells an unreadable file from one with errors.
fn initial_policy(
    source: &PolicySource<'_>,
    env: &[(String, String)],
) -> Result<Policy, (String, &'static str)> {
    audited_config(source, env)?
        .compile()
        .map_err(|e| (e.to_string(), "the policy has errors"))
}

/// Where a policy comes from, for `proxy` and `export`: `--config` (or
/// django-cors-headers' defaults), the `CORS_*` environment variables,
/// the policy flags, and the high-risk findings accepted.
pub(crate) struct PolicySource<'a> {
    pub(crate) config: Option<&'a Path>,
    pub(crate) flags: PolicyFlags,
    pub(crate) accept_risk: &'a [String],
    /// The command, as messages name it (`corsgate proxy`).
    pub(crate) command: &'static str,
}

impl<'a> PolicySource<'a> {
    fn of_proxy(args: &'a ProxyArgs) -> Self {
        Self {
            config: args.policy.config.as_deref(),
            flags: PolicyFlags::from_args(&args.policy),
            accept_risk: &args.policy.accept_risk,
            command: "corsgate proxy",
        }
    }
}

/// The configuration from `source`, audited: a high-risk finding not
/// accepted refuses it; the others are printed as warnings. Valid (it
/// compiles) when it is returned.
pub(crate) fn audited_config(
    source: &PolicySource<'_>,
    env: &[(String, String)],
) -> Result<Config, (String, &'static str)> {
    let config = initial_config(source, env)?;
    let audit = Audit::of(&config, source.accept_risk);
    if !audit.refused.is_empty() {
        return Err((audit.refusal(), "the policy has high-risk findings"));
    }
    for line in audit.logged {
        eprintln!("warning: {line}");
    }
    for code in audit.accepted_nothing {
        eprintln!(
            "warning: `--accept-risk {code}`: the policy has no high-risk finding `{code}`, so it accepts nothing"
        );
    }
    config
        .compile()
        .map_err(|e| (e.to_string(), "the policy has errors"))?;
    Ok(config)
}

/// The audit of a policy about to be served: the high-risk findings not
/// accepted with `--accept-risk` refuse it; the others are logged.
struct Audit {
    refused: Vec<corsgate::audit::Finding>,
    logged: Vec<String>,
    accepted_nothing: Vec<String>,
}

impl Audit {
    fn of(config: &Config, accepted: &[String]) -> Self {
        let mut audit = Self {
            refused: Vec::new(),
            logged: Vec::new(),
            accepted_nothing: Vec::new(),
        };
        let mut used = Vec::new();
        for finding in corsgate::audit::audit(config) {
            let high = finding.severity() == corsgate::audit::Severity::High;
            if high && !accepted.iter().any(|code| code == finding.code()) {
                audit.refused.push(finding);
            } else if finding.severity() > corsgate::audit::Severity::Info {
                if high {
                    used.push(finding.code());
                    audit.logged.push(format!(
                        "{finding}\n  (accepted with `--accept-risk {}`)",
                        finding.code()
                    ));
                } else {
                    audit.logged.push(finding.to_string());
                }
            }
        }
        audit.accepted_nothing = accepted
            .iter()
            .filter(|code| !used.contains(&code.as_str()))
            .cloned()
            .collect();
        audit
    }

    /// The refused findings, and how to serve the policy anyway.
    fn refusal(&self) -> String {
        let mut text = String::new();
        for finding in &self.refused {
            text.push_str(&format!("{finding}\n\n"));
        }
        let mut codes: Vec<&str> = Vec::new();
        for finding in &self.refused {
            if !codes.contains(&finding.code()) {
                codes.push(finding.code());
            }
        }
        let flags: Vec<String> = codes.iter().map(|c| format!("--accept-risk {c}")).collect();
        text.push_str(&format!(
            "help: fix the policy (`corsgate check` explains each finding), or serve it anyway with `{}`",
            flags.join(" ")
        ));
        text
    }
}

/// The configuration from `--config` (or django-cors-headers' defaults),
/// then the `CORS_*` environment variables, then the flags: each layer
/// checked on its own, each replacing (or, for the list flags, adding to)
/// the one below.
fn initial_config(
    source: &PolicySource<'_>,
    env: &[(String, String)],
) -> Result<Config, (String, &'static str)> {
    let flags = &source.flags;
    flags
        .check()
        .map_err(|text| (text, "the policy has errors"))?;
    let mut config = match source.config {
        // (An old django alias ignored beside its new name is one of the
        // audit's findings, logged with the others.)
        Some(path) => Config::from_file(path).map_err(|e| {
            let unreadable = e.iter().all(|e| {
                matches!(
                    e.kind(),
                    ConfigErrorKind::Io | ConfigErrorKind::UnknownFormat
                ) || (e.kind() == ConfigErrorKind::TooLarge && e.key().is_empty())
            });
            let summary = if unreadable {
                "cannot read the policy file"
            } else {
                "the policy has errors"
            };
            (e.to_string(), summary)
        })?,
        None => Config::default(),
    };
    let applied = config
        .apply_env_vars(env.iter().map(|(k, v)| (k, v)))
        .map_err(|e| {
            (
                e.to_string(),
                "the CORS_* environment variables have errors",
            )
        })?;
    if !applied.is_empty() {
        eprintln!(
            "{}: from the environment: {} (replacing {})",
            source.command,
            applied.join(", "),
            if source.config.is_some() {
                "the file's settings"
            } else {
                "the defaults"
            }
        );
    }
    if source.config.is_none()
        && !flags.has_origins()
        && config.allowed_origins.is_empty()
        && config.allowed_origin_regexes.is_empty()
        && !config.allow_all_origins
    {
        eprintln!(
            "warning: no origin is allowed: every cross-origin request will be refused\n  help: pass `--allow-origin http://127.0.0.1:5000` (the page's origin), set `CORS_ALLOWED_ORIGINS`, or give `--config FILE`"
        );
    }
    flags.apply(&mut config);
    // The flags were valid alone and the file was valid; `initial_policy`
    // compiles the sum (once) after the audit.
    Ok(config)
}

async fn serve(
    args: ProxyArgs,
    policy: Policy,
    upstreams: Upstreams,
    cert: Option<Arc<tls::ServerCert>>,
    upstream_tls: rustls::ClientConfig,
    env: Vec<(String, String)>,
) -> ExitCode {
    let acceptor = match cert
        .as_ref()
        .map(tls::ServerCert::server_config)
        .transpose()
    {
        Ok(config) => config.map(|c| tokio_rustls::TlsAcceptor::from(Arc::new(c))),
        Err(e) => {
            eprintln!("error: {e}");
            return exit::code(exit::ERRORS);
        }
    };
    let threads = crate::rt::workers(args.workers);
    let listeners = match workers::listen(args.listen, threads) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return exit::code(exit::ERRORS);
        }
    };
    let local = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .unwrap_or(args.listen);
    if !local.ip().is_loopback() {
        warn!(
            "listening on {local}: reachable from the network, not only from this machine; every page any user opens can reach the upstream through it (use 127.0.0.1 for development)"
        );
    }
    let fd_limit = conns::raise_fd_limit();
    let max_connections = args.max_connections.map_or_else(
        || conns::default_max_connections(fd_limit, threads),
        |n| usize::try_from(n).unwrap_or(usize::MAX),
    );
    let tracker = Tracker::new(
        max_connections,
        Duration::from_secs_f64(args.header_timeout),
        Duration::from_secs_f64(args.idle_timeout),
    );
    tokio::spawn(Arc::clone(&tracker).sweep());
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs_f64(args.connect_timeout)));
    connector.set_nodelay(true);
    let mut upgrade_tls = upstream_tls.clone();
    upgrade_tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(tls::connector(connector.clone(), upstream_tls, true));
    // The library's tower layer decides every request: the proxy has no
    // CORS logic of its own. It replaces the upstream's CORS headers and
    // hands its decision over for the log line (`Cors::call_decided`).
    let cors = CorsLayer::with_handle(PolicyHandle::new(policy)).replacing_app_headers();
    let shared = Arc::new(Shared {
        upstreams,
        client,
        connector,
        upgrade_tls: tokio_rustls::TlsConnector::from(Arc::new(upgrade_tls)),
        listen_tls: acceptor.is_some(),
        connect_timeout: Duration::from_secs_f64(args.connect_timeout),
        timeout: Duration::from_secs_f64(args.timeout),
        body_timeout: Duration::from_secs_f64(args.body_timeout),
        max_body: args.max_body,
        preserve_host: args.preserve_host,
    });
    let workers = match Workers::start(threads) {
        Ok(workers) => Arc::new(workers),
        Err(e) => {
            eprintln!("error: cannot start the serving threads (--workers): {e}");
            return exit::code(exit::ERRORS);
        }
    };
    debug!("serving on {} thread(s)", workers.len());
    // Before the "listening" line: SIGHUP's default action would stop the
    // proxy, even without --config.
    let hup = hangup_signal();
    // Tests and scripts read this line to learn the port.
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    crate::exit::print(&format!(
        "corsgate proxy: listening on {scheme}://{local}\n"
    ));
    if let Some(addr) = args.metrics_listen {
        match TcpListener::bind(addr).await {
            Ok(metrics) => {
                let at = metrics.local_addr().unwrap_or(addr);
                crate::exit::print(&format!("corsgate proxy: metrics on http://{at}/metrics\n"));
                tokio::spawn(metrics::serve(metrics, cors.stats()));
            }
            Err(e) => {
                eprintln!("error: cannot listen on {addr} (--metrics-listen): {e}");
                return exit::code(exit::ERRORS);
            }
        }
    }
    for u in shared.upstreams.iter() {
        info!("forwarding {} to {}", u.prefix, u.display);
    }
    info!(
        "limits: {max_connections} connections (open files: {}), header timeout {}s, idle timeout {}s, body timeout {}s, upstream timeout {}s",
        fd_limit.map_or_else(|| "unknown".to_owned(), |l| l.to_string()),
        args.header_timeout,
        args.idle_timeout,
        args.body_timeout,
        args.timeout
    );
    if let Some(cert) = &cert {
        info!(
            "serving https with {} and {} (HTTP/2 and HTTP/1.1)",
            cert.cert.display(),
            cert.key.display()
        );
        tokio::spawn(cert_reload_loop(
            Arc::clone(cert),
            hangup_signal(),
            args.reload_interval,
        ));
    }
    tokio::spawn(reload_loop(
        cors.handle(),
        hup,
        args.policy.config.clone(),
        args.reload_interval,
        Reloading {
            flags: PolicyFlags::from_args(&args.policy),
            accepted: args.policy.accept_risk.clone(),
            env,
        },
    ));

    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs_f64(args.header_timeout));
    let accepting = Arc::new(Accepting {
        tracker: Arc::clone(&tracker),
        shared,
        cors,
        builder: Arc::new(builder),
        acceptor,
        handshake_timeout: Duration::from_secs_f64(args.header_timeout),
    });
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut loops = Vec::with_capacity(listeners.len());
    if listeners.len() == workers.len() {
        // Each serving thread accepts on a listener of its own (one
        // thread; or on Linux `SO_REUSEPORT`, the kernel spreading the
        // connections) and serves what it accepts.
        for (worker, listener) in workers.iter().zip(listeners) {
            let listener = match worker.adopt(listener) {
                Ok(listener) => listener,
                Err(e) => {
                    eprintln!("error: cannot listen on {local}: {e}");
                    return exit::code(exit::ERRORS);
                }
            };
            let place = Place::Here(Arc::clone(worker.idle()));
            let (accepting, stopping) = (Arc::clone(&accepting), stopping.clone());
            loops.push(worker.run(accept_loop(listener, accepting, place, stopping)));
        }
    } else {
        // One listener for several threads: accepted here, each
        // connection handed to the least busy.
        let Some(listener) = listeners.into_iter().next() else {
            unreachable!("workers::listen makes at least one listener")
        };
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("error: cannot listen on {local}: {e}");
                return exit::code(exit::ERRORS);
            }
        };
        let place = Place::Handoff(Arc::clone(&workers));
        loops.push(tokio::spawn(accept_loop(
            listener,
            Arc::clone(&accepting),
            place,
            stopping,
        )));
    }
    let signal = crate::rt::shutdown_signal().await;
    info!("{signal}: finishing requests in flight, then stopping");
    // No connection is accepted after this: every one accepted is drained.
    let _ = stop.send(true);
    for accepting in loops {
        let _ = accepting.await;
    }
    let grace = Duration::from_secs_f64(args.shutdown_grace);
    tracker.drain();
    tokio::select! {
        () = tracker.all_closed() => info!("stopped"),
        () = tokio::time::sleep(grace) => warn!("stopped with requests still in flight after {grace:?}"),
    }
    // Nothing runs on them after this (no request answered, no line logged
    // once the log is flushed).
    workers.stop();
    exit::code(exit::OK)
}

/// What every accept loop shares.
struct Accepting {
    tracker: Arc<Tracker>,
    shared: Arc<Shared>,
    cors: CorsLayer,
    builder: Arc<hyper_util::server::conn::auto::Builder<TokioExecutor>>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// The time a TLS handshake gets (a client's time to send its first
    /// request's headers).
    handshake_timeout: Duration,
}

/// Where an accept loop's connections are served.
enum Place {
    /// On the loop's own thread, which keeps these idle upstream
    /// connections.
    Here(Arc<pinned::Idle>),
    /// Handed to the least busy serving thread.
    Handoff(Arc<Workers>),
}

/// Accepts connections until `stopping` turns true, and has them served.
async fn accept_loop(
    listener: TcpListener,
    accepting: Arc<Accepting>,
    place: Place,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    let mut backoff = AcceptBackoff::new();
    loop {
        tokio::select! {
            // At the cap, a connection is taken from the kernel's queue
            // only once an idle one has closed: descriptors stay bounded.
            accepted = async {
                accepting.tracker.room().await;
                listener.accept().await
            } => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of descriptors: make room by closing an idle
                        // connection, and retry after a growing pause.
                        accepting.tracker.evict_idle();
                        tokio::time::sleep(backoff.failed(&e)).await;
                        continue;
                    }
                };
                backoff.succeeded();
                let _ = stream.set_nodelay(true);
                // Counted at once (not when its task first runs): the cap
                // and the drain at shutdown see every accepted connection.
                let conn = accepting.tracker.open();
                match &place {
                    Place::Here(idle) => {
                        tokio::spawn(serve_connection(Arc::clone(&accepting), stream, peer, conn, Arc::clone(idle)));
                    }
                    Place::Handoff(workers) => {
                        let (worker, handoff) = match workers.assign(stream) {
                            Ok(assigned) => assigned,
                            Err(e) => {
                                debug!("connection from {peer}: cannot hand it to a serving thread: {e}");
                                continue;
                            }
                        };
                        let (accepting, idle) = (Arc::clone(&accepting), Arc::clone(worker.idle()));
                        worker.spawn(async move {
                            match handoff.arrive() {
                                Ok(stream) => serve_connection(accepting, stream, peer, conn, idle).await,
                                Err(e) => debug!("connection from {peer}: {e}"),
                            }
                        });
                    }
                }
            }
            () = async { let _ = stopping.wait_for(|&stop| stop).await; } => break,
        }
    }
}

/// Serves one client connection until it is done, evicted, or (the proxy
/// stopping) drained.
async fn serve_connection(
    accepting: Arc<Accepting>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    conn_state: Arc<Conn>,
    idle: Arc<pinned::Idle>,
) {
    let state = Arc::clone(&conn_state);
    // `X-Forwarded-For`'s value, made once per connection.
    let peer_ip = HeaderValue::try_from(peer.ip().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
    let upstream = {
        let shared = Arc::clone(&accepting.shared);
        // Dropped with the connection; its upstream connections then wait
        // in `idle` for this thread's next client connection.
        let pinned = Arc::new(Pinned::new(idle));
        tower::service_fn(move |req: Request<Incoming>| {
            let (shared, peer_ip, pinned) =
                (Arc::clone(&shared), peer_ip.clone(), Arc::clone(&pinned));
            forward(shared, req, peer_ip, pinned)
        })
    };
    let service = accepting.cors.layer(upstream);
    let service =
        hyper::service::service_fn(move |req| handle(service.clone(), Arc::clone(&state), req));
    let io: Box<dyn Io> = match &accepting.acceptor {
        None => Box::new(stream),
        // The handshake gets the time a client has to send its first
        // request's headers.
        Some(acceptor) => tokio::select! {
            tls = tokio::time::timeout(accepting.handshake_timeout, acceptor.accept(stream)) => match tls {
                Ok(Ok(tls)) => Box::new(tls),
                Ok(Err(e)) => return debug!("TLS handshake with {peer} failed: {e}"),
                Err(_) => return debug!("TLS handshake with {peer} timed out"),
            },
            () = conn_state.closed_or_draining() => return,
        },
    };
    let conn = accepting
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Some(Err(e)) = Serving::new(conn.into_owned(), conn_state).await {
        debug!("connection from {peer}: {e}");
    }
}

/// Reloads the policy on SIGHUP and when the file's contents change. A new
/// policy replaces the old one atomically; a bad one is logged and ignored.
/// Without `--config`, SIGHUP is still handled (its default action would
/// stop the proxy): it logs that there is nothing to reload.
async fn reload_loop(
    policy: PolicyHandle,
    mut hup: Hangup,
    path: Option<PathBuf>,
    interval: f64,
    with: Reloading,
) {
    let Some(path) = path else {
        loop {
            hup.recv().await;
            info!("SIGHUP: nothing to reload (the proxy was started without --config)");
        }
    };
    let mut last = read_config(&path).ok();
    let mut trigger = Trigger::new(hup, interval).await;
    loop {
        let cause = trigger
            .next(|| read_config(&path).ok() != last, "the file changed")
            .await;
        match stable_contents(&path).await {
            Ok(text) => {
                last = Some(text.clone());
                reload(&policy, &path, &text, cause, &with);
            }
            Err(why) => error!(
                "not reloading {} ({cause}): {why}; the old policy keeps serving",
                path.display()
            ),
        }
    }
}

/// Reloads the TLS certificate and key on SIGHUP and when either file
/// changes, once both have stopped changing; a pair that does not load is
/// logged and the old one keeps serving.
async fn cert_reload_loop(cert: Arc<tls::ServerCert>, hup: Hangup, interval: f64) {
    let read = |cert: &tls::ServerCert| {
        Ok::<_, Infallible>((
            std::fs::read(&cert.cert).ok(),
            std::fs::read(&cert.key).ok(),
        ))
    };
    let mut last = read(&cert);
    let mut trigger = Trigger::new(hup, interval).await;
    loop {
        let cause = trigger
            .next(|| read(&cert) != last, "the files changed")
            .await;
        // A renewal writes two files: wait until both are still.
        last = match settled(|| read(&cert)).await {
            Ok(Some(both)) => Ok(both),
            _ => read(&cert),
        };
        match cert.reload() {
            Ok(()) => info!(
                "reloaded the TLS certificate {} ({cause})",
                cert.cert.display()
            ),
            Err(e) => error!(
                "not reloading the TLS certificate ({cause}): {e}; the old certificate keeps serving"
            ),
        }
    }
}

/// What starts a reload: SIGHUP, or a change seen when polling every
/// `--reload-interval` seconds (0: SIGHUP only).
struct Trigger {
    hup: Hangup,
    tick: Option<tokio::time::Interval>,
}

impl Trigger {
    async fn new(hup: Hangup, interval: f64) -> Self {
        let tick = if interval > 0.0 {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(interval));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate: the state was just read.
            tick.tick().await;
            Some(tick)
        } else {
            None
        };
        Self { hup, tick }
    }

    /// Waits for SIGHUP (`"SIGHUP"`) or a poll on which `changed` says so
    /// (`change`).
    async fn next(
        &mut self,
        mut changed: impl FnMut() -> bool,
        change: &'static str,
    ) -> &'static str {
        loop {
            let polled = async {
                match self.tick.as_mut() {
                    Some(tick) => {
                        tick.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = self.hup.recv() => return "SIGHUP",
                () = polled => {
                    if changed() {
                        return change;
                    }
                }
            }
        }
    }
}

/// How long reads must agree before a file is taken as written, and how
/// many times to wait for that.
const SETTLE: Duration = Duration::from_millis(100);
const SETTLE_TRIES: usize = 20;

/// Reads until two reads [`SETTLE`] apart agree: the value, or `None` when
/// it kept changing for [`SETTLE_TRIES`] waits. A read error ends it.
async fn settled<T: PartialEq, E>(mut read: impl FnMut() -> Result<T, E>) -> Result<Option<T>, E> {
    let mut previous = read()?;
    for _ in 0..SETTLE_TRIES {
        tokio::time::sleep(SETTLE).await;
        let now = read()?;
        if now == previous {
            return Ok(Some(now));
        }
        previous = now;
    }
    Ok(None)
}

/// The file's contents once two reads, [`SETTLE`] apart, agree: an editor
/// or `cat > file` truncates before it writes, and a reload in between
/// would load an empty policy that refuses every origin. An empty file is
/// refused too (it would be the allow-nothing default).
async fn stable_contents(path: &Path) -> Result<String, String> {
    match settled(|| read_config(path)).await? {
        Some(text) if text.trim().is_empty() => Err(
            "the file is empty (if you mean \"allow nothing\", write `allowed_origins = []`)"
                .into(),
        ),
        Some(text) => Ok(text),
        None => Err(format!(
            "the file kept changing for {:?}",
            SETTLE * u32::try_from(SETTLE_TRIES).unwrap_or(u32::MAX)
        )),
    }
}

/// Reads the policy file, at most the library's size limit.
fn read_config(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let limit = corsgate::MAX_CONFIG_FILE_BYTES;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() > limit {
        return Err(format!("it is larger than {limit} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

/// SIGHUP as a stream (Unix); elsewhere, a signal that never comes.
struct Hangup(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

fn hangup_signal() -> Hangup {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        Hangup(signal(SignalKind::hangup()).ok())
    }
    #[cfg(not(unix))]
    {
        Hangup()
    }
}

impl Hangup {
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = self.0.as_mut()
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// What a reload applies besides the file: the environment read at start,
/// the policy flags and the accepted risks.
#[derive(Clone)]
struct Reloading {
    flags: PolicyFlags,
    accepted: Vec<String>,
    env: Vec<(String, String)>,
}

fn reload(handle: &PolicyHandle, path: &Path, text: &str, cause: &str, with: &Reloading) {
    let compiled = Config::from_file_contents(path, text).and_then(|mut config| {
        config.apply_env_vars(with.env.iter().map(|(k, v)| (k, v)))?;
        with.flags.apply(&mut config);
        config.compile().map(|policy| (config, policy))
    });
    let (config, policy) = match compiled {
        Ok(both) => both,
        Err(errors) => {
            error!(
                "not reloading {} ({cause}): the new policy has errors; the old policy keeps serving\n{errors}",
                path.display()
            );
            return;
        }
    };
    let audit = Audit::of(&config, &with.accepted);
    if !audit.refused.is_empty() {
        error!(
            "not reloading {} ({cause}): the new policy has high-risk findings; the old policy keeps serving\n{}",
            path.display(),
            audit.refusal()
        );
        return;
    }
    handle.store(policy);
    info!("reloaded {} ({cause})", path.display());
    for line in audit.logged {
        warn!("{line}");
    }
}

/// One request through the CORS layer (which answers preflights, and
/// replaces the upstream's CORS headers on everything else), then one
/// log line with the decision the layer made.
///
/// Not an `async fn`, for the reason [`forward`] gives.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` stores its arguments and their copies, see `forward`"
)]
fn handle<S>(
    mut cors: Cors<S>,
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response<Guarded>, Infallible>>
where
    S: tower::Service<Request<Incoming>, Response = Response<Body>, Error = Infallible>,
{
    async move {
        // The connection is busy until the response body is done or dropped.
        let guard = conn.request();
        let start = Instant::now();
        // Kept for the log line: shared, not copied.
        let method = req.method().clone();
        let uri = req.uri().clone();
        let origin = req.headers().get(header::ORIGIN).cloned();
        cors.ready().await?;
        let (response, decision) = cors.call_decided(req).await?;
        let decided = decision.reason().name();
        let latency_ms = log::Millis(start.elapsed());
        // Visible ASCII as browsers send it; anything else is shown lossily.
        let origin = origin.as_ref().map_or(Cow::Borrowed("-"), |o| {
            o.to_str()
                .map_or_else(|_| String::from_utf8_lossy(o.as_bytes()), Cow::Borrowed)
        });
        let origin = &*origin;
        let path = uri.path();
        let status = response.status().as_u16();
        // The proxy's own errors (502, 504, 413, …) say why, at warn.
        if let Some(failed) = response.extensions().get::<Failure>() {
            warn!(
                %method,
                %path,
                origin,
                decision = decided,
                status,
                error = %failed.kind,
                %latency_ms,
                "{}",
                failed.message
            );
        } else if tracing::enabled!(tracing::Level::INFO) {
            // What `info!(%method, %path, origin, decision, status,
            // %latency_ms)` writes, for a fraction of its cost (`log::access`).
            log::access(&log::AccessLine {
                method: &method,
                path,
                origin,
                decision: decided,
                status,
                latency_ms,
            });
        }
        Ok(response.map(|body| Guarded::new(body, guard)))
    }
}

/// `peer`: the client's address as an `X-Forwarded-For` value; `pinned`:
/// the client connection's upstream connections.
///
/// Not an `async fn`: one stores its arguments and again the locals they
/// are moved into, and this future is part of every request's (preflights
/// included), which hyper and the CORS layer each move whole per request.
/// An `async move` block uses what it captured in place.
#[expect(
    clippy::manual_async_fn,
    reason = "an `async fn` stores its arguments and their copies, see above"
)]
fn forward(
    shared: Arc<Shared>,
    mut req: Request<Incoming>,
    peer: HeaderValue,
    pinned: Arc<Pinned>,
) -> impl Future<Output = Result<Response<Body>, Infallible>> + Send + 'static {
    async move {
        if req.method() == Method::CONNECT {
            return Ok(failure(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "corsgate proxy does not tunnel CONNECT",
            ));
        }
        let Some(upstream) = shared.upstreams.route(req.uri().path()) else {
            return Ok(failure(
                StatusCode::NOT_FOUND,
                "no_upstream",
                "no --upstream covers this path",
            ));
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > shared.max_body) {
            return Ok(failure(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is larger than --max-body",
            ));
        }

        // Only the path and query are forwarded, to a configured upstream: the
        // proxy is never an open proxy, whatever authority the request names.
        // An HTTP/1 client sends just those (origin form): that target is kept.
        let original_host = req.headers().get(header::HOST).cloned().or_else(|| {
            req.uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let target = if req.uri().scheme().is_none() && req.uri().authority().is_none() {
            std::mem::take(req.uri_mut())
        } else {
            origin_form(req.uri())
        };
        let client_version = req.version();
        let upgrade = is_upgrade(req.headers());
        let headers = req.headers_mut();
        strip_hop_by_hop(headers, upgrade);
        add_forwarding_headers(headers, &peer, original_host.as_ref(), shared.listen_tls);
        if !shared.preserve_host || original_host.is_none() {
            headers.insert(header::HOST, upstream.host.clone());
        }
        // The pool (https upstreams, HTTP/2 clients) and the upgrade's own
        // connection need the whole URL; a pinned connection, the target alone.
        let pooled = upstream.tls || client_version == http::Version::HTTP_2;
        let uri = if upgrade || pooled {
            let mut parts = http::uri::Parts::default();
            parts.scheme = Some(if upstream.tls {
                http::uri::Scheme::HTTPS
            } else {
                http::uri::Scheme::HTTP
            });
            parts.authority = Some(upstream.authority.clone());
            parts.path_and_query = target.into_parts().path_and_query;
            match Uri::from_parts(parts) {
                Ok(uri) => uri,
                Err(_) => {
                    return Ok(failure(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "the request target is not a valid path",
                    ));
                }
            }
        } else {
            target
        };
        if upgrade {
            // Boxed: the upgrade's future (connect, TLS, the joined streams) is
            // about 2 KB, and held inline it would make every request's future
            // that much larger, copied as hyper and tower move it into place
            // (docs/benchmarks.md). Upgrades are rare; one allocation for them.
            return Ok(Box::pin(forward_upgrade(&shared, req, uri)).await);
        }

        // In a block of its own: the parts' storage then ends here instead
        // of being kept in the future across the send (see above).
        let (outgoing, uploaded) = {
            let (mut parts, body) = req.into_parts();
            parts.uri = uri;
            parts.version = http::Version::HTTP_11;
            // A request without a body (most) has nothing to watch: it is
            // sent with an empty one, and the upstream's time starts at once.
            // (The empty body is not allocated; the watched one is, with a
            // timer and a channel.)
            let (body, uploaded) = if body.is_end_stream() {
                (Empty::new().map_err(|never| match never {}).boxed(), None)
            } else {
                let limit = usize::try_from(shared.max_body).unwrap_or(usize::MAX);
                let (body, uploaded) =
                    UploadBody::new(Limited::new(body, limit), shared.body_timeout);
                (body.boxed(), Some(uploaded))
            };
            (Request::from_parts(parts, body), uploaded)
        };

        // `--timeout` is for the upstream's answer: it starts once the request
        // body has been forwarded whole (the body guards itself against a
        // client that stalls). An upstream may answer before that.
        let request = async {
            if pooled {
                shared
                    .client
                    .request(outgoing)
                    .await
                    .map_err(|e| SendError {
                        connect: e.is_connect(),
                        error: e.into(),
                    })
            } else {
                pinned.send(&shared.connector, upstream, outgoing).await
            }
        };
        let mut request = std::pin::pin!(request);
        let early = match uploaded {
            Some(uploaded) => tokio::select! {
                result = &mut request => Some(result),
                _ = uploaded => None,
            },
            None => None,
        };
        let result = match early {
            Some(result) => Ok(result),
            None if pooled => tokio::time::timeout(shared.timeout, request)
                .await
                .map_err(|_| TimedOut),
            // One timer per client connection (see `Pinned::within`).
            None => pinned.within(shared.timeout, request).await,
        };
        if let Ok(Err(e)) = &result
            && let Some(problem) = client_body_problem(&*e.error)
        {
            let (status, kind) = match problem {
                ClientBodyProblem::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
                ClientBodyProblem::Stalled => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
                ClientBodyProblem::Malformed => (StatusCode::BAD_REQUEST, "bad_request_body"),
            };
            debug!("client body: {}", error_chain(&*e.error));
            let message = sources(&*e.error)
                .find(|s| s.is::<body::ClientBodyError>())
                .map_or_else(String::new, ToString::to_string);
            return Ok(failure(status, kind, &message));
        }
        Ok(match result {
            Err(_) => failure(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                &format!(
                    "{} did not answer within {:?}",
                    upstream.display, shared.timeout
                ),
            ),
            Ok(Err(e)) if let Some(problem) = tls::Problem::find(&*e.error) => {
                tls_failure(&upstream.display, &problem)
            }
            Ok(Err(e)) => {
                let (status, kind) = if e.connect && is_timeout(&*e.error) {
                    (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout")
                } else if e.connect {
                    (StatusCode::BAD_GATEWAY, "upstream_unreachable")
                } else {
                    (StatusCode::BAD_GATEWAY, "upstream_error")
                };
                let message = format!("{}: {}", upstream.display, error_chain(&*e.error));
                if status == StatusCode::GATEWAY_TIMEOUT {
                    failure(
                        status,
                        kind,
                        &format!("{message} (connect timeout {:?})", shared.connect_timeout),
                    )
                } else {
                    failure(status, kind, &message)
                }
            }
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                // Answer in the client's protocol, not the upstream's.
                parts.version = client_version;
                strip_hop_by_hop(&mut parts.headers, false);
                Response::from_parts(parts, body.map_err(BoxError::from).boxed())
            }
        })
    }
}

/// `X-Forwarded-For` (appended), `-Proto` and `-Host`, as most back-ends
/// (Django's `USE_X_FORWARDED_HOST`, Rails, Express) read them.
fn add_forwarding_headers(
    headers: &mut http::HeaderMap,
    peer: &HeaderValue,
    host: Option<&HeaderValue>,
    https: bool,
) {
    const FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
    const PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
    const HOST: http::HeaderName = http::HeaderName::from_static("x-forwarded-host");
    // The usual request has no `X-Forwarded-For`: the peer's address, made
    // once per connection, is the whole chain (one lookup either way).
    match headers.entry(&FOR) {
        http::header::Entry::Vacant(vacant) => {
            vacant.insert(peer.clone());
        }
        http::header::Entry::Occupied(mut occupied) => {
            let mut chain = occupied
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ");
            chain.push_str(", ");
            chain.push_str(peer.to_str().unwrap_or_default());
            if let Ok(chain) = HeaderValue::from_str(&chain) {
                occupied.insert(chain);
            }
        }
    }
    headers.insert(
        &PROTO,
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    if let Some(host) = host {
        headers.insert(&HOST, host.clone());
    }
}

/// A WebSocket (or other) upgrade: forwarded on a connection of its own,
/// then the two upgraded streams are joined. Browsers do not apply CORS to
/// WebSockets, so the upstream's answer is passed through.
async fn forward_upgrade(shared: &Shared, mut req: Request<Incoming>, uri: Uri) -> Response<Body> {
    let client_upgrade = hyper::upgrade::on(&mut req);
    let https = uri.scheme_str() == Some("https");
    let display = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", http::uri::Authority::as_str)
    );
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let connect = tokio::time::timeout(
        shared.connect_timeout,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    );
    let stream = match connect.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            return failure(
                StatusCode::BAD_GATEWAY,
                "upstream_unreachable",
                &format!("{display}: {e}"),
            );
        }
        Err(_) => {
            return failure(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                &format!("{display}: connect timed out"),
            );
        }
    };
    let io: Box<dyn Io> = if https {
        let Ok(name) = rustls_pki_types::ServerName::try_from(host.clone()) else {
            return failure(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                &format!("{display}: `{host}` is not a host name TLS can verify"),
            );
        };
        let handshake = shared.upgrade_tls.connect(name, stream);
        match tokio::time::timeout(shared.connect_timeout, handshake).await {
            Ok(Ok(tls)) => Box::new(tls),
            Ok(Err(e)) => {
                return match tls::Problem::find(&e) {
                    Some(problem) => tls_failure(&display, &problem),
                    None => failure(
                        StatusCode::BAD_GATEWAY,
                        "upstream_error",
                        &format!("{display}: {e}"),
                    ),
                };
            }
            Err(_) => {
                return failure(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    &format!("{display}: the TLS handshake timed out"),
                );
            }
        }
    } else {
        Box::new(stream)
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(io)).await {
        Ok(pair) => pair,
        Err(e) => {
            return failure(StatusCode::BAD_GATEWAY, "upstream_error", &e.to_string());
        }
    };
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            debug!("upgraded upstream connection: {e}");
        }
    });
    let (mut parts, _) = req.into_parts();
    parts.uri = origin_form(&uri);
    parts.version = http::Version::HTTP_11;
    let outgoing = Request::from_parts(parts, Full::new(Bytes::new()));
    let mut response =
        match tokio::time::timeout(shared.timeout, sender.send_request(outgoing)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => {
                return failure(StatusCode::BAD_GATEWAY, "upstream_error", &e.to_string());
            }
            Err(_) => {
                return failure(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    "no answer to the upgrade",
                );
            }
        };
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        // Refused (or answered without switching): an ordinary response,
        // whose CORS headers the layer replaces like any other's.
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers, false);
        return Response::from_parts(parts, body.map_err(BoxError::from).boxed());
    }
    let upstream_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        match tokio::try_join!(client_upgrade, upstream_upgrade) {
            Ok((client, upstream)) => {
                let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
                    debug!("upgraded stream closed: {e}");
                }
            }
            Err(e) => debug!("upgrade failed: {e}"),
        }
    });
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.map_err(BoxError::from).boxed())
}

/// `uri`'s path and query alone (`/users?x=1`): the request target a
/// connection of our own to the upstream is sent.
fn origin_form(uri: &Uri) -> Uri {
    uri.path_and_query()
        .map_or_else(|| Uri::from_static("/"), |p| Uri::from(p.clone()))
}

/// A short JSON error, with the CORS headers so a browser page can read it
/// instead of seeing a misleading CORS error.
/// Why the proxy answered with an error of its own (a response extension,
/// read by the log line).
#[derive(Debug, Clone)]
struct Failure {
    kind: String,
    message: String,
}

fn failure(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    failure_with(status, kind, message, None)
}

/// [`failure`], with the TLS error's name (`tls_error`) when there is one.
fn failure_with(
    status: StatusCode,
    kind: &str,
    message: &str,
    tls_error: Option<&str>,
) -> Response<Body> {
    let mut json =
        serde_json::json!({ "error": kind, "message": message, "status": status.as_u16() });
    if let Some(name) = tls_error {
        json["tls_error"] = serde_json::Value::from(name);
    }
    let body = json.to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)).map_err(BoxError::from).boxed());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("x-corsgate-error", HeaderValue::from_static("1"));
    response.extensions_mut().insert(Failure {
        kind: kind.to_owned(),
        message: message.to_owned(),
    });
    response
}

/// The upstream's certificate or handshake failed: 502, naming the problem
/// as a browser would.
fn tls_failure(upstream: &str, problem: &tls::Problem) -> Response<Body> {
    failure_with(
        StatusCode::BAD_GATEWAY,
        "upstream_tls_error",
        &format!("{upstream}: {}; fix: {}", problem.what, problem.fix),
        Some(problem.net_error),
    )
}

fn sources<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    sources(e).any(|s| {
        s.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
    })
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = sources(e).map(ToString::to_string).collect();
    parts.dedup();
    parts.join(": ")
}

#[cfg(test)]
mod audit_tests {
    use corsgate::{Config, PathRule};

    use super::Audit;

    #[test]
    fn the_refusal_names_each_risk_once_and_accepting_it_logs_it() {
        let config = Config::builder()
            .allowed_origins(["null"])
            .allow_credentials(true)
            .path_rule(PathRule::new("^/a/").allow_all_origins(true))
            .path_rule(PathRule::new("^/b/").allowed_origins(["https://b.example"]))
            .path_rule(PathRule::new("^/c/").allow_all_origins(true))
            .build();
        let audit = Audit::of(&config, &[]);
        let codes: Vec<&str> = audit.refused.iter().map(|f| f.code()).collect();
        assert_eq!(
            codes
                .iter()
                .filter(|c| **c == "credentials-with-all-origins")
                .count(),
            2,
            "{codes:?}"
        );
        let help = audit.refusal();
        let help = help.lines().last().unwrap();
        assert!(
            help.ends_with(
                "serve it anyway with `--accept-risk credentials-with-all-origins --accept-risk null-allowed`"
            ),
            "{help}"
        );
        let accepted = [
            "credentials-with-all-origins".to_owned(),
            "null-allowed".to_owned(),
            "no-such-risk".to_owned(),
        ];
        let audit = Audit::of(&config, &accepted);
        assert!(audit.refused.is_empty());
        assert_eq!(audit.accepted_nothing, ["no-such-risk"]);
        assert!(
            audit
                .logged
                .iter()
                .any(|l| l.ends_with("(accepted with `--accept-risk null-allowed`)"))
        );
    }
}
