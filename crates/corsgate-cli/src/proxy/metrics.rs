//! `--metrics-listen`: the decision counters in the Prometheus text
//! exposition format (0.0.4), on a listener of their own. The format lives
//! here, in the CLI, not in the library: a library user feeds
//! `StatsSnapshot` to the metrics crate of their choice.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use corsgate::{DecisionKind, Stats, StatsSnapshot};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `GET /metrics`: the decision counters in the Prometheus text
/// format. Anything else is 404 (or 405 for another method).
pub(super) async fn serve(listener: TcpListener, stats: Stats) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let stats = stats.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let response = metrics_response(&stats, req.method(), req.uri().path());
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn metrics_response(stats: &Stats, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (method, path) {
        (&Method::GET | &Method::HEAD, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            prometheus_text(&stats.snapshot()),
        ),
        (_, "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "use GET\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "the metrics are at /metrics\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Two series, each without redundancy: every decision by request kind,
/// reason and whether the browser lets the page read; and the dynamic
/// checks by result. The rest are sums, left to PromQL:
/// `sum by (reason) (corsgate_decisions_total{allowed="false"})` is what
/// a browser blocks, by reason; `sum(corsgate_decisions_total{kind="preflight"})`
/// the preflights.
fn prometheus_text(now: &StatsSnapshot) -> String {
    let mut out = String::new();
    out.push_str("# HELP corsgate_decisions_total CORS decisions by request kind and reason; allowed=\"false\" is what a browser blocks.\n");
    out.push_str("# TYPE corsgate_decisions_total counter\n");
    for (kind, reason, n) in &now.decisions {
        let kind = match kind {
            DecisionKind::Preflight => "preflight",
            DecisionKind::Actual => "actual",
            _ => "out_of_scope",
        };
        let _ = writeln!(
            out,
            "corsgate_decisions_total{{kind=\"{kind}\",reason=\"{reason}\",allowed=\"{}\"}} {n}",
            reason.is_allowed()
        );
    }
    out.push_str("# HELP corsgate_origin_checks_total Dynamic origin checks by result.\n");
    out.push_str("# TYPE corsgate_origin_checks_total counter\n");
    for (result, n) in [
        ("allowed", now.checks_allowed),
        ("denied", now.checks_denied),
        ("failed", now.checks_failed),
    ] {
        let _ = writeln!(
            out,
            "corsgate_origin_checks_total{{result=\"{result}\"}} {n}"
        );
    }
    out
}
