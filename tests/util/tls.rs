//! Certificates made at test time (rcgen): a test certificate authority,
//! a server certificate for `localhost` and a client certificate it signed,
//! and rustls configs built from them. Nothing is read from disk unless a
//! test writes the PEM files itself ([`TestPki::write_pem`]).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use evloop::{AfterEof, CloseReason, Config, ConnId, Ctx, Handler, Origin};

use crate::Server;

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
    /// The client certificate, PEM.
    pub client_cert_pem: String,
    /// The client's private key, PKCS #8 PEM.
    pub client_key_pem: String,
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
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
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

/// A blocking rustls client over a TCP connection, with the test timeouts.
pub type TlsClient = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Starts `handler` on a loop listening with TLS (`server`) on an
/// ephemeral loopback port.
pub fn start_tls_server<H>(config: Config, handler: H, server: Arc<ServerConfig>) -> Server<H>
where
    H: Handler + Send + 'static,
{
    Server::start_listening(config, handler, move |el| el.listen_tls("127.0.0.1:0".parse().unwrap(), server))
}

/// Connects to `addr` and completes a TLS handshake with `config` for
/// [`SERVER_NAME`].
///
/// # Panics
///
/// If the connect or the handshake fails.
#[track_caller]
pub fn connect_tls(addr: SocketAddr, config: Arc<ClientConfig>) -> TlsClient {
    let mut client = try_connect_tls(addr, config).expect("TLS handshake with the test server");
    client.flush().expect("flush after the handshake");
    client
}

/// Connects to `addr` and runs a TLS handshake with `config`; the
/// handshake's error if it fails.
///
/// # Errors
///
/// The connect's or the handshake's.
pub fn try_connect_tls(addr: SocketAddr, config: Arc<ClientConfig>) -> io::Result<TlsClient> {
    let tcp = crate::connect(addr);
    let conn = rustls::ClientConnection::new(config, server_name()).map_err(io::Error::other)?;
    let mut client = rustls::StreamOwned::new(conn, tcp);
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock)?;
    }
    Ok(client)
}

/// Sends `message` and reads back exactly as many bytes, through TLS.
#[track_caller]
pub fn tls_round_trip(client: &mut TlsClient, message: &[u8]) -> Vec<u8> {
    client.write_all(message).expect("send through TLS");
    let mut reply = vec![0; message.len()];
    client.read_exact(&mut reply).expect("read the reply through TLS");
    reply
}

/// What a [`TlsProbe`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSeen {
    /// `on_open`, with what the handshake negotiated, copied out of
    /// `Ctx::tls` (`None` on a plaintext connection).
    Open(ConnId, Origin, Option<Negotiated>),
    /// `on_eof`, with whether the input was truncated (no `close_notify`).
    Eof(ConnId, bool),
    /// `on_drain`.
    Drain(ConnId),
    /// `on_close`, with the reason.
    Close(ConnId, CloseReason),
    /// `on_connect_failed`, with the error's kind.
    ConnectFailed(ConnId, io::ErrorKind),
    /// Bytes that reached `on_data` on an outbound connection.
    Received(ConnId, Vec<u8>),
    /// After `on_data` sent its replies: whether `is_writable`, and
    /// `queued_output`.
    Queued(ConnId, bool, usize),
}

/// `Ctx::tls` copied out, so it can cross a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// SNI.
    pub server_name: Option<String>,
    /// The ALPN protocol.
    pub alpn_protocol: Option<Vec<u8>>,
    /// `TLSv1_3` or `TLSv1_2`.
    pub protocol_version: Option<rustls::ProtocolVersion>,
    /// Whether a cipher suite was reported.
    pub has_cipher_suite: bool,
    /// The peer's certificate chain.
    pub peer_certificates: Vec<CertificateDer<'static>>,
}

/// What a [`TlsProbe`] does with the input of an inbound connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Echo it.
    Echo,
    /// Echo only complete lines (`\n`-terminated), leaving the rest
    /// unconsumed.
    EchoLines,
    /// Answer each input with this many `+OK\r\n` replies, one `send` each.
    ManyOks(usize),
    /// Answer each input with this many bytes, one `send`, and report
    /// `is_writable` and `queued_output` after it.
    Bulk(usize),
    /// Echo, then close gracefully.
    EchoThenClose,
    /// Echo, then abort.
    EchoThenAbort,
}

/// A handler for the TLS tests: answers inbound input as told, sends
/// `greeting` on outbound connections once open, and reports every
/// callback on a channel.
#[derive(Debug)]
pub struct TlsProbe {
    events: Sender<TlsSeen>,
    /// What inbound input gets.
    pub reply: Reply,
    /// Sent on every outbound connection as it opens.
    pub greeting: Vec<u8>,
}

