//! `--tls`: the client config, trusting the authorities of `--ca FILE`, or
//! with `--insecure` any certificate at all (for a server started with a
//! self-signed one, as `echo --tls-self-signed` is).

use std::io;
use std::path::Path;
use std::sync::Arc;

use evloop::tls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use evloop::tls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use evloop::tls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};

/// A client config trusting the certificates in `ca` (PEM), or with
/// `insecure`, any server certificate.
///
/// # Errors
///
/// Reading or parsing `ca`; `InvalidInput` with neither (there is no
/// system trust store to fall back on).
pub(crate) fn client_config(ca: Option<&Path>, insecure: bool) -> io::Result<Arc<ClientConfig>> {
    match (ca, insecure) {
        (Some(ca), _) => evloop::tls::client_config(evloop::tls::load_roots(ca)?),
        (None, true) => Ok(Arc::new(
            ClientConfig::builder_with_provider(evloop::tls::provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAny))
                .with_no_client_auth(),
        )),
        (None, false) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--tls needs --ca FILE (the authority to trust) or --insecure (trust any certificate)",
        )),
    }
}

/// Accepts any server certificate: `--insecure`, as `curl -k` does.
#[derive(Debug)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
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
        evloop::tls::provider().signature_verification_algorithms.supported_schemes()
    }
}
