//! What each browser engine says about a blocked request: its name for
//! the failure and its console lines. One model of the Fetch algorithm
//! (`corsgate::browser`, which follows Chromium) decides; the engines differ
//! in what they print, and in a few observed places in what they check
//! first. The observations: `../shared/spec/browser-messages.md` (Chromium
//! 156), `firefox-messages.md` (Firefox ESR 153), `webkit-messages.md`
//! (WebKitGTK 2.50, Safari's engine); docs/engines.md sums them up.

use corsgate::browser::{self, Api, Failure, Stage, console_message};
use http::HeaderMap;
use http::header::{ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS};
use serde::Serialize;

/// `doctor --browser`: one engine, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Browser {
    Chromium,
    Firefox,
    Webkit,
    All,
}

impl Browser {
    /// The engines asked for, the first one first.
    pub(crate) fn engines(self) -> &'static [Engine] {
        match self {
            Browser::Chromium => &[Engine::Chromium],
            Browser::Firefox => &[Engine::Firefox],
            Browser::Webkit => &[Engine::Webkit],
            Browser::All => &[Engine::Chromium, Engine::Firefox, Engine::Webkit],
        }
    }
}

/// A browser engine the doctor speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Engine {
    Chromium,
    Firefox,
    Webkit,
}

impl Engine {
    /// The engine's name in prose.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Engine::Chromium => "Chromium",
            Engine::Firefox => "Firefox",
            Engine::Webkit => "WebKit",
        }
    }

    /// Whether the engine's preflight after a cross-origin redirect carries
    /// the page's origin (Firefox) rather than `null` (Chromium, WebKit).
    /// The request itself carries `null` in all three.
    pub(crate) fn preflight_keeps_page_origin(self) -> bool {
        self == Engine::Firefox
    }

    /// Whether the engine fails a preflight on its non-2xx status before
    /// looking at its CORS headers (WebKit; Chromium and Firefox check the
    /// headers first, as Fetch does).
    pub(crate) fn checks_status_first(self, stage: Stage, status: u16) -> bool {
        self == Engine::Webkit && stage == Stage::Preflight && !(200..300).contains(&status)
    }
}

/// A blocked request, as every engine sees it.
pub(crate) struct Block<'a> {
    pub(crate) api: Api,
    pub(crate) stage: Stage,
    pub(crate) failure: &'a Failure,
    /// The URL whose response failed the check.
    pub(crate) url: &'a str,
    /// The URL the page asked for, when `url` was reached by a redirect.
    pub(crate) redirected_from: Option<&'a str>,
    /// The page's origin.
    pub(crate) page_origin: &'a str,
    /// The `Origin` the failing request carried (`null` after a
    /// cross-origin redirect).
    pub(crate) request_origin: &'a str,
    /// The failing response's status and headers.
    pub(crate) status: u16,
    pub(crate) received: &'a HeaderMap,
    /// Its header names as the server spelled them, one per line.
    pub(crate) spelled: &'a [String],
    /// Where the failing response redirected to, when it was a redirect.
    pub(crate) redirect_to: Option<&'a str>,
    /// The headers the page set, as it spelled them.
    pub(crate) page_headers: &'a [(String, String)],
}

/// What one engine says: its name for the failure and its console lines,
/// in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Said {
    pub(crate) error_kind: &'static str,
    pub(crate) lines: Vec<String>,
}

/// What `engine` says about `block`.
pub(crate) fn said(engine: Engine, block: &Block<'_>) -> Said {
    match engine {
        Engine::Chromium => chromium(block),
        Engine::Firefox => firefox(block),
        Engine::Webkit => webkit(block),
    }
}

fn chromium(b: &Block<'_>) -> Said {
    Said {
        error_kind: b.failure.name_at(b.stage),
        lines: vec![
            // The page's origin, also when the request carried `null`.
            console_message(
                b.api,
                b.url,
                b.redirected_from,
                b.page_origin,
                b.failure,
                b.stage,
            ),
            "Failed to load resource: net::ERR_FAILED".to_owned(),
        ],
    }
}

