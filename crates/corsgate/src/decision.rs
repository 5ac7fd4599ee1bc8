//! [`Decision`]: what a policy decided for one request, why, and the
//! headers that follow from it.

use std::fmt;
use std::sync::Arc;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    CONTENT_LENGTH, Entry, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::request::list_items;
use crate::rule::Rule;
use crate::value::{STAR, Shared};

/// `Access-Control-Allow-Private-Network` (Private Network Access draft).
pub const ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
/// `Access-Control-Request-Private-Network` (Private Network Access draft).
pub const ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-request-private-network");

/// The request headers a [`Policy`](crate::Policy) reads (besides the method
/// and path). An adapter whose framework has its own header types copies
/// these into an [`http::HeaderMap`] for a [`RequestView`](crate::RequestView).
pub const REQUEST_HEADERS: [HeaderName; 4] = [
    http::header::ORIGIN,
    http::header::ACCESS_CONTROL_REQUEST_METHOD,
    http::header::ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK,
];

/// The response headers [`Decision::apply`] and
/// [`Decision::apply_replacing`] may write or remove. An adapter whose
/// framework has its own header types copies these into an
/// [`http::HeaderMap`], applies the decision, and copies them back.
pub const RESPONSE_HEADERS: [HeaderName; 8] = [
    VARY,
    ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_ALLOW_CREDENTIALS,
    ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_HEADERS,
    ACCESS_CONTROL_EXPOSE_HEADERS,
    ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_ALLOW_PRIVATE_NETWORK,
];

/// What kind of request the policy saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecisionKind {
    /// The path is outside every rule's `urls_regex`: the request and its
    /// response are left untouched.
    OutOfScope,
    /// A CORS preflight: the middleware answers it itself, `200` with an
    /// empty body, without calling the application.
    Preflight,
    /// Any other request in scope: the application answers and the
    /// middleware adds headers to its response.
    Actual,
}

/// Why a policy decided as it did. Adapters log it, `doctor` and `check`
/// render it, tests assert it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The path matches no rule's `urls_regex`.
    PathNotInScope,
    /// The request has no `Origin` header (or an empty one): not a CORS
    /// request. Only `Vary: Origin` is added.
    NoOrigin,
    /// The origin is listed in `allowed_origins`.
    OriginListed,
    /// The origin is `null` and `null` is listed.
    NullListed,
    /// The origin matches a pattern such as `https://*.example.com`.
    OriginMatchesPattern,
    /// The origin matches one of `allowed_origin_regexes`.
    OriginMatchesRegex,
    /// `allow_all_origins` is on.
    AllOriginsAllowed,
    /// No setting allows the origin, but the adapter's dynamic origin check
    /// ([`OriginCheck`](crate::OriginCheck)) did.
    AllowedByCheck,
    /// A well-formed origin that no setting allows.
    OriginNotAllowed,
    /// The `Origin` header is not a serialized origin (`scheme://host[:port]`
    /// or `null`) as browsers send it: never echoed.
    MalformedOrigin,
    /// More than one `Origin` header.
    MultipleOrigins,
    /// Preflight: the requested method is not in `allow_methods` (methods
    /// are case-sensitive: `patch` is not `PATCH`). The browser will block.
    MethodNotAllowed {
        /// The `Access-Control-Request-Method` value.
        method: String,
    },
    /// Preflight: a requested header is not in `allow_headers`. The browser
    /// will block.
    HeaderNotAllowed {
        /// The first requested header name that is not allowed.
        header: String,
    },
    /// Preflight: `Authorization` is requested and `allow_headers` has `*`
    /// but not `authorization`. The Fetch standard (and Firefox, Safari)
    /// block this; Chromium 156 still allows it.
    AuthorizationNotCoveredByWildcard,
    /// Preflight: the request asks for private network access and
    /// `allow_private_network` is off.
    PrivateNetworkNotAllowed,
}

impl Reason {
    /// A stable kebab-case name, for logs and JSON.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Whether a browser would let the page read the response (for
    /// [`Reason::NoOrigin`] and [`Reason::PathNotInScope`]: CORS does not apply).
    pub fn is_allowed(&self) -> bool {
        self.kind().is_allowed()
    }

