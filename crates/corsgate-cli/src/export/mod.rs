//! `corsgate export`: the same policy, enforced by an edge server.
//!
//! The policy is read exactly as `proxy` reads it (a file, `CORS_*`, the
//! flags) and audited the same way; then it becomes an [`Edge`]: what any
//! edge server must do to answer as `corsgate proxy` does, in terms small
//! enough for a configuration language. Each target (`nginx`, …) is a
//! module (`nginx`, `haproxy`, `caddy`) that writes an [`Edge`] in its own language. What a target
//! cannot express exactly is refused, with the setting and the reason:
//! never a silently weaker configuration.

mod caddy;
mod haproxy;
mod nginx;
pub(crate) mod pcre;

use std::fmt::Write as _;
use std::process::ExitCode;

use corsgate::{Config, Origin, OriginPattern};

use crate::cli::{ExportArgs, Target};
use crate::exit;
use crate::proxy::{PolicySource, audited_config, flags::PolicyFlags};

/// What the edge must do: the policy's rules, in order (its path rules,
/// then the top level); the first whose scope matches the path decides,
/// and a path no rule's scope matches is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) rules: Vec<Rule>,
}

/// One rule of the edge, its settings inherited as the library inherits
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    /// As the file names it: `path_rules[0]`, or `the top level`.
    pub(crate) name: String,
    /// `urls_regex` as PCRE from the start of the percent-decoded path,
    /// with its source; `None`: every path.
    pub(crate) scope: Option<(String, String)>,
    /// Listed origins, serialized as browsers send them: compared byte for
    /// byte. Sorted, each once.
    pub(crate) exact: Vec<String>,
    /// `null` is listed.
    pub(crate) null: bool,
    /// `allow_all_origins`.
    pub(crate) all: bool,
    /// Wildcard patterns, as PCRE matching a whole valid origin, with the
    /// entry they come from.
    pub(crate) patterns: Vec<(String, String)>,
    /// The origin regexes, as PCRE matching a whole valid origin, with
    /// their source.
    pub(crate) regexes: Vec<(String, String)>,
    pub(crate) credentials: bool,
    /// `Access-Control-Allow-Methods`, `-Allow-Headers`, `-Expose-Headers`
    /// (`None`: not sent) and `-Max-Age`, as corsgate sends them.
    pub(crate) allow_methods: String,
    pub(crate) allow_headers: String,
    pub(crate) expose_headers: Option<String>,
    pub(crate) max_age: u64,
    pub(crate) private_network: bool,
}

/// A part of a policy a target cannot express, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The setting, as the file names it.
    pub(crate) setting: String,
    pub(crate) why: String,
}

/// One rule's settings after inheritance (a path rule's unset settings are
/// the top level's).
struct Settings<'a> {
    name: String,
    urls_regex: Option<&'a str>,
    allowed_origins: &'a [String],
    allowed_origin_regexes: &'a [String],
    allow_all_origins: bool,
    allow_methods: &'a [String],
    allow_headers: &'a [String],
    expose_headers: &'a [String],
    preflight_max_age: u64,
    allow_credentials: bool,
    allow_private_network: bool,
}

impl<'a> Settings<'a> {
    fn top(c: &'a Config) -> Self {
        Self {
            name: "the top level".into(),
            urls_regex: c.urls_regex.as_deref(),
            allowed_origins: &c.allowed_origins,
            allowed_origin_regexes: &c.allowed_origin_regexes,
            allow_all_origins: c.allow_all_origins,
            allow_methods: &c.allow_methods,
            allow_headers: &c.allow_headers,
            expose_headers: &c.expose_headers,
            preflight_max_age: c.preflight_max_age,
            allow_credentials: c.allow_credentials,
            allow_private_network: c.allow_private_network,
        }
    }

