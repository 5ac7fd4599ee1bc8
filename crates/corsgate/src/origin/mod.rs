//! Origins: the configured ones (parsed and normalised once) and the ones a
//! request carries (validated in place, without allocating).
//!
//! A browser sends the *byte-serialized* origin of the page
//! ([Fetch § origin header](https://fetch.spec.whatwg.org/#origin-header),
//! [HTML § serialization of an origin](https://html.spec.whatwg.org/multipage/browsers.html#ascii-serialisation-of-an-origin)):
//! `scheme://host[:port]`, lower-case, with no path and no default port, or
//! the string `null` for an opaque origin. Anything else in an `Origin`
//! header was not written by a browser, so corsgate never echoes it.

mod matcher;
mod pattern;

pub(crate) use matcher::{OriginMatch, OriginMatcher};
pub use pattern::OriginPattern;

use std::fmt;

/// A validated, normalised origin from a configuration: `scheme://host[:port]`
/// or `null`.
///
/// Parsing normalises the way browsers serialise: scheme and host are
/// lower-cased, an internationalised host is converted to punycode, a
/// numeric IPv4 host is written in dotted-decimal, and a default port
/// (`:443` for `https`, `:80` for `http`) is dropped. The result compares
/// byte for byte with what a browser sends.
///
/// ```
/// use corsgate::Origin;
///
/// let origin = Origin::parse("HTTPS://Bücher.Example:443").unwrap();
/// assert_eq!(origin.as_str(), "https://xn--bcher-kva.example");
///
/// // A path (even a trailing slash) is an error: browsers never send one.
/// let err = Origin::parse("https://example.com/").unwrap_err();
/// assert_eq!(err.to_string(), "origin `https://example.com/` has a path");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    serialized: Box<str>,
}

impl Origin {
    /// The opaque origin, serialized as `null` (sandboxed iframes, `data:`
    /// URLs, `file:` pages, requests after a cross-origin redirect).
    pub fn null() -> Self {
        Self {
            serialized: "null".into(),
        }
    }

    /// Parses and normalises an origin as written in a configuration.
    ///
    /// # Errors
    /// An [`OriginError`] saying what is wrong and how to fix it: a missing
    /// scheme, a path, query or fragment, user information, an empty or
    /// invalid host, a `*` (use [`OriginPattern`] for wildcards).
    pub fn parse(input: &str) -> Result<Self, OriginError> {
        if input == "null" {
            return Ok(Self::null());
        }
        let raw = RawOrigin::split(input)?;
        if raw.host.contains('*') || raw.port.is_some_and(|p| p.contains('*')) {
            return Err(OriginError::new(
                input,
                OriginProblem::Wildcard,
                "a `*` is allowed only as a whole leftmost label, e.g. `https://*.example.com`",
            ));
        }
        let serialized = normalise(input, &raw)?;
        Ok(Self {
            serialized: serialized.into_boxed_str(),
        })
    }

    /// The serialized origin, exactly as a browser sends it.
    pub fn as_str(&self) -> &str {
        &self.serialized
    }

    /// Whether this is the opaque origin `null`.
    pub fn is_null(&self) -> bool {
        &*self.serialized == "null"
    }

    /// The scheme, without `://` (`None` for `null`).
    pub fn scheme(&self) -> Option<&str> {
        self.serialized.split_once("://").map(|(scheme, _)| scheme)
    }

    /// The host, lower-case and in punycode; an IPv6 host keeps its brackets
    /// (`None` for `null`).
    pub fn host(&self) -> Option<&str> {
        let (_, rest) = self.serialized.split_once("://")?;
        Some(split_host_port(rest).0)
    }

    /// The port, if it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        let (_, rest) = self.serialized.split_once("://")?;
        split_host_port(rest).1.and_then(|p| p.parse().ok())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.serialized)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({})", self.serialized)
    }
}

