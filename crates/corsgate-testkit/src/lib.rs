//! Test support for corsgate: loads the conformance table
//! (`testdata/conformance/*.toml`), runs a row against a bare [`Policy`],
//! and compares observed responses with the expected ones, normalising
//! list-valued headers. Every adapter's test runs the same rows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use corsgate::{Decision, DecisionKind, Policy};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use serde::Deserialize;

/// One row: a configuration, a request, what the application would answer,
/// and what must come out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// kebab-case, unique across the table.
    pub name: String,
    /// Where the row comes from (a django-cors-headers test, a spec rule).
    #[serde(default)]
    pub about: String,
    /// The configuration, in the file format (any accepted key names).
    pub config: toml::Table,
    /// The request.
    pub request: RequestSpec,
    /// What the application answers when it is called.
    #[serde(default)]
    pub app: AppSpec,
    /// What must come out.
    pub expect: Expect,
    /// The file the row is in.
    #[serde(skip)]
    pub file: PathBuf,
}

/// The request of a row.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// The method, as sent (case kept).
    pub method: String,
    /// Path and query.
    #[serde(default = "default_path")]
    pub path: String,
    /// Header name → one value, or a list for several header lines.
    #[serde(default)]
    pub headers: BTreeMap<String, OneOrMany>,
}

fn default_path() -> String {
    "/".to_owned()
}

/// One header value or several lines of one header.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One line.
    One(String),
    /// Several lines.
    Many(Vec<String>),
}

impl OneOrMany {
    fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(v) => vec![v],
            OneOrMany::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }
}

/// What the application answers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// The status (default 200).
    #[serde(default = "default_status")]
    pub status: u16,
    /// Headers the application sets itself.
    #[serde(default)]
    pub headers: BTreeMap<String, OneOrMany>,
}

impl Default for AppSpec {
    fn default() -> Self {
        Self {
            status: 200,
            headers: BTreeMap::new(),
        }
    }
}

fn default_status() -> u16 {
    200
}

/// What must come out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The response status.
    pub status: u16,
    /// Whether the application was called (false for an answered preflight).
    pub app_called: bool,
    /// The decision's reason name (`Reason::name`).
    pub reason: String,
    /// Expected headers. Every `access-control-*` and `vary` header of the
    /// response must be listed here; others are checked only when listed.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// What a runner observed.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The response status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// Whether the application was called.
    pub app_called: bool,
}

/// The conformance table's folder.
pub fn table_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

/// Loads every row of every `*.toml` file in the table, checking that
/// names are unique.
///
/// # Panics
/// On an unreadable file, a malformed row or a duplicate name: the table
/// itself is broken.
pub fn load_cases() -> Vec<Case> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        case: Vec<Case>,
    }
    let mut paths: Vec<PathBuf> = std::fs::read_dir(table_dir())
        .expect("testdata/conformance exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable table file");
        let file: File =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for mut case in file.case {
            case.file = path.clone();
            for value in case.expect.headers.values_mut() {
                *value = expand_named(value);
            }
            cases.push(case);
        }
    }
    let mut names = std::collections::HashSet::new();
    for case in &cases {
        assert!(
            names.insert(case.name.clone()),
            "duplicate conformance row name `{}`",
            case.name
        );
    }
    assert!(!cases.is_empty(), "the conformance table is empty");
    cases
}

/// django-cors-headers' default `CORS_ALLOW_HEADERS`, as its documentation
/// lists it (written out here: the testkit does not take it from the code
/// it checks).
pub const DJANGO_DEFAULT_HEADERS: &str =
    "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with";

/// django-cors-headers' default `CORS_ALLOW_METHODS`, as documented.
pub const DJANGO_DEFAULT_METHODS: &str = "DELETE, GET, OPTIONS, PATCH, POST, PUT";

/// An expected header value of `$default-headers` or `$default-methods`
/// names django's default list (rows would otherwise repeat it twenty times).
fn expand_named(value: &str) -> String {
    match value {
        "$default-headers" => DJANGO_DEFAULT_HEADERS.to_owned(),
        "$default-methods" => DJANGO_DEFAULT_METHODS.to_owned(),
        other => other.to_owned(),
    }
}

impl Case {
    /// The row's configuration, compiled.
    ///
    /// # Panics
    /// If the configuration is invalid: the row is broken.
    pub fn policy(&self) -> Policy {
        Policy::from_toml_str(&self.config_toml())
            .unwrap_or_else(|e| panic!("row `{}`: invalid config:\n{e}", self.name))
    }

    /// The row's configuration as a TOML file's text.
    ///
    /// # Panics
    /// If the configuration cannot be written as TOML: the row is broken.
    pub fn config_toml(&self) -> String {
        toml::to_string(&self.config).expect("config serialises")
    }

