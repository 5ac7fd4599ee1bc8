//! [`Config`]: the settings as plain data, built in code or loaded from a
//! file, and compiled once into a [`Policy`].

mod builder;
mod django;
mod error;
#[cfg(feature = "config-files")]
mod file;
#[cfg(feature = "config-files")]
mod python;

#[cfg(feature = "audit")]
pub(crate) use error::printable_message;
pub use error::{ConfigError, ConfigErrorKind, ConfigErrors, ConfigLocation};
#[cfg(feature = "config-files")]
pub use file::{MAX_CONFIG_DEPTH, MAX_CONFIG_FILE_BYTES};

pub(crate) use django::Field;

mod settings;
mod source;

pub use builder::ConfigBuilder;
pub(crate) use settings::RuleSettings;
pub(crate) use source::{KeyPath, SourceRef};
#[cfg(feature = "config-files")]
pub(crate) use source::{KeySource, Source};

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

impl Config {
    /// A builder starting from django-cors-headers' defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
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
                    ConfigError::new(ConfigErrorKind::DuplicateKey, key.clone(), message.clone())
                        .help("delete the old name");
                warning.location = Some(source.location(*offset));
                warning
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
