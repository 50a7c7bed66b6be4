//! rustls client configuration (ring provider, never aws-lc [INV-9]): system roots plus
//! `imapcafile`, or no verification at all for `novalidate-cert`.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::TlsError;

/// Builds the client configuration: `ca_file` (PEM, may hold several certificates) is trusted
/// besides the system store; with `verify == false` any certificate is accepted (and a warning
/// is logged by the caller).
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    verify: bool,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Versions)?;
    let config = if verify {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(native.certs);
        tracing::trace!(added, "system trust anchors loaded");
        if let Some(path) = ca_file {
            let unreadable = |e| TlsError::CaFileUnreadable {
                path: path.to_owned(),
                source: Arc::new(e),
            };
            let iter = CertificateDer::pem_file_iter(path).map_err(unreadable)?;
            let mut count = 0usize;
            for cert in iter {
                let cert = cert.map_err(unreadable)?;
                roots.add(cert).map_err(|source| TlsError::CaCertificate {
                    path: path.to_owned(),
                    source,
                })?;
                count += 1;
            }
            if count == 0 {
                return Err(TlsError::CaFileEmpty {
                    path: path.to_owned(),
                });
            }
        }
        if roots.is_empty() {
            return Err(TlsError::NoTrustAnchors);
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The name to check the certificate against.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|source| TlsError::ServerName {
        host: host.to_owned(),
        source: Arc::new(source),
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
    fn a_missing_ca_file_is_an_error_naming_it() {
        let err = client_config(Some(Path::new("/nonexistent/ca.pem")), true).unwrap_err();
        assert!(
            matches!(&err, TlsError::CaFileUnreadable { path, .. } if path == Path::new("/nonexistent/ca.pem")),
            "{err}"
        );
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn novalidate_builds_without_roots() {
        assert!(client_config(None, false).is_ok());
    }

    #[test]
    fn bracketed_ipv6_is_a_server_name() {
        assert!(server_name("[::1]").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("mail.example.com").is_ok());
    }
}