    /// Which reason this is, without its details: a `Copy` key for
    /// counters and matching.
    pub fn kind(&self) -> ReasonKind {
        match self {
            Reason::PathNotInScope => ReasonKind::PathNotInScope,
            Reason::NoOrigin => ReasonKind::NoOrigin,
            Reason::OriginListed => ReasonKind::OriginListed,
            Reason::NullListed => ReasonKind::NullListed,
            Reason::OriginMatchesPattern => ReasonKind::OriginMatchesPattern,
            Reason::OriginMatchesRegex => ReasonKind::OriginMatchesRegex,
            Reason::AllOriginsAllowed => ReasonKind::AllOriginsAllowed,
            Reason::AllowedByCheck => ReasonKind::AllowedByCheck,
            Reason::OriginNotAllowed => ReasonKind::OriginNotAllowed,
            Reason::MalformedOrigin => ReasonKind::MalformedOrigin,
            Reason::MultipleOrigins => ReasonKind::MultipleOrigins,
            Reason::MethodNotAllowed { .. } => ReasonKind::MethodNotAllowed,
            Reason::HeaderNotAllowed { .. } => ReasonKind::HeaderNotAllowed,
            Reason::AuthorizationNotCoveredByWildcard => {
                ReasonKind::AuthorizationNotCoveredByWildcard
            }
            Reason::PrivateNetworkNotAllowed => ReasonKind::PrivateNetworkNotAllowed,
        }
    }
}

/// A [`Reason`] without its details (the method or header refused): a
/// small `Copy` key for counters, maps and matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReasonKind {
    /// [`Reason::PathNotInScope`].
    PathNotInScope,
    /// [`Reason::NoOrigin`].
    NoOrigin,
    /// [`Reason::OriginListed`].
    OriginListed,
    /// [`Reason::NullListed`].
    NullListed,
    /// [`Reason::OriginMatchesPattern`].
    OriginMatchesPattern,
    /// [`Reason::OriginMatchesRegex`].
    OriginMatchesRegex,
    /// [`Reason::AllOriginsAllowed`].
    AllOriginsAllowed,
    /// [`Reason::AllowedByCheck`].
    AllowedByCheck,
    /// [`Reason::OriginNotAllowed`].
    OriginNotAllowed,
    /// [`Reason::MalformedOrigin`].
    MalformedOrigin,
    /// [`Reason::MultipleOrigins`].
    MultipleOrigins,
    /// [`Reason::MethodNotAllowed`].
    MethodNotAllowed,
    /// [`Reason::HeaderNotAllowed`].
    HeaderNotAllowed,
    /// [`Reason::AuthorizationNotCoveredByWildcard`].
    AuthorizationNotCoveredByWildcard,
    /// [`Reason::PrivateNetworkNotAllowed`].
    PrivateNetworkNotAllowed,
}

