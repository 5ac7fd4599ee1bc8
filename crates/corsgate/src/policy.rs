//! [`Policy`]: a compiled, immutable configuration that decides requests.

use std::borrow::Cow;
use std::sync::Arc;

use crate::decision::{AllowOrigin, Decision, DecisionKind, Grant, Reason};
use crate::origin::OriginMatch;
use crate::request::{Asked, CorsHeaders, RequestView, ValueRef, list_items};
use crate::rule::Rule;

/// A compiled CORS policy: immutable, valid by construction, and cheap to
/// clone and share across threads (a reference count).
///
/// Make one with [`Config::compile`](crate::Config::compile) or
/// [`Policy::from_file`]; ask it about a request with
/// [`decide`](Self::decide).
///
/// ```
/// use corsgate::{Config, DecisionKind, Reason, RequestView};
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let policy = Config::builder().allowed_origins(["http://127.0.0.1:5000"]).compile()?;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("origin", HeaderValue::from_static("http://127.0.0.1:5000"));
/// let decision = policy.decide(&RequestView::new(&Method::GET, "/users", &headers));
/// assert_eq!(decision.kind(), DecisionKind::Actual);
/// assert_eq!(decision.reason(), &Reason::OriginListed);
///
/// let mut response = HeaderMap::new();
/// decision.apply(&mut response);
/// assert_eq!(response["access-control-allow-origin"], "http://127.0.0.1:5000");
/// assert_eq!(response["vary"], "Origin");
/// # Ok::<(), corsgate::ConfigErrors>(())
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) rules: Arc<[Arc<Rule>]>,
    /// Whether any rule has a scope regex (else the path is never decoded).
    scoped: bool,
    report_only: bool,
}

impl Policy {
    pub(crate) fn from_rules(rules: Vec<Arc<Rule>>, report_only: bool) -> Self {
        let scoped = rules.iter().any(|r| r.scope.is_some());
        Self {
            rules: rules.into(),
            scoped,
            report_only,
        }
    }

    /// Whether the policy is in [report-only mode](crate::Config::report_only):
    /// adapters then decide, log and count, but leave every response (and
    /// every preflight) to the application.
    pub fn report_only(&self) -> bool {
        self.report_only
    }

    /// Decides a request. Allocates nothing when the origin is allowed or
    /// absent and the path needs no percent-decoding.
    pub fn decide(&self, request: &RequestView<'_>) -> Decision {
        self.decide_once(request, false).0
    }

    /// The decision for a request whose origin no setting allows
    /// ([`Reason::OriginNotAllowed`]) as it would be if a dynamic origin
    /// check allowed it: the origin echoed with the rule's settings, reason
    /// [`Reason::AllowedByCheck`] (or, for a preflight, the method or header
    /// the rule still refuses). `None` when a check does not apply: the
    /// origin is allowed already, absent, malformed, `null` (list `null`
    /// explicitly if you must), or the path is out of scope.
    pub fn decide_if_check_allows(&self, request: &RequestView<'_>) -> Option<Decision> {
        self.decide_once(request, true).1
    }

