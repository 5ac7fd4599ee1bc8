//! The one table of setting names: corsgate's snake_case names,
//! django-cors-headers' names, and django-cors-headers' old aliases.

// Without `serde` only code-built configs exist: the names serve the file
// loader alone.
#![cfg_attr(not(feature = "config-files"), allow(dead_code))]

/// A setting of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Field {
    AllowedOrigins,
    AllowedOriginRegexes,
    AllowAllOrigins,
    UrlsRegex,
    AllowMethods,
    AllowHeaders,
    ExposeHeaders,
    PreflightMaxAge,
    AllowCredentials,
    AllowPrivateNetwork,
    PathRules,
    ReportOnly,
}

impl Field {
    /// corsgate's own name for the setting.
    pub(crate) fn snake(self) -> &'static str {
        match self {
            Field::AllowedOrigins => "allowed_origins",
            Field::AllowedOriginRegexes => "allowed_origin_regexes",
            Field::AllowAllOrigins => "allow_all_origins",
            Field::UrlsRegex => "urls_regex",
            Field::AllowMethods => "allow_methods",
            Field::AllowHeaders => "allow_headers",
            Field::ExposeHeaders => "expose_headers",
            Field::PreflightMaxAge => "preflight_max_age",
            Field::AllowCredentials => "allow_credentials",
            Field::AllowPrivateNetwork => "allow_private_network",
            Field::PathRules => "path_rules",
            Field::ReportOnly => "report_only",
        }
    }
}

/// Whether a name is current or an old alias: a current name wins over an
/// alias of the same setting, and the two are never merged (django-cors-headers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rank {
    Current,
    OldAlias,
}

/// Every accepted key.
pub(crate) const KEYS: &[(&str, Field, Rank)] = &[
    ("allowed_origins", Field::AllowedOrigins, Rank::Current),
    ("CORS_ALLOWED_ORIGINS", Field::AllowedOrigins, Rank::Current),
    (
        "CORS_ORIGIN_WHITELIST",
        Field::AllowedOrigins,
        Rank::OldAlias,
    ),
    (
        "allowed_origin_regexes",
        Field::AllowedOriginRegexes,
        Rank::Current,
    ),
    (
        "CORS_ALLOWED_ORIGIN_REGEXES",
        Field::AllowedOriginRegexes,
        Rank::Current,
    ),
    (
        "CORS_ORIGIN_REGEX_WHITELIST",
        Field::AllowedOriginRegexes,
        Rank::OldAlias,
    ),
    ("allow_all_origins", Field::AllowAllOrigins, Rank::Current),
    (
        "CORS_ALLOW_ALL_ORIGINS",
        Field::AllowAllOrigins,
        Rank::Current,
    ),
    (
        "CORS_ORIGIN_ALLOW_ALL",
        Field::AllowAllOrigins,
        Rank::OldAlias,
    ),
    ("urls_regex", Field::UrlsRegex, Rank::Current),
    ("CORS_URLS_REGEX", Field::UrlsRegex, Rank::Current),
    ("allow_methods", Field::AllowMethods, Rank::Current),
    ("CORS_ALLOW_METHODS", Field::AllowMethods, Rank::Current),
    ("allow_headers", Field::AllowHeaders, Rank::Current),
    ("CORS_ALLOW_HEADERS", Field::AllowHeaders, Rank::Current),
    ("expose_headers", Field::ExposeHeaders, Rank::Current),
    ("CORS_EXPOSE_HEADERS", Field::ExposeHeaders, Rank::Current),
    ("preflight_max_age", Field::PreflightMaxAge, Rank::Current),
    (
        "CORS_PREFLIGHT_MAX_AGE",
        Field::PreflightMaxAge,
        Rank::Current,
    ),
    ("allow_credentials", Field::AllowCredentials, Rank::Current),
    (
        "CORS_ALLOW_CREDENTIALS",
        Field::AllowCredentials,
        Rank::Current,
    ),
    (
        "allow_private_network",
        Field::AllowPrivateNetwork,
        Rank::Current,
    ),
    (
        "CORS_ALLOW_PRIVATE_NETWORK",
        Field::AllowPrivateNetwork,
        Rank::Current,
    ),
    ("path_rules", Field::PathRules, Rank::Current),
    // corsgate's own: django-cors-headers has no report-only mode.
    ("report_only", Field::ReportOnly, Rank::Current),
];

/// Settings django-cors-headers removed; its checks reject them, and so does
/// corsgate, with the same advice.
pub(crate) const REMOVED: &[(&str, &str, &str)] = &[
    (
        "CORS_MODEL",
        "was removed in django-cors-headers 3.0 (django check E012)",
        "list the origins in `CORS_ALLOWED_ORIGINS`, or decide per request with a dynamic origin check",
    ),
    (
        "CORS_REPLACE_HTTPS_REFERER",
        "was removed in django-cors-headers 4.0 (django check E013)",
        "delete it: Django's CSRF check is configured with `CSRF_TRUSTED_ORIGINS` instead",
    ),
];

/// Looks a key up.
pub(crate) fn lookup(key: &str) -> Option<(Field, Rank)> {
    KEYS.iter()
        .find(|(name, _, _)| *name == key)
        .map(|&(_, field, rank)| (field, rank))
}

/// Whether a `CORS_*` name is two edits or fewer from a django name: a
/// misspelt setting, not another program's variable (`CORS_PROXY_URL`).
pub(crate) fn misspelt(name: &str) -> bool {
    KEYS.iter()
        .any(|(known, _, _)| known.starts_with("CORS_") && strsim::levenshtein(known, name) <= 2)
}

/// The known key closest to a misspelt one, for a "did you mean" hint.
pub(crate) fn closest(key: &str) -> Option<&'static str> {
    let upper = key.to_ascii_uppercase();
    KEYS.iter()
        .map(|(name, _, _)| *name)
        .map(|name| {
            (
                strsim::jaro_winkler(&upper, &name.to_ascii_uppercase()),
                name,
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_snake_case_key_named_after_it() {
        for (name, field, _) in KEYS {
            if name.chars().next().unwrap().is_ascii_lowercase() {
                assert_eq!(*name, field.snake());
            }
        }
    }

    #[test]
    fn django_names_are_the_snake_names_in_upper_case() {
        for (name, field, rank) in KEYS {
            if let Some(rest) = name.strip_prefix("CORS_")
                && *rank == Rank::Current
            {
                assert_eq!(rest.to_ascii_lowercase(), field.snake());
            }
        }
    }

    #[test]
    fn misspelt_keys_get_a_suggestion() {
        assert_eq!(closest("CORS_ALLOWED_ORIGIN"), Some("CORS_ALLOWED_ORIGINS"));
        assert_eq!(closest("allow_credential"), Some("allow_credentials"));
        assert_eq!(
            closest("CORS_ALLOW_CREDENTAILS"),
            Some("CORS_ALLOW_CREDENTIALS")
        );
        assert_eq!(closest("DEBUG"), None);
    }
}