impl ReasonKind {
    /// Every kind, in a fixed order: first those that let the page read,
    /// then the refusals. (A slice, so adding a kind changes no type.)
    pub const ALL: &'static [ReasonKind] = &[
        ReasonKind::PathNotInScope,
        ReasonKind::NoOrigin,
        ReasonKind::OriginListed,
        ReasonKind::NullListed,
        ReasonKind::OriginMatchesPattern,
        ReasonKind::OriginMatchesRegex,
        ReasonKind::AllOriginsAllowed,
        ReasonKind::AllowedByCheck,
        ReasonKind::OriginNotAllowed,
        ReasonKind::MalformedOrigin,
        ReasonKind::MultipleOrigins,
        ReasonKind::MethodNotAllowed,
        ReasonKind::HeaderNotAllowed,
        ReasonKind::AuthorizationNotCoveredByWildcard,
        ReasonKind::PrivateNetworkNotAllowed,
    ];

    /// The stable kebab-case name, as [`Reason::name`].
    pub fn name(self) -> &'static str {
        match self {
            ReasonKind::PathNotInScope => "path-not-in-scope",
            ReasonKind::NoOrigin => "no-origin",
            ReasonKind::OriginListed => "origin-listed",
            ReasonKind::NullListed => "null-listed",
            ReasonKind::OriginMatchesPattern => "origin-matches-pattern",
            ReasonKind::OriginMatchesRegex => "origin-matches-regex",
            ReasonKind::AllOriginsAllowed => "all-origins-allowed",
            ReasonKind::AllowedByCheck => "allowed-by-check",
            ReasonKind::OriginNotAllowed => "origin-not-allowed",
            ReasonKind::MalformedOrigin => "malformed-origin",
            ReasonKind::MultipleOrigins => "multiple-origins",
            ReasonKind::MethodNotAllowed => "method-not-allowed",
            ReasonKind::HeaderNotAllowed => "header-not-allowed",
            ReasonKind::AuthorizationNotCoveredByWildcard => {
                "authorization-not-covered-by-wildcard"
            }
            ReasonKind::PrivateNetworkNotAllowed => "private-network-not-allowed",
        }
    }

    /// Whether a browser would let the page read the response.
    pub fn is_allowed(self) -> bool {
        matches!(
            self,
            ReasonKind::PathNotInScope
                | ReasonKind::NoOrigin
                | ReasonKind::OriginListed
                | ReasonKind::NullListed
                | ReasonKind::OriginMatchesPattern
                | ReasonKind::OriginMatchesRegex
                | ReasonKind::AllOriginsAllowed
                | ReasonKind::AllowedByCheck
        )
    }

    /// The kind named `name` ([`name`](Self::name)'s inverse).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }
}

impl fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::PathNotInScope => {
                f.write_str("the path is outside the CORS scope (`urls_regex`)")
            }
            Reason::NoOrigin => f.write_str("no `Origin` header: not a CORS request"),
            Reason::OriginListed => f.write_str("the origin is in `allowed_origins`"),
            Reason::NullListed => {
                f.write_str("the origin is `null`, which is in `allowed_origins`")
            }
            Reason::OriginMatchesPattern => {
                f.write_str("the origin matches a pattern in `allowed_origins`")
            }
            Reason::OriginMatchesRegex => {
                f.write_str("the origin matches `allowed_origin_regexes`")
            }
            Reason::AllOriginsAllowed => f.write_str("`allow_all_origins` is on"),
            Reason::AllowedByCheck => f.write_str("the dynamic origin check allowed the origin"),
            Reason::OriginNotAllowed => f.write_str("the origin is not allowed"),
            Reason::MalformedOrigin => {
                f.write_str("the `Origin` header is not a serialized origin")
            }
            Reason::MultipleOrigins => f.write_str("the request has several `Origin` headers"),
            Reason::MethodNotAllowed { method } => {
                write!(f, "method `{method}` is not in `allow_methods`")
            }
            Reason::HeaderNotAllowed { header } => {
                write!(f, "request header `{header}` is not in `allow_headers`")
            }
            Reason::AuthorizationNotCoveredByWildcard => f.write_str(
                "`authorization` must be listed in `allow_headers`: `*` does not cover it",
            ),
            Reason::PrivateNetworkNotAllowed => {
                f.write_str("private network access is not allowed")
            }
        }
    }
}

/// The grant of an allowed origin: what to write.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) rule: Arc<Rule>,
    pub(crate) origin: AllowOrigin,
}

/// What a grant's `Access-Control-Allow-Origin` holds.
#[derive(Debug, Clone)]
pub(crate) enum AllowOrigin {
    Star,
    /// A listed origin, by its value's place in the rule's matcher
    /// ([`OriginMatcher::listed`](crate::origin::OriginMatcher)).
    Listed(usize),
    /// The request's own `Origin` (a pattern, a regex, `null` listed).
    Echoed(HeaderValue),
}

impl Grant {
    /// The `Access-Control-Allow-Origin` value, to write into any map.
    fn origin(&self) -> Value<'_> {
        match &self.origin {
            AllowOrigin::Star => Value::Shared(&STAR),
            AllowOrigin::Listed(at) => Value::Shared(&self.rule.origins.listed[*at]),
            AllowOrigin::Echoed(value) => Value::Echoed(value),
        }
    }
}

