//! `corsgate doctor`: send what a browser would send, run the browser's
//! checks (`corsgate::browser`) step by step, and say why it would block
//! and what fixes it. `--scan` probes a server for dangerous policies.

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use corsgate::audit::Severity;
use corsgate::browser::{self, Credentials, Failure};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::engines::{self, Block, Engine, Said};
use crate::exit;
use crate::heard;
use crate::tls;

/// What `--json` prints when no verdict could be reached: `verdict` is
/// `error`, or `tls_error` with the browser's error and its fix.
#[derive(Serialize)]
struct ErrorJson<'a> {
    schema: u32,
    verdict: &'static str,
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    console_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<Fix>,
}

/// One `--scan` finding: a probe origin the server trusted.
#[derive(Debug, Serialize)]
struct ScanFinding {
    class: &'static str,
    probe: String,
    request: &'static str,
    #[serde(serialize_with = "severity_name")]
    severity: Severity,
    credentials: bool,
    why: String,
}

/// What `--scan --json` prints.
#[derive(Debug, Serialize)]
struct ScanJson<'a> {
    schema: u32,
    url: String,
    probes: usize,
    findings: &'a [ScanFinding],
    /// The findings grouped by what causes them (what the text prints).
    root_causes: Vec<RootCause>,
}

/// One cause behind one or more findings: a server that reflects any
/// origin also "trusts" every look-alike probe, and a missing
/// `Vary: Origin` shows on every reflected probe.
#[derive(Debug, Serialize)]
struct RootCause {
    class: &'static str,
    #[serde(serialize_with = "severity_name")]
    severity: Severity,
    credentials: bool,
    /// A probe origin that shows it.
    probe: String,
    /// The requests that showed it (`GET`, `OPTIONS`).
    requests: Vec<&'static str>,
    why: String,
    /// The other probes' classes this cause accounts for.
    explains: Vec<&'static str>,
}

/// Groups scan findings by cause: one per class, and under
/// `reflect-any-origin` every other origin probe (each is reflected
/// because every origin is).
fn root_causes(findings: &[ScanFinding]) -> Vec<RootCause> {
    let mut causes: Vec<RootCause> = Vec::new();
    for f in findings {
        if let Some(cause) = causes.iter_mut().find(|c| c.class == f.class) {
            cause.severity = cause.severity.max(f.severity);
            cause.credentials |= f.credentials;
            if !cause.requests.contains(&f.request) {
                cause.requests.push(f.request);
            }
            continue;
        }
        causes.push(RootCause {
            class: f.class,
            severity: f.severity,
            credentials: f.credentials,
            probe: f.probe.clone(),
            requests: vec![f.request],
            why: f.why.clone(),
            explains: Vec::new(),
        });
    }
    let derived = |class: &str| {
        !matches!(
            class,
            "reflect-any-origin" | "missing-vary-origin" | "wildcard"
        )
    };
    if causes.iter().any(|c| c.class == "reflect-any-origin") {
        let explained: Vec<&'static str> = causes
            .iter()
            .filter(|c| derived(c.class))
            .map(|c| c.class)
            .collect();
        causes.retain(|c| !derived(c.class));
        if let Some(any) = causes.iter_mut().find(|c| c.class == "reflect-any-origin") {
            any.explains = explained;
        }
    }
    causes.sort_by_key(|c| std::cmp::Reverse(c.severity));
    causes
}

fn severity_name<S: serde::Serializer>(severity: &Severity, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(severity.as_str())
}

/// One request sent and the answer got.
#[derive(Debug)]
struct Exchange {
    step: &'static str,
    method: String,
    url: String,
    sent: Vec<(String, String)>,
    status: u16,
    received: HeaderMap,
    /// The received header names as the server spelled them, one per line
    /// (`http` lower-cases them; Firefox looks at the spelling).
    spelled: Vec<String>,
}

/// A failed check: which step, what Chromium says.
struct Blocked {
    step: &'static str,
    failure: Failure,
    preflight: bool,
    url: String,
    redirected_from: Option<String>,
    /// The `Origin` the failing request carried.
    origin: String,
    /// Where the failing response redirected to, when it was a redirect.
    redirect_to: Option<String>,
}

struct Report {
    url: String,
    origin: String,
    method: String,
    credentials: Credentials,
    same_origin: bool,
    preflight_reasons: Vec<String>,
    exchanges: Vec<Exchange>,
    blocked: Option<Blocked>,
    readable: Vec<String>,
    warnings: Vec<String>,
    xhr: bool,
    /// The headers the page sets, as it spelled them.
    headers: Vec<(String, String)>,
    /// The URL whose preflight let `Authorization` through only by
    /// `Access-Control-Allow-Headers: *` (Firefox warns in its console).
    wildcard_authorization: Option<String>,
    /// The last answer was a server error (5xx): what it means for the page.
    server_error: Option<ServerError>,
    /// The browser blocked the request as mixed content: no request is sent.
    mixed_content: Option<MixedContent>,
}

/// A local-network IP address (RFC 1918, link-local, CGNAT, IPv6
/// unique-local or link-local): Chromium's Local Network Access exempts it
/// from mixed-content blocking.
fn is_local_network(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    let v4 = |ip: std::net::Ipv4Addr| {
        let [a, b, ..] = ip.octets();
        ip.is_private() || ip.is_link_local() || (a == 100 && (b & 0xc0) == 64)
    };
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(v4)
        }
    }
}

/// An https page requesting an `http://` URL (Mixed Content § 4.3): the
/// browser blocks it before CORS is consulted, and sends nothing.
#[derive(Debug)]
struct MixedContent {
    page: String,
    url: String,
    redirected_from: Option<String>,
}

/// What Chromium does with a page's request for its scheme and host.
#[derive(Debug)]
enum Mixed {
    /// Not mixed content: an http page, an https URL, or loopback.
    No,
    /// Blocked before CORS: nothing is sent.
    Blocked(MixedContent),
    /// A local-network address over http: Chromium lets it through (Local
    /// Network Access governs it instead) with this console warning.
    Warned(String),
}

impl MixedContent {
    /// Whether a page of `origin` may fetch `url`, as Chromium 156 decides
    /// (measured, see the browser suite): an https page may not fetch
    /// `http://` unless the URL is potentially trustworthy (loopback,
    /// `localhost`); an IP literal of a local network (RFC 1918, link-local,
    /// CGNAT, IPv6 unique-local) or a `.local` name is let through with a
    /// warning, which Firefox and Safari do not do.
    fn check(origin: &str, url: &Uri, redirected_from: Option<&Uri>) -> Mixed {
        if !origin.starts_with("https://") || url.scheme_str() != Some("http") {
            return Mixed::No;
        }
        let host = url.host().unwrap_or_default().to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let ip = host.parse::<std::net::IpAddr>().ok();
        if host == "localhost"
            || host.ends_with(".localhost")
            || ip.is_some_and(|ip| ip.is_loopback())
        {
            return Mixed::No;
        }
        let found = Self {
            page: format!("{origin}/"),
            url: url.to_string(),
            redirected_from: redirected_from.map(ToString::to_string),
        };
        if host.ends_with(".local") || ip.is_some_and(is_local_network) {
            return Mixed::Warned(format!(
                "Chromium lets an https page call a local-network address over http (Local Network Access asks the user instead) but warns: `{}`; Firefox and Safari block it as mixed content: serve it over https",
                found.warning()
            ));
        }
        Mixed::Blocked(found)
    }

    /// Chromium's console line for a mixed request it lets through.
    fn warning(&self) -> String {
        format!(
            "Mixed Content: The page at '{}' was loaded over HTTPS, but requested an insecure resource '{}'. This content should also be served over HTTPS.",
            self.page, self.url
        )
    }

