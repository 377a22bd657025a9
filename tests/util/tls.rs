//! Certificates made at test time (rcgen): a test certificate authority,
//! a server certificate for `localhost` and a client certificate it signed,
//! and rustls configs built from them. Nothing is read from disk unless a
//! test writes the PEM files itself ([`TestPki::write_pem`]).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use evloop::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use evloop::tls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};

/// The name the server certificate is for, and the name clients ask for.
pub const SERVER_NAME: &str = "localhost";

/// One certificate authority and the certificates it signed, in DER and
/// PEM.
#[derive(Debug)]
pub struct TestPki {
    /// The authority's certificate: the trust anchor of both sides.
    pub ca_cert: CertificateDer<'static>,
    /// The authority's certificate, PEM.
    pub ca_pem: String,
    /// The server's certificate (for `localhost` and 127.0.0.1).
    pub server_cert: CertificateDer<'static>,
    /// The server's certificate, PEM.
    pub server_cert_pem: String,
    /// The server's private key, PKCS #8 PEM.
    pub server_key_pem: String,
    server_key_der: Vec<u8>,
    /// A client certificate (for mutual TLS).
    pub client_cert: CertificateDer<'static>,
    client_key_der: Vec<u8>,
}

impl TestPki {
    /// Makes a fresh authority, server certificate and client certificate.
    ///
    /// # Panics
    ///
    /// If rcgen cannot make them (it can).
    pub fn new() -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, "evloop test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA certificate");

        let server_key = KeyPair::generate().expect("server key");
        let server_params =
            CertificateParams::new(vec![SERVER_NAME.to_string(), "127.0.0.1".to_string()]).expect("server params");
        let server_cert = server_params.signed_by(&server_key, &ca).expect("server certificate");

        let client_key = KeyPair::generate().expect("client key");
        let mut client_params = CertificateParams::new(vec!["client.test".to_string()]).expect("client params");
        client_params.distinguished_name.push(DnType::CommonName, "evloop test client");
        let client_cert = client_params.signed_by(&client_key, &ca).expect("client certificate");

        TestPki {
            ca_cert: ca.der().clone(),
            ca_pem: ca.pem(),
            server_cert: server_cert.der().clone(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            server_key_der: server_key.serialize_der(),
            client_cert: client_cert.der().clone(),
            client_key_der: client_key.serialize_der(),
        }
    }

    /// The authority as the one trust anchor.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_cert.clone()).expect("the CA certificate is a trust anchor");
        roots
    }

    fn server_key(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.server_key_der.clone()).into()
    }

    /// A server config presenting the server certificate, no client
    /// certificates asked for.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        evloop::tls::server_config(vec![self.server_cert.clone()], self.server_key()).expect("server config")
    }

    /// As [`server_config`](TestPki::server_config), offering `alpn`.
    pub fn server_config_with_alpn(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let mut config = (*self.server_config()).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A server config that requires a client certificate signed by the
    /// authority (mutual TLS).
    pub fn server_config_requiring_client_certs(&self) -> Arc<ServerConfig> {
        evloop::tls::server_config_with_client_auth(vec![self.server_cert.clone()], self.server_key(), self.roots())
            .expect("mutual TLS server config")
    }

    /// A client config trusting the authority, presenting no certificate.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        evloop::tls::client_config(self.roots()).expect("client config")
    }

    /// As [`client_config`](TestPki::client_config), offering `alpn`.
    pub fn client_config_with_alpn(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        let mut config = (*self.client_config()).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A client config trusting the authority and presenting the client
    /// certificate.
    pub fn client_config_with_cert(&self) -> Arc<ClientConfig> {
        let key = PrivatePkcs8KeyDer::from(self.client_key_der.clone()).into();
        let config = ClientConfig::builder_with_provider(evloop::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(self.roots())
            .with_client_auth_cert(vec![self.client_cert.clone()], key)
            .expect("client certificate config");
        Arc::new(config)
    }

    /// Writes `cert.pem` (the server's), `key.pem` and `ca.pem` into `dir`;
    /// returns their paths in that order.
    ///
    /// # Errors
    ///
    /// What writing the files returns.
    pub fn write_pem(&self, dir: &Path) -> io::Result<(PathBuf, PathBuf, PathBuf)> {
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        let ca = dir.join("ca.pem");
        std::fs::write(&cert, &self.server_cert_pem)?;
        std::fs::write(&key, &self.server_key_pem)?;
        std::fs::write(&ca, &self.ca_pem)?;
        Ok((cert, key, ca))
    }
}

impl Default for TestPki {
    fn default() -> TestPki {
        TestPki::new()
    }
}

/// The server name clients connect with.
pub fn server_name() -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from(SERVER_NAME).expect("a valid DNS name")
}
