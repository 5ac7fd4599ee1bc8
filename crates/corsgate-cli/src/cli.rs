//! The command line: the doc comments are the help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// CORS for any back-end, and a checker for CORS policies.
///
/// A front-end on one origin (http://127.0.0.1:5000) calling an API on
/// another (http://127.0.0.1:8000) is blocked by the browser unless the API
/// answers with the right Access-Control-* headers. `corsgate proxy` adds
/// them in front of an API you cannot or will not change; `corsgate check`
/// validates and security-audits a policy file; `corsgate doctor` explains
/// why a browser blocks a request; `corsgate demo` shows it all working.
#[derive(Debug, Parser)]
#[command(name = "corsgate", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// `HOST:PORT` with an IP address or a host name (`localhost:8090`); a
/// name resolving to several addresses takes the first IPv4 one.
fn socket_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| {
            format!(
                "`{text}` is not HOST:PORT ({e}); write e.g. `127.0.0.1:8080` or `localhost:8080`"
            )
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
}

/// What follows a help page, printed by [`after_help`] as written: clap
/// wraps its own text to the terminal, and a wrapped example breaks when
/// pasted (a `#` comment spilling onto a line of its own, a quoted argument
/// cut in two).
const AFTER_HELP: [(&str, &str); 5] = [
    ("proxy", PROXY_EXAMPLES),
    ("check", CHECK_EXAMPLES),
    ("doctor", DOCTOR_EXAMPLES),
    ("demo", DEMO_EXAMPLES),
    ("export", EXPORT_EXAMPLES),
];

/// The examples and notes for the help page `args` asked for (the first
/// subcommand named, or the top level's exit codes).
pub(crate) fn after_help<I: IntoIterator<Item = String>>(args: I) -> &'static str {
    let args: Vec<String> = args.into_iter().collect();
    args.iter()
        .find_map(|arg| {
            AFTER_HELP
                .iter()
                .find(|(name, _)| name == arg)
                .map(|(_, text)| *text)
        })
        .unwrap_or(crate::exit::HELP)
}