    /// Chromium's console message.
    fn console_message(&self, xhr: bool) -> String {
        format!(
            "Mixed Content: The page at '{}' was loaded over HTTPS, but requested an insecure {} '{}'. This request has been blocked; the content must be served over HTTPS.",
            self.page,
            if xhr {
                "XMLHttpRequest endpoint"
            } else {
                "resource"
            },
            self.url
        )
    }

    fn fixes(&self) -> Vec<Fix> {
        let https = self.url.replacen("http://", "https://", 1);
        let mut fixes = vec![Fix::note(format!(
            "serve the API over https and request `{https}` (`corsgate proxy --tls-cert FILE --tls-key FILE` can put https in front of it)"
        ))];
        if let Some(first) = &self.redirected_from {
            fixes.push(Fix::note(format!(
                "`{first}` redirects to plain http: make the server redirect to https"
            )));
        }
        fixes.push(Fix::note(
            "during development, load the page over http, or call the API on `localhost` / 127.0.0.1 (loopback is exempt)",
        ));
        fixes
    }
}

/// A 5xx answer: CORS may let the page read it, but the request failed.
#[derive(Debug, Clone, Serialize)]
struct ServerError {
    status: u16,
    message: String,
}

impl ServerError {
    /// `None` below 500.
    fn of(status: u16, blocked: bool) -> Option<Self> {
        if status < 500 {
            return None;
        }
        let what = match status {
            502 => {
                "502 Bad Gateway: a proxy or gateway could not get an answer from the back-end behind it (is it running?)"
            }
            503 => "503 Service Unavailable: the server is overloaded, starting or down",
            504 => {
                "504 Gateway Timeout: the back-end behind a proxy or gateway did not answer in time"
            }
            _ => "a server error: the application failed on this request (see its log)",
        };
        let effect = if blocked {
            "the browser shows a CORS error, but the real problem is the server error, which was sent without CORS headers: fix the error first (and have error responses carry CORS headers too, as corsgate's do)"
        } else {
            "CORS lets the page read it, so fetch() resolves with this status: the page must handle it, and the server side needs fixing"
        };
        Some(Self {
            status,
            message: format!("the server answered {what}; {effect}"),
        })
    }
}

pub(crate) fn run(args: &DoctorArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        if args.scan {
            return scan(args).await;
        }
        match judge(args).await {
            Ok(judged) => {
                let first = &judged.reports[0];
                let json = first.to_json(&judged.engines());
                if args.json {
                    exit::print(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&json).unwrap_or_default()
                    ));
                } else {
                    exit::print(&json.to_string());
                }
                // Blocked if any engine asked for blocks it.
                exit::code(if judged.reports.iter().any(Report::is_blocked) {
                    exit::BLOCKED
                } else {
                    exit::OK
                })
            }
            Err(failed) => failed.report(args.json),
        }
    })
}

impl Blocked {
    /// Which request of the exchange failed.
    fn stage(&self) -> browser::Stage {
        if self.preflight {
            browser::Stage::Preflight
        } else {
            browser::Stage::Actual
        }
    }
}

/// Each engine asked for, and the report of the request as it makes it.
struct Judged {
    asked: &'static [Engine],
    reports: Vec<Report>,
    /// For each engine asked, which report.
    report_of: Vec<usize>,
}

impl Judged {
    fn engines(&self) -> Vec<(Engine, &Report)> {
        self.asked
            .iter()
            .zip(&self.report_of)
            .map(|(engine, &i)| (*engine, &self.reports[i]))
            .collect()
    }
}

/// Makes the request as the first engine asked for does; another engine
/// whose requests would differ (Firefox's preflight after a cross-origin
/// redirect keeps the page's origin) makes its own, only when they do.
async fn judge(args: &DoctorArgs) -> Result<Judged, Failed> {
    let asked = args.browser.engines();
    let first = diagnose(args, asked[0]).await?;
    let tainted_preflight = first.origin != "null"
        && first.exchanges.iter().any(|e| {
            e.step == "preflight" && e.sent.iter().any(|(n, v)| n == "Origin" && v == "null")
        });
    let mut judged = Judged {
        asked,
        reports: vec![first],
        report_of: vec![0],
    };
    for engine in &asked[1..] {
        if tainted_preflight
            && engine.preflight_keeps_page_origin() != asked[0].preflight_keeps_page_origin()
        {
            judged.reports.push(diagnose(args, *engine).await?);
            judged.report_of.push(judged.reports.len() - 1);
        } else {
            judged.report_of.push(0);
        }
    }
    Ok(judged)
}

/// Why doctor has no CORS verdict: the arguments (exit 2), or the network
/// (exit 4): no answer, or a TLS failure the browser stops at.
#[derive(Debug)]
struct Failed {
    network: bool,
    message: String,
    tls: Option<Box<TlsFailure>>,
}

/// A connection the browser refuses (certificate, handshake): its own
/// outcome, met before CORS is consulted.
#[derive(Debug)]
struct TlsFailure {
    method: String,
    url: String,
    problem: tls::Problem,
}

impl TlsFailure {
    /// What Chromium's console prints for it (its log gives the URL apart;
    /// DevTools shows `GET <url> net::ERR_…`). The page's fetch() rejects
    /// with `TypeError: Failed to fetch`.
    fn console_message(&self) -> String {
        format!("Failed to load resource: {}", self.problem.net_error)
    }
}

impl Failed {
    fn network(message: String) -> Self {
        Self {
            network: true,
            message,
            tls: None,
        }
    }

    /// The failure as the page's request shows it (its method).
    fn of_request(mut self, method: &str) -> Self {
        if let Some(tls) = &mut self.tls {
            method.clone_into(&mut tls.method);
        }
        self
    }

    /// Prints why (a TLS failure as a report on stdout, else one line on
    /// stderr, and with `json` one object on stdout) and returns the code.
    fn report(&self, json: bool) -> ExitCode {
        let tls = self.tls.as_deref();
        if json {
            exit::print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&ErrorJson {
                    schema: 1,
                    verdict: if tls.is_some() { "tls_error" } else { "error" },
                    error: &self.message,
                    url: tls.map(|t| t.url.as_str()),
                    error_kind: tls.map(|t| t.problem.net_error),
                    console_message: tls.map(TlsFailure::console_message),
                    fixes: tls
                        .map(|t| vec![Fix::note(t.problem.fix)])
                        .unwrap_or_default(),
                })
                .unwrap_or_default()
            ));
        } else if let Some(t) = tls {
            exit::print(&format!(
                "TLS ERROR: {} {}\n\nthe browser refuses the connection before CORS is consulted: {}\nChromium says:\n  {}\n(the page's fetch() rejects with `TypeError: Failed to fetch`)\nfix: {}\n",
                t.method,
                t.url,
                t.problem.what,
                t.console_message(),
                t.problem.fix
            ));
        }
        if tls.is_none() {
            eprintln!("error: {}", self.message);
        }
        exit::code(if self.network {
            exit::NETWORK
        } else {
            exit::USAGE
        })
    }
}

/// A plain message is about the arguments.
impl From<String> for Failed {
    fn from(message: String) -> Self {
        Self {
            network: false,
            message,
            tls: None,
        }
    }
}

fn usage(message: &str) -> ExitCode {
    Failed::from(message.to_owned()).report(false)
}

/// `scheme://host[:port]` of a URL, as a browser serialises it (the URL
/// standard's origin serialisation, by the `url` crate).
fn origin_of(uri: &Uri) -> String {
    url::Url::parse(&uri.to_string())
        .map_or_else(|_| "null".to_owned(), |u| u.origin().ascii_serialization())
}

fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(uri),
        _ => Err(format!(
            "`{url}`: write an absolute http or https URL, e.g. `http://127.0.0.1:8000/users`"
        )),
    }
}

/// The HTTP client: http and https (HTTP/2 or HTTP/1.1 by ALPN, as a
/// browser), trusting the system's roots and `--cacert`.
struct Http {
    client: Client<heard::Listening<tls::Connector>, Full<Bytes>>,
    timeout: Duration,
    /// With `--insecure`: the certificate problems let through.
    bypassed: Option<std::sync::Arc<tls::Bypassed>>,
    /// Trouble reading the system's trusted certificates.
    warnings: Vec<String>,
}

impl Http {
    fn new(args: &DoctorArgs) -> Result<Self, Failed> {
        let options = tls::ClientOptions {
            cacert: args.cacert.clone(),
            insecure: args.insecure,
        };
        let tls = options.build()?;
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(heard::Listening(tls::connector(
                HttpConnector::new(),
                tls.config,
                true,
            ))),
            timeout: Duration::from_secs_f64(args.timeout.clamp(0.1, 600.0)),
            bypassed: tls.bypassed,
            warnings: tls.warnings,
        })
    }

    /// What `--insecure` let through, as warnings (or that it changed
    /// nothing): every output it touches says so.
    fn insecure_warnings(&self) -> Vec<String> {
        let Some(bypassed) = &self.bypassed else {
            return Vec::new();
        };
        let seen = bypassed.take();
        if seen.is_empty() {
            return vec![
                "--insecure: every certificate met was valid, so it changed nothing".into(),
            ];
        }
        seen.into_iter()
            .map(|(host, problem)| {
                format!(
                    "--insecure: the certificate of {host} was NOT verified: a browser refuses it with {} ({}); the verdict above holds only once that is fixed: {}",
                    problem.net_error, problem.what, problem.fix
                )
            })
            .collect()
    }

    async fn send(
        &self,
        method: &str,
        uri: &Uri,
        headers: &[(String, String)],
        body: Option<&str>,
    ) -> Result<(u16, HeaderMap, Vec<String>), Failed> {
        let method_name = method.to_owned();
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("`{method}` is not a valid method"))?;
        let mut request = http::Request::builder().method(method).uri(uri.clone());
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid header name"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("`{value}` is not a valid header value"))?;
            request = request.header(name, value);
        }
        let body = Full::new(Bytes::from(body.unwrap_or_default().to_owned()));
        let request = request.body(body).map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| Failed::network(format!("{uri}: no answer within {:?}", self.timeout)))?
            .map_err(|e| match tls::Problem::find(&e) {
                Some(problem) => Failed {
                    network: true,
                    message: format!("{uri}: {}", problem.what),
                    tls: Some(Box::new(TlsFailure {
                        method: method_name.clone(),
                        url: uri.to_string(),
                        problem,
                    })),
                },
                None => Failed::network(unreachable(uri, &e)),
            })?;
        let (parts, body) = response.into_parts();
        let heard = parts.extensions.get::<heard::Heard>();
        let spelled = heard.and_then(heard::Heard::names).unwrap_or_else(|| {
            // HTTP/2 (lower-case on the wire), or a head too long to keep.
            parts
                .headers
                .iter()
                .map(|(n, _)| n.as_str().to_owned())
                .collect()
        });
        // Drain the body so the connection can be reused; its content is not needed.
        let _ = tokio::time::timeout(self.timeout, body.collect()).await;
        if let Some(heard) = heard {
            heard.forget();
        }
        Ok((parts.status.as_u16(), parts.headers, spelled))
    }
}

/// Why a request got no answer, in plain words first (what failed, where,
/// what to check), then the error chain as detail.
fn unreachable(uri: &Uri, error: &(dyn std::error::Error + 'static)) -> String {
    use std::io::ErrorKind;
    let chain: Vec<&(dyn std::error::Error + 'static)> =
        std::iter::successors(Some(error), |e| e.source()).collect();
    let detail: Vec<String> = chain.iter().map(ToString::to_string).collect();
    let at = uri
        .authority()
        .map_or_else(|| uri.to_string(), ToString::to_string);
    let io = chain
        .iter()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let plain = match io {
        Some(ErrorKind::ConnectionRefused) => format!(
            "nothing is listening on {at} (connection refused): start the server, or check the host and port"
        ),
        Some(ErrorKind::TimedOut) => format!(
            "connecting to {at} timed out: is the host up, or is a firewall dropping the connection?"
        ),
        Some(
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof,
        ) => {
            format!(
                "{at} closed the connection without an HTTP answer: is it an HTTP server on that port?"
            )
        }
        _ if detail.iter().any(|d| d.contains("dns error")) => {
            format!("the host of {at} does not resolve: check its spelling")
        }
        _ => format!("no HTTP answer from {at}"),
    };
    format!(
        "cannot reach {uri}: {plain}\n  detail: {}",
        detail.join(": ")
    )
}

async fn diagnose(args: &DoctorArgs, engine: Engine) -> Result<Report, Failed> {
    let first = parse_url(&args.url)?;
    let raw_origin = args.origin.clone().unwrap_or_default();
    let origin = corsgate::Origin::parse(&raw_origin)
        .map_err(|e| format!("--origin: {e}\n  help: {}", e.help()))?
        .to_string();
    let credentials = match args.credentials.as_str() {
        "include" => Credentials::Include,
        "omit" => Credentials::Omit,
        _ => Credentials::SameOrigin,
    };
    let mut warnings = Vec::new();
    if origin != raw_origin {
        warnings.push(format!(
            "a browser sends the origin as `{origin}`, not `{raw_origin}`"
        ));
    }
    let method = browser::normalize_method(&args.method);
    let mut headers = Vec::new();
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            return Err(format!("-H `{header}`: write `Name: value`").into());
        };
        let (name, value) = (name.trim().to_owned(), value.trim().to_owned());
        if browser::is_forbidden_request_header(&name, &value) {
            warnings.push(format!(
                "a page cannot set `{name}`: the browser ignores it (dropped)"
            ));
            continue;
        }
        headers.push((name, value));
    }
    if args.body.is_some()
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), "text/plain;charset=UTF-8".into()));
    }
    let mut report = Report {
        url: first.to_string(),
        origin: origin.clone(),
        method: method.clone(),
        credentials,
        same_origin: origin_of(&first) == origin,
        preflight_reasons: browser::preflight_reasons(&method, &headers),
        exchanges: Vec::new(),
        blocked: None,
        readable: Vec::new(),
        warnings,
        xhr: args.xhr,
        headers: headers.clone(),
        wildcard_authorization: None,
        server_error: None,
        mixed_content: None,
    };
    let client = Http::new(args)?;
    if first.scheme_str() == Some("https") {
        report.warnings.extend(client.warnings.iter().cloned());
    }
    let mut report = follow(
        args, engine, report, &client, first, headers, method, origin,
    )
    .await?;
    report.warnings.extend(client.insecure_warnings());
    Ok(report)
}

