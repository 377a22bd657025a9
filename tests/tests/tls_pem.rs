//! Loading certificates and keys from PEM files (`evloop::tls`).

use std::io;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use evloop_tests::tls::TestPki;

/// A fresh directory under the system's temporary directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(name: &str) -> ScratchDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("evloop-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn certificates_and_key_written_by_rcgen_load_and_make_a_server_config() {
    let pki = TestPki::new();
    let dir = ScratchDir::new("pem");
    let (cert, key, ca) = pki.write_pem(&dir.0).expect("write the PEM files");
    let certs = evloop::tls::load_certs(&cert).expect("load the certificate");
    assert_eq!(certs, vec![pki.server_cert.clone()], "the PEM certificate is the one written");
    let key = evloop::tls::load_private_key(&key).expect("load the key");
    evloop::tls::server_config(certs, key).expect("the loaded key matches the loaded certificate");
    let roots = evloop::tls::load_roots(&ca).expect("load the CA as a trust anchor");
    assert_eq!(roots.len(), 1, "one trust anchor in ca.pem");
}

#[test]
fn a_missing_certificate_file_is_not_found() {
    let dir = ScratchDir::new("missing");
    let error = evloop::tls::load_certs(dir.0.join("nope.pem")).expect_err("no such file");
    assert_eq!(error.kind(), io::ErrorKind::NotFound, "a missing file must say NotFound: {error}");
    assert!(error.to_string().contains("nope.pem"), "the error names the file: {error}");
}

#[test]
fn a_file_without_certificates_is_invalid_data() {
    let pki = TestPki::new();
    let dir = ScratchDir::new("nocert");
    let (_, key, _) = pki.write_pem(&dir.0).expect("write the PEM files");
    // key.pem holds a key and no certificate.
    let error = evloop::tls::load_certs(&key).expect_err("a key file has no certificate");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "no certificate must be InvalidData: {error}");
}

#[test]
fn a_file_without_a_key_is_invalid_data() {
    let pki = TestPki::new();
    let dir = ScratchDir::new("nokey");
    let (cert, _, _) = pki.write_pem(&dir.0).expect("write the PEM files");
    let error = evloop::tls::load_private_key(&cert).expect_err("a certificate file has no key");
    assert_eq!(error.kind(), io::ErrorKind::InvalidData, "no key must be InvalidData: {error}");
}
