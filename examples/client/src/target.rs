//! Where the client connects: a TCP address, or a Unix-domain socket's path
//! (`--unix PATH`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use evloop::{ConnId, EventLoop, Handler};

/// A server to connect to, over either transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `HOST:PORT`, resolved once at start.
    Tcp(SocketAddr),
    /// A Unix-domain stream socket.
    Unix(PathBuf),
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
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(addr) => addr.fmt(f),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}
