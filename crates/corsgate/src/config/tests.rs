//! Every key, every alias, every error message.

use super::*;
use crate::Policy;

fn errors_of(result: Result<Config, ConfigErrors>) -> Vec<String> {
    result
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn toml(text: &str) -> Config {
    Config::from_toml_str(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn defaults_are_django_cors_headers_defaults() {
    let c = Config::default();
    assert!(c.allowed_origins.is_empty());
    assert!(c.allowed_origin_regexes.is_empty());
    assert!(!c.allow_all_origins);
    assert_eq!(c.urls_regex, None);
    assert_eq!(
        c.allow_methods,
        ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]
    );
    assert_eq!(
        c.allow_headers,
        [
            "accept",
            "authorization",
            "content-type",
            "user-agent",
            "x-csrftoken",
            "x-requested-with"
        ]
    );
    assert!(c.expose_headers.is_empty());
    assert_eq!(c.preflight_max_age, 86_400);
    assert!(!c.allow_credentials);
    assert!(!c.allow_private_network);
    assert!(c.path_rules.is_empty());
}

#[test]
fn every_django_name_sets_its_field() {
    let c = toml(
        r#"
        CORS_ALLOWED_ORIGINS = ["https://a.example"]
        CORS_ALLOWED_ORIGIN_REGEXES = ['https://\w+\.example']
        CORS_ALLOW_ALL_ORIGINS = true
        CORS_URLS_REGEX = "^/api/"
        CORS_ALLOW_METHODS = ["GET"]
        CORS_ALLOW_HEADERS = ["x-one"]
        CORS_EXPOSE_HEADERS = ["x-two"]
        CORS_PREFLIGHT_MAX_AGE = 60
        CORS_ALLOW_CREDENTIALS = true
        CORS_ALLOW_PRIVATE_NETWORK = true
        "#,
    );
    let expected = Config {
        allowed_origins: vec!["https://a.example".into()],
        allowed_origin_regexes: vec![r"https://\w+\.example".into()],
        allow_all_origins: true,
        urls_regex: Some("^/api/".into()),
        allow_methods: vec!["GET".into()],
        allow_headers: vec!["x-one".into()],
        expose_headers: vec!["x-two".into()],
        preflight_max_age: 60,
        allow_credentials: true,
        allow_private_network: true,
        ..Config::default()
    };
    assert_eq!(c, expected);
}

#[test]
fn every_snake_case_name_sets_its_field() {
    let c = toml(
        r#"
        allowed_origins = ["https://a.example"]
        allowed_origin_regexes = ['https://\w+\.example']
        allow_all_origins = true
        urls_regex = "^/api/"
        allow_methods = ["GET"]
        allow_headers = ["x-one"]
        expose_headers = ["x-two"]
        preflight_max_age = 60
        allow_credentials = true
        allow_private_network = true
        "#,
    );
    let django = toml(
        r#"
        CORS_ALLOWED_ORIGINS = ["https://a.example"]
        CORS_ALLOWED_ORIGIN_REGEXES = ['https://\w+\.example']
        CORS_ALLOW_ALL_ORIGINS = true
        CORS_URLS_REGEX = "^/api/"
        CORS_ALLOW_METHODS = ["GET"]
        CORS_ALLOW_HEADERS = ["x-one"]
        CORS_EXPOSE_HEADERS = ["x-two"]
        CORS_PREFLIGHT_MAX_AGE = 60
        CORS_ALLOW_CREDENTIALS = true
        CORS_ALLOW_PRIVATE_NETWORK = true
        "#,
    );
    assert_eq!(c, django);
}

#[test]
fn old_aliases_from_the_seed_tutorial_are_accepted() {
    let c = Config::from_json_str(
        r#"{
            "CORS_ORIGIN_ALLOW_ALL": false,
            "CORS_ORIGIN_WHITELIST": ["http://localhost:8000"],
            "CORS_ORIGIN_REGEX_WHITELIST": ["^https://.*\\.example\\.com$"]
        }"#,
    )
    .unwrap();
    assert_eq!(c.allowed_origins, ["http://localhost:8000"]);
    assert_eq!(c.allowed_origin_regexes, [r"^https://.*\.example\.com$"]);
    assert!(!c.allow_all_origins);
    assert!(c.warnings().is_empty());
}

#[test]
fn the_current_name_wins_over_an_alias_even_when_empty_and_is_never_merged() {
    let c = toml(
        r#"
        CORS_ORIGIN_WHITELIST = ["https://old.example"]
        CORS_ALLOWED_ORIGINS = []
        CORS_ALLOW_ALL_ORIGINS = false
        CORS_ORIGIN_ALLOW_ALL = true
        "#,
    );
    assert!(c.allowed_origins.is_empty());
    assert!(!c.allow_all_origins);
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "line 2, column 33: error: `CORS_ORIGIN_WHITELIST`: `CORS_ORIGIN_WHITELIST` is ignored because \
             `CORS_ALLOWED_ORIGINS` is set (they are never merged)\n  help: delete the old name",
            "line 5, column 33: error: `CORS_ORIGIN_ALLOW_ALL`: `CORS_ORIGIN_ALLOW_ALL` is ignored because \
             `CORS_ALLOW_ALL_ORIGINS` is set (they are never merged)\n  help: delete the old name",
        ]
    );
}