/// Parses the command line; on `--help` (or `help COMMAND`), prints clap's
/// page then [`after_help`]'s text unwrapped; on an error, clap's message.
pub(crate) fn parse() -> Result<Cli, std::process::ExitCode> {
    use clap::error::ErrorKind;
    match <Cli as Parser>::try_parse() {
        Ok(cli) => Ok(cli),
        Err(error) => {
            let code = u8::try_from(error.exit_code()).unwrap_or(crate::exit::USAGE);
            let _ = error.print();
            if error.kind() == ErrorKind::DisplayHelp {
                crate::exit::print(&format!("\n{}\n", after_help(std::env::args().skip(1))));
            }
            Err(crate::exit::code(code))
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Put CORS in front of an unmodified back-end: a reverse proxy that
    /// answers preflights and adds CORS headers to every response.
    Proxy(Box<ProxyArgs>),
    /// Validate a policy file (TOML, JSON or a Django settings.py) and
    /// audit it for security problems.
    Check(CheckArgs),
    /// Send what a browser would send and explain exactly why it would
    /// block the request, and what fixes it. With --scan, probe a server
    /// for dangerous CORS policies.
    Doctor(DoctorArgs),
    /// Run the two-origin story for real: a JSON API on one origin,
    /// guarded by corsgate, and a page on another that calls it with
    /// fetch() and shows what the browser allowed and blocked, and why.
    Demo(DemoArgs),
    /// Write the same policy as an edge server's configuration (nginx,
    /// HAProxy, Caddy), so the edge answers exactly as `corsgate proxy`
    /// would.
    Export(ExportArgs),
}

const EXPORT_EXAMPLES: &str = "\
Examples:
  corsgate export --to nginx --config cors.toml
  corsgate export --to nginx --config cors.toml \\
                  --upstream http://127.0.0.1:8000 --listen 127.0.0.1:8080
  corsgate export --to nginx --allow-origin http://127.0.0.1:5000 --explain
  corsgate export --to haproxy --config cors.toml \\
                  --upstream http://127.0.0.1:8000 --listen 127.0.0.1:8080
  corsgate export --to caddy --config cors.toml

The configuration is written to standard output. With --upstream and --listen
it is complete: for nginx, a file for the http { } context (maps and a
server); for HAProxy, a whole haproxy.cfg; for Caddy, a whole Caddyfile.
Without them, nginx gets two parts (maps for http { }, directives for the
location that proxies your API), HAProxy the lines for your frontend, and
Caddy a snippet to `import corsgate_cors <upstream>` in your site.
A policy the target cannot express exactly (report-only mode; path rules for
nginx and Caddy, which match a normalized path) is refused with the reason;
nothing is written then.

Exit codes: 0 written, 1 the policy has errors or cannot be expressed,
2 invalid arguments.";

/// An edge server `export` writes configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Target {
    /// nginx (1.22 or later): `map`s and `add_header … always`.
    Nginx,
    /// HAProxy (2.6 or later): ACLs, `http-request return` and
    /// `http-after-response`.
    Haproxy,
    /// Caddy (2.6 or later): a Caddyfile snippet with CEL matchers,
    /// `header`, `respond` and `reverse_proxy`.
    Caddy,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The edge server to write configuration for.
    #[arg(long, value_name = "SERVER", value_enum)]
    pub(crate) to: Target,

    /// With --listen: write a complete server proxying to this upstream
    /// (`http://HOST:PORT` or `https://HOST[:PORT]`), not a snippet.
    #[arg(long, value_name = "URL", requires = "listen")]
    pub(crate) upstream: Option<String>,

    /// With --upstream: the address the server listens on, e.g.
    /// `127.0.0.1:8080`.
    #[arg(long, value_name = "ADDR", requires = "upstream")]
    pub(crate) listen: Option<String>,

    /// Write, beside each generated line, the setting it comes from.
    #[arg(long)]
    pub(crate) explain: bool,

    #[command(flatten)]
    pub(crate) policy: PolicyArgs,
}

const DEMO_EXAMPLES: &str = "\
Examples:
  corsgate demo                      # then open http://127.0.0.1:5000/
  corsgate demo --page 127.0.0.1:3000 --api 127.0.0.1:3001
  corsgate demo --config settings.json

A port that is taken is replaced by a free one (the addresses are printed).
The API: GET/POST /items, PUT /items/{id} (Authorization: Bearer demo-token),
DELETE /items/{id}, POST /login (sets a cookie), GET /me (reads it),
GET /internal/stats (outside the default policy's scope). The same API, without
corsgate, is under /without/: the page runs each call there first (the before).";

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where the API listens (loopback only).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8000")]
    #[arg(value_parser = socket_addr)]
    pub(crate) api: SocketAddr,

    /// Where the front-end page listens (loopback only).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:5000")]
    #[arg(value_parser = socket_addr)]
    pub(crate) page: SocketAddr,

    /// The API's policy file (TOML, JSON or a Django settings.py; corsgate
    /// or django-cors-headers names) instead of the embedded default, which
    /// allows the page's origin with credentials.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

const DOCTOR_EXAMPLES: &str = "\
Examples:
  corsgate doctor http://127.0.0.1:8000/users --origin http://127.0.0.1:5000
  corsgate doctor http://127.0.0.1:8000/items/1 --origin http://127.0.0.1:5000 --method PUT \\
                  -H 'Content-Type: application/json' -H 'Authorization: Bearer x' \\
                  --credentials include
  corsgate doctor --json http://127.0.0.1:8000/users --origin http://localhost:5173
  corsgate doctor http://127.0.0.1:8000/users --origin http://127.0.0.1:5000 --browser all
  corsgate doctor --scan http://127.0.0.1:8000/api/me
  # https: the system's CAs, SSL_CERT_FILE, or a development CA:
  corsgate doctor https://localhost:8443/users --origin https://localhost:5173 --cacert ca.pem

Exit codes: 0 allowed (with --scan: no finding), 1 blocked (with --scan: findings;
also mixed content), 2 invalid arguments, 4 no answer from the server or a TLS
failure (net::ERR_CERT_AUTHORITY_INVALID, …).";

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The URL the page fetches.
    #[arg(value_name = "URL")]
    pub(crate) url: String,

    /// The page's origin, e.g. `http://127.0.0.1:5000` (or `null`).
    #[arg(long, value_name = "ORIGIN", required_unless_present = "scan")]
    pub(crate) origin: Option<String>,

    /// The request method, as passed to fetch() (`patch` stays lower-case, as in browsers).
    #[arg(long, short = 'X', value_name = "METHOD", default_value = "GET")]
    pub(crate) method: String,

    /// A request header the page sets, `Name: value`. Repeatable.
    #[arg(long = "header", short = 'H', value_name = "HEADER")]
    pub(crate) headers: Vec<String>,

    /// fetch()'s credentials mode (`include` sends cookies; XHR's withCredentials).
    #[arg(long, value_name = "MODE", default_value = "same-origin", value_parser = ["include", "same-origin", "omit"])]
    pub(crate) credentials: String,

    /// A request body (a string body makes fetch() add `Content-Type: text/plain;charset=UTF-8`).
    #[arg(long, value_name = "TEXT")]
    pub(crate) body: Option<String>,

    /// Use XMLHttpRequest's wording in the console message.
    #[arg(long)]
    pub(crate) xhr: bool,

    /// Which browser engine's verdict and console lines to give: `chromium`
    /// (Chrome, Edge), `firefox`, `webkit` (Safari), or `all` (each, and
    /// where they disagree).
    #[arg(long, value_name = "ENGINE", default_value = "chromium")]
    pub(crate) browser: crate::engines::Browser,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,

    /// Probe the URL for dangerous policies (origin reflection, `null`,
    /// prefix/suffix matches, …) instead of diagnosing one request.
    #[arg(long, conflicts_with_all = ["origin", "method", "headers", "body"])]
    pub(crate) scan: bool,

    /// Seconds to wait for each response.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub(crate) timeout: f64,

    /// Trust the CA certificates in this PEM file too, besides the system's
    /// (which `SSL_CERT_FILE` replaces), e.g. a development CA.
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,

    /// Diagnose CORS even when a certificate is refused; each certificate
    /// problem is still reported, as a warning (a browser would refuse it).
    #[arg(long)]
    pub(crate) insecure: bool,
}

const PROXY_EXAMPLES: &str = "\
Examples:
  # A Django dev server on :8000, a front-end on :5000:
  corsgate proxy --upstream http://127.0.0.1:8000 --listen 127.0.0.1:8080 \\
                 --allow-origin http://127.0.0.1:5000
  # The policy from a file of django-cors-headers settings (reloaded on change and SIGHUP):
  corsgate proxy --config settings.json --listen 127.0.0.1:8080 --upstream http://127.0.0.1:8000
  # Two back-ends by path prefix (the longest prefix wins; paths are forwarded unchanged):
  corsgate proxy --upstream http://127.0.0.1:8000 --upstream /auth=http://127.0.0.1:9000 \\
                 --allow-origin http://localhost:5173
  # https both ways: an https staging API, served on https://localhost:8443:
  corsgate proxy --upstream https://staging-api.example.com --listen 127.0.0.1:8443 \\
                 --tls-cert localhost.pem --tls-key localhost-key.pem \\
                 --allow-origin https://localhost:5173

Then point the front-end at http://127.0.0.1:8080 instead of the back-end.
Logs go to stderr; set RUST_LOG=corsgate=debug to see each decision's reason.";

const CHECK_EXAMPLES: &str = "\
Examples:
  corsgate check settings.json
  corsgate check --json cors.toml
  corsgate check --env                # the CORS_* environment variables, as the proxy reads them
  corsgate check settings.py --env    # the file, then the environment on top

Exit codes: 0 valid with no findings, 1 errors, 2 invalid arguments,
3 valid with findings (low or worse).";

/// The policy, as `proxy` and `export` take it: a file, the environment
/// (`CORS_*`), and these flags, in that order.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// An origin allowed to read responses, e.g. `http://127.0.0.1:5000`
    /// (patterns such as `https://*.example.com` work). Repeatable; added
    /// to --config's `allowed_origins`.
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) allow_origin: Vec<String>,

    /// Let requests carry cookies and HTTP auth
    /// (`Access-Control-Allow-Credentials: true`); overrides --config.
    #[arg(long)]
    pub(crate) allow_credentials: bool,

    /// A request header a page may send (`Access-Control-Allow-Headers`),
    /// e.g. `x-api-key`. Repeatable; added to --config's `allow_headers`, or
    /// to django-cors-headers' defaults (`content-type`, `authorization`, …),
    /// which are kept.
    #[arg(long, value_name = "NAME")]
    pub(crate) allow_header: Vec<String>,

    /// A method a page may use (`Access-Control-Allow-Methods`), e.g.
    /// `PURGE`. Repeatable; added to --config's `allow_methods`, or to the
    /// defaults (`DELETE GET OPTIONS PATCH POST PUT`), which are kept.
    #[arg(long, value_name = "METHOD")]
    pub(crate) allow_method: Vec<String>,

    /// A response header a page may read (`Access-Control-Expose-Headers`),
    /// e.g. `x-total-count`. Repeatable; added to --config's `expose_headers`.
    #[arg(long, value_name = "NAME")]
    pub(crate) expose_header: Vec<String>,

    /// Seconds a browser may cache a preflight (`Access-Control-Max-Age`);
    /// overrides --config's `preflight_max_age` (default 86400).
    #[arg(long, value_name = "SECONDS")]
    pub(crate) max_age: Option<u64>,

    /// The policy file: TOML, JSON or a Django settings.py (its top-level
    /// CORS_* literals), by extension; corsgate or django-cors-headers
    /// setting names. The CORS_* environment variables replace its
    /// settings, and the policy flags apply last. (`proxy` reloads it on
    /// SIGHUP and when the file changes; a bad new file is logged and the
    /// old policy kept.)
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// Serve a policy despite a high-risk audit finding, named by its code
    /// (`null-allowed`, `credentials-with-all-origins`, …; `corsgate check`
    /// shows them). Repeatable. Without it `proxy` refuses to start with
    /// such a policy (and to reload one), and `export` to write it.
    #[arg(long, value_name = "CODE")]
    pub(crate) accept_risk: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Where requests go: `http://HOST:PORT` or `https://HOST[:PORT]`, or
    /// `/PREFIX=URL` for requests under a path prefix. Repeatable; the
    /// longest matching prefix wins, and a plain URL is the prefix `/`.
    /// https upstreams get HTTP/2 when they offer it.
    #[arg(long, value_name = "URL", required = true)]
    pub(crate) upstream: Vec<String>,

    /// The address to listen on (loopback by default).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    #[arg(value_parser = socket_addr)]
    pub(crate) listen: SocketAddr,

    #[command(flatten)]
    pub(crate) policy: PolicyArgs,

    /// Seconds to wait for the upstream to accept a connection.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub(crate) connect_timeout: f64,

    /// Seconds to wait for the upstream's response headers, counted from
    /// when the request body has been forwarded whole (then 504).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub(crate) timeout: f64,

    /// Seconds a client may take to send a request's headers, and to send
    /// its first request after connecting (then the connection is closed).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub(crate) header_timeout: f64,

    /// Seconds a keep-alive connection may stay open with no request in
    /// flight.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub(crate) idle_timeout: f64,

    /// Seconds a client may pause while sending a request body (then 408);
    /// a slow upload that keeps sending is never cut off.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    pub(crate) body_timeout: f64,

    /// Client connections open at once; at the limit the oldest idle one is
    /// closed to make room. Default: half the open-file limit (which the
    /// proxy raises to its hard limit at start).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: Option<u32>,

    /// Threads serving requests. Default: one per CPU the proxy may use
    /// (its CPU affinity, e.g. `taskset`, and a container's CPU quota
    /// count). Each serves whole client connections on its own, as nginx's
    /// workers; with 1 the thread that accepts connections serves them too
    /// (the least CPU per request when the proxy has one core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub(crate) workers: Option<u32>,

    /// The largest request body forwarded, in bytes (then 413).
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    pub(crate) max_body: u64,

    /// Send the client's `Host` header to the upstream instead of the
    /// upstream's own address.
    #[arg(long)]
    pub(crate) preserve_host: bool,

    /// Seconds between checks of --config for changes (0: only on SIGHUP).
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    pub(crate) reload_interval: f64,

    /// Also serve the decision counters (allowed, rejected by reason,
    /// preflights) in the Prometheus text format at `http://ADDR/metrics`,
    /// on this separate listener (e.g. `127.0.0.1:9464`).
    #[arg(long, value_name = "ADDR")]
    #[arg(value_parser = socket_addr)]
    pub(crate) metrics_listen: Option<SocketAddr>,

    /// Seconds to let requests in flight finish on SIGINT/SIGTERM.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub(crate) shutdown_grace: f64,

    /// Serve https: the certificate chain, PEM (HTTP/2 and HTTP/1.1 by
    /// ALPN). Reloaded with --tls-key on SIGHUP and when either file
    /// changes; a bad new pair is logged and the old one keeps serving.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Trust the CA certificates in this PEM file for https upstreams,
    /// besides the system's (which `SSL_CERT_FILE` replaces).
    #[arg(long, value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The policy file: `.toml`, `.json`, or a Django `settings.py`.
    #[arg(value_name = "FILE", required_unless_present = "env")]
    pub(crate) file: Option<PathBuf>,

    /// Also read the `CORS_*` environment variables, as `corsgate proxy`
    /// does: each replaces its setting of FILE (or of the defaults).
    #[arg(long)]
    pub(crate) env: bool,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// The `corsgate …` commands of a text as a shell reads them: lines
    /// joined at a trailing `\`, words split at spaces outside quotes, a
    /// word starting with `#` ending the command. A `$ ` prompt is dropped.
    fn commands(text: &str) -> Vec<Vec<String>> {
        let joined = text.replace("\\\n", " ");
        let mut found = Vec::new();
        for line in joined.lines() {
            let line = line.trim_start().trim_start_matches("$ ");
            if !line.starts_with("corsgate ") {
                continue;
            }
            let (mut words, mut word, mut quote, mut fresh) =
                (Vec::new(), String::new(), None, true);
            for c in line.chars() {
                match (quote, c) {
                    (None, '#') if fresh => break,
                    (None, '\'' | '"') => (quote, fresh) = (Some(c), false),
                    (Some(q), c) if c == q => quote = None,
                    (None, ' ') => {
                        if !fresh {
                            words.push(std::mem::take(&mut word));
                        }
                        fresh = true;
                    }
                    _ => {
                        word.push(c);
                        fresh = false;
                    }
                }
            }
            assert!(quote.is_none(), "an unclosed quote in `{line}`");
            if !word.is_empty() {
                words.push(word);
            }
            found.push(words);
        }
        found
    }

    /// Every example in `--help` parses as written, and none wraps: each
    /// line fits in 100 columns (the help text is printed as written).
    #[test]
    fn every_help_example_parses() {
        let mut count = 0;
        for (name, text) in AFTER_HELP {
            for line in text.lines() {
                assert!(
                    line.len() <= 100,
                    "`{name}` help: a line over 100 columns: {line}"
                );
            }
            for argv in commands(text) {
                assert_eq!(argv[1], name, "{argv:?}");
                if let Err(e) = Cli::try_parse_from(&argv) {
                    panic!("`{}` does not parse: {e}", argv.join(" "));
                }
                count += 1;
            }
        }
        assert!(count >= 10, "only {count} examples found");
        assert_eq!(after_help(["--help".to_owned()]), crate::exit::HELP);
        assert_eq!(
            after_help(["help".to_owned(), "demo".to_owned()]),
            DEMO_EXAMPLES
        );
    }

    /// Every `corsgate …` command the README shows parses as written.
    #[test]
    fn every_readme_command_parses() {
        // Shell blocks whole; in output blocks, the `$ ` lines.
        let mut shown = String::new();
        let mut block: Option<&str> = None;
        for line in include_str!("../../../README.md").lines() {
            match (block, line.strip_prefix("```")) {
                (None, Some(kind)) => block = Some(kind),
                (Some(_), Some(_)) => block = None,
                (Some("sh"), None) => shown.push_str(&format!("{line}\n")),
                (Some(_), None) if line.starts_with("$ ") => shown.push_str(&format!("{line}\n")),
                _ => {}
            }
        }
        let found = commands(&shown);
        assert!(found.len() >= 8, "only {} commands found", found.len());
        for argv in found {
            if let Err(e) = Cli::try_parse_from(&argv) {
                // `--help` and `--version` are answers, not errors.
                if !matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                    panic!("README: `{}` does not parse: {e}", argv.join(" "));
                }
            }
        }
    }

    #[test]
    fn argv_table() {
        let ok: &[&[&str]] = &[
            &[
                "corsgate",
                "proxy",
                "--upstream",
                "http://127.0.0.1:8000",
                "--allow-origin",
                "http://127.0.0.1:5000",
            ],
            &[
                "corsgate",
                "proxy",
                "--upstream",
                "http://127.0.0.1:8000",
                "--config",
                "s.json",
                "--listen",
                "[::1]:0",
            ],
            // The policy flags combine with --config (issue #14).
            &[
                "corsgate",
                "proxy",
                "--upstream",
                "u",
                "--config",
                "c.toml",
                "--allow-origin",
                "o",
                "--allow-header",
                "x-debug",
                "--allow-method",
                "PURGE",
                "--expose-header",
                "x-total",
                "--max-age",
                "60",
                "--allow-credentials",
                "--accept-risk",
                "null-allowed",
            ],
            &["corsgate", "check", "s.toml"],
            &["corsgate", "check", "--json", "s.toml"],
            &["corsgate", "demo"],
            &[
                "corsgate",
                "demo",
                "--api",
                "[::1]:0",
                "--page",
                "127.0.0.1:0",
            ],
            &["corsgate", "demo", "--config", "s.toml"],
        ];
        for argv in ok {
            assert!(Cli::try_parse_from(*argv).is_ok(), "{argv:?}");
        }
        let bad: &[(&[&str], ErrorKind)] = &[
            (&["corsgate", "proxy"], ErrorKind::MissingRequiredArgument),
            (
                &["corsgate", "proxy", "--upstream", "u", "--max-age", "soon"],
                ErrorKind::ValueValidation,
            ),
            (
                &[
                    "corsgate",
                    "proxy",
                    "--upstream",
                    "u",
                    "--listen",
                    "localhost",
                ],
                ErrorKind::ValueValidation,
            ),
            (&["corsgate", "check"], ErrorKind::MissingRequiredArgument),
            (&["corsgate", "serve"], ErrorKind::InvalidSubcommand),
            (
                &["corsgate", "demo", "--api", "8000"],
                ErrorKind::ValueValidation,
            ),
        ];
        for (argv, kind) in bad {
            let err = Cli::try_parse_from(*argv).unwrap_err();
            assert_eq!(err.kind(), *kind, "{argv:?}");
        }
    }
}
