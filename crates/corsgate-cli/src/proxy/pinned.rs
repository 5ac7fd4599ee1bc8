//! Upstream connections pinned to a client connection: an HTTP/1 client's
//! requests to a plain-http upstream go, in turn, over one upstream
//! connection that this client connection owns, instead of through the
//! shared pool.
//!
//! Why: an HTTP/1 client connection sends one request at a time, so it
//! needs at most one upstream connection per upstream, and keeping it here
//! skips what the pool does per request (a checkout under a lock keyed by
//! the upstream, a task to return the connection when its body is done).
//! callgrind, the proxy per GET: 60,052 → 51,590 instructions
//! (docs/benchmarks.md).
//!
//! When the client connection closes, its upstream connections are left
//! in [`Idle`] for the next client connection to take: a client that sends
//! one request per connection (`Connection: close`) would otherwise cost a
//! new upstream connection per request.
//!
//! An upstream may close a kept connection (its keep-alive timeout) just
//! as a request is written to it. A request it did not take goes on a new
//! connection; one it took is sent again only if that is safe: no body, an
//! idempotent method, and the connection had been idle long enough to have
//! timed out ([`MAY_HAVE_TIMED_OUT`]), so the copy this needs is not made on
//! a busy connection.
//!
//! https upstreams and HTTP/2 clients (whose requests come concurrently)
//! keep the pool.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use http::uri::Authority;
use http::{Method, Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tower::ServiceExt;
use tracing::debug;

use super::upstream::Upstream;
use super::{Body, BoxError};

/// How long a kept connection must have been idle before a request sent on
/// it is copied, to be sent again should the upstream close the connection
/// instead of answering. Upstreams close idle connections after seconds
/// (gunicorn 2 s, uvicorn and Node.js 5 s, nginx 75 s); a connection in use
/// more often than this is not closed by a timeout, and its requests are not
/// copied.
const MAY_HAVE_TIMED_OUT: Duration = Duration::from_secs(1);

/// An upstream connection not in use, and since when.
struct Kept {
    /// The upstream's [`key`](super::upstream::Upstream::key).
    key: usize,
    sender: SendRequest<Body>,
    since: Instant,
}

/// The upstream connections of one client connection, by upstream key.
pub(crate) struct Pinned {
    kept: Mutex<Vec<Kept>>,
    /// Where they go when the client connection closes.
    idle: Arc<Idle>,
    /// The `--timeout` of this client connection's requests, one at a time
    /// ([`Pinned::within`]); made with the first.
    timer: Mutex<Option<Pin<Box<tokio::time::Sleep>>>>,
}

/// The upstream did not answer within `--timeout`.
#[derive(Debug)]
pub(crate) struct TimedOut;

/// Upstream connections left by client connections that closed, newest
/// last; at most `most` (then the oldest is closed). One per serving
/// thread, which share [`Idle::MOST_IN_ALL`].
pub(crate) struct Idle {
    kept: Mutex<VecDeque<Kept>>,
    most: usize,
}

impl Idle {
    /// How many wait, over every serving thread's (at least one each).
    pub(crate) const MOST_IN_ALL: usize = 64;

    /// A serving thread's, when `threads` serve.
    pub(crate) fn new(threads: usize) -> Self {
        Self {
            kept: Mutex::new(VecDeque::new()),
            most: (Self::MOST_IN_ALL / threads.max(1)).max(1),
        }
    }

    /// The newest connection to the upstream `key` that can take a request
    /// now; the others to it met on the way (closed, or still busy) are
    /// closed.
    fn take(&self, key: usize) -> Option<Kept> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(at) = kept.iter().rposition(|k| k.key == key) {
            let one = kept.remove(at)?;
            if one.sender.is_ready() {
                return Some(one);
            }
        }
        None
    }

    fn put(&self, one: Kept) {
        if one.sender.is_closed() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= self.most {
            kept.pop_front();
        }
        kept.push_back(one);
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let kept = self.kept.get_mut().unwrap_or_else(PoisonError::into_inner);
        for one in kept.drain(..) {
            self.idle.put(one);
        }
    }
}

