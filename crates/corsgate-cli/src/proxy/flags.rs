//! The policy settings given as `proxy` flags, on top of `--config` (or of
//! django-cors-headers' defaults): lists add to the configuration's lists,
//! `--allow-credentials` and `--max-age` override its value. They apply to
//! the top level (a path rule with its own list keeps it), at start and on
//! every reload.

use corsgate::Config;

use crate::cli::PolicyArgs;

/// The flags' settings, owned (the reloader keeps a copy).
#[derive(Debug, Clone, Default)]
pub(crate) struct PolicyFlags {
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    expose: Vec<String>,
    credentials: bool,
    max_age: Option<u64>,
}

/// Each flag and the setting it adds to, as error messages name them.
const NAMES: [(&str, &str); 5] = [
    ("allowed_origins", "--allow-origin"),
    ("allow_methods", "--allow-method"),
    ("allow_headers", "--allow-header"),
    ("expose_headers", "--expose-header"),
    ("preflight_max_age", "--max-age"),
];

impl PolicyFlags {
    pub(crate) fn from_args(args: &PolicyArgs) -> Self {
        Self {
            origins: args.allow_origin.clone(),
            methods: args.allow_method.clone(),
            headers: args.allow_header.clone(),
            expose: args.expose_header.clone(),
            credentials: args.allow_credentials,
            max_age: args.max_age,
        }
    }

    /// Whether any origin is allowed by a flag.
    pub(crate) fn has_origins(&self) -> bool {
        !self.origins.is_empty()
    }

    /// Checks the flags' values on their own, so that an error names the
    /// flag (`--allow-header[0]`), not a key of the file.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut alone = Config::builder()
            .allowed_origins(self.origins.iter().cloned())
            .allow_methods(self.methods.iter().cloned())
            .allow_headers(self.headers.iter().cloned())
            .expose_headers(self.expose.iter().cloned());
        if let Some(age) = self.max_age {
            alone = alone.preflight_max_age(age);
        }
        alone.compile().map(drop).map_err(|errors| {
            let mut text = errors.to_string();
            for (key, flag) in NAMES {
                text = text.replace(&format!("`{key}"), &format!("`{flag}"));
            }
            text
        })
    }

    /// Adds the lists to `config`'s (without repeating an entry) and sets
    /// the values.
    pub(crate) fn apply(&self, config: &mut Config) {
        add(&mut config.allowed_origins, &self.origins, str::eq);
        add(&mut config.allow_methods, &self.methods, str::eq);
        add(
            &mut config.allow_headers,
            &self.headers,
            str::eq_ignore_ascii_case,
        );
        add(
            &mut config.expose_headers,
            &self.expose,
            str::eq_ignore_ascii_case,
        );
        if self.credentials {
            config.allow_credentials = true;
        }
        if let Some(age) = self.max_age {
            config.preflight_max_age = age;
        }
    }
}

fn add(list: &mut Vec<String>, more: &[String], same: fn(&str, &str) -> bool) {
    for item in more {
        if !list.iter().any(|have| same(have, item)) {
            list.push(item.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> PolicyFlags {
        PolicyFlags {
            origins: vec!["https://b.example".into(), "https://a.example".into()],
            methods: vec!["PURGE".into()],
            headers: vec!["X-Debug".into(), "Content-Type".into()],
            expose: vec!["x-total-count".into()],
            credentials: true,
            max_age: Some(600),
        }
    }

    #[test]
    fn lists_are_added_to_and_values_overridden() {
        let mut config = Config::builder()
            .allowed_origins(["https://a.example"])
            .preflight_max_age(60)
            .build();
        flags().apply(&mut config);
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(
            config.allow_methods.last().map(String::as_str),
            Some("PURGE")
        );
        assert_eq!(config.allow_methods.len(), 7, "the six defaults are kept");
        assert!(config.allow_headers.iter().any(|h| h == "content-type"));
        assert_eq!(
            config.allow_headers.last().map(String::as_str),
            Some("X-Debug")
        );
        assert_eq!(
            config
                .allow_headers
                .iter()
                .filter(|h| h.eq_ignore_ascii_case("content-type"))
                .count(),
            1,
            "no duplicate in another letter case"
        );
        assert_eq!(config.expose_headers, ["x-total-count"]);
        assert!(config.allow_credentials);
        assert_eq!(config.preflight_max_age, 600);
    }

    #[test]
    fn errors_name_the_flag() {
        let bad = PolicyFlags {
            origins: vec!["localhost:5000".into()],
            headers: vec!["x debug".into()],
            max_age: Some(40_000_000),
            ..PolicyFlags::default()
        };
        let text = bad.check().unwrap_err();
        assert!(
            text.contains("`--allow-origin[0]`: origin `localhost:5000` has no scheme"),
            "{text}"
        );
        assert!(
            text.contains("`--allow-header[0]`: `x debug` is not a valid HTTP header name"),
            "{text}"
        );
        assert!(
            text.contains("`--max-age`: `40000000` seconds is more than a year"),
            "{text}"
        );
        assert!(flags().check().is_ok());
    }
}
