//! The one TLS set-up of imapvm (rustls, ring provider, never aws-lc [INV-9]), for every TLS
//! connection it opens: IMAP (`imapflags`, `imapcafile`), and the watcher's outputs, AMI
//! (`tls://`, `ami_cafile`) and webhooks (`https://`, `webhook_cafile`).
//!
//! [`client_config`] trusts the system roots (rustls-native-certs) plus an optional CA file,
//! or, for `novalidate-cert`, any certificate; [`handshake`] turns a connected TCP stream into
//! a TLS one, telling a refusal by TLS (certificate, protocol: [`TlsError`]) from a failure
//! of the connection (an I/O error), because callers retry the second and not the first.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use imapvm_net::tls::{self, CaFile, Verification};
//!
//! let ca = std::path::Path::new("/etc/imapvm/pbx-ca.pem");
//! let config = tls::client_config(Some(CaFile::new("ami_cafile", ca)), Verification::Verify)?;
//! let tcp = tokio::net::TcpStream::connect(("pbx.example.com", 5039)).await?;
//! let stream = tls::handshake(config, "pbx.example.com", tcp).await?;
//! # let _ = stream; Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;

/// rustls's client configuration, as [`client_config`] builds it.
pub use rustls::ClientConfig;
/// A TLS stream over TCP, as [`handshake`] returns it.
pub type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// Why TLS could not be set up: the configuration ([`client_config`]) or the handshake.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The crypto provider refused the protocol versions.
    #[error("protocol versions: {0}")]
    Versions(#[source] rustls::Error),
    /// The CA file (`imapcafile`, `ami_cafile`, `webhook_cafile`) could not be read as PEM.
    #[error("{setting} {}: {source}", path.display())]
    CaFileUnreadable {
        /// The setting that names the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<rustls_pki_types::pem::Error>,
    },
    /// A certificate of the CA file cannot be a trust anchor.
    #[error("{setting} {}: {source}", path.display())]
    CaCertificate {
        /// The setting that names the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// The CA file holds no certificate.
    #[error("{setting} {}: no certificate in the file", path.display())]
    CaFileEmpty {
        /// The setting that names the file.
        setting: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// Nothing to verify the server against.
    #[error("no trust anchors: the system store is empty and no {setting} is set")]
    NoTrustAnchors {
        /// The setting that would name a CA file.
        setting: &'static str,
    },
    /// The server's host cannot be checked against a certificate.
    #[error("server name {host:?}: {source}")]
    ServerName {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: Arc<rustls_pki_types::InvalidDnsNameError>,
    },
    /// The handshake failed (certificate expired, wrong name, unknown issuer, ...).
    #[error("handshake: {0}")]
    Handshake(#[source] rustls::Error),
    /// The handshake did not finish within the caller's timeout (`imapopentimeout`).
    #[error("handshake: imapopentimeout passed")]
    HandshakeTimeout,
}

/// Whether the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verification {
    /// Against the system's roots plus the CA file (the default, c-client's `validate-cert`).
    #[default]
    Verify,
    /// `novalidate-cert`: any certificate is accepted; the handshake's signatures are still
    /// checked. The caller logs a warning.
    NoValidateCert,
}

/// A CA file (PEM, one or more certificates) and the setting that names it, so that an
/// error says which setting to fix (`imapcafile`, `ami_cafile`, `webhook_cafile`).
#[derive(Debug, Clone, Copy)]
pub struct CaFile<'a> {
    /// The setting.
    pub setting: &'static str,
    /// The file.
    pub path: &'a Path,
}

impl<'a> CaFile<'a> {
    /// `path`, named by `setting`.
    pub fn new(setting: &'static str, path: &'a Path) -> CaFile<'a> {
        CaFile { setting, path }
    }
}