/// The request as the browser makes it: mixed-content check, preflight,
/// request, and each redirect, until an answer or a block.
#[allow(clippy::too_many_arguments)]
async fn follow(
    args: &DoctorArgs,
    engine: Engine,
    mut report: Report,
    client: &Http,
    first: Uri,
    mut headers: Vec<(String, String)>,
    method: String,
    origin: String,
) -> Result<Report, Failed> {
    let credentials = report.credentials;
    match MixedContent::check(&origin, &first, None) {
        Mixed::Blocked(blocked) => {
            report.mixed_content = Some(blocked);
            return Ok(report);
        }
        Mixed::Warned(warning) => report.warnings.push(warning),
        Mixed::No => {}
    }
    if report.same_origin {
        let (status, received, spelled) = client
            .send(&method, &first, &headers, args.body.as_deref())
            .await?;
        report.exchanges.push(Exchange {
            step: "request",
            method,
            url: first.to_string(),
            sent: headers,
            status,
            received,
            spelled,
        });
        return Ok(report);
    }

    let (mut uri, mut current_origin, mut method, mut body) =
        (first.clone(), origin.clone(), method, args.body.clone());
    for hop in 0..=20 {
        let redirected_from = (hop > 0).then(|| first.to_string());
        let unsafe_names = browser::unsafe_header_names(&headers);
        let needs_preflight = !browser::is_safelisted_method(&method) || !unsafe_names.is_empty();
        if needs_preflight {
            // Firefox's preflight after a cross-origin redirect still
            // carries the page's origin; Chromium's and WebKit's `null`.
            let preflight_origin = if engine.preflight_keeps_page_origin() {
                origin.clone()
            } else {
                current_origin.clone()
            };
            let mut sent = vec![
                ("Accept".to_owned(), "*/*".to_owned()),
                ("Origin".to_owned(), preflight_origin.clone()),
                ("Access-Control-Request-Method".to_owned(), method.clone()),
            ];
            if !unsafe_names.is_empty() {
                sent.push((
                    "Access-Control-Request-Headers".to_owned(),
                    unsafe_names.join(","),
                ));
            }
            // The preflight is the browser's own: a page's console names the
            // request it made (`PUT …`), not the OPTIONS.
            let (status, received, spelled) = client
                .send("OPTIONS", &uri, &sent, None)
                .await
                .map_err(|failed| failed.of_request(&method))?;
            let check = browser::preflight_check(
                status,
                &received,
                &preflight_origin,
                credentials,
                &method,
                &unsafe_names,
            );
            report.exchanges.push(Exchange {
                step: "preflight",
                method: "OPTIONS".into(),
                url: uri.to_string(),
                sent,
                status,
                received,
                spelled,
            });
            match check {
                Ok(grant) => {
                    if grant
                        .warnings
                        .contains(&browser::Warning::AuthorizationCoveredByWildcard)
                    {
                        report.wildcard_authorization = Some(uri.to_string());
                    }
                    report
                        .warnings
                        .extend(grant.warnings.iter().map(ToString::to_string));
                }
                Err(failure) => {
                    report.blocked = Some(Blocked {
                        step: "preflight",
                        failure,
                        preflight: true,
                        url: uri.to_string(),
                        redirected_from,
                        origin: preflight_origin,
                        redirect_to: None,
                    });
                    return Ok(report);
                }
            }
        }
        let mut sent = headers.clone();
        sent.push(("Origin".to_owned(), current_origin.clone()));
        let (status, received, spelled) =
            client.send(&method, &uri, &sent, body.as_deref()).await?;
        let check = browser::cors_check(&received, &current_origin, credentials);
        let location = received
            .get(http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let redirect = matches!(status, 301 | 302 | 303 | 307 | 308) && location.is_some();
        let step = if redirect {
            "redirect"
        } else {
            "actual request"
        };
        report.exchanges.push(Exchange {
            step,
            method: method.clone(),
            url: uri.to_string(),
            sent,
            status,
            received: received.clone(),
            spelled,
        });
        report.server_error = ServerError::of(status, check.is_err());
        if let Err(failure) = check {
            report.blocked = Some(Blocked {
                step,
                failure,
                preflight: false,
                url: uri.to_string(),
                redirected_from,
                origin: current_origin,
                redirect_to: location
                    .filter(|_| redirect)
                    .and_then(|l| resolve(&uri, &l).ok())
                    .map(|next| next.to_string()),
            });
            return Ok(report);
        }
        if !redirect {
            report.readable = browser::readable_headers(&received, credentials);
            return Ok(report);
        }
        // Follow the redirect as Fetch § HTTP-redirect fetch does.
        let location = location.unwrap_or_default();
        let next = resolve(&uri, &location)?;
        // Fetch § HTTP-redirect fetch: a cross-origin hop of a request whose
        // origin is not the current URL's taints the origin: `null` from now on.
        let cross_origin = origin_of(&next) != origin_of(&uri);
        if cross_origin && origin != origin_of(&uri) {
            current_origin = "null".into();
        }
        if cross_origin {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("authorization"));
        }
        if (matches!(status, 301 | 302) && method == "POST")
            || (status == 303 && method != "GET" && method != "HEAD")
        {
            method = "GET".into();
            body = None;
            headers.retain(|(n, _)| {
                ![
                    "content-type",
                    "content-language",
                    "content-encoding",
                    "content-location",
                ]
                .iter()
                .any(|h| n.eq_ignore_ascii_case(h))
            });
        }
        match MixedContent::check(&origin, &next, Some(&first)) {
            Mixed::Blocked(blocked) => {
                report.mixed_content = Some(blocked);
                return Ok(report);
            }
            Mixed::Warned(warning) => report.warnings.push(warning),
            Mixed::No => {}
        }
        report.warnings.push(format!(
            "redirected to {next}{}",
            if current_origin == "null" {
                " (the origin becomes `null`)"
            } else {
                ""
            }
        ));
        uri = next;
    }
    Err(Failed::network(
        "more than 20 redirects: the browser gives up with a network error".into(),
    ))
}

/// A redirect's `Location` resolved against the URL that answered, as the
/// URL standard says (`..`, `?query`, `//host/path` and absolute URLs),
/// by the `url` crate.
fn resolve(base: &Uri, location: &str) -> Result<Uri, String> {
    let base = url::Url::parse(&base.to_string()).map_err(|e| format!("redirect: {e}"))?;
    let next = base
        .join(location)
        .map_err(|e| format!("redirect: `{location}` is not a URL: {e}"))?;
    parse_url(next.as_str()).map_err(|e| format!("redirect: {e}"))
}

/// The fix for a failure: the header the server must send, and the
/// corsgate and django-cors-headers settings that produce it.
/// One way to fix a failure: the header the server must send, the corsgate
/// and django-cors-headers settings that send it, or a note.
#[derive(Debug, Default, Serialize)]
struct Fix {
    #[serde(skip_serializing_if = "Option::is_none")]
    header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    corsgate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    django: Option<String>,
    /// The same fix as `CORS_*` environment variables (corsgate proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Fix {
    fn note(text: impl Into<String>) -> Self {
        Self {
            note: Some(text.into()),
            ..Self::default()
        }
    }
}

