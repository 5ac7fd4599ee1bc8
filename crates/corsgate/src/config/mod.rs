//! [`Config`]: the settings as plain data, built in code or loaded from a
//! file, and compiled once into a [`Policy`].

mod django;
mod error;
#[cfg(feature = "config-files")]
mod file;

#[cfg(feature = "audit")]
pub(crate) use error::printable_message;
pub use error::{ConfigError, ConfigErrors, ErrorKind, Location};
#[cfg(feature = "config-files")]
pub use file::{MAX_CONFIG_DEPTH, MAX_CONFIG_FILE_BYTES};

pub(crate) use django::Field;

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method};

use crate::anchored::{self, Anchor, MAX_REGEX_BYTES, RegexProblem};
use crate::origin::{Origin, OriginMatcher, OriginPattern};
use crate::policy::{Policy, Rule};

/// django-cors-headers' default `CORS_ALLOW_METHODS`.
pub const DEFAULT_METHODS: &[&str] = &["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"];

/// django-cors-headers' default `CORS_ALLOW_HEADERS`.
pub const DEFAULT_HEADERS: &[&str] = &[
    "accept",
    "authorization",
    "content-type",
    "user-agent",
    "x-csrftoken",
    "x-requested-with",
];

/// django-cors-headers' default `CORS_PREFLIGHT_MAX_AGE`: one day.
pub const DEFAULT_MAX_AGE: u64 = 86_400;

/// The largest accepted `preflight_max_age`: one year. Browsers cap the
/// value far lower (Chromium 2 hours, Firefox 24 hours), so anything above
/// is a typo (milliseconds for seconds, say).
pub const MAX_MAX_AGE: u64 = 365 * 86_400;

/// The settings of a CORS policy, as plain data.
///
/// Every field is a django-cors-headers setting with the same meaning and
/// default, named without `CORS_` in snake_case; [`path_rules`](Self::path_rules)
/// is corsgate's addition. Nothing is checked until [`compile`](Self::compile),
/// which reports every mistake at once.
///
/// Build one with [`Config::builder`], load one with
/// [`Config::from_file`] (feature `serde`), or start from
/// [`Config::default`] and set fields.
///
/// | field | django-cors-headers setting (old alias) | default |
/// |---|---|---|
/// | `allowed_origins` | `CORS_ALLOWED_ORIGINS` (`CORS_ORIGIN_WHITELIST`) | `[]` |
/// | `allowed_origin_regexes` | `CORS_ALLOWED_ORIGIN_REGEXES` (`CORS_ORIGIN_REGEX_WHITELIST`) | `[]` |
/// | `allow_all_origins` | `CORS_ALLOW_ALL_ORIGINS` (`CORS_ORIGIN_ALLOW_ALL`) | `false` |
/// | `urls_regex` | `CORS_URLS_REGEX` | every path |
/// | `allow_methods` | `CORS_ALLOW_METHODS` | [`DEFAULT_METHODS`] |
/// | `allow_headers` | `CORS_ALLOW_HEADERS` | [`DEFAULT_HEADERS`] |
/// | `expose_headers` | `CORS_EXPOSE_HEADERS` | `[]` |
/// | `preflight_max_age` | `CORS_PREFLIGHT_MAX_AGE` | `86400` |
/// | `allow_credentials` | `CORS_ALLOW_CREDENTIALS` | `false` |
/// | `allow_private_network` | `CORS_ALLOW_PRIVATE_NETWORK` | `false` |
/// | `path_rules` | — | `[]` |
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Origins allowed to read responses: `scheme://host[:port]`, `null`, or
    /// a pattern with a wildcard label (`https://*.example.com`) or port
    /// (`http://localhost:*`). See [MDN: Access-Control-Allow-Origin](https://developer.mozilla.org/docs/Web/HTTP/Headers/Access-Control-Allow-Origin).
    pub allowed_origins: Vec<String>,
    /// Regexes an origin must match **as a whole** to be allowed (unlike
    /// django, which anchors only the start).
    pub allowed_origin_regexes: Vec<String>,
    /// Allow every origin: `Access-Control-Allow-Origin: *`, or the request's
    /// origin reflected when `allow_credentials` is on.
    pub allow_all_origins: bool,
    /// Only paths this regex matches, from their start, get CORS handling;
    /// `None` is every path. Matched against the percent-decoded path
    /// without the query, like django-cors-headers.
    pub urls_regex: Option<String>,
    /// Sent as `Access-Control-Allow-Methods` on preflights. Methods are
    /// case-sensitive ([Fetch § CORS-preflight fetch](https://fetch.spec.whatwg.org/#cors-preflight-fetch)).
    pub allow_methods: Vec<String>,
    /// Sent as `Access-Control-Allow-Headers` on preflights (case-insensitive).
    pub allow_headers: Vec<String>,
    /// Sent as `Access-Control-Expose-Headers`: response headers, beyond the
    /// safelisted ones, that a page may read.
    pub expose_headers: Vec<String>,
    /// Seconds a browser may cache a preflight (`Access-Control-Max-Age`);
    /// `0` sends `Access-Control-Max-Age: 0`: no caching (django omits the
    /// header, which browsers read as 5 seconds).
    pub preflight_max_age: u64,
    /// Send `Access-Control-Allow-Credentials: true`: cookies and HTTP
    /// authentication may be sent and the response read.
    pub allow_credentials: bool,
    /// Answer `Access-Control-Request-Private-Network: true` with
    /// `Access-Control-Allow-Private-Network: true` (Private Network Access).
    pub allow_private_network: bool,
    /// Rules for paths with their own policy, tried in order before the
    /// settings above: the first rule whose `urls_regex` matches decides.
    pub path_rules: Vec<PathRule>,
    /// Report-only mode: adapters decide, log and count each request but
    /// change no response — to watch what a stricter policy would block
    /// before enforcing it. corsgate's own setting (django-cors-headers has
    /// none); applies to the whole policy.
    pub report_only: bool,
    pub(crate) source: SourceRef,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_origin_regexes: Vec::new(),
            allow_all_origins: false,
            urls_regex: None,
            allow_methods: to_strings(DEFAULT_METHODS.iter().copied()),
            allow_headers: to_strings(DEFAULT_HEADERS.iter().copied()),
            expose_headers: Vec::new(),
            preflight_max_age: DEFAULT_MAX_AGE,
            allow_credentials: false,
            allow_private_network: false,
            path_rules: Vec::new(),
            report_only: false,
            source: SourceRef::default(),
        }
    }
}

