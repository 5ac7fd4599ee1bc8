//! An [`Edge`] of one rule as a Caddyfile (Caddy 2.6 or later): a snippet
//! `(corsgate_cors)`, imported with the upstream as its argument, whose
//! named matchers are CEL expressions over the request's `Origin`, whose
//! `header` lines add the policy's headers, `respond` answers preflights,
//! and whose `reverse_proxy` drops the upstream's own CORS headers.
//!
//! Caddy's regexes are Go's RE2: no look-around, so the library's origin
//! validation is written as several positive matches combined in CEL, and
//! a pattern or regex that needs look-around is refused. Caddy's `map`
//! outputs are not placeholder-expanded (2.6), so the origin is echoed by
//! the `header` line itself (`{header.Origin}`), behind a matcher.

use super::{CORS_RESPONSE_HEADERS, Edge, Layout, Refusal, Rule, Text};

/// What Caddy cannot be given exactly: path rules (its path matchers see
/// Go's decoded, cleaned path), and a regex only look-around can write.
pub(crate) fn unsupported(edge: &Edge) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for rule in &edge.rules {
        if let Some((_, source)) = &rule.scope {
            refusals.push(Refusal {
                setting: format!("{}: urls_regex = {source:?}", rule.name),
                why: "Caddy matches paths after Go has decoded and cleaned them (`/a/../b` is `/b`), so a request could be judged by a different rule than corsgate's. `--to haproxy` takes path rules".into(),
            });
        }
        for (regex, source) in &rule.regexes {
            if needs_lookaround(regex) {
                refusals.push(Refusal {
                    setting: format!("{}: allowed_origin_regexes = {source:?}", rule.name),
                    why: "its word-boundary form needs a look-around, which Go's RE2 (Caddy's engine) does not have".into(),
                });
            }
        }
    }
    refusals
}

fn needs_lookaround(regex: &str) -> bool {
    ["(?=", "(?!", "(?<=", "(?<!"]
        .iter()
        .any(|l| regex.contains(l))
}

/// The library's request-origin validation, in CEL over RE2: the form, at
/// most 2,048 bytes, not a special scheme's default port, and a special
/// scheme's numeric host only as a dotted-decimal IPv4 address.
const VALID: &str = concat!(
    r#"({header.Origin}.size() <= 2048"#,
    r#" && {header.Origin}.matches(r"^[a-z][a-z0-9+.-]*://(?:\[[0-9a-f:.]+\]|[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?)(?::(?:0|[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$")"#,
    r#" && !{header.Origin}.matches(r"^(?:(?:http|ws)://[^/]*:80|(?:https|wss)://[^/]*:443|ftp://[^/]*:21)$")"#,
    r#" && !({header.Origin}.matches(r"^(?:https?|wss?|ftp)://(?:[^/:]*\.)?(?:[0-9]+|0x[0-9a-f]*)\.?(?::[0-9]*)?$")"#,
    r#" && !{header.Origin}.matches(r"^(?:https?|wss?|ftp)://(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?::[0-9]*)?$")))"#,
);

