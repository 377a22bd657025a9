//! `--tls-cert`/`--tls-key` or `--tls-self-signed`: the TLS listener's
//! certificate, loaded from PEM files or made at start.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use evloop::tls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use evloop::tls::rustls::ServerConfig;

/// Where a certificate comes from.
#[derive(Debug)]
pub(crate) enum Certificate {
    /// PEM files: the chain (own certificate first) and its key.
    Files { cert: PathBuf, key: PathBuf },
    /// Made at start for `localhost` and 127.0.0.1, written into a
    /// directory of its own so a client can trust it (`-CAfile`).
    SelfSigned,
}

/// The server config for `certificate`, and for a self-signed one the
/// file a client should trust.
pub(crate) fn server_config(certificate: &Certificate) -> io::Result<(Arc<ServerConfig>, Option<PathBuf>)> {
    match certificate {
        Certificate::Files { cert, key } => {
            let config =
                evloop::tls::server_config(evloop::tls::load_certs(cert)?, evloop::tls::load_private_key(key)?)?;
            Ok((config, None))
        }
        Certificate::SelfSigned => {
            let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| io::Error::other(format!("making a self-signed certificate: {e}")))?;
            let dir = std::env::temp_dir().join(format!("evloop-echo-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let cert_path = dir.join("cert.pem");
            write_private(&cert_path, made.cert.pem().as_bytes())?;
            write_private(&dir.join("key.pem"), made.signing_key.serialize_pem().as_bytes())?;
            let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
            let config = evloop::tls::server_config(vec![made.cert.der().clone()], key)?;
            Ok((config, Some(cert_path)))
        }
    }
}

/// Writes `bytes` to a new file at `path` that only this user may read.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    file.write_all(bytes)
}