#[test]
fn two_current_names_for_one_setting_are_an_error() {
    let errors = errors_of(Config::from_toml_str(
        "allowed_origins = []\nCORS_ALLOWED_ORIGINS = [\"https://a.example\"]\n",
    ));
    assert_eq!(
        errors,
        [
            "line 2, column 24: error: `CORS_ALLOWED_ORIGINS`: sets the same setting as `allowed_origins`\n  \
          help: keep one of `allowed_origins` and `CORS_ALLOWED_ORIGINS`"
        ]
    );
}

#[test]
fn path_rules_inherit_what_they_do_not_set() {
    let c = toml(
        r#"
        allowed_origins = ["https://app.example"]
        allow_credentials = true

        [[path_rules]]
        urls_regex = "^/public/"
        allow_all_origins = true
        allow_credentials = false

        [[path_rules]]
        CORS_URLS_REGEX = "^/admin/"
        CORS_ALLOW_METHODS = ["GET"]
        "#,
    );
    assert_eq!(c.path_rules.len(), 2);
    assert_eq!(
        c.path_rules[0],
        PathRule::new("^/public/")
            .allow_all_origins(true)
            .allow_credentials(false)
    );
    assert_eq!(
        c.path_rules[1],
        PathRule::new("^/admin/").allow_methods(["GET"])
    );
}

#[test]
fn the_builder_sets_every_field() {
    let built = Config::builder()
        .allowed_origins(["https://a.example"])
        .allowed_origin_regexes([r"https://\w+\.example"])
        .allow_all_origins(true)
        .urls_regex("^/api/")
        .allow_methods(["GET"])
        .allow_headers(["x-one"])
        .expose_headers(["x-two"])
        .preflight_max_age(60)
        .allow_credentials(true)
        .allow_private_network(true)
        .path_rule(PathRule::new("^/x/"))
        .build();
    let mut from_file = toml(
        r#"
        allowed_origins = ["https://a.example"]
        allowed_origin_regexes = ['https://\w+\.example']
        allow_all_origins = true
        urls_regex = "^/api/"
        allow_methods = ["GET"]
        allow_headers = ["x-one"]
        expose_headers = ["x-two"]
        preflight_max_age = 60
        allow_credentials = true
        allow_private_network = true
        "#,
    );
    from_file.path_rules.push(PathRule::new("^/x/"));
    assert_eq!(built, from_file);
}

#[test]
fn the_path_rule_builder_sets_every_field() {
    let built = PathRule::new("^/x/")
        .allowed_origins(["https://a.example"])
        .allowed_origin_regexes([r"https://\w+\.example"])
        .allow_all_origins(true)
        .allow_methods(["GET"])
        .allow_headers(["x-one"])
        .expose_headers(["x-two"])
        .preflight_max_age(60)
        .allow_credentials(true)
        .allow_private_network(true);
    let from_file = toml(
        r#"
        [[path_rules]]
        urls_regex = "^/x/"
        allowed_origins = ["https://a.example"]
        allowed_origin_regexes = ['https://\w+\.example']
        allow_all_origins = true
        allow_methods = ["GET"]
        allow_headers = ["x-one"]
        expose_headers = ["x-two"]
        preflight_max_age = 60
        allow_credentials = true
        allow_private_network = true
        "#,
    );
    assert_eq!(from_file.path_rules, [built]);
}