/// What a [`Policy`](crate::Policy) decided for one request.
///
/// An adapter answers a [preflight](Self::is_preflight) itself with
/// [`preflight_response`](Self::preflight_response); for any other request
/// it calls the application and then [`apply`](Self::apply)s the decision to
/// the response's headers. [`reason`](Self::reason) says why.
///
/// A `Decision` owns what it needs (reference-counted header values and
/// rule), so it can outlive the request and be applied after the
/// application answered.
#[derive(Debug, Clone)]
pub struct Decision {
    pub(crate) kind: DecisionKind,
    pub(crate) reason: Reason,
    /// Whether `is_options`: django adds the preflight headers to every
    /// `OPTIONS` response from an allowed origin.
    pub(crate) options: bool,
    /// With a grant: whether it answers a private network request. (Here
    /// rather than in the grant, beside the other flags: the decision
    /// stays small, 88 bytes, moved inline rather than by `memcpy` calls.)
    pub(crate) private_network: bool,
    pub(crate) grant: Option<Grant>,
}

impl Decision {
    /// A decision that changes nothing: not a preflight, and
    /// [`apply`](Self::apply) and [`apply_replacing`](Self::apply_replacing)
    /// leave the headers alone. What an adapter applies in
    /// [report-only mode](crate::Config::report_only), after counting the
    /// real decision.
    pub fn untouched() -> Self {
        Decision {
            kind: DecisionKind::OutOfScope,
            reason: Reason::PathNotInScope,
            options: false,
            private_network: false,
            grant: None,
        }
    }

    /// What kind of request this was.
    pub fn kind(&self) -> DecisionKind {
        self.kind
    }

    /// Whether the adapter must answer the request itself (with
    /// [`preflight_response`](Self::preflight_response)) instead of calling
    /// the application.
    pub fn is_preflight(&self) -> bool {
        self.kind == DecisionKind::Preflight
    }

    /// Whether a browser would let the page proceed, as far as this
    /// response can tell. `true` also when CORS does not apply.
    pub fn is_allowed(&self) -> bool {
        self.reason.is_allowed()
    }

    /// Whether the origin was allowed, so CORS headers are written. (A
    /// preflight can have an allowed origin and still fail in the browser,
    /// for a method or header: see [`reason`](Self::reason).)
    pub fn origin_allowed(&self) -> bool {
        self.grant.is_some()
    }

    /// Why.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// Writes this decision's headers into a response's headers, in place:
    /// `Vary: Origin` (merged with an existing `Vary`, unless that is `*`)
    /// for every request in scope, and for an allowed origin
    /// `Access-Control-Allow-Origin`, `-Allow-Credentials`, `-Expose-Headers`,
    /// and on `OPTIONS` also `-Allow-Methods`, `-Allow-Headers`, `-Max-Age`.
    /// Values the application set for these headers are replaced.
    ///
    /// Allocates nothing: every value was built when the policy was compiled.
    pub fn apply(&self, headers: &mut HeaderMap) {
        self.write(headers);
    }

    /// [`apply`](Self::apply) into any framework's header map.
    pub(crate) fn write(&self, headers: &mut impl ResponseHeaders) {
        if self.kind == DecisionKind::OutOfScope {
            return;
        }
        headers.vary_by_origin();
        self.write_grant(headers);
    }

    /// [`write`](Self::write) into a map the adapter built for this answer
    /// (a preflight's): it holds no `Vary` to merge with, so none is
    /// looked for.
    #[cfg(feature = "actix")]
    pub(crate) fn write_new(&self, headers: &mut impl ResponseHeaders) {
        if self.kind == DecisionKind::OutOfScope {
            return;
        }
        headers.append_vary_origin();
        self.write_grant(headers);
    }

    fn write_grant(&self, headers: &mut impl ResponseHeaders) {
        let Some(grant) = &self.grant else { return };
        write_granted(
            headers,
            &grant.rule,
            grant.origin(),
            self.options,
            self.private_network,
        );
    }