/// A path with its own policy. Each setting left `None` is inherited from
/// the top level of the [`Config`].
///
/// ```
/// use corsgate::{Config, PathRule};
///
/// let policy = Config::builder()
///     .allowed_origins(["https://app.example.com"])
///     .path_rule(PathRule::new("^/public/").allow_all_origins(true))
///     .compile()
///     .unwrap();
/// # let _ = policy;
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PathRule {
    /// The paths this rule covers, matched from the start of the
    /// percent-decoded path (required).
    pub urls_regex: String,
    /// See [`Config::allowed_origins`].
    pub allowed_origins: Option<Vec<String>>,
    /// See [`Config::allowed_origin_regexes`].
    pub allowed_origin_regexes: Option<Vec<String>>,
    /// See [`Config::allow_all_origins`].
    pub allow_all_origins: Option<bool>,
    /// See [`Config::allow_methods`].
    pub allow_methods: Option<Vec<String>>,
    /// See [`Config::allow_headers`].
    pub allow_headers: Option<Vec<String>>,
    /// See [`Config::expose_headers`].
    pub expose_headers: Option<Vec<String>>,
    /// See [`Config::preflight_max_age`].
    pub preflight_max_age: Option<u64>,
    /// See [`Config::allow_credentials`].
    pub allow_credentials: Option<bool>,
    /// See [`Config::allow_private_network`].
    pub allow_private_network: Option<bool>,
}

fn to_strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

impl PathRule {
    /// A rule for the paths `urls_regex` matches, inheriting every setting.
    pub fn new(urls_regex: impl Into<String>) -> Self {
        Self {
            urls_regex: urls_regex.into(),
            ..Self::default()
        }
    }