    fn path_rule(&self, i: usize, r: &'a corsgate::PathRule) -> Self {
        Self {
            name: format!("path_rules[{i}]"),
            urls_regex: Some(&r.urls_regex),
            allowed_origins: r.allowed_origins.as_deref().unwrap_or(self.allowed_origins),
            allowed_origin_regexes: r
                .allowed_origin_regexes
                .as_deref()
                .unwrap_or(self.allowed_origin_regexes),
            allow_all_origins: r.allow_all_origins.unwrap_or(self.allow_all_origins),
            allow_methods: r.allow_methods.as_deref().unwrap_or(self.allow_methods),
            allow_headers: r.allow_headers.as_deref().unwrap_or(self.allow_headers),
            expose_headers: r.expose_headers.as_deref().unwrap_or(self.expose_headers),
            preflight_max_age: r.preflight_max_age.unwrap_or(self.preflight_max_age),
            allow_credentials: r.allow_credentials.unwrap_or(self.allow_credentials),
            allow_private_network: r
                .allow_private_network
                .unwrap_or(self.allow_private_network),
        }
    }
}

impl Edge {
    /// The edge for `config` (already valid: it compiled), and every part
    /// no edge server can be given exactly (the edge must not be written
    /// unless that is empty).
    pub(crate) fn of(config: &Config) -> (Self, Vec<Refusal>) {
        let mut refusals = Vec::new();
        if config.report_only {
            refusals.push(Refusal {
                setting: "report_only".into(),
                why: "report-only mode changes no response: an edge server that should only watch has nothing to do, and one that enforces would not be report-only".into(),
            });
        }
        let top = Settings::top(config);
        let mut rules: Vec<Rule> = config
            .path_rules
            .iter()
            .enumerate()
            .map(|(i, r)| Rule::of(&top.path_rule(i, r), &mut refusals))
            .collect();
        rules.push(Rule::of(&top, &mut refusals));
        (Self { rules }, refusals)
    }
}

impl Rule {
    fn of(s: &Settings<'_>, refusals: &mut Vec<Refusal>) -> Self {
        let scope = s
            .urls_regex
            .and_then(|source| match pcre::path_prefix(source) {
                Ok(regex) => Some((regex, source.to_owned())),
                Err(pcre::Untranslatable(why)) => {
                    refusals.push(Refusal {
                        setting: format!("{}: urls_regex = {source:?}", s.name),
                        why,
                    });
                    None
                }
            });
        let mut rule = Self {
            name: s.name.clone(),
            scope,
            exact: Vec::new(),
            null: false,
            all: s.allow_all_origins,
            patterns: Vec::new(),
            regexes: Vec::new(),
            credentials: s.allow_credentials,
            allow_methods: s.allow_methods.join(", "),
            allow_headers: s.allow_headers.join(", "),
            expose_headers: (!s.expose_headers.is_empty()).then(|| s.expose_headers.join(", ")),
            max_age: s.preflight_max_age,
            private_network: s.allow_private_network,
        };
        for entry in s.allowed_origins {
            // The library's own split: a `*` makes a pattern.
            if entry.contains('*') {
                if let Some(regex) = OriginPattern::parse(entry)
                    .ok()
                    .as_ref()
                    .and_then(pattern_regex)
                {
                    rule.patterns.push((regex, entry.clone()));
                }
            } else if let Ok(origin) = Origin::parse(entry) {
                if origin.is_null() {
                    rule.null = true;
                } else {
                    rule.exact.push(origin.as_str().to_owned());
                }
            }
        }
        rule.exact.sort();
        rule.exact.dedup();
        for (i, source) in s.allowed_origin_regexes.iter().enumerate() {
            match pcre::whole_origin(source) {
                Ok(regex) => rule.regexes.push((regex, source.clone())),
                Err(pcre::Untranslatable(why)) => refusals.push(Refusal {
                    setting: format!("{}: allowed_origin_regexes[{i}] = {source:?}", s.name),
                    why,
                }),
            }
        }
        rule
    }

    /// Whether every non-empty `Origin` gets `*` (allow-all without
    /// credentials: nothing about the origin matters then).
    pub(crate) fn star_for_all(&self) -> bool {
        self.all && !self.credentials
    }

    /// Whether the request's origin must be a valid serialized origin to
    /// be allowed (it must, unless every origin gets `*`).
    pub(crate) fn needs_validity(&self) -> bool {
        self.all || !self.patterns.is_empty() || !self.regexes.is_empty()
    }
}