// django-cors-headers' system checks, E001–E015, each with our message.

#[test]
fn e001_to_e009_wrong_types_name_the_key_and_the_fix() {
    let errors = errors_of(Config::from_json_str(
        r#"{
  "CORS_ALLOW_HEADERS": "x-one, x-two",
  "CORS_ALLOW_METHODS": [1],
  "CORS_ALLOW_CREDENTIALS": "true",
  "CORS_PREFLIGHT_MAX_AGE": "3600",
  "CORS_ALLOW_ALL_ORIGINS": 1,
  "CORS_ALLOWED_ORIGINS": {"a": 1},
  "CORS_ALLOWED_ORIGIN_REGEXES": "^https://a\\.example$",
  "CORS_EXPOSE_HEADERS": null,
  "CORS_URLS_REGEX": ["^/api/"],
  "CORS_ALLOW_PRIVATE_NETWORK": "no"
}"#,
    ));
    assert_eq!(
        errors,
        [
            "line 2, column 25: error: `CORS_ALLOW_HEADERS`: expected a list of strings, found a string\n  \
             help: write `[\"x-one\", \"x-two\"]`",
            "line 3, column 26: error: `CORS_ALLOW_METHODS[0]`: expected a string, found an integer\n  \
             help: quote the value: `\"…\"`",
            "line 4, column 29: error: `CORS_ALLOW_CREDENTIALS`: expected `true` or `false`, found a string\n  \
             help: write `true` or `false`, without quotes",
            "line 5, column 29: error: `CORS_PREFLIGHT_MAX_AGE`: expected a whole number of seconds, found a string\n  \
             help: write `3600` without quotes",
            "line 6, column 29: error: `CORS_ALLOW_ALL_ORIGINS`: expected `true` or `false`, found an integer\n  \
             help: write `true` or `false`, without quotes",
            "line 7, column 27: error: `CORS_ALLOWED_ORIGINS`: expected a list of strings, found a table\n  \
             help: write a list: `[\"…\", \"…\"]`",
            "line 8, column 34: error: `CORS_ALLOWED_ORIGIN_REGEXES`: expected a list of strings, found a string\n  \
             help: write `[\"^https://a\\.example$\"]`",
            "line 9, column 26: error: `CORS_EXPOSE_HEADERS`: expected a list of strings, found null\n  \
             help: write a list: `[\"…\", \"…\"]`",
            "line 10, column 22: error: `CORS_URLS_REGEX`: expected a string, found a list\n  \
             help: write the regex as a string, e.g. `\"^/api/\"`",
            "line 11, column 33: error: `CORS_ALLOW_PRIVATE_NETWORK`: expected `true` or `false`, found a string\n  \
             help: write `true` or `false`, without quotes",
        ]
    );
}

#[test]
fn e004_max_age_negative_fractional_or_absurd() {
    let errors = errors_of(Config::from_toml_str("CORS_PREFLIGHT_MAX_AGE = -1\n"));
    assert_eq!(
        errors,
        [
            "line 1, column 26: error: `CORS_PREFLIGHT_MAX_AGE`: `-1` is negative\n  \
          help: write a number of seconds, `0` or more (`0` sends `Access-Control-Max-Age: 0`: no caching)"
        ]
    );
    let errors = errors_of(Config::from_toml_str("preflight_max_age = 1.5\n"));
    assert_eq!(
        errors,
        [
            "line 1, column 21: error: `preflight_max_age`: expected a whole number of seconds, found a decimal number\n  \
          help: write e.g. `86400` (one day)"
        ]
    );
    // A year is the most accepted (`MAX_MAX_AGE`), written out here.
    assert!(Config::from_toml_str("preflight_max_age = 31536000\n").is_ok());
    let errors = errors_of(Config::from_toml_str("preflight_max_age = 31536001\n"));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("`31536001` seconds is more than a year"),
        "{errors:?}"
    );
    let errors = errors_of(Config::from_toml_str("preflight_max_age = 86400000\n"));
    assert_eq!(
        errors,
        [
            "line 1, column 21: error: `preflight_max_age`: `86400000` seconds is more than a year\n  \
          help: browsers cap the preflight cache at 2 hours (Chromium) to 24 hours (Firefox): write at most `86400`"
        ]
    );
    let errors = errors_of(Config::from_json_str(
        r#"{"preflight_max_age": 99999999999999999999}"#,
    ));
    assert_eq!(
        errors,
        [
            "line 1, column 23: error: `preflight_max_age`: is far too large\n  help: write at most `86400` seconds"
        ]
    );
}

