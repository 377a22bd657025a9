//! TLS for evloop's connections (feature `tls`): what was negotiated, and
//! loading certificates and keys from PEM files.
//!
//! evloop speaks TLS through [rustls], re-exported here as
//! [`evloop::tls::rustls`](rustls) so an application builds its
//! `ServerConfig` and `ClientConfig` with the same version. The crypto
//! provider is rustls's default, aws-lc-rs (with post-quantum key exchange
//! preferred), which builds with a C compiler and nothing else;
//! [`server_config`] and [`client_config`] name it explicitly, so they work
//! even where another crate in the build enables a second provider (where
//! rustls's `ServerConfig::builder()` would refuse to guess).
//!
//! # Examples
//!
//! Load a certificate chain and its key, and build a server config:
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let certs = evloop::tls::load_certs("cert.pem")?;
//! let key = evloop::tls::load_private_key("key.pem")?;
//! let config = evloop::tls::server_config(certs, key)?;
//! # let _ = config;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::path::Path;
use std::sync::Arc;

pub use rustls;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore, ServerConfig, SignatureScheme,
};

/// What a TLS connection's handshake negotiated: read it in `on_open` (the
/// handshake is complete by then) to choose a protocol by ALPN, route by
/// SNI, or identify a client by its certificate.
///
/// It borrows from the connection's session; copy out what you keep.
#[derive(Debug, Clone, Copy)]
pub struct TlsInfo<'a> {
    pub(crate) truncated: bool,
    pub(crate) server_name: Option<&'a str>,
    pub(crate) alpn_protocol: Option<&'a [u8]>,
    pub(crate) protocol_version: Option<ProtocolVersion>,
    pub(crate) cipher_suite: Option<CipherSuite>,
    pub(crate) peer_certificates: &'a [CertificateDer<'static>],
}

impl<'a> TlsInfo<'a> {
    /// The server name the client asked for (SNI), on a server's
    /// connection; `None` if it sent none, and on a client's connection
    /// (where the application chose the name).
    pub fn server_name(&self) -> Option<&'a str> {
        self.server_name
    }

    /// The application protocol both sides agreed on by ALPN (`b"h2"`,
    /// `b"http/1.1"`, ...), if any was offered and chosen.
    pub fn alpn_protocol(&self) -> Option<&'a [u8]> {
        self.alpn_protocol
    }

    /// The protocol version: `TLSv1_3` or `TLSv1_2`.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.protocol_version
    }

    /// The cipher suite, for example `TLS13_AES_256_GCM_SHA384`.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.cipher_suite
    }

    /// Whether the peer's input ended without `close_notify`: its end of
    /// file came, but not the alert that says the stream is complete, so
    /// what arrived may have been cut short (by an attacker, or a peer that
    /// crashed). Read it in [`Handler::on_eof`](crate::Handler::on_eof);
    /// such a connection closes with
    /// [`CloseReason::TlsTruncated`](crate::CloseReason::TlsTruncated).
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The peer's certificate chain, its own certificate first: a server's
    /// always; a client's only where the server asked for one (mutual TLS,
    /// see [`server_config_with_client_auth`]), else empty.
    pub fn peer_certificates(&self) -> &'a [CertificateDer<'static>] {
        self.peer_certificates
    }
}

/// Reads every certificate in a PEM file (`-----BEGIN CERTIFICATE-----`
/// sections), in order: the server's own first, then its chain.
///
/// # Errors
///
/// `NotFound`, `PermissionDenied` and the like from opening the file;
/// `InvalidData` if a section is malformed or the file holds no
/// certificate.
pub fn load_certs(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(pem_error(path, pem::Error::NoItemsFound));
    }
    Ok(certs)
}

/// Reads the first private key in a PEM file: PKCS #8 (`BEGIN PRIVATE
/// KEY`), PKCS #1 (`BEGIN RSA PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE
/// KEY`), as `openssl` and `rcgen` write them.
///
/// # Errors
///
/// As [`load_certs`]; `InvalidData` if the file holds no key.
pub fn load_private_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, e))
}

/// Reads the certificates in a PEM file as trust anchors: the certificate
/// authorities a client trusts for servers, or a server for clients.
///
/// # Errors
///
/// As [`load_certs`]; `InvalidData` also for a certificate that cannot
/// serve as a trust anchor.
pub fn load_roots(path: impl AsRef<Path>) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
    Ok(roots)
}

/// A server config on the aws-lc-rs provider, TLS 1.3 and 1.2, no client
/// certificates, presenting `certs` (own certificate first) signed by
/// `key`. Set its `alpn_protocols` before sharing it, if the protocol uses
/// ALPN.
///
/// # Errors
///
/// `InvalidInput` if the key does not match the certificate or is of a
/// kind the provider does not support.
pub fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<ServerConfig>> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid_input)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(invalid_input)?;
    Ok(Arc::new(config))
}

/// As [`server_config`], and every client must present a certificate that
/// chains to one of `client_roots` (mutual TLS); a client without one fails
/// the handshake and never reaches the handler.
///
/// # Errors
///
/// As [`server_config`]; `InvalidInput` also if `client_roots` is empty.
pub fn server_config_with_client_auth(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: RootCertStore,
) -> io::Result<Arc<ServerConfig>> {
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider())
        .build()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid_input)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(invalid_input)?;
    Ok(Arc::new(config))
}

/// A client config on the aws-lc-rs provider, TLS 1.3 and 1.2, trusting the
/// servers whose certificates chain to `roots`, presenting no certificate.
///
/// # Errors
///
/// `InvalidInput` only if the provider supports no protocol version (it
/// does).
pub fn client_config(roots: RootCertStore) -> io::Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid_input)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client config like [`client_config`]'s that accepts any server
/// certificate, verifying neither its chain, its name nor the handshake's
/// signatures made with it: what `curl -k` and `--insecure` flags do, for trying a server started with a self-signed certificate, and for
/// load generators that measure cost, not identity. Never for a client
/// that must know whom it talks to.
///
/// # Errors
///
/// `InvalidInput` only if the provider supports no protocol version (it
/// does).
///
/// # Examples
///
/// ```
/// let config = evloop::tls::client_config_trusting_any_server()?;
/// assert!(config.alpn_protocols.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn client_config_trusting_any_server() -> io::Result<Arc<ClientConfig>> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(invalid_input)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts any server certificate, and any signature made with it
/// ([`client_config_trusting_any_server`]).
#[derive(Debug)]
struct AnyServer;

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

/// rustls's aws-lc-rs crypto provider, the one evloop builds with.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn invalid_input(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

fn pem_error(path: &Path, error: pem::Error) -> io::Error {
    match error {
        pem::Error::Io(e) => io::Error::new(e.kind(), format!("{}: {e}", path.display())),
        e => io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())),
    }
}