    /// Decides once, and when a dynamic check applies (see
    /// [`decide_if_check_allows`](Self::decide_if_check_allows)) also
    /// returns the decision as it would be if the check allowed the origin
    /// — from the same pass over the rules and the origin.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn decide_with_check(
        &self,
        request: &RequestView<'_>,
    ) -> (Decision, Option<Decision>) {
        self.decide_once(request, true)
    }

    /// The one pass: the decision, and with `check` the decision a dynamic
    /// check's "yes" would give.
    fn decide_once(&self, request: &RequestView<'_>, check: bool) -> (Decision, Option<Decision>) {
        let Some(rule) = self.rule_for(request.path()) else {
            let decision = Decision {
                kind: DecisionKind::OutOfScope,
                reason: Reason::PathNotInScope,
                options: false,
                private_network: false,
                grant: None,
            };
            return (decision, None);
        };
        // Looked up once: it makes the request a preflight, and the
        // preflight check reads it.
        let headers = request.cors_headers();
        let asked_method = headers.preflight_method();
        let kind = if asked_method.is_some() {
            DecisionKind::Preflight
        } else {
            DecisionKind::Actual
        };
        let mut decision = Decision {
            kind,
            reason: Reason::NoOrigin,
            options: headers.is_options(),
            private_network: false,
            grant: None,
        };
        let mut origins = headers.values(Asked::Origin);
        let origin = match (origins.next(), origins.next()) {
            (None, _) => return (decision, None),
            (Some(_), Some(_)) => {
                decision.reason = Reason::MultipleOrigins;
                return (decision, None);
            }
            (Some(origin), None) if origin.as_bytes().is_empty() => return (decision, None),
            (Some(origin), None) => origin,
        };
        let (reason, echo) = match rule.origins.check(origin.as_bytes()) {
            OriginMatch::Listed(at) => (Reason::OriginListed, Some(Echo::Listed(at))),
            OriginMatch::NullListed => (Reason::NullListed, Some(Echo::Request(origin))),
            OriginMatch::Pattern => (Reason::OriginMatchesPattern, Some(Echo::Request(origin))),
            OriginMatch::Regex => (Reason::OriginMatchesRegex, Some(Echo::Request(origin))),
            OriginMatch::All => (Reason::AllOriginsAllowed, Some(Echo::Request(origin))),
            // Without credentials allow-all answers `*`, which echoes
            // nothing, whatever the header held (as django does).
            OriginMatch::Malformed if rule.origins.all && !rule.allow_credentials => {
                (Reason::AllOriginsAllowed, Some(Echo::Request(origin)))
            }
            OriginMatch::Malformed => (Reason::MalformedOrigin, None),
            OriginMatch::NotAllowed => {
                decision.reason = Reason::OriginNotAllowed;
                // A check is never consulted for `null` (list it if you must).
                let by_check = (check && origin.as_bytes() != b"null").then(|| {
                    let mut allowed = decision.clone();
                    allowed.reason = Reason::AllowedByCheck;
                    grant(
                        &mut allowed,
                        rule,
                        &headers,
                        asked_method,
                        Echo::Request(origin),
                    );
                    allowed
                });
                return (decision, by_check);
            }
        };
        decision.reason = reason;
        if let Some(echo) = echo {
            grant(&mut decision, rule, &headers, asked_method, echo);
        }
        (decision, None)
    }

    /// Decides an [`http::Request`]: shorthand for
    /// `policy.decide(&RequestView::from_request(request))`.
    pub fn decide_request<B>(&self, request: &http::Request<B>) -> Decision {
        self.decide(&RequestView::from_request(request))
    }

    /// The first rule whose scope matches the path.
    fn rule_for(&self, path: &str) -> Option<&Arc<Rule>> {
        if !self.scoped {
            return self.rules.first();
        }
        // django matches `CORS_URLS_REGEX` against the percent-decoded path.
        let decoded: Cow<'_, [u8]> = percent_encoding::percent_decode(path.as_bytes()).into();
        self.rules.iter().find(|rule| {
            rule.scope
                .as_ref()
                .is_none_or(|scope| scope.is_match(&decoded))
        })
    }
}

/// What an allowed origin's answer echoes.
enum Echo<'a> {
    /// A listed origin: its value's place in the rule's matcher.
    Listed(usize),
    /// The request's own `Origin`, made a value only when it is echoed.
    Request(ValueRef<'a>),
}

/// Grants the origin `echo` under `rule`: `*` instead for allow-all
/// without credentials, private network access when asked and allowed, and
/// for a preflight (`asked_method`: its `Access-Control-Request-Method`)
/// the first method or header the rule refuses as reason.
fn grant(
    decision: &mut Decision,
    rule: &Arc<Rule>,
    headers: &CorsHeaders<'_>,
    asked_method: Option<&[u8]>,
    echo: Echo<'_>,
) {
    // django-cors-headers answers `*` under allow-all without credentials
    // whatever else allowed the origin: a listed one gets `*` too.
    let wildcard = rule.answers_wildcard();
    // Exactly `true` (Private Network Access draft; django compares the same
    // way). Looked up only where it can matter: a preflight's reason, or a
    // rule that answers it.
    let wants_private_network = (decision.kind == DecisionKind::Preflight
        || rule.allow_private_network)
        && headers.first(Asked::PrivateNetwork) == Some(b"true");
    let private_network = rule.allow_private_network && wants_private_network;
    if decision.kind == DecisionKind::Preflight
        && let Some(problem) = preflight_problem(
            rule,
            headers,
            asked_method.unwrap_or_default(),
            wants_private_network,
        )
    {
        decision.reason = problem;
    }
    decision.grant = Some(Grant {
        rule: Arc::clone(rule),
        origin: match echo {
            _ if wildcard => AllowOrigin::Star,
            Echo::Listed(at) => AllowOrigin::Listed(at),
            Echo::Request(origin) => AllowOrigin::Echoed(origin.to_value()),
        },
    });
    decision.private_network = private_network;
}