impl std::str::FromStr for Origin {
    type Err = OriginError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a configured origin or origin pattern was refused. `{:?}` reads as
/// the message and its help (what `main` prints for an error returned with
/// `?`); `{:#?}` shows the fields.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("origin `{input}` {problem}")]
pub struct OriginError {
    input: String,
    problem: OriginProblem,
    help: String,
}

impl fmt::Debug for OriginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("OriginError")
                .field("input", &self.input)
                .field("problem", &self.problem)
                .field("help", &self.help)
                .finish()
        } else {
            write!(f, "{self}\n  help: {}", self.help)
        }
    }
}

impl OriginError {
    fn new(input: &str, problem: OriginProblem, help: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            problem,
            help: help.into(),
        }
    }

    /// The origin as it was written.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &OriginProblem {
        &self.problem
    }

    /// How to fix it.
    pub fn help(&self) -> &str {
        &self.help
    }
}

/// What is wrong with a configured origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginProblem {
    /// No `scheme://` in front (django-cors-headers' check E013).
    #[error("has no scheme")]
    MissingScheme,
    /// The scheme has characters a scheme cannot have.
    #[error("has an invalid scheme")]
    InvalidScheme,
    /// Nothing between `://` and the end (django-cors-headers' check E013).
    #[error("has no host")]
    MissingHost,
    /// A path, even a lone trailing `/` (django-cors-headers' check E014).
    #[error("has a path")]
    HasPath,
    /// A `?query` (django-cors-headers' check E014).
    #[error("has a query")]
    HasQuery,
    /// A `#fragment` (django-cors-headers' check E014).
    #[error("has a fragment")]
    HasFragment,
    /// `user:password@` in front of the host.
    #[error("has user information")]
    HasUserInfo,
    /// White space or control characters.
    #[error("contains white space or control characters")]
    HasWhitespace,
    /// A port that is not a number from 0 to 65535.
    #[error("has an invalid port")]
    InvalidPort,
    /// A host that is not a valid domain name or IP address.
    #[error("has an invalid host: {0}")]
    InvalidHost(String),
    /// A `*` where a wildcard is not allowed.
    #[error("has a `*` where a pattern cannot have one")]
    Wildcard,
}

/// The parts of `scheme://host[:port]` as written, before normalisation.
pub(crate) struct RawOrigin<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: Option<&'a str>,
}

impl<'a> RawOrigin<'a> {
    /// Splits a configured origin (or pattern), refusing everything that is
    /// not of the form `scheme://host[:port]`.
    pub(crate) fn split(input: &'a str) -> Result<Self, OriginError> {
        if input
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(OriginError::new(
                input,
                OriginProblem::HasWhitespace,
                "remove the white space",
            ));
        }
        let Some((scheme, rest)) = input.split_once("://") else {
            let help = match input.rsplit_once(':') {
                // No `:` at all: a bare host (perhaps with a path), so
                // suggest the origin of that host.
                None => {
                    let host = input.split(['/', '?', '#']).next().unwrap_or_default();
                    format!("write `https://{host}` (or `http://{host}`)")
                }
                // `localhost:8000`: a host and port, most often a dev server.
                Some((host, port))
                    if !host.is_empty()
                        && !host.contains('/')
                        && !port.is_empty()
                        && port.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    format!("write `http://{input}` (or `https://{input}`)")
                }
                Some(_) => {
                    "write the origin as `scheme://host[:port]`, e.g. `https://example.com`".into()
                }
            };
            return Err(OriginError::new(input, OriginProblem::MissingScheme, help));
        };
        let scheme_ok = scheme
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(OriginError::new(
                input,
                OriginProblem::InvalidScheme,
                "a scheme is letters, digits, `+`, `-` and `.`, starting with a letter, e.g. `https`",
            ));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let fixed = format!("{scheme}://{authority}");
        if let Some(c) = tail.chars().next() {
            let problem = match c {
                '/' => OriginProblem::HasPath,
                '?' => OriginProblem::HasQuery,
                _ => OriginProblem::HasFragment,
            };
            return Err(OriginError::new(
                input,
                problem,
                format!("an origin is only `scheme://host[:port]`: write `{fixed}`"),
            ));
        }
        if authority.contains('@') {
            let host = authority.rsplit_once('@').map_or("", |(_, h)| h);
            return Err(OriginError::new(
                input,
                OriginProblem::HasUserInfo,
                format!("browsers never send user information: write `{scheme}://{host}`"),
            ));
        }
        let (host, port) = split_host_port(authority);
        if host.is_empty() {
            return Err(OriginError::new(
                input,
                OriginProblem::MissingHost,
                "add a host, e.g. `https://example.com`",
            ));
        }
        if let Some(p) = port {
            // At most five digits (`:000080` is refused, though the URL
            // standard reads it as 80: no browser writes it); `""`, `+80`
            // and `8a` are not numbers.
            let numeric = p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            if p != "*" && !(numeric && p.parse::<u32>().is_ok_and(|n| n <= 65535)) {
                return Err(OriginError::new(
                    input,
                    OriginProblem::InvalidPort,
                    "a port is a number from 0 to 65535, e.g. `https://example.com:8443`",
                ));
            }
        }
        Ok(Self { scheme, host, port })
    }
}

