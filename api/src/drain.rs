//! A refusal must reach the client. When the API answers before it has read a request's whole body (a
//! body over its limit, an upload for an unknown exam), hyper closes the connection with the rest of the
//! body unread; the kernel then resets it, and a client still writing gets a broken pipe instead of the
//! answer (seen: a 5 MiB roster against the 4 MiB limit, under load). So what a handler leaves of the
//! body is read to its end and thrown away before the answer goes, when the rest is modestly long
//! ([`DRAIN_MAX`]) and arrives briskly ([`DRAIN_TIME`]); otherwise the connection closes as before. A
//! client that asked `Expect: 100-continue` and whose body was never asked for is not made to send it.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use tokio::sync::oneshot;

/// The most of a left body read to reach its end; a longer rest closes the connection unread.
pub const DRAIN_MAX: u64 = 16 * 1024 * 1024;
/// The longest the rest of a body may take to arrive.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// What the handler left of a body: the body and how much of it had been read.
struct Left {
    body: Body,
    read: u64,
    polled: bool,
}

/// The request body as the handler sees it; dropped before its end, it goes back to [`drain_unread`].
struct Returning {
    inner: Option<Body>,
    read: u64,
    polled: bool,
    finished: bool,
    back: Option<oneshot::Sender<Left>>,
}

impl http_body::Body for Returning {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else { return Poll::Ready(None) };
        this.polled = true;
        let polled = Pin::new(inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => this.read += frame.data_ref().map_or(0, |d| d.len() as u64),
            // An error (a stalled or broken body) or the end: nothing is left to read.
            Poll::Ready(Some(Err(_)) | None) => this.finished = true,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.finished || self.inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let (Some(body), Some(back)) = (self.inner.take(), self.back.take()) {
            if !http_body::Body::is_end_stream(&body) {
                let _ = back.send(Left { body, read: self.read, polled: self.polled });
            }
        }
    }
}

/// Middleware: runs the request, then reads to its end (within the limits above) whatever of its body
/// the handler left, so the answer reaches a client that is still sending.
pub async fn drain_unread(request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let expects_continue = request.headers().contains_key(header::EXPECT);
    let (back, mut left) = oneshot::channel();
    let request = request.map(|body| Body::new(Returning { inner: Some(body), read: 0, polled: false, finished: false, back: Some(back) }));
    let response = next.run(request).await;
    // A stalled body is why the answer is 408: waiting for it again would only stall again.
    if response.status() == StatusCode::REQUEST_TIMEOUT {
        return response;
    }
    // The body comes back when the handler drops it, which it has when it answers (unless it handed the
    // body to a task of its own: then there is nothing to do here).
    let Ok(Left { body, read, polled }) = left.try_recv() else { return response };
    if expects_continue && !polled {
        return response;
    }
    if declared.is_some_and(|total| total.saturating_sub(read) > DRAIN_MAX) {
        return response;
    }
    let drained = tokio::time::timeout(DRAIN_TIME, discard(body, DRAIN_MAX)).await;
    if !matches!(drained, Ok(true)) {
        tracing::debug!(read, ?declared, "the rest of a refused body did not arrive in time or within the limit; closing");
    }
    response
}

/// Reads `body` to its end, keeping nothing; false when it errs or runs past `max` bytes.
async fn discard(body: Body, max: u64) -> bool {
    let mut stream = body.into_data_stream();
    let mut seen = 0u64;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return false };
        seen += chunk.len() as u64;
        if seen > max {
            return false;
        }
    }
    true
}
