//! A security audit of a valid configuration (feature `audit`): the
//! misconfigurations that CORS scanners (CORScanner, Corsy, CORStest) probe
//! servers for, found in the settings before deployment.
//!
//! ```
//! use corsgate::{Config, audit::{audit, Severity}};
//!
//! let config = Config::builder().allow_all_origins(true).allow_credentials(true).build();
//! let findings = audit(&config);
//! assert_eq!(findings[0].code(), "credentials-with-all-origins");
//! assert_eq!(findings[0].severity(), Severity::High);
//! ```

use std::collections::HashSet;
use std::fmt;

use crate::config::{Config, ConfigLocation, Field, KeyPath, RuleSettings, printable_message};
use crate::origin::{Origin, OriginPattern};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing; changes nothing by itself.
    Info,
    /// A mistake that breaks requests or would be a hole elsewhere.
    Low,
    /// Widens who can read responses more than intended.
    Medium,
    /// Lets any site, or any site on a shared host, read responses.
    High,
}

impl Severity {
    /// `info`, `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    severity: Severity,
    code: &'static str,
    key: String,
    location: Option<ConfigLocation>,
    message: String,
    why: String,
    fix: String,
}

impl Finding {
    /// How bad it is.
    pub fn severity(&self) -> Severity {
        self.severity
    }

    /// A stable kebab-case name (`credentials-with-all-origins`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The key it is about, as the file spelled it.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Where the key is in the file.
    pub fn location(&self) -> Option<&ConfigLocation> {
        self.location.as_ref()
    }

    /// What was found.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Why it matters: what an attacker can do.
    pub fn why(&self) -> &str {
        &self.why
    }

    /// How to fix it.
    pub fn fix(&self) -> &str {
        &self.fix
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(
            f,
            "{}: `{}`: {} [{}]",
            self.severity, self.key, self.message, self.code
        )?;
        write!(f, "\n  why: {}\n  fix: {}", self.why, self.fix)
    }
}

/// Why trusting a plain http origin matters.
const HTTP_WHY: &str = "anyone on the network path of an http page (public Wi-Fi) can inject script into it and read your responses";

/// Sites where anyone can publish a page: trusting them trusts everyone.
const SHARED_PLAYGROUNDS: &[&str] = &[
    "codepen.io",
    "cdpn.io",
    "jsfiddle.net",
    "fiddle.jshell.net",
    "jsbin.com",
    "repl.it",
    "replit.com",
    "replit.dev",
    "codesandbox.io",
    "csb.app",
    "stackblitz.io",
    "webcontainer.io",
    "glitch.me",
    "webdevout.net",
    "plnkr.co",
];

/// Audits a configuration. Findings are sorted by severity (worst first),
/// then by position in the file; a setting inherited by several path rules
/// is reported once. The configuration need not compile: entries that do
/// not parse are skipped (compilation reports them).
pub fn audit(config: &Config) -> Vec<Finding> {
    let mut auditor = Auditor {
        config,
        findings: Vec::new(),
        seen: HashSet::new(),
    };
    for rule in config.rule_settings() {
        auditor.rule(&rule);
    }
    if config.report_only {
        let (key, location) = config.locate(crate::config::KeyPath {
            rule: None,
            field: crate::config::Field::ReportOnly,
            index: None,
        });
        auditor.findings.push(Finding {
            severity: Severity::Info,
            code: "report-only",
            key,
            location,
            message:
                "report-only mode: requests are decided and counted, but no response is changed"
                    .into(),
            why: "browsers see the application's own headers, not this policy's".into(),
            fix: "set `report_only = false` (or delete it) once the counters show what you expect"
                .into(),
        });
    }
    for warning in config.warnings() {
        auditor.findings.push(Finding {
            severity: Severity::Low,
            code: "alias-ignored",
            key: warning.key().to_owned(),
            location: warning.location().cloned(),
            message: warning.problem().to_owned(),
            why: "django-cors-headers ignores the old name too; the list you see is not the one in force".into(),
            fix: "delete the old name".into(),
        });
    }
    let mut findings = auditor.findings;
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| position(a).cmp(&position(b)))
    });
    findings
}

fn position(f: &Finding) -> (usize, usize) {
    f.location.as_ref().map_or((0, 0), |l| (l.line, l.column))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.starts_with("127.")
        || host == "[::1]"
}

struct Auditor<'c> {
    config: &'c Config,
    findings: Vec<Finding>,
    seen: HashSet<(KeyPath, &'static str)>,
}

