//! Outbound connections: a nonblocking connect, registered at once; its
//! first writable event decides, as mio documents (`take_error`, then
//! `getpeername`), whether it opened, failed, or the event was spurious;
//! the connect timeout bounds the wait.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use log::debug;
use mio::event::Event;

use super::panic_guard::guard;
use super::timers::{deadline_after, TimerKind};
use super::EventLoop;
use crate::conn::{Flags, Phase};
use crate::ctx::RunState;
use crate::transport::{tcp, unix, PeerAddr, Stream};
use crate::{ConnId, Ctx, Handler, Origin};

impl<H: Handler> EventLoop<H> {
    /// Starts an outbound connection before `run`, as
    /// [`Ctx::connect`] does from a callback.
    ///
    /// # Errors
    ///
    /// As [`Ctx::connect`].
    pub fn connect(&mut self, addr: SocketAddr) -> io::Result<ConnId> {
        self.cx.now = Instant::now();
        self.ready_after_stop();
        self.cx.connect(addr)
    }

    /// Starts an outbound Unix-domain connection before `run`, as
    /// [`Ctx::connect_unix`] does from a callback.
    ///
    /// # Errors
    ///
    /// As [`Ctx::connect_unix`].
    pub fn connect_unix(&mut self, path: impl AsRef<Path>) -> io::Result<ConnId> {
        self.cx.now = Instant::now();
        self.ready_after_stop();
        self.cx.connect_unix(path)
    }

    /// Starts an outbound TLS connection before `run`, as
    /// [`Ctx::connect_tls`] does from a callback.
    ///
    /// # Errors
    ///
    /// As [`Ctx::connect_tls`].
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn connect_tls(
        &mut self,
        addr: SocketAddr,
        server_name: rustls::pki_types::ServerName<'static>,
        config: std::sync::Arc<rustls::ClientConfig>,
    ) -> io::Result<ConnId> {
        self.cx.now = Instant::now();
        self.ready_after_stop();
        self.cx.connect_tls(addr, server_name, config)
    }

    /// The outbound connect of `id` signalled: decide as mio documents
    /// (`take_error`, then `peer_addr`) whether it opened, failed, or the
    /// event was spurious.
    pub(crate) fn finish_connect(&mut self, id: ConnId, event: &Event) {
        let conn = &mut self.cx.conns[id];
        let outcome = match conn.stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match conn.stream.check_connected() {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected && !event.is_error() => return,
                Err(e) => Err(e),
            },
        };
        if let Err(e) = outcome {
            self.fail_connect(id, e);
            return;
        }
        #[cfg(feature = "tls")]
        if matches!(conn.stream, Stream::Tls(_)) {
            if self.cx.config.tcp_nodelay {
                if let Err(e) = conn.stream.set_nodelay() {
                    debug!("TCP_NODELAY on a connected socket: {e}");
                }
            }
            self.begin_client_handshake(id);
            return;
        }
        if let Some(timer) = conn.deadline_timer.take() {
            self.cx.timers.cancel(timer);
        }
        conn.set_phase(Phase::Open);
        conn.flags.insert(Flags::WRITABLE);
        // The peer may already have sent data and FIN: this edge is the only
        // one announcing them, so read on to the end as `conn_event` does.
        let peer_closed = event.is_error() || event.is_read_closed() || event.is_write_closed();
        conn.flags.set(Flags::READABLE, event.is_readable() || peer_closed);
        conn.flags.set(Flags::READ_UNTIL_WOULD_BLOCK, peer_closed);
        if self.cx.config.tcp_nodelay {
            if let Err(e) = conn.stream.set_nodelay() {
                debug!("TCP_NODELAY on a connected socket: {e}");
            }
        }
        self.cx.stats.connected += 1;
        self.open(id, Origin::Outbound);
        self.after_dispatch();
        if self.cx.live_conn(id).is_some() {
            // Output queued while connecting goes out now.
            self.cx.write_out(id);
        }
        // A `shutdown_write` asked for while connecting with nothing queued
        // has no flush to follow up on it: send the FIN now.
        if self.cx.live_conn(id).is_some_and(|c| c.flags.any(Flags::SHUTDOWN_PENDING) && !c.has_output()) {
            self.cx.finish_shutdown_write(id);
        }
        self.read_from(id);
    }

    /// An outbound connect failed: the connection never opened, so the
    /// application hears of it through `on_connect_failed`, not `on_close`.
    pub(crate) fn fail_connect(&mut self, id: ConnId, error: io::Error) {
        debug!("connection {id} to {} failed: {error}", self.cx.conns[id].peer);
        drop(self.remove_conn(id));
        self.cx.stats.connect_failed += 1;
        let EventLoop { cx, handler, .. } = self;
        guard(cx.config.panic_policy, "on_connect_failed", || handler.on_connect_failed(cx, id, error));
    }

    pub(crate) fn check_connect_timeout(&mut self, id: ConnId) {
        let timeout = self.cx.config.connect_timeout;
        let Some(conn) = self.cx.live_conn(id) else { return };
        if conn.phase() != Phase::Connecting {
            return;
        }
        conn.deadline_timer = None;
        let error = io::Error::new(io::ErrorKind::TimedOut, format!("connect timed out after {timeout:?}"));
        self.fail_connect(id, error);
    }
}

impl Ctx {
    /// Starts a nonblocking TCP connect to `addr`: the work of
    /// [`Ctx::connect`].
    pub(crate) fn start_connect_tcp(&mut self, addr: SocketAddr) -> io::Result<ConnId> {
        self.start_connect(|| Ok((tcp::connect(addr)?, PeerAddr::Tcp(addr))))
    }

    /// Starts a nonblocking TCP connect to `addr` with a TLS client
    /// session over it: the work of [`Ctx::connect_tls`]. The session's
    /// hello goes out once the connect completes (`handshake.rs`).
    #[cfg(feature = "tls")]
    pub(crate) fn start_connect_tls(
        &mut self,
        addr: SocketAddr,
        server_name: rustls::pki_types::ServerName<'static>,
        config: std::sync::Arc<rustls::ClientConfig>,
    ) -> io::Result<ConnId> {
        use crate::transport::tls::{TlsSession, TlsStream};
        let session = TlsSession::client(config, server_name)?;
        self.start_connect(|| {
            let stream = tcp::connect(addr)?;
            Ok((Stream::Tls(Box::new(TlsStream::new(stream, session))), PeerAddr::Tcp(addr)))
        })
    }

    /// Starts a nonblocking Unix-domain connect to `path`: the work of
    /// [`Ctx::connect_unix`].
    pub(crate) fn start_connect_unix(&mut self, path: &Path) -> io::Result<ConnId> {
        self.start_connect(|| unix::connect(path))
    }

    /// Checks that a connect may start, starts it with `connect`, and
    /// registers the socket, with the connect timeout armed.
    fn start_connect(&mut self, connect: impl FnOnce() -> io::Result<(Stream, PeerAddr)>) -> io::Result<ConnId> {
        if self.run_state != RunState::Running {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the event loop is stopping"));
        }
        self.check_capacity()?;
        let (stream, peer) = connect()?;
        let id = self.insert_conn(stream, Phase::Connecting, Origin::Outbound, peer)?;
        let deadline = deadline_after(self.now, self.config.connect_timeout);
        let conn = &mut self.conns[id];
        conn.deadline_timer = Some(self.timers.insert(deadline, TimerKind::Connect(id)));
        debug!("connection {id} to {} connecting", conn.peer);
        Ok(id)
    }
}
