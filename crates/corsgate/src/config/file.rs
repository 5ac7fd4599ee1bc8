//! Loading a [`Config`] from TOML, JSON or a Django `settings.py` (feature
//! `config-files`).
//!
//! Both formats are read into one spanned tree, then one walker maps keys
//! through the names table (`django.rs`), checks types the way
//! django-cors-headers' system checks do, and collects every error with its
//! line and column.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::value::RawValue;

use super::django::{self, Field, Rank};
use super::{
    Config, ConfigError, ConfigErrorKind, ConfigErrors, KeySource, PathRule, Source, SourceRef,
};
use crate::Policy;

/// The largest configuration file read, in bytes. A policy with 10,000
/// origins is about 400 KB; the limit keeps a wrong path (a log file, a
/// device) or a hostile file from taking the memory of a running proxy.
pub const MAX_CONFIG_FILE_BYTES: usize = 8 * 1024 * 1024;

/// How deeply lists and tables may nest. corsgate's settings use four
/// levels (the file, `path_rules`, a rule, a list); a file nested thousands
/// of levels deep would otherwise exhaust the stack of the parser.
pub const MAX_CONFIG_DEPTH: usize = 32;

/// A configuration file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Json,
    /// A Django `settings.py`: its top-level `CORS_*` literals.
    Python,
}

impl Format {
    fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(Self::Toml),
            "json" => Some(Self::Json),
            "py" => Some(Self::Python),
            _ => None,
        }
    }
}