#[allow(clippy::too_many_arguments)]
impl Auditor<'_> {
    fn push(
        &mut self,
        path: KeyPath,
        severity: Severity,
        code: &'static str,
        message: String,
        why: &str,
        fix: String,
    ) {
        if !self.seen.insert((path, code)) {
            return;
        }
        let (key, location) = self.config.locate(path);
        // The values quoted come from a file that may be hostile: shortened,
        // control characters escaped, like configuration errors.
        self.findings.push(Finding {
            severity,
            code,
            key: printable_message(&key),
            location,
            message: printable_message(&message),
            why: printable_message(why),
            fix: printable_message(&fix),
        });
    }

    fn rule(&mut self, r: &RuleSettings<'_>) {
        let at = |field, rule: Option<usize>| KeyPath {
            rule,
            field,
            index: None,
        };
        let credentials = r.allow_credentials.0;
        let (all, all_rule) = r.allow_all_origins;
        if all && credentials {
            self.push(
                at(Field::AllowAllOrigins, all_rule),
                Severity::High,
                "credentials-with-all-origins",
                "every origin is allowed together with credentials, so the request's origin is reflected".into(),
                "any web site a logged-in user visits can read your API's responses with the user's cookies",
                "list the front-ends in `allowed_origins` instead of allowing all, or turn credentials off".into(),
            );
        }
        if all && r.allow_private_network.0 {
            self.push(
                at(Field::AllowPrivateNetwork, r.allow_private_network.1),
                Severity::High,
                "private-network-to-all-origins",
                "private network access is granted to every origin".into(),
                "any public web site can reach this service on the user's private network or machine",
                "list the front-ends in `allowed_origins` instead of allowing all".into(),
            );
        }
        self.origins(r, credentials);
        self.regexes(r, credentials);
        self.wildcard_lists(r, credentials);
        self.content_type_dropped(r, credentials);
        let (max_age, age_rule) = r.preflight_max_age;
        if max_age > 86_400 {
            self.push(
                at(Field::PreflightMaxAge, age_rule),
                Severity::Info,
                "max-age-capped",
                format!("`{max_age}` seconds is more than any browser keeps a preflight"),
                "browsers cap the preflight cache (Chromium 2 hours, Firefox 24 hours); a longer value changes nothing",
                "nothing to do, unless you expected preflights to be cached that long".into(),
            );
        }
    }

    fn origins(&mut self, r: &RuleSettings<'_>, credentials: bool) {
        let (origins, rule) = r.allowed_origins;
        let item = |i| KeyPath {
            rule,
            field: Field::AllowedOrigins,
            index: Some(i),
        };
        let any_https = origins
            .iter()
            .any(|o| o.to_ascii_lowercase().starts_with("https://"));
        for (i, entry) in origins.iter().enumerate() {
            let (scheme, host, parent) = if OriginPattern::is_pattern(entry) {
                let Ok(pattern) = OriginPattern::parse(entry) else {
                    continue;
                };
                let parent = pattern.parent_domain().map(str::to_owned);
                let authority = entry.split_once("://").map_or("", |(_, rest)| rest);
                let host = crate::origin::split_host_port(authority).0;
                let host = host.trim_start_matches("*.").to_ascii_lowercase();
                (pattern.scheme().to_owned(), host, parent)
            } else {
                let Ok(origin) = Origin::parse(entry) else {
                    continue;
                };
                if origin.is_null() {
                    self.push(
                        item(i),
                        if credentials { Severity::High } else { Severity::Medium },
                        "null-allowed",
                        "the opaque origin `null` is allowed".into(),
                        "any page can get origin `null` (a sandboxed iframe, a `data:` URL) and read your responses",
                        "remove `null`; serve the page from a real origin and list that".into(),
                    );
                    continue;
                }
                let scheme = origin.scheme().unwrap_or_default().to_owned();
                (scheme, origin.host().unwrap_or_default().to_owned(), None)
            };
            if scheme == "http" && any_https && !is_loopback(&host) {
                self.push(
                    item(i),
                    Severity::Medium,
                    "http-origin-trusted",
                    format!("`{entry}` is plain http beside https origins"),
                    HTTP_WHY,
                    format!(
                        "serve that front-end over https and write `https://{}`",
                        entry.split_once("://").map_or("", |x| x.1)
                    ),
                );
            }
            let registrable = |domain: &str| psl::domain(domain.as_bytes()).is_some();
            if let Some(parent) = &parent {
                let public = psl::suffix(parent.as_bytes()).is_some_and(|s| s.is_known())
                    && !registrable(parent);
                if public {
                    self.push(
                        item(i),
                        Severity::High,
                        "wildcard-public-suffix",
                        format!("`{entry}` covers every site under the public suffix `{parent}`"),
                        "anyone can register a site under a public suffix and read your responses from it",
                        "list your own sites, e.g. `https://app.example.com`".into(),
                    );
                } else {
                    self.push(
                        item(i),
                        Severity::Info,
                        "any-subdomain-trusted",
                        format!("`{entry}` trusts every subdomain of `{parent}`"),
                        "a script injection or a dangling DNS record on any subdomain can read your responses",
                        "list the subdomains that host front-ends, if there are few".into(),
                    );
                }
            }
            let shared = SHARED_PLAYGROUNDS
                .iter()
                .find(|p| host == **p || host.ends_with(&format!(".{p}")));
            if let Some(site) = shared {
                self.push(
                    item(i),
                    Severity::Medium,
                    "shared-hosting-origin",
                    format!("`{entry}` is on `{site}`, where anyone can publish a page"),
                    "every page on that site, written by anyone, can read your responses",
                    "remove it once development is over; never ship it".into(),
                );
            }
        }
    }

    fn regexes(&mut self, r: &RuleSettings<'_>, credentials: bool) {
        let (regexes, rule) = r.allowed_origin_regexes;
        for (i, regex) in regexes.iter().enumerate() {
            let path = KeyPath {
                rule,
                field: Field::AllowedOriginRegexes,
                index: Some(i),
            };
            let severity = if credentials {
                Severity::High
            } else {
                Severity::Medium
            };
            let compiled = OriginRegex::new(regex);
            if let Some(LookAlike {
                example,
                registrable,
            }) = compiled.as_ref().and_then(unescaped_dot)
            {
                let (severity, why) = if registrable {
                    (
                        severity,
                        format!(
                            "an attacker registers a look-alike domain such as `{example}` and reads your responses"
                        ),
                    )
                } else {
                    // Only the dot before the top-level domain: what it
                    // also matches has no dot left, so no one can register
                    // it on the internet.
                    (
                        Severity::Low,
                        format!(
                            "it also matches `{example}`: not a domain anyone can register on the internet, but a name a machine on the user's network may answer to"
                        ),
                    )
                };
                let rule = "write `\\.` for a literal dot";
                let fix = match compiled.as_ref().and_then(|c| escaped_dots(regex, c)) {
                    Some(fixed) => format!("{rule}: `{fixed}`"),
                    None => rule.into(),
                };
                self.push(
                    path,
                    severity,
                    "regex-unescaped-dot",
                    format!("regex `{regex}` has an unescaped `.`, which matches any character"),
                    &why,
                    fix,
                );
            }
            if let Some(token) = open_prefix(regex) {
                self.push(
                    path,
                    severity,
                    "regex-open-prefix",
                    format!("regex `{regex}` lets `{token}` run into the domain name"),
                    "`https://.*example\\.com` also matches `https://evilexample.com`, which anyone can register",
                    match compiled.as_ref().and_then(|c| whole_labels(regex, c)) {
                        Some((fixed, Some(pattern))) => format!(
                            "end the wildcard at a label boundary: `{fixed}`, or list the pattern `{pattern}` (its subdomains) in `allowed_origins`"
                        ),
                        Some((fixed, None)) => {
                            format!("end the wildcard at a label boundary: `{fixed}`")
                        }
                        None => "end the wildcard at a label boundary: `https://([a-z0-9-]+\\.)*example\\.com`, or use the pattern `https://*.example.com` in `allowed_origins`".into(),
                    },
                );
            }
            // What the text does not show: the origins the regex matches.
            // Said only when the checks above found nothing, not twice.
            let matched = compiled.as_ref().map(matched_probes).unwrap_or_default();
            if !self.seen.contains(&(path, "regex-unescaped-dot"))
                && !self.seen.contains(&(path, "regex-open-prefix"))
            {
                // A host anyone can register, or the user's own name under
                // a top-level domain the wildcard leaves open.
                let other = if let Some(example) = other_site(&matched) {
                    Some((example.to_owned(), Other::Domain))
                } else if let Some(example) = any_address(&matched) {
                    Some((example.to_owned(), Other::Address))
                } else {
                    compiled
                        .as_ref()
                        .and_then(|regex| open_tld(regex, &matched))
                        .map(|example| (example, Other::Tld))
                };
                if let Some((example, other)) = other {
                    let reads = if credentials {
                        "your API's responses, with the user's cookies"
                    } else {
                        "your API's responses"
                    };
                    let (what, who, fix) = match other {
                        Other::Domain => (
                            "a domain anyone can register",
                            "whoever registers such a domain",
                            compiled
                                .as_ref()
                                .and_then(|c| closed_after_host(regex, c))
                                .map_or_else(
                                    || "match only your own sites: end the regex right after the host (`\\.example\\.com(:\\d+)?$`), let a wildcard cover only whole labels in front of your domain (`([a-z0-9-]+\\.)*example\\.com`), or list the origins in `allowed_origins`".into(),
                                    |fixed| format!("end the regex right after the host and its port: `{fixed}`, or list the origins in `allowed_origins`"),
                                ),
                        ),
                        Other::Tld => (
                            "a domain anyone can register",
                            "whoever registers such a domain",
                            "name each top-level domain you hold: `\\.example\\.(com|net)$`, not `\\.example\\.[a-z]+$`".into(),
                        ),
                        Other::Address => (
                            "and so every public IP address",
                            "a page on any server",
                            "match only your own machines: write each address out (`^http://10\\.0\\.0\\.5:3000$`), or keep to your private network (`^http://192\\.168\\.\\d+\\.\\d+:3000$`)".into(),
                        ),
                    };
                    self.push(
                        path,
                        severity,
                        "regex-matches-other-sites",
                        format!("regex `{regex}` also matches `{example}`, {what}"),
                        &format!(
                            "corsgate allows every origin the regex matches: {who} can read {reads}"
                        ),
                        fix,
                    );
                }
            }
            // Plain http, however it is spelled (`http[s]?`, `[a-z]+://`,
            // `http://`), shown by an origin the regex matches; loopback is
            // fine, as in `allowed_origins`. The spellings the text shows
            // are said too when no probe reached them.
            let http_example = plain_http(&matched);
            let spelled = ["https?", "http(s)?", "(http|https)"]
                .iter()
                .any(|s| regex.contains(s));
            if http_example.is_some()
                || spelled && !matched.iter().any(|o| o.starts_with("http://"))
            {
                self.push(
                    path,
                    Severity::Medium,
                    "regex-allows-http",
                    match http_example {
                        Some(example) => {
                            format!("regex `{regex}` allows plain http origins such as `{example}`")
                        }
                        None => format!("regex `{regex}` allows plain http origins"),
                    },
                    HTTP_WHY,
                    "allow `https://` only".into(),
                );
            }
            let anchored_end =
                regex.ends_with('$') && !regex.ends_with("\\$") || regex.ends_with("\\z");
            if !anchored_end {
                self.push(
                    path,
                    Severity::Low,
                    "regex-not-anchored",
                    format!("regex `{regex}` does not end with `$`"),
                    "corsgate matches the whole origin, so this is safe here; but django-cors-headers anchors only the start, so the same setting there allows `https://example.com.evil.com`",
                    "end the regex with `$`".into(),
                );
            }
        }
    }

    /// `allow_headers` set without `content-type` (often by listing one
    /// custom header, which replaces the defaults): every JSON request is
    /// preflighted with `content-type` and then blocked.
    fn content_type_dropped(&mut self, r: &RuleSettings<'_>, credentials: bool) {
        let (items, rule) = r.allow_headers;
        let covered = items
            .iter()
            .any(|h| h.eq_ignore_ascii_case("content-type") || (h == "*" && !credentials));
        if covered {
            return;
        }
        let mut kept: Vec<String> = crate::config::DEFAULT_HEADERS
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        for item in items {
            if item != "*" && !kept.iter().any(|k| k.eq_ignore_ascii_case(item)) {
                kept.push(item.clone());
            }
        }
        let quoted: Vec<String> = kept.iter().map(|h| format!("\"{h}\"")).collect();
        self.push(
            KeyPath {
                rule,
                field: Field::AllowHeaders,
                index: None,
            },
            Severity::Low,
            "content-type-not-allowed",
            "the allowed headers do not include `content-type`".into(),
            "a request that sends JSON (`Content-Type: application/json`) is preflighted with `content-type`, and the browser blocks it; listing your own headers replaces the defaults, which had it",
            format!(
                "keep the defaults and add yours: `allow_headers = [{}]`",
                quoted.join(", ")
            ),
        );
    }

    fn wildcard_lists(&mut self, r: &RuleSettings<'_>, credentials: bool) {
        let lists = [
            (Field::AllowHeaders, r.allow_headers, "header"),
            (Field::AllowMethods, r.allow_methods, "method"),
        ];
        for (field, (items, rule), what) in lists {
            let Some(i) = items.iter().position(|x| x == "*") else {
                continue;
            };
            let path = KeyPath {
                rule,
                field,
                index: Some(i),
            };
            if credentials {
                self.push(
                    path,
                    Severity::Low,
                    "wildcard-with-credentials",
                    format!("`*` in the allowed {what}s is a literal name, not a wildcard, when credentials are allowed"),
                    "browsers treat `*` as a wildcard only for requests without credentials: credentialed requests with other values will be blocked",
                    format!("list the {what}s the front-end sends"),
                );
            } else if field == Field::AllowHeaders
                && !items
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case("authorization"))
            {
                self.push(
                    path,
                    Severity::Low,
                    "wildcard-without-authorization",
                    "`*` in the allowed headers does not cover `Authorization`".into(),
                    "the Fetch standard, Firefox and Safari require `Authorization` to be listed by name; Chromium still lets `*` cover it, so this breaks only in other browsers",
                    "add `authorization` to the allowed headers".into(),
                );
            }
        }
    }
}

