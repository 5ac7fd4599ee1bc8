//! Origin patterns with a subdomain or port wildcard, matched label by label.
//!
//! Unlike a prefix/suffix string match (rs/cors `utils.go`) or a regex with
//! an unescaped dot, `https://*.example.com` here matches whole DNS labels
//! only: `https://api.example.com` and `https://a.b.example.com`, never
//! `https://example.com`, `https://evilexample.com` or
//! `https://example.com.evil.com`.

use std::fmt;

use super::{OriginError, OriginProblem, RawOrigin, RequestOrigin, normalise};

/// An allowed-origin entry with a wildcard: `https://*.example.com`
/// (any subdomain, at any depth), `http://localhost:*` (any port), or both
/// (`https://*.example.com:*`).
///
/// ```
/// use corsgate::OriginPattern;
///
/// let pattern = OriginPattern::parse("https://*.example.com").unwrap();
/// assert!(pattern.matches("https://api.example.com"));
/// assert!(pattern.matches("https://a.b.example.com"));
/// assert!(!pattern.matches("https://example.com"));
/// assert!(!pattern.matches("https://evilexample.com"));
/// assert!(!pattern.matches("https://example.com.evil.com"));
/// assert!(!pattern.matches("http://api.example.com"));
///
/// let err = OriginPattern::parse("https://*example.com").unwrap_err();
/// assert_eq!(err.to_string(), "origin `https://*example.com` has a `*` where a pattern cannot have one");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct OriginPattern {
    text: Box<str>,
    scheme: Box<str>,
    host: HostPattern,
    port: PortPattern,
}

/// See [`OriginPattern::host_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostKey<'a> {
    /// `example.com` for `https://*.example.com`.
    Parent(&'a str),
    /// `localhost` for `http://localhost:*`.
    Host(&'a str),
}

#[derive(Clone, PartialEq, Eq)]
enum HostPattern {
    /// `*.suffix`: stores `.suffix`, with the leading dot, so a match is a
    /// suffix test that always falls on a label boundary.
    Subdomains(Box<str>),
    Exact(Box<str>),
}

#[derive(Clone, PartialEq, Eq)]
enum PortPattern {
    /// No port: the scheme's default.
    Default,
    Exact(Box<str>),
    Any,
}

impl OriginPattern {
    /// Whether a configured allowed-origin entry is a pattern (has a `*`).
    pub(crate) fn is_pattern(entry: &str) -> bool {
        entry.contains('*')
    }

    /// Parses a pattern.
    ///
    /// # Errors
    /// The errors of [`Origin::parse`](crate::Origin::parse), and
    /// [`OriginProblem::Wildcard`] when a `*` is anything but the whole
    /// leftmost host label or the whole port, or when nothing but `*` is
    /// left of the host (`https://*` would allow every site: use
    /// `allow_all_origins` if that is really meant).
    pub fn parse(input: &str) -> Result<Self, OriginError> {
        let raw = RawOrigin::split(input)?;
        let wildcard_error = |help: &str| {
            Err(OriginError::new(
                input,
                OriginProblem::Wildcard,
                help.to_owned(),
            ))
        };
        if raw.scheme.contains('*') {
            return wildcard_error("write one pattern per scheme, e.g. `https://*.example.com`");
        }
        let (subdomains, host) = match raw.host.strip_prefix("*.") {
            Some(suffix) => (true, suffix),
            None => (false, raw.host),
        };
        if host.contains('*') || raw.host == "*" {
            return wildcard_error(
                "a `*` is allowed only as a whole leftmost label, e.g. `https://*.example.com`; \
                 to allow every origin set `allow_all_origins` instead",
            );
        }
        if !host.contains('.') && subdomains && host != "localhost" {
            return wildcard_error(
                "a pattern needs a registrable domain after `*.`, e.g. `https://*.example.com`",
            );
        }
        let any_port = raw.port == Some("*");
        // Normalise the host (and a concrete port) through the same path as a
        // plain origin, so IDN, case and default ports behave identically.
        let concrete_port = if any_port { None } else { raw.port };
        let normal = normalise(
            input,
            &RawOrigin {
                scheme: raw.scheme,
                host,
                port: concrete_port,
            },
        )?;
        let (scheme, rest) = normal.split_once("://").unwrap_or((&normal, ""));
        let (host, port) = super::split_host_port(rest);
        if subdomains && (host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok()) {
            return wildcard_error("an IP address has no subdomains: list the origin itself");
        }
        if !subdomains && !any_port {
            return wildcard_error("write a `*` as the leftmost host label or as the port");
        }
        let port = match (any_port, port) {
            (true, _) => PortPattern::Any,
            (false, Some(p)) => PortPattern::Exact(p.into()),
            (false, None) => PortPattern::Default,
        };
        let host = if subdomains {
            HostPattern::Subdomains(format!(".{host}").into())
        } else {
            HostPattern::Exact(host.into())
        };
        Ok(Self {
            text: input.into(),
            scheme: scheme.into(),
            host,
            port,
        })
    }

    /// Whether a request's `Origin` value matches. Anything that is not a
    /// serialized origin never matches.
    pub fn matches(&self, origin: &str) -> bool {
        super::parse_request_origin(origin.as_bytes()).is_some_and(|o| self.matches_parts(&o))
    }

    pub(crate) fn matches_parts(&self, origin: &RequestOrigin<'_>) -> bool {
        if origin.scheme != &*self.scheme {
            return false;
        }
        let host_ok = match &self.host {
            HostPattern::Subdomains(suffix) => {
                origin.host.len() > suffix.len() && origin.host.ends_with(&**suffix)
            }
            HostPattern::Exact(host) => origin.host == &**host,
        };
        host_ok
            && match &self.port {
                PortPattern::Default => origin.port.is_none(),
                PortPattern::Exact(p) => origin.port == Some(&**p),
                PortPattern::Any => true,
            }
    }

    /// Where an index files this pattern: the parent domain of a subdomain
    /// pattern, or the host of an any-port pattern.
    pub(crate) fn host_key(&self) -> HostKey<'_> {
        match &self.host {
            HostPattern::Subdomains(suffix) => HostKey::Parent(&suffix[1..]),
            HostPattern::Exact(host) => HostKey::Host(host),
        }
    }

    /// The pattern as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme the pattern is for.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// For a subdomain pattern, the domain under which every subdomain
    /// matches (`example.com` for `https://*.example.com`).
    pub fn parent_domain(&self) -> Option<&str> {
        match &self.host {
            HostPattern::Subdomains(suffix) => Some(&suffix[1..]),
            HostPattern::Exact(_) => None,
        }
    }
}