impl Config {
    /// Loads and checks a TOML configuration. Keys may be corsgate's
    /// snake_case names, django-cors-headers' `CORS_*` names, or its old
    /// aliases.
    ///
    /// ```
    /// use corsgate::Config;
    ///
    /// let config = Config::from_toml_str(r#"
    ///     CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:5000"]
    ///     CORS_ALLOW_CREDENTIALS = true
    /// "#)?;
    /// assert_eq!(config.allowed_origins, ["http://127.0.0.1:5000"]);
    /// assert!(config.allow_credentials);
    /// # Ok::<(), corsgate::ConfigErrors>(())
    /// ```
    ///
    /// # Errors
    /// Every error in the text, syntax, types and values alike, each with
    /// its line and column.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigErrors> {
        checked(load(text, None, Format::Toml))
    }

    /// Loads and checks a JSON configuration: an object with the same keys
    /// as [`from_toml_str`](Self::from_toml_str), e.g. a Django user's
    /// `CORS_*` settings as a JSON object.
    ///
    /// ```
    /// use corsgate::Config;
    ///
    /// let errors = Config::from_json_str(r#"{
    ///   "CORS_ALLOWED_ORIGINS": "http://127.0.0.1:5000",
    ///   "CORS_ALLOW_CREDENTIALS": "yes"
    /// }"#).unwrap_err();
    /// assert_eq!(errors.len(), 2);
    /// assert_eq!(
    ///     errors.to_string(),
    ///     "line 2, column 27: error: `CORS_ALLOWED_ORIGINS`: expected a list of strings, found a string\n  \
    ///      help: write `[\"http://127.0.0.1:5000\"]`\n\
    ///      line 3, column 29: error: `CORS_ALLOW_CREDENTIALS`: expected `true` or `false`, found a string\n  \
    ///      help: write `true` or `false`, without quotes"
    /// );
    /// ```
    ///
    /// # Errors
    /// As [`from_toml_str`](Self::from_toml_str).
    pub fn from_json_str(text: &str) -> Result<Self, ConfigErrors> {
        checked(load(text, None, Format::Json))
    }

    /// Loads and checks the `CORS_*` settings of a Django `settings.py`:
    /// its top-level assignments of Python literals (strings, raw strings,
    /// numbers, `True`/`False`/`None`, lists, tuples, `*default_headers`
    /// and `*default_methods` from `corsheaders.defaults`, `+` between
    /// sequences, `list(…)`). The rest of the file is not read. A `CORS_*`
    /// value computed at run time (`os.environ[…]`, a call, a variable, an
    /// f-string, an assignment inside `if`) is an error naming its line.
    ///
    /// ```
    /// use corsgate::Config;
    ///
    /// let config = Config::from_python_str(r#"
    /// from corsheaders.defaults import default_headers
    /// DEBUG = os.environ.get("DEBUG") == "1"   # not a CORS setting: not read
    /// CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    /// CORS_ALLOW_HEADERS = (*default_headers, "x-debug")
    /// CORS_ALLOW_CREDENTIALS = True
    /// "#)?;
    /// assert_eq!(config.allowed_origins, ["https://app.example.com"]);
    /// assert_eq!(config.allow_headers.last().map(String::as_str), Some("x-debug"));
    ///
    /// let errors = Config::from_python_str("CORS_ALLOWED_ORIGINS = env.list('ORIGINS')\n").unwrap_err();
    /// assert!(errors.to_string().starts_with("line 1, column 24: error: `CORS_ALLOWED_ORIGINS`: reads the environment"));
    /// # Ok::<(), corsgate::ConfigErrors>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_toml_str`](Self::from_toml_str), and each value that is
    /// not a literal ([`ConfigErrorKind::NotALiteral`]).
    pub fn from_python_str(text: &str) -> Result<Self, ConfigErrors> {
        checked(load(text, None, Format::Python))
    }

    /// The `CORS_*` settings in the process's environment: see
    /// [`from_env_vars`](Self::from_env_vars).
    ///
    /// # Errors
    /// As [`from_env_vars`](Self::from_env_vars).
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_env_vars(Self::env_vars())
    }

    /// The process's `CORS_*` environment variables, sorted: what
    /// [`from_env`](Self::from_env) reads. A server keeps this snapshot to
    /// apply the same settings again when it reloads a file (see
    /// [`apply_env_vars`](Self::apply_env_vars)). A value that is not UTF-8
    /// is read lossily: its `\u{fffd}` then fails the setting's check.
    pub fn env_vars() -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                name.starts_with("CORS_")
                    .then(|| (name, value.to_string_lossy().into_owned()))
            })
            .collect();
        vars.sort();
        vars
    }

    /// The `CORS_*` settings in environment variables, django-cors-headers'
    /// names (old aliases too), the others at their defaults. A list is
    /// comma-separated items (`CORS_ALLOWED_ORIGINS=https://a.example,https://b.example`)
    /// or, when an item has a comma (a regex's `{1,3}`), a JSON array; a
    /// boolean is `true`/`false` (also `1`/`0`, `yes`/`no`); a number is
    /// digits. Variables that are not settings are ignored, except a
    /// misspelt one (`CORS_ALLOWED_ORIGIN`), which is an error.
    ///
    /// ```
    /// use corsgate::Config;
    ///
    /// let config = Config::from_env_vars([
    ///     ("CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example"),
    ///     ("CORS_ALLOW_CREDENTIALS", "true"),
    ///     ("CORS_PROXY_URL", "not ours: ignored"),
    /// ])?;
    /// assert_eq!(config.allowed_origins, ["https://a.example", "https://b.example"]);
    /// assert!(config.allow_credentials);
    ///
    /// let errors = Config::from_env_vars([("CORS_ALLOWED_ORIGINS", "https://a.example,b.example")])
    ///     .unwrap_err();
    /// assert!(errors.to_string().starts_with(
    ///     "environment:1:40: error: `CORS_ALLOWED_ORIGINS[1]`: origin `b.example` has no scheme"
    /// ));
    /// # Ok::<(), corsgate::ConfigErrors>(())
    /// ```
    ///
    /// # Errors
    /// Every error, placed in a text of `NAME=value` lines named
    /// `environment`.
    pub fn from_env_vars<I, K, V>(vars: I) -> Result<Self, ConfigErrors>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut vars = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()));
        let (mut config, errors) = load_env(&mut vars);
        checked((config.clone(), errors)).map(|_| {
            config.mark_environment();
            config
        })
    }

    /// Replaces each setting an environment variable sets (see
    /// [`from_env_vars`](Self::from_env_vars)) in this configuration, a
    /// file's say: the environment wins over the file, setting by setting,
    /// and a list in the environment replaces the file's list. Returns the
    /// variables applied. Messages about a replaced setting name the
    /// variable (`$CORS_ALLOWED_ORIGINS[1]`).
    ///
    /// ```
    /// use corsgate::Config;
    ///
    /// let mut config = Config::from_toml_str(r#"
    ///     allowed_origins = ["https://app.example"]
    ///     allow_credentials = true
    /// "#)?;
    /// let applied = config.apply_env_vars([("CORS_ALLOWED_ORIGINS", "https://staging.example")])?;
    /// assert_eq!(applied, ["CORS_ALLOWED_ORIGINS"]);
    /// assert_eq!(config.allowed_origins, ["https://staging.example"]);
    /// assert!(config.allow_credentials);
    /// # Ok::<(), corsgate::ConfigErrors>(())
    /// ```
    ///
    /// # Errors
    /// The environment's errors, as [`from_env_vars`](Self::from_env_vars);
    /// then nothing is changed.
    pub fn apply_env_vars<I, K, V>(&mut self, vars: I) -> Result<Vec<String>, ConfigErrors>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let env = Self::from_env_vars(vars)?;
        let Some(env_source) = env.source.0.clone() else {
            return Ok(Vec::new());
        };
        let mut set: Vec<(Field, String)> = env_source
            .environment
            .iter()
            .map(|(&(_, field), name)| (field, name.clone()))
            .collect();
        set.sort();
        let mut source = self.source.0.as_deref().cloned().unwrap_or_default();
        for (field, name) in &set {
            match field {
                Field::AllowedOrigins => self.allowed_origins.clone_from(&env.allowed_origins),
                Field::AllowedOriginRegexes => {
                    self.allowed_origin_regexes
                        .clone_from(&env.allowed_origin_regexes);
                }
                Field::AllowAllOrigins => self.allow_all_origins = env.allow_all_origins,
                Field::UrlsRegex => self.urls_regex.clone_from(&env.urls_regex),
                Field::AllowMethods => self.allow_methods.clone_from(&env.allow_methods),
                Field::AllowHeaders => self.allow_headers.clone_from(&env.allow_headers),
                Field::ExposeHeaders => self.expose_headers.clone_from(&env.expose_headers),
                Field::PreflightMaxAge => self.preflight_max_age = env.preflight_max_age,
                Field::AllowCredentials => self.allow_credentials = env.allow_credentials,
                Field::AllowPrivateNetwork => {
                    self.allow_private_network = env.allow_private_network;
                }
                Field::PathRules => self.path_rules.clone_from(&env.path_rules),
                Field::ReportOnly => self.report_only = env.report_only,
            }
            source.keys.remove(&(None, *field));
            source.environment.insert((None, *field), name.clone());
        }
        self.source = SourceRef(Some(Arc::new(source)));
        Ok(set.into_iter().map(|(_, name)| name).collect())
    }

    /// Marks every top-level key as coming from the environment.
    fn mark_environment(&mut self) {
        let Some(source) = self.source.0.as_deref() else {
            return;
        };
        let mut source = source.clone();
        for ((rule, field), key) in &source.keys {
            source
                .environment
                .insert((*rule, *field), key.written.clone());
        }
        source.keys.clear();
        self.source = SourceRef(Some(Arc::new(source)));
    }

    /// Loads and checks a configuration file, TOML, JSON or a Django
    /// `settings.py` by its extension (`.toml`, `.json`, `.py`; see
    /// [`from_python_str`](Self::from_python_str)). Errors name the file.
    ///
    /// # Errors
    /// The file cannot be read, has another extension, or has errors (all
    /// of them are reported).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigErrors> {
        checked(load_file(path.as_ref()))
    }

    /// Loads and checks the contents of a configuration file the caller
    /// has already read: see [`Policy::from_file_contents`], which compiles
    /// them. For a caller that audits the configuration before serving it.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), except that nothing is read.
    pub fn from_file_contents(
        path: impl AsRef<Path>,
        contents: &str,
    ) -> Result<Self, ConfigErrors> {
        checked(contents_of(path.as_ref(), contents))
    }
}