/// What a `regex-matches-other-sites` example is.
enum Other {
    /// A host on a domain anyone can register.
    Domain,
    /// The user's name under a top-level domain left open.
    Tld,
    /// A public IP address: any server.
    Address,
}

/// A host an unescaped dot lets in.
#[derive(Debug, PartialEq, Eq)]
struct LookAlike {
    /// An origin the regex matches with `x` where the dot was meant.
    example: String,
    /// Its registrable domain is on a real public suffix and not the
    /// user's own (`wwwxexample.com`); else a name no one can register on
    /// the internet (`examplexcom`, `localhostxexample`).
    registrable: bool,
}

/// One origin regex as the engine matches it (parsed alone, anchored to the
/// whole origin), for the checks that read what it matches rather than
/// its text: parsed and compiled once for all of them.
struct OriginRegex {
    hir: regex_syntax::hir::Hir,
    matcher: crate::anchored::AnchoredRegex,
    /// The shortest text it matches ([`Sampler`]), if one is short enough.
    shortest: Option<String>,
}

impl OriginRegex {
    /// `None` when the regex does not parse or compile: compiling the
    /// configuration reports it.
    fn new(regex: &str) -> Option<Self> {
        use crate::anchored::{Anchor, compile, parse};
        let hir = parse(regex, Anchor::Whole).ok()?;
        let matcher = compile(vec![hir.clone()], Anchor::Whole).ok()?;
        let shortest = Sampler::shortest(&hir, None);
        Some(Self {
            hir,
            matcher,
            shortest,
        })
    }

    /// Whether `origin` is one a browser sends and the regex matches.
    fn allows(&self, origin: &str) -> bool {
        crate::origin::parse_request_origin(origin.as_bytes()).is_some()
            && self.matcher.is_match(origin.as_bytes())
    }
}

/// If the regex has a `.` (or any one-character class that matches a dot
/// and a letter) where a literal dot fits, a look-alike origin it matches:
/// the shortest origin the regex matches, with `x` in that place. Found on
/// the regex's syntax tree, not its text, and checked against the regex
/// itself. A look-alike one can register is preferred; one inside the
/// user's own registrable domain (`axb.example.com` for
/// `^https://a.b\.example\.com$`) is no look-alike.
fn unescaped_dot(regex: &OriginRegex) -> Option<LookAlike> {
    let own = known_domain(probe_host(regex.shortest.as_deref()?));
    let mut unregistrable = None;
    for target in 0..dots(&regex.hir) {
        let Some(look) = Sampler::shortest(&regex.hir, Some(target)) else {
            continue;
        };
        if !regex.allows(&look) {
            continue;
        }
        match known_domain(probe_host(&look)) {
            Some(domain) if Some(&domain) != own.as_ref() => {
                return Some(LookAlike {
                    example: look,
                    registrable: true,
                });
            }
            Some(_) => {}
            None => {
                unregistrable.get_or_insert(look);
            }
        }
    }
    unregistrable.map(|example| LookAlike {
        example,
        registrable: false,
    })
}

/// `regex` as the user wrote it with each lone `.` (not a run such as `.*`)
/// written `\.`: the fix for [`unescaped_dot`], offered only when the
/// result still matches the user's own origin (the regex's shortest
/// origin, dots as dots) and no look-alike is left (a one-character class
/// such as `[^/]` is not rewritten, so it may be).
fn escaped_dots(regex: &str, compiled: &OriginRegex) -> Option<String> {
    use regex_syntax::ast::{Ast, parse::Parser};
    fn lone(ast: &Ast, at: &mut Vec<std::ops::Range<usize>>) {
        match ast {
            Ast::Dot(span) => at.push(span.start.offset..span.end.offset),
            Ast::Repetition(rep) if matches!(*rep.ast, Ast::Dot(_)) => {}
            Ast::Repetition(rep) => lone(&rep.ast, at),
            Ast::Group(group) => lone(&group.ast, at),
            Ast::Alternation(alt) => alt.asts.iter().for_each(|sub| lone(sub, at)),
            Ast::Concat(concat) => concat.asts.iter().for_each(|sub| lone(sub, at)),
            _ => {}
        }
    }
    let mut dots = Vec::new();
    lone(&Parser::new().parse(regex).ok()?, &mut dots);
    let fixed = rewrite(regex, dots.into_iter().map(|dot| (dot, "\\.")))?;
    let escaped = OriginRegex::new(&fixed)?;
    (escaped.allows(compiled.shortest.as_deref()?) && unescaped_dot(&escaped).is_none())
        .then_some(fixed)
}

