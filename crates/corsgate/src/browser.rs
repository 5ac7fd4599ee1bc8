//! The CORS protocol from the browser's side ([Fetch § CORS protocol]),
//! as pure functions: whether a request is preflighted, the CORS check, the
//! CORS-preflight check, what a page may read, and the console message
//! Chromium prints for each failure. `corsgate doctor` is built on it.
//!
//! Where Chromium 156 and the standard differ (`Access-Control-Allow-Headers: *`
//! still covers `Authorization` in Chromium), the functions give Chromium's
//! verdict and say so in a [`Warning`].
//!
//! [Fetch § CORS protocol]: https://fetch.spec.whatwg.org/#http-cors-protocol
//!
//! ```
//! use corsgate::browser::{Credentials, Failure, cors_check};
//! use http::{HeaderMap, HeaderValue};
//!
//! let mut response = HeaderMap::new();
//! response.insert("access-control-allow-origin", HeaderValue::from_static("*"));
//! assert_eq!(cors_check(&response, "http://127.0.0.1:5000", Credentials::Omit), Ok(()));
//! assert_eq!(
//!     cors_check(&response, "http://127.0.0.1:5000", Credentials::Include),
//!     Err(Failure::WildcardOriginNotAllowed)
//! );
//! ```

use std::fmt;

use http::HeaderMap;
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
};

use crate::request::list_items;

/// A request's credentials mode (`fetch(url, {credentials})`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// Cookies and HTTP auth are sent cross-origin (`withCredentials` for XHR).
    Include,
    /// Credentials only to the same origin: the default of `fetch()`.
    SameOrigin,
    /// Never credentials.
    Omit,
}

impl Credentials {
    /// `include`, `same-origin` or `omit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::Include => "include",
            Credentials::SameOrigin => "same-origin",
            Credentials::Omit => "omit",
        }
    }
}

/// Why a browser blocks a response. Variant names are Chromium's
/// (`network::mojom::CorsError`, shown in DevTools).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// No `Access-Control-Allow-Origin`.
    MissingAllowOriginHeader,
    /// Several values, or one with a space or comma.
    MultipleAllowOriginValues {
        /// The value as the browser read it (lines joined with `, `).
        value: String,
    },
    /// A value that is no origin (an empty one, say).
    InvalidAllowOriginValue {
        /// The value.
        value: String,
    },
    /// An origin, but not the page's.
    AllowOriginMismatch {
        /// The value.
        value: String,
    },
    /// `*` for a request with credentials.
    WildcardOriginNotAllowed,
    /// Credentials, and `Access-Control-Allow-Credentials` is not exactly `true`.
    InvalidAllowCredentials {
        /// The value, empty when missing.
        value: String,
    },
    /// The preflight's status is not 2xx.
    PreflightInvalidStatus,
    /// The preflight was answered with a redirect.
    PreflightDisallowedRedirect,
    /// The method is not in the preflight's `Access-Control-Allow-Methods`.
    MethodDisallowedByPreflightResponse {
        /// The method.
        method: String,
    },
    /// A header is not in the preflight's `Access-Control-Allow-Headers`.
    HeaderDisallowedByPreflightResponse {
        /// The first header name not allowed, lower-case.
        header: String,
    },
    /// `Access-Control-Allow-Methods` does not parse.
    InvalidAllowMethodsPreflightResponse,
    /// `Access-Control-Allow-Headers` does not parse.
    InvalidAllowHeadersPreflightResponse,
}

