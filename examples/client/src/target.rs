//! Where the client connects: a TCP address, or a Unix-domain socket's path
//! (`--unix PATH`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use evloop::tls::rustls::pki_types::ServerName;
use evloop::tls::rustls::ClientConfig;
use evloop::{ConnId, EventLoop, Handler};

/// A server to connect to, over either transport, or TLS over TCP.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `HOST:PORT`, resolved once at start.
    Tcp(SocketAddr),
    /// A Unix-domain stream socket.
    Unix(PathBuf),
    /// TLS to `HOST:PORT` (`--tls`): the name sent as SNI and checked
    /// against the server's certificate, and the client config.
    Tls(SocketAddr, ServerName<'static>, Arc<ClientConfig>),
}

impl Target {
    /// Starts a nonblocking connect to the target on `el`.
    ///
    /// # Errors
    ///
    /// What [`EventLoop::connect`] or [`EventLoop::connect_unix`] return
    /// at once (for a Unix socket: `NotFound`, `ConnectionRefused`, ...).
    pub(crate) fn connect<H: Handler>(&self, el: &mut EventLoop<H>) -> io::Result<ConnId> {
        match self {
            Target::Tcp(addr) => el.connect(*addr),
            Target::Unix(path) => el.connect_unix(path),
            Target::Tls(addr, name, config) => el.connect_tls(*addr, name.clone(), config.clone()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(addr) => addr.fmt(f),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
            Target::Tls(addr, _, _) => write!(f, "tls:{addr}"),
        }
    }
}