/// Firefox: `Cross-Origin Request Blocked: …` with MDN's reason ids; a
/// failed preflight adds `CORSDidNotSucceed`, a redirected one also
/// `CORSPreflightDidNotSucceed`.
fn firefox(b: &Block<'_>) -> Said {
    let status = format!(". Status code: {}.", b.status);
    let line = |reason: &str, tail: &str| {
        format!(
            "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at {}. (Reason: {reason}){tail}",
            b.url
        )
    };
    let mismatch = |value: &str| {
        (
            "CORSAllowOriginNotMatchingOrigin",
            line(
                &format!("CORS header ‘Access-Control-Allow-Origin’ does not match ‘{value}’"),
                ".",
            ),
        )
    };
    let mut lines = Vec::new();
    let (error_kind, first) = match b.failure {
        Failure::MissingAllowOriginHeader => (
            "CORSMissingAllowOrigin",
            line("CORS header ‘Access-Control-Allow-Origin’ missing", &status),
        ),
        // Two header lines spelled exactly `Access-Control-Allow-Origin`
        // have their own reason; lines spelled otherwise (`access-control-…`,
        // as hyper and HTTP/2 send them) are merged into one value, which,
        // like any value with a comma, simply does not match (observed in
        // Firefox ESR 153; docs/engines.md).
        Failure::MultipleAllowOriginValues { value } => {
            if b.spelled
                .iter()
                .filter(|name| *name == "Access-Control-Allow-Origin")
                .count()
                > 1
            {
                (
                    "CORSMultipleAllowOriginNotAllowed",
                    line(
                        "Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed",
                        ".",
                    ),
                )
            } else {
                mismatch(value)
            }
        }
        Failure::InvalidAllowOriginValue { value } | Failure::AllowOriginMismatch { value } => {
            mismatch(value)
        }
        // The one reason whose URL is quoted.
        Failure::WildcardOriginNotAllowed => (
            "CORSNotSupportingCredentials",
            format!(
                "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at ‘{}’. (Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’).",
                b.url
            ),
        ),
        Failure::InvalidAllowCredentials { .. } => (
            "CORSMissingAllowCredentials",
            line(
                "expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’",
                ".",
            ),
        ),
        Failure::PreflightInvalidStatus => (
            "CORSPreflightDidNotSucceed",
            line("CORS preflight response did not succeed", &status),
        ),
        Failure::PreflightDisallowedRedirect => {
            lines.push(line("CORS request external redirect not allowed", "."));
            (
                "CORSExternalRedirectNotAllowed",
                line("CORS preflight response did not succeed", &status),
            )
        }
        Failure::MethodDisallowedByPreflightResponse { .. } => (
            "CORSMethodNotFound",
            line(
                "Did not find method in CORS header ‘Access-Control-Allow-Methods’",
                ".",
            ),
        ),
        Failure::HeaderDisallowedByPreflightResponse { header } => (
            "CORSMissingAllowHeaderFromPreflight",
            line(
                &format!(
                    "header ‘{header}’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response"
                ),
                ".",
            ),
        ),
        Failure::InvalidAllowMethodsPreflightResponse => (
            "CORSInvalidAllowMethod",
            line(
                &format!(
                    "invalid token ‘{}’ in CORS header ‘Access-Control-Allow-Methods’",
                    first_non_token(b.received, &ACCESS_CONTROL_ALLOW_METHODS)
                ),
                ".",
            ),
        ),
        Failure::InvalidAllowHeadersPreflightResponse => (
            "CORSInvalidAllowHeader",
            line(
                &format!(
                    "invalid token ‘{}’ in CORS header ‘Access-Control-Allow-Headers’",
                    first_non_token(b.received, &ACCESS_CONTROL_ALLOW_HEADERS)
                ),
                ".",
            ),
        ),
        // A failure this model does not know yet: Chromium's name.
        other => (other.name(), line(&other.to_string(), ".")),
    };
    // The redirect line comes first, then the preflight's.
    lines.push(first);
    if b.stage == Stage::Preflight {
        lines.push(line(
            "CORS request did not succeed",
            ". Status code: (null).",
        ));
    }
    Said { error_kind, lines }
}

