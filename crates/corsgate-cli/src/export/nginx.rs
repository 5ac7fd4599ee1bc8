//! An [`Edge`] of one rule as nginx configuration: `map`s (in `http { }`) that compute
//! each CORS header's value from the request, and the directives of the
//! location that proxies the API: the preflight answered with `return
//! 200`, the upstream's own CORS headers hidden, the policy's added with
//! `always` (errors included). An empty value adds no header.
//!
//! The origin decision follows the library's order: `null` (only when
//! listed), the listed origins (a hash `map`, exact bytes), then — for a
//! valid serialized origin only — every origin, the patterns and the
//! regexes.

use super::{CORS_RESPONSE_HEADERS, Edge, Layout, Refusal, Rule, Text, VALID_ORIGIN};

/// What nginx cannot be given exactly: path rules. corsgate matches
/// `urls_regex` against the percent-decoded path as sent; nginx matches
/// locations, and sees `$uri`, normalized (`/a/../b` is `/b`), so a request
/// could be judged by another rule than the proxy's.
pub(crate) fn unsupported(edge: &Edge) -> Vec<Refusal> {
    edge.rules
        .iter()
        .filter_map(|rule| {
            let (_, source) = rule.scope.as_ref()?;
            Some(Refusal {
                setting: format!("{}: urls_regex = {source:?}", rule.name),
                why: "corsgate matches it against the percent-decoded path as sent; nginx matches against a normalized path (`/a/../b` is `/b` there), so a request could be judged by a different rule. HAProxy decodes without normalizing: `--to haproxy` takes path rules".into(),
            })
        })
        .collect()
}

/// The configuration text: deterministic (same edge, same bytes). The edge
/// has one rule for every path ([`unsupported`] refuses the others).
pub(crate) fn render(edge: &Edge, layout: &Layout) -> String {
    let edge = &edge.rules[edge.rules.len() - 1];
    let mut out = Text::new(layout, "nginx", "nginx");
    out.blank();
    match &layout.server {
        Some(_) => out.comment("For the http { } context (e.g. /etc/nginx/conf.d/corsgate.conf)."),
        None => out.comment(
            "Part 1, for the http { } context (e.g. /etc/nginx/conf.d/corsgate-maps.conf):",
        ),
    }
    maps(edge, &mut out);
    match &layout.server {
        Some((upstream, listen)) => {
            out.blank();
            out.line(
                "server {",
                "--listen: a complete server in front of --upstream",
            );
            out.line(&format!("    listen {listen};"), "--listen");
            out.line(
                "    location / {",
                "every path: the policy has no path rules",
            );
            location(edge, &mut out, "        ");
            out.line(&format!("        proxy_pass {upstream};"), "--upstream");
            out.line(
                "        proxy_http_version 1.1;",
                "keep-alive to the upstream, as corsgate proxy",
            );
            out.line(
                "        proxy_set_header Connection \"\";",
                "keep-alive to the upstream, as corsgate proxy",
            );
            out.line(
                "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
                "as corsgate proxy",
            );
            out.line(
                "        proxy_set_header X-Forwarded-Proto $scheme;",
                "as corsgate proxy",
            );
            out.line("    }", "");
            out.line("}", "");
        }
        None => {
            out.blank();
            out.comment(PART_TWO);
            out.comment("location /api/ { include snippets/corsgate-cors.conf; proxy_pass …; }):");
            location(edge, &mut out, "");
        }
    }
    out.into_string()
}

/// The comment that opens a snippet's second part.
pub(crate) const PART_TWO: &str =
    "Part 2, for the location { } that proxies your API (e.g. snippets/corsgate-cors.conf, then";