fn fixes(blocked: &Blocked, report: &Report) -> Vec<Fix> {
    let origin = &report.origin;
    let fix = |header: &str, corsgate: &str, django: &str, env: String| Fix {
        header: Some(header.to_owned()),
        corsgate: Some(corsgate.to_owned()),
        django: Some(django.to_owned()),
        env: Some(env),
        note: None,
    };
    match &blocked.failure {
        Failure::MissingAllowOriginHeader
        | Failure::AllowOriginMismatch { .. }
        | Failure::InvalidAllowOriginValue { .. } => {
            let mut out = vec![fix(
                &format!("Access-Control-Allow-Origin: {}", blocked.origin),
                &format!(
                    "add `\"{origin}\"` to `allowed_origins` (corsgate proxy: `--allow-origin {origin}`)"
                ),
                &format!("add `\"{origin}\"` to `CORS_ALLOWED_ORIGINS`"),
                format!("`CORS_ALLOWED_ORIGINS={origin}` (the variable replaces the whole list: keep the origins already in it, comma-separated)"),
            )];
            if blocked.origin == "null" {
                out.push(Fix::note("the origin became `null` after a cross-origin redirect: request the final URL directly instead of allowing `null`"));
            }
            if blocked.preflight && matches!(blocked.failure, Failure::MissingAllowOriginHeader) {
                out.push(Fix::note("the preflight (OPTIONS) got no CORS headers: the CORS middleware must answer OPTIONS before any auth or routing (corsgate answers preflights itself)"));
            }
            out
        }
        Failure::MultipleAllowOriginValues { .. } => vec![Fix {
            header: Some(format!("Access-Control-Allow-Origin: {origin} (exactly one)")),
            note: Some("two layers add the header (the app and a proxy or middleware): keep one; `corsgate proxy` replaces the back-end's copy".into()),
            ..Fix::default()
        }],
        Failure::WildcardOriginNotAllowed => vec![fix(
            &format!(
                "Access-Control-Allow-Origin: {origin} and Access-Control-Allow-Credentials: true"
            ),
            &format!("list `\"{origin}\"` in `allowed_origins` and set `allow_credentials = true`"),
            &format!(
                "set `CORS_ALLOWED_ORIGINS = [\"{origin}\"]` and `CORS_ALLOW_CREDENTIALS = True`"
            ),
            format!("`CORS_ALLOWED_ORIGINS={origin}` and `CORS_ALLOW_CREDENTIALS=true`, with `CORS_ALLOW_ALL_ORIGINS` unset"),
        )],
        Failure::InvalidAllowCredentials { .. } => vec![
            fix(
                "Access-Control-Allow-Credentials: true",
                "set `allow_credentials = true` (corsgate proxy: `--allow-credentials`)",
                "set `CORS_ALLOW_CREDENTIALS = True`",
                "`CORS_ALLOW_CREDENTIALS=true`".to_owned(),
            ),
            Fix::note("or, if the page needs no cookies, drop `credentials: \"include\"` from the fetch() call"),
        ],
        Failure::PreflightInvalidStatus => vec![Fix {
            header: Some("a 2xx status for OPTIONS".into()),
            note: Some("the server answers the preflight (OPTIONS) with an error: put the CORS middleware first, before auth and routing; corsgate answers preflights itself with 200".into()),
            ..Fix::default()
        }],
        Failure::PreflightDisallowedRedirect => vec![Fix::note(
            "the preflight was redirected (often http→https or a missing trailing slash): request the final URL directly",
        )],
        Failure::MethodDisallowedByPreflightResponse { method } => {
            // Methods compare case-sensitively.
            let all = completed(report, &http::header::ACCESS_CONTROL_ALLOW_METHODS, corsgate::DEFAULT_METHODS, method, str::eq);
            let mut out = vec![fix(
                &format!("Access-Control-Allow-Methods: {}", all.join(", ")),
                &format!(
                    "set `allow_methods = {}` (TOML; in JSON `\"allow_methods\": {0}`): what the server allows now, plus `{method}` — a list with `{method}` alone would drop the others (corsgate proxy: `--allow-method {method}`, which adds)",
                    quoted_list(&all)
                ),
                &format!(
                    "add `\"{method}\"` to `CORS_ALLOW_METHODS`, keeping the others: `CORS_ALLOW_METHODS = (*default_methods, \"{method}\")`"
                ),
                format!("`CORS_ALLOW_METHODS={}` (the whole list)", all.join(",")),
            )];
            if method.chars().any(|c| c.is_ascii_lowercase()) {
                out.push(Fix::note(format!("methods are case-sensitive and fetch() does not upper-case `{method}`: write `{}` in the page", method.to_ascii_uppercase())));
            }
            out
        }
        Failure::HeaderDisallowedByPreflightResponse { header } => {
            let all = completed(report, &http::header::ACCESS_CONTROL_ALLOW_HEADERS, corsgate::DEFAULT_HEADERS, header, str::eq_ignore_ascii_case);
            vec![fix(
                &format!("Access-Control-Allow-Headers: {}", all.join(", ")),
                &format!(
                    "set `allow_headers = {}` (TOML; in JSON `\"allow_headers\": {0}`): what the server allows now, plus `{header}` — a list with `{header}` alone would drop the others, `content-type` among them (corsgate proxy: `--allow-header {header}`, which adds)",
                    quoted_list(&all)
                ),
                &format!(
                    "add `\"{header}\"` to `CORS_ALLOW_HEADERS`, keeping the others: `CORS_ALLOW_HEADERS = (*default_headers, \"{header}\")`"
                ),
                format!("`CORS_ALLOW_HEADERS={}` (the whole list)", all.join(",")),
            )]
        }
        Failure::InvalidAllowMethodsPreflightResponse
        | Failure::InvalidAllowHeadersPreflightResponse => vec![Fix::note(
            "send a comma-separated list of tokens, e.g. `GET, POST, PUT` / `content-type, x-api-key`",
        )],
        _ => Vec::new(),
    }
}

/// The complete list a fix must set: what the preflight's answer allows
/// now (or, without that header, django-cors-headers' defaults) plus the
/// missing item — never the missing item alone, which would replace the
/// rest.
fn completed(
    report: &Report,
    name: &http::HeaderName,
    defaults: &[&str],
    missing: &str,
    same: fn(&str, &str) -> bool,
) -> Vec<String> {
    let answered = report
        .exchanges
        .iter()
        .rev()
        .find(|e| e.method == "OPTIONS")
        .and_then(|e| {
            let values: Vec<String> = e
                .received
                .get_all(name)
                .iter()
                .flat_map(|v| {
                    String::from_utf8_lossy(v.as_bytes())
                        .split(',')
                        .map(|i| i.trim().to_owned())
                        .collect::<Vec<_>>()
                })
                .filter(|i| !i.is_empty())
                .collect();
            (!values.is_empty()).then_some(values)
        });
    let mut all = answered.unwrap_or_else(|| defaults.iter().map(|d| (*d).to_owned()).collect());
    if !all.iter().any(|have| same(have, missing)) {
        all.push(missing.to_owned());
    }
    all
}

/// `["a", "b"]`: a list as TOML and JSON both write it.
fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn cors_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| {
            n.as_str().starts_with("access-control-")
                || *n == http::header::VARY
                || *n == http::header::LOCATION
        })
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// A request as the JSON shows it: method, URL, headers as `[name, value]`.
#[derive(Debug, Serialize)]
struct RequestJson<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [(String, String)],
}

/// A response as the JSON shows it: status and its CORS headers.
#[derive(Debug, Serialize)]
struct ResponseJson {
    status: u16,
    headers: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
struct ExchangeJson<'a> {
    step: &'static str,
    request: RequestJson<'a>,
    response: ResponseJson,
}

#[derive(Debug, Serialize)]
struct PreflightJson<'a> {
    needed: bool,
    reasons: &'a [String],
    request: Option<RequestJson<'a>>,
    response: Option<ResponseJson>,
}

/// What `corsgate doctor --json` prints (a contract for other tools,
/// versioned by `schema`); the text output renders the same value.
#[derive(Debug, Serialize)]
struct DoctorJson<'a> {
    /// Changes only when a field is removed or changes meaning.
    schema: u32,
    verdict: &'static str,
    url: &'a str,
    origin: &'a str,
    method: &'a str,
    credentials: &'static str,
    same_origin: bool,
    preflight: PreflightJson<'a>,
    failing_step: Option<&'static str>,
    error_kind: Option<&'static str>,
    console_message: Option<String>,
    /// Each engine asked for: its verdict, name and console lines.
    engines: EnginesJson,
    readable_headers: &'a [String],
    fixes: Vec<Fix>,
    warnings: &'a [String],
    /// The final answer was a 5xx: its status and what it means.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_error: Option<&'a ServerError>,
    exchanges: Vec<ExchangeJson<'a>>,
    /// The exchanges' requests and responses in full, for the text output.
    #[serde(skip)]
    shown: Vec<(&'a Exchange, Vec<(String, String)>)>,
    /// Each engine's console lines, for the text output.
    #[serde(skip)]
    says: Vec<(Engine, Vec<String>)>,
    /// When the engines disagree: each one's verdict and the check it
    /// fails first.
    #[serde(skip)]
    disagreement: Vec<(Engine, &'static str, Option<&'static str>)>,
}