/// WebKit: a reason line, then `Fetch API cannot load … due to access
/// control checks.`; no named codes, so the names are corsgate's
/// (docs/engines.md lists them). It checks a preflight's status before its
/// `Access-Control-Allow-Origin`.
fn webkit(b: &Block<'_>) -> Said {
    let origin = b.request_origin;
    let status = b.status;
    let not_allowed = || {
        if let Some(target) = b.redirect_to {
            (
                "RedirectDenied",
                format!(
                    "Cross-origin redirection to {target} denied by Cross-Origin Resource Sharing policy: Origin {origin} is not allowed by Access-Control-Allow-Origin. Status code: {status}"
                ),
            )
        } else {
            (
                "OriginNotAllowed",
                format!(
                    "Origin {origin} is not allowed by Access-Control-Allow-Origin. Status code: {status}"
                ),
            )
        }
    };
    let (error_kind, reason) = match b.failure {
        _ if Engine::Webkit.checks_status_first(b.stage, status) => (
            "PreflightNotSuccessful",
            format!("Preflight response is not successful. Status code: {status}"),
        ),
        Failure::MultipleAllowOriginValues { value } if value.contains(',') => (
            "MultipleAllowOrigin",
            "Access-Control-Allow-Origin cannot contain more than one origin.".to_owned(),
        ),
        Failure::MissingAllowOriginHeader
        | Failure::MultipleAllowOriginValues { .. }
        | Failure::InvalidAllowOriginValue { .. }
        | Failure::AllowOriginMismatch { .. } => not_allowed(),
        Failure::WildcardOriginNotAllowed => (
            "WildcardWithCredentials",
            "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true."
                .to_owned(),
        ),
        Failure::InvalidAllowCredentials { .. } => (
            "AllowCredentialsNotTrue",
            "Credentials flag is true, but Access-Control-Allow-Credentials is not \"true\"."
                .to_owned(),
        ),
        Failure::MethodDisallowedByPreflightResponse { method } => (
            "MethodNotAllowed",
            format!("Method {method} is not allowed by Access-Control-Allow-Methods."),
        ),
        // The page's spelling of the header, unlike Chromium's lower case.
        Failure::HeaderDisallowedByPreflightResponse { header } => {
            let spelled = b
                .page_headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(header))
                .map_or(header.as_str(), |(name, _)| name.as_str());
            (
                "HeaderNotAllowed",
                format!(
                    "Request header field {spelled} is not allowed by Access-Control-Allow-Headers."
                ),
            )
        }
        Failure::InvalidAllowMethodsPreflightResponse => (
            "InvalidAllowMethods",
            format!(
                "Header Access-Control-Allow-Methods has an invalid value: {}",
                raw(b.received, &ACCESS_CONTROL_ALLOW_METHODS)
            ),
        ),
        Failure::InvalidAllowHeadersPreflightResponse => (
            "InvalidAllowHeaders",
            format!(
                "Header Access-Control-Allow-Headers has an invalid value: {}",
                raw(b.received, &ACCESS_CONTROL_ALLOW_HEADERS)
            ),
        ),
        // A redirected preflight has a 3xx status: caught above.
        other => (other.name(), other.to_string()),
    };
    // The URL whose response failed; for a failed redirect response, the
    // URL the page asked for.
    let url = match (b.redirect_to, b.redirected_from) {
        (Some(_), Some(first)) => first,
        _ => b.url,
    };
    let api = match b.api {
        Api::Fetch => "Fetch API",
        Api::XmlHttpRequest => "XMLHttpRequest",
    };
    Said {
        error_kind,
        lines: vec![
            reason,
            format!("{api} cannot load {url} due to access control checks."),
        ],
    }
}

/// Firefox's warning when `Access-Control-Allow-Headers: *` lets
/// `Authorization` through (`CORSAllowHeaderFromPreflightDeprecation`): the
/// request is allowed today.
pub(crate) fn firefox_authorization_warning(url: &str) -> String {
    format!(
        "Cross-Origin Request Warning: The Same Origin Policy will disallow reading the remote resource at {url} soon. (Reason: When the `Access-Control-Allow-Headers` is `*`, the `Authorization` header is not covered. To include the `Authorization` header, it must be explicitly listed in CORS header `Access-Control-Allow-Headers`)."
    )
}

