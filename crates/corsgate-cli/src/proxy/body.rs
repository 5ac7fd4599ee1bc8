//! The client's request body on its way to the upstream: it says when it
//! has been forwarded whole (the upstream's `--timeout` starts then, not
//! before: a slow upload is not a slow upstream), it times out when the
//! client stops sending (`--body-timeout`, between chunks), and its
//! errors are marked as the client's, so a malformed chunked body is a
//! `400`, not a `502` blaming the upstream.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::LengthLimitError;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::conns::RequestGuard;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body that keeps its client connection counted busy until it
/// is done or dropped: the connection's guard goes with it. (A type of its
/// own rather than a closure that owns the guard and a second box around
/// the body, which cost an allocation and a dynamic call per frame.)
pub(crate) struct Guarded {
    body: BoxBody<Bytes, BoxError>,
    _busy: RequestGuard,
}

impl Guarded {
    pub(crate) fn new(body: BoxBody<Bytes, BoxError>, busy: RequestGuard) -> Self {
        Self { body, _busy: busy }
    }
}

impl Body for Guarded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// What went wrong with the client's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientBodyProblem {
    /// Longer than `--max-body`.
    TooLarge,
    /// No data for `--body-timeout`.
    Stalled,
    /// Not valid HTTP framing (a bad chunk size), or the client hung up.
    Malformed,
}

/// An error of the client's body, as opposed to one of the upstream.
#[derive(Debug)]
pub(crate) struct ClientBodyError {
    pub(crate) problem: ClientBodyProblem,
    source: Option<BoxError>,
}

impl std::fmt::Display for ClientBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.problem {
            ClientBodyProblem::TooLarge => {
                f.write_str("the request body is larger than --max-body")
            }
            ClientBodyProblem::Stalled => {
                f.write_str("the client stopped sending the request body (--body-timeout)")
            }
            ClientBodyProblem::Malformed => {
                f.write_str("the request body is malformed or was cut off")
            }
        }
    }
}

impl std::error::Error for ClientBodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

pin_project_lite::pin_project! {
    /// Wraps the client's (size-limited) body.
    pub(crate) struct UploadBody<B> {
        #[pin]
        inner: B,
        #[pin]
        stall: Sleep,
        stall_after: Duration,
        // Sent (or dropped) once the body has been read to its end.
        done: Option<oneshot::Sender<()>>,
    }
}

impl<B: Body> UploadBody<B> {
    /// The body, and a receiver that resolves when it has been forwarded
    /// whole — or dropped (the request failed, or had no body to send).
    pub(crate) fn new(inner: B, stall_after: Duration) -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        // hyper does not poll an empty body: it is done already.
        let done = (!inner.is_end_stream()).then_some(tx);
        let body = Self {
            inner,
            stall: tokio::time::sleep(stall_after),
            stall_after,
            done,
        };
        (body, rx)
    }
}

impl<B> Body for UploadBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + *this.stall_after;
                this.stall.reset(deadline);
                if this.inner.is_end_stream() {
                    this.done.take().map(|tx| tx.send(()));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                let source: BoxError = e.into();
                let problem = if source.is::<LengthLimitError>() {
                    ClientBodyProblem::TooLarge
                } else {
                    ClientBodyProblem::Malformed
                };
                Poll::Ready(Some(Err(Box::new(ClientBodyError {
                    problem,
                    source: Some(source),
                }))))
            }
            Poll::Ready(None) => {
                this.done.take().map(|tx| tx.send(()));
                Poll::Ready(None)
            }
            Poll::Pending => match this.stall.poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(ClientBodyError {
                    problem: ClientBodyProblem::Stalled,
                    source: None,
                })))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The client-body problem behind an error, if that is what it was.
pub(crate) fn client_body_problem(
    error: &(dyn std::error::Error + 'static),
) -> Option<ClientBodyProblem> {
    std::iter::successors(Some(error), |e| e.source())
        .find_map(|e| e.downcast_ref::<ClientBodyError>())
        .map(|e| e.problem)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Body as _;

    use super::Guarded;
    use crate::proxy::conns::Tracker;

    #[tokio::test(start_paused = true)]
    async fn a_guarded_body_is_its_body_and_keeps_the_connection_busy_until_dropped() {
        let tracker = Tracker::new(100, Duration::from_secs(1), Duration::from_secs(5));
        tokio::spawn(Arc::clone(&tracker).sweep());
        let conn = tracker.open();
        let body = Full::new(Bytes::from_static(b"abc"))
            .map_err(|never| match never {})
            .boxed();
        let mut guarded = Guarded::new(body, conn.request());
        assert_eq!(guarded.size_hint().exact(), Some(3));
        assert!(!guarded.is_end_stream());
        let frame = guarded.frame().await.expect("a frame").expect("no error");
        assert_eq!(frame.into_data().expect("data"), "abc");
        assert!(guarded.is_end_stream());
        assert!(
            tokio::time::timeout(Duration::from_secs(30), conn.closed())
                .await
                .is_err(),
            "the body is not dropped: the connection is busy"
        );
        drop(guarded);
        tokio::time::timeout(Duration::from_secs(7), conn.closed())
            .await
            .expect("idle once the body is gone: closed after the idle timeout");
    }
}