/// Builds the client configuration: `ca_file` is trusted besides the system store; with
/// [`Verification::NoValidateCert`] any certificate is accepted (and the caller logs a
/// warning). Build it once per target and share it: loading the system store reads files.
pub fn client_config(
    ca_file: Option<CaFile<'_>>,
    verification: Verification,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Versions)?;
    let config = match verification {
        Verification::Verify => {
            let mut roots = RootCertStore::empty();
            let native = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(native.certs);
            tracing::trace!(added, "system trust anchors loaded");
            if let Some(ca) = ca_file {
                add_ca_file(&mut roots, ca)?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoTrustAnchors {
                    setting: ca_file.map_or("a CA file", |ca| ca.setting),
                });
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Verification::NoValidateCert => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn add_ca_file(roots: &mut RootCertStore, ca: CaFile<'_>) -> Result<(), TlsError> {
    let unreadable = |e| TlsError::CaFileUnreadable {
        setting: ca.setting,
        path: ca.path.to_owned(),
        source: Arc::new(e),
    };
    let iter = CertificateDer::pem_file_iter(ca.path).map_err(unreadable)?;
    let mut count = 0usize;
    for cert in iter {
        let cert = cert.map_err(unreadable)?;
        roots.add(cert).map_err(|source| TlsError::CaCertificate {
            setting: ca.setting,
            path: ca.path.to_owned(),
            source,
        })?;
        count += 1;
    }
    if count == 0 {
        return Err(TlsError::CaFileEmpty {
            setting: ca.setting,
            path: ca.path.to_owned(),
        });
    }
    Ok(())
}

/// The name to check the certificate against (`[::1]` is the address `::1`).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|source| TlsError::ServerName {
        host: host.to_owned(),
        source: Arc::new(source),
    })
}

/// Why a [`handshake`] failed (exhaustive: a caller retries one and not the other).
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// TLS refused: the certificate (expired, another host's, unknown issuer), the protocol,
    /// or a name that cannot be checked. Trying again will not help.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The connection failed during the handshake (reset, closed).
    #[error("TLS handshake: {0}")]
    Io(#[source] std::io::Error),
}

/// The TLS handshake with `host` (checked against the certificate, unless the
/// configuration is [`Verification::NoValidateCert`]) over a connected `tcp`. No timeout:
/// the caller puts one around it.
pub async fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream, HandshakeError> {
    let name = server_name(host)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let refusal = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .cloned();
            match refusal {
                Some(source) => HandshakeError::Tls(TlsError::Handshake(source)),
                None => HandshakeError::Io(e),
            }
        })
}

/// `novalidate-cert`: the certificate is not checked (the handshake signatures still are).
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_ca_file_is_an_error_naming_it_and_its_setting() {
        let ca = CaFile::new("ami_cafile", Path::new("/nonexistent/ca.pem"));
        let err = client_config(Some(ca), Verification::Verify).unwrap_err();
        assert!(
            matches!(&err, TlsError::CaFileUnreadable { setting: "ami_cafile", path, .. } if path == Path::new("/nonexistent/ca.pem")),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with("ami_cafile /nonexistent/ca.pem:"),
            "{text}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_ca_file_without_a_certificate_is_an_error() {
        let ca = CaFile::new("webhook_cafile", Path::new("/dev/null"));
        let err = client_config(Some(ca), Verification::Verify).unwrap_err();
        assert!(
            matches!(
                &err,
                TlsError::CaFileEmpty {
                    setting: "webhook_cafile",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn novalidate_builds_without_roots() {
        assert!(client_config(None, Verification::NoValidateCert).is_ok());
    }

    #[test]
    fn bracketed_ipv6_is_a_server_name() {
        assert!(server_name("[::1]").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("mail.example.com").is_ok());
    }

    #[tokio::test]
    async fn a_peer_that_hangs_up_is_an_io_failure_not_a_refusal() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            drop(conn);
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let config = client_config(None, Verification::NoValidateCert).unwrap();
        let err = handshake(config, "127.0.0.1", tcp).await.unwrap_err();
        assert!(matches!(err, HandshakeError::Io(_)), "{err}");
        server.await.unwrap();
    }
}
