//! Upstreams by path prefix, and what a proxy changes in forwarded headers.

use http::header::{self, GetAll, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, Uri};

/// One upstream: where requests under `prefix` go.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub(crate) prefix: String,
    pub(crate) authority: Authority,
    /// `https://`: TLS to the upstream, SNI and certificate check by its host.
    pub(crate) tls: bool,
    pub(crate) display: String,
    /// The `Host` header for it: its authority, made once.
    pub(crate) host: HeaderValue,
    /// Which kept upstream connections it can use: upstreams with the same
    /// scheme and authority share one key (a number compares faster than an
    /// authority, which compares without case).
    pub(crate) key: usize,
}

/// The upstreams, longest prefix first.
#[derive(Debug, Clone)]
pub(crate) struct Upstreams(Vec<Upstream>);

impl Upstreams {
    /// Parses `--upstream` values: `http(s)://HOST:PORT` or `/PREFIX=URL`.
    pub(crate) fn parse(values: &[String]) -> Result<Self, Vec<String>> {
        let mut upstreams = Vec::new();
        let mut errors = Vec::new();
        for value in values {
            let (prefix, url) = match value.split_once('=') {
                Some((prefix, url)) if prefix.starts_with('/') => (prefix.to_owned(), url),
                _ => ("/".to_owned(), value.as_str()),
            };
            let parsed = parse_url(url).and_then(|(tls, authority)| {
                // An authority's characters are all allowed in a header value.
                HeaderValue::from_str(authority.as_str())
                    .map(|host| (tls, authority, host))
                    .map_err(|_| "its host and port cannot be a `Host` header".to_owned())
            });
            match parsed {
                Ok((tls, authority, host)) => {
                    if upstreams.iter().any(|u: &Upstream| u.prefix == prefix) {
                        errors.push(format!(
                            "`--upstream {value}`: the prefix `{prefix}` is given twice"
                        ));
                    }
                    upstreams.push(Upstream {
                        prefix,
                        display: format!("{}://{authority}", if tls { "https" } else { "http" }),
                        authority,
                        tls,
                        host,
                        key: 0,
                    });
                }
                Err(problem) => errors.push(format!("`--upstream {value}`: {problem}")),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        upstreams.sort_by_key(|u| std::cmp::Reverse(u.prefix.len()));
        // The key: the place of the first upstream at the same address.
        for at in 0..upstreams.len() {
            let this = &upstreams[at];
            upstreams[at].key = upstreams
                .iter()
                .position(|u| u.tls == this.tls && u.authority == this.authority)
                .unwrap_or(at);
        }
        Ok(Self(upstreams))
    }

    /// The upstream for a path: the longest prefix that matches on a
    /// segment boundary (`/auth` covers `/auth` and `/auth/x`, not `/author`).
    pub(crate) fn route(&self, path: &str) -> Option<&Upstream> {
        self.0.iter().find(|u| {
            let p = u.prefix.trim_end_matches('/');
            p.is_empty()
                || path == p
                || path
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Upstream> {
        self.0.iter()
    }
}

/// An upstream URL: whether it is https, and its authority.
fn parse_url(url: &str) -> Result<(bool, Authority), String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("not a URL ({e})\n  help: write e.g. `http://127.0.0.1:8000`"))?;
    let (tls, scheme) = match uri.scheme_str() {
        Some("http") => (false, "http"),
        Some("https") => (true, "https"),
        _ => {
            return Err("the URL must start with `http://` or `https://`\n  help: write e.g. `http://127.0.0.1:8000`"
                .into());
        }
    };
    if uri.path() != "/" || uri.query().is_some() {
        return Err(format!(
            "an upstream is only `{scheme}://host:port`, paths are forwarded unchanged\n  help: write `{scheme}://{}`",
            uri.authority().map_or("", Authority::as_str)
        ));
    }
    let authority = uri.authority().cloned().ok_or_else(|| {
        "the URL has no host\n  help: write e.g. `http://127.0.0.1:8000`".to_owned()
    })?;
    Ok((tls, authority))
}

/// Whether a header is hop-by-hop (RFC 9110 § 7.6.1): it describes one
/// connection and is not forwarded. (`Upgrade` is handled apart.)
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
    )
}

/// Removes hop-by-hop headers, and those the `Connection` header names.
/// `Upgrade` is removed too unless `keep_upgrade` (a WebSocket handshake).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Runs twice per proxied request, so the usual message costs one pass
    // over the names present and nothing allocated. The `Connection`
    // header's tokens are read once: the usual ones (`keep-alive`, `close`,
    // `upgrade`) name no header that is not already handled but one
    // called `close`; only other tokens are compared with each name. When
    // no header is doomed but `Connection` itself (`Connection:
    // keep-alive`, the usual case), it is removed by name; only when more
    // must go are their names collected.
    let connection = headers.get_all(header::CONNECTION);
    let has_connection = connection.iter().next().is_some();
    let tokens = || connection_tokens(&connection);
    let usual = tokens().all(|token| {
        [&b"keep-alive"[..], b"close", b"upgrade"]
            .iter()
            .any(|usual| token.eq_ignore_ascii_case(usual))
    });
    let listed = |name: &HeaderName| {
        if usual {
            name.as_str() == "close"
        } else {
            tokens().any(|token| token.eq_ignore_ascii_case(name.as_str().as_bytes()))
        }
    };
    let mut upgrade_present = false;
    let mut others = false;
    for name in headers.keys() {
        if name == header::UPGRADE {
            upgrade_present = true;
        } else if name != header::CONNECTION && (is_hop_by_hop(name) || listed(name)) {
            others = true;
        }
    }
    if others {
        let doomed: Vec<HeaderName> = headers
            .keys()
            .filter(|&name| name != header::UPGRADE && (is_hop_by_hop(name) || listed(name)))
            .cloned()
            .collect();
        for name in &doomed {
            headers.remove(name);
        }
    } else if has_connection {
        headers.remove(header::CONNECTION);
    }
    if upgrade_present {
        let upgrade = headers.remove(header::UPGRADE);
        if keep_upgrade && let Some(upgrade) = upgrade {
            headers.insert(header::UPGRADE, upgrade);
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        }
    }
}