/// Normalises a split origin through the URL standard's host parser (what
/// browsers use): lower case, punycode, IPv4 and IPv6 canonical forms, no
/// default port.
pub(crate) fn normalise(input: &str, raw: &RawOrigin<'_>) -> Result<String, OriginError> {
    let scheme = raw.scheme.to_ascii_lowercase();
    let mut candidate = format!("{scheme}://{}", raw.host);
    if let Some(port) = raw.port {
        candidate.push(':');
        candidate.push_str(port);
    }
    let url = url::Url::parse(&candidate).map_err(|e| {
        OriginError::new(
            input,
            OriginProblem::InvalidHost(e.to_string()),
            "write a domain name or an IP address, e.g. `https://example.com` or `http://127.0.0.1:5000`",
        )
    })?;
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        None => {
            return Err(OriginError::new(
                input,
                OriginProblem::MissingHost,
                "add a host, e.g. `https://example.com`",
            ));
        }
    };
    let mut out = format!("{scheme}://{host}");
    if let Some(port) = url.port() {
        // `Url::port` is `None` for a scheme's default port, so this keeps
        // only ports a browser would send.
        out.push(':');
        out.push_str(&port.to_string());
    }
    // The URL standard lets a host hold `*`, `!`, `,` (or their %-escapes);
    // browsers send such hosts, but corsgate never allows them (its
    // request-origin validator refuses them), so an entry that normalises
    // to one is dead at best and surprising at worst: refuse it here. The
    // `*` of a pattern was split off before this point.
    if parse_request_origin(out.as_bytes()).is_none() {
        return Err(OriginError::new(
            input,
            OriginProblem::InvalidHost(format!(
                "it normalises to `{out}`, which no browser sends as an origin corsgate allows"
            )),
            "write the host with letters, digits, `-`, `.` and `_` only (or its punycode form)",
        ));
    }
    Ok(out)
}

/// Splits `host[:port]`, keeping an IPv6 host's brackets.
pub(crate) fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, rest) = authority.split_at(end + 1);
                if rest.is_empty() {
                    (host, None)
                } else {
                    // Anything after `]` but a port keeps the brackets
                    // unclosed at the end, so the host is refused whole
                    // (it used to be dropped: `http://[::1]junk` passed).
                    match rest.strip_prefix(':') {
                        Some(port) => (host, Some(port)),
                        None => (authority, None),
                    }
                }
            }
            None => (authority, None),
        }
    } else {
        match authority.bytes().rposition(|b| b == b':') {
            Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
            None => (authority, None),
        }
    }
}

/// The parts of a request's `Origin` header that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestOrigin<'a> {
    pub(crate) scheme: &'a str,
    pub(crate) host: &'a str,
    /// The port digits, if present (never a default port).
    pub(crate) port: Option<&'a str>,
}

