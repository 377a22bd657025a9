//! `--tls`: the client config, trusting the authorities of `--ca FILE`, or
//! with `--insecure` any certificate at all (for a server started with a
//! self-signed one, as `echo --tls-self-signed` is).

use std::io;
use std::path::Path;
use std::sync::Arc;

use evloop::tls::rustls::ClientConfig;

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
        // As `curl -k` does.
        (None, true) => evloop::tls::client_config_trusting_any_server(),
        (None, false) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--tls needs --ca FILE (the authority to trust) or --insecure (trust any certificate)",
        )),
    }
}
