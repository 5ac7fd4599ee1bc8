//! [`RequestView`]: the parts of a request a CORS decision reads, borrowed.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::decision::REQUEST_HEADERS;

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
    headers: Source<'a>,
}

/// Where a view's headers live: an [`http::HeaderMap`], or (the actix-web
/// adapter) actix's own map, read in place instead of copied.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Http(&'a HeaderMap),
    #[cfg(feature = "actix")]
    Actix(&'a actix_web::http::header::HeaderMap),
}

/// One of the request headers a policy reads ([`REQUEST_HEADERS`], in
/// that order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    Origin,
    Method,
    Headers,
    PrivateNetwork,
}

impl Asked {
    const NAMES: [HeaderName; 4] = REQUEST_HEADERS;

    fn name(self) -> &'static HeaderName {
        static NAMES: [HeaderName; 4] = Asked::NAMES;
        &NAMES[self as usize]
    }

    #[cfg(feature = "actix")]
    fn actix_name(self) -> &'static actix_web::http::header::HeaderName {
        use actix_web::http::header::{self as actix, HeaderName};
        static NAMES: [HeaderName; 4] = [
            actix::ORIGIN,
            actix::ACCESS_CONTROL_REQUEST_METHOD,
            actix::ACCESS_CONTROL_REQUEST_HEADERS,
            HeaderName::from_static("access-control-request-private-network"),
        ];
        &NAMES[self as usize]
    }
}

/// One value of a request header, wherever it lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueRef<'a> {
    Http(&'a HeaderValue),
    #[cfg(feature = "actix")]
    Actix(&'a actix_web::http::header::HeaderValue),
}

impl<'a> ValueRef<'a> {
    pub(crate) fn as_bytes(self) -> &'a [u8] {
        match self {
            ValueRef::Http(value) => value.as_bytes(),
            #[cfg(feature = "actix")]
            ValueRef::Actix(value) => value.as_bytes(),
        }
    }

    /// The value as an [`HeaderValue`] to echo: shared (no copy) when it
    /// already is one.
    pub(crate) fn to_value(self) -> HeaderValue {
        match self {
            ValueRef::Http(value) => value.clone(),
            // Any byte actix accepted in a value, `http` 1 accepts too.
            #[cfg(feature = "actix")]
            ValueRef::Actix(value) => HeaderValue::from_bytes(value.as_bytes())
                .unwrap_or_else(|_| HeaderValue::from_static("")),
        }
    }
}

/// The values of one request header, in order.
pub(crate) enum ValueRefs<'a> {
    /// None or one value, found by [`Found::scan`].
    One(Option<ValueRef<'a>>),
    Http(http::header::ValueIter<'a, HeaderValue>),
    #[cfg(feature = "actix")]
    Actix(std::slice::Iter<'a, actix_web::http::header::HeaderValue>),
}

impl<'a> Iterator for ValueRefs<'a> {
    type Item = ValueRef<'a>;

    fn next(&mut self) -> Option<ValueRef<'a>> {
        match self {
            ValueRefs::One(value) => value.take(),
            ValueRefs::Http(values) => values.next().map(ValueRef::Http),
            #[cfg(feature = "actix")]
            ValueRefs::Actix(values) => values.next().map(ValueRef::Actix),
        }
    }
}

impl<'a> RequestView<'a> {
    /// A view of a request with this method, path (as sent: percent-encoded;
    /// anything from a `?` on is ignored) and headers.
    pub fn new(method: &'a Method, path: &'a str, headers: &'a HeaderMap) -> Self {
        Self::with_source(method, path, Source::Http(headers))
    }

    fn with_source(method: &'a Method, path: &'a str, headers: Source<'a>) -> Self {
        // A byte search: shorter than `split_once`'s for a path of a few bytes.
        let path = path
            .bytes()
            .position(|b| b == b'?')
            .map_or(path, |at| &path[..at]);
        Self {
            method,
            path,
            headers,
        }
    }

    /// A view reading actix-web's header map in place (the actix adapter).
    /// [`headers`](Self::headers) is then empty: the adapter builds an
    /// `http` map instead when an origin check, which may read any header,
    /// is configured.
    #[cfg(feature = "actix")]
    pub(crate) fn actix(
        method: &'a Method,
        path: &'a str,
        headers: &'a actix_web::http::header::HeaderMap,
    ) -> Self {
        Self::with_source(method, path, Source::Actix(headers))
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
        match self.headers {
            Source::Http(headers) => headers,
            #[cfg(feature = "actix")]
            Source::Actix(_) => {
                static EMPTY: std::sync::LazyLock<HeaderMap> =
                    std::sync::LazyLock::new(HeaderMap::new);
                &EMPTY
            }
        }
    }

    /// The CORS request headers, to read for one decision: an `OPTIONS`
    /// request's (a preflight reads all four) found by one pass over its
    /// map, any other's (which reads only `Origin`) by a hashed lookup.
    #[inline]
    pub(crate) fn cors_headers(&self) -> CorsHeaders<'a> {
        let options = self.is_options();
        // actix's map is not passed over: its lookups are cheap (a fast
        // hash) and its iteration is not (+30 on a preflight, +900 with a
        // browser's headers, measured).
        let found = match self.headers {
            Source::Http(headers) if options => Found::scan(headers),
            _ => None,
        };
        CorsHeaders {
            source: self.headers,
            options,
            found,
        }
    }

    /// The `Origin` header as text, when there is exactly one and it is
    /// visible ASCII (what a dynamic origin check looks up).
    pub fn origin(&self) -> Option<&'a str> {
        let mut origins = lookup(self.headers, Asked::Origin);
        match (origins.next(), origins.next()) {
            // Visible ASCII (and tab), as `HeaderValue::to_str` accepts.
            (Some(origin), None) => {
                let bytes = origin.as_bytes();
                let visible = bytes
                    .iter()
                    .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
                visible.then(|| std::str::from_utf8(bytes).ok()).flatten()
            }
            _ => None,
        }
    }

    /// Whether this is a CORS preflight as django-cors-headers defines it:
    /// method `OPTIONS` in any letter case, with an
    /// `Access-Control-Request-Method` header of any value, even empty.
    /// (A plain `OPTIONS` request is an ordinary request for the app.)
    pub fn is_preflight(&self) -> bool {
        self.is_options() && lookup(self.headers, Asked::Method).next().is_some()
    }

    pub(crate) fn is_options(&self) -> bool {
        // The usual `OPTIONS` compares as a standard method; an extension
        // method spelled in another case (`options`) by its text.
        *self.method == Method::OPTIONS || self.method.as_str().eq_ignore_ascii_case("OPTIONS")
    }
}