#[test]
fn e013_e014_origins_without_scheme_or_with_a_path() {
    let errors = errors_of(Config::from_toml_str(
        r#"CORS_ALLOWED_ORIGINS = [
    "example.com",
    "https://example.com/",
    "https://example.com/app?x=1",
    "https://example.com?x=1",
    "https://example.com#f",
    "http//:localhost:8000",
    "null",
    "https://*.example.com",
    "https://*example.com",
]"#,
    ));
    assert_eq!(
        errors,
        [
            "line 2, column 5: error: `CORS_ALLOWED_ORIGINS[0]`: origin `example.com` has no scheme\n  \
             help: write `https://example.com` (or `http://example.com`)",
            "line 3, column 5: error: `CORS_ALLOWED_ORIGINS[1]`: origin `https://example.com/` has a path\n  \
             help: an origin is only `scheme://host[:port]`: write `https://example.com`",
            "line 4, column 5: error: `CORS_ALLOWED_ORIGINS[2]`: origin `https://example.com/app?x=1` has a path\n  \
             help: an origin is only `scheme://host[:port]`: write `https://example.com`",
            "line 5, column 5: error: `CORS_ALLOWED_ORIGINS[3]`: origin `https://example.com?x=1` has a query\n  \
             help: an origin is only `scheme://host[:port]`: write `https://example.com`",
            "line 6, column 5: error: `CORS_ALLOWED_ORIGINS[4]`: origin `https://example.com#f` has a fragment\n  \
             help: an origin is only `scheme://host[:port]`: write `https://example.com`",
            "line 7, column 5: error: `CORS_ALLOWED_ORIGINS[5]`: origin `http//:localhost:8000` has no scheme\n  \
             help: write the origin as `scheme://host[:port]`, e.g. `https://example.com`",
            "line 10, column 5: error: `CORS_ALLOWED_ORIGINS[8]`: origin `https://*example.com` has a `*` where a \
             pattern cannot have one\n  help: a `*` is allowed only as a whole leftmost label, e.g. \
             `https://*.example.com`; to allow every origin set `allow_all_origins` instead",
        ]
    );
}

#[test]
fn e012_e013_removed_settings_are_errors_with_djangos_advice() {
    let errors = errors_of(Config::from_toml_str(
        "CORS_MODEL = \"x\"\nCORS_REPLACE_HTTPS_REFERER = true\n",
    ));
    assert_eq!(
        errors,
        [
            "line 1, column 14: error: `CORS_MODEL`: was removed in django-cors-headers 3.0 (django check E012)\n  \
             help: list the origins in `CORS_ALLOWED_ORIGINS`, or decide per request with a dynamic origin check",
            "line 2, column 30: error: `CORS_REPLACE_HTTPS_REFERER`: was removed in django-cors-headers 4.0 \
             (django check E013)\n  help: delete it: Django's CSRF check is configured with \
             `CSRF_TRUSTED_ORIGINS` instead",
        ]
    );
}

#[test]
fn unknown_keys_get_did_you_mean() {
    let errors = errors_of(Config::from_toml_str(
        "CORS_ALLOWED_ORIGIN = []\nDEBUG = true\n",
    ));
    assert_eq!(
        errors,
        [
            "line 1, column 23: error: `CORS_ALLOWED_ORIGIN`: is not a corsgate setting\n  \
             help: did you mean `CORS_ALLOWED_ORIGINS`?",
            "line 2, column 9: error: `DEBUG`: is not a corsgate setting\n  \
             help: the settings are listed in the corsgate documentation (docs/configuration.md)",
        ]
    );
}

