//! Configuration errors: which key, what value, what is wrong, how to fix it,
//! and where in the file. All of a configuration's errors are reported at once.

use std::fmt;
use std::path::PathBuf;

/// Where in a configuration file an error is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    /// The file, when the configuration came from one.
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl fmt::Display for ConfigLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{}:{}:{}", file.display(), self.line, self.column),
            None => write!(f, "line {}, column {}", self.line, self.column),
        }
    }
}

/// What kind of mistake a [`ConfigError`] is, for programs that re-word or
/// count errors. The `django` comment on a variant names the
/// django-cors-headers system check that rejects the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read.
    Io,
    /// The file is not valid TOML or JSON (or a `settings.py` does not
    /// tokenize as Python).
    Syntax,
    /// The file's extension is neither `.toml` nor `.json`.
    UnknownFormat,
    /// A value of the wrong type (django E001–E009, E015).
    WrongType,
    /// A key corsgate does not know.
    UnknownKey,
    /// A setting django-cors-headers removed (django E012, E013).
    RemovedSetting,
    /// The same setting given twice under names of equal rank.
    DuplicateKey,
    /// A required key is missing.
    MissingKey,
    /// An origin that is not `scheme://host[:port]` (django E013, E014).
    InvalidOrigin,
    /// A regex that does not compile.
    InvalidRegex,
    /// A header name that is not a valid HTTP field name.
    InvalidHeaderName,
    /// A method that is not a valid HTTP token.
    InvalidMethod,
    /// A max-age that is negative or absurdly large (django E004).
    InvalidMaxAge,
    /// The file, or one value in it, is larger than corsgate accepts
    /// ([`MAX_CONFIG_FILE_BYTES`](crate::MAX_CONFIG_FILE_BYTES),
    /// [`MAX_REGEX_BYTES`](crate::MAX_REGEX_BYTES)).
    TooLarge,
    /// The file nests lists or tables deeper than
    /// [`MAX_CONFIG_DEPTH`](crate::MAX_CONFIG_DEPTH) levels.
    TooDeep,
    /// A `settings.py` value computed when Django runs (`os.environ[…]`, a
    /// call, a variable, an f-string), which corsgate cannot read.
    NotALiteral,
}

impl ConfigErrorKind {
    /// A stable kebab-case name, for JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigErrorKind::Io => "io",
            ConfigErrorKind::Syntax => "syntax",
            ConfigErrorKind::UnknownFormat => "unknown-format",
            ConfigErrorKind::WrongType => "wrong-type",
            ConfigErrorKind::UnknownKey => "unknown-key",
            ConfigErrorKind::RemovedSetting => "removed-setting",
            ConfigErrorKind::DuplicateKey => "duplicate-key",
            ConfigErrorKind::MissingKey => "missing-key",
            ConfigErrorKind::InvalidOrigin => "invalid-origin",
            ConfigErrorKind::InvalidRegex => "invalid-regex",
            ConfigErrorKind::InvalidHeaderName => "invalid-header-name",
            ConfigErrorKind::InvalidMethod => "invalid-method",
            ConfigErrorKind::InvalidMaxAge => "invalid-max-age",
            ConfigErrorKind::TooLarge => "too-large",
            ConfigErrorKind::TooDeep => "too-deep",
            ConfigErrorKind::NotALiteral => "not-a-literal",
        }
    }
}

/// The longest user value an error message quotes whole, in bytes.
const SHOWN_BYTES: usize = 120;

/// A user value as an error message quotes it: whole when short, else its
/// first [`SHOWN_BYTES`] and its length, so a 30 MB value is not echoed.
pub(crate) fn shown(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() <= SHOWN_BYTES {
        return value.into();
    }
    let mut end = SHOWN_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &value[..end], value.len()).into()
}

/// A message as corsgate prints it: quoted user values shortened and
/// control characters escaped (also for the audit's findings).
#[cfg(feature = "audit")]
pub(crate) fn printable_message(text: &str) -> String {
    printable(&shorten_quoted(text))
}

/// Shortens every user value quoted in backticks (the house style for
/// messages) with [`shown`].
fn shorten_quoted(text: &str) -> String {
    if text.len() <= SHOWN_BYTES {
        return text.to_owned();
    }
    text.split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 1 { shown(part) } else { part.into() })
        .collect::<Vec<_>>()
        .join("`")
}