impl TlsProbe {
    /// A probe answering with `reply`, and the receiving end of its reports.
    pub fn new(reply: Reply) -> (TlsProbe, TlsEvents) {
        let (events, rx) = mpsc::channel();
        (TlsProbe { events, reply, greeting: Vec::new() }, TlsEvents(rx))
    }

    fn report(&self, seen: TlsSeen) {
        let _ = self.events.send(seen);
    }
}

impl Handler for TlsProbe {
    /// Whether the connection is outbound.
    type Conn = bool;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) -> bool {
        let negotiated = cx.tls(id).map(|info| Negotiated {
            server_name: info.server_name().map(str::to_string),
            alpn_protocol: info.alpn_protocol().map(<[u8]>::to_vec),
            protocol_version: info.protocol_version(),
            has_cipher_suite: info.cipher_suite().is_some(),
            peer_certificates: info.peer_certificates().to_vec(),
        });
        self.report(TlsSeen::Open(id, origin, negotiated));
        if origin == Origin::Outbound && !self.greeting.is_empty() {
            cx.send(id, &self.greeting);
        }
        origin == Origin::Outbound
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, outbound: &mut bool, data: &[u8]) -> usize {
        if *outbound {
            self.report(TlsSeen::Received(id, data.to_vec()));
            return data.len();
        }
        match self.reply {
            Reply::Echo => {
                cx.send(id, data);
                data.len()
            }
            Reply::EchoLines => match data.iter().rposition(|&b| b == b'\n') {
                Some(end) => {
                    cx.send(id, &data[..=end]);
                    end + 1
                }
                None => 0,
            },
            Reply::ManyOks(n) => {
                for _ in 0..n {
                    cx.send(id, b"+OK\r\n");
                }
                data.len()
            }
            Reply::Bulk(n) => {
                cx.send(id, &vec![b'x'; n]);
                let writable = cx.is_writable(id);
                let queued = cx.queued_output(id).unwrap_or(0);
                self.report(TlsSeen::Queued(id, writable, queued));
                data.len()
            }
            Reply::EchoThenClose => {
                cx.send(id, data);
                cx.close(id);
                data.len()
            }
            Reply::EchoThenAbort => {
                cx.send(id, data);
                cx.abort(id);
                data.len()
            }
        }
    }

    fn on_eof(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut bool, _unconsumed: &[u8]) -> AfterEof {
        let truncated = cx.tls(id).is_some_and(|info| info.is_truncated());
        self.report(TlsSeen::Eof(id, truncated));
        AfterEof::Close
    }

    fn on_drain(&mut self, _cx: &mut Ctx, id: ConnId, _conn: &mut bool) {
        self.report(TlsSeen::Drain(id));
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: bool, reason: CloseReason) {
        self.report(TlsSeen::Close(id, reason));
    }

    fn on_connect_failed(&mut self, _cx: &mut Ctx, id: ConnId, error: io::Error) {
        self.report(TlsSeen::ConnectFailed(id, error.kind()));
    }
}

/// The receiving end of a [`TlsProbe`]'s reports.
#[derive(Debug)]
pub struct TlsEvents(Receiver<TlsSeen>);

impl TlsEvents {
    /// Skips events until one matches `wanted`, returning it; fails the
    /// test if none comes within [`TIMEOUT`](crate::TIMEOUT).
    #[track_caller]
    pub fn find(&self, what: &str, wanted: impl FnMut(&TlsSeen) -> bool) -> TlsSeen {
        crate::find_within(&self.0, what, wanted)
    }

    /// The next `on_open`: the id and what was negotiated.
    #[track_caller]
    pub fn next_open(&self) -> (ConnId, Origin, Option<Negotiated>) {
        match self.find("on_open", |s| matches!(s, TlsSeen::Open(..))) {
            TlsSeen::Open(id, origin, negotiated) => (id, origin, negotiated),
            _ => unreachable!(),
        }
    }

    /// The reason `id` closed, waiting for it.
    #[track_caller]
    pub fn close_reason(&self, id: ConnId) -> CloseReason {
        match self.find("on_close", |s| matches!(s, TlsSeen::Close(closed, _) if *closed == id)) {
            TlsSeen::Close(_, reason) => reason,
            _ => unreachable!(),
        }
    }

    /// Whether an event matching `unwanted` arrives within `wait` (a
    /// bounded look for something that must not happen).
    pub fn any_within(&self, wait: std::time::Duration, mut unwanted: impl FnMut(&TlsSeen) -> bool) -> Option<TlsSeen> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(seen) if unwanted(&seen) => return Some(seen),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Everything reported so far, without waiting.
    pub fn drain(&self) -> Vec<TlsSeen> {
        self.0.try_iter().collect()
    }
}