/// Why a request got no response from the upstream.
#[derive(Debug)]
pub(crate) struct SendError {
    /// The connection could not be made (nothing was sent).
    pub(crate) connect: bool,
    pub(crate) error: BoxError,
}

impl Pinned {
    /// A client connection's, handing its connections to `idle` when it
    /// closes.
    pub(crate) fn new(idle: Arc<Idle>) -> Self {
        Self {
            kept: Mutex::new(Vec::new()),
            idle,
            timer: Mutex::new(None),
        }
    }

    /// `request`'s output, or [`TimedOut`] once `limit` has passed: what
    /// `tokio::time::timeout` does, with one timer for the client
    /// connection's requests instead of one per request.
    ///
    /// Why: a timer per request is put in Tokio's timer wheel on its first
    /// poll and taken out when dropped, each under the timer driver's lock
    /// (≈ 650 instructions per proxied request, docs/benchmarks.md). This
    /// one is pushed to each request's deadline, which is later than the
    /// last one's: Tokio then updates it with one atomic operation, and
    /// only a timer that has fired (after `limit` without a request) goes
    /// back into the wheel. An HTTP/1 client connection — the only kind
    /// whose requests come here — sends one request at a time, so its
    /// requests never share the timer at once (HTTP/2 clients, whose
    /// requests are concurrent, keep a timer each).
    ///
    /// An `async fn`, though it holds `request`'s future twice (see
    /// [`Pinned::send`]): written as a future of its own it made no
    /// difference per proxied GET (callgrind, docs/benchmarks.md).
    pub(crate) async fn within<F: Future>(
        &self,
        limit: Duration,
        request: F,
    ) -> Result<F::Output, TimedOut> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut request = std::pin::pin!(request);
        let mut set = false;
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = request.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            let mut timer = self.timer.lock().unwrap_or_else(PoisonError::into_inner);
            let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if !set {
                set = true;
                timer.as_mut().reset(deadline);
            }
            timer.as_mut().poll(cx).map(|()| Err(TimedOut))
        })
        .await
    }

    /// Sends `request` (its URI in origin form: the path and query) to
    /// `upstream`, over this client connection's connection to it (found by
    /// the upstream's key), or a new one.
    ///
    /// A kept connection the upstream closed meanwhile is replaced: if the
    /// request was not written to it, it goes on a new connection (what the
    /// pool does too). A request written to a kept connection that the
    /// upstream then closed without answering is sent again on a new one if
    /// that is safe ([`resendable`]); otherwise (it may have been acted on)
    /// that is the caller's 502.
    ///
    /// Not an `async fn`, which would store `request` twice (the argument,
    /// and the local it is moved into): this future is part of every
    /// request's, moved whole per request (`forward`).
    #[expect(
        clippy::manual_async_fn,
        reason = "an `async fn` stores `request` twice, see above"
    )]
    pub(crate) fn send<'a>(
        &'a self,
        connector: &'a HttpConnector,
        upstream: &'a Upstream,
        mut request: Request<Body>,
    ) -> impl Future<Output = Result<Response<Incoming>, SendError>> + Send + 'a {
        async move {
            let key = upstream.key;
            if let Some(Kept {
                mut sender, since, ..
            }) = self.take(key)
            {
                // Ready once the previous response's body has been read.
                if sender.ready().await.is_ok() {
                    let copy = if since.elapsed() >= MAY_HAVE_TIMED_OUT {
                        resendable(&request)
                    } else {
                        None
                    };
                    match sender.try_send_request(request).await {
                        Ok(response) => {
                            self.keep(key, sender);
                            return Ok(response);
                        }
                        Err(mut e) => match (e.take_message(), copy) {
                            (Some(unsent), _) => {
                                debug!("kept upstream connection closed: {}", e.error());
                                request = unsent;
                            }
                            (None, Some(copy)) if closed_unanswered(e.error()) => {
                                debug!(
                                    "kept upstream connection closed instead of answering, \
                                     sending the request again: {}",
                                    e.error()
                                );
                                request = *copy;
                            }
                            (None, _) => {
                                return Err(SendError {
                                    connect: false,
                                    error: e.into_error().into(),
                                });
                            }
                        },
                    }
                }
            }
            let mut sender = connect(connector, &upstream.authority).await?;
            let response = sender.send_request(request).await.map_err(|e| SendError {
                connect: false,
                error: e.into(),
            })?;
            self.keep(key, sender);
            Ok(response)
        }
    }

    /// This client connection's connection to the upstream `key`, else one
    /// an earlier client connection left.
    fn take(&self, key: usize) -> Option<Kept> {
        let own = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.iter()
                .position(|k| k.key == key)
                .map(|at| kept.swap_remove(at))
        };
        match own {
            Some(one) if !one.sender.is_closed() => Some(one),
            _ => self.idle.take(key),
        }
    }

    /// Keeps the connection, which stays in use until the response's body
    /// is read: its idle time is counted from the response's head, so it can
    /// read longer than the connection was really idle — which costs at most
    /// a needless copy, never a missed one.
    fn keep(&self, key: usize, sender: SendRequest<Body>) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.push(Kept {
            key,
            sender,
            since: Instant::now(),
        });
    }
}

