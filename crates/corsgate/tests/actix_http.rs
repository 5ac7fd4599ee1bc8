//! The actix adapter over real HTTP: an actix-web server on an ephemeral
//! loopback port; error responses of every kind get the CORS headers.
#![cfg(feature = "actix")]

use actix_web::dev::Service;
use actix_web::{App, HttpResponse, HttpServer, web};
use corsgate::Config;
use corsgate::actix::Cors;

const ORIGIN: &str = "http://127.0.0.1:5000";

fn get(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: {ORIGIN}\r\nConnection: close\r\n{extra}\r\n"
    )
}

#[actix_web::test]
async fn every_kind_of_response_gets_the_headers_over_http() {
    let policy = Config::builder()
        .allowed_origins([ORIGIN])
        .allow_credentials(true)
        .compile()
        .unwrap();
    let server = HttpServer::new(move || {
        App::new()
            // An inner middleware that fails for one path, as auth middleware does.
            .wrap_fn(|req, srv| {
                let fail = req.path() == "/guarded";
                let call = srv.call(req);
                async move {
                    if fail {
                        return Err(actix_web::error::ErrorUnauthorized("no token"));
                    }
                    call.await
                }
            })
            .wrap(Cors::new(policy.clone()))
            .route(
                "/users",
                web::get().to(|| async { HttpResponse::Ok().body("[]") }),
            )
            .route(
                "/boom",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(actix_web::error::ErrorInternalServerError("boom"))
                }),
            )
            .route(
                "/json",
                web::post().to(|body: web::Json<serde_json::Value>| async move {
                    HttpResponse::Ok().json(body.0)
                }),
            )
            .route(
                "/guarded",
                web::get().to(|| async { HttpResponse::Ok().finish() }),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let corsgate_testkit::RawResponse {
        status,
        headers,
        body,
    } = corsgate_testkit::raw_http(addr, &get("/users", "")).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-origin"),
        [ORIGIN]
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-credentials"),
        ["true"]
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "vary"),
        ["Origin"]
    );

    let bad_json = "POST /json HTTP/1.1\r\nHost: x\r\nOrigin: http://127.0.0.1:5000\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{nope";
    for (request, expected) in [
        (get("/nope", ""), 404),
        (get("/boom", ""), 500),
        (bad_json.to_owned(), 400),
        (get("/guarded", ""), 401),
    ] {
        let corsgate_testkit::RawResponse {
            status,
            headers,
            body: _,
        } = corsgate_testkit::raw_http(addr, &request).await;
        let path = request.split(' ').nth(1).unwrap();
        assert_eq!(status, expected, "{path}");
        assert_eq!(
            corsgate_testkit::header_values(&headers, "access-control-allow-origin"),
            [ORIGIN],
            "{path}"
        );
    }

    let preflight = "OPTIONS /users HTTP/1.1\r\nHost: x\r\nOrigin: http://127.0.0.1:5000\r\n\
                     Access-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n";
    let corsgate_testkit::RawResponse {
        status,
        headers,
        body,
    } = corsgate_testkit::raw_http(addr, preflight).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(
        corsgate_testkit::header_values(&headers, "content-length"),
        ["0"],
        "exactly one Content-Length"
    );
    assert_eq!(
        corsgate_testkit::header_values(&headers, "access-control-allow-methods"),
        ["DELETE, GET, OPTIONS, PATCH, POST, PUT"]
    );

    handle.stop(false).await;
}
