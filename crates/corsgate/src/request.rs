//! [`RequestView`]: the parts of a request a CORS decision reads, borrowed.

use http::{HeaderMap, Method};

/// The parts of a request that a [`Policy`](crate::Policy) looks at: its
/// method, its path and its headers, all borrowed (nothing is copied).
///
/// ```
/// use corsgate::RequestView;
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("origin", HeaderValue::from_static("http://127.0.0.1:5000"));
/// let view = RequestView::new(&Method::GET, "/users", &headers);
/// assert_eq!(view.path(), "/users");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    method: &'a Method,
    path: &'a str,
    headers: &'a HeaderMap,
}

impl<'a> RequestView<'a> {
    /// A view of a request with this method, path (as sent: percent-encoded;
    /// anything from a `?` on is ignored) and headers.
    pub fn new(method: &'a Method, path: &'a str, headers: &'a HeaderMap) -> Self {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        Self {
            method,
            path,
            headers,
        }
    }

    /// A view of an [`http::Request`].
    pub fn from_request<B>(request: &'a http::Request<B>) -> Self {
        Self::new(request.method(), request.uri().path(), request.headers())
    }

    /// A view of a request's [`http::request::Parts`].
    pub fn from_parts(parts: &'a http::request::Parts) -> Self {
        Self::new(&parts.method, parts.uri.path(), &parts.headers)
    }

    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The path, percent-encoded as sent, without the query.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The request headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The `Origin` header as text, when there is exactly one and it is
    /// visible ASCII (what a dynamic origin check looks up).
    pub fn origin(&self) -> Option<&'a str> {
        let mut origins = self.headers.get_all(http::header::ORIGIN).iter();
        match (origins.next(), origins.next()) {
            (Some(origin), None) => origin.to_str().ok(),
            _ => None,
        }
    }

    /// Whether this is a CORS preflight as django-cors-headers defines it:
    /// method `OPTIONS` in any letter case, with an
    /// `Access-Control-Request-Method` header of any value, even empty.
    /// (A plain `OPTIONS` request is an ordinary request for the app.)
    pub fn is_preflight(&self) -> bool {
        self.is_options()
            && self
                .headers
                .contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    pub(crate) fn is_options(&self) -> bool {
        self.method.as_str().eq_ignore_ascii_case("OPTIONS")
    }
}

/// The elements of a comma-separated header list (RFC 9110 § 5.6.1:
/// `Access-Control-Request-Headers`, `Vary`, `Access-Control-Allow-*`),
/// with the spaces and tabs around each trimmed and empty elements
/// skipped. Hand-written on purpose: it runs on every preflight and every
/// `Vary` merge, and allocates nothing.
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|item| !item.is_empty())
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method};

    use super::{RequestView, list_items};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_view_borrows_method_path_and_headers() {
        let map = headers(&[("origin", "https://a.example")]);
        let view = RequestView::new(&Method::PUT, "/a%20b?x=/y", &map);
        assert_eq!(view.method(), Method::PUT);
        assert_eq!(view.path(), "/a%20b");
        assert_eq!(view.origin(), Some("https://a.example"));
        let request = http::Request::delete("/r?q").body(()).unwrap();
        let from_request = RequestView::from_request(&request);
        assert_eq!(
            (from_request.method(), from_request.path()),
            (&Method::DELETE, "/r")
        );
    }

    #[test]
    fn origin_is_the_one_visible_ascii_origin_header() {
        let two = headers(&[
            ("origin", "https://a.example"),
            ("origin", "https://b.example"),
        ]);
        assert_eq!(RequestView::new(&Method::GET, "/", &two).origin(), None);
        let mut odd = HeaderMap::new();
        odd.insert("origin", HeaderValue::from_bytes(b"https://\xff").unwrap());
        assert_eq!(RequestView::new(&Method::GET, "/", &odd).origin(), None);
        let none = HeaderMap::new();
        assert_eq!(RequestView::new(&Method::GET, "/", &none).origin(), None);
    }

    #[test]
    fn a_preflight_is_options_in_any_case_with_a_request_method() {
        let asks = headers(&[("access-control-request-method", "")]);
        let lower = Method::from_bytes(b"options").unwrap();
        assert!(RequestView::new(&Method::OPTIONS, "/", &asks).is_preflight());
        assert!(RequestView::new(&lower, "/", &asks).is_preflight());
        assert!(!RequestView::new(&Method::GET, "/", &asks).is_preflight());
        let plain = HeaderMap::new();
        assert!(!RequestView::new(&Method::OPTIONS, "/", &plain).is_preflight());
        assert!(RequestView::new(&Method::OPTIONS, "/", &plain).is_options());
    }

    #[test]
    fn list_items_are_trimmed_and_empty_ones_skipped() {
        let items: Vec<&[u8]> = list_items(b" a ,\tb,, ,c\t").collect();
        assert_eq!(items, [&b"a"[..], b"b", b"c"]);
        assert_eq!(list_items(b"").count(), 0);
    }
}