/// `regex` as the user wrote it with each wildcard run that runs into a
/// name (`.*example`, `\w+shop`, `[^/]*example`) written as whole labels,
/// `([a-z0-9-]+\.)*` (`+` for a `+` run), and, when every run stands at
/// the top of the regex, the `allowed_origins` pattern for the same
/// subdomains: the fix for [`open_prefix`]. Offered only when the result
/// narrows the user's regex (its plainest origin is one the user's regex
/// matches) and matches no site anyone can register.
fn whole_labels(regex: &str, compiled: &OriginRegex) -> Option<(String, Option<String>)> {
    use regex_syntax::ast::{Ast, RepetitionKind, parse::Parser};
    /// Each run's span, whether it needs a character, and whether it
    /// stands at the top (not inside an alternation or a repetition).
    fn runs(ast: &Ast, top: bool, at: &mut Vec<(std::ops::Range<usize>, bool, bool)>) {
        match ast {
            Ast::Concat(concat) => {
                for pair in concat.asts.windows(2) {
                    if let (Ast::Repetition(rep), Ast::Literal(next)) = (&pair[0], &pair[1])
                        && next.c.is_ascii_alphanumeric()
                        && matches!(
                            *rep.ast,
                            Ast::Dot(_)
                                | Ast::ClassPerl(_)
                                | Ast::ClassUnicode(_)
                                | Ast::ClassBracketed(_)
                        )
                    {
                        let span = rep.span.start.offset..rep.span.end.offset;
                        at.push((span, rep.op.kind == RepetitionKind::OneOrMore, top));
                    }
                }
                concat.asts.iter().for_each(|sub| runs(sub, top, at));
            }
            Ast::Repetition(rep) => runs(&rep.ast, false, at),
            Ast::Group(group) => runs(&group.ast, top, at),
            Ast::Alternation(alt) => alt.asts.iter().for_each(|sub| runs(sub, false, at)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    runs(&Parser::new().parse(regex).ok()?, true, &mut found);
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|(span, ..)| span.start);
    // The regex with each run as whole labels, and with each run left out
    // (the name the labels go in front of).
    let labels = found.iter().map(|(span, needs_one, _)| {
        let with = if *needs_one {
            "([a-z0-9-]+\\.)+"
        } else {
            "([a-z0-9-]+\\.)*"
        };
        (span.clone(), with)
    });
    let fixed = rewrite(regex, labels)?;
    let bounded = OriginRegex::new(&fixed)?;
    if !compiled.allows(bounded.shortest.as_deref()?)
        || other_site(&matched_probes(&bounded)).is_some()
    {
        return None;
    }
    // A pattern only for runs at the top: under an alternation the name
    // in front of which they stand differs by branch.
    let pattern = found.iter().all(|(.., top)| *top).then(|| {
        let bare = rewrite(regex, found.iter().map(|(span, ..)| (span.clone(), "")))?;
        let name = OriginRegex::new(&bare)?.shortest?;
        let parts = crate::origin::parse_request_origin(name.as_bytes())?;
        let port = parts.port.map(|p| format!(":{p}")).unwrap_or_default();
        Some(format!("{}://*.{}{port}", parts.scheme, parts.host))
    });
    Some((fixed, pattern.flatten()))
}

/// `regex` with each span (in order, apart) replaced by its text.
fn rewrite<'a>(
    regex: &str,
    edits: impl IntoIterator<Item = (std::ops::Range<usize>, &'a str)>,
) -> Option<String> {
    let mut out = String::with_capacity(regex.len() + 16);
    let mut from = 0;
    for (span, with) in edits {
        out.push_str(regex.get(from..span.start)?);
        out.push_str(with);
        from = span.end;
    }
    out.push_str(regex.get(from..)?);
    Some(out)
}

/// `regex` as the user wrote it with what repeats right after the host
/// (`\.example\.com.*$`, `[^/]*`, `(\..*)?`) written as an optional port:
/// the fix for a regex that matches `https://app.example.com.attacker.com`.
/// Offered only when, of the probes, the result matches some and only what
/// the user's regex matches, and no site anyone can register.
fn closed_after_host(regex: &str, compiled: &OriginRegex) -> Option<String> {
    use regex_syntax::ast::{Ast, parse::Parser};
    let ast = Parser::new().parse(regex).ok()?;
    let Ast::Concat(concat) = &ast else {
        return None;
    };
    // The last item that is not an end anchor: a repetition after a
    // literal character.
    let end = concat
        .asts
        .iter()
        .rposition(|item| !matches!(item, Ast::Assertion(_)))?;
    let (Some(Ast::Literal(_)), Ast::Repetition(run)) = (
        end.checked_sub(1).map(|i| &concat.asts[i]),
        &concat.asts[end],
    ) else {
        return None;
    };
    let span = run.span.start.offset..run.span.end.offset;
    let fixed = rewrite(regex, [(span, "(:\\d+)?")])?;
    let probes = matched_probes(&OriginRegex::new(&fixed)?);
    (!probes.is_empty()
        && probes.iter().all(|origin| compiled.allows(origin))
        && other_site(&probes).is_none())
    .then_some(fixed)
}

/// The registrable domain of `host` when its public suffix is a real one
/// (`wwwxexample.com`), `None` for a name under no known suffix
/// (`examplexcom`, `localhostxexample`).
fn known_domain(host: &str) -> Option<String> {
    let domain = psl::domain(host.as_bytes())?;
    if !domain.suffix().is_known() {
        return None;
    }
    std::str::from_utf8(domain.as_bytes())
        .ok()
        .map(str::to_owned)
}

/// Whether a class is a one-character wildcard in effect: it matches a dot
/// and a letter (`.`, `[^/]`, `\S`).
fn is_dot(class: &regex_syntax::hir::Class) -> bool {
    use regex_syntax::hir::Class;
    let has = |c: char| match class {
        Class::Unicode(u) => u.ranges().iter().any(|r| r.start() <= c && c <= r.end()),
        Class::Bytes(b) => b
            .ranges()
            .iter()
            .any(|r| u8::try_from(c).is_ok_and(|c| r.start() <= c && c <= r.end())),
    };
    has('.') && has('x')
}

/// The dots of [`is_dot`] in the tree, each counted once where it stands;
/// a class repeated on its own (`.*`, `[^/]+`) is a wildcard run, not a dot.
fn dots(hir: &regex_syntax::hir::Hir) -> usize {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Class(class) => usize::from(is_dot(class)),
        HirKind::Repetition(rep) if matches!(rep.sub.kind(), HirKind::Class(_)) => 0,
        kind => kind.subs().iter().map(dots).sum(),
    }
}

/// A lower-case letter, a digit or `-` where the class has one (what a
/// host is made of, as a browser writes it: `(?i)` classes hold both
/// cases), else its first character.
fn host_char(class: &regex_syntax::hir::Class) -> Option<char> {
    use regex_syntax::hir::Class;
    let host = ('a'..='z').chain('0'..='9').chain(['-']);
    match class {
        Class::Unicode(u) => host
            .chain(u.ranges().first().map(|r| r.start()))
            .find(|&c| u.ranges().iter().any(|r| r.start() <= c && c <= r.end())),
        Class::Bytes(b) => host
            .filter_map(|c| u8::try_from(c).ok())
            .chain(b.ranges().first().map(|r| r.start()))
            .find(|&c| b.ranges().iter().any(|r| r.start() <= c && c <= r.end()))
            .filter(u8::is_ascii)
            .map(char::from),
    }
}

/// Writes the shortest text a regex's tree matches, with one chosen dot
/// written `x` and the others `.`.
struct Sampler {
    /// The dot written `x`, by its place among [`dots`].
    target: Option<usize>,
    /// The place of the next dot met.
    next: usize,
    out: String,
}

impl Sampler {
    /// Longer than any origin: past it, the sample is given up.
    const LIMIT: usize = 2048;

    fn shortest(hir: &regex_syntax::hir::Hir, target: Option<usize>) -> Option<String> {
        let mut sampler = Sampler {
            target,
            next: 0,
            out: String::new(),
        };
        sampler.write(hir)?;
        Some(sampler.out)
    }

    fn holds_target(&self, hir: &regex_syntax::hir::Hir) -> bool {
        self.target
            .is_some_and(|t| (self.next..self.next + dots(hir)).contains(&t))
    }

    fn write(&mut self, hir: &regex_syntax::hir::Hir) -> Option<()> {
        use regex_syntax::hir::HirKind;
        if self.out.len() > Self::LIMIT {
            return None;
        }
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(literal) => self.out.push_str(std::str::from_utf8(&literal.0).ok()?),
            HirKind::Class(class) if is_dot(class) => {
                self.out.push(if self.target == Some(self.next) {
                    'x'
                } else {
                    '.'
                });
                self.next += 1;
            }
            HirKind::Class(class) => self.out.push(host_char(class)?),
            HirKind::Repetition(rep) if matches!(rep.sub.kind(), HirKind::Class(_)) => {
                // A wildcard run (`.*`, `[a-z]+`): its least, in letters.
                if let HirKind::Class(class) = rep.sub.kind() {
                    let c = host_char(class)?;
                    for _ in 0..rep.min.min(Self::LIMIT as u32) {
                        self.out.push(c);
                    }
                }
            }
            HirKind::Repetition(rep) => {
                let start = self.next;
                // Its least, or once where it holds the chosen dot.
                let times = if self.holds_target(&rep.sub) {
                    rep.min.max(1)
                } else {
                    rep.min
                };
                for _ in 0..times {
                    self.next = start;
                    self.write(&rep.sub)?;
                }
                self.next = start + dots(&rep.sub);
            }
            HirKind::Capture(capture) => self.write(&capture.sub)?,
            HirKind::Concat(subs) => {
                for sub in subs {
                    self.write(sub)?;
                }
            }
            HirKind::Alternation(subs) => {
                // The branch with the chosen dot, else the first.
                let chosen = subs
                    .iter()
                    .scan(self.next, |at, sub| {
                        let here = *at;
                        *at += dots(sub);
                        Some(here)
                    })
                    .zip(subs)
                    .position(|(at, sub)| {
                        self.target
                            .is_some_and(|t| (at..at + dots(sub)).contains(&t))
                    })
                    .unwrap_or(0);
                for (i, sub) in subs.iter().enumerate() {
                    if i == chosen {
                        self.write(sub)?;
                    } else {
                        self.next += dots(sub);
                    }
                }
            }
        }
        Some(())
    }
}

/// The label every probe's registrable domain is built on: a name no
/// policy lists, so a probe the regex matches is a site an attacker can
/// register.
const ATTACKER: &str = "attacker";

/// What goes between a regex's literal start and end in a probe: nothing,
/// a whole host, or the part of one that makes the registrable domain the
/// attacker's.
const PROBE_MIDDLES: [&str; 9] = [
    "",
    ".attacker.com",
    "attacker.com",
    "attacker",
    ".attacker",
    "attacker.",
    ".attacker.",
    PUBLIC_ADDRESSES[0],
    PUBLIC_ADDRESSES[1],
];

/// Two public IPv4 addresses (documentation ranges, RFC 5737) no one
/// lists both of: a regex that matches both matches any server's address.
const PUBLIC_ADDRESSES: [&str; 2] = ["203.0.113.7", "198.51.100.9"];

