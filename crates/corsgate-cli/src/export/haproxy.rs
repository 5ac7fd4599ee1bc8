//! An [`Edge`] as HAProxy configuration (2.6 or later): ACLs over the
//! request's `Origin`, the decision kept in transaction variables, the
//! preflight answered with `http-request return`, and the policy's
//! headers written by `http-after-response` — which runs on every
//! response, the upstream's, HAProxy's own answers and its errors alike.
//!
//! HAProxy reads a header as sent: `req.fhdr` takes the whole line (no
//! splitting at commas) and `req.fhdr_cnt` counts the lines, so two
//! `Origin` lines are refused as corsgate refuses them. Regexes are PCRE2.

use super::{CORS_RESPONSE_HEADERS, Edge, Layout, Rule, Text, VALID_ORIGIN};

/// The configuration text: deterministic (same edge, same bytes).
pub(crate) fn render(edge: &Edge, layout: &Layout) -> String {
    let mut out = Text::new(layout, "HAProxy", "haproxy");
    match &layout.server {
        Some((upstream, listen)) => {
            out.blank();
            out.line("global", "");
            out.line(
                "    log stderr format raw local0 err",
                "errors to standard error",
            );
            out.blank();
            out.line("defaults", "");
            out.line("    mode http", "");
            out.line(
                "    timeout connect 5s",
                "as corsgate proxy's --connect-timeout",
            );
            out.line(
                "    timeout client 60s",
                "as corsgate proxy's --idle-timeout",
            );
            out.line("    timeout server 60s", "as corsgate proxy's --timeout");
            out.line(
                "    timeout http-request 10s",
                "as corsgate proxy's --header-timeout",
            );
            out.line(
                "    option forwardfor",
                "X-Forwarded-For, as corsgate proxy",
            );
            out.blank();
            out.line("frontend corsgate", "");
            out.line(&format!("    bind {listen}"), "--listen");
            rules(edge, &mut out, "    ");
            out.line("    default_backend corsgate_upstream", "");
            out.blank();
            out.line("backend corsgate_upstream", "--upstream");
            out.line(
                &format!("    server upstream {}", server(upstream)),
                "--upstream",
            );
        }
        None => {
            out.comment(
                "Paste the lines below into the frontend that receives your API's requests,",
            );
            out.comment("before its use_backend/default_backend lines.");
            rules(edge, &mut out, "    ");
        }
    }
    out.into_string()
}

/// `--upstream`'s URL as a `server` line's address and options.
fn server(upstream: &str) -> String {
    let (tls, authority) = match upstream.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some((_, rest)) => (false, rest),
        None => (false, upstream),
    };
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty())
        && !authority.ends_with(']');
    let address = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    if tls {
        format!("{address} ssl verify required ca-file @system-ca sni req.hdr(host)")
    } else {
        address
    }
}