    /// Sets [`Config::allowed_origins`] for this rule.
    pub fn allowed_origins<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origins = Some(to_strings(items));
        self
    }

    /// Sets [`Config::allowed_origin_regexes`] for this rule.
    pub fn allowed_origin_regexes<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_origin_regexes = Some(to_strings(items));
        self
    }

    /// Sets [`Config::allow_methods`] for this rule.
    pub fn allow_methods<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_methods = Some(to_strings(items));
        self
    }

    /// Sets [`Config::allow_headers`] for this rule.
    pub fn allow_headers<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allow_headers = Some(to_strings(items));
        self
    }

    /// Sets [`Config::expose_headers`] for this rule.
    pub fn expose_headers<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.expose_headers = Some(to_strings(items));
        self
    }

    /// Sets [`Config::allow_all_origins`] for this rule.
    pub fn allow_all_origins(mut self, value: bool) -> Self {
        self.allow_all_origins = Some(value);
        self
    }

    /// Sets [`Config::preflight_max_age`] for this rule.
    pub fn preflight_max_age(mut self, value: u64) -> Self {
        self.preflight_max_age = Some(value);
        self
    }

    /// Sets [`Config::allow_credentials`] for this rule.
    pub fn allow_credentials(mut self, value: bool) -> Self {
        self.allow_credentials = Some(value);
        self
    }

    /// Sets [`Config::allow_private_network`] for this rule.
    pub fn allow_private_network(mut self, value: bool) -> Self {
        self.allow_private_network = Some(value);
        self
    }
}

/// Builds a [`Config`] in code.
///
/// ```
/// use corsgate::Config;
///
/// let policy = Config::builder()
///     .allowed_origins(["http://127.0.0.1:5000"])
///     .allow_credentials(true)
///     .compile()?;
/// # let _ = policy;
/// # Ok::<(), corsgate::ConfigErrors>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl ConfigBuilder {
    /// Sets [`Config::allowed_origins`] (replacing what was there).
    pub fn allowed_origins<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.allowed_origins = to_strings(items);
        self
    }

    /// Sets [`Config::allowed_origin_regexes`].
    pub fn allowed_origin_regexes<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.allowed_origin_regexes = to_strings(items);
        self
    }

    /// Sets [`Config::allow_methods`].
    pub fn allow_methods<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.allow_methods = to_strings(items);
        self
    }

    /// Sets [`Config::allow_headers`].
    pub fn allow_headers<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.allow_headers = to_strings(items);
        self
    }

    /// Sets [`Config::expose_headers`].
    pub fn expose_headers<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.expose_headers = to_strings(items);
        self
    }

    /// Sets [`Config::allow_all_origins`].
    pub fn allow_all_origins(mut self, value: bool) -> Self {
        self.config.allow_all_origins = value;
        self
    }

    /// Sets [`Config::preflight_max_age`].
    pub fn preflight_max_age(mut self, value: u64) -> Self {
        self.config.preflight_max_age = value;
        self
    }

    /// Sets [`Config::allow_credentials`].
    pub fn allow_credentials(mut self, value: bool) -> Self {
        self.config.allow_credentials = value;
        self
    }

    /// Sets [`Config::allow_private_network`].
    pub fn allow_private_network(mut self, value: bool) -> Self {
        self.config.allow_private_network = value;
        self
    }

    /// Sets [`Config::report_only`]: decide, log and count, change nothing.
    pub fn report_only(mut self, on: bool) -> Self {
        self.config.report_only = on;
        self
    }

    /// Sets [`Config::urls_regex`].
    pub fn urls_regex(mut self, regex: impl Into<String>) -> Self {
        self.config.urls_regex = Some(regex.into());
        self
    }

    /// Appends a [`PathRule`].
    pub fn path_rule(mut self, rule: PathRule) -> Self {
        self.config.path_rules.push(rule);
        self
    }

    /// The finished [`Config`], not yet checked.
    pub fn build(self) -> Config {
        self.config
    }

    /// Checks the settings and compiles them: see [`Config::compile`].
    ///
    /// # Errors
    /// Every mistake in the settings.
    pub fn compile(self) -> Result<Policy, ConfigErrors> {
        self.config.compile()
    }
}

/// Where a loaded configuration's keys and values are in their file. Plain
/// data: two configs compare equal whatever their source.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceRef(pub(crate) Option<Arc<Source>>);

