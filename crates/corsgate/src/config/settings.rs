//! Path rules inherit the top-level settings: [`RuleSettings`] is one
//! rule's settings after inheritance, each with the rule that set it.

use super::{Config, PathRule};

impl Config {
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