/// The CORS request headers as one decision reads them ([`RequestView::cors_headers`]).
#[derive(Clone, Copy)]
pub(crate) struct CorsHeaders<'a> {
    source: Source<'a>,
    options: bool,
    found: Option<Found<'a>>,
}

impl<'a> CorsHeaders<'a> {
    /// The values of one of the CORS request headers, in order.
    #[inline]
    pub(crate) fn values(&self, asked: Asked) -> ValueRefs<'a> {
        match &self.found {
            Some(found) if !found.repeated(asked) => ValueRefs::One(found.first(asked)),
            _ => lookup(self.source, asked),
        }
    }

    /// The first value of one of the CORS request headers.
    #[inline]
    pub(crate) fn first(&self, asked: Asked) -> Option<&'a [u8]> {
        self.values(asked).next().map(ValueRef::as_bytes)
    }

    /// Whether the request's method is `OPTIONS` (in any letter case).
    pub(crate) fn is_options(&self) -> bool {
        self.options
    }

    /// A preflight's `Access-Control-Request-Method`; `None` when the
    /// request is not a preflight ([`RequestView::is_preflight`]).
    #[inline]
    pub(crate) fn preflight_method(&self) -> Option<&'a [u8]> {
        if self.options {
            self.first(Asked::Method)
        } else {
            None
        }
    }
}

/// The CORS request headers of an `OPTIONS` request, found by one pass
/// over its `http` map instead of a hashed lookup each: a preflight reads
/// all four, and hashing a name costs more than comparing it with every
/// name of a small map — most of all
/// `Access-Control-Request-Private-Network`'s, hashed byte by byte
/// (docs/benchmarks.md, session 17).
#[derive(Debug, Clone, Copy)]
struct Found<'a> {
    /// The first value of each [`Asked`] header.
    first: [Option<&'a HeaderValue>; 4],
    /// The headers (a bit per [`Asked`]) sent more than once: read with
    /// `get_all`, which yields every value.
    repeated: u8,
}

impl<'a> Found<'a> {
    /// A map with more names than this is read by hashed lookups: past it,
    /// the pass costs more than the four lookups (measured, session 17).
    const MAX_NAMES: usize = 24;

