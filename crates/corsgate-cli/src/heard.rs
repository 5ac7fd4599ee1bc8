//! The response head as the server wrote it: the header names in their
//! own spelling, which `http`'s `HeaderMap` (and so hyper) lower-cases.
//!
//! One engine needs it: Firefox counts `Access-Control-Allow-Origin`
//! lines only when spelled exactly so (two such lines are
//! `CORSMultipleAllowOriginNotAllowed`; two lower-case ones are merged into
//! one value that does not match). The doctor's connector wraps each
//! connection so that what it reads is also kept, up to [`KEPT`] bytes, and
//! every response carries its connection's [`Heard`] in its extensions.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use http::Uri;
use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};

/// Bytes kept per response: a head longer than this is not parsed (the
/// names then come from the `HeaderMap`, lower-cased).
const KEPT: usize = 64 * 1024;

/// What one connection read since the last [`forget`](Self::forget).
#[derive(Debug, Clone, Default)]
pub(crate) struct Heard(Arc<Mutex<Vec<u8>>>);

impl Heard {
    fn keep(&self, bytes: &[u8]) {
        if let Ok(mut kept) = self.0.lock() {
            let room = KEPT.saturating_sub(kept.len());
            kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    /// The header names of the final response head at the start of what
    /// was read (interim `1xx` heads skipped), as the server spelled them,
    /// in order, one per header line. `None` when it is not an HTTP/1 head
    /// (HTTP/2 names are lower-case on the wire anyway).
    pub(crate) fn names(&self) -> Option<Vec<String>> {
        let kept = self.0.lock().ok()?;
        head_names(&kept)
    }

    /// Forgets what was read: called once a response is read to its end,
    /// so the next response on the connection starts the record.
    pub(crate) fn forget(&self) {
        if let Ok(mut kept) = self.0.lock() {
            kept.clear();
        }
    }
}

fn head_names(mut bytes: &[u8]) -> Option<Vec<String>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(length) = response.parse(bytes).ok()? else {
            return None;
        };
        if response.code.is_some_and(|c| (100..200).contains(&c)) {
            bytes = &bytes[length..];
            continue;
        }
        return Some(response.headers.iter().map(|h| h.name.to_owned()).collect());
    }
}

/// A connector whose connections keep what they read.
#[derive(Debug, Clone)]
pub(crate) struct Listening<C>(pub(crate) C);

impl<C> tower::Service<Uri> for Listening<C>
where
    C: tower::Service<Uri>,
    C::Future: Send + 'static,
{
    type Response = Overheard<C::Response>;
    type Error = C::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.0.call(uri);
        Box::pin(async move {
            Ok(Overheard {
                inner: connecting.await?,
                heard: Heard::default(),
            })
        })
    }
}

/// A connection that keeps what it reads.
#[derive(Debug)]
pub(crate) struct Overheard<S> {
    inner: S,
    heard: Heard,
}

impl<S: Connection> Connection for Overheard<S> {
    fn connected(&self) -> Connected {
        self.inner.connected().extra(self.heard.clone())
    }
}

impl<S: Read + Unpin> Read for Overheard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Read into a buffer of our own to see the bytes, then hand them on.
        let mut space = [MaybeUninit::<u8>::uninit(); 8192];
        let wanted = buf.remaining().min(space.len());
        let mut read = ReadBuf::uninit(&mut space[..wanted]);
        ready!(Pin::new(&mut this.inner).poll_read(cx, read.unfilled()))?;
        let filled = read.filled();
        this.heard.keep(filled);
        buf.put_slice(filled);
        Poll::Ready(Ok(()))
    }
}

impl<S: Write + Unpin> Write for Overheard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_the_servers_spelling_and_skip_interim_heads() {
        let head = b"HTTP/1.1 100 Continue\r\n\r\n\
            HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: a\r\naccess-control-allow-origin: a\r\n\
            Content-Length: 4\r\n\r\nbody";
        assert_eq!(
            head_names(head),
            Some(vec![
                "Access-Control-Allow-Origin".to_owned(),
                "access-control-allow-origin".to_owned(),
                "Content-Length".to_owned(),
            ])
        );
        // Not (yet) a whole head, or not HTTP/1: nothing.
        assert_eq!(head_names(b"HTTP/1.1 200 OK\r\nA: b\r\n"), None);
        assert_eq!(head_names(b"\x00\x00\x12\x04"), None);
    }

    #[test]
    fn what_is_kept_is_bounded_and_forgotten() {
        let heard = Heard::default();
        heard.keep(&vec![b'x'; KEPT + 10]);
        assert_eq!(heard.0.lock().unwrap().len(), KEPT);
        heard.forget();
        assert!(heard.0.lock().unwrap().is_empty());
    }
}