/// Whether a request asks to switch protocols (a WebSocket handshake).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && connection_tokens(&headers.get_all(header::CONNECTION))
            .any(|t| t.eq_ignore_ascii_case(b"upgrade"))
}

/// The `Connection` header's tokens, trimmed, over all its lines (`values`:
/// its lines, looked up once by the caller), as bytes: a line with a token
/// that is not text still names its other headers.
fn connection_tokens<'a>(values: &GetAll<'a, HeaderValue>) -> impl Iterator<Item = &'a [u8]> {
    values
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_on_a_segment_boundary_wins() {
        let ups = Upstreams::parse(&[
            "http://127.0.0.1:8000".into(),
            "/auth=http://127.0.0.1:9000".into(),
        ])
        .unwrap();
        let to = |p: &str| ups.route(p).unwrap().display.clone();
        assert_eq!(to("/auth"), "http://127.0.0.1:9000");
        assert_eq!(to("/auth/login"), "http://127.0.0.1:9000");
        assert_eq!(to("/author"), "http://127.0.0.1:8000");
        assert_eq!(to("/"), "http://127.0.0.1:8000");
        let only = Upstreams::parse(&["/api=http://127.0.0.1:8000".into()]).unwrap();
        assert!(only.route("/static/x").is_none());
    }

    #[test]
    fn bad_upstreams_are_explained() {
        let errors = Upstreams::parse(&[
            "ftp://api.example.com".into(),
            "127.0.0.1:8000".into(),
            "http://127.0.0.1:8000/api".into(),
            "http://127.0.0.1:8000".into(),
            "/=http://127.0.0.1:8001".into(),
            "/b=https://api.example.com/v1".into(),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].contains("must start with `http://` or `https://`"));
        assert!(errors[1].contains("must start with `http://`"));
        assert!(errors[2].contains("write `http://127.0.0.1:8000`"));
        assert!(errors[3].contains("the prefix `/` is given twice"));
        assert!(
            errors[4].contains("write `https://api.example.com`"),
            "{}",
            errors[4]
        );
    }

    #[test]
    fn https_upstreams_keep_their_scheme() {
        let ups = Upstreams::parse(&[
            "https://api.example.com".into(),
            "/local=http://127.0.0.1:8000".into(),
        ])
        .unwrap();
        let api = ups.route("/users").unwrap();
        assert!(api.tls);
        assert_eq!(api.display, "https://api.example.com");
        assert_eq!(api.authority.as_str(), "api.example.com");
        let local = ups.route("/local/x").unwrap();
        assert!(!local.tls);
        assert_eq!(local.display, "http://127.0.0.1:8000");
    }

    #[test]
    fn upstreams_at_one_address_share_their_connections_key() {
        let ups = Upstreams::parse(&[
            "http://127.0.0.1:8000".into(),
            "/auth=http://127.0.0.1:9000".into(),
            "/api=http://LOCALHOST:8000".into(),
            "/v2=http://localhost:8000".into(),
            "/tls=https://localhost:8000".into(),
            "/admin=http://127.0.0.1:8000".into(),
        ])
        .unwrap();
        let key = |path: &str| ups.route(path).unwrap().key;
        assert_eq!(key("/admin"), key("/"));
        assert_eq!(key("/api"), key("/v2"));
        let distinct = [key("/"), key("/auth"), key("/api"), key("/tls")];
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                assert_ne!(a, b, "{distinct:?}");
            }
        }
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.append("connection", HeaderValue::from_static(" X-Other ,close"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("x-other", HeaderValue::from_static("1"));
        h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        h.insert("proxy-authenticate", HeaderValue::from_static("Basic"));
        h.insert("trailer", HeaderValue::from_static("x-sum"));
        h.insert(
            "x-connection",
            HeaderValue::from_static("kept: not hop-by-hop"),
        );
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h, false);
        let mut kept = h.keys().map(HeaderName::as_str).collect::<Vec<_>>();
        kept.sort_unstable();
        assert_eq!(kept, ["x-connection", "x-kept"]);
        // Without `Connection`: each hop-by-hop header present still goes;
        // a message with none is left as it was.
        let mut bare = HeaderMap::new();
        bare.insert("te", HeaderValue::from_static("trailers"));
        bare.insert("upgrade", HeaderValue::from_static("h2c"));
        bare.insert("proxy-authorization", HeaderValue::from_static("x"));
        bare.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut bare, false);
        assert_eq!(
            bare.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["x-kept"]
        );
        let mut none = HeaderMap::new();
        none.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut none, true);
        assert_eq!(none.len(), 1);
        // The usual message: `Connection` alone goes, every line of it.
        let mut usual = HeaderMap::new();
        usual.insert("connection", HeaderValue::from_static("keep-alive"));
        usual.append("connection", HeaderValue::from_static("close"));
        usual.insert("x-kept", HeaderValue::from_static("1"));
        usual.insert("content-type", HeaderValue::from_static("text/plain"));
        strip_hop_by_hop(&mut usual, false);
        let mut kept = usual.keys().map(HeaderName::as_str).collect::<Vec<_>>();
        kept.sort_unstable();
        assert_eq!(kept, ["content-type", "x-kept"]);
        // `close` names a header too, if one has that name.
        let mut close = HeaderMap::new();
        close.insert("connection", HeaderValue::from_static("Close"));
        close.insert("close", HeaderValue::from_static("1"));
        close.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut close, false);
        assert_eq!(
            close.keys().map(HeaderName::as_str).collect::<Vec<_>>(),
            ["x-kept"]
        );
        // A header `Connection` names goes even when nothing else marks it.
        let mut named = HeaderMap::new();
        named.insert("connection", HeaderValue::from_static("X-Kept"));
        named.insert("x-kept", HeaderValue::from_static("1"));
        named.insert("upgrade", HeaderValue::from_static("h2c"));
        strip_hop_by_hop(&mut named, false);
        assert!(named.is_empty(), "{named:?}");

        let mut ws = HeaderMap::new();
        ws.insert("connection", HeaderValue::from_static("Upgrade"));
        ws.insert("upgrade", HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&ws));
        // A line with a token that is not text still says what else it says.
        let mut mixed = ws.clone();
        mixed.insert(
            "connection",
            HeaderValue::from_bytes(b"Upgrade, caf\xc3\xa9").unwrap(),
        );
        assert!(is_upgrade(&mixed));
        strip_hop_by_hop(&mut ws, true);
        assert_eq!(ws["upgrade"], "websocket");
        assert_eq!(ws["connection"], "upgrade");
    }
}