/// The origins among a few hundred probes that the regex, anchored as
/// corsgate matches it, matches: what it allows, found by matching rather
/// than by reading the pattern. Each probe is a valid origin built from the
/// regex's literal start (or a scheme), one of [`PROBE_MIDDLES`], and its
/// literal end.
fn matched_probes(regex: &OriginRegex) -> Vec<String> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};

    // A few literals at each end (a case-insensitive regex has many): the
    // probes are their product.
    let literals = |kind, mut known: Vec<String>| {
        let seq = Extractor::new()
            .kind(kind)
            .limit_total(8)
            .extract(&regex.hir);
        for literal in seq.literals().unwrap_or_default() {
            if let Ok(text) = std::str::from_utf8(literal.as_bytes()) {
                let text = text.to_ascii_lowercase();
                if !known.contains(&text) {
                    known.push(text);
                }
            }
        }
        known
    };
    // The shortest text the regex matches: the user's own site, or the
    // name between two wildcards (`.forestadmin.com` for
    // `.*\.forestadmin\.com.*`), which neither end's literals hold.
    let core = regex.shortest.clone().unwrap_or_default();
    // The bare schemes too, for an end that starts with `://`.
    let mut starts = vec![
        "https://".to_owned(),
        "http://".into(),
        "https".into(),
        "http".into(),
    ];
    // The core after a scheme and a label, for one that starts with a
    // wildcard.
    if !core.contains("://") {
        starts.extend(["https://a", "http://a"].map(|s| format!("{s}{core}")));
    }
    let mut starts = literals(ExtractKind::Prefix, starts);
    // Last, the core itself, for a wildcard after the host where no literal
    // start reaches it (`^https://([a-z]+\.)*example\.com.*$`).
    starts.push(core.clone());
    let mut ends = literals(ExtractKind::Suffix, vec![String::new()]);
    // And the core's host from each of its dots on (with its port, if it
    // has one), for an end no literal shows (`\.github\.io(:\d+)?$`).
    if let (Some(parts), Some(scheme_end)) = (
        crate::origin::parse_request_origin(core.as_bytes()),
        core.find("://"),
    ) {
        let authority = &core[scheme_end + 3..];
        for (dot, _) in parts.host.match_indices('.') {
            let end = authority[dot..].to_owned();
            if !ends.contains(&end) {
                ends.push(end);
            }
        }
    }
    // First the core itself where it is an origin: the plainest example.
    let mut matched: Vec<String> = Some(core)
        .filter(|origin| regex.allows(origin))
        .into_iter()
        .collect();
    for start in &starts {
        for end in &ends {
            for middle in PROBE_MIDDLES {
                let origin = format!("{start}{middle}{end}");
                if regex.allows(&origin) && !matched.contains(&origin) {
                    matched.push(origin);
                }
            }
        }
    }
    // Each https origin's http twin, where the regex matches it too.
    let twins: Vec<String> = matched
        .iter()
        .filter_map(|origin| origin.strip_prefix("https://"))
        .map(|rest| format!("http://{rest}"))
        .filter(|twin| regex.allows(twin) && !matched.contains(twin))
        .collect();
    matched.extend(twins);
    matched
}

/// The host of an origin [`matched_probes`] gave (valid, so it has one).
fn probe_host(origin: &str) -> &str {
    crate::origin::parse_request_origin(origin.as_bytes()).map_or("", |parts| parts.host)
}

/// Of the origins a regex matches, one whose registrable domain anyone can
/// register: `https://attacker.com` for `^https://[^/]+$`,
/// `https://app.example.com.attacker.com` for `^https://app\.example\.com.*$`.
/// A regex that matches only the user's own sites (subdomains of a listed
/// domain, ports, loopback) gives none.
fn other_site(matched: &[String]) -> Option<&str> {
    matched
        .iter()
        .map(String::as_str)
        .find(|origin| known_domain(probe_host(origin)).is_some_and(|d| d.contains(ATTACKER)))
}

/// Of the origins a regex matches, one on a public IP address whose twin
/// on the other of [`PUBLIC_ADDRESSES`] is matched too: the regex lets in
/// any address, so any server (`^http://\d+\.\d+\.\d+\.\d+:3000$`).
fn any_address(matched: &[String]) -> Option<&str> {
    let [one, other] = PUBLIC_ADDRESSES;
    matched.iter().map(String::as_str).find(|origin| {
        probe_host(origin) == one && matched.contains(&origin.replacen(one, other, 1))
    })
}

/// Real top-level domains anyone can register a name under, of several
/// lengths: the examples [`open_tld`] tries, in this order.
const OPEN_TLDS: [&str; 5] = ["xyz", "io", "site", "store", "online"];