    /// Like [`apply`](Self::apply), but first removes every CORS response
    /// header the application sent (`Access-Control-Allow-*`,
    /// `-Expose-Headers`, `-Max-Age`), so only the policy's answer reaches
    /// the browser — which rejects two `Access-Control-Allow-Origin` values.
    /// For a proxy, which owns CORS for an upstream it does not control.
    /// A request outside the scope is left untouched, as with `apply`.
    ///
    /// ```
    /// use corsgate::{Config, RequestView};
    /// use http::{HeaderMap, HeaderValue, Method};
    ///
    /// let policy = Config::builder().allowed_origins(["https://app.example"]).compile()?;
    /// let mut request = HeaderMap::new();
    /// request.insert("origin", HeaderValue::from_static("https://evil.example"));
    /// let decision = policy.decide(&RequestView::new(&Method::GET, "/", &request));
    ///
    /// let mut upstream = HeaderMap::new();
    /// upstream.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    /// decision.apply_replacing(&mut upstream);
    /// assert!(upstream.get("access-control-allow-origin").is_none());
    /// # Ok::<(), corsgate::ConfigErrors>(())
    /// ```
    pub fn apply_replacing(&self, headers: &mut HeaderMap) {
        self.write_replacing(headers);
    }

    /// [`apply_replacing`](Self::apply_replacing) into any framework's
    /// header map.
    pub(crate) fn write_replacing(&self, headers: &mut impl ResponseHeaders) {
        if self.kind == DecisionKind::OutOfScope {
            return;
        }
        headers.remove_cors();
        self.write(headers);
    }

    /// The answer to a preflight, as django-cors-headers gives it: `200 OK`,
    /// `Content-Length: 0`, an empty body, and this decision's headers —
    /// whatever the route would have answered. For a decision that is not a
    /// preflight the same response is built; callers check
    /// [`is_preflight`](Self::is_preflight) first.
    pub fn preflight_response<B: Default>(&self) -> http::Response<B> {
        let mut response = http::Response::new(B::default());
        *response.status_mut() = StatusCode::OK;
        let headers = match &self.grant {
            // The usual answer: the rule's headers, made when the policy was
            // compiled, cloned (one exact-size copy of the map, where
            // building it grew a map and hashed every name: about 2,000
            // instructions, docs/benchmarks.md), with the request's origin.
            Some(grant) if self.options => {
                let mut headers = grant.rule.preflight_headers(self.private_network).clone();
                // The template holds `Access-Control-Allow-Origin` (third of
                // its fields): its value replaced where it stands,
                // without hashing the name as `insert` would.
                if let Some((_, value)) = headers
                    .iter_mut()
                    .find(|(name, _)| *name == ACCESS_CONTROL_ALLOW_ORIGIN)
                {
                    *value = grant.origin().to_http();
                }
                headers
            }
            _ => {
                let mut headers = HeaderMap::with_capacity(2);
                headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
                self.apply(&mut headers);
                headers
            }
        };
        // `Response::new`'s map is `HeaderMap::new()`, which never
        // allocates (its documentation promises it): forgotten, it leaks
        // nothing, and the drop it would need is saved (≈ 50 instructions,
        // 2% of the layer's preflight; docs/benchmarks.md, session 22).
        let empty = std::mem::replace(response.headers_mut(), headers);
        debug_assert_eq!(empty.capacity(), 0);
        std::mem::forget(empty);
        response
    }
}

/// A preflight answer's headers for an origin `rule` allows, with `*` in
/// `Access-Control-Allow-Origin` for the request's origin to replace:
/// exactly what [`Decision::apply`] writes into a map holding
/// `Content-Length: 0`, in the same order. Built once per rule.
pub(crate) fn preflight_template(rule: &Rule, private_network: bool) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(RESPONSE_HEADERS.len() + 1);
    headers.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.append_vary_origin();
    write_granted(
        &mut headers,
        rule,
        Value::Shared(&STAR),
        true,
        private_network,
    );
    headers
}