#[test]
fn invalid_header_names_and_methods_are_refused() {
    let errors = errors_of(Config::from_toml_str(
        r#"allow_headers = ["x-ok", "x bad", "", "a, b"]
allow_methods = ["GET", "PO ST"]
expose_headers = ["x:y"]
"#,
    ));
    assert_eq!(
        errors,
        [
            "line 1, column 26: error: `allow_headers[1]`: `x bad` is not a valid HTTP header name\n  \
             help: letters, digits and ``!#$%&'*+-.^_`|~`` only, no spaces or colons, e.g. `x-api-key`",
            "line 1, column 35: error: `allow_headers[2]`: an empty string is not an HTTP header name\n  \
             help: letters, digits and ``!#$%&'*+-.^_`|~`` only, no spaces or colons, e.g. `x-api-key`",
            "line 1, column 39: error: `allow_headers[3]`: `a, b` is several names in one string\n  \
             help: write one name per list element",
            "line 2, column 25: error: `allow_methods[1]`: `PO ST` is not a valid HTTP method\n  \
             help: letters, digits and ``!#$%&'*+-.^_`|~`` only, no spaces or colons, e.g. `PATCH`",
            "line 3, column 19: error: `expose_headers[0]`: `x:y` is not a valid HTTP header name\n  \
             help: letters, digits and ``!#$%&'*+-.^_`|~`` only, no spaces or colons, e.g. `x-api-key`",
        ]
    );
}

#[test]
fn invalid_regexes_name_the_pattern_and_the_problem() {
    let errors = errors_of(Config::from_toml_str(
        r#"CORS_ALLOWED_ORIGIN_REGEXES = ['^https://(\w+\.example\.com$', '^https://(?!evil)\w+\.example\.com$']
CORS_URLS_REGEX = "^/api/["
"#,
    ));
    assert_eq!(
        errors,
        [
            "line 1, column 32: error: `CORS_ALLOWED_ORIGIN_REGEXES[0]`: regex `^https://(\\w+\\.example\\.com$` \
             does not compile: unclosed group\n  help: fix the regex syntax (Rust `regex` crate, \
             https://docs.rs/regex/#syntax)",
            "line 1, column 64: error: `CORS_ALLOWED_ORIGIN_REGEXES[1]`: regex `^https://(?!evil)\\w+\\.example\\.com$` \
             does not compile: look-around, including look-ahead and look-behind, is not supported\n  \
             help: look-around is Python-only syntax: list the origins, or use an origin pattern like \
             `https://*.example.com`",
            "line 2, column 19: error: `CORS_URLS_REGEX`: regex `^/api/[` does not compile: unclosed character \
             class\n  help: fix the regex syntax (Rust `regex` crate, https://docs.rs/regex/#syntax)",
        ]
    );
}

#[test]
fn a_syntax_error_does_not_hide_a_too_large_regex() {
    let errors = errors_of(Config::from_toml_str(
        r#"CORS_ALLOWED_ORIGIN_REGEXES = ['(', '(\w{100}){100}', 'https://ok\.example']"#,
    ));
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("`CORS_ALLOWED_ORIGIN_REGEXES[0]`: regex `(` does not compile"));
    assert!(
        errors[1].contains(
            r"`CORS_ALLOWED_ORIGIN_REGEXES[1]`: regex `(\w{100}){100}` compiles too large"
        )
    );
}

#[test]
fn path_rule_errors_name_the_rule() {
    let errors = errors_of(Config::from_toml_str(
        r#"allowed_origins = ["https://a.example"]

[[path_rules]]
allowed_origins = ["nope"]

[[path_rules]]
urls_regex = "^/x/"
path_rules = []
"#,
    ));
    assert_eq!(
        errors,
        [
            "line 3, column 1: error: `path_rules[0].`: this path rule has no `urls_regex`\n  \
             help: add the paths it covers, e.g. `urls_regex = \"^/public/\"`",
            "line 4, column 20: error: `path_rules[0].allowed_origins[0]`: origin `nope` has no scheme\n  \
             help: write `https://nope` (or `http://nope`)",
            "line 8, column 14: error: `path_rules[1].path_rules`: path rules cannot be nested\n  \
             help: list every rule in the top-level `path_rules`; the first that matches wins",
        ]
    );
}