/// A CEL string literal.
fn cel_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The CEL condition under which the rule echoes the origin.
fn allowed(rule: &Rule) -> String {
    let mut any = Vec::new();
    if rule.null || rule.all {
        any.push(r#"{header.Origin} == "null""#.to_owned());
    }
    if !rule.exact.is_empty() {
        let list: Vec<String> = rule.exact.iter().map(|o| cel_string(o)).collect();
        any.push(format!("{{header.Origin}} in [{}]", list.join(", ")));
    }
    if rule.all {
        any.push(VALID.to_owned());
    } else if !rule.patterns.is_empty() || !rule.regexes.is_empty() {
        let matches: Vec<String> = rule
            .patterns
            .iter()
            .chain(&rule.regexes)
            // The same text as for PCRE: `\A`, `\z`, `\xHH`, classes and
            // escaped punctuation read the same in RE2 (look-around, which
            // RE2 lacks, is refused by `unsupported`).
            .map(|(regex, _)| format!("{{header.Origin}}.matches(r\"{regex}\")"))
            .collect();
        any.push(format!("({VALID} && ({}))", matches.join(" || ")));
    }
    if any.is_empty() {
        "false".to_owned()
    } else {
        any.join(" || ")
    }
}

const OPTIONS: &str = r#"{method}.matches(r"^(?i)options$")"#;

/// The configuration text: deterministic (same edge, same bytes).
pub(crate) fn render(edge: &Edge, layout: &Layout) -> String {
    let rule = &edge.rules[edge.rules.len() - 1];
    let mut out = Text::new(layout, "Caddy", "caddy");
    let mut line = |text: &str, from: &str| out.line(text, from);
    if layout.server.is_some() {
        line("{", "");
        line("\tadmin off", "");
        line("\tauto_https off", "plain http, as --listen says");
        line("}", "");
        line("", "");
    } else {
        line(
            "# A snippet: in your site block, `import corsgate_cors <upstream>` (e.g. 127.0.0.1:8000)",
            "",
        );
        line(
            "# in place of your reverse_proxy line; the upstream's CORS headers are dropped.",
            "",
        );
    }
    line("(corsgate_cors) {", "");
    let allow = if rule.star_for_all() {
        "{header.Origin} != \"\"".to_owned()
    } else {
        allowed(rule)
    };
    line(
        &format!("\t@corsgate_allowed expression `{allow}`"),
        if rule.star_for_all() {
            "allow_all_origins = true without credentials: `*` for every origin"
        } else {
            "allowed_origins, allowed_origin_regexes, allow_all_origins"
        },
    );
    line(
        &format!("\t@corsgate_options expression `({allow}) && {OPTIONS}`"),
        "an OPTIONS request whose origin is allowed",
    );
    line("\t@corsgate_preflight {", "");
    line(
        &format!("\t\texpression `{OPTIONS}`"),
        "OPTIONS, in any case",
    );
    line(
        "\t\theader Access-Control-Request-Method *",
        "with Access-Control-Request-Method: a preflight",
    );
    line("\t}", "");
    line("\theader Vary Origin", "every response depends on Origin");
    let origin_value = if rule.star_for_all() {
        "*"
    } else {
        "{header.Origin}"
    };
    line(
        &format!("\theader @corsgate_allowed Access-Control-Allow-Origin \"{origin_value}\""),
        "the origin, allowed",
    );
    if rule.credentials {
        line(
            "\theader @corsgate_allowed Access-Control-Allow-Credentials true",
            "allow_credentials = true",
        );
    }
    if let Some(expose) = &rule.expose_headers {
        line(
            &format!("\theader @corsgate_allowed Access-Control-Expose-Headers \"{expose}\""),
            "expose_headers",
        );
    }
    for (name, value, from) in [
        (
            "Access-Control-Allow-Methods",
            rule.allow_methods.clone(),
            "allow_methods, on OPTIONS",
        ),
        (
            "Access-Control-Allow-Headers",
            rule.allow_headers.clone(),
            "allow_headers, on OPTIONS",
        ),
        (
            "Access-Control-Max-Age",
            rule.max_age.to_string(),
            "preflight_max_age, on OPTIONS",
        ),
    ] {
        // An empty list is not sent (Fetch reads it as absent).
        if !value.is_empty() {
            line(
                &format!("\theader @corsgate_options {name} \"{value}\""),
                from,
            );
        }
    }
    if rule.private_network {
        line(
            &format!(
                "\t@corsgate_private_network expression `({allow}) && {{header.Access-Control-Request-Private-Network}} == \"true\"`"
            ),
            "",
        );
        line(
            "\theader @corsgate_private_network Access-Control-Allow-Private-Network true",
            "allow_private_network = true, when asked",
        );
    }
    line(
        "\trespond @corsgate_preflight 200",
        "a preflight is answered here, never sent upstream",
    );
    line("\treverse_proxy {args.0} {", "the upstream");
    for name in CORS_RESPONSE_HEADERS {
        line(
            &format!("\t\theader_down -{name}"),
            "the upstream's own CORS headers are replaced",
        );
    }
    line("\t}", "");
    line("}", "");
    if let Some((upstream, listen)) = &layout.server {
        line("", "");
        line(&format!("http://{listen} {{"), "--listen");
        line(&format!("\timport corsgate_cors {upstream}"), "--upstream");
        line("}", "");
    }
    out.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use corsgate::Config;

    #[test]
    fn path_rules_and_look_around_are_refused_for_caddy() {
        let mut config = Config::default();
        config.urls_regex = Some("^/api/".into());
        // `\b` is RE2's too; `\b{start}` is written with a look-ahead.
        config.allowed_origin_regexes =
            vec![r"^https://\b{start}\w+$".into(), r"^https://\w+\b$".into()];
        let (edge, refusals) = Edge::of(&config);
        assert!(refusals.is_empty(), "{refusals:?}");
        let refused = unsupported(&edge);
        let settings: Vec<&str> = refused.iter().map(|r| r.setting.as_str()).collect();
        assert_eq!(
            settings,
            [
                "the top level: urls_regex = \"^/api/\"",
                "the top level: allowed_origin_regexes = \"^https://\\\\b{start}\\\\w+$\""
            ]
        );
    }

    #[test]
    fn cel_strings_are_escaped() {
        assert_eq!(cel_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
