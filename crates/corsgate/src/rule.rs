//! [`Rule`]: one compiled rule (a path rule, or the top level) — its scope,
//! its origin matcher and every header value, built once — and its
//! compilation from the rule's settings, with every error.

use http::{HeaderMap, HeaderName, Method};

use crate::anchored::{self, Anchor, AnchoredRegex, MAX_REGEX_BYTES, RegexProblem};
use crate::config::{
    ConfigError, ConfigErrorKind, DEFAULT_MAX_AGE, Field, KeyPath, MAX_MAX_AGE, RuleSettings,
};
use crate::decision::preflight_template;
use crate::origin::{Origin, OriginMatcher, OriginPattern};
use crate::value::Shared;

/// One compiled rule: its scope and every header value, built once.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) scope: Option<AnchoredRegex>,
    pub(crate) origins: OriginMatcher,
    pub(crate) allow_credentials: bool,
    pub(crate) allow_methods: Shared,
    pub(crate) methods: Methods,
    pub(crate) allow_headers: Shared,
    /// Lower-cased: header names compare case-insensitively.
    pub(crate) headers: Box<[Box<str>]>,
    /// `*` is among the methods / the headers (a wildcard only without
    /// credentials): known once, not looked for on every preflight.
    pub(crate) any_method: bool,
    pub(crate) any_header: bool,
    pub(crate) expose: Option<Shared>,
    pub(crate) max_age: Option<Shared>,
    pub(crate) allow_private_network: bool,
    /// The preflight answer's headers (`decision::preflight_template`):
    /// without and with `Access-Control-Allow-Private-Network`.
    preflight: [HeaderMap; 2],
}

pub(crate) type Raw = Vec<(KeyPath, ConfigError)>;

fn path(rule: Option<usize>, field: Field) -> KeyPath {
    KeyPath {
        rule,
        field,
        index: None,
    }
}

impl Rule {
    /// Compiles one rule's settings, pushing every error with its place.
    pub(crate) fn compile(s: &RuleSettings<'_>, errors: &mut Raw) -> Self {
        let mut rule = compile_rule(s, errors);
        rule.preflight = [false, true].map(|pna| preflight_template(&rule, pna));
        rule
    }

    /// Whether an allowed origin is answered with `*`: allow-all without
    /// credentials (django-cors-headers answers `*` then whatever else
    /// allowed the origin).
    pub(crate) fn answers_wildcard(&self) -> bool {
        self.origins.all && !self.allow_credentials
    }

    /// The headers of a preflight answer under this rule, with `*` for the
    /// request's origin to replace.
    pub(crate) fn preflight_headers(&self, private_network: bool) -> &HeaderMap {
        &self.preflight[usize::from(private_network)]
    }
}

fn compile_rule(s: &RuleSettings<'_>, errors: &mut Raw) -> Rule {
    let scope = s.urls_regex.and_then(|(regex, rule)| {
        let key = path(rule, Field::UrlsRegex);
        if regex.is_empty() && rule.is_some() {
            errors.push((
                key,
                ConfigError::new(ConfigErrorKind::MissingKey, "", "a path rule's `urls_regex` is empty, so it would match every path")
                    .help("write the paths the rule covers, e.g. `^/api/`; settings for every path go at the top level"),
            ));
        }
        // `re.match` semantics: anchored at the start only.
        anchored::parse(regex, Anchor::Start)
            .and_then(|hir| anchored::compile(vec![hir], Anchor::Start))
            .map_err(|problem| errors.push((key, regex_error(regex, problem))))
            .ok()
    });
    let origins = compile_origins(s, errors);
    let (allow_methods, methods) =
        compile_tokens(s.allow_methods, Field::AllowMethods, errors, |m| {
            m == "*" || Method::from_bytes(m.as_bytes()).is_ok()
        });
    let (allow_headers, headers) =
        compile_tokens(s.allow_headers, Field::AllowHeaders, errors, valid_header);
    let (expose, _) = compile_tokens(s.expose_headers, Field::ExposeHeaders, errors, valid_header);
    let (max_age, age_rule) = s.preflight_max_age;
    if max_age > MAX_MAX_AGE {
        errors.push((
            path(age_rule, Field::PreflightMaxAge),
            ConfigError::new(
                ConfigErrorKind::InvalidMaxAge,
                "",
                format!("`{max_age}` seconds is more than a year"),
            )
            .value(max_age.to_string())
            .help(format!(
                "browsers cap the preflight cache at 2 hours (Chromium) to 24 hours (Firefox): write at most `{DEFAULT_MAX_AGE}`"
            )),
        ));
    }
    let any_method = methods.iter().any(|m| &**m == "*");
    Rule {
        scope,
        origins,
        allow_credentials: s.allow_credentials.0,
        allow_methods,
        methods: Methods::new(&methods),
        allow_headers,
        any_method,
        any_header: headers.iter().any(|h| &**h == "*"),
        headers: headers
            .iter()
            .map(|h| h.to_ascii_lowercase().into_boxed_str())
            .collect(),
        expose: (!s.expose_headers.0.is_empty()).then_some(expose),
        // `0` is sent, not omitted (django omits it): without the header
        // browsers cache the preflight for 5 s; `0` means no caching.
        max_age: Shared::new(&max_age.to_string()),
        allow_private_network: s.allow_private_network.0,
        preflight: Default::default(),
    }
}

