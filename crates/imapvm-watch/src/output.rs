//! What the PBX outputs ([`AmiNotifier`](crate::AmiNotifier),
//! [`WebhookNotifier`](crate::WebhookNotifier)) share: why one did not start, the TLS
//! client configuration of a target (built once at start by the runtime's one TLS set-up,
//! [`imapvm_net::tls`]), and opening a connection to it, TCP and, for `tls://` and `https://`,
//! the TLS handshake.

use std::path::Path;
use std::sync::Arc;

use imapvm::{ConfigError, TlsError};
use imapvm_net::tls::{self, CaFile, ClientConfig, HandshakeError, TlsStream, Verification};
use tokio::net::TcpStream;

/// Why an output did not start: a configuration problem, never a connection problem (those
/// are retried and reported).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputStartError {
    /// An option is out of bounds.
    #[error(transparent)]
    Option(#[from] ConfigError),
    /// TLS cannot be set up for the target: its CA file is unreadable, empty or holds no
    /// usable certificate, or there is nothing to verify a certificate against.
    #[error("{target}: {source}")]
    Tls {
        /// The target (`tls://host:port`, `https://…`); never a secret.
        target: String,
        /// Why.
        #[source]
        source: Box<TlsError>,
    },
}

/// The TLS configuration of `target`: the system roots plus `ca_file` (named by `setting`
/// in errors), or no check of the certificate at all (with a warning in the log).
pub(crate) fn tls_config(
    target: &str,
    setting: &'static str,
    ca_file: Option<&Path>,
    verification: Verification,
) -> Result<Arc<ClientConfig>, OutputStartError> {
    if verification == Verification::NoValidateCert {
        tracing::warn!(%target, "novalidate-cert: the certificate is NOT verified");
    }
    let ca = ca_file.map(|path| CaFile::new(setting, path));
    tls::client_config(ca, verification).map_err(|source| OutputStartError::Tls {
        target: target.to_owned(),
        source: Box::new(source),
    })
}

/// A connection [`open`] made.
pub(crate) enum Opened {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream>),
}

/// Why [`open`] failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    /// The TCP connection could not be made.
    #[error("connect: {0}")]
    Connect(#[source] std::io::Error),
    /// The TLS handshake failed.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
}

/// Connects to `host:port` (no delay on small writes), then, with a TLS configuration, shakes
/// hands as `host`. No timeout: the caller puts one around it.
pub(crate) async fn open(
    host: &str,
    port: u16,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Opened, OpenError> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(OpenError::Connect)?;
    let _ = tcp.set_nodelay(true);
    Ok(match tls {
        None => Opened::Tcp(tcp),
        Some(config) => Opened::Tls(Box::new(
            tls::handshake(Arc::clone(config), host, tcp).await?,
        )),
    })
}
