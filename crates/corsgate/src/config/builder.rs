//! Building a [`Config`] in code: [`ConfigBuilder`] and [`PathRule`]'s
//! setters.

use super::{Config, ConfigErrors, PathRule, to_strings};
use crate::Policy;

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