/// An nginx string literal.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A regex source entry of a `map`: `~` and the pattern, quoted.
fn regex_key(pattern: &str) -> String {
    // nginx reads `\` and `"` inside quotes as escapes; `$` starts a
    // variable only when followed by a name or `{`, which the patterns
    // never do (they end with `\z`, or `$` is escaped).
    let mut out = String::from("\"~");
    for c in pattern.chars() {
        if c == '"' {
            out.push_str(r"\x22");
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

fn maps(edge: &Rule, out: &mut Text) {
    let grant = "the origin is allowed";
    // 1. Which origins are allowed: the value of Access-Control-Allow-Origin.
    out.blank();
    if edge.star_for_all() {
        out.comment(
            "Every origin is allowed, without credentials: `*` (corsgate and django send `*`",
        );
        out.comment("for every non-empty Origin then, also one that is listed or malformed).");
        out.line(
            "map $http_origin $corsgate_allow_origin {",
            "allow_all_origins = true",
        );
        out.line(
            "    default \"*\";",
            "allow_all_origins = true, allow_credentials = false",
        );
        out.line("    \"\" \"\";", "no Origin: not a CORS request");
        out.line("}", "");
    } else {
        origin_maps(edge, out);
    }
    // 2. The other headers, only when the origin is allowed.
    let when_allowed = [
        (
            "allow_credentials = true",
            "corsgate_allow_credentials",
            edge.credentials.then(|| "true".to_owned()),
        ),
        (
            "expose_headers",
            "corsgate_expose_headers",
            edge.expose_headers.clone(),
        ),
    ];
    for (setting, variable, value) in when_allowed {
        let Some(value) = value else { continue };
        out.blank();
        out.line(
            &format!("map $corsgate_allow_origin ${variable} {{"),
            setting,
        );
        out.line(&format!("    default {};", quoted(&value)), grant);
        out.line("    \"\" \"\";", "");
        out.line("}", "");
    }
    // On OPTIONS (a preflight, or any OPTIONS corsgate sees): the
    // preflight's headers.
    let on_options = [
        (
            "allow_methods",
            "corsgate_allow_methods",
            edge.allow_methods.clone(),
        ),
        (
            "allow_headers",
            "corsgate_allow_headers",
            edge.allow_headers.clone(),
        ),
        (
            "preflight_max_age",
            "corsgate_max_age",
            edge.max_age.to_string(),
        ),
    ];
    for (setting, variable, value) in on_options {
        out.blank();
        out.line(
            &format!("map \"$request_method|$corsgate_allow_origin\" ${variable} {{"),
            &format!("{setting}, on OPTIONS"),
        );
        out.line("    default \"\";", "");
        out.line(
            &format!("    \"~^(?i:OPTIONS)\\|.\" {};", quoted(&value)),
            &format!("{setting}: an OPTIONS request whose origin is allowed"),
        );
        out.line("}", "");
    }
    if edge.private_network {
        out.blank();
        out.line(
            "map \"$http_access_control_request_private_network|$corsgate_allow_origin\" $corsgate_allow_private_network {",
            "allow_private_network = true",
        );
        out.line("    default \"\";", "");
        out.line(
            "    \"~^true\\|.\" \"true\";",
            "asked with `Access-Control-Request-Private-Network: true`, origin allowed",
        );
        out.line("}", "");
    }
    // 3. Vary: Origin on every response, merged with the upstream's.
    out.blank();
    out.line(
        "map $upstream_http_vary $corsgate_vary {",
        "Vary: Origin on every response (the answer depends on Origin)",
    );
    out.line("    default \"Origin\";", "");
    out.line(
        "    \"~*(?:^|,)[ \\t]*(?:origin|\\*)[ \\t]*(?:,|$)\" \"\";",
        "the upstream's Vary already names Origin, or is *",
    );
    out.line("}", "");
    // 4. A preflight: OPTIONS with Access-Control-Request-Method.
    out.blank();
    out.line(
        "map \"$request_method|$http_access_control_request_method\" $corsgate_preflight {",
        "a preflight is answered here, never sent upstream",
    );
    out.line("    default 0;", "");
    out.line("    \"~^(?i:OPTIONS)\\|.\" 1;", "");
    out.line("}", "");
}

/// The origin maps when the answer depends on the origin.
fn origin_maps(edge: &Rule, out: &mut Text) {
    out.comment("Listed origins: a hash lookup. nginx compares map strings ignoring case, and a");
    out.comment(
        "browser never sends upper case, so an Origin with an upper-case letter is refused.",
    );
    out.line("map $http_origin $corsgate_listed {", "allowed_origins");
    out.line("    default 0;", "");
    for origin in &edge.exact {
        out.line(&format!("    {} 1;", quoted(origin)), "allowed_origins");
    }
    out.line("}", "");
    out.line("map $http_origin $corsgate_lower_case {", "");
    out.line("    default 1;", "");
    out.line("    \"~[A-Z]\" 0;", "");
    out.line("}", "");
    if edge.needs_validity() {
        out.blank();
        out.comment(
            "A valid serialized origin, as browsers send them: only those are compared with",
        );
        out.comment("the patterns and regexes, or allowed by allow_all_origins with credentials.");
        out.line("map $http_origin $corsgate_valid {", "");
        out.line("    default 0;", "");
        out.line(&format!("    {} 1;", regex_key(VALID_ORIGIN)), "");
        out.line("}", "");
    }
    if !edge.patterns.is_empty() || !edge.regexes.is_empty() {
        out.blank();
        out.line("map $http_origin $corsgate_matched {", "");
        out.line("    default 0;", "");
        for (regex, entry) in &edge.patterns {
            out.line(
                &format!("    {} 1;", regex_key(regex)),
                &format!("allowed_origins: {entry}"),
            );
        }
        for (regex, source) in &edge.regexes {
            out.line(
                &format!("    {} 1;", regex_key(regex)),
                &format!("allowed_origin_regexes: {source}"),
            );
        }
        out.line("}", "");
    } else {
        out.line("map $http_origin $corsgate_matched {", "");
        out.line("    default 0;", "no patterns or regexes");
        out.line("}", "");
    }
    if !edge.needs_validity() {
        out.line("map $http_origin $corsgate_valid {", "");
        out.line(
            "    default 0;",
            "no patterns, regexes or allow_all_origins",
        );
        out.line("}", "");
    }
    // The decision: flags (listed, lower case, valid, matched), then the
    // origin; the first entry that matches gives the value.
    out.blank();
    out.comment("The decision, in the library's order: the echoed origin, or nothing.");
    out.line(
        "map \"$corsgate_listed$corsgate_lower_case$corsgate_valid$corsgate_matched|$http_origin\" $corsgate_allow_origin {",
        "",
    );
    out.line("    default \"\";", "not allowed");
    if edge.null || edge.all {
        out.line(
            "    \"~^....\\|null$\" \"null\";",
            if edge.null {
                "allowed_origins: null"
            } else {
                "allow_all_origins = true (with credentials: the origin echoed)"
            },
        );
    }
    out.line(
        "    \"~^11..\\|(.+)$\" $1;",
        "allowed_origins: listed, exactly",
    );
    if edge.all {
        out.line(
            "    \"~^..1.\\|(.+)$\" $1;",
            "allow_all_origins = true, with credentials: every valid origin echoed",
        );
    } else if !edge.patterns.is_empty() || !edge.regexes.is_empty() {
        out.line(
            "    \"~^..11\\|(.+)$\" $1;",
            "a valid origin a pattern or regex matches",
        );
    }
    out.line("}", "");
}

/// The location's directives.
fn location(edge: &Rule, out: &mut Text, indent: &str) {
    out.line(
        &format!("{indent}if ($corsgate_preflight) {{"),
        "preflights are answered here: 200, empty, the policy's headers",
    );
    out.line(&format!("{indent}    return 200;"), "");
    out.line(&format!("{indent}}}"), "");
    for name in CORS_RESPONSE_HEADERS {
        out.line(
            &format!("{indent}proxy_hide_header {name};"),
            "the upstream's own CORS headers are replaced",
        );
    }
    let mut add = |name: &str, variable: &str, from: &str| {
        out.line(
            &format!("{indent}add_header {name} ${variable} always;"),
            from,
        );
    };
    add("Vary", "corsgate_vary", "every response, errors included");
    add(
        "Access-Control-Allow-Origin",
        "corsgate_allow_origin",
        "allowed_origins, allowed_origin_regexes, allow_all_origins",
    );
    if edge.credentials {
        add(
            "Access-Control-Allow-Credentials",
            "corsgate_allow_credentials",
            "allow_credentials",
        );
    }
    if edge.expose_headers.is_some() {
        add(
            "Access-Control-Expose-Headers",
            "corsgate_expose_headers",
            "expose_headers",
        );
    }
    add(
        "Access-Control-Allow-Methods",
        "corsgate_allow_methods",
        "allow_methods",
    );
    add(
        "Access-Control-Allow-Headers",
        "corsgate_allow_headers",
        "allow_headers",
    );
    add(
        "Access-Control-Max-Age",
        "corsgate_max_age",
        "preflight_max_age",
    );
    if edge.private_network {
        add(
            "Access-Control-Allow-Private-Network",
            "corsgate_allow_private_network",
            "allow_private_network",
        );
    }
}