impl fmt::Debug for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OriginPattern({})", self.text)
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> OriginPattern {
        OriginPattern::parse(s).unwrap()
    }

    #[test]
    fn subdomain_wildcard_matches_whole_labels_only() {
        let pat = p("https://*.example.com");
        for yes in [
            "https://a.example.com",
            "https://a.b.example.com",
            "https://a-b.example.com",
        ] {
            assert!(pat.matches(yes), "{yes}");
        }
        // The scanners' probes (spec/fetch-cors.md, misconfiguration classes).
        for no in [
            "https://example.com",
            "https://evilexample.com",
            "https://example.com.evil.com",
            "https://wwwaexample.com",
            "https://xample.com",
            "https://a.example.com:8443",
            "http://a.example.com",
            "https://.example.com",
            "https://a.example.com_.evil.com",
            "https://A.example.com",
            "null",
        ] {
            assert!(!pat.matches(no), "{no}");
        }
    }

    #[test]
    fn port_wildcard_matches_any_port_of_one_host() {
        let pat = p("http://localhost:*");
        assert!(pat.matches("http://localhost:5000"));
        assert!(pat.matches("http://localhost"));
        assert!(!pat.matches("http://localhost.evil.com:5000"));
        assert!(!pat.matches("https://localhost:5000"));
        let both = p("https://*.example.com:*");
        assert!(both.matches("https://a.example.com:8443"));
        let fixed = p("https://*.example.com:8443");
        assert!(fixed.matches("https://a.example.com:8443"));
        assert!(!fixed.matches("https://a.example.com"));
    }

    #[test]
    fn patterns_are_normalised_like_origins() {
        let pat = p("HTTPS://*.Bücher.Example:443");
        assert!(pat.matches("https://shop.xn--bcher-kva.example"));
        assert_eq!(pat.parent_domain(), Some("xn--bcher-kva.example"));
        assert_eq!(pat.scheme(), "https");
        assert_eq!(pat.as_str(), "HTTPS://*.Bücher.Example:443");
        // Shown as written, which is what a user recognises.
        assert_eq!(pat.to_string(), "HTTPS://*.Bücher.Example:443");
        assert_eq!(
            format!("{pat:?}"),
            "OriginPattern(HTTPS://*.Bücher.Example:443)"
        );
    }

    #[test]
    fn misplaced_wildcards_are_refused() {
        for bad in [
            "https://*",
            "https://*example.com",
            "https://a.*.example.com",
            "https://example.*",
            "*://example.com",
            "https://*.com*",
            "https://*.com",
            "https://*.127.0.0.1",
            "https://*.[::1]",
            "https://*.example.com/",
        ] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(OriginPattern::parse("https://*.localhost").is_ok());
    }
}