/// A header's lines joined as a browser reads them (`a, b`).
fn raw(headers: &HeaderMap, name: &http::HeaderName) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The element Firefox names: the model's first non-token, else (never
/// seen: the model flagged the list) the whole value.
fn first_non_token(headers: &HeaderMap, name: &http::HeaderName) -> String {
    browser::first_non_token(headers, name).unwrap_or_else(|| raw(headers, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const URL: &str = "http://127.0.0.1:8000/users";
    const PAGE: &str = "http://127.0.0.1:5000";

    fn block<'a>(
        failure: &'a Failure,
        stage: Stage,
        status: u16,
        received: &'a HeaderMap,
    ) -> Block<'a> {
        Block {
            api: Api::Fetch,
            stage,
            failure,
            url: URL,
            redirected_from: None,
            page_origin: PAGE,
            request_origin: PAGE,
            status,
            received,
            spelled: &[],
            redirect_to: None,
            page_headers: &[],
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const BLOCKED: &str = "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at http://127.0.0.1:8000/users.";

    #[test]
    fn firefox_names_each_failure_as_mdn_does_with_its_tail() {
        let none = HeaderMap::new();
        let cases: Vec<(Failure, u16, &str, &str)> = vec![
            (
                Failure::MissingAllowOriginHeader,
                404,
                "CORSMissingAllowOrigin",
                " (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 404.",
            ),
            (
                Failure::AllowOriginMismatch {
                    value: "http://localhost:5000".into(),
                },
                200,
                "CORSAllowOriginNotMatchingOrigin",
                " (Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘http://localhost:5000’).",
            ),
            (
                Failure::InvalidAllowOriginValue {
                    value: String::new(),
                },
                200,
                "CORSAllowOriginNotMatchingOrigin",
                " (Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘’).",
            ),
            (
                Failure::MultipleAllowOriginValues {
                    value: "a, b".into(),
                },
                200,
                "CORSAllowOriginNotMatchingOrigin",
                " (Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘a, b’).",
            ),
            (
                Failure::InvalidAllowCredentials {
                    value: "TRUE".into(),
                },
                200,
                "CORSMissingAllowCredentials",
                " (Reason: expected ‘true’ in CORS header ‘Access-Control-Allow-Credentials’).",
            ),
        ];
        for (failure, status, kind, tail) in cases {
            let said = said(
                Engine::Firefox,
                &block(&failure, Stage::Actual, status, &none),
            );
            assert_eq!(said.error_kind, kind, "{failure:?}");
            assert_eq!(said.lines, [format!("{BLOCKED}{tail}")], "{failure:?}");
        }
        let two = headers(&[
            ("access-control-allow-origin", PAGE),
            ("access-control-allow-origin", PAGE),
        ]);
        let multiple = Failure::MultipleAllowOriginValues {
            value: format!("{PAGE}, {PAGE}"),
        };
        // Two lines spelled as usual: their own reason.
        let spelled =
            ["Access-Control-Allow-Origin", "Access-Control-Allow-Origin"].map(String::from);
        let said_two = said(
            Engine::Firefox,
            &Block {
                spelled: &spelled,
                ..block(&multiple, Stage::Actual, 200, &two)
            },
        );
        assert_eq!(said_two.error_kind, "CORSMultipleAllowOriginNotAllowed");
        assert_eq!(
            said_two.lines,
            [format!(
                "{BLOCKED} (Reason: Multiple CORS header ‘Access-Control-Allow-Origin’ not allowed)."
            )]
        );
        // One spelled otherwise (lower case, as hyper and HTTP/2 send it):
        // Firefox counts only the exact spelling, merges, and the merged
        // value does not match.
        for other in ["access-control-allow-origin", "ACCESS-CONTROL-ALLOW-ORIGIN"] {
            let spelled = ["Access-Control-Allow-Origin", other].map(String::from);
            let said_merged = said(
                Engine::Firefox,
                &Block {
                    spelled: &spelled,
                    ..block(&multiple, Stage::Actual, 200, &two)
                },
            );
            assert_eq!(said_merged.error_kind, "CORSAllowOriginNotMatchingOrigin");
            assert_eq!(
                said_merged.lines,
                [format!(
                    "{BLOCKED} (Reason: CORS header ‘Access-Control-Allow-Origin’ does not match ‘{PAGE}, {PAGE}’)."
                )]
            );
        }
    }

    #[test]
    fn firefox_quotes_the_url_only_for_a_wildcard_with_credentials() {
        let none = HeaderMap::new();
        let said = said(
            Engine::Firefox,
            &block(
                &Failure::WildcardOriginNotAllowed,
                Stage::Actual,
                200,
                &none,
            ),
        );
        assert_eq!(said.error_kind, "CORSNotSupportingCredentials");
        assert_eq!(
            said.lines,
            [
                "Cross-Origin Request Blocked: The Same Origin Policy disallows reading the remote resource at ‘http://127.0.0.1:8000/users’. (Reason: Credential is not supported if the CORS header ‘Access-Control-Allow-Origin’ is ‘*’)."
            ]
        );
    }

    #[test]
    fn a_failed_preflight_is_two_lines_in_firefox_and_a_redirected_one_three() {
        let none = HeaderMap::new();
        let method = Failure::MethodDisallowedByPreflightResponse {
            method: "PUT".into(),
        };
        let did_not =
            format!("{BLOCKED} (Reason: CORS request did not succeed). Status code: (null).");
        let said1 = said(
            Engine::Firefox,
            &block(&method, Stage::Preflight, 204, &none),
        );
        assert_eq!(said1.error_kind, "CORSMethodNotFound");
        assert_eq!(
            said1.lines,
            [
                format!(
                    "{BLOCKED} (Reason: Did not find method in CORS header ‘Access-Control-Allow-Methods’)."
                ),
                did_not.clone(),
            ]
        );
        // No preflight names of its own: a missing ACAO on the preflight is
        // the same reason, with the preflight's status.
        let missing = said(
            Engine::Firefox,
            &block(
                &Failure::MissingAllowOriginHeader,
                Stage::Preflight,
                405,
                &none,
            ),
        );
        assert_eq!(missing.error_kind, "CORSMissingAllowOrigin");
        assert_eq!(
            missing.lines[0],
            format!(
                "{BLOCKED} (Reason: CORS header ‘Access-Control-Allow-Origin’ missing). Status code: 405."
            )
        );
        let status = said(
            Engine::Firefox,
            &block(
                &Failure::PreflightInvalidStatus,
                Stage::Preflight,
                500,
                &none,
            ),
        );
        assert_eq!(status.error_kind, "CORSPreflightDidNotSucceed");
        assert_eq!(
            status.lines,
            [
                format!(
                    "{BLOCKED} (Reason: CORS preflight response did not succeed). Status code: 500."
                ),
                did_not.clone(),
            ]
        );
        let redirect = said(
            Engine::Firefox,
            &block(
                &Failure::PreflightDisallowedRedirect,
                Stage::Preflight,
                302,
                &none,
            ),
        );
        assert_eq!(redirect.error_kind, "CORSExternalRedirectNotAllowed");
        assert_eq!(
            redirect.lines,
            [
                format!("{BLOCKED} (Reason: CORS request external redirect not allowed)."),
                format!(
                    "{BLOCKED} (Reason: CORS preflight response did not succeed). Status code: 302."
                ),
                did_not,
            ]
        );
    }

    #[test]
    fn firefox_names_the_header_and_the_invalid_token() {
        let header = Failure::HeaderDisallowedByPreflightResponse {
            header: "x-custom".into(),
        };
        let none = HeaderMap::new();
        let said1 = said(
            Engine::Firefox,
            &block(&header, Stage::Preflight, 200, &none),
        );
        assert_eq!(said1.error_kind, "CORSMissingAllowHeaderFromPreflight");
        assert_eq!(
            said1.lines[0],
            format!(
                "{BLOCKED} (Reason: header ‘x-custom’ is not allowed according to header ‘Access-Control-Allow-Headers’ from CORS preflight response)."
            )
        );
        let bad = headers(&[
            ("access-control-allow-methods", "GET, PU T"),
            ("access-control-allow-headers", "x-a,, x b"),
        ]);
        let methods = said(
            Engine::Firefox,
            &block(
                &Failure::InvalidAllowMethodsPreflightResponse,
                Stage::Preflight,
                200,
                &bad,
            ),
        );
        assert_eq!(methods.error_kind, "CORSInvalidAllowMethod");
        assert_eq!(
            methods.lines[0],
            format!(
                "{BLOCKED} (Reason: invalid token ‘PU T’ in CORS header ‘Access-Control-Allow-Methods’)."
            )
        );
        let names = said(
            Engine::Firefox,
            &block(
                &Failure::InvalidAllowHeadersPreflightResponse,
                Stage::Preflight,
                200,
                &bad,
            ),
        );
        assert_eq!(names.error_kind, "CORSInvalidAllowHeader");
        assert_eq!(
            names.lines[0],
            format!(
                "{BLOCKED} (Reason: invalid token ‘x b’ in CORS header ‘Access-Control-Allow-Headers’)."
            )
        );
    }

    const CANNOT: &str =
        "Fetch API cannot load http://127.0.0.1:8000/users due to access control checks.";

    #[test]
    fn webkit_prints_a_reason_then_cannot_load() {
        let none = HeaderMap::new();
        let cases: Vec<(Failure, Stage, u16, &str, &str)> = vec![
            (
                Failure::MissingAllowOriginHeader,
                Stage::Actual,
                404,
                "OriginNotAllowed",
                "Origin http://127.0.0.1:5000 is not allowed by Access-Control-Allow-Origin. Status code: 404",
            ),
            (
                Failure::AllowOriginMismatch {
                    value: "http://localhost:5000".into(),
                },
                Stage::Preflight,
                204,
                "OriginNotAllowed",
                "Origin http://127.0.0.1:5000 is not allowed by Access-Control-Allow-Origin. Status code: 204",
            ),
            // A space, not a comma: no origin, so not allowed.
            (
                Failure::MultipleAllowOriginValues {
                    value: "not an origin".into(),
                },
                Stage::Actual,
                200,
                "OriginNotAllowed",
                "Origin http://127.0.0.1:5000 is not allowed by Access-Control-Allow-Origin. Status code: 200",
            ),
            (
                Failure::MultipleAllowOriginValues {
                    value: "a, b".into(),
                },
                Stage::Actual,
                200,
                "MultipleAllowOrigin",
                "Access-Control-Allow-Origin cannot contain more than one origin.",
            ),
            (
                Failure::WildcardOriginNotAllowed,
                Stage::Actual,
                200,
                "WildcardWithCredentials",
                "Cannot use wildcard in Access-Control-Allow-Origin when credentials flag is true.",
            ),
            (
                Failure::InvalidAllowCredentials {
                    value: String::new(),
                },
                Stage::Actual,
                200,
                "AllowCredentialsNotTrue",
                "Credentials flag is true, but Access-Control-Allow-Credentials is not \"true\".",
            ),
            (
                Failure::MethodDisallowedByPreflightResponse {
                    method: "patch".into(),
                },
                Stage::Preflight,
                204,
                "MethodNotAllowed",
                "Method patch is not allowed by Access-Control-Allow-Methods.",
            ),
            (
                Failure::PreflightInvalidStatus,
                Stage::Preflight,
                405,
                "PreflightNotSuccessful",
                "Preflight response is not successful. Status code: 405",
            ),
            (
                Failure::PreflightDisallowedRedirect,
                Stage::Preflight,
                307,
                "PreflightNotSuccessful",
                "Preflight response is not successful. Status code: 307",
            ),
        ];
        for (failure, stage, status, kind, reason) in cases {
            let said = said(Engine::Webkit, &block(&failure, stage, status, &none));
            assert_eq!(said.error_kind, kind, "{failure:?}");
            assert_eq!(said.lines, [reason, CANNOT], "{failure:?}");
        }
    }

    #[test]
    fn webkit_checks_the_preflight_status_before_its_allow_origin() {
        let none = HeaderMap::new();
        // Chromium: a 405 without CORS headers is a missing ACAO.
        let missing = Failure::MissingAllowOriginHeader;
        let chromium = said(
            Engine::Chromium,
            &block(&missing, Stage::Preflight, 405, &none),
        );
        assert_eq!(chromium.error_kind, "PreflightMissingAllowOriginHeader");
        assert_eq!(
            chromium.lines[1],
            "Failed to load resource: net::ERR_FAILED"
        );
        let webkit = said(
            Engine::Webkit,
            &block(&missing, Stage::Preflight, 405, &none),
        );
        assert_eq!(webkit.error_kind, "PreflightNotSuccessful");
        // On the actual response the status does not matter.
        let actual = said(Engine::Webkit, &block(&missing, Stage::Actual, 405, &none));
        assert_eq!(actual.error_kind, "OriginNotAllowed");
    }

    #[test]
    fn webkit_keeps_the_pages_spelling_and_quotes_raw_values() {
        let none = HeaderMap::new();
        let header = Failure::HeaderDisallowedByPreflightResponse {
            header: "x-custom".into(),
        };
        let page = [("X-Custom".to_owned(), "1".to_owned())];
        let mut b = block(&header, Stage::Preflight, 204, &none);
        b.page_headers = &page;
        assert_eq!(
            said(Engine::Webkit, &b).lines[0],
            "Request header field X-Custom is not allowed by Access-Control-Allow-Headers."
        );
        let bad = headers(&[("access-control-allow-methods", "GET, PU T")]);
        let methods = said(
            Engine::Webkit,
            &block(
                &Failure::InvalidAllowMethodsPreflightResponse,
                Stage::Preflight,
                204,
                &bad,
            ),
        );
        assert_eq!(methods.error_kind, "InvalidAllowMethods");
        assert_eq!(
            methods.lines[0],
            "Header Access-Control-Allow-Methods has an invalid value: GET, PU T"
        );
        let bad = headers(&[("access-control-allow-headers", "x-a;")]);
        let names = said(
            Engine::Webkit,
            &block(
                &Failure::InvalidAllowHeadersPreflightResponse,
                Stage::Preflight,
                204,
                &bad,
            ),
        );
        assert_eq!(names.error_kind, "InvalidAllowHeaders");
        assert_eq!(
            names.lines[0],
            "Header Access-Control-Allow-Headers has an invalid value: x-a;"
        );
    }

    #[test]
    fn webkit_on_a_redirect_names_the_target_the_null_origin_and_the_first_url() {
        let none = HeaderMap::new();
        let missing = Failure::MissingAllowOriginHeader;
        let mut b = block(&missing, Stage::Actual, 302, &none);
        b.url = "http://127.0.0.1:8001/hop";
        b.redirected_from = Some(URL);
        b.request_origin = "null";
        b.redirect_to = Some("http://127.0.0.1:8002/end");
        let said1 = said(Engine::Webkit, &b);
        assert_eq!(said1.error_kind, "RedirectDenied");
        assert_eq!(
            said1.lines,
            [
                "Cross-origin redirection to http://127.0.0.1:8002/end denied by Cross-Origin Resource Sharing policy: Origin null is not allowed by Access-Control-Allow-Origin. Status code: 302",
                CANNOT,
            ]
        );
        // After a followed redirect, the target's URL; XHR's wording.
        let mut b = block(&missing, Stage::Actual, 200, &none);
        b.url = "http://127.0.0.1:8002/end";
        b.redirected_from = Some(URL);
        b.api = Api::XmlHttpRequest;
        assert_eq!(
            said(Engine::Webkit, &b).lines[1],
            "XMLHttpRequest cannot load http://127.0.0.1:8002/end due to access control checks."
        );
    }

    #[test]
    fn all_asks_every_engine_chromium_first() {
        assert_eq!(
            Browser::All.engines(),
            [Engine::Chromium, Engine::Firefox, Engine::Webkit]
        );
        assert_eq!(Browser::Webkit.engines(), [Engine::Webkit]);
        assert!(Engine::Firefox.preflight_keeps_page_origin());
        assert!(!Engine::Webkit.preflight_keeps_page_origin());
        assert!(Engine::Webkit.checks_status_first(Stage::Preflight, 302));
        assert!(!Engine::Webkit.checks_status_first(Stage::Preflight, 204));
        assert!(!Engine::Webkit.checks_status_first(Stage::Actual, 500));
        assert!(!Engine::Chromium.checks_status_first(Stage::Preflight, 500));
        assert_eq!(Engine::Webkit.label(), "WebKit");
    }
}