/// A wildcard pattern as PCRE over a valid origin: the scheme, then the
/// host (any subdomain of the parent, or one host), then the port (none,
/// that one, or any). The host and a concrete port are normalized as the
/// library normalizes them: as a plain origin, without the wildcards.
fn pattern_regex(pattern: &OriginPattern) -> Option<String> {
    let text = pattern.as_str();
    let (scheme, authority) = text.split_once("://")?;
    let authority = authority.strip_prefix("*.").unwrap_or(authority);
    let (authority, any_port) = match authority.strip_suffix(":*") {
        Some(host) => (host, true),
        None => (authority, false),
    };
    let plain = Origin::parse(&format!("{scheme}://{authority}")).ok()?;
    let mut out = format!(r"\A{}://", escape(plain.scheme()?));
    if pattern.parent_domain().is_some() {
        out.push_str(r"[^:/]+\.");
    }
    out.push_str(&escape(plain.host()?));
    if any_port {
        out.push_str(r"(?::[0-9]+)?");
    } else if let Some(port) = plain.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(r"\z");
    Some(out)
}

/// The CORS response headers a policy writes besides `Vary`, as the edge
/// configurations name them: each target removes the upstream's own.
pub(crate) const CORS_RESPONSE_HEADERS: [&str; 7] = [
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
    "Access-Control-Max-Age",
    "Access-Control-Allow-Private-Network",
];

/// A configuration being written. All three targets comment with `#`;
/// with `--explain`, a line ends with the setting it comes from.
pub(crate) struct Text {
    text: String,
    explain: bool,
}

impl Text {
    /// The text, opened with the comments every export starts with: what
    /// wrote it (`name`: `nginx`; `to`: `--to`'s value), from what policy.
    pub(crate) fn new(layout: &Layout, name: &str, to: &str) -> Self {
        let mut text = Self {
            text: String::new(),
            explain: layout.explain,
        };
        text.comment(&format!(
            "CORS for {name}, generated by `corsgate export --to {to}` (corsgate {}) from {}.",
            env!("CARGO_PKG_VERSION"),
            layout.source
        ));
        text.comment(
            "Regenerate it instead of editing it: the same policy always gives the same text.",
        );
        text.comment(
            "It answers as `corsgate proxy` would; docs/export.md lists the few differences.",
        );
        text
    }

    pub(crate) fn comment(&mut self, line: &str) {
        self.note("", line);
    }

    /// A comment indented as the lines around it.
    pub(crate) fn note(&mut self, indent: &str, line: &str) {
        let _ = writeln!(self.text, "{indent}# {}", one_line(line));
    }

    pub(crate) fn blank(&mut self) {
        self.text.push('\n');
    }

    /// A line; with `--explain`, the setting it comes from beside it.
    pub(crate) fn line(&mut self, line: &str, from: &str) {
        if self.explain && !from.is_empty() {
            let _ = writeln!(self.text, "{line}  # {}", one_line(from));
        } else {
            let _ = writeln!(self.text, "{line}");
        }
    }

    pub(crate) fn into_string(self) -> String {
        self.text
    }
}

/// `text` on one line, for a comment: a control character (a newline in
/// a verbose regex, in a file name) is written escaped, so a comment can
/// never end early and let the rest be read as configuration.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// A literal for PCRE: letters, digits and `-` as themselves, the rest
/// escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

/// `Origin` validation as PCRE: what the library accepts as a serialized
/// origin before it compares patterns and regexes (`parse_request_origin`:
/// at most 2,048 bytes; a lower-case scheme; a lower-case host of letters,
/// digits, `-`, `.`, `_` not starting with a dot nor holding two in a row,
/// or a bracketed IPv6 address; a special scheme's numeric host only in
/// dotted-decimal; a port of at most 65535 without leading zeros that is
/// not the scheme's default). Checked against the library origin by origin
/// in the export tests.
pub(crate) const VALID_ORIGIN: &str = concat!(
    r"\A(?=[\s\S]{1,2048}\z)",
    // A special scheme's default port is never spelled out.
    r"(?!(?:http|ws)://[^/]*:80\z)(?!(?:https|wss)://[^/]*:443\z)(?!ftp://[^/]*:21\z)",
    // A special scheme's host ending in a number is an IPv4 address, which
    // a browser serializes in dotted-decimal.
    r"(?!(?:https?|wss?|ftp)://",
    r"(?!(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?::|\z))",
    r"(?:[^/:]*\.)?(?:[0-9]+|0x[0-9a-f]*)\.?(?::|\z))",
    r"[a-z][a-z0-9+.-]*://",
    r"(?:\[[0-9a-f:.]+\]|(?!\.)(?![a-z0-9._-]*\.\.)[a-z0-9._-]+)",
    r"(?::(?:0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?\z",
);