/// A copy of `request` to send again, if sending it twice is safe: it has
/// no body, and its method is idempotent (RFC 9110 § 9.2.2), so an upstream
/// that acted on the first one before closing acts the same on the second.
fn resendable(request: &Request<Body>) -> Option<Box<Request<Body>>> {
    let idempotent = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    );
    if !idempotent || !request.body().is_end_stream() {
        return None;
    }
    let mut copy = Request::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed(),
    );
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    // Boxed: rare (a connection idle for a second), and held inline it would
    // be 240 bytes more in every request's future.
    Some(Box::new(copy))
}

/// Whether the upstream closed the connection before its answer's head was
/// complete (hyper's "connection closed before message completed"), or
/// reset it: as nginx's `proxy_next_upstream error`, a request safe to send
/// twice is then sent again.
fn closed_unanswered(error: &hyper::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
    error.is_incomplete_message()
        || std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        })
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe))
}

/// A new HTTP/1.1 connection to `authority`, its I/O driven by a task of
/// its own (which ends when the connection closes or is dropped).
async fn connect(
    connector: &HttpConnector,
    authority: &Authority,
) -> Result<SendRequest<Body>, SendError> {
    let connect_error = |error: BoxError| SendError {
        connect: true,
        error,
    };
    let uri = Uri::builder()
        .scheme("http")
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|e| connect_error(e.into()))?;
    let io = connector
        .clone()
        .oneshot(uri)
        .await
        .map_err(|e| connect_error(e.into()))?;
    let (sender, connection) = http1::handshake(io)
        .await
        .map_err(|e| connect_error(e.into()))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            debug!("upstream connection: {e}");
        }
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, body: &'static str) -> Request<Body> {
        let body = http_body_util::Full::new(bytes::Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed();
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = Uri::from_static("/items?page=2");
        *request.version_mut() = http::Version::HTTP_11;
        request
            .headers_mut()
            .insert("x-request-id", http::HeaderValue::from_static("7"));
        request
    }

    #[test]
    fn only_a_bodiless_request_with_an_idempotent_method_is_copied_to_send_again() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::PUT,
            Method::DELETE,
        ] {
            let original = request(method.clone(), "");
            let copy = resendable(&original).unwrap_or_else(|| panic!("{method} is copied"));
            assert_eq!(copy.method(), original.method());
            assert_eq!(copy.uri(), original.uri());
            assert_eq!(copy.version(), original.version());
            assert_eq!(copy.headers(), original.headers());
            assert!(copy.body().is_end_stream());
        }
        for method in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(
                resendable(&request(method.clone(), "")).is_none(),
                "{method}"
            );
        }
        assert!(resendable(&request(Method::PUT, "{}")).is_none(), "a body");
    }
}