fn contents_of(path: &Path, contents: &str) -> (Config, Vec<ConfigError>) {
    match Format::of(path) {
        Some(format) => load(contents, Some(path.to_owned()), format),
        None => unknown_format(path),
    }
}

impl Policy {
    /// Loads a configuration file (see [`Config::from_file`]) and compiles
    /// it, reporting every error of the file at once.
    ///
    /// # Errors
    /// As [`Config::from_file`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigErrors> {
        compiled(load_file(path.as_ref()))
    }

    /// Compiles the contents of a configuration file that the caller has
    /// already read (the format from `path`'s extension, as
    /// [`from_file`](Self::from_file); errors name `path`). For a reloader
    /// that must compile exactly the bytes it checked, not a second read
    /// of a file that may be changing.
    ///
    /// ```
    /// use corsgate::Policy;
    ///
    /// let text = r#"allowed_origins = ["https://app.example"]"#;
    /// let policy = Policy::from_file_contents("cors.toml", text)?;
    /// # let _ = policy;
    /// let errors = Policy::from_file_contents("cors.toml", "allowed_origins = 1").unwrap_err();
    /// assert!(errors.to_string().starts_with("cors.toml:1:19: error:"));
    /// # Ok::<(), corsgate::ConfigErrors>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), except that nothing is read.
    pub fn from_file_contents(
        path: impl AsRef<Path>,
        contents: &str,
    ) -> Result<Self, ConfigErrors> {
        compiled(contents_of(path.as_ref(), contents))
    }

    /// Loads TOML text and compiles it: see [`Config::from_toml_str`].
    ///
    /// # Errors
    /// Every error in the text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigErrors> {
        compiled(load(text, None, Format::Toml))
    }

    /// Loads JSON text and compiles it: see [`Config::from_json_str`].
    ///
    /// # Errors
    /// Every error in the text.
    pub fn from_json_str(text: &str) -> Result<Self, ConfigErrors> {
        compiled(load(text, None, Format::Json))
    }
}

fn checked((config, mut errors): (Config, Vec<ConfigError>)) -> Result<Config, ConfigErrors> {
    config.compile_collecting(&mut errors);
    if errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors::from_vec(errors))
    }
}

fn compiled((config, mut errors): (Config, Vec<ConfigError>)) -> Result<Policy, ConfigErrors> {
    let policy = config.compile_collecting(&mut errors);
    if errors.is_empty() {
        Ok(policy)
    } else {
        Err(ConfigErrors::from_vec(errors))
    }
}

fn load_file(path: &Path) -> (Config, Vec<ConfigError>) {
    let file_error = |kind, problem: String, help: &str| {
        let error = ConfigError::new(kind, "", problem).help(help);
        (Config::default(), vec![error])
    };
    let Some(format) = Format::of(path) else {
        return unknown_format(path);
    };
    match read_limited(path) {
        Ok(text) => load(&text, Some(path.to_owned()), format),
        Err(ReadError::TooLarge) => file_error(
            ConfigErrorKind::TooLarge,
            format!(
                "`{}` is larger than {MAX_CONFIG_FILE_BYTES} bytes",
                path.display()
            ),
            "check that the path names the policy file; a policy this large belongs in code (`Config::builder`) or a dynamic origin check",
        ),
        Err(ReadError::Io(err)) => file_error(
            ConfigErrorKind::Io,
            format!("cannot read `{}`: {err}", path.display()),
            "check the path and the file's permissions; the file must be UTF-8 text",
        ),
    }
}

