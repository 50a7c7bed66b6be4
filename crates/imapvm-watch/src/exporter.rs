//! [`Exporter`]: the HTTP server of `--metrics ADDR`: `GET /metrics` (the [`Metrics`] as
//! Prometheus text, or OpenMetrics when the scraper asks for it) and `GET /healthz` (200
//! `ok`, or 503 naming each account past its retry budget; see [`Health`]).
//!
//! hyper's HTTP/1 server (the parsing, `HEAD`, the status line) with bounds of our own: at
//! most [`MAX_CONNECTIONS`] connections at once, request heads up to [`MAX_REQUEST_HEAD`]
//! bytes read within [`HEAD_TIMEOUT`], one request per connection (no keep-alive, so a
//! client cannot hold a connection idle), each connection done within
//! [`CONNECTION_TIMEOUT`]. The outbox is listed for each scrape on a blocking thread
//! ([`Metrics::refresh`]).
//!
//! [`Health`]: crate::metrics::Health

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::metrics::{Format, Metrics};

/// Connections served at once; more wait in the listen queue.
pub const MAX_CONNECTIONS: usize = 16;
/// The longest request head (request line and headers) read (hyper's smallest buffer).
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// A request head must arrive within this.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed after this, answered or not.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

const TEXT: &str = "text/plain; charset=utf-8";

/// A running `/metrics` and `/healthz` server. Dropping it stops it.
#[derive(Debug)]
pub struct Exporter {
    local: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Exporter {
    /// Listens on `addr` (port 0: any free port, see [`Exporter::local_addr`]) and serves
    /// `metrics` until stopped. Needs a tokio runtime.
    pub async fn start(addr: SocketAddr, metrics: Metrics) -> std::io::Result<Exporter> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let task = tokio::spawn(accept(listener, metrics));
        tracing::info!(%local, "serving /metrics and /healthz");
        Ok(Exporter { local, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Stops listening; requests in progress are dropped.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, metrics: Metrics) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(&req, &metrics).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_REQUEST_HEAD)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "metrics: a connection failed"),
                Err(_) => tracing::debug!("metrics: a connection timed out"),
            }
            drop(permit);
        });
    }
}

fn response(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The answer to one request.
async fn answer(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    if path != "/metrics" && path != "/healthz" {
        return response(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: try /metrics or /healthz\n".into(),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = response(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "only GET and HEAD\n".into(),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    if path == "/healthz" {
        let health = metrics.health();
        let status = if health.is_healthy() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return response(status, TEXT, health.text());
    }
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let sampled = metrics.clone();
    if let Err(e) = tokio::task::spawn_blocking(move || sampled.refresh()).await {
        tracing::warn!(error = %e, "metrics: sampling failed");
    }
    response(
        StatusCode::OK,
        format.content_type(),
        metrics.encode(format),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Sends `request` raw and reads the whole answer (the server closes after one).
    async fn raw(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    async fn exporter() -> Exporter {
        Exporter::start("127.0.0.1:0".parse().unwrap(), Metrics::new())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn only_get_and_head_of_the_two_paths_are_answered() {
        let e = exporter().await;
        let a = e.local_addr();
        let post = raw(
            a,
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
        assert!(post.contains("allow: GET, HEAD\r\n"), "{post}");
        let missing = raw(a, b"GET /metrics/x HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        let head = raw(a, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "no body: {head}");
        assert!(
            head.contains("connection: close\r\n"),
            "one request per connection: {head}"
        );
        let get = raw(a, b"GET /healthz?verbose HTTP/1.0\r\n\r\n").await;
        assert!(
            get.starts_with("HTTP/1.0 200 ") || get.starts_with("HTTP/1.1 200 "),
            "{get}"
        );
        assert!(
            get.ends_with("\r\n\r\nok\naccounts: 0 connected, 0 connecting, 0 down\n"),
            "{get}"
        );
    }

    #[tokio::test]
    async fn a_request_head_over_the_bound_is_refused() {
        let e = exporter().await;
        let mut request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 2 * MAX_REQUEST_HEAD));
        request.extend_from_slice(b"\r\n\r\n");
        let answer = raw(e.local_addr(), &request).await;
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
    }

    /// A client that connects and says nothing is dropped after [`HEAD_TIMEOUT`] (in
    /// simulated time), so it cannot hold one of the [`MAX_CONNECTIONS`].
    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_dropped() {
        let e = exporter().await;
        let mut s = tokio::net::TcpStream::connect(e.local_addr())
            .await
            .unwrap();
        let mut out = Vec::new();
        let read = tokio::time::timeout(HEAD_TIMEOUT * 2, s.read_to_end(&mut out)).await;
        assert!(matches!(read, Ok(Ok(_))), "{read:?}");
    }
}