impl Failure {
    /// Chromium's name for the failure (`MissingAllowOriginHeader`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Failure::MissingAllowOriginHeader => "MissingAllowOriginHeader",
            Failure::MultipleAllowOriginValues { .. } => "MultipleAllowOriginValues",
            Failure::InvalidAllowOriginValue { .. } => "InvalidAllowOriginValue",
            Failure::AllowOriginMismatch { .. } => "AllowOriginMismatch",
            Failure::WildcardOriginNotAllowed => "WildcardOriginNotAllowed",
            Failure::InvalidAllowCredentials { .. } => "InvalidAllowCredentials",
            Failure::PreflightInvalidStatus => "PreflightInvalidStatus",
            Failure::PreflightDisallowedRedirect => "PreflightDisallowedRedirect",
            Failure::MethodDisallowedByPreflightResponse { .. } => {
                "MethodDisallowedByPreflightResponse"
            }
            Failure::HeaderDisallowedByPreflightResponse { .. } => {
                "HeaderDisallowedByPreflightResponse"
            }
            Failure::InvalidAllowMethodsPreflightResponse => "InvalidAllowMethodsPreflightResponse",
            Failure::InvalidAllowHeadersPreflightResponse => "InvalidAllowHeadersPreflightResponse",
        }
    }

    /// Chromium's DevTools name for the failure where it happened: an
    /// origin or credentials failure on the preflight's response has a
    /// name of its own (`PreflightMissingAllowOriginHeader`, …); the rest
    /// are named as [`name`](Self::name) says.
    ///
    /// ```
    /// use corsgate::browser::{Failure, Stage};
    ///
    /// let missing = Failure::MissingAllowOriginHeader;
    /// assert_eq!(missing.name_at(Stage::Actual), "MissingAllowOriginHeader");
    /// assert_eq!(missing.name_at(Stage::Preflight), "PreflightMissingAllowOriginHeader");
    /// ```
    pub fn name_at(&self, stage: Stage) -> &'static str {
        if stage == Stage::Actual {
            return self.name();
        }
        match self {
            Failure::MissingAllowOriginHeader => "PreflightMissingAllowOriginHeader",
            Failure::MultipleAllowOriginValues { .. } => "PreflightMultipleAllowOriginValues",
            Failure::InvalidAllowOriginValue { .. } => "PreflightInvalidAllowOriginValue",
            Failure::AllowOriginMismatch { .. } => "PreflightAllowOriginMismatch",
            Failure::WildcardOriginNotAllowed => "PreflightWildcardOriginNotAllowed",
            Failure::InvalidAllowCredentials { .. } => "PreflightInvalidAllowCredentials",
            other => other.name(),
        }
    }

    /// The text Chromium prints after `has been blocked by CORS policy: `.
    /// [`Api::XmlHttpRequest`] selects XMLHttpRequest's wording; a failure
    /// at [`Stage::Preflight`] gets the preflight prefix on origin and
    /// credentials failures.
    pub fn reason_text(&self, api: Api, stage: Stage) -> String {
        let xhr = api == Api::XmlHttpRequest;
        let preflight = stage == Stage::Preflight;
        const HAVE: &str = " Have the server send the header with a valid value.";
        const XHR_CREDENTIALS: &str = " The credentials mode of requests initiated by the XMLHttpRequest is controlled by the withCredentials attribute.";
        const PREFIX: &str = "Response to preflight request doesn't pass access control check: ";
        let (text, prefixable) = match self {
            Failure::MissingAllowOriginHeader => {
                ("No 'Access-Control-Allow-Origin' header is present on the requested resource.".to_owned(), true)
            }
            Failure::MultipleAllowOriginValues { value } => (
                format!("The 'Access-Control-Allow-Origin' header contains multiple values '{value}', but only one is allowed.{HAVE}"),
                true,
            ),
            Failure::InvalidAllowOriginValue { value } => (
                format!("The 'Access-Control-Allow-Origin' header contains the invalid value '{value}'.{HAVE}"),
                true,
            ),
            Failure::AllowOriginMismatch { value } => {
                let tail = if xhr { "" } else { HAVE };
                (
                    format!("The 'Access-Control-Allow-Origin' header has a value '{value}' that is not equal to the supplied origin.{tail}"),
                    true,
                )
            }
            Failure::WildcardOriginNotAllowed => {
                let tail = if xhr { XHR_CREDENTIALS } else { "" };
                (
                    format!("The value of the 'Access-Control-Allow-Origin' header in the response must not be the wildcard '*' when the request's credentials mode is 'include'.{tail}"),
                    true,
                )
            }
            Failure::InvalidAllowCredentials { value } => {
                let tail = if xhr { XHR_CREDENTIALS } else { "" };
                (
                    format!("The value of the 'Access-Control-Allow-Credentials' header in the response is '{value}' which must be 'true' when the request's credentials mode is 'include'.{tail}"),
                    true,
                )
            }
            Failure::PreflightInvalidStatus => (format!("{PREFIX}It does not have HTTP ok status."), false),
            Failure::PreflightDisallowedRedirect => {
                (format!("{PREFIX}Redirect is not allowed for a preflight request."), false)
            }
            Failure::MethodDisallowedByPreflightResponse { method } => (
                format!("Method {method} is not allowed by Access-Control-Allow-Methods in preflight response."),
                false,
            ),
            Failure::HeaderDisallowedByPreflightResponse { header } => (
                format!("Request header field {header} is not allowed by Access-Control-Allow-Headers in preflight response."),
                false,
            ),
            Failure::InvalidAllowMethodsPreflightResponse => (
                "Cannot parse Access-Control-Allow-Methods response header field in preflight response.".to_owned(),
                false,
            ),
            Failure::InvalidAllowHeadersPreflightResponse => (
                "Cannot parse Access-Control-Allow-Headers response header field in preflight response.".to_owned(),
                false,
            ),
        };
        if preflight && prefixable {
            format!("{PREFIX}{text}")
        } else {
            text
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason_text(Api::Fetch, Stage::Actual))
    }
}

/// Which script API sent the request: Chromium words some failures
/// differently for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `fetch()`.
    Fetch,
    /// `XMLHttpRequest`.
    XmlHttpRequest,
}

/// Which request of a CORS exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The `OPTIONS` preflight the browser sent first.
    Preflight,
    /// The request itself (a simple one, or the one after the preflight).
    Actual,
}