/// What a disagreement between engines usually means for the server.
fn disagreement_hints(
    causes: &[(Engine, &'static str, Option<&'static str>)],
) -> Vec<&'static str> {
    let mut hints = Vec::new();
    let status_first = causes
        .iter()
        .any(|(e, _, c)| *e == Engine::Webkit && *c == Some("PreflightInvalidStatus"))
        && causes
            .iter()
            .any(|(_, _, c)| c.is_some_and(|c| c != "PreflightInvalidStatus"));
    if status_first {
        hints.push(
            "WebKit (Safari) checks the preflight's status before its CORS headers: the OPTIONS answer must be 2xx as well, or Safari stays blocked once Chromium and Firefox pass",
        );
    }
    let verdicts_differ = causes.iter().any(|(_, v, _)| *v != causes[0].1);
    if verdicts_differ {
        hints.push(
            "after a cross-origin redirect Firefox's preflight carries the page's origin while Chromium's and WebKit's carry `null`: answer both, or avoid redirecting a preflighted request to another origin",
        );
    }
    hints
}

/// `engines` in `doctor --json`: the engines asked for.
#[derive(Debug, Default, Serialize)]
struct EnginesJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    chromium: Option<EngineJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    firefox: Option<EngineJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webkit: Option<EngineJson>,
}

impl EnginesJson {
    fn get(&self, engine: Engine) -> Option<&EngineJson> {
        match engine {
            Engine::Chromium => self.chromium.as_ref(),
            Engine::Firefox => self.firefox.as_ref(),
            Engine::Webkit => self.webkit.as_ref(),
        }
    }
}

/// One engine's verdict, its name for the failure and what it prints.
#[derive(Debug, Serialize)]
struct EngineJson {
    verdict: &'static str,
    error_kind: Option<&'static str>,
    /// Every console line, in order.
    console_messages: Vec<String>,
    /// The first.
    console_message: Option<String>,
}

impl Exchange {
    fn request_json(&self) -> RequestJson<'_> {
        RequestJson {
            method: &self.method,
            url: &self.url,
            headers: &self.sent,
        }
    }

    fn response_json(&self) -> ResponseJson {
        ResponseJson {
            status: self.status,
            headers: cors_headers(&self.received),
        }
    }
}

impl Report {
    fn is_blocked(&self) -> bool {
        self.blocked.is_some() || self.mixed_content.is_some()
    }