/// The headers an allowed origin gets under `rule` (after `Vary`), with
/// `origin` in `Access-Control-Allow-Origin`; the preflight ones on
/// `OPTIONS`.
fn write_granted(
    headers: &mut impl ResponseHeaders,
    rule: &Rule,
    origin: Value<'_>,
    options: bool,
    private_network: bool,
) {
    headers.set(Field::AllowOrigin, origin);
    if rule.allow_credentials {
        headers.set(Field::AllowCredentials, Value::True);
    } else if rule.answers_wildcard() {
        // Deviation (docs/django-compat.md): never leave `*` beside an
        // application's own `Access-Control-Allow-Credentials: true`.
        headers.remove(Field::AllowCredentials);
    }
    if let Some(expose) = &rule.expose {
        headers.set(Field::ExposeHeaders, Value::Shared(expose));
    }
    if options {
        headers.set(Field::AllowHeaders, Value::Shared(&rule.allow_headers));
        headers.set(Field::AllowMethods, Value::Shared(&rule.allow_methods));
        if let Some(max_age) = &rule.max_age {
            headers.set(Field::MaxAge, Value::Shared(max_age));
        }
    }
    if private_network {
        headers.set(Field::AllowPrivateNetwork, Value::True);
    }
}

/// One of the response headers a decision writes ([`RESPONSE_HEADERS`],
/// in that order), so an adapter can map it to its framework's own
/// header name once, without parsing a name per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Vary,
    AllowOrigin,
    AllowCredentials,
    AllowMethods,
    AllowHeaders,
    ExposeHeaders,
    MaxAge,
    AllowPrivateNetwork,
}

impl Field {
    /// Every field, in [`RESPONSE_HEADERS`]' order.
    pub(crate) const ALL: [Field; 8] = [
        Field::Vary,
        Field::AllowOrigin,
        Field::AllowCredentials,
        Field::AllowMethods,
        Field::AllowHeaders,
        Field::ExposeHeaders,
        Field::MaxAge,
        Field::AllowPrivateNetwork,
    ];

    /// The header's name as `http` spells it.
    pub(crate) fn name(self) -> &'static HeaderName {
        static NAMES: [HeaderName; 8] = RESPONSE_HEADERS;
        &NAMES[self as usize]
    }
}

/// A value a decision writes: `true`, one built when the policy was
/// compiled (`*` and a listed origin among them), or the request's own
/// `Origin`, echoed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    True,
    Shared(&'a Shared),
    /// An origin echoed from the request.
    Echoed(&'a HeaderValue),
}

impl Value<'_> {
    /// The value as `http` 1's: a reference count, not a copy. (Inlined:
    /// called out of line, a preflight cost 16 instructions more, measured.)
    #[inline]
    fn to_http(self) -> HeaderValue {
        match self {
            Value::True => HeaderValue::from_static("true"),
            Value::Shared(value) => value.http().clone(),
            Value::Echoed(value) => value.clone(),
        }
    }
}

/// A response's headers as a decision writes them: [`http::HeaderMap`], or
/// a framework's own map (actix-web's, on `http` 0.2), written directly.
pub(crate) trait ResponseHeaders {
    /// Whether `Vary` already names `Origin`, or is `*` (django's
    /// `patch_vary_headers` then adds nothing).
    fn varies_by_origin(&self) -> bool;
    /// Adds a `Vary: Origin` line. A new line rather than the existing one
    /// rewritten: equivalent (RFC 9110 § 5.3), and it allocates nothing.
    fn append_vary_origin(&mut self);
    /// Adds a `Vary: Origin` line unless [`varies_by_origin`](Self::varies_by_origin).
    /// A map with an entry API does it with one lookup of `Vary`.
    fn vary_by_origin(&mut self) {
        if !self.varies_by_origin() {
            self.append_vary_origin();
        }
    }
    /// Replaces every value of `field` with `value`.
    fn set(&mut self, field: Field, value: Value<'_>);
    fn remove(&mut self, field: Field);
    /// Removes every CORS response header but `Vary` (which is merged, not
    /// replaced). The usual response has none, and one pass over the names
    /// present costs less than looking each field up (seven hashes): the
    /// implementations look only if one is there.
    fn remove_cors(&mut self);
}

/// What every CORS response header's name starts with (all but `Vary`).
pub(crate) const CORS_PREFIX: &str = "access-control-";

/// Whether `Vary` values name `Origin` or `*`, for any header map.
pub(crate) fn vary_names_origin<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    values.into_iter().any(|value| {
        list_items(value).any(|token| token == b"*" || token.eq_ignore_ascii_case(b"origin"))
    })
}