/// If the regex lets the last label of a host it matches be any name
/// (`^https://app\.example\.[a-z]+$`), that host under one of
/// [`OPEN_TLDS`]: `https://app.example.xyz`, anyone's to register. The label
/// is open when the regex also matches it rewritten in letters no list of
/// top-level domains holds (`com` as `zzz`); a list the user wrote
/// (`\.example\.(com|net)$`) stays silent.
fn open_tld(regex: &OriginRegex, matched: &[String]) -> Option<String> {
    // `origin` with the last label of its host replaced by `label`.
    let relabel = |origin: &str, label: &str| -> Option<String> {
        let host = crate::origin::parse_request_origin(origin.as_bytes())?.host;
        let start = origin.find("://")? + 3;
        let last = host.rfind('.')? + 1;
        let (before, after) = (&origin[..start + last], &origin[start + host.len()..]);
        Some(format!("{before}{label}{after}"))
    };
    regex.shortest.iter().chain(matched).find_map(|origin| {
        let host = probe_host(origin);
        let last = &host[host.rfind('.')? + 1..];
        // No letter: an IPv4 address's last number.
        if !last.bytes().any(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        // Top-level domains are letters, and none is all `z`.
        let other = "z".repeat(last.len());
        if !relabel(origin, &other).is_some_and(|o| regex.allows(&o)) {
            return None;
        }
        OPEN_TLDS
            .iter()
            .filter_map(|tld| relabel(origin, tld))
            .find(|o| regex.allows(o) && known_domain(probe_host(o)).is_some())
    })
}

/// Of the origins a regex matches, a plain http one not on loopback.
fn plain_http(matched: &[String]) -> Option<&str> {
    matched
        .iter()
        .map(String::as_str)
        .find(|origin| origin.starts_with("http://") && !is_loopback(probe_host(origin)))
}

/// If a wildcard run (`.*`, `.+`, `\w*`, `[^/]+`, …) is directly followed
/// by a name character, the token: it can extend the domain to the left.
fn open_prefix(regex: &str) -> Option<String> {
    for token in [
        ".*", ".+", "\\w*", "\\w+", "\\S*", "\\S+", "[^/]*", "[^/]+", "[^.]*", "[^.]+",
    ] {
        let mut start = 0;
        while let Some(pos) = regex[start..].find(token) {
            let end = start + pos + token.len();
            if regex[end..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            {
                return Some(token.to_owned());
            }
            start = end;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(config: &Config) -> Vec<&'static str> {
        audit(config).iter().map(Finding::code).collect()
    }

    /// The fix of the `code` finding on `regex`, the one allowed origin
    /// regex (without credentials).
    fn fix_of(code: &str, regex: &str) -> String {
        let config = Config::builder().allowed_origin_regexes([regex]).build();
        audit(&config)
            .into_iter()
            .find(|f| f.code() == code)
            .map(|f| f.fix().to_owned())
            .unwrap_or_else(|| panic!("`{regex}`: no {code} finding"))
    }

    /// Findings come most severe first, then in the order of their keys in
    /// the file (not the order the checks run in), each with its place and
    /// why it matters.
    #[cfg(feature = "config-files")]
    #[test]
    fn findings_are_ordered_by_severity_then_by_their_place_in_the_file() {
        let config = Config::from_toml_str(concat!(
            "CORS_ALLOWED_ORIGIN_REGEXES = ['^https://www.example\\.com$', '^https://api.example\\.com$']\n",
            "CORS_ALLOWED_ORIGINS = [\"https://app.example.com\", \"http://app.example.com\"]\n",
            "CORS_ALLOW_HEADERS = [\"x-token\"]\n",
        ))
        .unwrap();
        let found: Vec<_> = audit(&config)
            .iter()
            .map(|f| {
                let at = f.location().map(|l| (l.line, l.column));
                (f.severity(), f.code(), at)
            })
            .collect();
        assert_eq!(
            found,
            [
                (Severity::Medium, "regex-unescaped-dot", Some((1, 32))),
                (Severity::Medium, "regex-unescaped-dot", Some((1, 62))),
                (Severity::Medium, "http-origin-trusted", Some((2, 52))),
                (Severity::Low, "content-type-not-allowed", Some((3, 22))),
            ]
        );
        let dot = &audit(&config)[0];
        assert_eq!(
            dot.why(),
            "an attacker registers a look-alike domain such as `https://wwwxexample.com` and reads your responses"
        );
    }

    #[test]
    fn a_careful_config_has_no_findings() {
        let config = Config::builder()
            .allowed_origins(["https://app.example.com", "http://localhost:5000"])
            .allowed_origin_regexes([r"^https://[a-z0-9-]+\.preview\.example\.com$"])
            .allow_credentials(true)
            .build();
        assert_eq!(codes(&config), Vec::<&str>::new());
    }

    #[test]
    fn each_misconfiguration_class_is_found() {
        let cases: [(Config, &str, Severity); 12] = [
            (
                Config::builder()
                    .allow_all_origins(true)
                    .allow_credentials(true)
                    .build(),
                "credentials-with-all-origins",
                Severity::High,
            ),
            (
                Config::builder()
                    .allowed_origins(["null"])
                    .allow_credentials(true)
                    .build(),
                "null-allowed",
                Severity::High,
            ),
            (
                Config::builder().allowed_origins(["null"]).build(),
                "null-allowed",
                Severity::Medium,
            ),
            (
                Config::builder()
                    .allowed_origin_regexes([r"^https://www.example\.com$"])
                    .build(),
                "regex-unescaped-dot",
                Severity::Medium,
            ),
            (
                Config::builder()
                    .allowed_origin_regexes([r"^https://.*example\.com$"])
                    .allow_credentials(true)
                    .build(),
                "regex-open-prefix",
                Severity::High,
            ),
            (
                Config::builder()
                    .allowed_origin_regexes([r"^https://app\.example\.com"])
                    .build(),
                "regex-not-anchored",
                Severity::Low,
            ),
            (
                Config::builder()
                    .allowed_origin_regexes([r"^https?://app\.example\.com$"])
                    .build(),
                "regex-allows-http",
                Severity::Medium,
            ),
            (
                Config::builder()
                    .allowed_origins(["https://a.example.com", "http://b.example.com"])
                    .build(),
                "http-origin-trusted",
                Severity::Medium,
            ),
            (
                Config::builder()
                    .allowed_origins(["https://*.github.io"])
                    .build(),
                "wildcard-public-suffix",
                Severity::High,
            ),
            (
                Config::builder()
                    .allowed_origins(["https://*.co.uk"])
                    .build(),
                "wildcard-public-suffix",
                Severity::High,
            ),
            (
                Config::builder()
                    .allowed_origins(["https://codepen.io"])
                    .build(),
                "shared-hosting-origin",
                Severity::Medium,
            ),
            (
                Config::builder()
                    .allow_all_origins(true)
                    .allow_private_network(true)
                    .build(),
                "private-network-to-all-origins",
                Severity::High,
            ),
        ];
        for (config, code, severity) in cases {
            let findings = audit(&config);
            let found = findings.iter().find(|f| f.code() == code);
            assert!(found.is_some(), "{code} not found in {findings:#?}");
            assert_eq!(found.unwrap().severity(), severity, "{code}");
        }
    }

    #[test]
    fn a_header_list_without_content_type_is_flagged_with_the_complete_fix() {
        let config = Config::builder().allow_headers(["x-debug"]).build();
        let findings = audit(&config);
        assert_eq!(codes(&config), ["content-type-not-allowed"]);
        assert_eq!(findings[0].severity(), Severity::Low);
        assert_eq!(
            findings[0].fix(),
            "keep the defaults and add yours: `allow_headers = [\"accept\", \"authorization\", \"content-type\", \"user-agent\", \"x-csrftoken\", \"x-requested-with\", \"x-debug\"]`"
        );
        // Listed, or covered by `*` without credentials: nothing to say.
        for covered in [
            Config::builder()
                .allow_headers(["Content-Type", "x-debug"])
                .build(),
            Config::builder()
                .allow_headers(["*", "authorization"])
                .build(),
            Config::default(),
        ] {
            assert!(
                !codes(&covered).contains(&"content-type-not-allowed"),
                "{covered:?}"
            );
        }
        // With credentials `*` is a literal name: it covers nothing.
        let literal = Config::builder()
            .allow_headers(["*"])
            .allowed_origins(["https://a.example"])
            .allow_credentials(true)
            .build();
        assert!(codes(&literal).contains(&"content-type-not-allowed"));
        // The fix lists each default once and never `*`.
        let defaults = "keep the defaults and add yours: `allow_headers = [\"accept\", \"authorization\", \"content-type\", \"user-agent\", \"x-csrftoken\", \"x-requested-with\"]`";
        let fix = |config: &Config| {
            audit(config)
                .into_iter()
                .find(|f| f.code() == "content-type-not-allowed")
                .map(|f| f.fix().to_owned())
        };
        assert_eq!(fix(&literal).as_deref(), Some(defaults));
        let again = Config::builder().allow_headers(["Accept"]).build();
        assert_eq!(fix(&again).as_deref(), Some(defaults));
    }

    #[test]
    fn wildcards_in_lists_are_explained() {
        let config = Config::builder()
            .allow_headers(["*"])
            .allow_methods(["*"])
            .allow_credentials(true)
            .build();
        assert_eq!(
            codes(&config),
            [
                "wildcard-with-credentials",
                "wildcard-with-credentials",
                "content-type-not-allowed"
            ]
        );
        let config = Config::builder().allow_headers(["*"]).build();
        assert_eq!(codes(&config), ["wildcard-without-authorization"]);
        let config = Config::builder()
            .allow_headers(["*", "Authorization"])
            .build();
        assert_eq!(codes(&config), Vec::<&str>::new());
    }

    #[test]
    fn subdomain_patterns_are_info_and_loopback_http_is_fine() {
        let config = Config::builder()
            .allowed_origins([
                "https://*.example.com",
                "http://127.0.0.1:5000",
                "http://localhost:*",
            ])
            .preflight_max_age(604_800)
            .build();
        let findings = audit(&config);
        let summary: Vec<(Severity, &str)> =
            findings.iter().map(|f| (f.severity(), f.code())).collect();
        assert_eq!(
            summary,
            [
                (Severity::Info, "any-subdomain-trusted"),
                (Severity::Info, "max-age-capped")
            ]
        );
    }

    #[test]
    fn an_inherited_setting_is_reported_once_and_rule_keys_are_named() {
        let config = Config::from_toml_str(
            "allowed_origins = [\"null\"]\n[[path_rules]]\nurls_regex = \"^/a/\"\n\
             [[path_rules]]\nurls_regex = \"^/b/\"\nallow_all_origins = true\nallow_credentials = true\n",
        )
        .unwrap();
        let findings = audit(&config);
        let keys: Vec<(&str, &str)> = findings.iter().map(|f| (f.code(), f.key())).collect();
        assert_eq!(
            keys,
            [
                (
                    "credentials-with-all-origins",
                    "path_rules[1].allow_all_origins"
                ),
                ("null-allowed", "allowed_origins[0]"),
            ]
        );
        assert_eq!(
            findings[1].to_string(),
            "line 1, column 20: medium: `allowed_origins[0]`: the opaque origin `null` is allowed [null-allowed]\n  \
             why: any page can get origin `null` (a sandboxed iframe, a `data:` URL) and read your responses\n  \
             fix: remove `null`; serve the page from a real origin and list that"
        );
    }

    /// Regexes the textual checks pass, yet whose language holds sites
    /// anyone can register: each is found by what it matches, with an
    /// origin it lets in.
    #[test]
    fn a_regex_that_matches_sites_anyone_can_register_is_found() {
        let found = |regex: &str, credentials: bool| {
            let config = Config::builder()
                .allowed_origin_regexes([regex])
                .allow_credentials(credentials)
                .build();
            audit(&config)
                .into_iter()
                .find(|f| f.code() == "regex-matches-other-sites")
                .map(|f| (f.severity(), f.message().to_owned()))
        };
        for (regex, example) in [
            (r"^.*$", "https://attacker.com"),
            (r".*", "https://attacker.com"),
            (r"^https://[^/]+$", "https://attacker.com"),
            (r"^(https://a\.example\.com|.+)$", "https://attacker.com"),
            (r"https://a\.example\.com|.*", "https://attacker.com"),
            (r"^https://.*\.com$", "https://attacker.com"),
            (r"^https://[a-z.]+$", "https://attacker.com"),
            // Open after the host: the classic `example.com.evil.com`.
            (
                r"^https://app\.example\.com.*$",
                "https://app.example.com.attacker.com",
            ),
            (
                r"^https://app\.example\.com[^/]*$",
                "https://app.example.com.attacker.com",
            ),
            (
                r"^https://(app|admin)\.example\.com.*$",
                "https://app.example.com.attacker.com",
            ),
            // No literal start reaches the host: the plainest origin does.
            (
                r"^https://([a-z0-9-]+\.)*example\.com.*$",
                "https://example.com.attacker.com",
            ),
            (
                r"^https://[a-z]+\.example\.com[^/]*$",
                "https://a.example.com.attacker.com",
            ),
            (
                r"^https://app\.example\..+$",
                "https://app.example.attacker.com",
            ),
            (r"^https://app.*\.com$", "https://app.attacker.com"),
            // Wildcards at both ends: the name in the middle is a literal
            // of neither (a real integration's setting).
            (
                r".*\.forestadmin\.com.*",
                "https://a.forestadmin.com.attacker.com",
            ),
            (
                r"^https://bon-gout.*\.vercel\.app$",
                "https://bon-goutattacker.vercel.app",
            ),
            // Every site on a host where anyone can have one.
            (
                r"^https://[a-z0-9-]+\.github\.io$",
                "https://attacker.github.io",
            ),
            // An optional port hides the host's literal end: the plainest
            // origin gives it.
            (
                r"^https://[a-z0-9-]+\.github\.io(:\d+)?$",
                "https://attacker.github.io",
            ),
            (
                r"(?i)^https://[a-z0-9-]+\.vercel\.app(:[0-9]{2,5})?$",
                "https://attacker.vercel.app",
            ),
            // Any IPv4 address: any server anyone runs.
            (
                r"^http://\d+\.\d+\.\d+\.\d+:3000$",
                "http://203.0.113.7:3000",
            ),
            (
                r"^https?://(\d{1,3}\.){3}\d{1,3}(:\d+)?$",
                "https://203.0.113.7",
            ),
            (r"^https://[0-9.]+$", "https://203.0.113.7"),
            // A wildcard where the top-level domain goes: `example` under a
            // top-level domain the user does not hold is anyone's to register.
            (r"^https://app\.example\.[a-z]+$", "https://app.example.xyz"),
            (r"^https://example\.[a-z]{2,}$", "https://example.xyz"),
            (r"^https://example\.\w{2,3}(:\d+)?$", "https://example.xyz"),
            (r"^https://example\.[a-z]{2}$", "https://example.io"),
            (r"^https://example\.[a-z]{5}$", "https://example.store"),
            (
                r"^https://example\.[a-z]+:8443$",
                "https://example.xyz:8443",
            ),
            (
                r"^https://([a-z]+\.)?example\.[a-z]{2,}$",
                "https://example.xyz",
            ),
            (
                r"^https://api\.example\.co\.[a-z]+$",
                "https://api.example.co.xyz",
            ),
            (r"(?i)^https://EXAMPLE\.[A-Z]+$", "https://example.xyz"),
            (r"^http://10\.0\.0\.[^/.]+$", "http://10.0.0.xyz"),
        ] {
            let (severity, message) = found(regex, true)
                .unwrap_or_else(|| panic!("`{regex}`: no regex-matches-other-sites finding"));
            assert_eq!(severity, Severity::High, "{regex}");
            assert!(
                message.contains(&format!("`{example}`")),
                "{regex}: {message}"
            );
            assert_eq!(
                found(regex, false).map(|f| f.0),
                Some(Severity::Medium),
                "{regex} without credentials"
            );
        }
        // Only the user's own sites: subdomains, ports, loopback, a look-alike
        // the other checks already name (not said twice).
        for regex in [
            r"^https://[a-z0-9-]+\.preview\.example\.com$",
            r"^https://([a-z0-9-]+\.)*example\.com$",
            r"^https://[a-z]+\.example\.com$",
            r"^https://.*\.example\.com$",
            r"^https://app\.example\.com(:\d+)?$",
            r"^https://(www\.)?example\.com$",
            r"(?i)^https://app\.example\.com$",
            r"^http://localhost(:\d+)?$",
            r"^http://127\.0\.0\.1:\d+$",
            r"^http://192\.168\.\d+\.\d+(:\d+)?$",
            r"^https://.*example\.com$",
            r"^https://www.example\.com$",
            // Addresses on the user's own network, or one address listed.
            r"^http://10\.\d+\.\d+\.\d+$",
            r"^http://172\.(1[6-9]|2\d|3[01])\.\d+\.\d+(:\d+)?$",
            r"^https://203\.0\.113\.7$",
            // Top-level domains the user names: a list, not a wildcard.
            r"^https://example\.(com|net|org|xyz|io)$",
            r"^https://app\.example\.(co\.uk|de)$",
            r"^https://[a-z]+\.example\.com$",
            r"^http://10\.0\.0\.\d+$",
        ] {
            assert_eq!(found(regex, true), None, "{regex}");
        }
    }

    /// Plain http allowed by a regex, however it is spelled: found by the
    /// origins it matches; loopback is fine, as in `allowed_origins`.
    #[test]
    fn a_regex_that_matches_plain_http_origins_is_found() {
        let found = |regex: &str| {
            let config = Config::builder()
                .allowed_origin_regexes([regex])
                .allow_credentials(true)
                .build();
            audit(&config)
                .into_iter()
                .find(|f| f.code() == "regex-allows-http")
                .map(|f| (f.severity(), f.message().to_owned()))
        };
        for (regex, example) in [
            (r"^https?://app\.example\.com$", "http://app.example.com"),
            (r"^http[s]?://app\.example\.com$", "http://app.example.com"),
            (
                r"^(https|http)://app\.example\.com$",
                "http://app.example.com",
            ),
            (
                r"^(?:http|https)://app\.example\.com$",
                "http://app.example.com",
            ),
            (
                r"^https{0,1}://app\.example\.com$",
                "http://app.example.com",
            ),
            (r"^https*://app\.example\.com$", "http://app.example.com"),
            (r"^[a-z]+://app\.example\.com$", "http://app.example.com"),
            (r"^.*://app\.example\.com$", "http://app.example.com"),
            (r"^http://app\.example\.com$", "http://app.example.com"),
            (r"^http://[a-z0-9-]+\.example\.com$", "http://a.example.com"),
            (r"^http://10\.\d+\.\d+\.\d+$", "http://10.0.0.0"),
            (r"^https?://\d{3}\.example\.com$", "http://000.example.com"),
            // Byte classes (`(?-u)`): a letter of the class, not a dot.
            (
                r"(?-u)^http://[m-z]+\.example\.com$",
                "http://m.example.com",
            ),
            (
                r"(?-u)^http://ww[m-z]\.example\.com$",
                "http://wwm.example.com",
            ),
            // The https branch first: its http twin is tried.
            (
                r"^(https|http)://\d{3}\.example\.com$",
                "http://000.example.com",
            ),
        ] {
            let (severity, message) =
                found(regex).unwrap_or_else(|| panic!("`{regex}`: no regex-allows-http finding"));
            assert_eq!(severity, Severity::Medium, "{regex}");
            assert!(
                message.contains(&format!("`{example}`")),
                "{regex}: {message}"
            );
        }
        // Where no probe reaches it (no origin is that long), the
        // spelling alone is said.
        assert_eq!(
            found(r"^https?://a{3000}\.example\.com$"),
            Some((
                Severity::Medium,
                r"regex `^https?://a{3000}\.example\.com$` allows plain http origins".into()
            ))
        );
        for regex in [
            r"^https://app\.example\.com$",
            r"^https://[a-z0-9-]+\.example\.com(:\d+)?$",
            r"^http://localhost(:\d+)?$",
            r"^https?://localhost(:\d+)?$",
            r"^http://127\.0\.0\.1:\d+$",
            r"^http://([a-z]+\.)?localhost:\d+$",
            r"^[a-z]+://localhost:5000$",
        ] {
            assert_eq!(found(regex), None, "{regex}");
        }
    }

    /// The probes the checks read are origins the regex matches, nothing
    /// else; the sample stops past the longest origin.
    #[test]
    fn probes_are_matched_origins_and_samples_are_bounded() {
        for regex in [
            r".*\.forestadmin\.com.*",
            r"^https://api\.example\.com.*$",
            r"^https?://[a-z]+\.example\.com(:\d+)?$",
            r"(?i)^HTTPS://App\.Example\.com$",
        ] {
            let matcher = crate::anchored::compile(
                vec![crate::anchored::parse(regex, crate::anchored::Anchor::Whole).unwrap()],
                crate::anchored::Anchor::Whole,
            )
            .unwrap();
            let probes = matched_probes(&OriginRegex::new(regex).unwrap());
            assert!(!probes.is_empty(), "{regex}");
            for probe in &probes {
                assert!(
                    crate::origin::parse_request_origin(probe.as_bytes()).is_some()
                        && matcher.is_match(probe.as_bytes()),
                    "{regex}: {probe}"
                );
            }
        }
        let sample = |regex: &str| {
            let hir = crate::anchored::parse(regex, crate::anchored::Anchor::Whole).unwrap();
            Sampler::shortest(&hir, None)
        };
        assert_eq!(sample(r"^https://a{2040}$").map(|s| s.len()), Some(2048));
        assert_eq!(sample(r"^https://a{3000}$"), None);
        assert_eq!(sample(r"^https://a{2040}b$"), None);
    }

    /// The fix for a wildcard run after the host is the user's regex
    /// ending at the host (and a port); a regex open in front of a domain
    /// anyone can use keeps the general advice.
    #[test]
    fn other_sites_fix_is_the_regex_closed_after_the_host() {
        let fix = |regex: &str| fix_of("regex-matches-other-sites", regex);
        let closed = |fixed: &str| {
            format!(
                "end the regex right after the host and its port: `{fixed}`, or list the origins in `allowed_origins`"
            )
        };
        for (regex, fixed) in [
            (
                r"^https://app\.example\.com.*$",
                r"^https://app\.example\.com(:\d+)?$",
            ),
            (
                r"^https://(app|admin)\.example\.com[^/]*$",
                r"^https://(app|admin)\.example\.com(:\d+)?$",
            ),
            (r".*\.forestadmin\.com.*", r".*\.forestadmin\.com(:\d+)?"),
        ] {
            assert_eq!(fix(regex), closed(fixed), "{regex}");
        }
        assert_eq!(
            fix(r"^https://app\.example\.com(\..*)?$"),
            closed(r"^https://app\.example\.com(:\d+)?$")
        );
        // A regex open in front of a shared domain, one whose closed form
        // would allow what it does not (`.{2,}` needs two characters), one
        // still open before the host: the general advice.
        for regex in [
            r"^https://.*\.vercel\.app$",
            r"^https://[^/]+$",
            r"^https://app\.example\.com.{2,}$",
            r"^https://[^/]+\.vercel\.app.*$",
        ] {
            assert!(
                fix(regex).starts_with("match only your own sites"),
                "{regex}: {}",
                fix(regex)
            );
        }
    }

    /// The fix for a wildcard that runs into the domain name is the user's
    /// regex with that wildcard made whole labels, when the result matches
    /// the user's own origin and nothing an attacker can register; else
    /// the rule alone.
    #[test]
    fn open_prefix_fix_is_the_regex_with_whole_label_wildcards() {
        let fix = |regex: &str| fix_of("regex-open-prefix", regex);
        let rule = "end the wildcard at a label boundary: `https://([a-z0-9-]+\\.)*example\\.com`, or use the pattern `https://*.example.com` in `allowed_origins`";
        let tailored = |fixed: &str, pattern: &str| {
            format!(
                "end the wildcard at a label boundary: `{fixed}`, or list the pattern `{pattern}` (its subdomains) in `allowed_origins`"
            )
        };
        for (regex, fixed, pattern) in [
            (
                r"^https://.*example\.com$",
                r"^https://([a-z0-9-]+\.)*example\.com$",
                "https://*.example.com",
            ),
            (
                r"^https://.+example\.com$",
                r"^https://([a-z0-9-]+\.)+example\.com$",
                "https://*.example.com",
            ),
            (
                r"^https://\w*shop\.example\.com(:\d+)?$",
                r"^https://([a-z0-9-]+\.)*shop\.example\.com(:\d+)?$",
                "https://*.shop.example.com",
            ),
            (
                r"(?i)^https://[^/]*Example\.org$",
                r"(?i)^https://([a-z0-9-]+\.)*Example\.org$",
                "https://*.example.org",
            ),
            // Unanchored at the end: that is another finding's fix.
            (
                r"^https://.*example\.com",
                r"^https://([a-z0-9-]+\.)*example\.com",
                "https://*.example.com",
            ),
        ] {
            assert_eq!(fix(regex), tailored(fixed, pattern), "{regex}");
        }
        // Inside an alternation or a repetition: the regex, and no pattern
        // (the name in front differs by branch).
        for (regex, fixed) in [
            (
                r"^https://(.*example\.com)$",
                r"^https://(([a-z0-9-]+\.)*example\.com)$",
            ),
            (
                r"^https://(www|.*shop)\.example\.com$",
                r"^https://(www|([a-z0-9-]+\.)*shop)\.example\.com$",
            ),
            (
                r"^https://(.*shop\.)?example\.com$",
                r"^https://(([a-z0-9-]+\.)*shop\.)?example\.com$",
            ),
        ] {
            let want = if regex.contains('|') || regex.contains(")?") {
                format!("end the wildcard at a label boundary: `{fixed}`")
            } else {
                tailored(fixed, "https://*.example.com")
            };
            assert_eq!(fix(regex), want, "{regex}");
        }
        // Where whole labels would still let other sites in (the wildcard
        // also runs past the host), would allow what the user's regex does
        // not (`shop.example.com` for `.{1,}shop`), or where no run stands
        // before a name (`[.*a]` is a class), the rule alone.
        for regex in [
            r"^https://.*example\.com.*$",
            r"^https://(.{1,}shop|.*mall)\.example\.com$",
            r"^https://[.*a]example\.com$",
        ] {
            assert_eq!(fix(regex), rule, "{regex}");
        }
    }

    /// The fix for an unescaped dot is the user's regex with its lone dots
    /// escaped, when that regex still matches the user's own origin and
    /// has no look-alike left; else the rule alone.
    #[test]
    fn unescaped_dot_fix_is_the_regex_with_its_dots_escaped() {
        let fix = |regex: &str| fix_of("regex-unescaped-dot", regex);
        let rule = "write `\\.` for a literal dot";
        for (regex, fixed) in [
            (
                r"^https://www.example\.com$",
                r"^https://www\.example\.com$",
            ),
            (
                r"^https://(www.)?api.example.com(:\d+)?$",
                r"^https://(www\.)?api\.example\.com(:\d+)?$",
            ),
            (
                r"(?i)^https://WWW.Example\.com$",
                r"(?i)^https://WWW\.Example\.com$",
            ),
            // The wildcard run stays: only lone dots are meant literally.
            (r"^https://.*example.com$", r"^https://.*example\.com$"),
            (
                r"^https://(app|www.example)\.com$",
                r"^https://(app|www\.example)\.com$",
            ),
            (
                r"^http://localhost.example:*([0-9]+)?$",
                r"^http://localhost\.example:*([0-9]+)?$",
            ),
        ] {
            assert_eq!(fix(regex), format!("{rule}: `{fixed}`"), "{regex}");
        }
        // A one-character class is not a lone dot: escaping the dots
        // would leave the look-alike, so the rule alone.
        assert_eq!(fix(r"^https://www[^/]example\.com$"), rule);
        assert_eq!(fix(r"^https://www[^/]example.com$"), rule);
    }

    #[test]
    fn unescaped_dot_suggests_a_look_alike_one_can_register() {
        let look = |regex: &str| {
            OriginRegex::new(regex)
                .and_then(|r| unescaped_dot(&r))
                .map(|l| (l.example, l.registrable))
        };
        assert_eq!(
            look(r"^https://www.example\.com$"),
            Some(("https://wwwxexample.com".into(), true))
        );
        // The dot that leaves a registrable name, not the TLD's.
        assert_eq!(
            look(r"^https://api.example.com$"),
            Some(("https://apixexample.com".into(), true))
        );
        // Only the TLD's dot: a single label, which is said as such.
        assert_eq!(
            look(r"^https://.*example.com$"),
            Some(("https://examplexcom".into(), false))
        );
        // An IP address's dots (from a real settings file): a host that
        // ends in a number is an IPv4 address, so no browser sends
        // `127x0.0.1`: nothing to say.
        assert_eq!(look(r"^http:\/\/127.0.0.1:*([0-9]+)?$"), None);
        assert_eq!(
            look(r"^http://localhost.example:*([0-9]+)?$"),
            Some(("http://localhostxexample".into(), false))
        );
        // In an optional group, an alternation, a port after it.
        assert_eq!(
            look(r"^https://(www.)?example\.com$"),
            Some(("https://wwwxexample.com".into(), true))
        );
        assert_eq!(
            look(r"^https://(app|api.example)\.com(:\d+)?$"),
            Some(("https://apixexample.com".into(), true))
        );
        // Case-insensitive: the look-alike is written as a browser sends it.
        assert_eq!(
            look(r"(?i)^https://WWW.Example\.com$"),
            Some(("https://wwwxexample.com".into(), true))
        );
        // A one-character class that matches a dot is one too.
        assert_eq!(
            look(r"^https://www[^/]example\.com$"),
            Some(("https://wwwxexample.com".into(), true))
        );
        // The dot after an optional group, and in an alternation's second
        // branch: counted where they stand.
        assert_eq!(
            look(r"^https://(www.)?api.example\.com$"),
            Some(("https://apixexample.com".into(), true))
        );
        assert_eq!(
            look(r"^https://(a.b\.example|api.example)\.com$"),
            Some(("https://apixexample.com".into(), true))
        );
        // A byte class (`(?-u)`) that matches a dot.
        assert_eq!(
            look(r"(?-u)^https://www[.x]example\.com$"),
            Some(("https://wwwxexample.com".into(), true))
        );
        // Inside the user's own domain: no look-alike.
        assert_eq!(look(r"^https://a.b\.example\.com$"), None);
        assert_eq!(look(r"^https://www\.example\.com$"), None);
        assert_eq!(look(r"^https://[a-z.]+\.example\.com$"), None);
        assert_eq!(look(r"^https://.*\.example\.com$"), None);
        assert_eq!(look(r"^https://\w+\.example\.com$"), None);
    }
}
