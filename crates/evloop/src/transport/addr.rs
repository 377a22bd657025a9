//! Who is at the other end: the peer's address, for either transport, and
//! a Unix-domain peer's credentials.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

/// The address of a connection's peer: [`Ctx::peer_addr`](crate::Ctx::peer_addr),
/// [`Handler::on_refused`](crate::Handler::on_refused) and the logs give it.
///
/// # Examples
///
/// ```
/// use evloop::PeerAddr;
///
/// let tcp = PeerAddr::from("127.0.0.1:6379".parse::<std::net::SocketAddr>().unwrap());
/// assert_eq!(tcp.ip(), Some("127.0.0.1".parse().unwrap()));
/// assert_eq!(tcp.to_string(), "127.0.0.1:6379");
///
/// let unix = PeerAddr::Unix(None); // an accepted Unix-domain client, unnamed as most are
/// assert_eq!(unix.ip(), None);
/// assert_eq!(unix.to_string(), "unix:(unnamed)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerAddr {
    /// A TCP peer's address and port (for an outbound connection, the
    /// address connected to).
    Tcp(SocketAddr),
    /// A Unix-domain peer: the path its socket is bound to, if any. For an
    /// outbound connection, the path connected to; for an accepted one,
    /// usually `None` (clients rarely bind); the peer's
    /// [credentials](crate::Ctx::peer_credentials) say who it is.
    Unix(Option<Arc<Path>>),
}

impl PeerAddr {
    /// The peer's IP address, or `None` for a Unix-domain peer (so
    /// [`Config::max_connections_per_ip`](crate::Config::max_connections_per_ip)
    /// does not apply to those).
    pub fn ip(&self) -> Option<IpAddr> {
        self.as_tcp().map(|addr| addr.ip())
    }

    /// The TCP address, or `None` for a Unix-domain peer.
    pub fn as_tcp(&self) -> Option<SocketAddr> {
        match self {
            PeerAddr::Tcp(addr) => Some(*addr),
            PeerAddr::Unix(_) => None,
        }
    }

    /// Whether the peer is on a Unix-domain socket.
    pub fn is_unix(&self) -> bool {
        matches!(self, PeerAddr::Unix(_))
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> PeerAddr {
        PeerAddr::Tcp(addr)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(addr) => addr.fmt(f),
            PeerAddr::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            PeerAddr::Unix(None) => f.write_str("unix:(unnamed)"),
        }
    }
}

/// Who the peer of a Unix-domain connection is, from `SO_PEERCRED`: its
/// process, user and group when it connected (or, for a connection made
/// here, when the listener was created). The kernel vouches for them, which
/// is why local services choose Unix sockets: see
/// [`Ctx::peer_credentials`](crate::Ctx::peer_credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}