/// How the configuration is written: a snippet, or a whole server.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `--upstream` and `--listen`: a complete server in front of it.
    pub(crate) server: Option<(String, String)>,
    /// `--explain`: each generated line says the setting it comes from.
    pub(crate) explain: bool,
    /// Where the policy came from, for the header comment.
    pub(crate) source: String,
}

pub(crate) fn run(args: &ExportArgs) -> ExitCode {
    let env = Config::env_vars();
    let source = PolicySource {
        config: args.policy.config.as_deref(),
        flags: PolicyFlags::from_args(&args.policy),
        accept_risk: &args.policy.accept_risk,
        command: "corsgate export",
    };
    let config = match audited_config(&source, &env) {
        Ok(config) => config,
        Err((report, summary)) => {
            eprintln!("{report}");
            eprintln!("corsgate export: nothing written: {summary}");
            return exit::code(exit::ERRORS);
        }
    };
    let server = match (&args.upstream, &args.listen) {
        (Some(upstream), Some(listen)) => match check_server(upstream, listen) {
            Ok(server) => Some(server),
            Err(message) => {
                eprintln!("error: {message}");
                return exit::code(exit::USAGE);
            }
        },
        _ => None,
    };
    let target = match args.to {
        Target::Nginx => "nginx",
        Target::Haproxy => "HAProxy",
        Target::Caddy => "Caddy",
    };
    let (edge, mut refusals) = Edge::of(&config);
    match args.to {
        Target::Nginx => refusals.extend(nginx::unsupported(&edge)),
        Target::Caddy => refusals.extend(caddy::unsupported(&edge)),
        Target::Haproxy => {}
    }
    if !refusals.is_empty() {
        eprintln!("error: {target} cannot enforce this policy exactly, so nothing was written:");
        for refusal in &refusals {
            eprintln!("  - {}: {}", refusal.setting, refusal.why);
        }
        eprintln!(
            "  help: `corsgate proxy` enforces every policy; docs/export.md lists what each target can express"
        );
        return exit::code(exit::ERRORS);
    }
    let layout = Layout {
        server,
        explain: args.explain,
        source: args.policy.config.as_ref().map_or_else(
            || "the command line and CORS_* variables".to_owned(),
            |p| p.display().to_string(),
        ),
    };
    let text = match args.to {
        Target::Nginx => nginx::render(&edge, &layout),
        Target::Haproxy => haproxy::render(&edge, &layout),
        Target::Caddy => caddy::render(&edge, &layout),
    };
    exit::print(&text);
    exit::code(exit::OK)
}