/// Validates the bytes of a request's `Origin` header as a byte-serialized
/// tuple origin, the only form a browser sends, without allocating.
///
/// Accepted: a lower-case scheme, `://`, a lower-case host of letters,
/// digits, `-`, `.` and `_` (or a bracketed IPv6 address), and an optional
/// port with no leading zero that is not the scheme's default. `null` is
/// not a tuple origin and is handled by the caller.
pub(crate) fn parse_request_origin(bytes: &[u8]) -> Option<RequestOrigin<'_>> {
    // Browsers never send long origins; this bounds the work on crafted input.
    if bytes.len() > 2048 {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    // The scheme ends at the first `:` (it cannot hold one), which must
    // start `://`. (Not `split_once("://")`: its substring search costs
    // more than the rest of the parse; and a plain loop, as for every
    // search below: `memchr`'s setup outweighs it on strings this short.)
    let colon = bytes.iter().position(|&b| b == b':')?;
    let (scheme, rest) = (&text[..colon], text[colon + 1..].strip_prefix("//")?);
    let mut sb = scheme.bytes();
    if !sb.next().is_some_and(|b| b.is_ascii_lowercase())
        || !sb.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        })
    {
        return None;
    }
    let default = default_port(scheme);
    let (host, port) = if rest.starts_with('[') {
        let (host, port) = split_host_port(rest);
        let inner = host.strip_prefix('[')?.strip_suffix(']')?;
        let ipv6_ok = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'a'..=b'f' | b':' | b'.'));
        if !ipv6_ok {
            return None;
        }
        (host, port)
    } else {
        // One pass over the host, up to the port's `:`: its bytes by
        // table, no empty label (a `.` first or after another `.`; one at
        // the end is the root's, and allowed), and where its last label
        // starts. A second `:` cannot pass: the port is digits.
        let mut previous = b'.';
        let mut label = 0;
        let mut last = 0..0;
        let mut end = rest.len();
        for (at, &b) in rest.as_bytes().iter().enumerate() {
            if b == b'.' {
                if previous == b'.' {
                    return None;
                }
                last = label..at;
                label = at + 1;
            } else if b == b':' {
                end = at;
                break;
            } else if !HOST_BYTE[usize::from(b)] {
                return None;
            }
            previous = b;
        }
        if end == 0 {
            return None;
        }
        // The last label, before the root's `.` if there is one.
        if label < end {
            last = label..end;
        }
        let host = &rest[..end];
        if default.is_some() && is_number(&rest[last]) && !is_dotted_decimal(host) {
            return None;
        }
        (host, rest.get(end + 1..))
    };
    if let Some(p) = port {
        let valid = !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p == "0" || !p.starts_with('0'))
            && p.parse::<u32>().is_ok_and(|n| n <= 65535)
            && default != Some(p);
        if !valid {
            return None;
        }
    }
    Some(RequestOrigin { scheme, host, port })
}

/// The bytes of a request origin's host besides `.`: lower-case letters,
/// digits, `-` and `_`. A table: one load per byte instead of four range
/// tests, on the path every refused origin takes (docs/benchmarks.md).
static HOST_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_';
        b += 1;
    }
    table
};

/// Whether a special scheme's host label is one the URL standard reads as
/// a number (`0`, `127`, `0x7f`): then, as the last label, the host is an
/// IPv4 address, which a browser sends only in dotted-decimal form
/// ([`is_dotted_decimal`]; `http://0` reaches a server as
/// `http://0.0.0.0`).
fn is_number(label: &str) -> bool {
    match label.as_bytes() {
        [b'0', b'x', hex @ ..] => hex.iter().all(u8::is_ascii_hexdigit),
        digits => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
    }
}

