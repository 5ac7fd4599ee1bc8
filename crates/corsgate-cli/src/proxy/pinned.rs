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
//! https upstreams and HTTP/2 clients (whose requests come concurrently)
//! keep the pool.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use http::uri::Authority;
use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tower::ServiceExt;
use tracing::debug;

use super::{Body, BoxError};

/// The upstream connections of one client connection, by authority.
pub(crate) struct Pinned {
    kept: Mutex<Vec<(Authority, SendRequest<Body>)>>,
    /// Where they go when the client connection closes.
    idle: Arc<Idle>,
}

/// Upstream connections left by client connections that closed, newest
/// last; at most [`Idle::MOST`] (then the oldest is closed).
#[derive(Default)]
pub(crate) struct Idle {
    kept: Mutex<VecDeque<(Authority, SendRequest<Body>)>>,
}

impl Idle {
    const MOST: usize = 64;

    /// The newest connection to `authority` that can take a request now;
    /// the others to it met on the way (closed, or still busy) are closed.
    fn take(&self, authority: &Authority) -> Option<SendRequest<Body>> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(at) = kept.iter().rposition(|(a, _)| a == authority) {
            let (_, sender) = kept.remove(at)?;
            if sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn put(&self, authority: Authority, sender: SendRequest<Body>) {
        if sender.is_closed() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= Self::MOST {
            kept.pop_front();
        }
        kept.push_back((authority, sender));
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let kept = self.kept.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (authority, sender) in kept.drain(..) {
            self.idle.put(authority, sender);
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
        }
    }

    /// Sends `request` (its URI in origin form: the path and query) to the
    /// upstream at `authority`, over this client connection's connection
    /// to it, or a new one.
    ///
    /// A kept connection the upstream closed meanwhile is replaced: if the
    /// request was not written to it, it goes on a new connection (what the
    /// pool does too). A request written to a connection that then fails is
    /// not sent again (it may not be idempotent): that is the caller's 502.
    pub(crate) async fn send(
        &self,
        connector: &HttpConnector,
        authority: &Authority,
        mut request: Request<Body>,
    ) -> Result<Response<Incoming>, SendError> {
        if let Some(mut sender) = self.take(authority) {
            // Ready once the previous response's body has been read.
            if sender.ready().await.is_ok() {
                match sender.try_send_request(request).await {
                    Ok(response) => {
                        self.keep(authority, sender);
                        return Ok(response);
                    }
                    Err(mut e) => match e.take_message() {
                        Some(unsent) => {
                            debug!("kept upstream connection closed: {}", e.error());
                            request = unsent;
                        }
                        None => {
                            return Err(SendError {
                                connect: false,
                                error: e.into_error().into(),
                            });
                        }
                    },
                }
            }
        }
        let mut sender = connect(connector, authority).await?;
        let response = sender.send_request(request).await.map_err(|e| SendError {
            connect: false,
            error: e.into(),
        })?;
        self.keep(authority, sender);
        Ok(response)
    }

    /// This client connection's connection to `authority`, else one an
    /// earlier client connection left.
    fn take(&self, authority: &Authority) -> Option<SendRequest<Body>> {
        let own = {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.iter()
                .position(|(a, _)| a == authority)
                .map(|at| kept.swap_remove(at).1)
        };
        match own {
            Some(sender) if !sender.is_closed() => Some(sender),
            _ => self.idle.take(authority),
        }
    }

    fn keep(&self, authority: &Authority, sender: SendRequest<Body>) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.push((authority.clone(), sender));
    }
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