/// The full console line Chromium prints for a blocked request.
///
/// ```
/// use corsgate::browser::{Api, Failure, Stage, console_message};
///
/// let line = console_message(Api::Fetch, "http://127.0.0.1:8000/users", None, "http://127.0.0.1:5000",
///                            &Failure::MissingAllowOriginHeader, Stage::Actual);
/// assert_eq!(line, "Access to fetch at 'http://127.0.0.1:8000/users' from origin 'http://127.0.0.1:5000' \
///                   has been blocked by CORS policy: No 'Access-Control-Allow-Origin' header is present \
///                   on the requested resource.");
/// ```
pub fn console_message(
    api: Api,
    url: &str,
    redirected_from: Option<&str>,
    origin: &str,
    failure: &Failure,
    stage: Stage,
) -> String {
    let name = match api {
        Api::Fetch => "fetch",
        Api::XmlHttpRequest => "XMLHttpRequest",
    };
    let from =
        redirected_from.map_or_else(String::new, |first| format!(" (redirected from '{first}')"));
    format!(
        "Access to {name} at '{url}'{from} from origin '{origin}' has been blocked by CORS policy: {}",
        failure.reason_text(api, stage)
    )
}

/// Something the browser allows today that the standard, or another
/// browser, does not.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// `Authorization` is covered only by `Access-Control-Allow-Headers: *`:
    /// the Fetch standard blocks it; Chromium 156 (with a deprecation
    /// notice), Firefox ESR 153 (with a console warning) and WebKit allow
    /// it today.
    AuthorizationCoveredByWildcard,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::AuthorizationCoveredByWildcard => f.write_str(
                "`Authorization` is allowed only through `Access-Control-Allow-Headers: *`: the Fetch standard \
                 blocks it, and Chromium and Firefox warn that they will stop allowing it (Safari allows it); \
                 list `authorization` explicitly",
            ),
        }
    }
}

/// What fetch() does to a method: `delete get head options post put` are
/// upper-cased; anything else (`patch`!) is sent as written.
pub fn normalize_method(method: &str) -> String {
    const NORMALIZED: [&str; 6] = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];
    NORMALIZED
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .map_or_else(|| method.to_owned(), |m| (*m).to_owned())
}

/// `GET`, `HEAD` and `POST`, byte for byte.
pub fn is_safelisted_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "POST")
}

fn is_unsafe_byte(b: u8) -> bool {
    (b < 0x20 && b != 0x09) || b == 0x7F || b"\"():<>?@[\\]{}".contains(&b)
}

/// Whether a script may not set this header (the browser controls it), so
/// it never causes a preflight.
pub fn is_forbidden_request_header(name: &str, value: &str) -> bool {
    const FORBIDDEN: [&str; 21] = [
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    ];
    let name = name.to_ascii_lowercase();
    if FORBIDDEN.contains(&name.as_str()) || name.starts_with("proxy-") || name.starts_with("sec-")
    {
        return true;
    }
    let overrides = [
        "x-http-method",
        "x-http-method-override",
        "x-method-override",
    ];
    overrides.contains(&name.as_str())
        && list_items(value.as_bytes()).any(|m| {
            ["CONNECT", "TRACE", "TRACK"]
                .iter()
                .any(|f| f.as_bytes().eq_ignore_ascii_case(m))
        })
}

/// Whether (name, value) is a CORS-safelisted request header
/// ([Fetch](https://fetch.spec.whatwg.org/#cors-safelisted-request-header)).
pub fn is_safelisted_request_header(name: &str, value: &str) -> bool {
    if value.len() > 128 {
        return false;
    }
    let bytes = value.as_bytes();
    match name.to_ascii_lowercase().as_str() {
        "accept" => !bytes.iter().any(|b| is_unsafe_byte(*b)),
        "accept-language" | "content-language" => bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b" *,-.;=".contains(b)),
        "content-type" => {
            if bytes.iter().any(|b| is_unsafe_byte(*b)) {
                return false;
            }
            // The MIME type's essence (`type/subtype`, before any `;`
            // parameters, without surrounding white space) must be one of
            // three. Each is two tokens, so an essence equal to one parses
            // as a MIME type: no separate token check is needed.
            let essence = value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim_matches([' ', '\t', '\r', '\n']);
            [
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "text/plain",
            ]
            .iter()
            .any(|safe| safe.eq_ignore_ascii_case(essence))
        }
        "range" => simple_range(value),
        _ => false,
    }
}

fn simple_range(value: &str) -> bool {
    let Some(range) = value.strip_prefix("bytes=") else {
        return false;
    };
    let Some((start, end)) = range.split_once('-') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) {
        return false;
    }
    end.is_empty() || (digits(end) && start.parse::<u128>().ok() <= end.parse::<u128>().ok())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The CORS-unsafe request-header names of a request: lower-case, sorted,