    /// The row's request with an empty body.
    ///
    /// # Panics
    /// If the row's method, path or headers are not valid HTTP.
    pub fn request<B: Default>(&self) -> Request<B> {
        let method = Method::from_bytes(self.request.method.as_bytes()).expect("valid method");
        let mut request = Request::builder()
            .method(method)
            .uri(&self.request.path)
            .body(B::default())
            .expect("valid request");
        fill(request.headers_mut(), &self.request.headers);
        request
    }

    /// What the application answers, with an empty body.
    ///
    /// # Panics
    /// If the row's status or headers are not valid HTTP.
    pub fn app_response<B: Default>(&self) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = StatusCode::from_u16(self.app.status).expect("valid status");
        fill(response.headers_mut(), &self.app.headers);
        response
    }

    /// Checks what a runner observed; `Err` says every difference.
    pub fn check(&self, observed: &Observed, reason: Option<&str>) -> Result<(), String> {
        let mut problems = Vec::new();
        if observed.status.as_u16() != self.expect.status {
            problems.push(format!(
                "status: expected {}, got {}",
                self.expect.status, observed.status
            ));
        }
        if observed.app_called != self.expect.app_called {
            problems.push(format!(
                "app called: expected {}, got {}",
                self.expect.app_called, observed.app_called
            ));
        }
        if let Some(reason) = reason
            && reason != self.expect.reason
        {
            problems.push(format!(
                "reason: expected `{}`, got `{reason}`",
                self.expect.reason
            ));
        }
        for (name, expected) in &self.expect.headers {
            let got = joined(&observed.headers, name);
            match got {
                None => problems.push(format!("header `{name}`: expected `{expected}`, missing")),
                Some(got) if normalise(name, &got) != normalise(name, expected) => {
                    problems.push(format!(
                        "header `{name}`: expected `{expected}`, got `{got}`"
                    ));
                }
                Some(_) => {}
            }
        }
        for name in observed.headers.keys() {
            let cors = name.as_str().starts_with("access-control-") || name == http::header::VARY;
            if cors
                && !self
                    .expect
                    .headers
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case(name.as_str()))
            {
                let got = joined(&observed.headers, name.as_str()).unwrap_or_default();
                problems.push(format!("header `{name}`: not expected, got `{got}`"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "row `{}` ({}): {}\n  {}",
                self.name,
                self.file.file_name().unwrap_or_default().to_string_lossy(),
                self.about,
                problems.join("\n  ")
            ))
        }
    }
}

/// Runs a row against the bare policy: a preflight is answered with the
/// decision's response, anything else gets the app's response with the
/// decision applied. Returns the observation and the decision.
pub fn run_policy(case: &Case) -> (Observed, Decision) {
    let policy = case.policy();
    let request: Request<()> = case.request();
    let decision = policy.decide_request(&request);
    if decision.kind() == DecisionKind::Preflight {
        let response: Response<()> = decision.preflight_response();
        let observed = Observed {
            status: response.status(),
            headers: response.headers().clone(),
            app_called: false,
        };
        return (observed, decision);
    }
    let mut response: Response<()> = case.app_response();
    decision.apply(response.headers_mut());
    let observed = Observed {
        status: response.status(),
        headers: response.headers().clone(),
        app_called: true,
    };
    (observed, decision)
}

fn fill(headers: &mut HeaderMap, spec: &BTreeMap<String, OneOrMany>) {
    for (name, values) in spec {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        for value in values.values() {
            headers.append(
                name.clone(),
                HeaderValue::from_str(value).expect("valid header value"),
            );
        }
    }
}

/// All lines of a header joined with `, ` (how a browser combines them).
fn joined(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// List-valued headers compare element by element after trimming; names
/// in `Vary`, `-Allow-Headers` and `-Expose-Headers` case-insensitively.
/// Single-valued headers compare exactly.
fn normalise(name: &str, value: &str) -> Vec<String> {
    let name = name.to_ascii_lowercase();
    let list = matches!(
        name.as_str(),
        "vary"
            | "access-control-allow-headers"
            | "access-control-expose-headers"
            | "access-control-allow-methods"
    );
    if !list {
        return vec![value.to_owned()];
    }
    let case_insensitive = name != "access-control-allow-methods";
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if case_insensitive {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            }
        })
        .collect()
}

/// A response read off the wire: status, header lines (names lower-cased,
/// in order, repeated lines kept) and body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The header lines.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl RawResponse {
    /// Every value of a header, in order (to see duplicates).
    pub fn values(&self, name: &str) -> Vec<&str> {
        header_values(&self.headers, name)
    }
}

/// Every value of a header in a list of header lines, in order.
pub fn header_values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Sends one raw HTTP/1.1 request (which should say `Connection: close`)
/// and reads the whole answer, so tests see exactly what went on the wire.
///
/// # Panics
/// When the connection fails or the answer is not HTTP: the test fails.
pub async fn raw_http(addr: std::net::SocketAddr, request: &str) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}
