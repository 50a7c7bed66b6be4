//! What [`crate::Builder::upgrade`] keeps: a function that turns each accepted
//! TCP stream into the stream the play runs on (a TLS handshake the test
//! brings), boxed so that the builder's type does not name it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A stream a play can run on.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Io for S {}

/// An accepted stream, being upgraded.
type Upgraded = Pin<Box<dyn Future<Output = std::io::Result<Box<dyn Io>>> + Send>>;

/// The upgrade function, boxed.
#[derive(Clone)]
pub(crate) struct Upgrade(Arc<dyn Fn(TcpStream) -> Upgraded + Send + Sync>);

impl Upgrade {
    /// Boxes `upgrade`.
    pub(crate) fn new<F, Fut, S>(upgrade: F) -> Upgrade
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = std::io::Result<S>> + Send + 'static,
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Upgrade(Arc::new(move |tcp| {
            let upgraded = upgrade(tcp);
            Box::pin(async move { Ok(Box::new(upgraded.await?) as Box<dyn Io>) })
        }))
    }

    /// `tcp`, upgraded.
    pub(crate) async fn run(&self, tcp: TcpStream) -> std::io::Result<Box<dyn Io>> {
        (self.0)(tcp).await
    }
}