impl ResponseHeaders for HeaderMap {
    fn varies_by_origin(&self) -> bool {
        vary_names_origin(self.get_all(VARY).iter().map(HeaderValue::as_bytes))
    }

    fn append_vary_origin(&mut self) {
        self.append(VARY, HeaderValue::from_static("Origin"));
    }

    /// One lookup of `Vary` where looking, then appending, took two: ≈ 30
    /// instructions less on a tower GET, ≈ 80 under axum, whose answers
    /// already hold headers (docs/benchmarks.md, session 22).
    fn vary_by_origin(&mut self) {
        let origin = HeaderValue::from_static("Origin");
        match self.entry(VARY) {
            Entry::Vacant(vacant) => {
                vacant.insert(origin);
            }
            Entry::Occupied(mut occupied) => {
                if !vary_names_origin(occupied.iter().map(HeaderValue::as_bytes)) {
                    occupied.append(origin);
                }
            }
        }
    }

    fn set(&mut self, field: Field, value: Value<'_>) {
        self.insert(field.name(), value.to_http());
    }

    fn remove(&mut self, field: Field) {
        HeaderMap::remove(self, field.name());
    }

    fn remove_cors(&mut self) {
        if self
            .keys()
            .any(|name| name.as_str().starts_with(CORS_PREFIX))
        {
            for field in &Field::ALL[1..] {
                HeaderMap::remove(self, field.name());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Reason, ReasonKind};

    /// Every reason's message and name, in one reviewed snapshot
    /// (`src/snapshots/`): what logs, `doctor` and `check` print.
    #[test]
    fn every_reason_displays_its_message_and_name() {
        let reasons = [
            Reason::PathNotInScope,
            Reason::NoOrigin,
            Reason::OriginListed,
            Reason::NullListed,
            Reason::OriginMatchesPattern,
            Reason::OriginMatchesRegex,
            Reason::AllOriginsAllowed,
            Reason::AllowedByCheck,
            Reason::OriginNotAllowed,
            Reason::MalformedOrigin,
            Reason::MultipleOrigins,
            Reason::MethodNotAllowed {
                method: "patch".into(),
            },
            Reason::HeaderNotAllowed {
                header: "x-token".into(),
            },
            Reason::AuthorizationNotCoveredByWildcard,
            Reason::PrivateNetworkNotAllowed,
        ];
        let kinds: Vec<ReasonKind> = reasons.iter().map(Reason::kind).collect();
        assert_eq!(kinds, ReasonKind::ALL, "one reason of each kind, in order");
        let mut text = String::new();
        for reason in &reasons {
            assert_eq!(reason.kind().to_string(), reason.name());
            let allowed = if reason.is_allowed() {
                "allowed"
            } else {
                "refused"
            };
            text.push_str(&format!("{} ({allowed}): {reason}\n", reason.kind()));
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn reason_kinds_are_listed_in_declaration_order_allowed_first() {
        for (i, kind) in ReasonKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{kind}");
            assert_eq!(ReasonKind::from_name(kind.name()), Some(*kind));
        }
        let first_refusal = ReasonKind::ALL
            .iter()
            .position(|k| !k.is_allowed())
            .unwrap();
        assert!(
            ReasonKind::ALL[first_refusal..]
                .iter()
                .all(|k| !k.is_allowed())
        );
        assert_eq!(ReasonKind::ALL[first_refusal], ReasonKind::OriginNotAllowed);
    }

    /// `apply_replacing` removes each CORS header an application set, alone
    /// or with the others, and leaves the rest (`Vary` is merged).
    #[test]
    fn replacing_removes_every_cors_header_the_app_set_and_nothing_else() {
        use http::{HeaderMap, HeaderValue, Method};

        use super::{CORS_PREFIX, Field};
        use crate::{Config, RequestView};

        // The prefix the removal looks for covers every field but `Vary`.
        for field in &Field::ALL[1..] {
            assert!(field.name().as_str().starts_with(CORS_PREFIX), "{field:?}");
        }
        let policy = Config::builder()
            .allowed_origins(["https://app.example"])
            .compile()
            .unwrap();
        let mut request = HeaderMap::new();
        request.insert("origin", HeaderValue::from_static("https://evil.example"));
        let refused = policy.decide(&RequestView::new(&Method::GET, "/", &request));
        let app = [
            ("access-control-allow-origin", "*"),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET"),
            ("access-control-allow-headers", "x-a"),
            ("access-control-expose-headers", "x-b"),
            ("access-control-max-age", "600"),
            ("access-control-allow-private-network", "true"),
        ];
        // Each alone, and all together.
        let sets: Vec<&[(&str, &str)]> = app
            .iter()
            .map(std::slice::from_ref)
            .chain([&app[..]])
            .collect();
        for set in sets {
            let mut response = HeaderMap::new();
            response.insert("content-type", HeaderValue::from_static("text/plain"));
            response.insert("vary", HeaderValue::from_static("cookie"));
            for (name, value) in set {
                response.append(*name, HeaderValue::from_static(value));
            }
            refused.apply_replacing(&mut response);
            let mut left: Vec<&str> = response.keys().map(http::HeaderName::as_str).collect();
            left.sort_unstable();
            assert_eq!(left, ["content-type", "vary"], "{set:?}");
        }
    }

    /// A preflight answer is built from a copy each rule makes once: it
    /// must be exactly `Content-Length: 0` and what `apply` writes, in
    /// order, for every kind of decision (and for a decision that is not an
    /// `OPTIONS` one, as the public method allows).
    #[test]
    fn a_preflight_answer_is_content_length_and_what_apply_writes() {
        use http::{HeaderMap, HeaderValue, Method};

        use crate::{Config, RequestView};

        let policies = [
            Config::builder()
                .allowed_origins(["https://app.example"])
                .allow_credentials(true)
                .expose_headers(["x-total-count"])
                .allow_private_network(true)
                .compile()
                .unwrap(),
            Config::builder().allow_all_origins(true).compile().unwrap(),
            Config::builder()
                .allowed_origins(["https://app.example"])
                .urls_regex("^/api/")
                .compile()
                .unwrap(),
        ];
        type Sent = &'static [(&'static str, &'static str)];
        let requests: [(Method, &str, Sent); 7] = [
            (
                Method::OPTIONS,
                "/api/x",
                &[
                    ("origin", "https://app.example"),
                    ("access-control-request-method", "PUT"),
                ],
            ),
            (
                Method::OPTIONS,
                "/api/x",
                &[
                    ("origin", "https://app.example"),
                    ("access-control-request-method", "PUT"),
                    ("access-control-request-private-network", "true"),
                ],
            ),
            (
                Method::OPTIONS,
                "/api/x",
                &[("origin", "https://app.example")],
            ),
            (Method::GET, "/api/x", &[("origin", "https://app.example")]),
            (
                Method::OPTIONS,
                "/api/x",
                &[
                    ("origin", "https://evil.example"),
                    ("access-control-request-method", "PUT"),
                ],
            ),
            (Method::OPTIONS, "/api/x", &[]),
            (
                Method::OPTIONS,
                "/other",
                &[
                    ("origin", "https://app.example"),
                    ("access-control-request-method", "PUT"),
                ],
            ),
        ];
        for (p, policy) in policies.iter().enumerate() {
            for (method, path, sent) in &requests {
                let mut headers = HeaderMap::new();
                for (name, value) in *sent {
                    headers.insert(*name, HeaderValue::from_static(value));
                }
                let decision = policy.decide(&RequestView::new(method, path, &headers));
                let answer: http::Response<()> = decision.preflight_response();
                let mut expected = HeaderMap::new();
                expected.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                decision.apply(&mut expected);
                assert_eq!(answer.status(), http::StatusCode::OK);
                assert_eq!(
                    answer.headers().iter().collect::<Vec<_>>(),
                    expected.iter().collect::<Vec<_>>(),
                    "policy {p}, {method} {path} {sent:?}"
                );
            }
        }
    }
}