    // Kept out of line: inlined, its loop made every decision's
    // `cors_headers` save and restore registers (+30 instructions a GET).
    #[inline(never)]
    fn scan(headers: &'a HeaderMap) -> Option<Self> {
        if headers.keys_len() > Self::MAX_NAMES {
            return None;
        }
        let mut found = Found {
            first: [None; 4],
            repeated: 0,
        };
        for (name, value) in headers {
            // The `const`, not `name()`'s static: known at compile time, the
            // four comparisons become constant ones (through the static:
            // +85 instructions a preflight, +420 with a browser's headers).
            if let Some(at) = Asked::NAMES.iter().position(|asked| asked == name) {
                found.record(at, value);
            }
        }
        Some(found)
    }

    fn record(&mut self, at: usize, value: &'a HeaderValue) {
        match self.first[at] {
            None => self.first[at] = Some(value),
            Some(_) => self.repeated |= 1 << at,
        }
    }

    /// Whether `asked` was sent more than once.
    fn repeated(&self, asked: Asked) -> bool {
        self.repeated & (1 << asked as u8) != 0
    }

    fn first(&self, asked: Asked) -> Option<ValueRef<'a>> {
        self.first[asked as usize].map(ValueRef::Http)
    }
}

fn lookup(source: Source<'_>, asked: Asked) -> ValueRefs<'_> {
    match source {
        Source::Http(headers) => ValueRefs::Http(headers.get_all(asked.name()).iter()),
        #[cfg(feature = "actix")]
        Source::Actix(headers) => ValueRefs::Actix(headers.get_all(asked.actix_name())),
    }
}

/// The elements of a comma-separated header list (RFC 9110 § 5.6.1:
/// `Access-Control-Request-Headers`, `Vary`, `Access-Control-Allow-*`),
/// with the spaces and tabs around each trimmed and empty elements
/// skipped. Hand-written on purpose: it runs on every preflight and every
/// `Vary` merge, and allocates nothing.
pub(crate) fn list_items(value: &[u8]) -> ListItems<'_> {
    ListItems { rest: Some(value) }
}

