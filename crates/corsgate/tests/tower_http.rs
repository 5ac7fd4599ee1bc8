//! The tower adapter over real HTTP: axum 0.8 and plain hyper 1 servers on
//! ephemeral loopback ports, a raw HTTP/1.1 client, error responses of the
//! inner service included.

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use corsgate::Config;
use corsgate::tower::CorsLayer;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use tokio::net::TcpListener;

fn policy() -> corsgate::Policy {
    Config::builder()
        .allowed_origins(["http://127.0.0.1:5000"])
        .expose_headers(["x-total-count"])
        .allow_credentials(true)
        .compile()
        .unwrap()
}

fn request(method: &str, path: &str, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: close\r\n{extra}\r\n")
}

async fn serve_axum() -> SocketAddr {
    let app = Router::new()
        .route(
            "/users",
            get(|| async { ([("x-total-count", "2")], "[\"ada\",\"bob\"]") }),
        )
        .route(
            "/boom",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .layer(CorsLayer::new(policy()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test]
async fn axum_over_http_answers_preflights_and_decorates_every_response() {
    let addr = serve_axum().await;
    let origin = "Origin: http://127.0.0.1:5000\r\n";

    let corsgate_testkit::RawResponse {
        status,
        headers,
        body,
    } = corsgate_testkit::raw_http(addr, &request("GET", "/users", origin)).await;
    assert_eq!(status, 200);
    assert_eq!(body, "[\"ada\",\"bob\"]");
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-origin"),
        ["http://127.0.0.1:5000"]
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-credentials"),
        ["true"]
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-expose-headers"),
        ["x-total-count"]
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "vary"),
        ["Origin"]
    );

    // A preflight to a route that has no OPTIONS handler: answered 200 by the layer.
    let preflight = format!(
        "{origin}Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: content-type\r\n"
    );
    let corsgate_testkit::RawResponse {
        status,
        headers,
        body,
    } = corsgate_testkit::raw_http(addr, &request("OPTIONS", "/users", &preflight)).await;
    assert_eq!(status, 200);
    assert_eq!(body, "");
    assert_eq!(
        corsgate_testkit::header_values(&headers, "content-length"),
        ["0"]
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-methods"),
        ["DELETE, GET, OPTIONS, PATCH, POST, PUT"]
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-max-age"),
        ["86400"]
    );

    // axum's own 404 for an unknown route, its 405, and a handler's 500.
    for (method, path, expected) in [
        ("GET", "/nope", 404),
        ("POST", "/users", 405),
        ("GET", "/boom", 500),
    ] {
        let corsgate_testkit::RawResponse {
            status,
            headers,
            body: _,
        } = corsgate_testkit::raw_http(addr, &request(method, path, origin)).await;
        assert_eq!(status, expected, "{method} {path}");
        assert_eq!(
            corsgate_testkit::header_values(&headers, "access-control-allow-origin"),
            ["http://127.0.0.1:5000"],
            "{method} {path}"
        );
    }

    // A disallowed origin: the app answers, only Vary is added.
    let corsgate_testkit::RawResponse {
        status,
        headers,
        body: _,
    } = corsgate_testkit::raw_http(
        addr,
        &request("GET", "/users", "Origin: http://evil.example\r\n"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(corsgate_testkit::header_values(&headers, "access-control-allow-origin").is_empty());
    assert_eq!(
        corsgate_testkit::header_values(&headers, "vary"),
        ["Origin"]
    );
}

#[tokio::test]
async fn plain_hyper_service_through_the_tower_bridge() {
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceBuilder;

    async fn hello(_: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, Infallible> {
        Ok(http::Response::new(Full::new(Bytes::from_static(b"hello"))))
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = ServiceBuilder::new()
                .layer(CorsLayer::new(policy()))
                .service(tower::service_fn(hello));
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                    .await;
            });
        }
    });

    let corsgate_testkit::RawResponse {
        status,
        headers,
        body,
    } = corsgate_testkit::raw_http(
        addr,
        &request("GET", "/", "Origin: http://127.0.0.1:5000\r\n"),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "hello"));
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-origin"),
        ["http://127.0.0.1:5000"]
    );

    let preflight = "Origin: http://127.0.0.1:5000\r\nAccess-Control-Request-Method: DELETE\r\n";
    let corsgate_testkit::RawResponse {
        status,
        headers,
        body,
    } = corsgate_testkit::raw_http(addr, &request("OPTIONS", "/", preflight)).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-credentials"),
        ["true"]
    );
}

/// tonic's router (what a gRPC-web front-end calls from the browser): its
/// body type works with the layer, preflights are answered, and tonic's
/// own "unimplemented" answer gets the CORS headers.
#[tokio::test]
async fn tonic_routes_accept_the_layer() {
    use tower::{Layer, ServiceExt};

    let routes = tonic::service::Routes::default();
    let service = CorsLayer::new(policy()).layer(routes);

    let preflight = http::Request::builder()
        .method("OPTIONS")
        .uri("/helloworld.Greeter/SayHello")
        .header("origin", "http://127.0.0.1:5000")
        .header("access-control-request-method", "POST")
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = service.clone().oneshot(preflight).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://127.0.0.1:5000"
    );

    let call = http::Request::builder()
        .method("POST")
        .uri("/helloworld.Greeter/SayHello")
        .header("origin", "http://127.0.0.1:5000")
        .header("content-type", "application/grpc-web")
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = service.oneshot(call).await.unwrap();
    assert_eq!(
        response.headers()["grpc-status"],
        "12",
        "tonic answered unimplemented"
    );
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://127.0.0.1:5000"
    );
}
