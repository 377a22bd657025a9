//! Running the same test over each transport: a server listening on TCP or
//! on a Unix-domain socket, and a client stream of either kind.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use evloop::{Config, Handler};

use crate::{Server, TIMEOUT};

/// Which transport a test runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP on 127.0.0.1.
    Tcp,
    /// A Unix-domain stream socket in a temporary directory.
    Unix,
}

/// A fresh path for a Unix-domain socket, in a directory of its own under
/// the system's temporary directory, unique to this process and call.
pub fn unix_socket_path(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("evloop-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a directory for the socket");
    dir.join(format!("{name}.sock"))
}

/// Connects to the Unix-domain socket at `path`, with read and write
/// timeouts.
#[track_caller]
pub fn connect_unix(path: &std::path::Path) -> UnixStream {
    let stream = UnixStream::connect(path).expect("connect to the Unix-domain socket");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

impl<H> Server<H>
where
    H: Handler + Send + 'static,
{
    /// Starts `handler` on a loop with `config`, listening over `transport`
    /// (127.0.0.1:0, or a fresh Unix-domain socket path; it listens on TCP
    /// too, so `addr` is always set).
    pub fn start_over(transport: Transport, config: Config, handler: H) -> Server<H> {
        let unix_path = (transport == Transport::Unix).then(|| unix_socket_path("server"));
        let path = unix_path.clone();
        let mut server = Server::start_listening(config, handler, move |el| {
            let addr = el.listen("127.0.0.1:0".parse().unwrap())?;
            if let Some(path) = &path {
                el.listen_unix(path)?;
            }
            Ok(addr)
        });
        server.unix_path = unix_path;
        server
    }

    /// A client over the transport the server was started with, with read
    /// and write timeouts.
    #[track_caller]
    pub fn client(&self) -> Client {
        let client = match &self.unix_path {
            Some(path) => Client::Unix(UnixStream::connect(path).expect("connect to the Unix-domain socket")),
            None => {
                let stream = TcpStream::connect(self.addr).expect("connect to the test server");
                stream.set_nodelay(true).unwrap();
                Client::Tcp(stream)
            }
        };
        client.set_timeouts();
        client
    }
}

/// A client stream over either transport.
#[derive(Debug)]
pub enum Client {
    /// Over TCP.
    Tcp(TcpStream),
    /// Over a Unix-domain socket.
    Unix(UnixStream),
}

impl Client {
    fn set_timeouts(&self) {
        match self {
            Client::Tcp(s) => {
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                s.set_write_timeout(Some(TIMEOUT)).unwrap();
            }
            Client::Unix(s) => {
                s.set_read_timeout(Some(TIMEOUT)).unwrap();
                s.set_write_timeout(Some(TIMEOUT)).unwrap();
            }
        }
    }

    /// Sends FIN: the server reads end of file.
    pub fn shutdown_write(&self) {
        match self {
            Client::Tcp(s) => s.shutdown(Shutdown::Write),
            Client::Unix(s) => s.shutdown(Shutdown::Write),
        }
        .expect("shut down the client's write side");
    }

    /// A second handle to the same stream (one thread writes, one reads).
    pub fn try_clone(&self) -> Client {
        match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone().unwrap()),
            Client::Unix(s) => Client::Unix(s.try_clone().unwrap()),
        }
    }

    /// Reads until end of file (bounded by the read timeout).
    pub fn read_to_end_vec(&mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        self.read_to_end(&mut all)?;
        Ok(all)
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.read(buf),
            Client::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Client::Tcp(s) => s.write(buf),
            Client::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Defines, for each named test function taking a [`Transport`], a
/// `#[test]` in module `tcp` and one in module `unix` that call it: the
/// same test body over both transports, not a copy per transport.
#[macro_export]
macro_rules! over_each_transport {
    ($($name:ident),* $(,)?) => {
        mod tcp {
            $(#[test] fn $name() { super::$name($crate::transport::Transport::Tcp) })*
        }
        mod unix {
            $(#[test] fn $name() { super::$name($crate::transport::Transport::Unix) })*
        }
    };
}