/// The iterator of [`list_items`], one pass over the bytes: as
/// `split(',').map(trim_ascii).filter(..)` it cost ≈ 30 instructions more
/// on a preflight's `Access-Control-Request-Headers` (docs/benchmarks.md,
/// session 17). (`memchr` costs more still on lists this short.)
pub(crate) struct ListItems<'a> {
    /// What is left after the last comma; `None` after the last element.
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for ListItems<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let rest = self.rest?;
            let item = match rest.iter().position(|&b| b == b',') {
                Some(comma) => {
                    let (item, from_comma) = rest.split_at(comma);
                    self.rest = from_comma.get(1..);
                    item
                }
                None => {
                    self.rest = None;
                    rest
                }
            };
            let item = item.trim_ascii();
            if !item.is_empty() {
                return Some(item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method};

    use proptest::prelude::*;

    use super::{Asked, Found, RequestView, Source, ValueRefs, list_items, lookup};

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
        // UTF-8, but not ASCII: not text to look up; a tab is (as `to_str`).
        let mut utf8 = HeaderMap::new();
        utf8.insert(
            "origin",
            HeaderValue::from_bytes("https://bücher.example".as_bytes()).unwrap(),
        );
        assert_eq!(RequestView::new(&Method::GET, "/", &utf8).origin(), None);
        let tab = headers(&[("origin", "https://a.example\t")]);
        assert_eq!(
            RequestView::new(&Method::GET, "/", &tab).origin(),
            Some("https://a.example\t")
        );
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
        let edges: Vec<&[u8]> = list_items(b",a,").collect();
        assert_eq!(edges, [&b"a"[..]]);
        assert_eq!(list_items(b" , ,").count(), 0);
    }

    proptest! {
        /// The hand-written iterator is the plain definition: split at
        /// every comma, trim, skip the empty.
        #[test]
        fn list_items_are_split_trimmed_and_filtered(value in "[a ,\t]{0,24}") {
            let plain: Vec<&[u8]> = value
                .as_bytes()
                .split(|&b| b == b',')
                .map(<[u8]>::trim_ascii)
                .filter(|item| !item.is_empty())
                .collect();
            prop_assert_eq!(list_items(value.as_bytes()).collect::<Vec<_>>(), plain);
        }
    }

    const ASKED: [Asked; 4] = [
        Asked::Origin,
        Asked::Method,
        Asked::Headers,
        Asked::PrivateNetwork,
    ];

    /// Names a map is built from: the four a decision reads (in two letter
    /// cases: a name is the same header either way) and others.
    const NAMES: [&str; 9] = [
        "origin",
        "Access-Control-Request-Method",
        "access-control-request-headers",
        "access-control-request-private-network",
        "ACCESS-CONTROL-REQUEST-PRIVATE-NETWORK",
        "accept",
        "user-agent",
        "x-custom",
        "access-control-request-other",
    ];

    fn read(values: super::ValueRefs<'_>) -> Vec<Vec<u8>> {
        values.map(|value| value.as_bytes().to_vec()).collect()
    }

    proptest! {
        /// A decision reads each CORS request header's values as the map
        /// holds them, in order, whether found by the one pass (an
        /// `OPTIONS` request with a small map) or by a hashed lookup: the
        /// same with a header sent twice, absent, or in a map too big for
        /// the pass.
        #[test]
        fn the_pass_reads_what_a_lookup_reads(
            pairs in proptest::collection::vec((0..NAMES.len(), "[a-z]{0,3}"), 0..40),
            extra in 0..30usize,
            options in any::<bool>(),
        ) {
            let mut map = HeaderMap::new();
            for (name, value) in &pairs {
                map.append(NAMES[*name], HeaderValue::from_str(value).unwrap());
            }
            for i in 0..extra {
                map.append(
                    http::HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
                    HeaderValue::from_static("1"),
                );
            }
            let method = if options { Method::OPTIONS } else { Method::GET };
            let view = RequestView::new(&method, "/", &map);
            let headers = view.cors_headers();
            for asked in ASKED {
                let expected: Vec<Vec<u8>> =
                    map.get_all(asked.name()).iter().map(|v| v.as_bytes().to_vec()).collect();
                prop_assert_eq!(&read(headers.values(asked)), &expected, "{:?}", asked);
                prop_assert_eq!(&read(lookup(Source::Http(&map), asked)), &expected);
                prop_assert_eq!(headers.first(asked), expected.first().map(Vec::as_slice));
            }
            let preflight = options && map.contains_key(Asked::Method.name());
            prop_assert_eq!(headers.preflight_method().is_some(), preflight);
            prop_assert_eq!(view.is_preflight(), preflight);
        }
    }

    /// The same, for fixed maps: each header once, twice, three times.
    #[test]
    fn the_pass_reads_a_repeated_header_whole() {
        let map = headers(&[
            ("origin", "https://a.example"),
            ("access-control-request-headers", "a"),
            ("origin", "https://b.example"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "b"),
            ("origin", "https://c.example"),
            ("access-control-request-private-network", "true"),
        ]);
        let view = RequestView::new(&Method::OPTIONS, "/", &map);
        let headers = view.cors_headers();
        assert!(headers.found.is_some());
        let expected: [&[&str]; 4] = [
            &[
                "https://a.example",
                "https://b.example",
                "https://c.example",
            ],
            &["PUT"],
            &["a", "b"],
            &["true"],
        ];
        for (asked, expected) in ASKED.into_iter().zip(expected) {
            let read: Vec<Vec<u8>> = read(headers.values(asked));
            let expected: Vec<Vec<u8>> = expected.iter().map(|v| v.as_bytes().to_vec()).collect();
            assert_eq!(read, expected, "{asked:?}");
        }
        assert_eq!(headers.preflight_method(), Some(&b"PUT"[..]));
    }

    #[test]
    fn the_pass_is_made_for_small_options_requests_only() {
        let mut map = headers(&[
            ("origin", "https://a.example"),
            ("access-control-request-method", "PUT"),
        ]);
        let options = RequestView::new(&Method::OPTIONS, "/", &map);
        assert!(options.cors_headers().found.is_some());
        // Read from the pass (not looked up again), unless sent twice.
        let read = options.cors_headers();
        assert!(matches!(
            read.values(Asked::Method),
            ValueRefs::One(Some(_))
        ));
        assert!(matches!(read.values(Asked::Headers), ValueRefs::One(None)));
        let twice = headers(&[
            ("origin", "https://a.example"),
            ("origin", "https://b.example"),
        ]);
        let twice = RequestView::new(&Method::OPTIONS, "/", &twice);
        assert!(matches!(
            twice.cors_headers().values(Asked::Origin),
            ValueRefs::Http(_)
        ));
        assert!(
            RequestView::new(&Method::GET, "/", &map)
                .cors_headers()
                .found
                .is_none()
        );
        for i in map.keys_len()..Found::MAX_NAMES {
            map.append(
                http::HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        let full = RequestView::new(&Method::OPTIONS, "/", &map);
        assert!(full.cors_headers().found.is_some());
        map.append("x-one-more", HeaderValue::from_static("1"));
        let over = RequestView::new(&Method::OPTIONS, "/", &map);
        assert!(over.cors_headers().found.is_none());
        assert_eq!(over.cors_headers().first(Asked::Method), Some(&b"PUT"[..]));
    }
}