/// The CORS-preflight check a browser will run on our answer (Fetch
/// § 4.8 steps 3–5): the first reason it will fail, if any. django does not
/// check; corsgate answers the same but records the reason.
fn preflight_problem(
    rule: &Rule,
    headers: &CorsHeaders<'_>,
    method: &[u8],
    wants_private_network: bool,
) -> Option<Reason> {
    // `*` is a wildcard only without credentials; with them it is literal.
    let wildcards = !rule.allow_credentials;
    let method_ok = rule.methods.allow(method) || (wildcards && rule.any_method);
    if !method_ok {
        return Some(Reason::MethodNotAllowed {
            method: String::from_utf8_lossy(method).into_owned(),
        });
    }
    let star = wildcards && rule.any_header;
    for value in headers.values(Asked::Headers) {
        for name in list_items(skip_allowed(&rule.headers, value.as_bytes())) {
            // The rule's names are lower-case, and browsers send them so
            // (Fetch lower-cases them): compare whole first, byte by byte
            // without case only if that fails.
            if rule
                .headers
                .iter()
                .any(|h| h.as_bytes() == name || h.as_bytes().eq_ignore_ascii_case(name))
            {
                continue;
            }
            if name.eq_ignore_ascii_case(b"authorization") {
                return Some(if star {
                    Reason::AuthorizationNotCoveredByWildcard
                } else {
                    Reason::HeaderNotAllowed {
                        header: "authorization".to_owned(),
                    }
                });
            }
            if !star {
                return Some(Reason::HeaderNotAllowed {
                    header: String::from_utf8_lossy(name).to_ascii_lowercase(),
                });
            }
        }
    }
    (wants_private_network && !rule.allow_private_network)
        .then_some(Reason::PrivateNetworkNotAllowed)
}