/// Four decimal numbers of at most 255, without leading zeros, dotted.
fn is_dotted_decimal(host: &str) -> bool {
    host.split('.').count() == 4
        && host.split('.').all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'))
                && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// The default port of the special schemes (URL standard), which a
/// serialized origin never spells out.
fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        "ftp" => Some("21"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request-origin parser as it was before its host became one
    /// pass by table (session 13): the new one must accept exactly what
    /// it accepted, with the same parts.
    fn reference_parse(bytes: &[u8]) -> Option<RequestOrigin<'_>> {
        // Browsers never send long origins; this bounds the work on crafted input.
        if bytes.len() > 2048 {
            return None;
        }
        let text = std::str::from_utf8(bytes).ok()?;
        // The scheme ends at the first `:` (it cannot hold one), which must
        // start `://`. (Not `split_once("://")`: its substring search costs
        // more than the rest of the parse; and a plain loop, as for every
        // search below: `memchr`'s setup outweighs it on strings this short.)
        let colon = bytes.iter().position(|&b| b == b':')?;
        let (scheme, rest) = (&text[..colon], text[colon + 1..].strip_prefix("//")?);
        let mut sb = scheme.bytes();
        if !sb.next().is_some_and(|b| b.is_ascii_lowercase())
            || !sb.all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
            })
        {
            return None;
        }
        let (host, port) = split_host_port(rest);
        let host_ok = if let Some(inner) = host.strip_prefix('[') {
            let inner = inner.strip_suffix(']')?;
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'a'..=b'f' | b':' | b'.'))
        } else {
            // One pass: allowed bytes, and no empty label (a `.` first or
            // after another `.`; one at the end is the root's, and allowed).
            let mut previous = b'.';
            !host.is_empty()
                && host.bytes().all(|b| {
                    let ok = b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || matches!(b, b'-' | b'_')
                        || (b == b'.' && previous != b'.');
                    previous = b;
                    ok
                })
        };
        if !host_ok || (default_port(scheme).is_some() && !reference_ipv4_is_canonical(host)) {
            return None;
        }
        if let Some(p) = port {
            let valid = !p.is_empty()
                && p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'))
                && p.parse::<u32>().is_ok_and(|n| n <= 65535)
                && default_port(scheme) != Some(p);
            if !valid {
                return None;
            }
        }
        Some(RequestOrigin { scheme, host, port })
    }

    /// For a special scheme's host: `false` when the URL standard would parse
    /// it as an IPv4 address (its last label is a number: `0`, `127.1`,
    /// `0x7f.0.0.1`) that is not already in the dotted-decimal form browsers
    /// serialize (`http://0` reaches a server as `http://0.0.0.0`).
    fn reference_ipv4_is_canonical(host: &str) -> bool {
        let trimmed = host.strip_suffix('.').unwrap_or(host);
        let last = trimmed
            .bytes()
            .rposition(|b| b == b'.')
            .map_or(trimmed, |dot| &trimmed[dot + 1..]);
        let numeric = match last.as_bytes() {
            [b'0', b'x', hex @ ..] => hex.iter().all(u8::is_ascii_hexdigit),
            digits => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        };
        if !numeric {
            return true;
        }
        host.split('.').count() == 4
            && host.split('.').all(|p| {
                !p.is_empty()
                    && p.len() <= 3
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0'))
                    && p.parse::<u16>().is_ok_and(|n| n <= 255)
            })
    }

    /// Runs `check` on `cases` inputs drawn by `strategy` from a fixed
    /// seed: the same inputs on every run, so a mutant this catches is
    /// always caught (the mutation step runs only deterministic tests).
    fn agree_on<S: proptest::strategy::Strategy>(
        strategy: S,
        cases: u32,
        check: impl Fn(S::Value) -> bool,
    ) where
        S::Value: std::fmt::Debug,
    {
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let config = Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let result = TestRunner::new_with_rng(config, rng).run(&strategy, |value| {
            let shown = format!("{value:?}");
            proptest::prop_assert!(check(value), "{shown}");
            Ok(())
        });
        if let Err(e) = result {
            panic!("the parsers disagree: {e}");
        }
    }

    #[test]
    fn the_request_origin_parser_agrees_with_the_one_before() {
        let origins = concat!(
            "(http|https|wss|ftp|foo|Http|1x|)(://|://|://|:/|:|)",
            "(\\[(::1|[0-9a-f:.g]{0,5})\\]|\\[|||||)",
            "((0|1|9|127|255|256|010|00|0x7f|0x|0xG|a|ab|com|x-y|a_b|A|é| |/|\\*)",
            "(\\.|\\.|\\.|:|\\.\\.|)){0,6}",
            "(:(0|80|443|21|8000|65535|65536|080|)|||)",
        );
        agree_on(origins, 4_000, |origin: String| {
            parse_request_origin(origin.as_bytes()) == reference_parse(origin.as_bytes())
        });
        // Any bytes, alone and after `http://`.
        let bytes = proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40);
        agree_on(bytes, 2_000, |bytes: Vec<u8>| {
            let after = [b"http://".as_slice(), &bytes].concat();
            parse_request_origin(&bytes) == reference_parse(&bytes)
                && parse_request_origin(&after) == reference_parse(&after)
        });
    }

    fn ok(input: &str) -> String {
        Origin::parse(input).unwrap().as_str().to_owned()
    }

    fn problem(input: &str) -> OriginProblem {
        Origin::parse(input).unwrap_err().problem().clone()
    }

    #[test]
    fn scheme_and_host_are_lower_cased() {
        assert_eq!(ok("HTTPS://Example.COM"), "https://example.com");
    }

    #[test]
    fn default_ports_are_dropped_and_others_kept() {
        assert_eq!(ok("https://example.com:443"), "https://example.com");
        assert_eq!(ok("http://example.com:80"), "http://example.com");
        assert_eq!(ok("http://example.com:443"), "http://example.com:443");
        assert_eq!(ok("http://127.0.0.1:5000"), "http://127.0.0.1:5000");
    }

    #[test]
    fn idn_hosts_become_punycode() {
        assert_eq!(
            ok("https://bücher.example"),
            "https://xn--bcher-kva.example"
        );
    }

    #[test]
    fn ip_hosts_are_canonical() {
        assert_eq!(ok("http://[::1]:8000"), "http://[::1]:8000");
        assert_eq!(ok("http://[0:0::1]"), "http://[::1]");
        assert_eq!(ok("http://127.1"), "http://127.0.0.1");
    }

    #[test]
    fn null_is_the_opaque_origin() {
        let null = Origin::parse("null").unwrap();
        assert!(null.is_null());
        assert_eq!(null.scheme(), None);
        assert_eq!(problem("NULL"), OriginProblem::MissingScheme);
    }

    #[test]
    fn accessors_split_the_origin() {
        let o = Origin::parse("http://[::1]:8000").unwrap();
        assert_eq!(o.scheme(), Some("http"));
        assert_eq!(o.host(), Some("[::1]"));
        assert_eq!(o.port(), Some(8000));
        assert_eq!(Origin::parse("https://a.example").unwrap().port(), None);
    }

    #[test]
    fn malformed_configured_origins_are_refused_with_a_fix() {
        let err = Origin::parse("example.com").unwrap_err();
        assert_eq!(err.problem(), &OriginProblem::MissingScheme);
        assert_eq!(
            err.help(),
            "write `https://example.com` (or `http://example.com`)"
        );
        assert_eq!(
            Origin::parse("example.com/app/").unwrap_err().help(),
            "write `https://example.com` (or `http://example.com`)"
        );
        assert_eq!(
            Origin::parse("localhost:8000").unwrap_err().help(),
            "write `http://localhost:8000` (or `https://localhost:8000`)"
        );
        for not_host_port in [":8000", "localhost:", "localhost:80a", "a/b:8000"] {
            assert_eq!(
                Origin::parse(not_host_port).unwrap_err().help(),
                "write the origin as `scheme://host[:port]`, e.g. `https://example.com`",
                "{not_host_port}"
            );
        }
        // The seed tutorial's typo.
        assert_eq!(
            problem("http//:localhost:8000"),
            OriginProblem::MissingScheme
        );
        assert_eq!(problem("https:example.com"), OriginProblem::MissingScheme);
        let err = Origin::parse("https://example.com/").unwrap_err();
        assert_eq!(err.problem(), &OriginProblem::HasPath);
        assert_eq!(
            err.help(),
            "an origin is only `scheme://host[:port]`: write `https://example.com`"
        );
        assert_eq!(problem("https://example.com/app"), OriginProblem::HasPath);
        assert_eq!(problem("https://example.com?x=1"), OriginProblem::HasQuery);
        assert_eq!(
            problem("https://example.com#top"),
            OriginProblem::HasFragment
        );
        assert_eq!(
            problem("https://user:pw@example.com"),
            OriginProblem::HasUserInfo
        );
        assert_eq!(problem("https://"), OriginProblem::MissingHost);
        assert_eq!(
            problem("https:// example.com"),
            OriginProblem::HasWhitespace
        );
        assert_eq!(
            problem("https://example.com:99999"),
            OriginProblem::InvalidPort
        );
        assert_eq!(problem("https://example.com:"), OriginProblem::InvalidPort);
        assert_eq!(
            problem("https://example.com:000080"),
            OriginProblem::InvalidPort
        );
        assert_eq!(
            problem("https://example.com:+80"),
            OriginProblem::InvalidPort
        );
        assert_eq!(
            problem("https://example.com:65536"),
            OriginProblem::InvalidPort
        );
        assert_eq!(ok("https://example.com:00080"), "https://example.com:80");
        assert_eq!(ok("https://example.com:65535"), "https://example.com:65535");
        assert_eq!(problem("1http://example.com"), OriginProblem::InvalidScheme);
        assert_eq!(problem("https://*.example.com"), OriginProblem::Wildcard);
        assert!(matches!(
            problem("http://exa mple.com"),
            OriginProblem::HasWhitespace
        ));
        assert!(matches!(
            problem("http://[::1"),
            OriginProblem::InvalidHost(_)
        ));
    }

    #[test]
    fn request_origins_must_be_serialized_exactly() {
        let good = [
            "https://example.com",
            "http://127.0.0.1:5000",
            "http://[::1]:8000",
            "https://xn--bcher-kva.example",
            "chrome-extension://abcdefghijklmnop",
            "http://localhost:0",
            "https://a_b.example.com",
            "https://example.com.",
            "http://0.0.0.0:8000",
            "http://10.0.0.255",
            "https://1.example",
            "https://example.123abc",
            // Not a special scheme: no IPv4 parsing.
            "foo://0",
        ];
        for origin in good {
            assert!(
                parse_request_origin(origin.as_bytes()).is_some(),
                "{origin}"
            );
        }
        let bad: [&[u8]; 30] = [
            b"",
            b"null",
            b"example.com",
            b"https://example.com/",
            b"https://example.com/path",
            b"https://Example.com",
            b"HTTPS://example.com",
            b"https://example.com:443",
            b"http://example.com:80",
            b"http://example.com:0080",
            b"http://example.com:65536",
            b"https://exa mple.com",
            b"https://example.com, https://evil.com",
            b"https://\xff.com",
            b"https://",
            b"https://..com",
            b"https://.example.com",
            b"https://api..example.com",
            b"https://example.com..",
            b"https://[::g]",
            // Hosts the URL standard parses as IPv4: a browser sends them
            // in dotted-decimal form, so these come from no browser.
            b"http://0",
            b"http://127.1",
            b"http://0x7f.0.0.1",
            b"http://010.0.0.1",
            b"http://1.2.3.256",
            b"https://example.0x",
            b"http://1.2.3.4.5",
            // A number as the last label before the root's `.`.
            b"http://0.",
            b"http://a.1.",
            b"http://1.2.3.4.",
        ];
        for origin in bad {
            assert!(
                parse_request_origin(origin).is_none(),
                "{}",
                String::from_utf8_lossy(origin)
            );
        }
        let parts = parse_request_origin(b"http://[::1]:8000").unwrap();
        assert_eq!(
            (parts.scheme, parts.host, parts.port),
            ("http", "[::1]", Some("8000"))
        );
    }

    #[test]
    fn very_long_request_origins_are_refused() {
        let long = format!("https://{}.com", "a".repeat(4096));
        assert!(parse_request_origin(long.as_bytes()).is_none());
    }

    #[test]
    fn the_length_limit_is_2048_bytes_exactly() {
        let of_length = |n: usize| format!("https://{}.com", "a".repeat(n - 12));
        assert_eq!(of_length(2048).len(), 2048);
        assert!(parse_request_origin(of_length(2048).as_bytes()).is_some());
        assert!(parse_request_origin(of_length(2049).as_bytes()).is_none());
    }

    #[test]
    fn a_scheme_with_any_upper_case_letter_is_not_serialized() {
        // Each position on its own: the first letter is checked apart from
        // the rest, so `Https` and `httpS` fail for different reasons.
        for origin in [
            "Https://a.example",
            "hTtps://a.example",
            "httpS://a.example",
        ] {
            assert!(
                parse_request_origin(origin.as_bytes()).is_none(),
                "{origin}"
            );
        }
        // Digits, `+`, `-` and `.` after the first letter are scheme bytes.
        for origin in ["web+app://a.example", "x-y.z1://a.example"] {
            assert!(
                parse_request_origin(origin.as_bytes()).is_some(),
                "{origin}"
            );
        }
        for origin in ["1http://a.example", "+x://a.example", "://a.example"] {
            assert!(
                parse_request_origin(origin.as_bytes()).is_none(),
                "{origin}"
            );
        }
    }

    #[test]
    fn every_special_scheme_drops_its_own_default_port_only() {
        for (scheme, default, other) in [
            ("http", "80", "443"),
            ("ws", "80", "443"),
            ("https", "443", "80"),
            ("wss", "443", "80"),
            ("ftp", "21", "80"),
        ] {
            let spelled = format!("{scheme}://a.example:{default}");
            assert!(
                parse_request_origin(spelled.as_bytes()).is_none(),
                "{spelled}"
            );
            assert_eq!(ok(&spelled), format!("{scheme}://a.example"));
            let kept = format!("{scheme}://a.example:{other}");
            assert!(parse_request_origin(kept.as_bytes()).is_some(), "{kept}");
            assert_eq!(ok(&kept), kept);
        }
        // Not a special scheme: no default port, so none is dropped.
        assert!(parse_request_origin(b"foo://a.example:80").is_some());
        assert!(parse_request_origin(b"foo://a.example:21").is_some());
    }

    #[test]
    fn an_origin_displays_as_its_serialization() {
        let origin: Origin = "HTTPS://A.example:8443".parse().unwrap();
        assert_eq!(origin.to_string(), "https://a.example:8443");
        assert_eq!(format!("{origin:?}"), "Origin(https://a.example:8443)");
        assert_eq!(Origin::null().to_string(), "null");
        assert!(!origin.is_null());
        assert_eq!(origin.host(), Some("a.example"));
        assert_eq!(Origin::null().host(), None);
        assert_eq!(Origin::null().port(), None);
    }

    #[test]
    fn an_error_debugs_as_its_message_and_help() {
        let err = Origin::parse("localhost:5000").unwrap_err();
        assert_eq!(
            format!("{err:?}"),
            "origin `localhost:5000` has no scheme\n  help: write `http://localhost:5000` (or `https://localhost:5000`)"
        );
        let fields = format!("{err:#?}");
        assert!(fields.starts_with("OriginError {"), "{fields}");
        assert!(fields.contains("problem: MissingScheme"), "{fields}");
    }

    #[test]
    fn an_error_keeps_the_input_as_written() {
        let err = Origin::parse("HTTPS://Example.com/app").unwrap_err();
        assert_eq!(err.input(), "HTTPS://Example.com/app");
        assert_eq!(err.problem(), &OriginProblem::HasPath);
        assert_eq!(
            err.to_string(),
            "origin `HTTPS://Example.com/app` has a path"
        );
    }
}