/// The methods a rule allows, as a preflight's
/// `Access-Control-Request-Method` is checked against them: a standard
/// method (what browsers ask for) by a bit, without comparing text with
/// each configured one (docs/benchmarks.md, session 20); another by its
/// text, case-sensitively as methods compare.
#[derive(Debug)]
pub(crate) struct Methods {
    /// A bit per standard method ([`standard_bit`]) allowed, the
    /// CORS-safelisted `GET`, `HEAD` and `POST` always (Fetch § 4.8 step 5).
    standard: u16,
    /// The configured methods that are not standard (`*` among them).
    others: Box<[Box<str>]>,
}

impl Methods {
    fn new(configured: &[Box<str>]) -> Self {
        let safelisted = [b"GET".as_slice(), b"HEAD", b"POST"];
        let mut standard = safelisted.into_iter().filter_map(standard_bit).sum();
        let mut others = Vec::new();
        for method in configured {
            match standard_bit(method.as_bytes()) {
                Some(bit) => standard |= bit,
                None => others.push(method.clone()),
            }
        }
        Self {
            standard,
            others: others.into(),
        }
    }

    /// Whether a preflight may ask for `method` (`*` is not a wildcard here).
    pub(crate) fn allow(&self, method: &[u8]) -> bool {
        match standard_bit(method) {
            Some(bit) => self.standard & bit != 0,
            None => self.others.iter().any(|m| m.as_bytes() == method),
        }
    }
}

/// The bit of a standard method (RFC 9110 § 9, and `PATCH`), spelled as
/// its standard is: upper-case.
fn standard_bit(method: &[u8]) -> Option<u16> {
    let at = match method {
        b"GET" => 0,
        b"HEAD" => 1,
        b"POST" => 2,
        b"PUT" => 3,
        b"DELETE" => 4,
        b"PATCH" => 5,
        b"OPTIONS" => 6,
        b"CONNECT" => 7,
        b"TRACE" => 8,
        _ => return None,
    };
    Some(1 << at)
}

fn valid_header(name: &str) -> bool {
    name == "*" || HeaderName::from_bytes(name.as_bytes()).is_ok()
}

/// Validates a list of tokens and joins it with `, ` (django's format).
fn compile_tokens(
    (items, rule): (&[String], Option<usize>),
    field: Field,
    errors: &mut Raw,
    valid: impl Fn(&str) -> bool,
) -> (Shared, Vec<Box<str>>) {
    let key = path(rule, field);
    let mut good: Vec<Box<str>> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if valid(item) {
            good.push(item.as_str().into());
            continue;
        }
        let (kind, what, example) = if field == Field::AllowMethods {
            (ConfigErrorKind::InvalidMethod, "HTTP method", "`PATCH`")
        } else {
            (
                ConfigErrorKind::InvalidHeaderName,
                "HTTP header name",
                "`x-api-key`",
            )
        };
        let problem = if item.is_empty() {
            format!("an empty string is not an {what}")
        } else if item.contains(',') {
            format!("`{item}` is several names in one string")
        } else {
            format!("`{item}` is not a valid {what}")
        };
        let help = if item.contains(',') {
            "write one name per list element".to_owned()
        } else {
            format!(
                "letters, digits and ``!#$%&'*+-.^_`|~`` only, no spaces or colons, e.g. {example}"
            )
        };
        errors.push((
            key.at(i),
            ConfigError::new(kind, "", problem)
                .value(item.clone())
                .help(help),
        ));
    }
    let joined = good
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<&str>>()
        .join(", ");
    // Every element is a valid token, so the joined value is a valid header value.
    let value = Shared::new(&joined).unwrap_or_else(|| Shared::from_static(""));
    (value, good)
}