/// `--upstream` (an `http` or `https` URL with no path) and `--listen`
/// (`HOST:PORT`), as a target writes them.
fn check_server(upstream: &str, listen: &str) -> Result<(String, String), String> {
    let uri: http::Uri = upstream.parse().map_err(|_| {
        format!("`--upstream {upstream}` is not a URL; write e.g. `http://127.0.0.1:8000`")
    })?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let path_ok = matches!(uri.path(), "" | "/") && uri.query().is_none();
    // No user information (`user:pass@`): only a host and port are written.
    let authority_ok = uri.authority().is_some_and(|a| !a.as_str().contains('@'));
    if !scheme_ok || !authority_ok || !path_ok {
        return Err(format!(
            "`--upstream {upstream}`: expected `http://HOST:PORT` or `https://HOST[:PORT]` with no path (requests keep their own path)"
        ));
    }
    // An address, or a host name of letters, digits, `-` and `.`: nothing
    // else is written into the configuration.
    let addr_ok = listen.parse::<std::net::SocketAddr>().is_ok()
        || listen.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                && port.parse::<u16>().is_ok()
        });
    if !addr_ok {
        return Err(format!(
            "`--listen {listen}` is not HOST:PORT; write e.g. `127.0.0.1:8080`"
        ));
    }
    let upstream = format!(
        "{}://{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default()
    );
    Ok((upstream, listen.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_flags_are_checked_before_they_are_written() {
        let ok = |u: &str, l: &str| check_server(u, l).is_ok();
        assert!(ok("http://127.0.0.1:8000", "127.0.0.1:8080"));
        assert!(ok("https://api.internal", "localhost:8080"));
        assert!(ok("http://[::1]:8000/", "[::1]:8080"));
        assert!(!ok("http://127.0.0.1:8000/api", "127.0.0.1:8080"), "a path");
        assert!(!ok("ftp://127.0.0.1", "127.0.0.1:8080"), "a scheme");
        assert!(
            !ok("http://a;b@127.0.0.1", "127.0.0.1:8080"),
            "user information"
        );
        assert!(!ok("http://127.0.0.1:8000", "8080"), "no host");
        assert!(
            !ok("http://127.0.0.1:8000", "x; include /etc/passwd:80"),
            "injection"
        );
        assert!(!ok("http://127.0.0.1:8000", "a\nb:80"), "injection");
        assert_eq!(
            check_server("http://127.0.0.1:8000/", "127.0.0.1:8080")
                .unwrap()
                .0,
            "http://127.0.0.1:8000"
        );
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(one_line("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(one_line("ünï"), "ünï");
    }

    #[test]
    fn patterns_become_regexes_over_valid_origins() {
        let regex = |p: &str| pattern_regex(&OriginPattern::parse(p).unwrap()).unwrap();
        assert_eq!(
            regex("https://*.example.com"),
            r"\Ahttps://[^:/]+\.example\.com\z"
        );
        assert_eq!(
            regex("http://localhost:*"),
            r"\Ahttp://localhost(?::[0-9]+)?\z"
        );
        assert_eq!(
            regex("https://*.example.com:8443"),
            r"\Ahttps://[^:/]+\.example\.com:8443\z"
        );
        assert_eq!(regex("http://[::1]:*"), r"\Ahttp://\[\:\:1\](?::[0-9]+)?\z");
        // Normalized as a plain origin: case, default port.
        assert_eq!(
            regex("HTTPS://*.Example.COM:443"),
            r"\Ahttps://[^:/]+\.example\.com\z"
        );
    }

    #[test]
    fn what_no_edge_can_express_is_refused_with_the_setting() {
        let mut config = Config::default();
        config.report_only = true;
        config.urls_regex = Some(r"^/api\b".into());
        let (_, refusals) = Edge::of(&config);
        let settings: Vec<&str> = refusals.iter().map(|r| r.setting.as_str()).collect();
        assert_eq!(
            settings,
            ["report_only", "the top level: urls_regex = \"^/api\\\\b\""]
        );
    }

    #[test]
    fn path_rules_inherit_what_they_leave_unset() {
        let mut config = Config::default();
        config.allowed_origins = vec!["https://a.example".into()];
        config.allow_credentials = true;
        config.urls_regex = Some("^/api/".into());
        let mut public = corsgate::PathRule::new("^/public/");
        public.allow_all_origins = Some(true);
        public.allow_credentials = Some(false);
        config.path_rules = vec![public];
        let (edge, refusals) = Edge::of(&config);
        assert!(refusals.is_empty(), "{refusals:?}");
        let names: Vec<&str> = edge.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["path_rules[0]", "the top level"]);
        let (public, top) = (&edge.rules[0], &edge.rules[1]);
        assert!(public.all && !public.credentials);
        assert_eq!(public.exact, ["https://a.example"], "inherited");
        assert_eq!(public.scope.as_ref().unwrap().1, "^/public/");
        assert!(!top.all && top.credentials);
        assert_eq!(top.scope.as_ref().unwrap().1, "^/api/");
    }

    #[test]
    fn origins_are_split_as_the_library_splits_them() {
        let mut config = Config::default();
        config.allowed_origins = vec![
            "HTTPS://B.example:443".into(),
            "null".into(),
            "https://a.example".into(),
            "https://b.example".into(),
            "https://*.c.example".into(),
        ];
        config.allowed_origin_regexes = vec![r"^https://d\.example$".into()];
        let (edge, refusals) = Edge::of(&config);
        assert!(refusals.is_empty(), "{refusals:?}");
        let rule = &edge.rules[0];
        assert_eq!(rule.exact, ["https://a.example", "https://b.example"]);
        assert!(rule.null);
        assert_eq!(rule.patterns.len(), 1);
        assert_eq!(rule.regexes.len(), 1);
        assert!(rule.needs_validity());
        assert_eq!(rule.allow_methods, "DELETE, GET, OPTIONS, PATCH, POST, PUT");
    }
}