fn unknown_format(path: &Path) -> (Config, Vec<ConfigError>) {
    let error = ConfigError::new(
        ConfigErrorKind::UnknownFormat,
        "",
        format!(
            "`{}` is not a `.toml`, `.json` or `.py` file",
            path.display()
        ),
    )
    .help("name the file after its format: `*.toml`, `*.json`, or a Django `settings.py`");
    (Config::default(), vec![error])
}

enum ReadError {
    TooLarge,
    Io(std::io::Error),
}

/// Reads at most [`MAX_CONFIG_FILE_BYTES`] (one more tells that the file is
/// larger, even if it grows while being read).
fn read_limited(path: &Path) -> Result<String, ReadError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() > MAX_CONFIG_FILE_BYTES {
        return Err(ReadError::TooLarge);
    }
    String::from_utf8(bytes).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// The deepest nesting of lists and tables in the text, counted before
/// parsing (the parsers recurse once per level): the byte offset where it
/// passes [`MAX_CONFIG_DEPTH`], if it does. Brackets inside strings and
/// TOML comments do not count; the lexing follows each format's rules for
/// strings, so no string can hide real nesting from the count.
fn too_deep(text: &str, format: Format) -> Option<usize> {
    if format == Format::Python {
        // Its tokenizer counts brackets itself (Python's strings differ).
        return None;
    }
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_CONFIG_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'#' if format == Format::Toml => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'"' | b'\'') if quote == b'"' || format == Format::Toml => {
                i = string_end(bytes, i, format);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the last byte of the string that starts at `start`: JSON
/// `"…"`; TOML `"…"`, `'…'`, `"""…"""` and `'''…'''`. Backslash escapes only
/// in double-quoted strings, as both formats say.
fn string_end(bytes: &[u8], start: usize, format: Format) -> usize {
    let quote = bytes[start];
    let triple = format == Format::Toml && bytes[start..].starts_with(&[quote; 3]);
    let escapes = quote == b'"';
    let mut i = start + if triple { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escapes => i += 1,
            b if b == quote && !triple => return i,
            b if b == quote && bytes[i..].starts_with(&[quote; 3]) => {
                // Up to two more quotes may close a multi-line string
                // (`""""` ends with a quote inside it).
                let mut end = i + 2;
                while end + 1 < bytes.len() && bytes[end + 1] == quote && end < i + 4 {
                    end += 1;
                }
                return end;
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// A value with its byte span in the file.
#[derive(Debug)]
pub(super) struct Node {
    pub(super) span: Range<usize>,
    pub(super) value: Value,
}

#[derive(Debug)]
pub(super) enum Value {
    Str(String),
    Bool(bool),
    /// `None`: an integer too large for `i64`.
    Int(Option<i64>),
    Float,
    Null,
    Datetime,
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl Value {
    fn describe(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float => "a decimal number",
            Value::Null => "null",
            Value::Datetime => "a date",
            Value::Array(_) => "a list",
            Value::Table(_) => "a table",
        }
    }
}

/// Parses the text, then walks it into a `Config`.
pub(crate) fn load(
    text: &str,
    file: Option<PathBuf>,
    format: Format,
) -> (Config, Vec<ConfigError>) {
    // A UTF-8 byte-order mark, as some Windows editors write: not part of
    // the settings (JSON parsers would report "expected value at 1:1").
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let source = Source {
        file,
        text: text.to_owned(),
        ..Source::default()
    };
    let mut not_literal = Vec::new();
    let root = match too_deep(text, format) {
        Some(offset) => Err((
            offset,
            ConfigErrorKind::TooDeep,
            format!("lists and tables are nested more than {MAX_CONFIG_DEPTH} levels deep"),
        )),
        None => match format {
            Format::Toml => parse_toml(text),
            Format::Json => parse_json(text),
            Format::Python => super::python::parse(text).map(|(root, problems)| {
                not_literal = problems
                    .into_iter()
                    .map(|p| {
                        let error =
                            ConfigError::new(ConfigErrorKind::NotALiteral, p.key, p.message)
                                .help(p.help);
                        (p.offset, error)
                    })
                    .collect();
                root
            }),
        }
        .map_err(|(offset, message)| (offset, ConfigErrorKind::Syntax, message)),
    };
    let help = match format {
        Format::Toml => "fix the TOML syntax (https://toml.io)",
        Format::Json => {
            "fix the JSON syntax: double-quoted strings, no trailing commas, no comments"
        }
        Format::Python => {
            "fix the Python syntax: `python -c \"import ast; ast.parse(open('settings.py').read())\"` shows where"
        }
    };
    walk(source, root, not_literal, help)
}

/// Walks a parsed tree into a `Config`: every error collected, each with
/// its place in `source`.
fn walk(
    mut source: Source,
    root: Result<Node, (usize, ConfigErrorKind, String)>,
    found: Vec<(usize, ConfigError)>,
    syntax_help: &'static str,
) -> (Config, Vec<ConfigError>) {
    let mut walker = Walker {
        source: &mut source,
        errors: Vec::new(),
    };
    for (offset, error) in found {
        walker.error(offset, error);
    }
    let mut config = Config::default();
    match root {
        Ok(Node {
            value: Value::Table(entries),
            ..
        }) => walker.top(&entries, &mut config),
        Ok(node) => {
            let found = node.value.describe();
            walker.error(
                node.span.start,
                ConfigError::new(ConfigErrorKind::WrongType, "", format!("expected a table of settings, found {found}"))
                    .help("write the settings as an object: `{\"CORS_ALLOWED_ORIGINS\": [\"https://example.com\"]}`"),
            );
        }
        Err((offset, ConfigErrorKind::TooDeep, message)) => {
            walker.error(offset, ConfigError::new(ConfigErrorKind::TooDeep, "", message).help(
                "settings nest at most four levels: the file, `path_rules`, a rule, a list of strings",
            ));
        }
        Err((offset, kind, message)) => {
            walker.error(
                offset,
                ConfigError::new(kind, "", message).help(syntax_help),
            );
        }
    }
    let errors = walker.errors;
    config.source = SourceRef(Some(Arc::new(source)));
    (config, errors)
}

/// The name environment settings are reported under.
const ENVIRONMENT: &str = "environment";

/// The `CORS_*` environment variables as a configuration: each known name
/// (current or old alias) read with its setting's type — a list as
/// comma-separated items or a JSON array (`[...]`, for items with commas),
/// a boolean as `true`/`false` (`1`/`0`, `yes`/`no`), a number, a string.
/// Names that are not settings are ignored, unless they look like a
/// misspelt one (`CORS_ALLOWED_ORIGIN`), which is an error. Errors are
/// placed in a text of `NAME=value` lines named `environment`.
pub(crate) fn load_env(
    vars: &mut dyn Iterator<Item = (String, String)>,
) -> (Config, Vec<ConfigError>) {
    let mut vars: Vec<(String, String)> = vars
        .filter(|(name, _)| name.starts_with("CORS_"))
        .filter(|(name, _)| {
            django::lookup(name).is_some()
                || django::REMOVED
                    .iter()
                    .any(|(removed, _, _)| removed == name)
                || django::misspelt(name)
        })
        .collect();
    vars.sort();
    let mut text = String::new();
    let mut entries = Vec::new();
    let mut found = Vec::new();
    for (name, value) in vars {
        text.push_str(&name);
        text.push('=');
        let start = text.len();
        // One line per variable: a newline inside a value is shown escaped.
        let value = value.replace('\n', "\\n");
        text.push_str(&value);
        text.push('\n');
        let field = django::lookup(&name).map(|(field, _)| field);
        match env_node(field, &value, start) {
            Ok(node) => entries.push((name, node)),
            Err((offset, message)) => found.push((
                offset,
                ConfigError::new(ConfigErrorKind::Syntax, name, message).help(
                    "write the items separated by commas (`https://a.example,https://b.example`), or as a JSON array of strings when an item has a comma: `[\"^https://[a-z]{1,8}\\\\.example\\\\.com$\"]`",
                ),
            )),
        }
    }
    let root = Node {
        span: 0..text.len(),
        value: Value::Table(entries),
    };
    let source = Source {
        file: Some(PathBuf::from(ENVIRONMENT)),
        text,
        ..Source::default()
    };
    walk(source, Ok(root), found, "")
}

/// A variable's value as its setting's type (the walker reports a wrong
/// one: `CORS_ALLOW_CREDENTIALS=maybe` is "expected `true` or `false`").
///
/// # Errors
/// A list written as JSON that does not parse: where, and why.
fn env_node(field: Option<Field>, value: &str, start: usize) -> Result<Node, (usize, String)> {
    let span = start..start + value.len();
    let value = match field {
        Some(
            Field::AllowedOrigins
            | Field::AllowedOriginRegexes
            | Field::AllowMethods
            | Field::AllowHeaders
            | Field::ExposeHeaders,
        ) => {
            if value.trim_start().starts_with('[') {
                let lead = value.len() - value.trim_start().len();
                return parse_json(value.trim_start())
                    .map(|node| shifted(node, start + lead))
                    .map_err(|(offset, message)| (start + lead + offset, message));
            }
            let mut items = Vec::new();
            let mut offset = start;
            for part in value.split(',') {
                let trimmed = part.trim();
                if !trimmed.is_empty() {
                    let at = offset + (part.len() - part.trim_start().len());
                    items.push(Node {
                        span: at..at + trimmed.len(),
                        value: Value::Str(trimmed.to_owned()),
                    });
                }
                offset += part.len() + 1;
            }
            Value::Array(items)
        }
        Some(
            Field::AllowAllOrigins
            | Field::AllowCredentials
            | Field::AllowPrivateNetwork
            | Field::ReportOnly,
        ) => match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Value::Bool(true),
            "false" | "0" | "no" | "off" => Value::Bool(false),
            _ => Value::Str(value.to_owned()),
        },
        Some(Field::PreflightMaxAge) => match value.trim().parse::<i64>() {
            Ok(n) => Value::Int(Some(n)),
            Err(_) => Value::Str(value.to_owned()),
        },
        Some(Field::PathRules) => Value::Str(value.to_owned()),
        Some(Field::UrlsRegex) | None => Value::Str(value.to_owned()),
    };
    Ok(Node { span, value })
}

/// A node parsed from a slice, its spans moved to where the slice is.
fn shifted(mut node: Node, by: usize) -> Node {
    node.span = node.span.start + by..node.span.end + by;
    node.value = match node.value {
        Value::Array(items) => Value::Array(items.into_iter().map(|i| shifted(i, by)).collect()),
        Value::Table(entries) => Value::Table(
            entries
                .into_iter()
                .map(|(k, v)| (k, shifted(v, by)))
                .collect(),
        ),
        other => other,
    };
    node
}

fn parse_toml(text: &str) -> Result<Node, (usize, String)> {
    let table = toml::de::DeTable::parse(text).map_err(|err| {
        let offset = err.span().map_or(0, |s| s.start);
        (
            offset,
            format!("invalid TOML: {}", err.message().trim_end()),
        )
    })?;
    let span = table.span();
    Ok(Node {
        span,
        value: toml_table(table.get_ref()),
    })
}

fn toml_table(table: &toml::de::DeTable<'_>) -> Value {
    let mut entries: Vec<(String, Node)> = table
        .iter()
        .map(|(key, value)| (key.get_ref().to_string(), toml_node(value)))
        .collect();
    // The parsed table is keyed in sorted order; walk it in file order.
    entries.sort_by_key(|(_, node)| node.span.start);
    Value::Table(entries)
}

fn toml_node(node: &toml::Spanned<toml::de::DeValue<'_>>) -> Node {
    use toml::de::DeValue;
    let value = match node.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => Value::Int(i64::from_str_radix(i.as_str(), i.radix()).ok()),
        DeValue::Float(_) => Value::Float,
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(_) => Value::Datetime,
        DeValue::Array(items) => Value::Array(items.iter().map(toml_node).collect()),
        DeValue::Table(table) => toml_table(table),
    };
    Node {
        span: node.span(),
        value,
    }
}

fn parse_json(text: &str) -> Result<Node, (usize, String)> {
    let to_offset = |err: serde_json::Error| {
        let line_start: usize = text
            .split_inclusive('\n')
            .take(err.line().saturating_sub(1))
            .map(str::len)
            .sum();
        let column = err.column().saturating_sub(1);
        let message = err.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        (line_start + column, format!("invalid JSON: {message}"))
    };
    let raw: &RawValue = serde_json::from_str(text).map_err(to_offset)?;
    json_node(raw, text).map_err(to_offset)
}

/// Builds a node from a raw JSON value: `RawValue::get` is a slice of the
/// original text, so its pointer gives the span.
fn json_node(raw: &RawValue, base: &str) -> Result<Node, serde_json::Error> {
    let text = raw.get();
    let start = text.as_ptr() as usize - base.as_ptr() as usize;
    let span = start..start + text.len();
    let value = match text.as_bytes().first() {
        Some(b'{') => {
            let entries: Entries<'_> = serde_json::from_str(text)?;
            let mut out = Vec::with_capacity(entries.0.len());
            for (key, value) in entries.0 {
                out.push((key, json_node(value, base)?));
            }
            Value::Table(out)
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            Value::Array(
                items
                    .into_iter()
                    .map(|i| json_node(i, base))
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(b'"') => Value::Str(serde_json::from_str(text)?),
        Some(b't' | b'f') => Value::Bool(serde_json::from_str(text)?),
        Some(b'n') => Value::Null,
        _ => {
            let number: serde_json::Number = serde_json::from_str(text)?;
            // Without serde_json's arbitrary precision, an integer beyond
            // `u64` parses as a float: tell them apart by the text.
            if number.is_f64() && text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                Value::Float
            } else {
                Value::Int(number.as_i64())
            }
        }
    };
    Ok(Node { span, value })
}

/// A JSON object's entries in file order, duplicates kept (to report them).
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Entries<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Entries<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

struct Walker<'s> {
    source: &'s mut Source,
    errors: Vec<ConfigError>,
}

/// Where the walker is: the top level or a path rule.
#[derive(Clone, Copy)]
struct Scope(Option<usize>);

impl Scope {
    fn key(self, written: &str) -> String {
        match self.0 {
            Some(i) => format!("path_rules[{i}].{written}"),
            None => written.to_owned(),
        }
    }
}

impl Walker<'_> {
    fn error(&mut self, offset: usize, mut error: ConfigError) {
        error.location = Some(self.source.location(offset));
        self.errors.push(error);
    }

    /// Picks, for each field, the entry that sets it: a current name wins
    /// over an old alias; two names of equal rank are an error.
    fn pick<'n>(
        &mut self,
        scope: Scope,
        entries: &'n [(String, Node)],
    ) -> Vec<(Field, &'n str, &'n Node)> {
        let mut chosen: HashMap<Field, (Rank, &'n str, &'n Node)> = HashMap::new();
        let mut order = Vec::new();
        for (key, node) in entries {
            let Some((field, rank)) = django::lookup(key) else {
                self.unknown_key(scope, key, node);
                continue;
            };
            if field == Field::PathRules && scope.0.is_some() {
                self.error(
                    node.span.start,
                    ConfigError::new(ConfigErrorKind::UnknownKey, scope.key(key), "path rules cannot be nested")
                        .help("list every rule in the top-level `path_rules`; the first that matches wins"),
                );
                continue;
            }
            if field == Field::ReportOnly && scope.0.is_some() {
                self.error(
                    node.span.start,
                    ConfigError::new(
                        ConfigErrorKind::UnknownKey,
                        scope.key(key),
                        "`report_only` applies to the whole policy, not to one path rule",
                    )
                    .help("move `report_only = true` to the top level of the file"),
                );
                continue;
            }
            match chosen.get(&field) {
                None => {
                    order.push(field);
                    chosen.insert(field, (rank, key, node));
                }
                Some(&(old_rank, old_key, _)) if old_rank == rank => {
                    self.error(
                        node.span.start,
                        ConfigError::new(
                            ConfigErrorKind::DuplicateKey,
                            scope.key(key),
                            format!("sets the same setting as `{old_key}`"),
                        )
                        .help(format!("keep one of `{old_key}` and `{key}`")),
                    );
                }
                Some(&(_, old_key, old_node)) => {
                    // django: the current name wins, even if empty or false.
                    let (current, alias, alias_node) = if rank == Rank::Current {
                        (key.as_str(), old_key, old_node)
                    } else {
                        (old_key, key.as_str(), node)
                    };
                    self.source.notes.push((
                        scope.key(alias),
                        alias_node.span.start,
                        format!("`{alias}` is ignored because `{current}` is set (they are never merged)"),
                    ));
                    if rank == Rank::Current {
                        chosen.insert(field, (rank, key, node));
                    }
                }
            }
        }
        order
            .into_iter()
            .map(|f| (f, chosen[&f].1, chosen[&f].2))
            .collect()
    }

    fn unknown_key(&mut self, scope: Scope, key: &str, node: &Node) {
        if let Some((_, problem, help)) = django::REMOVED.iter().find(|(name, _, _)| *name == key) {
            self.error(
                node.span.start,
                ConfigError::new(ConfigErrorKind::RemovedSetting, scope.key(key), *problem)
                    .help(*help),
            );
            return;
        }
        let help = match django::closest(key) {
            Some(name) => format!("did you mean `{name}`?"),
            None => "the settings are listed in the corsgate documentation (docs/configuration.md)"
                .to_owned(),
        };
        self.error(
            node.span.start,
            ConfigError::new(
                ConfigErrorKind::UnknownKey,
                scope.key(key),
                "is not a corsgate setting",
            )
            .help(help),
        );
    }

    fn remember(&mut self, scope: Scope, field: Field, written: &str, node: &Node) {
        let items = match &node.value {
            Value::Array(items) => items.iter().map(|i| i.span.clone()).collect(),
            _ => Vec::new(),
        };
        self.source.keys.insert(
            (scope.0, field),
            KeySource {
                written: written.to_owned(),
                span: node.span.clone(),
                items,
            },
        );
    }

    fn top(&mut self, entries: &[(String, Node)], config: &mut Config) {
        let scope = Scope(None);
        for (field, written, node) in self.pick(scope, entries) {
            self.remember(scope, field, written, node);
            let key = scope.key(written);
            match field {
                Field::AllowedOrigins => set(&mut config.allowed_origins, self.strings(&key, node)),
                Field::AllowedOriginRegexes => {
                    set(&mut config.allowed_origin_regexes, self.strings(&key, node))
                }
                Field::AllowMethods => set(&mut config.allow_methods, self.strings(&key, node)),
                Field::AllowHeaders => set(&mut config.allow_headers, self.strings(&key, node)),
                Field::ExposeHeaders => set(&mut config.expose_headers, self.strings(&key, node)),
                Field::AllowAllOrigins => {
                    set(&mut config.allow_all_origins, self.boolean(&key, node))
                }
                Field::AllowCredentials => {
                    set(&mut config.allow_credentials, self.boolean(&key, node))
                }
                Field::AllowPrivateNetwork => {
                    set(&mut config.allow_private_network, self.boolean(&key, node))
                }
                Field::PreflightMaxAge => {
                    set(&mut config.preflight_max_age, self.max_age(&key, node))
                }
                Field::UrlsRegex => config.urls_regex = self.string(&key, node),
                Field::PathRules => config.path_rules = self.rules(&key, node),
                Field::ReportOnly => set(&mut config.report_only, self.boolean(&key, node)),
            }
        }
    }

    fn rules(&mut self, key: &str, node: &Node) -> Vec<PathRule> {
        let Value::Array(items) = &node.value else {
            self.wrong_type(
                key,
                node,
                "a list of rules",
                "write `[[path_rules]]` tables in TOML, or a list of objects in JSON",
            );
            return Vec::new();
        };
        let mut rules = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            self.source.rules.push(item.span.clone());
            let Value::Table(entries) = &item.value else {
                self.wrong_type(
                    &format!("{key}[{i}]"),
                    item,
                    "a table",
                    "each rule is a table with a `urls_regex` and the settings it changes",
                );
                continue;
            };
            rules.push(self.rule(Scope(Some(i)), entries, item));
        }
        rules
    }

    fn rule(&mut self, scope: Scope, entries: &[(String, Node)], table: &Node) -> PathRule {
        let mut rule = PathRule::default();
        let mut has_scope = false;
        for (field, written, node) in self.pick(scope, entries) {
            self.remember(scope, field, written, node);
            let key = scope.key(written);
            match field {
                Field::AllowedOrigins => rule.allowed_origins = self.strings(&key, node),
                Field::AllowedOriginRegexes => {
                    rule.allowed_origin_regexes = self.strings(&key, node)
                }
                Field::AllowMethods => rule.allow_methods = self.strings(&key, node),
                Field::AllowHeaders => rule.allow_headers = self.strings(&key, node),
                Field::ExposeHeaders => rule.expose_headers = self.strings(&key, node),
                Field::AllowAllOrigins => rule.allow_all_origins = self.boolean(&key, node),
                Field::AllowCredentials => rule.allow_credentials = self.boolean(&key, node),
                Field::AllowPrivateNetwork => rule.allow_private_network = self.boolean(&key, node),
                Field::PreflightMaxAge => rule.preflight_max_age = self.max_age(&key, node),
                Field::UrlsRegex => {
                    has_scope = true;
                    // An unreadable regex is reported here; keep the rule
                    // matching nothing rather than everything.
                    rule.urls_regex = self
                        .string(&key, node)
                        .unwrap_or_else(|| "[^\\s\\S]".to_owned());
                }
                Field::PathRules | Field::ReportOnly => {}
            }
        }
        if !has_scope {
            self.error(
                table.span.start,
                ConfigError::new(
                    ConfigErrorKind::MissingKey,
                    scope.key(""),
                    "this path rule has no `urls_regex`",
                )
                .help("add the paths it covers, e.g. `urls_regex = \"^/public/\"`"),
            );
            rule.urls_regex = "[^\\s\\S]".to_owned();
        }
        rule
    }

    fn wrong_type(&mut self, key: &str, node: &Node, expected: &str, help: &str) {
        let found = node.value.describe();
        self.error(
            node.span.start,
            ConfigError::new(
                ConfigErrorKind::WrongType,
                key,
                format!("expected {expected}, found {found}"),
            )
            .help(help),
        );
    }

    fn strings(&mut self, key: &str, node: &Node) -> Option<Vec<String>> {
        match &node.value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Str(s) => out.push(s.clone()),
                        _ => self.wrong_type(
                            &format!("{key}[{i}]"),
                            item,
                            "a string",
                            "quote the value: `\"…\"`",
                        ),
                    }
                }
                (out.len() == items.len()).then_some(out)
            }
            Value::Str(s) => {
                // django would split a string into its characters (a bug).
                let parts: Vec<&str> = s
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                let quoted = parts
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.wrong_type(
                    key,
                    node,
                    "a list of strings",
                    &format!("write `[{quoted}]`"),
                );
                None
            }
            _ => {
                self.wrong_type(
                    key,
                    node,
                    "a list of strings",
                    "write a list: `[\"…\", \"…\"]`",
                );
                None
            }
        }
    }

    fn string(&mut self, key: &str, node: &Node) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.wrong_type(
                    key,
                    node,
                    "a string",
                    "write the regex as a string, e.g. `\"^/api/\"`",
                );
                None
            }
        }
    }

    fn boolean(&mut self, key: &str, node: &Node) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.wrong_type(
                    key,
                    node,
                    "`true` or `false`",
                    "write `true` or `false`, without quotes",
                );
                None
            }
        }
    }

    fn max_age(&mut self, key: &str, node: &Node) -> Option<u64> {
        match &node.value {
            Value::Int(Some(n)) if *n >= 0 => Some(n.unsigned_abs()),
            Value::Int(Some(n)) => {
                self.error(
                    node.span.start,
                    ConfigError::new(ConfigErrorKind::InvalidMaxAge, key, format!("`{n}` is negative"))
                        .value(n.to_string())
                        .help("write a number of seconds, `0` or more (`0` sends `Access-Control-Max-Age: 0`: no caching)"),
                );
                None
            }
            Value::Int(None) => {
                self.error(
                    node.span.start,
                    ConfigError::new(ConfigErrorKind::InvalidMaxAge, key, "is far too large").help(
                        format!("write at most `{}` seconds", super::DEFAULT_MAX_AGE),
                    ),
                );
                None
            }
            Value::Str(s) if s.trim().parse::<u64>().is_ok() => {
                self.wrong_type(
                    key,
                    node,
                    "a whole number of seconds",
                    &format!("write `{}` without quotes", s.trim()),
                );
                None
            }
            _ => {
                self.wrong_type(
                    key,
                    node,
                    "a whole number of seconds",
                    "write e.g. `86400` (one day)",
                );
                None
            }
        }
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}
