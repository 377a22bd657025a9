//! Unix-domain stream sockets: a listener's socket file (a stale one
//! replaced, a live one refused, its mode set, removed on a clean stop),
//! connecting by path, and the peer's credentials.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use log::{debug, warn};
use mio::{Interest, Registry, Token};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use super::{PeerAddr, PeerCredentials, Stream};

/// A listening Unix-domain socket and the file it is bound to.
#[derive(Debug)]
pub(crate) struct UnixListener {
    socket: mio::net::UnixListener,
    /// Shared by every descriptor of this socket (a group's loops), so the
    /// file goes when the last of them closes.
    file: Arc<SocketFile>,
}

/// The socket file a listener bound. Removed when the last descriptor of
/// the listener closes (a clean stop), if it is still the file bound here:
/// one that another server has bound since is left alone.
#[derive(Debug)]
struct SocketFile {
    path: Arc<Path>,
    device: u64,
    inode: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours =
            fs::symlink_metadata(&self.path).is_ok_and(|meta| (meta.dev(), meta.ino()) == (self.device, self.inode));
        if ours {
            if let Err(e) = fs::remove_file(&self.path) {
                warn!("removing socket file {}: {e}", self.path.display());
            }
        }
    }
}

/// Binds a nonblocking Unix-domain listener at `path` with the given
/// backlog, and `mode` as the socket file's permissions if given (Redis's
/// `unixsocketperm`: who may connect).
///
/// A socket file left by a server that died (nothing accepts on it) is
/// replaced; one a live server listens on is refused, as is a path that is
/// not a socket.
///
/// # Errors
///
/// `AddrInUse` when a live server listens on `path` or `path` is a file
/// that is not a socket; what `socket`, `bind`, `chmod` and `listen` return
/// (`PermissionDenied`, `NotFound` for a missing directory, `InvalidInput`
/// for a path longer than `sun_path`'s 107 bytes, ...).
pub(crate) fn bind(path: &Path, backlog: u32, mode: Option<u32>) -> io::Result<UnixListener> {
    remove_if_stale(path)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
    socket.bind(&SockAddr::unix(path)?)?;
    let meta = fs::symlink_metadata(path)?;
    let file = Arc::new(SocketFile { path: Arc::from(path), device: meta.dev(), inode: meta.ino() });
    if let Some(mode) = mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    socket.listen(backlog.min(i32::MAX as u32) as i32)?;
    let socket = mio::net::UnixListener::from_std(socket.into());
    Ok(UnixListener { socket, file })
}

/// Clears the way for binding `path`: nothing there, or a socket file no
/// server accepts on (removed). A connect decides: refused means nobody
/// listens; accepted, or a full backlog (`EAGAIN` on a nonblocking
/// connect), means a live server does.
fn remove_if_stale(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        let why = format!("{} exists and is not a socket; not replacing it", path.display());
        return Err(io::Error::new(io::ErrorKind::AddrInUse, why));
    }
    let probe = Socket::new(Domain::UNIX, Type::STREAM.nonblocking(), None)?;
    match probe.connect(&SockAddr::unix(path)?) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            debug!("replacing stale socket file {}", path.display());
            fs::remove_file(path)
        }
        Ok(()) => Err(live_server(path)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(live_server(path)),
        Err(e) => Err(e),
    }
}

fn live_server(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::AddrInUse, format!("another server listens on {}", path.display()))
}

impl UnixListener {
    /// Like `accept4(2)`: a new connection, whose peer is usually unnamed.
    pub(crate) fn accept(&self) -> io::Result<(Stream, PeerAddr)> {
        let (stream, peer) = self.socket.accept()?;
        Ok((Stream::Unix(stream), PeerAddr::Unix(peer.as_pathname().map(Arc::from))))
    }

    /// The path the listener is bound to.
    pub(crate) fn path(&self) -> &Path {
        &self.file.path
    }

    /// `dup(2)`, sharing the socket file: it is removed when the last
    /// descriptor closes.
    pub(crate) fn try_clone(&self) -> io::Result<UnixListener> {
        let socket = SockRef::from(&self.socket).try_clone()?;
        let socket = mio::net::UnixListener::from_std(socket.into());
        Ok(UnixListener { socket, file: Arc::clone(&self.file) })
    }

    pub(crate) fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.socket, token, Interest::READABLE)
    }
}

/// Like `connect(2)` on a new nonblocking Unix-domain socket. A listener
/// usually accepts it at once; one whose backlog is full answers
/// `WouldBlock` here rather than later, as a TCP listener would.
pub(crate) fn connect(path: &Path) -> io::Result<(Stream, PeerAddr)> {
    let stream = mio::net::UnixStream::connect(path)?;
    Ok((Stream::Unix(stream), PeerAddr::Unix(Some(Arc::from(path)))))
}

/// `getsockopt(SO_PEERCRED)`: who the peer was when it connected.
pub(crate) fn peer_credentials(stream: &mio::net::UnixStream) -> io::Result<PeerCredentials> {
    let cred = rustix::net::sockopt::socket_peercred(stream)?;
    Ok(PeerCredentials { pid: cred.pid.as_raw_nonzero().get(), uid: cred.uid.as_raw(), gid: cred.gid.as_raw() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("evloop-unix-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir.join("sock")
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let path = temp_path("stale");
        // A listener that vanished without removing its file.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists(), "std leaves the file behind");
        let listener = bind(&path, 16, None).expect("a stale socket file is replaced");
        assert_eq!(listener.path(), path);
    }

    #[test]
    fn a_path_a_live_server_listens_on_is_refused() {
        let path = temp_path("live");
        let _live = bind(&path, 16, None).unwrap();
        let err = bind(&path, 16, None).expect_err("a live server's path is refused");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("another server listens"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_never_replaced() {
        let path = temp_path("regular");
        fs::write(&path, b"keep me").unwrap();
        let err = bind(&path, 16, None).expect_err("a regular file is refused");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(fs::read(&path).unwrap(), b"keep me", "the file is untouched");
    }

    #[test]
    fn the_mode_is_set_and_the_file_removed_when_the_last_descriptor_closes() {
        let path = temp_path("mode");
        let listener = bind(&path, 16, Some(0o600)).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let clone = listener.try_clone().unwrap();
        drop(listener);
        assert!(path.exists(), "a descriptor is still open");
        drop(clone);
        assert!(!path.exists(), "the socket file is removed with the last descriptor");
    }

    #[test]
    fn a_file_rebound_by_another_server_is_not_removed() {
        let path = temp_path("rebound");
        let first = bind(&path, 16, None).unwrap();
        fs::remove_file(&path).unwrap();
        let _second = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(first);
        assert!(path.exists(), "the other server's file stays");
    }

    #[test]
    fn credentials_name_this_process() {
        let (a, _b) = mio::net::UnixStream::pair().unwrap();
        let cred = peer_credentials(&a).unwrap();
        assert_eq!(cred.pid, std::process::id() as i32);
        assert_eq!(cred.uid, fs::metadata("/proc/self").unwrap().uid());
    }
}
