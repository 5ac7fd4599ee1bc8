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

/// Dynamic checks, report-only and live swap through the actix adapter.
mod runtime {
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, HttpResponse, web};
    use corsgate::actix::Cors;
    use corsgate::{Config, OriginCheck, PolicyHandle, ReasonKind};

    const TENANT: &str = "https://tenant.example.com";

    fn acao(
        response: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    ) -> Option<String> {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// `GET /x` from `origin`.
    fn get(origin: &str) -> TestRequest {
        TestRequest::get()
            .uri("/x")
            .insert_header(("origin", origin))
    }

    /// A preflight of `PUT /x` from `origin`.
    fn preflight(origin: &str) -> TestRequest {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/x")
            .insert_header(("origin", origin))
            .insert_header(("access-control-request-method", "PUT"))
    }

    fn app_answer() -> HttpResponse {
        HttpResponse::Ok()
            .insert_header(("access-control-allow-origin", "*"))
            .insert_header(("x-app", "1"))
            .body("hi")
    }

    /// A proxy's mode: the app's own `*` is replaced even for a refused
    /// origin, and the decision is handed over in the extensions.
    #[actix_web::test]
    async fn replacing_app_headers_and_exposing_the_decision() {
        let policy = Config::builder()
            .allowed_origins([TENANT])
            .compile()
            .unwrap();
        let plain = init_service(
            App::new()
                .wrap(Cors::new(policy.clone()))
                .route("/x", web::get().to(|| async { app_answer() })),
        )
        .await;
        let proxy = init_service(
            App::new()
                .wrap(
                    Cors::new(policy)
                        .replacing_app_headers()
                        .exposing_decision(),
                )
                .route("/x", web::get().to(|| async { app_answer() })),
        )
        .await;
        let response = call_service(&plain, get("https://evil.example").to_request()).await;
        assert_eq!(acao(&response).as_deref(), Some("*"));
        assert!(
            response
                .response()
                .extensions()
                .get::<corsgate::Decision>()
                .is_none()
        );
        let response = call_service(&proxy, get("https://evil.example").to_request()).await;
        assert_eq!(acao(&response), None);
        let reason = response
            .response()
            .extensions()
            .get::<corsgate::Decision>()
            .map(|d| d.reason().kind());
        assert_eq!(reason, Some(ReasonKind::OriginNotAllowed));
        let response = call_service(&proxy, get(TENANT).to_request()).await;
        assert_eq!(acao(&response).as_deref(), Some(TENANT));
        let preflight = preflight(TENANT).to_request();
        let response = call_service(&proxy, preflight).await;
        let kind = response
            .response()
            .extensions()
            .get::<corsgate::Decision>()
            .map(corsgate::Decision::kind);
        assert_eq!(kind, Some(corsgate::DecisionKind::Preflight));
    }

    /// An application's own CORS headers are replaced by the policy's, one
    /// value each, and a preflight's answer holds each header once: the
    /// middleware appends only to a map with no `Access-Control-*` header.
    #[actix_web::test]
    async fn the_apps_own_cors_headers_are_replaced_not_doubled() {
        let policy = Config::builder()
            .allowed_origins([TENANT])
            .allow_credentials(true)
            .expose_headers(["x-total"])
            .compile()
            .unwrap();
        let app = init_service(App::new().wrap(Cors::new(policy)).route(
            "/x",
            web::get().to(|| async {
                HttpResponse::Ok()
                    .insert_header(("access-control-allow-origin", "*"))
                    .insert_header(("access-control-allow-credentials", "false"))
                    .insert_header(("access-control-expose-headers", "x-app"))
                    .body("hi")
            }),
        ))
        .await;
        let values = |response: &actix_web::dev::ServiceResponse<_>, name: &str| {
            let values: Vec<String> = response
                .headers()
                .get_all(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .collect();
            values
        };
        let response = call_service(&app, get(TENANT).to_request()).await;
        assert_eq!(values(&response, "access-control-allow-origin"), [TENANT]);
        assert_eq!(
            values(&response, "access-control-allow-credentials"),
            ["true"]
        );
        assert_eq!(
            values(&response, "access-control-expose-headers"),
            ["x-total"]
        );
        // Refused: the app's own headers stay (as django leaves them).
        let response = call_service(&app, get("https://evil.example").to_request()).await;
        assert_eq!(values(&response, "access-control-allow-origin"), ["*"]);
        let preflight = preflight(TENANT).to_request();
        let response = call_service(&app, preflight).await;
        let mut names: Vec<&str> = response.headers().keys().map(|n| n.as_str()).collect();
        names.sort_unstable();
        let total = response.headers().len();
        assert_eq!(total, names.len(), "one value a header: {names:?}");
        assert_eq!(
            names,
            [
                "access-control-allow-credentials",
                "access-control-allow-headers",
                "access-control-allow-methods",
                "access-control-allow-origin",
                "access-control-expose-headers",
                "access-control-max-age",
                "content-length",
                "vary",
            ]
        );
    }

    #[actix_web::test]
    async fn an_async_check_is_awaited_and_fails_closed() {
        let tenants: Arc<Mutex<HashSet<String>>> = Arc::default();
        let store = Arc::clone(&tenants);
        let check = OriginCheck::new_async(move |request| {
            let store = Arc::clone(&store);
            let origin = request.origin().unwrap_or_default().to_owned();
            async move {
                if origin == "https://broken.example" {
                    return Err(std::io::Error::other("lookup failed"));
                }
                Ok(store.lock().unwrap().contains(&origin))
            }
        })
        .timeout(Duration::from_millis(200));
        let cors = Cors::new(Config::builder().compile().unwrap()).with_origin_check(check);
        let stats = cors.stats();
        let app = init_service(App::new().wrap(cors).route(
            "/x",
            web::get().to(|| async { HttpResponse::Ok().body("x") }),
        ))
        .await;

        assert_eq!(
            acao(&call_service(&app, get(TENANT).to_request()).await),
            None
        );
        tenants.lock().unwrap().insert(TENANT.to_owned());
        assert_eq!(
            acao(&call_service(&app, get(TENANT).to_request()).await).as_deref(),
            Some(TENANT)
        );
        let preflight = preflight(TENANT).to_request();
        let answer = call_service(&app, preflight).await;
        assert_eq!(acao(&answer).as_deref(), Some(TENANT));
        assert_eq!(
            acao(&call_service(&app, get("https://broken.example").to_request()).await),
            None
        );
        let now = stats.snapshot();
        assert_eq!(
            (now.checks_allowed, now.checks_denied, now.checks_failed),
            (2, 1, 1)
        );
    }

    // Without a check the middleware reads actix's headers in place; a
    // check may read any header, so it is handed all of them.
    #[actix_web::test]
    async fn a_check_sees_every_request_header_not_only_the_cors_ones() {
        let check = OriginCheck::new(|request| {
            request.headers().get("x-tenant").map(|v| v.as_bytes()) == Some(b"acme")
                && request.method() == actix_web::http::Method::GET.as_str()
        });
        let cors = Cors::new(Config::builder().compile().unwrap()).with_origin_check(check);
        let app = init_service(App::new().wrap(cors).route(
            "/x",
            web::get().to(|| async { HttpResponse::Ok().body("x") }),
        ))
        .await;
        let tenant = get(TENANT).insert_header(("x-tenant", "acme")).to_request();
        assert_eq!(
            acao(&call_service(&app, tenant).await).as_deref(),
            Some(TENANT)
        );
        let other = get(TENANT)
            .insert_header(("x-tenant", "other"))
            .to_request();
        assert_eq!(acao(&call_service(&app, other).await), None);
    }

    #[actix_web::test]
    async fn report_only_leaves_responses_alone_and_counts() {
        let policy = Config::builder()
            .allowed_origins(["https://app.example.com"])
            .report_only(true)
            .compile()
            .unwrap();
        let cors = Cors::new(policy);
        let stats = cors.stats();
        let app = init_service(
            App::new()
                .wrap(cors)
                .default_service(web::to(|| async { app_answer() })),
        )
        .await;
        for origin in ["https://app.example.com", "https://evil.example"] {
            let response = call_service(
                &app,
                TestRequest::get()
                    .uri("/x")
                    .insert_header(("origin", origin))
                    .to_request(),
            )
            .await;
            let headers: Vec<_> = response
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            let mut headers = headers;
            headers.sort();
            let bare = app_answer();
            let mut expected: Vec<_> = bare
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            expected.sort();
            assert_eq!(
                headers, expected,
                "{origin}: the application's headers, untouched"
            );
            assert_eq!(response.status(), bare.status());
        }
        // A preflight reaches the application.
        let preflight = preflight("https://evil.example").to_request();
        let answer = call_service(&app, preflight).await;
        assert_eq!(answer.headers().get("x-app").unwrap(), "1");
        let now = stats.snapshot();
        assert_eq!(
            (
                now.allowed(),
                now.rejected(ReasonKind::OriginNotAllowed),
                now.preflights()
            ),
            (1, 2, 1)
        );
    }

    /// In report-only mode an error from below (an auth middleware's)
    /// reaches actix as it was: no CORS headers on its rendered response,
    /// the decision still counted.
    #[actix_web::test]
    async fn report_only_passes_errors_on_untouched() {
        let policy = Config::builder()
            .allowed_origins([TENANT])
            .report_only(true)
            .compile()
            .unwrap();
        let cors = Cors::new(policy).exposing_decision();
        let stats = cors.stats();
        let app = init_service(
            App::new()
                .wrap_fn(|_req, _srv| async {
                    Err::<actix_web::dev::ServiceResponse, _>(actix_web::error::ErrorUnauthorized(
                        "no token",
                    ))
                })
                .wrap(cors)
                .route("/x", web::get().to(|| async { app_answer() })),
        )
        .await;
        let response = actix_web::dev::Service::call(&app, get(TENANT).to_request()).await;
        let Err(error) = response else {
            panic!("the inner error is passed on");
        };
        let rendered = error.error_response();
        assert_eq!(rendered.status(), 401);
        assert!(
            rendered
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert!(rendered.headers().get("vary").is_none());
        assert_eq!(stats.snapshot().allowed(), 1);
    }

    #[actix_web::test]
    async fn a_stored_policy_serves_the_next_request() {
        let handle = PolicyHandle::new(
            Config::builder()
                .allowed_origins(["https://a.example"])
                .compile()
                .unwrap(),
        );
        let app = init_service(App::new().wrap(Cors::with_handle(handle.clone())).route(
            "/x",
            web::get().to(|| async { HttpResponse::Ok().finish() }),
        ))
        .await;
        assert_eq!(
            acao(&call_service(&app, get("https://b.example").to_request()).await),
            None
        );
        handle.store(
            Config::builder()
                .allowed_origins(["https://b.example"])
                .compile()
                .unwrap(),
        );
        assert_eq!(
            acao(&call_service(&app, get("https://b.example").to_request()).await).as_deref(),
            Some("https://b.example")
        );
        assert_eq!(
            acao(&call_service(&app, get("https://a.example").to_request()).await),
            None
        );
    }
}