fn regex_error(source: &str, problem: RegexProblem) -> ConfigError {
    let (kind, problem, help) = match problem {
        RegexProblem::TooLong(len) => (
            ConfigErrorKind::TooLarge,
            format!("regex `{source}` is longer than {MAX_REGEX_BYTES} bytes ({len})"),
            "list the origins in `allowed_origins`, or use origin patterns like `https://*.example.com`",
        ),
        RegexProblem::TooLarge => (
            ConfigErrorKind::InvalidRegex,
            format!("regex `{source}` compiles too large (its repetitions multiply)"),
            "use fewer or smaller counted repetitions like `{100}`, or origin patterns like `https://*.example.com`",
        ),
        RegexProblem::Syntax(detail) => {
            let look_around = ["(?=", "(?!", "(?<=", "(?<!"]
                .iter()
                .any(|l| source.contains(l));
            (
                ConfigErrorKind::InvalidRegex,
                format!("regex `{source}` does not compile: {detail}"),
                if look_around {
                    "look-around is Python-only syntax: list the origins, or use an origin pattern like `https://*.example.com`"
                } else {
                    "fix the regex syntax (Rust `regex` crate, https://docs.rs/regex/#syntax)"
                },
            )
        }
    };
    ConfigError::new(kind, "", problem).value(source).help(help)
}

fn compile_origins(s: &RuleSettings<'_>, errors: &mut Raw) -> OriginMatcher {
    let mut matcher = OriginMatcher {
        all: s.allow_all_origins.0,
        ..OriginMatcher::default()
    };
    let (origins, rule) = s.allowed_origins;
    let key = path(rule, Field::AllowedOrigins);
    for (i, entry) in origins.iter().enumerate() {
        let parsed = if OriginPattern::is_pattern(entry) {
            OriginPattern::parse(entry).map(|p| matcher.patterns.push(p))
        } else {
            Origin::parse(entry).map(|origin| {
                if origin.is_null() {
                    matcher.null = true;
                } else if let Some(value) = Shared::new(origin.as_str()) {
                    let key: Box<[u8]> = origin.as_str().as_bytes().into();
                    if !matcher.exact.contains_key(&key) {
                        matcher.exact.insert(key, matcher.listed.len());
                        matcher.listed.push(value);
                    }
                }
            })
        };
        if let Err(err) = parsed {
            errors.push((
                key.at(i),
                ConfigError::new(ConfigErrorKind::InvalidOrigin, "", err.to_string())
                    .value(entry.clone())
                    .help(err.help()),
            ));
        }
    }
    let (regexes, rule) = s.allowed_origin_regexes;
    let key = path(rule, Field::AllowedOriginRegexes);
    let mut parsed = Vec::with_capacity(regexes.len());
    let mut parsed_at = Vec::with_capacity(regexes.len());
    for (i, source) in regexes.iter().enumerate() {
        match anchored::parse(source, Anchor::Whole) {
            Ok(hir) => {
                parsed.push(hir);
                parsed_at.push(i);
            }
            Err(problem) => errors.push((key.at(i), regex_error(source, problem))),
        }
    }
    // The ones that parsed are compiled even when another did not, so a
    // too-large regex is reported in the same run as a syntax error.
    if !parsed.is_empty() {
        match anchored::compile(parsed, Anchor::Whole) {
            Ok(set) => matcher.regexes = Some(set),
            Err(problem) => {
                // Compile each alone: name the one that is too large, if any.
                let culprit = parsed_at.into_iter().find(|&i| {
                    anchored::parse(&regexes[i], Anchor::Whole)
                        .and_then(|hir| anchored::compile(vec![hir], Anchor::Whole))
                        .is_err()
                });
                match culprit {
                    Some(i) => errors.push((key.at(i), regex_error(&regexes[i], problem))),
                    None => errors.push((
                        key,
                        ConfigError::new(
                            ConfigErrorKind::InvalidRegex,
                            "",
                            "the regexes together compile too large",
                        )
                        .help("use fewer or simpler regexes, or origin patterns like `https://*.example.com`"),
                    )),
                }
            }
        }
    }
    matcher
}

#[cfg(test)]
mod tests {
    use super::Methods;

    #[test]
    fn a_preflight_may_ask_for_a_listed_or_safelisted_method_in_its_own_case() {
        let configured: Vec<Box<str>> = ["PUT", "DELETE", "PURGE", "patch", "*"]
            .into_iter()
            .map(Into::into)
            .collect();
        let methods = Methods::new(&configured);
        for allowed in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PURGE", "patch", "*",
        ] {
            assert!(methods.allow(allowed.as_bytes()), "{allowed}");
        }
        for refused in [
            "PATCH", "put", "OPTIONS", "CONNECT", "TRACE", "purge", "PUT ", "",
        ] {
            assert!(!methods.allow(refused.as_bytes()), "{refused}");
        }
        // Each standard method has a bit of its own, and is held as it,
        // not as text to compare (what makes the check cheap).
        let standard = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
        ];
        for listed in standard {
            let methods = Methods::new(&[listed.into()]);
            assert!(methods.others.is_empty(), "{listed}");
            for asked in standard {
                let safelisted = ["GET", "HEAD", "POST"].contains(&asked);
                assert_eq!(
                    methods.allow(asked.as_bytes()),
                    safelisted || asked == listed,
                    "{listed} {asked}"
                );
            }
        }
    }
}