impl PartialEq for SourceRef {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug, Default)]
pub(crate) struct Source {
    pub(crate) file: Option<std::path::PathBuf>,
    pub(crate) text: String,
    /// For each (rule, field): the key as written, the value's span, and
    /// each list element's span.
    pub(crate) keys: HashMap<(Option<usize>, Field), KeySource>,
    /// The span of each path rule's table.
    pub(crate) rules: Vec<std::ops::Range<usize>>,
    /// Things worth a warning that are not errors: (key, offset, message).
    pub(crate) notes: Vec<(String, usize, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct KeySource {
    pub(crate) written: String,
    pub(crate) span: std::ops::Range<usize>,
    pub(crate) items: Vec<std::ops::Range<usize>>,
}

impl Source {
    pub(crate) fn location(&self, offset: usize) -> Location {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            file: self.file.clone(),
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

/// A place in a configuration: `(rule, field, list index)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyPath {
    pub(crate) rule: Option<usize>,
    pub(crate) field: Field,
    pub(crate) index: Option<usize>,
}

impl KeyPath {
    fn at(self, index: usize) -> Self {
        Self {
            index: Some(index),
            ..self
        }
    }
}

impl Config {
    /// A builder starting from django-cors-headers' defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Checks every setting and compiles the policy: origins parsed and
    /// normalised into a hash set, patterns prepared, regexes joined into
    /// one `RegexSet`, every header value built.
    ///
    /// # Errors
    /// Every mistake at once, each naming the key (as the file spelled it,
    /// when the config was loaded from one), the value, what is wrong and
    /// how to fix it.
    pub fn compile(&self) -> Result<Policy, ConfigErrors> {
        let mut errors = Vec::new();
        let policy = self.compile_collecting(&mut errors);
        if errors.is_empty() {
            Ok(policy)
        } else {
            Err(ConfigErrors::from_vec(errors))
        }
    }

    /// Compiles what can be compiled, pushing every error.
    pub(crate) fn compile_collecting(&self, errors: &mut Vec<ConfigError>) -> Policy {
        let mut raw = Vec::new();
        let rules = self
            .rule_settings()
            .iter()
            .map(|settings| Arc::new(compile_rule(settings, &mut raw)))
            .collect();
        // A setting inherited by several rules is reported once.
        let mut seen = std::collections::HashSet::new();
        raw.retain(|(path, error): &(KeyPath, ConfigError)| {
            seen.insert((*path, error.problem.clone()))
        });
        errors.extend(raw.into_iter().map(|(path, error)| self.place(path, error)));
        Policy::from_rules(rules, self.report_only)
    }

    /// Warnings from loading a file that are not errors: an old alias
    /// (`CORS_ORIGIN_WHITELIST`) ignored because its current name is also
    /// set; like django-cors-headers, corsgate never merges the two.
    pub fn warnings(&self) -> Vec<ConfigError> {
        let Some(source) = self.source.0.as_deref() else {
            return Vec::new();
        };
        let mut notes: Vec<_> = source.notes.iter().collect();
        notes.sort_by_key(|(_, offset, _)| *offset);
        notes
            .into_iter()
            .map(|(key, offset, message)| {
                let mut warning =
                    ConfigError::new(ErrorKind::DuplicateKey, key.clone(), message.clone())
                        .help("delete the old name");
                warning.location = Some(source.location(*offset));
                warning
            })
            .collect()
    }

    /// Names the key as the file spelled it and adds its location.
    pub(crate) fn place(&self, path: KeyPath, mut error: ConfigError) -> ConfigError {
        let (key, location) = self.locate(path);
        error.key = key;
        error.location = location;
        error
    }

    /// The key of a place in the configuration as the file spelled it
    /// (`CORS_ALLOWED_ORIGINS[2]`, `path_rules[0].allow_methods`), and where
    /// it is in the file.
    pub(crate) fn locate(&self, path: KeyPath) -> (String, Option<Location>) {
        let source = self.source.0.as_deref();
        let known = source.and_then(|s| s.keys.get(&(path.rule, path.field)));
        let name = known.map_or(path.field.snake(), |k| k.written.as_str());
        let mut key = match path.rule {
            Some(rule) => format!("{}[{rule}].{name}", Field::PathRules.snake()),
            None => name.to_owned(),
        };
        if let Some(index) = path.index {
            key.push_str(&format!("[{index}]"));
        }
        let location = source.and_then(|source| {
            let span = match (known, path.index) {
                (Some(k), Some(i)) => k.items.get(i).or(Some(&k.span)).map(|s| s.start),
                (Some(k), None) => Some(k.span.start),
                (None, _) => path.rule.and_then(|r| source.rules.get(r)).map(|s| s.start),
            };
            span.map(|offset| source.location(offset))
        });
        (key, location)
    }

    /// Every rule's settings after inheritance: the path rules in order,
    /// then the top level.
    pub(crate) fn rule_settings(&self) -> Vec<RuleSettings<'_>> {
        let top = RuleSettings::top(self);
        let mut rules: Vec<RuleSettings<'_>> = self
            .path_rules
            .iter()
            .enumerate()
            .map(|(i, rule)| top.overridden(i, rule))
            .collect();
        rules.push(top);
        rules
    }
}

/// One rule's settings after inheritance, each with the rule that set it
/// (`None`: the top level).
pub(crate) struct RuleSettings<'a> {
    pub(crate) urls_regex: Option<(&'a str, Option<usize>)>,
    pub(crate) allowed_origins: (&'a [String], Option<usize>),
    pub(crate) allowed_origin_regexes: (&'a [String], Option<usize>),
    pub(crate) allow_all_origins: (bool, Option<usize>),
    pub(crate) allow_methods: (&'a [String], Option<usize>),
    pub(crate) allow_headers: (&'a [String], Option<usize>),
    pub(crate) expose_headers: (&'a [String], Option<usize>),
    pub(crate) preflight_max_age: (u64, Option<usize>),
    pub(crate) allow_credentials: (bool, Option<usize>),
    pub(crate) allow_private_network: (bool, Option<usize>),
}

impl<'a> RuleSettings<'a> {
    fn top(c: &'a Config) -> Self {
        Self {
            urls_regex: c.urls_regex.as_deref().map(|r| (r, None)),
            allowed_origins: (&c.allowed_origins, None),
            allowed_origin_regexes: (&c.allowed_origin_regexes, None),
            allow_all_origins: (c.allow_all_origins, None),
            allow_methods: (&c.allow_methods, None),
            allow_headers: (&c.allow_headers, None),
            expose_headers: (&c.expose_headers, None),
            preflight_max_age: (c.preflight_max_age, None),
            allow_credentials: (c.allow_credentials, None),
            allow_private_network: (c.allow_private_network, None),
        }
    }

    fn overridden(&self, i: usize, r: &'a PathRule) -> Self {
        fn list<'a>(
            own: &'a Option<Vec<String>>,
            i: usize,
            top: (&'a [String], Option<usize>),
        ) -> (&'a [String], Option<usize>) {
            own.as_deref().map_or(top, |v| (v, Some(i)))
        }
        fn value<T: Copy>(own: Option<T>, i: usize, top: (T, Option<usize>)) -> (T, Option<usize>) {
            own.map_or(top, |v| (v, Some(i)))
        }
        Self {
            urls_regex: Some((&r.urls_regex, Some(i))),
            allowed_origins: list(&r.allowed_origins, i, self.allowed_origins),
            allowed_origin_regexes: list(&r.allowed_origin_regexes, i, self.allowed_origin_regexes),
            allow_all_origins: value(r.allow_all_origins, i, self.allow_all_origins),
            allow_methods: list(&r.allow_methods, i, self.allow_methods),
            allow_headers: list(&r.allow_headers, i, self.allow_headers),
            expose_headers: list(&r.expose_headers, i, self.expose_headers),
            preflight_max_age: value(r.preflight_max_age, i, self.preflight_max_age),
            allow_credentials: value(r.allow_credentials, i, self.allow_credentials),
            allow_private_network: value(r.allow_private_network, i, self.allow_private_network),
        }
    }
}

type Raw = Vec<(KeyPath, ConfigError)>;

fn path(rule: Option<usize>, field: Field) -> KeyPath {
    KeyPath {
        rule,
        field,
        index: None,
    }
}

fn compile_rule(s: &RuleSettings<'_>, errors: &mut Raw) -> Rule {
    let scope = s.urls_regex.and_then(|(regex, rule)| {
        let key = path(rule, Field::UrlsRegex);
        if regex.is_empty() && rule.is_some() {
            errors.push((
                key,
                ConfigError::new(ErrorKind::MissingKey, "", "a path rule's `urls_regex` is empty, so it would match every path")
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
                ErrorKind::InvalidMaxAge,
                "",
                format!("`{max_age}` seconds is more than a year"),
            )
            .value(max_age.to_string())
            .help(format!(
                "browsers cap the preflight cache at 2 hours (Chromium) to 24 hours (Firefox): write at most `{DEFAULT_MAX_AGE}`"
            )),
        ));
    }
    Rule {
        scope,
        origins,
        allow_credentials: s.allow_credentials.0,
        allow_methods,
        methods: methods.into_boxed_slice(),
        allow_headers,
        headers: headers
            .iter()
            .map(|h| h.to_ascii_lowercase().into_boxed_str())
            .collect(),
        expose: (!s.expose_headers.0.is_empty()).then_some(expose),
        // `0` is sent, not omitted (django omits it): without the header
        // browsers cache the preflight for 5 s; `0` means no caching.
        max_age: Some(HeaderValue::from(max_age)),
        allow_private_network: s.allow_private_network.0,
    }
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
) -> (HeaderValue, Vec<Box<str>>) {
    let key = path(rule, field);
    let mut good: Vec<Box<str>> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if valid(item) {
            good.push(item.as_str().into());
            continue;
        }
        let (kind, what, example) = if field == Field::AllowMethods {
            (ErrorKind::InvalidMethod, "HTTP method", "`PATCH`")
        } else {
            (
                ErrorKind::InvalidHeaderName,
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
    let value = HeaderValue::from_str(&joined).unwrap_or_else(|_| HeaderValue::from_static(""));
    (value, good)
}

fn regex_error(source: &str, problem: RegexProblem) -> ConfigError {
    let (kind, problem, help) = match problem {
        RegexProblem::TooLong(len) => (
            ErrorKind::TooLarge,
            format!("regex `{source}` is longer than {MAX_REGEX_BYTES} bytes ({len})"),
            "list the origins in `allowed_origins`, or use origin patterns like `https://*.example.com`",
        ),
        RegexProblem::TooLarge => (
            ErrorKind::InvalidRegex,
            format!("regex `{source}` compiles too large (its repetitions multiply)"),
            "use fewer or smaller counted repetitions like `{100}`, or origin patterns like `https://*.example.com`",
        ),
        RegexProblem::Syntax(detail) => {
            let look_around = ["(?=", "(?!", "(?<=", "(?<!"]
                .iter()
                .any(|l| source.contains(l));
            (
                ErrorKind::InvalidRegex,
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
                } else if let Ok(value) = HeaderValue::from_str(origin.as_str()) {
                    matcher
                        .exact
                        .insert(origin.as_str().as_bytes().into(), value);
                }
            })
        };
        if let Err(err) = parsed {
            errors.push((
                key.at(i),
                ConfigError::new(ErrorKind::InvalidOrigin, "", err.to_string())
                    .value(entry.clone())
                    .help(err.help()),
            ));
        }
    }
    let (regexes, rule) = s.allowed_origin_regexes;
    let key = path(rule, Field::AllowedOriginRegexes);
    let mut parsed = Vec::with_capacity(regexes.len());
    for (i, source) in regexes.iter().enumerate() {
        match anchored::parse(source, Anchor::Whole) {
            Ok(hir) => parsed.push(hir),
            Err(problem) => errors.push((key.at(i), regex_error(source, problem))),
        }
    }
    if parsed.len() == regexes.len() && !parsed.is_empty() {
        match anchored::compile(parsed, Anchor::Whole) {
            Ok(set) => matcher.regexes = Some(set),
            Err(problem) => {
                // Each alone compiled: name the one that does not, if any.
                let culprit = regexes.iter().position(|r| {
                    anchored::parse(r, Anchor::Whole)
                        .and_then(|hir| anchored::compile(vec![hir], Anchor::Whole))
                        .is_err()
                });
                match culprit {
                    Some(i) => errors.push((key.at(i), regex_error(&regexes[i], problem))),
                    None => errors.push((
                        key,
                        ConfigError::new(
                            ErrorKind::InvalidRegex,
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
mod tests;