/// deduplicated — what goes in `Access-Control-Request-Headers`.
/// Forbidden headers are ignored (a script cannot set them).
pub fn unsafe_header_names(headers: &[(String, String)]) -> Vec<String> {
    let settable: Vec<&(String, String)> = headers
        .iter()
        .filter(|(n, v)| !is_forbidden_request_header(n, v))
        .collect();
    let safelisted_len: usize = settable
        .iter()
        .filter(|(n, v)| is_safelisted_request_header(n, v))
        .map(|(_, v)| v.len())
        .sum();
    let mut names: Vec<String> = settable
        .iter()
        .filter(|(n, v)| safelisted_len > 1024 || !is_safelisted_request_header(n, v))
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Why a browser sends a preflight, if it does (ignoring its preflight cache).
pub fn preflight_reasons(method: &str, headers: &[(String, String)]) -> Vec<String> {
    let mut reasons = Vec::new();
    if !is_safelisted_method(method) {
        reasons.push(format!("method `{method}` is not GET, HEAD or POST"));
    }
    for name in unsafe_header_names(headers) {
        let value = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map_or("", |(_, v)| v.as_str());
        if name == "content-type" {
            reasons.push(format!(
                "`Content-Type: {value}` is not application/x-www-form-urlencoded, multipart/form-data or text/plain"
            ));
        } else {
            reasons.push(format!("header `{name}` is not CORS-safelisted"));
        }
    }
    reasons
}

/// All lines of a header, joined with `, ` as a browser reads them.
fn combined(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// The CORS check ([Fetch](https://fetch.spec.whatwg.org/#concept-cors-check)),
/// with Chromium's classification of each failure. `origin` is the
/// serialized origin the request carried (`null` after a cross-origin redirect).
pub fn cors_check(
    headers: &HeaderMap,
    origin: &str,
    credentials: Credentials,
) -> Result<(), Failure> {
    let Some(value) = combined(headers, &ACCESS_CONTROL_ALLOW_ORIGIN) else {
        return Err(Failure::MissingAllowOriginHeader);
    };
    let include = credentials == Credentials::Include;
    if value == "*" {
        return if include {
            Err(Failure::WildcardOriginNotAllowed)
        } else {
            Ok(())
        };
    }
    if value != origin {
        if value.contains([' ', ',']) {
            return Err(Failure::MultipleAllowOriginValues { value });
        }
        let looks_like_origin = value == "null" || value.contains("://");
        if value.is_empty() || !looks_like_origin {
            return Err(Failure::InvalidAllowOriginValue { value });
        }
        return Err(Failure::AllowOriginMismatch { value });
    }
    if include {
        let acac = combined(headers, &ACCESS_CONTROL_ALLOW_CREDENTIALS).unwrap_or_default();
        if acac != "true" {
            return Err(Failure::InvalidAllowCredentials { value: acac });
        }
    }
    Ok(())
}

/// What a successful preflight allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightGrant {
    /// Seconds the browser caches the answer (missing or unparsable: 5;
    /// Chromium caps at 7200).
    pub max_age: u64,
    /// Where Chromium allows what the standard does not.
    pub warnings: Vec<Warning>,
}

/// Parses an `Access-Control-Allow-Methods`/`-Headers` list: comma-separated
/// tokens; `None` if an element is not a token.
fn token_list(headers: &HeaderMap, name: &http::HeaderName) -> Option<Vec<String>> {
    let Some(value) = combined(headers, name) else {
        return Some(Vec::new());
    };
    list_items(value.as_bytes())
        .map(|item| {
            item.iter()
                .copied()
                .all(is_tchar)
                .then(|| String::from_utf8_lossy(item).into_owned())
        })
        .collect()
}

/// The first element of an `Access-Control-Allow-Methods`/`-Headers` list
/// that is not a token — what makes [`preflight_check`] fail with
/// `InvalidAllowMethodsPreflightResponse`/`…Headers…` (Firefox names it in
/// its message); `None` when every element is one or the header is absent.
///
/// ```
/// use corsgate::browser::first_non_token;
/// use http::{HeaderMap, HeaderValue, header::ACCESS_CONTROL_ALLOW_METHODS};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, PU T"));
/// assert_eq!(first_non_token(&headers, &ACCESS_CONTROL_ALLOW_METHODS).as_deref(), Some("PU T"));
/// ```
pub fn first_non_token(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
    let value = combined(headers, name)?;
    list_items(value.as_bytes())
        .find(|item| !item.iter().copied().all(is_tchar))
        .map(|item| String::from_utf8_lossy(item).into_owned())
}

/// The CORS-preflight check ([Fetch § CORS-preflight fetch](https://fetch.spec.whatwg.org/#cors-preflight-fetch)
/// steps 7 on): redirect, CORS check, status, then the methods and headers
/// the actual request needs. `method` is the normalised method;
/// `unsafe_headers` the names of [`unsafe_header_names`].
pub fn preflight_check(
    status: u16,
    headers: &HeaderMap,
    origin: &str,
    credentials: Credentials,
    method: &str,
    unsafe_headers: &[String],
) -> Result<PreflightGrant, Failure> {
    if (300..400).contains(&status) {
        return Err(Failure::PreflightDisallowedRedirect);
    }
    cors_check(headers, origin, credentials)?;
    if !(200..300).contains(&status) {
        return Err(Failure::PreflightInvalidStatus);
    }
    let methods = token_list(headers, &ACCESS_CONTROL_ALLOW_METHODS)
        .ok_or(Failure::InvalidAllowMethodsPreflightResponse)?;
    let names = token_list(headers, &ACCESS_CONTROL_ALLOW_HEADERS)
        .ok_or(Failure::InvalidAllowHeadersPreflightResponse)?;
    let include = credentials == Credentials::Include;
    let star = |list: &[String]| !include && list.iter().any(|m| m == "*");
    if !methods.iter().any(|m| m == method) && !is_safelisted_method(method) && !star(&methods) {
        return Err(Failure::MethodDisallowedByPreflightResponse {
            method: method.to_owned(),
        });
    }
    let mut warnings = Vec::new();
    for name in unsafe_headers {
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            continue;
        }
        if star(&names) {
            if name == "authorization" {
                // Chromium 156 still lets `*` cover Authorization; the
                // standard does not (Fetch § CORS non-wildcard request-header name).
                warnings.push(Warning::AuthorizationCoveredByWildcard);
            }
            continue;
        }
        return Err(Failure::HeaderDisallowedByPreflightResponse {
            header: name.clone(),
        });
    }
    let max_age = combined(headers, &ACCESS_CONTROL_MAX_AGE)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(5, |age| age.min(7200));
    Ok(PreflightGrant { max_age, warnings })
}

