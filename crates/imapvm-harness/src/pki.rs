//! A test CA and server certificates for the TLS tests (rcgen, rustls on ring): a CA written
//! as PEM to a scratch directory (the file a test names as `imapcafile`, `ami_cafile` or
//! `webhook_cafile`), leaves signed by it for given names (optionally expired), and
//! self-signed leaves it did not issue, each as a rustls server configuration, as a
//! `tokio_rustls` acceptor, or as a scripted `imapvm_testkit` peer behind that acceptor.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::scratch_dir;

/// A CA (written as PEM to `ca.pem` in a fresh scratch directory) and server configurations
/// signed by it or not.
pub struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// A fresh CA, `imapvm tls-test CA`, in `target/tmp/pki/{unique(name)}`.
    pub fn new(name: &str) -> Pki {
        let dir = scratch_dir("pki", name);
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "imapvm tls-test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca }
    }

    /// The CA's certificate as a PEM file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn leaf_params(names: &[&str]) -> CertificateParams {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params
    }

    fn config(cert: CertificateDer<'static>, key: &KeyPair) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Arc::new(config)
    }

    /// A leaf signed by the CA for `names` (DNS names or IP addresses), optionally expired.
    pub fn signed(&self, names: &[&str], expired: bool) -> Arc<rustls::ServerConfig> {
        let mut params = Self::leaf_params(names);
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Self::config(cert.der().clone(), &key)
    }

    /// A self-signed leaf for `names`, not issued by the CA.
    pub fn self_signed(names: &[&str]) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let cert = Self::leaf_params(names).self_signed(&key).unwrap();
        Self::config(cert.der().clone(), &key)
    }

    /// A TLS acceptor presenting `config`'s certificate.
    pub fn acceptor(config: Arc<rustls::ServerConfig>) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(config)
    }

    /// An acceptor for `127.0.0.1` and `localhost`, signed by the CA.
    pub fn loopback_acceptor(&self) -> tokio_rustls::TlsAcceptor {
        Pki::acceptor(self.signed(&["127.0.0.1", "localhost"], false))
    }

    /// A scripted peer (`imapvm_testkit`) whose connections first pass `acceptor`'s TLS
    /// handshake; a connection whose handshake fails gets no play (and no byte of it).
    pub fn peer_behind(
        acceptor: tokio_rustls::TlsAcceptor,
    ) -> imapvm_testkit::Builder<imapvm_testkit::Tokio> {
        imapvm_testkit::Peer::builder().upgrade(move |tcp| {
            let acceptor = acceptor.clone();
            async move { acceptor.accept(tcp).await }
        })
    }
}