/// The rest of a request's header list after its leading names that
/// `names` holds exactly, each followed by a bare comma or the list's end:
/// the whole list as browsers send it, the names lower-case, sorted and
/// joined by bare commas (Fetch § 4.8, "CORS-unsafe request-header names").
/// Read so, name by name against the rule's, a list costs a fraction of
/// splitting it first and comparing each item with every name
/// (docs/benchmarks.md, session 20); what it leaves (another case, spaces,
/// a name not allowed) is read the long way.
fn skip_allowed<'v>(names: &[Box<str>], mut rest: &'v [u8]) -> &'v [u8] {
    'items: while let Some(&first) = rest.first() {
        for name in names.iter().map(|name| name.as_bytes()) {
            // The first byte rules most names out without a `memcmp`.
            if name.first() == Some(&first) && rest.starts_with(name) {
                match rest.get(name.len()) {
                    None => return &[],
                    Some(b',') => {
                        rest = &rest[name.len() + 1..];
                        continue 'items;
                    }
                    Some(_) => {}
                }
            }
        }
        break;
    }
    rest
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, Method};
    use proptest::prelude::*;

    use super::skip_allowed;
    use crate::{Config, Reason, RequestView};

    /// A listed origin's answer holds the policy's own value (a reference
    /// count, not a copy), on a request and a preflight alike, whatever
    /// the origin's place in the list; one listed twice is one value.
    #[test]
    fn a_listed_origin_is_answered_with_the_policys_value() {
        let listed = [
            "https://a.example",
            "https://b.example",
            "https://a.example",
        ];
        let policy = Config::builder().allowed_origins(listed).compile().unwrap();
        let origins = &policy.rules[0].origins;
        assert_eq!(origins.listed.len(), 2);
        for origin in ["https://a.example", "https://b.example"] {
            let value = origins.listed[origins.exact[origin.as_bytes()]].http();
            assert_eq!(value, origin);
            let mut request = HeaderMap::new();
            request.insert("origin", HeaderValue::from_static(origin));
            let decision = policy.decide(&RequestView::new(&Method::GET, "/", &request));
            let mut answer = HeaderMap::new();
            decision.apply(&mut answer);
            let written = &answer["access-control-allow-origin"];
            assert_eq!(
                written.as_bytes().as_ptr(),
                value.as_bytes().as_ptr(),
                "{origin}"
            );

            request.insert(
                "access-control-request-method",
                HeaderValue::from_static("PUT"),
            );
            let decision = policy.decide(&RequestView::new(&Method::OPTIONS, "/", &request));
            let answer = decision.preflight_response::<()>();
            let written = &answer.headers()["access-control-allow-origin"];
            assert_eq!(
                written.as_bytes().as_ptr(),
                value.as_bytes().as_ptr(),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_browser_list_of_allowed_names_is_read_to_its_end() {
        let names: Vec<Box<str>> = ["accept", "accept-encoding", "content-type", "x-csrftoken"]
            .into_iter()
            .map(Into::into)
            .collect();
        let skip = |list: &'static str| skip_allowed(&names, list.as_bytes());
        assert_eq!(skip("content-type,x-csrftoken"), b"");
        assert_eq!(skip("accept-encoding"), b"");
        assert_eq!(skip("accept,accept-encoding,"), b"");
        // It stops at the first item it cannot vouch for, which is then
        // read the long way: another name, another case, a space, a
        // name only some of whose letters are allowed, an empty item.
        assert_eq!(skip("accept,x-other,content-type"), b"x-other,content-type");
        assert_eq!(skip("accept,Content-Type"), b"Content-Type");
        assert_eq!(skip("accept, content-type"), b" content-type");
        assert_eq!(skip("accept ,content-type"), b"accept ,content-type");
        assert_eq!(skip("acceptx,accept"), b"acceptx,accept");
        assert_eq!(skip("accept-enc"), b"accept-enc");
        assert_eq!(skip("accept,,accept"), b",accept");
        assert_eq!(skip(""), b"");
        assert_eq!(skip_allowed(&[], b"accept"), b"accept");
    }

    /// A preflight's reason, as the plain reading of Fetch § 4.8 gives it:
    /// every item of the list, trimmed, compared without case with every
    /// allowed name; `authorization` never covered by `*`.
    fn plain_reason(list: &str, allowed: &[&str], star: bool) -> Reason {
        for item in list
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let item = item.to_ascii_lowercase();
            if allowed.contains(&item.as_str()) {
                continue;
            }
            if item == "authorization" {
                return if star {
                    Reason::AuthorizationNotCoveredByWildcard
                } else {
                    Reason::HeaderNotAllowed { header: item }
                };
            }
            if !star {
                return Reason::HeaderNotAllowed { header: item };
            }
        }
        Reason::OriginListed
    }

    proptest! {
        /// Read through the browser's shape first or not, a requested
        /// header list gets the reason its plain reading gives, with
        /// listed names or `*`.
        #[test]
        fn a_requested_header_list_is_judged_as_its_plain_reading(
            items in prop::collection::vec(
                prop::sample::select(vec![
                    "accept", "accept-encoding", "acc", "content-type", "Content-Type",
                    "x-csrftoken", "x-other", "authorization", "AUTHORIZATION", "", " ",
                ]),
                0..6,
            ),
            separators in prop::collection::vec(prop::sample::select(vec![",", ", ", " ,", ",,"]), 6),
            star in any::<bool>(),
        ) {
            let allowed: &[&str] = if star {
                &["*", "accept", "content-type"]
            } else {
                &["accept", "accept-encoding", "content-type", "x-csrftoken"]
            };
            let policy = Config::builder()
                .allowed_origins(["https://app.example"])
                .allow_headers(allowed.iter().copied())
                .compile()
                .unwrap();
            let mut list = String::new();
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    list.push_str(separators[i]);
                }
                list.push_str(item);
            }
            let list = list.as_str();
            let mut headers = HeaderMap::new();
            headers.insert("origin", HeaderValue::from_static("https://app.example"));
            headers.insert("access-control-request-method", HeaderValue::from_static("GET"));
            headers.insert("access-control-request-headers", HeaderValue::from_str(list).unwrap());
            let decision = policy.decide(&RequestView::new(&Method::OPTIONS, "/", &headers));
            prop_assert_eq!(decision.reason(), &plain_reason(list, allowed, star), "{:?}", list);
        }
    }

    #[test]
    fn a_check_is_asked_only_about_origins_no_setting_decides() {
        let policy = Config::builder()
            .allowed_origins(["https://app.example"])
            .compile()
            .unwrap();
        let ask = |origin: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(origin) = origin {
                headers.insert("origin", HeaderValue::from_static(origin));
            }
            policy.decide_if_check_allows(&RequestView::new(&Method::GET, "/", &headers))
        };
        let allowed = ask(Some("https://other.example")).expect("a check applies");
        assert_eq!(allowed.reason(), &Reason::AllowedByCheck);
        let mut response = HeaderMap::new();
        allowed.apply(&mut response);
        assert_eq!(
            response["access-control-allow-origin"],
            "https://other.example"
        );
        for settled in [
            Some("https://app.example"),
            None,
            Some("null"),
            Some("HTTPS://other.example"),
        ] {
            assert!(ask(settled).is_none(), "{settled:?}");
        }
    }
}