/// The response header names a page may read (lower-case, sorted): the safelisted ones, and those `Access-Control-Expose-Headers`
/// lists (`*` means all only without credentials); never `Set-Cookie`.
pub fn readable_headers(headers: &HeaderMap, credentials: Credentials) -> Vec<String> {
    const SAFELISTED: [&str; 7] = [
        "cache-control",
        "content-language",
        "content-length",
        "content-type",
        "expires",
        "last-modified",
        "pragma",
    ];
    let exposed = token_list(headers, &ACCESS_CONTROL_EXPOSE_HEADERS).unwrap_or_default();
    let all = credentials != Credentials::Include && exposed.iter().any(|e| e == "*");
    let mut names: Vec<String> = Vec::new();
    for name in headers.keys() {
        let name = name.as_str();
        if name == "set-cookie" || name == "set-cookie2" || names.iter().any(|n| n == name) {
            continue;
        }
        if all || SAFELISTED.contains(&name) || exposed.iter().any(|e| e.eq_ignore_ascii_case(name))
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(*n, HeaderValue::from_static(v));
        }
        map
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    const O: &str = "http://127.0.0.1:5000";

    /// Every failure's DevTools name at each stage (Chromium's
    /// `network::mojom::CorsError`, browser-messages.md).
    #[test]
    fn preflight_failures_have_their_own_names() {
        let value = || "v".to_owned();
        let table = [
            (
                Failure::MissingAllowOriginHeader,
                "MissingAllowOriginHeader",
                "PreflightMissingAllowOriginHeader",
            ),
            (
                Failure::MultipleAllowOriginValues { value: value() },
                "MultipleAllowOriginValues",
                "PreflightMultipleAllowOriginValues",
            ),
            (
                Failure::InvalidAllowOriginValue { value: value() },
                "InvalidAllowOriginValue",
                "PreflightInvalidAllowOriginValue",
            ),
            (
                Failure::AllowOriginMismatch { value: value() },
                "AllowOriginMismatch",
                "PreflightAllowOriginMismatch",
            ),
            (
                Failure::WildcardOriginNotAllowed,
                "WildcardOriginNotAllowed",
                "PreflightWildcardOriginNotAllowed",
            ),
            (
                Failure::InvalidAllowCredentials { value: value() },
                "InvalidAllowCredentials",
                "PreflightInvalidAllowCredentials",
            ),
            (
                Failure::PreflightInvalidStatus,
                "PreflightInvalidStatus",
                "PreflightInvalidStatus",
            ),
            (
                Failure::PreflightDisallowedRedirect,
                "PreflightDisallowedRedirect",
                "PreflightDisallowedRedirect",
            ),
            (
                Failure::MethodDisallowedByPreflightResponse { method: value() },
                "MethodDisallowedByPreflightResponse",
                "MethodDisallowedByPreflightResponse",
            ),
            (
                Failure::HeaderDisallowedByPreflightResponse { header: value() },
                "HeaderDisallowedByPreflightResponse",
                "HeaderDisallowedByPreflightResponse",
            ),
            (
                Failure::InvalidAllowMethodsPreflightResponse,
                "InvalidAllowMethodsPreflightResponse",
                "InvalidAllowMethodsPreflightResponse",
            ),
            (
                Failure::InvalidAllowHeadersPreflightResponse,
                "InvalidAllowHeadersPreflightResponse",
                "InvalidAllowHeadersPreflightResponse",
            ),
        ];
        for (failure, actual, preflight) in table {
            assert_eq!(failure.name_at(Stage::Actual), actual);
            assert_eq!(failure.name(), actual);
            assert_eq!(failure.name_at(Stage::Preflight), preflight);
        }
    }

    #[test]
    fn methods_are_normalised_like_fetch() {
        assert_eq!(normalize_method("delete"), "DELETE");
        assert_eq!(normalize_method("patch"), "patch");
        assert_eq!(normalize_method("PATCH"), "PATCH");
        assert!(is_safelisted_method("POST"));
        assert!(!is_safelisted_method("post"));
    }

    #[test]
    fn safelisted_headers_follow_the_value_rules() {
        assert!(is_safelisted_request_header(
            "Content-Type",
            "text/plain;charset=utf-8"
        ));
        assert!(is_safelisted_request_header(
            "content-type",
            "multipart/form-data; boundary=x"
        ));
        assert!(!is_safelisted_request_header(
            "content-type",
            "application/json"
        ));
        assert!(!is_safelisted_request_header("content-type", "text/plain(")); // unsafe byte
        assert!(!is_safelisted_request_header("content-type", "nonsense"));
        assert!(is_safelisted_request_header("accept", "application/json"));
        assert!(!is_safelisted_request_header("accept", "a{b}"));
        assert!(is_safelisted_request_header(
            "accept-language",
            "en-GB,en;q=0.9"
        ));
        assert!(!is_safelisted_request_header("accept-language", "en_GB"));
        assert!(is_safelisted_request_header("range", "bytes=0-"));
        assert!(is_safelisted_request_header("range", "bytes=0-499"));
        assert!(!is_safelisted_request_header("range", "bytes=-500"));
        assert!(!is_safelisted_request_header("range", "bytes=5-1"));
        assert!(is_safelisted_request_header(
            "content-type",
            " Text/Plain \t; charset=utf-8"
        ));
        assert!(!is_safelisted_request_header("content-type", "text/plain2"));
        assert!(!is_safelisted_request_header("content-type", "text/ plain"));
        // 128 bytes is the longest safelisted value.
        assert!(is_safelisted_request_header("accept", &"a".repeat(128)));
        assert!(!is_safelisted_request_header("accept", &"a".repeat(129)));
        // Tab is the one control byte a value may hold; DEL is unsafe too.
        assert!(is_safelisted_request_header(
            "accept",
            "text/html,\tapplication/json"
        ));
        assert!(!is_safelisted_request_header("accept", "text/html\u{1}"));
        assert!(!is_safelisted_request_header("accept", "text/html\u{1f}"));
        assert!(!is_safelisted_request_header("accept", "text/html\u{7f}"));
        assert!(is_safelisted_request_header("accept", "text/html~"));
        assert!(!is_safelisted_request_header(
            "x-requested-with",
            "XMLHttpRequest"
        ));
    }

    #[test]
    fn unsafe_names_are_sorted_lowercase_and_skip_forbidden_ones() {
        let headers = pairs(&[
            ("X-B", "1"),
            ("Content-Type", "application/json"),
            ("x-a", "2"),
            ("Accept", "*/*"),
            ("Cookie", "a=b"),
            ("X-B", "3"),
        ]);
        assert_eq!(
            unsafe_header_names(&headers),
            ["content-type", "x-a", "x-b"]
        );
        let value = "a".repeat(100);
        let long = pairs(&[("accept", value.as_str()); 11]);
        assert_eq!(
            unsafe_header_names(&long),
            ["accept"],
            "over 1024 bytes of safelisted values"
        );
        let value = "a".repeat(128);
        let at_limit = pairs(&[("accept", value.as_str()); 8]);
        assert!(
            unsafe_header_names(&at_limit).is_empty(),
            "1024 bytes of safelisted values are still safelisted"
        );
        assert!(is_forbidden_request_header("Sec-Fetch-Mode", "cors"));
        assert!(is_forbidden_request_header(
            "X-HTTP-Method-Override",
            "trace"
        ));
        assert!(!is_forbidden_request_header(
            "X-HTTP-Method-Override",
            "PATCH"
        ));
    }

    #[test]
    fn preflight_reasons_explain_themselves() {
        assert!(preflight_reasons("GET", &pairs(&[("content-type", "text/plain")])).is_empty());
        assert_eq!(
            preflight_reasons("PUT", &pairs(&[("content-type", "application/json")])),
            [
                "method `PUT` is not GET, HEAD or POST",
                "`Content-Type: application/json` is not application/x-www-form-urlencoded, multipart/form-data or text/plain"
            ]
        );
    }

    #[test]
    fn the_cors_check_classifies_like_chromium() {
        let none = Credentials::SameOrigin;
        let inc = Credentials::Include;
        assert_eq!(
            cors_check(&h(&[]), O, none),
            Err(Failure::MissingAllowOriginHeader)
        );
        assert_eq!(
            cors_check(&h(&[("access-control-allow-origin", O)]), O, none),
            Ok(())
        );
        assert_eq!(
            cors_check(
                &h(&[
                    ("access-control-allow-origin", O),
                    ("access-control-allow-origin", O)
                ]),
                O,
                none
            ),
            Err(Failure::MultipleAllowOriginValues {
                value: format!("{O}, {O}")
            })
        );
        assert_eq!(
            cors_check(
                &h(&[("access-control-allow-origin", "not an origin")]),
                O,
                none
            ),
            Err(Failure::MultipleAllowOriginValues {
                value: "not an origin".into()
            })
        );
        assert_eq!(
            cors_check(&h(&[("access-control-allow-origin", "")]), O, none),
            Err(Failure::InvalidAllowOriginValue {
                value: String::new()
            })
        );
        assert_eq!(
            cors_check(
                &h(&[("access-control-allow-origin", "http://127.0.0.1:5000/")]),
                O,
                none
            ),
            Err(Failure::AllowOriginMismatch {
                value: "http://127.0.0.1:5000/".into()
            })
        );
        // Neither `null` nor containing `://`: not an origin at all.
        assert_eq!(
            cors_check(&h(&[("access-control-allow-origin", "yes")]), O, none),
            Err(Failure::InvalidAllowOriginValue {
                value: "yes".into()
            })
        );
        // `null` is an origin, just not this page's.
        assert_eq!(
            cors_check(&h(&[("access-control-allow-origin", "null")]), O, none),
            Err(Failure::AllowOriginMismatch {
                value: "null".into()
            })
        );
        assert_eq!(
            cors_check(&h(&[("access-control-allow-origin", "*")]), O, inc),
            Err(Failure::WildcardOriginNotAllowed)
        );
        assert_eq!(
            cors_check(&h(&[("access-control-allow-origin", O)]), O, inc),
            Err(Failure::InvalidAllowCredentials {
                value: String::new()
            })
        );
        assert_eq!(
            cors_check(
                &h(&[
                    ("access-control-allow-origin", O),
                    ("access-control-allow-credentials", "True")
                ]),
                O,
                inc
            ),
            Err(Failure::InvalidAllowCredentials {
                value: "True".into()
            })
        );
        assert_eq!(
            cors_check(
                &h(&[
                    ("access-control-allow-origin", O),
                    ("access-control-allow-credentials", "true")
                ]),
                O,
                inc
            ),
            Ok(())
        );
        // `null` is allowed like any origin, with credentials too (ACAC still required).
        assert_eq!(
            cors_check(&h(&[("access-control-allow-origin", "null")]), "null", inc),
            Err(Failure::InvalidAllowCredentials {
                value: String::new()
            })
        );
    }

    #[test]
    fn the_first_non_token_is_what_the_preflight_check_refuses() {
        let name = &http::header::ACCESS_CONTROL_ALLOW_HEADERS;
        let mut headers = HeaderMap::new();
        assert_eq!(first_non_token(&headers, name), None);
        // Empty elements are skipped, as the check skips them.
        headers.insert(name, HeaderValue::from_static("x-a,, x-b "));
        assert_eq!(first_non_token(&headers, name), None);
        headers.append(name, HeaderValue::from_static("x-c, x(d), x e"));
        assert_eq!(first_non_token(&headers, name).as_deref(), Some("x(d)"));
        let refused = preflight_check(
            200,
            &[
                ("access-control-allow-origin", "http://a.example"),
                ("access-control-allow-headers", "x-c, x(d)"),
            ]
            .into_iter()
            .map(|(n, v)| {
                (
                    http::HeaderName::from_static(n),
                    HeaderValue::from_static(v),
                )
            })
            .collect(),
            "http://a.example",
            Credentials::SameOrigin,
            "GET",
            &["x-c".to_owned()],
        );
        assert_eq!(
            refused.err(),
            Some(Failure::InvalidAllowHeadersPreflightResponse)
        );
    }

    #[test]
    fn the_preflight_check_runs_in_chromiums_order() {
        let acao = ("access-control-allow-origin", O);
        let cred = Credentials::SameOrigin;
        let json = vec!["content-type".to_owned()];
        assert_eq!(
            preflight_check(302, &h(&[acao]), O, cred, "GET", &[]),
            Err(Failure::PreflightDisallowedRedirect)
        );
        assert_eq!(
            preflight_check(405, &h(&[]), O, cred, "PUT", &[]),
            Err(Failure::MissingAllowOriginHeader)
        );
        assert_eq!(
            preflight_check(404, &h(&[acao]), O, cred, "PUT", &[]),
            Err(Failure::PreflightInvalidStatus)
        );
        assert_eq!(
            preflight_check(
                200,
                &h(&[acao, ("access-control-allow-methods", "GET, POST")]),
                O,
                cred,
                "PUT",
                &[]
            ),
            Err(Failure::MethodDisallowedByPreflightResponse {
                method: "PUT".into()
            })
        );
        assert_eq!(
            preflight_check(
                200,
                &h(&[acao, ("access-control-allow-methods", "PATCH")]),
                O,
                cred,
                "patch",
                &[]
            ),
            Err(Failure::MethodDisallowedByPreflightResponse {
                method: "patch".into()
            }),
            "methods compare case-sensitively"
        );
        assert_eq!(
            preflight_check(
                200,
                &h(&[acao, ("access-control-allow-methods", "GET, (PUT)")]),
                O,
                cred,
                "PUT",
                &[]
            ),
            Err(Failure::InvalidAllowMethodsPreflightResponse)
        );
        assert_eq!(
            preflight_check(
                200,
                &h(&[acao, ("access-control-allow-headers", "x-other")]),
                O,
                cred,
                "POST",
                &json
            ),
            Err(Failure::HeaderDisallowedByPreflightResponse {
                header: "content-type".into()
            })
        );
        let ok = preflight_check(
            200,
            &h(&[
                acao,
                ("access-control-allow-methods", "PUT"),
                ("access-control-allow-headers", "Content-Type"),
                ("access-control-max-age", "86400"),
            ]),
            O,
            cred,
            "PUT",
            &json,
        )
        .unwrap();
        assert_eq!(ok.max_age, 7200, "Chromium caps max-age at 2 hours");
        let star = preflight_check(
            200,
            &h(&[
                acao,
                ("access-control-allow-methods", "*"),
                ("access-control-allow-headers", "*"),
            ]),
            O,
            cred,
            "DELETE",
            &[
                "authorization".to_owned(),
                "x-a".to_owned(),
                "x-b".to_owned(),
            ],
        )
        .unwrap();
        // One warning, for `authorization` alone.
        assert_eq!(star.warnings, [Warning::AuthorizationCoveredByWildcard]);
        assert_eq!(star.max_age, 5);
        let inc = Credentials::Include;
        let with_creds = h(&[
            acao,
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "*"),
        ]);
        assert_eq!(
            preflight_check(200, &with_creds, O, inc, "DELETE", &[]),
            Err(Failure::MethodDisallowedByPreflightResponse {
                method: "DELETE".into()
            }),
            "`*` is literal with credentials"
        );
    }

    #[test]
    fn readable_headers_follow_expose_rules() {
        let response = h(&[
            ("content-type", "application/json"),
            ("x-total-count", "2"),
            ("x-secret", "1"),
            ("set-cookie", "a=b"),
            ("access-control-expose-headers", "X-Total-Count"),
        ]);
        assert_eq!(
            readable_headers(&response, Credentials::Omit),
            ["content-type", "x-total-count"]
        );
        let star = h(&[
            ("x-a", "1"),
            ("set-cookie", "a=b"),
            ("access-control-expose-headers", "*"),
        ]);
        assert_eq!(
            readable_headers(&star, Credentials::Omit),
            ["access-control-expose-headers", "x-a"]
        );
        assert!(readable_headers(&star, Credentials::Include).is_empty());
        // A header of several lines is one name; `Set-Cookie2` is never
        // readable either.
        let repeated = h(&[
            ("x-a", "1"),
            ("x-a", "2"),
            ("set-cookie2", "a=b"),
            ("access-control-expose-headers", "*"),
        ]);
        assert_eq!(
            readable_headers(&repeated, Credentials::Omit),
            ["access-control-expose-headers", "x-a"]
        );
    }

    /// Every failure's name and message, for each API and stage, and the
    /// other names and texts of the module, in one reviewed snapshot
    /// (`src/snapshots/`): a changed word anywhere shows in the diff.
    #[test]
    fn every_name_and_message() {
        let failures = [
            Failure::MissingAllowOriginHeader,
            Failure::MultipleAllowOriginValues {
                value: "https://a.example, https://b.example".into(),
            },
            Failure::InvalidAllowOriginValue {
                value: "yes".into(),
            },
            Failure::AllowOriginMismatch {
                value: "https://a.example".into(),
            },
            Failure::WildcardOriginNotAllowed,
            Failure::InvalidAllowCredentials {
                value: "True".into(),
            },
            Failure::PreflightInvalidStatus,
            Failure::PreflightDisallowedRedirect,
            Failure::MethodDisallowedByPreflightResponse {
                method: "PUT".into(),
            },
            Failure::HeaderDisallowedByPreflightResponse {
                header: "x-token".into(),
            },
            Failure::InvalidAllowMethodsPreflightResponse,
            Failure::InvalidAllowHeadersPreflightResponse,
        ];
        let mut text = String::new();
        for failure in &failures {
            text.push_str(&format!("{}\n  display: {failure}\n", failure.name()));
            for api in [Api::Fetch, Api::XmlHttpRequest] {
                for stage in [Stage::Actual, Stage::Preflight] {
                    let reason = failure.reason_text(api, stage);
                    text.push_str(&format!("  {api:?}/{stage:?}: {reason}\n"));
                }
            }
        }
        for credentials in [
            Credentials::Include,
            Credentials::SameOrigin,
            Credentials::Omit,
        ] {
            text.push_str(&format!("{credentials:?}: {}\n", credentials.as_str()));
        }
        text.push_str(&format!("{}\n", Warning::AuthorizationCoveredByWildcard));
        insta::assert_snapshot!(text);
    }

    #[test]
    fn messages_match_chromium_wording() {
        let line = console_message(
            Api::XmlHttpRequest,
            "http://127.0.0.1:8000/b",
            Some("http://127.0.0.1:8000/a"),
            "null",
            &Failure::AllowOriginMismatch { value: O.into() },
            Stage::Actual,
        );
        assert_eq!(
            line,
            "Access to XMLHttpRequest at 'http://127.0.0.1:8000/b' (redirected from 'http://127.0.0.1:8000/a') \
             from origin 'null' has been blocked by CORS policy: The 'Access-Control-Allow-Origin' header has a \
             value 'http://127.0.0.1:5000' that is not equal to the supplied origin."
        );
        assert_eq!(
            Failure::MissingAllowOriginHeader.reason_text(Api::Fetch, Stage::Preflight),
            "Response to preflight request doesn't pass access control check: No 'Access-Control-Allow-Origin' \
             header is present on the requested resource."
        );
        assert_eq!(
            Failure::InvalidAllowCredentials {
                value: String::new()
            }
            .reason_text(Api::XmlHttpRequest, Stage::Actual),
            "The value of the 'Access-Control-Allow-Credentials' header in the response is '' which must be 'true' \
             when the request's credentials mode is 'include'. The credentials mode of requests initiated by the \
             XMLHttpRequest is controlled by the withCredentials attribute."
        );
    }
}