    fn verdict(&self) -> &'static str {
        if self.is_blocked() {
            "blocked"
        } else {
            "allowed"
        }
    }

    fn api(&self) -> browser::Api {
        if self.xhr {
            browser::Api::XmlHttpRequest
        } else {
            browser::Api::Fetch
        }
    }

    /// What `engine` names the block and prints; `None` when allowed.
    /// Mixed content is modelled for Chromium only (docs/engines.md).
    fn said(&self, engine: Engine) -> Option<Said> {
        if let Some(mixed) = &self.mixed_content {
            return Some(Said {
                error_kind: "MixedContent",
                lines: if engine == Engine::Chromium {
                    vec![mixed.console_message(self.xhr)]
                } else {
                    Vec::new()
                },
            });
        }
        let Some(b) = self.blocked.as_ref() else {
            // Allowed: only Firefox prints something, a warning.
            return self
                .wildcard_authorization
                .as_deref()
                .filter(|_| engine == Engine::Firefox)
                .map(|url| Said {
                    error_kind: "CORSAllowHeaderFromPreflightDeprecation",
                    lines: vec![engines::firefox_authorization_warning(url)],
                });
        };
        let failing = self.exchanges.last()?;
        Some(engines::said(
            engine,
            &Block {
                api: self.api(),
                stage: b.stage(),
                failure: &b.failure,
                url: &b.url,
                redirected_from: b.redirected_from.as_deref(),
                page_origin: &self.origin,
                request_origin: &b.origin,
                status: failing.status,
                received: &failing.received,
                spelled: &failing.spelled,
                redirect_to: b.redirect_to.as_deref(),
                page_headers: &self.headers,
            },
        ))
    }

    /// Where the engines part ways: which check fails first, in
    /// corsgate's terms (WebKit looks at a preflight's status first).
    fn cause(&self, engine: Engine) -> Option<&'static str> {
        if self.mixed_content.is_some() {
            return Some("MixedContent");
        }
        let b = self.blocked.as_ref()?;
        let status = self.exchanges.last().map_or(0, |e| e.status);
        if engine.checks_status_first(b.stage(), status) {
            return Some("PreflightInvalidStatus");
        }
        Some(b.failure.name())
    }

    /// The JSON for the engines asked for, the first one's report being
    /// `self`.
    fn to_json<'a>(&'a self, engines: &[(Engine, &'a Report)]) -> DoctorJson<'a> {
        let preflight = self.exchanges.iter().find(|e| e.step == "preflight");
        let first = engines.first().map_or(Engine::Chromium, |(e, _)| *e);
        let mut all = EnginesJson::default();
        let mut says = Vec::new();
        let mut causes = Vec::new();
        for (engine, report) in engines {
            let said = report.said(*engine);
            let lines = said.as_ref().map_or_else(Vec::new, |s| s.lines.clone());
            says.push((*engine, lines.clone()));
            causes.push((*engine, report.verdict(), report.cause(*engine)));
            let json = EngineJson {
                verdict: report.verdict(),
                // A warning's name is not a failure's.
                error_kind: said
                    .as_ref()
                    .filter(|_| report.is_blocked())
                    .map(|s| s.error_kind),
                console_message: lines.first().cloned(),
                console_messages: lines,
            };
            match engine {
                Engine::Chromium => all.chromium = Some(json),
                Engine::Firefox => all.firefox = Some(json),
                Engine::Webkit => all.webkit = Some(json),
            }
        }
        // The top-level fields are the first engine's (`self` is its report);
        // a console line of an allowed request (Firefox's warning) is not one.
        let first_json = all.get(first);
        let error_kind = first_json.and_then(|e| e.error_kind);
        let console_message = first_json
            .filter(|_| self.is_blocked())
            .and_then(|e| e.console_message.clone());
        let disagree = causes
            .iter()
            .any(|(_, verdict, cause)| (*verdict, *cause) != (causes[0].1, causes[0].2));
        DoctorJson {
            schema: 1,
            verdict: self.verdict(),
            url: &self.url,
            origin: &self.origin,
            method: &self.method,
            credentials: self.credentials.as_str(),
            same_origin: self.same_origin,
            preflight: PreflightJson {
                needed: !self.same_origin && !self.preflight_reasons.is_empty(),
                reasons: &self.preflight_reasons,
                request: preflight.map(Exchange::request_json),
                response: preflight.map(Exchange::response_json),
            },
            failing_step: match &self.mixed_content {
                Some(_) => Some("mixed content"),
                None => self.blocked.as_ref().map(|b| b.step),
            },
            error_kind,
            console_message,
            engines: all,
            readable_headers: &self.readable,
            fixes: match (&self.mixed_content, &self.blocked) {
                (Some(mixed), _) => mixed.fixes(),
                (None, Some(b)) => fixes(b, self),
                (None, None) => Vec::new(),
            },
            warnings: &self.warnings,
            server_error: self.server_error.as_ref(),
            exchanges: self
                .exchanges
                .iter()
                .map(|e| ExchangeJson {
                    step: e.step,
                    request: e.request_json(),
                    response: e.response_json(),
                })
                .collect(),
            shown: self
                .exchanges
                .iter()
                .map(|e| (e, cors_headers(&e.received)))
                .collect(),
            says,
            disagreement: if disagree { causes } else { Vec::new() },
        }
    }
}

impl std::fmt::Display for DoctorJson<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.verdict == "blocked" {
            "BLOCKED"
        } else {
            "ALLOWED"
        };
        writeln!(
            f,
            "{verdict}: {} {} from origin {} (credentials: {})",
            self.method, self.url, self.origin, self.credentials
        )?;
        if let Some(error) = self.server_error {
            writeln!(f, "\nbut: {}", error.message)?;
        }
        if self.same_origin {
            return writeln!(f, "\nsame-origin request: CORS does not apply");
        }
        let mixed = self.failing_step == Some("mixed content");
        if mixed {
            writeln!(
                f,
                "\nmixed content: an https page may not fetch a plain-http URL; the browser blocks it before CORS is consulted, and sends nothing"
            )?;
        } else if self.preflight.reasons.is_empty() {
            writeln!(
                f,
                "\npreflight: not sent (a safelisted method with safelisted headers)"
            )?;
        } else {
            writeln!(f, "\npreflight: sent, because")?;
            for reason in self.preflight.reasons {
                writeln!(f, "  - {reason}")?;
            }
        }
        for (e, shown) in &self.shown {
            write!(f, "\n{}:\n  > {} {}\n", e.step, e.method, e.url)?;
            for (n, v) in &e.sent {
                writeln!(f, "  > {n}: {v}")?;
            }
            writeln!(f, "  < {}", e.status)?;
            if shown.is_empty() {
                writeln!(f, "  < (no CORS headers)")?;
            }
            for (n, v) in shown {
                writeln!(f, "  < {n}: {v}")?;
            }
        }
        if let (Some(step), Some(kind)) = (self.failing_step, self.error_kind) {
            writeln!(f, "\nfailing step: {step} ({kind})")?;
            for (engine, lines) in &self.says {
                writeln!(f, "{} says:", engine.label())?;
                // Chromium's `Failed to load resource: net::ERR_FAILED`
                // follows every block: only its CORS line is shown.
                let shown = if *engine == Engine::Chromium {
                    1
                } else {
                    lines.len()
                };
                if lines.is_empty() {
                    writeln!(f, "  (its console line is not modelled: docs/engines.md)")?;
                }
                for line in lines.iter().take(shown) {
                    writeln!(f, "  {line}")?;
                }
            }
            writeln!(f, "fix:")?;
            for fix in &self.fixes {
                for (label, text) in [
                    ("the server must send", &fix.header),
                    ("corsgate", &fix.corsgate),
                    ("django-cors-headers", &fix.django),
                    ("environment", &fix.env),
                    ("note", &fix.note),
                ] {
                    if let Some(text) = text {
                        writeln!(f, "  {label}: {text}")?;
                    }
                }
            }
        } else {
            writeln!(
                f,
                "\nthe page can read these response headers: {}",
                if self.readable_headers.is_empty() {
                    "(none)".to_owned()
                } else {
                    self.readable_headers.join(", ")
                }
            )?;
        }
        if !self.disagreement.is_empty() {
            writeln!(f, "\nthe engines disagree:")?;
            for (engine, verdict, cause) in &self.disagreement {
                writeln!(
                    f,
                    "  {}: {verdict}{}",
                    engine.label(),
                    cause.map_or_else(String::new, |c| format!(", first failing check {c}"))
                )?;
            }
            for hint in disagreement_hints(&self.disagreement) {
                writeln!(f, "  {hint}")?;
            }
        }
        for warning in self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// `--scan`: probe origins derived from the target host, each sent as a
/// plain GET and as a preflight; report where the probe is reflected.
async fn scan(args: &DoctorArgs) -> ExitCode {
    let uri = match parse_url(&args.url) {
        Ok(uri) => uri,
        Err(e) => return usage(&e),
    };
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let dotted = host
        .rfind('.')
        .map(|i| format!("{}x{}", &host[..i], &host[i + 1..]));
    // Each look-alike from an https and an http origin, the target's
    // scheme first: an attacker serves the page from whichever the server
    // trusts, and a policy may trust only one (django's
    // `^https://api\.example\.com` trusts `https://api.example.com.evil.example`,
    // not its http twin).
    let (first, second) = if uri.scheme_str() == Some("https") {
        ("https", "http")
    } else {
        ("http", "https")
    };
    let both = |rest: &str| vec![format!("{first}://{rest}"), format!("{second}://{rest}")];
    let mut probes: Vec<(&'static str, Vec<String>, &str)> = vec![
        (
            "reflect-any-origin",
            both("evil.example"),
            "the server reflects any origin",
        ),
        (
            "null-trusted",
            vec!["null".into()],
            "`null` is trusted: any sandboxed iframe or data: URL can read responses",
        ),
        (
            "prefix-match",
            both(&format!("{host}.evil.example")),
            "a domain that starts with the target's name is trusted",
        ),
        (
            "suffix-match",
            both(&format!("evil{host}")),
            "a domain that ends with the target's name is trusted",
        ),
        (
            "any-subdomain",
            both(&format!("evil.{host}")),
            "every subdomain is trusted: a script injection or takeover on any of them reads responses",
        ),
        (
            "special-character",
            both(&format!("{host}_.evil.example")),
            "a parser accepts `_` after the target's name",
        ),
        (
            "third-party",
            both("whatever.github.io"),
            "a site where anyone can publish pages is trusted",
        ),
    ];
    if uri.scheme_str() == Some("https") {
        probes.push((
            "http-origin-trusted",
            vec![format!("http://{host}")],
            "the site's http:// origin is trusted by its https API: anyone on the network path (public Wi-Fi) can inject a script into the plain-http page, and it reads the API's responses",
        ));
    }
    if let Some(dotted) = dotted {
        probes.push((
            "unescaped-dot",
            both(&dotted),
            "a regex with an unescaped `.` matches a look-alike domain",
        ));
    }
    let client = match Http::new(args) {
        Ok(client) => client,
        Err(failed) => return failed.report(args.json),
    };
    let mut findings = Vec::new();
    for (class, variants, why) in &probes {
        'probe: for (variant, probe) in variants.iter().enumerate() {
            for preflight in [false, true] {
                let mut sent = vec![("Origin".to_owned(), probe.clone())];
                let method = if preflight {
                    sent.push(("Access-Control-Request-Method".to_owned(), "PUT".to_owned()));
                    "OPTIONS"
                } else {
                    "GET"
                };
                let (_, headers, _) = match client.send(method, &uri, &sent, None).await {
                    Ok(answer) => answer,
                    Err(failed) => return failed.report(args.json),
                };
                let acao = headers
                    .get(http::header::ACCESS_CONTROL_ALLOW_ORIGIN)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                let credentials = headers
                    .get(http::header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                    .is_some_and(|v| v == "true");
                let varies = headers.get_all(http::header::VARY).iter().any(|v| {
                    v.to_str()
                        .is_ok_and(|v| v.to_ascii_lowercase().contains("origin") || v.contains('*'))
                });
                if acao.as_deref() == Some(probe.as_str()) {
                    findings.push(ScanFinding {
                        class,
                        probe: probe.clone(),
                        request: method,
                        severity: if credentials {
                            Severity::High
                        } else {
                            Severity::Medium
                        },
                        credentials,
                        why: if credentials {
                            format!("{why}, with credentials: it can read a logged-in user's data")
                        } else {
                            (*why).to_owned()
                        },
                    });
                    if !varies {
                        findings.push(ScanFinding {
                        class: "missing-vary-origin",
                        probe: probe.clone(),
                        request: method,
                        severity: Severity::Medium,
                        credentials,
                        why: "the answer depends on Origin but has no `Vary: Origin`: a shared cache can serve one origin's answer to another".into(),
                    });
                    }
                    break 'probe;
                }
                // Said once, for the first scheme's GET.
                if acao.as_deref() == Some("*")
                    && *class == "reflect-any-origin"
                    && variant == 0
                    && !preflight
                {
                    findings.push(ScanFinding {
                    class: "wildcard",
                    probe: probe.clone(),
                    request: method,
                    severity: if credentials { Severity::Low } else { Severity::Info },
                    credentials,
                    why: if credentials {
                        "`*` with credentials is refused by browsers: the policy is broken, not exploitable"
                    } else {
                        "every site can read responses without credentials: fine for public data only"
                    }
                    .into(),
                });
                }
            }
        }
    }
    let count = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .count();
    if args.json {
        let report = ScanJson {
            schema: 1,
            url: uri.to_string(),
            probes: probes.len(),
            findings: &findings,
            root_causes: root_causes(&findings),
        };
        exit::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ));
    } else {
        exit::print(&format!(
            "scan of {uri}: {} probes, each as GET and as a preflight, look-alikes from https and http origins\n",
            probes.len()
        ));
        // One entry per cause, not per probe: a server that reflects any
        // origin would otherwise list every look-alike probe, and the
        // missing `Vary` once for each.
        let causes = root_causes(&findings);
        for c in &causes {
            exit::print(&format!(
                "{}: {} [{}] origin `{}` ({})\n  why: {}\n",
                c.severity,
                c.class,
                c.requests.join(", "),
                c.probe,
                if c.credentials {
                    "with credentials"
                } else {
                    "without credentials"
                },
                c.why
            ));
            if !c.explains.is_empty() {
                exit::print(&format!(
                    "  this also explains the probes: {}\n",
                    c.explains.join(", ")
                ));
            }
        }
        exit::print(&format!(
            "{}\n",
            match (causes.len(), findings.len()) {
                (0, _) => "no findings".to_owned(),
                (c, f) if c == f => format!("{f} findings"),
                (c, f) => format!("{f} findings from {c} causes"),
            }
        ));
    }
    exit::code(if count > 0 { exit::BLOCKED } else { exit::OK })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(class: &'static str, request: &'static str, severity: Severity) -> ScanFinding {
        ScanFinding {
            class,
            probe: format!("http://{class}.example"),
            request,
            severity,
            credentials: severity == Severity::High,
            why: class.to_owned(),
        }
    }

    #[test]
    fn scan_findings_group_by_cause() {
        let findings = [
            finding("reflect-any-origin", "GET", Severity::Medium),
            finding("missing-vary-origin", "GET", Severity::Medium),
            finding("reflect-any-origin", "OPTIONS", Severity::High),
            finding("missing-vary-origin", "OPTIONS", Severity::Medium),
            finding("prefix-match", "GET", Severity::High),
            finding("null-trusted", "OPTIONS", Severity::High),
        ];
        let causes = root_causes(&findings);
        let summary: Vec<(&str, Severity, Vec<&str>, Vec<&str>)> = causes
            .iter()
            .map(|c| (c.class, c.severity, c.requests.clone(), c.explains.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "reflect-any-origin",
                    Severity::High,
                    vec!["GET", "OPTIONS"],
                    vec!["prefix-match", "null-trusted"]
                ),
                (
                    "missing-vary-origin",
                    Severity::Medium,
                    vec!["GET", "OPTIONS"],
                    vec![]
                ),
            ]
        );
        // Without reflection of any origin, each class is its own cause.
        let narrow = [
            finding("prefix-match", "GET", Severity::High),
            finding("null-trusted", "GET", Severity::Medium),
        ];
        let classes: Vec<&str> = root_causes(&narrow).iter().map(|c| c.class).collect();
        assert_eq!(classes, ["prefix-match", "null-trusted"]);
    }

    #[test]
    fn redirects_resolve_as_the_url_standard_says() {
        let base: Uri = "http://127.0.0.1:8000/api/v1/users?page=2".parse().unwrap();
        for (location, expected) in [
            ("/login", "http://127.0.0.1:8000/login"),
            ("next", "http://127.0.0.1:8000/api/v1/next"),
            ("../v2/users", "http://127.0.0.1:8000/api/v2/users"),
            ("?page=3", "http://127.0.0.1:8000/api/v1/users?page=3"),
            ("//127.0.0.1:9000/x", "http://127.0.0.1:9000/x"),
            ("http://localhost:5000/a", "http://localhost:5000/a"),
            (
                "https://api.example.com/users",
                "https://api.example.com/users",
            ),
        ] {
            assert_eq!(
                resolve(&base, location).unwrap().to_string(),
                expected,
                "{location}"
            );
        }
        // A scheme-relative location keeps the https of the URL that answered.
        let base: Uri = "https://api.example.com:8443/v1/users".parse().unwrap();
        for (location, expected) in [
            ("//cdn.example.com/x", "https://cdn.example.com/x"),
            ("../v2/", "https://api.example.com:8443/v2/"),
            (
                "http://api.example.com/v1/users",
                "http://api.example.com/v1/users",
            ),
        ] {
            assert_eq!(
                resolve(&base, location).unwrap().to_string(),
                expected,
                "{location}"
            );
        }
        assert!(resolve(&base, "ftp://files.example.com/").is_err());
    }

    #[test]
    fn mixed_content_spares_potentially_trustworthy_urls() {
        let mixed =
            |origin: &str, url: &str| MixedContent::check(origin, &url.parse().unwrap(), None);
        let check = |origin: &str, url: &str| matches!(mixed(origin, url), Mixed::Blocked(_));
        assert!(check("https://app.example", "http://api.example/x"));
        assert!(check("https://app.example", "http://93.184.215.14/x"));
        assert!(check("https://app.example", "http://api.internal/x"));
        // Local-network addresses: let through by Chromium, with a warning.
        for local in [
            "http://10.0.0.1/x",
            "http://172.16.5.4/x",
            "http://192.168.1.10:8000/x",
            "http://169.254.1.1/x",
            "http://100.64.0.1/x",
            "http://[fd00::1]/x",
            "http://[fe80::1]/x",
            "http://printer.local/x",
        ] {
            match mixed("https://app.example", local) {
                Mixed::Warned(w) => assert!(
                    w.contains("This content should also be served over HTTPS."),
                    "{w}"
                ),
                other => panic!("{local}: {other:?}"),
            }
        }
        assert!(check("https://app.example", "http://172.32.0.1/x"));
        assert!(!check("https://app.example", "https://api.example/x"));
        assert!(!check("http://app.example", "http://api.example/x"));
        assert!(!check("null", "http://api.example/x"));
        for trustworthy in [
            "http://localhost:8000/x",
            "http://api.localhost/x",
            "http://127.0.0.1:8000/x",
            "http://127.8.9.10/x",
            "http://[::1]:8000/x",
        ] {
            assert!(!check("https://app.example", trustworthy), "{trustworthy}");
        }
    }

    #[test]
    fn origins_serialise_as_browsers_do() {
        let origin = |u: &str| origin_of(&u.parse().unwrap());
        assert_eq!(origin("http://LOCALHOST:80/x"), "http://localhost");
        assert_eq!(origin("http://127.0.0.1:8000/x"), "http://127.0.0.1:8000");
    }
}