/// A value for a log-format argument (`set-header`): quoted, `%` doubled.
fn format_value(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '%' => out.push_str("%%"),
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A regex or string argument, single-quoted (HAProxy takes it as is).
/// The patterns never hold a `'`: origins cannot, and the regexes escape
/// every byte that is not a letter or digit.
fn strong(text: &str) -> String {
    format!("'{text}'")
}

const GRANTED: &str = "{ var(txn.corsgate_allow_origin) -m found }";

/// The path as corsgate matches `urls_regex`: percent-decoded, nothing
/// normalized. A `%` that starts no escape is kept (as Rust's
/// `percent_decode` keeps it) by rewriting it to `%25` first: HAProxy's
/// `url_dec` alone fails on it, which would skip the rule.
const DECODED_PATH: &str = r#"path,regsub(\"%(?![0-9A-Fa-f]{2})\",\"%25\",g),url_dec"#;

fn rules(edge: &Edge, out: &mut Text, i: &str) {
    out.blank();
    out.note(
        i,
        "The request: one non-empty Origin line (two are refused), OPTIONS, a preflight.",
    );
    out.line(
        &format!("{i}acl corsgate_one_origin req.fhdr_cnt(origin) eq 1"),
        "",
    );
    out.line(
        &format!("{i}acl corsgate_empty_origin req.fhdr(origin) -m len 0"),
        "no Origin value: not a CORS request",
    );
    out.line(
        &format!("{i}acl corsgate_options method -m reg -i '^options$'"),
        "any case, as corsgate (`method -i OPTIONS` misses a lower-case `options`)",
    );
    out.line(
        &format!("{i}acl corsgate_asks_method req.fhdr_cnt(access-control-request-method) gt 0"),
        "",
    );
    out.line(
        &format!("{i}acl corsgate_null req.fhdr(origin) -m str null"),
        "",
    );
    if edge.rules.iter().any(Rule::needs_validity) {
        out.line(
            &format!(
                "{i}acl corsgate_valid req.fhdr(origin) -m reg {}",
                strong(VALID_ORIGIN)
            ),
            "a valid serialized origin, as browsers send them",
        );
    }
    if edge.rules.iter().any(|r| r.private_network) {
        out.line(
            &format!(
                "{i}acl corsgate_asks_private_network req.fhdr(access-control-request-private-network,1) -m str true"
            ),
            "",
        );
    }
    // Which rule decides: the first whose scope matches the path.
    out.blank();
    out.note(
        i,
        "Which rule decides: the first whose urls_regex matches the percent-decoded path.",
    );
    for (n, rule) in edge.rules.iter().enumerate() {
        let condition = match &rule.scope {
            Some((regex, source)) => {
                out.line(
                    &format!(
                        "{i}acl corsgate_scope_{n} {DECODED_PATH} -m reg {}",
                        strong(regex)
                    ),
                    &format!("{}: urls_regex = {source}", rule.name),
                );
                format!(" corsgate_scope_{n}")
            }
            None => String::new(),
        };
        out.line(
            &format!(
                "{i}http-request set-var(txn.corsgate_rule) int({n}) if !{{ var(txn.corsgate_rule) -m found }}{condition}"
            ),
            &rule.name,
        );
    }
    for (n, rule) in edge.rules.iter().enumerate() {
        origin_decision(rule, n, out, i);
    }
    out.line(
        &format!("{i}http-request set-var(txn.corsgate_options) bool(1) if corsgate_options"),
        "",
    );
    if edge.rules.iter().any(|r| r.private_network) {
        out.line(
            &format!(
                "{i}http-request set-var(txn.corsgate_private_network) bool(1) if corsgate_asks_private_network"
            ),
            "",
        );
    }
    out.line(
        &format!(
            "{i}http-request return status 200 if corsgate_options corsgate_asks_method {{ var(txn.corsgate_rule) -m found }}"
        ),
        "a preflight in scope is answered here, never sent upstream",
    );
    out.blank();
    out.note(
        i,
        "Every response in scope (the upstream's, HAProxy's own, errors): the policy's headers only.",
    );
    const IN_SCOPE: &str = "{ var(txn.corsgate_rule) -m found }";
    for name in CORS_RESPONSE_HEADERS {
        out.line(
            &format!("{i}http-after-response del-header {name} if {IN_SCOPE}"),
            "the upstream's own CORS headers are replaced",
        );
    }
    out.line(
        &format!("{i}acl corsgate_varies res.hdr(vary) -m str -i origin *"),
        "",
    );
    out.line(
        &format!("{i}http-after-response add-header Vary Origin if {IN_SCOPE} !corsgate_varies"),
        "every response depends on Origin (merged with the upstream's Vary)",
    );
    out.line(
        &format!(
            "{i}http-after-response set-header Access-Control-Allow-Origin %[var(txn.corsgate_allow_origin)] if {GRANTED}"
        ),
        "the decision above",
    );
    for (n, rule) in edge.rules.iter().enumerate() {
        rule_headers(rule, n, out, i);
    }
}

/// A rule's origin decision, into `txn.corsgate_allow_origin`, in the
/// library's order.
fn origin_decision(rule: &Rule, n: usize, out: &mut Text, i: &str) {
    out.blank();
    out.note(
        i,
        &format!(
            "{}: the value of Access-Control-Allow-Origin, in the library's order.",
            rule.name
        ),
    );
    let this_rule = format!("{{ var(txn.corsgate_rule) -m int {n} }}");
    if !rule.star_for_all() {
        for origin in &rule.exact {
            out.line(
                &format!(
                    "{i}acl corsgate_listed_{n} req.fhdr(origin) -m str {}",
                    strong(origin)
                ),
                &format!("{}: allowed_origins (exact bytes)", rule.name),
            );
        }
        for (regex, entry) in &rule.patterns {
            out.line(
                &format!(
                    "{i}acl corsgate_matched_{n} req.fhdr(origin) -m reg {}",
                    strong(regex)
                ),
                &format!("{}: allowed_origins: {entry}", rule.name),
            );
        }
        for (regex, source) in &rule.regexes {
            out.line(
                &format!(
                    "{i}acl corsgate_matched_{n} req.fhdr(origin) -m reg {}",
                    strong(regex)
                ),
                &format!("{}: allowed_origin_regexes: {source}", rule.name),
            );
        }
    }
    let set = |out: &mut Text, value: &str, condition: &str, from: &str| {
        out.line(
            format!(
                "{i}http-request set-var(txn.corsgate_allow_origin) {value} if {this_rule} corsgate_one_origin !corsgate_empty_origin {condition}"
            )
            .trim_end(),
            from,
        );
    };
    if rule.star_for_all() {
        set(
            out,
            "str(*)",
            "",
            "allow_all_origins = true without credentials: `*` for every origin",
        );
        return;
    }
    if rule.null || rule.all {
        set(
            out,
            "str(null)",
            "corsgate_null",
            if rule.null {
                "allowed_origins: null"
            } else {
                "allow_all_origins = true: null echoed"
            },
        );
    }
    if !rule.exact.is_empty() {
        set(
            out,
            "req.fhdr(origin)",
            &format!("corsgate_listed_{n}"),
            "allowed_origins",
        );
    }
    if rule.all {
        set(
            out,
            "req.fhdr(origin)",
            "corsgate_valid",
            "allow_all_origins = true with credentials: every valid origin echoed",
        );
    } else if !rule.patterns.is_empty() || !rule.regexes.is_empty() {
        set(
            out,
            "req.fhdr(origin)",
            &format!("corsgate_valid corsgate_matched_{n}"),
            "a valid origin a pattern or regex matches",
        );
    }
}

/// A rule's other headers, beside an allowed origin.
fn rule_headers(rule: &Rule, n: usize, out: &mut Text, i: &str) {
    let this_rule = format!(" {{ var(txn.corsgate_rule) -m int {n} }}");
    let mut header = |name: &str, value: &str, extra: &str, from: &str| {
        // An empty list is not sent (HAProxy refuses an empty value; Fetch
        // reads an absent and an empty list alike).
        if value.is_empty() {
            return;
        }
        out.line(
            &format!(
                "{i}http-after-response set-header {name} {} if {GRANTED}{this_rule}{extra}",
                format_value(value)
            ),
            &format!("{}: {from}", rule.name),
        );
    };
    if rule.credentials {
        header(
            "Access-Control-Allow-Credentials",
            "true",
            "",
            "allow_credentials = true",
        );
    }
    if let Some(expose) = &rule.expose_headers {
        header(
            "Access-Control-Expose-Headers",
            expose,
            "",
            "expose_headers",
        );
    }
    let on_options = " { var(txn.corsgate_options) -m bool }";
    header(
        "Access-Control-Allow-Methods",
        &rule.allow_methods,
        on_options,
        "allow_methods, on OPTIONS",
    );
    header(
        "Access-Control-Allow-Headers",
        &rule.allow_headers,
        on_options,
        "allow_headers, on OPTIONS",
    );
    header(
        "Access-Control-Max-Age",
        &rule.max_age.to_string(),
        on_options,
        "preflight_max_age, on OPTIONS",
    );
    if rule.private_network {
        header(
            "Access-Control-Allow-Private-Network",
            "true",
            " { var(txn.corsgate_private_network) -m bool }",
            "allow_private_network = true, when asked",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_becomes_a_server_line() {
        assert_eq!(server("http://127.0.0.1:8000"), "127.0.0.1:8000");
        assert_eq!(server("http://api.internal"), "api.internal:80");
        assert_eq!(
            server("https://api.internal"),
            "api.internal:443 ssl verify required ca-file @system-ca sni req.hdr(host)"
        );
        assert_eq!(server("http://[::1]:9000"), "[::1]:9000");
    }

    #[test]
    fn log_format_values_are_quoted_and_percent_doubled() {
        assert_eq!(format_value("a, b"), "\"a, b\"");
        assert_eq!(format_value("100%"), "\"100%%\"");
    }
}