#[test]
fn an_inherited_error_is_reported_once() {
    let errors = errors_of(Config::from_toml_str(
        "allow_methods = [\"BAD METHOD\"]\n[[path_rules]]\nurls_regex = \"^/a/\"\n[[path_rules]]\nurls_regex = \"^/b/\"\n",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn syntax_errors_have_a_location() {
    let errors = errors_of(Config::from_toml_str(
        "CORS_ALLOWED_ORIGINS = [\"https://a.example\"\n",
    ));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("line "), "{}", errors[0]);
    assert!(errors[0].contains("error: invalid TOML:"), "{}", errors[0]);
    let errors = errors_of(Config::from_json_str(
        "{\n  \"CORS_ALLOWED_ORIGINS\": [\"https://a.example\",]\n}",
    ));
    assert_eq!(
        errors,
        ["line 2, column 48: error: invalid JSON: expected value\n  \
          help: fix the JSON syntax: double-quoted strings, no trailing commas, no comments"]
    );
    let errors = errors_of(Config::from_json_str("[1, 2]"));
    assert_eq!(
        errors,
        [
            "line 1, column 1: error: expected a table of settings, found a list\n  \
          help: write the settings as an object: `{\"CORS_ALLOWED_ORIGINS\": [\"https://example.com\"]}`"
        ]
    );
}

#[test]
fn duplicate_json_keys_are_an_error() {
    let errors = errors_of(Config::from_json_str(
        r#"{"allow_credentials": true, "allow_credentials": false}"#,
    ));
    assert_eq!(
        errors,
        [
            "line 1, column 50: error: `allow_credentials`: sets the same setting as `allow_credentials`\n  \
          help: keep one of `allow_credentials` and `allow_credentials`"
        ]
    );
}

#[test]
fn all_errors_of_a_file_come_at_once_types_and_values_together() {
    let errors = errors_of(Config::from_toml_str(
        "CORS_ALLOWED_ORIGINS = [\"example.com\"]\nCORS_ALLOW_CREDENTIALS = \"yes\"\nCORS_ALLOW_METHODS = [\"A B\"]\n",
    ));
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn file_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("corsgate-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("settings.json");
    std::fs::write(
        &file,
        "{\n  \"CORS_ALLOWED_ORIGINS\": [\"127.0.0.1:5000\"]\n}\n",
    )
    .unwrap();
    let errors = errors_of(Config::from_file(&file));
    assert_eq!(
        errors,
        [format!(
            "{}:2:28: error: `CORS_ALLOWED_ORIGINS[0]`: origin `127.0.0.1:5000` has no scheme\n  \
             help: write `http://127.0.0.1:5000` (or `https://127.0.0.1:5000`)",
            file.display()
        )]
    );
    let policy_errors = Policy::from_file(&file).unwrap_err();
    assert_eq!(policy_errors.len(), 1);
    let yaml = dir.join("settings.yaml");
    std::fs::write(&yaml, "x: 1").unwrap();
    let errors = errors_of(Config::from_file(&yaml));
    assert_eq!(
        errors,
        [format!(
            "error: `{}` is not a `.toml`, `.json` or `.py` file\n  help: name the file after its format: `*.toml`, `*.json`, or a Django `settings.py`",
            yaml.display()
        )]
    );
    let missing = dir.join("missing.toml");
    let errors = Config::from_file(&missing).unwrap_err();
    assert_eq!(errors.iter().next().unwrap().kind(), ConfigErrorKind::Io);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_of_code_built_configs_use_snake_case_names() {
    let errors = Config::builder()
        .allowed_origins(["https://ok.example", "ftp//x"])
        .path_rule(PathRule::new("^/a/").allow_headers(["bad header"]))
        .compile()
        .unwrap_err();
    let keys: Vec<&str> = errors.iter().map(ConfigError::key).collect();
    assert_eq!(
        keys,
        ["allowed_origins[1]", "path_rules[0].allow_headers[0]"]
    );
    let first = errors.iter().next().unwrap();
    assert_eq!(first.kind(), ConfigErrorKind::InvalidOrigin);
    assert_eq!(first.offending_value(), Some("ftp//x"));
    assert_eq!(first.location(), None);
    assert!(first.fix().is_some());
}

#[test]
fn an_empty_path_rule_regex_is_refused() {
    let errors = Config::builder()
        .path_rule(PathRule::new(""))
        .compile()
        .unwrap_err();
    assert_eq!(
        errors.to_string(),
        "error: `path_rules[0].urls_regex`: a path rule's `urls_regex` is empty, so it would match every path\n  \
         help: write the paths the rule covers, e.g. `^/api/`; settings for every path go at the top level"
    );
}

#[test]
fn errors_debug_as_their_messages_and_alternate_debug_shows_the_fields() {
    let errors = Config::builder()
        .allowed_origins(["localhost:5000", "https://a.example/"])
        .compile()
        .unwrap_err();
    assert_eq!(format!("{errors:?}"), errors.to_string());
    let first = errors.iter().next().unwrap();
    assert_eq!(format!("{first:?}"), first.to_string());
    let fields = format!("{errors:#?}");
    assert!(fields.starts_with("ConfigErrors {"), "{fields}");
    assert!(fields.contains("kind: InvalidOrigin"), "{fields}");
    assert!(fields.contains("key: \"allowed_origins[1]\""), "{fields}");
}

#[test]
fn environment_variables_are_read_with_each_settings_type() {
    let config = Config::from_env_vars([
        (
            "CORS_ALLOWED_ORIGINS",
            " https://a.example ,https://b.example,",
        ),
        (
            "CORS_ORIGIN_REGEX_WHITELIST",
            r#"["^https://[a-z]{1,8}\\.example\\.com$"]"#,
        ),
        ("CORS_ALLOW_HEADERS", ""),
        ("CORS_ALLOW_CREDENTIALS", "1"),
        ("CORS_ALLOW_PRIVATE_NETWORK", "no"),
        ("CORS_PREFLIGHT_MAX_AGE", "600"),
        ("CORS_URLS_REGEX", r"^/api/.*$"),
        ("CORS_PROXY_URL", "another program's: ignored"),
        ("PATH", "/usr/bin"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(
        config.allowed_origin_regexes,
        [r"^https://[a-z]{1,8}\.example\.com$"]
    );
    assert!(config.allow_headers.is_empty());
    assert!(config.allow_credentials);
    assert!(!config.allow_private_network);
    assert_eq!(config.preflight_max_age, 600);
    assert_eq!(config.urls_regex.as_deref(), Some(r"^/api/.*$"));
    // Untouched settings keep their defaults.
    assert_eq!(config.allow_methods, Config::default().allow_methods);
}

#[test]
fn environment_errors_name_the_variable_and_the_place() {
    let errors = errors_of(Config::from_env_vars([
        ("CORS_ALLOW_CREDENTIALS", "maybe"),
        ("CORS_ALLOWED_ORIGIN", "https://a.example"),
        ("CORS_PREFLIGHT_MAX_AGE", "1h"),
        ("CORS_ALLOWED_ORIGIN_REGEXES", "[\"unclosed"),
    ]));
    let text = errors.join("\n");
    for expected in [
        "environment:1:21: error: `CORS_ALLOWED_ORIGIN`: is not a corsgate setting",
        "did you mean `CORS_ALLOWED_ORIGINS`?",
        "environment:2:38: error: `CORS_ALLOWED_ORIGIN_REGEXES`: invalid JSON",
        "as a JSON array of strings",
        "environment:3:24: error: `CORS_ALLOW_CREDENTIALS`: expected `true` or `false`",
        "environment:4:24: error: `CORS_PREFLIGHT_MAX_AGE`:",
    ] {
        assert!(text.contains(expected), "{expected}\n---\n{text}");
    }
}

#[test]
fn the_environment_replaces_a_files_settings_one_by_one() {
    let mut config = toml(
        "allowed_origins = [\"https://app.example\"]\nallow_credentials = true\nexpose_headers = [\"x-total-count\"]\n",
    );
    let applied = config
        .apply_env_vars([
            ("CORS_ALLOWED_ORIGINS", "https://staging.example,null"),
            ("CORS_EXPOSE_HEADERS", ""),
        ])
        .unwrap();
    assert_eq!(applied, ["CORS_ALLOWED_ORIGINS", "CORS_EXPOSE_HEADERS"]);
    assert_eq!(config.allowed_origins, ["https://staging.example", "null"]);
    assert!(config.expose_headers.is_empty());
    assert!(config.allow_credentials, "the file's other settings stay");
    // A message about a replaced setting names the variable, not the file.
    let (key, location) = config.locate(source::KeyPath {
        rule: None,
        field: Field::AllowedOrigins,
        index: Some(1),
    });
    assert_eq!((key.as_str(), location), ("$CORS_ALLOWED_ORIGINS[1]", None));
    // A bad environment changes nothing.
    let before = config.clone();
    assert!(
        config
            .apply_env_vars([("CORS_ALLOW_CREDENTIALS", "maybe")])
            .is_err()
    );
    assert_eq!(config, before);
}