/// Escapes control characters (`\u{1b}`), keeping line breaks that
/// corsgate itself writes between the parts of a message.
///
/// The result is at most [`MESSAGE_BYTES`] long: a value that is quoted
/// with backticks of its own defeats [`shorten_quoted`]'s pairing, and the
/// cap still holds (found by the `config` fuzz target).
fn printable(text: &str) -> String {
    let escaped = if text.chars().any(char::is_control) {
        escape_controls(text)
    } else {
        text.to_owned()
    };
    if escaped.len() <= MESSAGE_BYTES {
        return escaped;
    }
    let mut end = MESSAGE_BYTES;
    while !escaped.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (message shortened)", &escaped[..end])
}

/// The longest text one part of a message (problem, help, value, key) may
/// be once printable.
const MESSAGE_BYTES: usize = 1_000;

fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One configuration mistake.
///
/// Its `Display` is the full report, `help` line included:
///
/// ```
/// use corsgate::Config;
///
/// let errors = Config::builder().allowed_origins(["example.com"]).compile().unwrap_err();
/// assert_eq!(
///     errors.to_string(),
///     "error: `allowed_origins[0]`: origin `example.com` has no scheme\n  \
///      help: write `https://example.com` (or `http://example.com`)"
/// );
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub(crate) kind: ConfigErrorKind,
    pub(crate) key: String,
    pub(crate) value: Option<String>,
    pub(crate) problem: String,
    pub(crate) help: Option<String>,
    pub(crate) location: Option<ConfigLocation>,
}

impl ConfigError {
    /// Every text is made safe to print as it is stored: shortened (see
    /// [`shown`]) and with control characters escaped, so a hostile file
    /// can neither flood a terminal nor drive it with escape sequences.
    pub(crate) fn new(
        kind: ConfigErrorKind,
        key: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            key: printable(&shown(&key.into())),
            value: None,
            problem: printable(&shorten_quoted(&problem.into())),
            help: None,
            location: None,
        }
    }

    pub(crate) fn value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(printable(&shown(&value.into())));
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(printable(&shorten_quoted(&help.into())));
        self
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The key as the configuration spelled it, with an index for a list
    /// element (`CORS_ALLOWED_ORIGINS[2]`, `path_rules[0].allow_methods[1]`).
    /// Empty for errors about the whole file.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The offending value, when there is one.
    pub fn offending_value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// What is wrong, in lower case, user values in backticks.
    pub fn problem(&self) -> &str {
        &self.problem
    }

    /// How to fix it.
    pub fn fix(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// Where in the file, when the configuration came from a file.
    pub fn location(&self) -> Option<&ConfigLocation> {
        self.location.as_ref()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        if self.key.is_empty() {
            write!(f, "error: {}", self.problem)?;
        } else {
            write!(f, "error: `{}`: {}", self.key, self.problem)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// `{:?}` reads as the message (what `main` prints for an error returned
/// with `?`); `{:#?}` shows the fields.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        f.debug_struct("ConfigError")
            .field("kind", &self.kind)
            .field("key", &self.key)
            .field("value", &self.value)
            .field("problem", &self.problem)
            .field("help", &self.help)
            .field("location", &self.location)
            .finish()
    }
}

/// Every error of a configuration, in file order. Never empty.
///
/// Returned with `?` from a `main` that returns `Result<(), Box<dyn Error>>`,
/// it prints as the messages themselves (its `Debug` is its `Display`;
/// `{:#?}` shows the fields):
///
/// ```
/// use corsgate::Config;
///
/// let errors = Config::builder().allowed_origins(["localhost:5000"]).compile().unwrap_err();
/// let boxed: Box<dyn std::error::Error> = errors.into();
/// assert_eq!(
///     format!("Error: {boxed:?}"),
///     "Error: error: `allowed_origins[0]`: origin `localhost:5000` has no scheme\n  \
///      help: write `http://localhost:5000` (or `https://localhost:5000`)"
/// );
/// ```
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub(crate) fn from_vec(mut errors: Vec<ConfigError>) -> Self {
        debug_assert!(!errors.is_empty());
        errors.sort_by_key(|e| e.location.as_ref().map(|l| (l.line, l.column)));
        Self { errors }
    }

    /// The errors, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    /// How many errors there are (at least one).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always `false`: a `ConfigErrors` holds at least one error.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors, by value.
    pub fn into_vec(self) -> Vec<ConfigError> {
        self.errors
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("ConfigErrors")
                .field("errors", &self.errors)
                .finish()
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}
