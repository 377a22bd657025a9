//! The TLS handshake (feature `tls`): a TLS connection is in the table from
//! its accept (or its TCP connect) on, in `Phase::Handshaking`, but the
//! application sees it only once the handshake has completed: then
//! `on_open` fires, and `Ctx::tls` can say what was negotiated.
//!
//! A handshake that fails, or does not complete within
//! [`Config::tls_handshake_timeout`](crate::Config::tls_handshake_timeout),
//! never reaches the handler when it is inbound: it is counted in `Stats`
//! with its own close reason and logged at debug with the peer and rustls's
//! error. An outbound one reaches `on_connect_failed`, as a refused connect
//! does.

use std::io;
use std::sync::Arc;

use log::debug;

use super::timers::{deadline_after, TimerKind};
use super::EventLoop;
use crate::conn::{Flags, Phase};
use crate::transport::tls::{Handshake, TlsSession, TlsStream};
use crate::transport::{PeerAddr, Stream};
use crate::{CloseReason, ConnId, Ctx, Handler, Origin};

impl Ctx {
    /// Puts an accepted stream in the table behind a server session, its
    /// handshake timeout armed. The peer's hello, if already there, is
    /// announced by the readable edge registering it brings.
    pub(crate) fn insert_tls_inbound(
        &mut self,
        stream: Stream,
        slot: usize,
        peer: PeerAddr,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<ConnId> {
        let session = TlsSession::server(config)?;
        let mut tls = TlsStream::new(stream, session);
        tls.listener = slot;
        let id =
            self.insert_conn(Stream::Tls(Box::new(tls)), Phase::Handshaking, Origin::Inbound { listener: slot }, peer)?;
        self.arm_handshake_timeout(id);
        Ok(id)
    }

    fn arm_handshake_timeout(&mut self, id: ConnId) {
        let deadline = deadline_after(self.now, self.config.tls_handshake_timeout);
        self.conns[id].deadline_timer = Some(self.timers.insert(deadline, TimerKind::Handshake(id)));
    }
}

impl<H: Handler> EventLoop<H> {
    /// The TCP connect of outbound TLS connection `id` completed: its
    /// handshake begins (the client's hello goes out now), under the
    /// handshake timeout instead of the connect timeout.
    pub(crate) fn begin_client_handshake(&mut self, id: ConnId) {
        let conn = &mut self.cx.conns[id];
        if let Some(timer) = conn.deadline_timer.take() {
            self.cx.timers.cancel(timer);
        }
        conn.set_phase(Phase::Handshaking);
        conn.flags.insert(Flags::WRITABLE);
        self.cx.arm_handshake_timeout(id);
        self.advance_handshake(id);
    }

    /// An event for handshaking connection `id`: read what the peer sent,
    /// write the answer; open the connection once the handshake is done.
    pub(crate) fn advance_handshake(&mut self, id: ConnId) {
        let conn = &mut self.cx.conns[id];
        let Stream::Tls(tls) = &mut conn.stream else { return };
        self.cx.stats.read_calls += 1;
        match tls.handshake() {
            Ok(Handshake::InProgress) => {}
            Ok(Handshake::Done) => self.complete_handshake(id),
            Err(e) => self.fail_handshake(id, e, CloseReason::TlsHandshakeFailed),
        }
    }

    /// The handshake completed: the connection opens for the application.
    /// Application data that came behind the last handshake message is
    /// read (and offered) at once, as is output an outbound connection
    /// queued while it connected.
    fn complete_handshake(&mut self, id: ConnId) {
        let conn = &mut self.cx.conns[id];
        if let Some(timer) = conn.deadline_timer.take() {
            self.cx.timers.cancel(timer);
        }
        let Stream::Tls(tls) = &conn.stream else { return };
        let origin = match conn.flags.any(Flags::INBOUND) {
            true => Origin::Inbound { listener: tls.listener },
            false => Origin::Outbound,
        };
        let all_written = tls.session.queued_tls() == 0;
        conn.set_phase(Phase::Open);
        conn.flags.set(Flags::WRITABLE, all_written);
        // What followed the handshake may be in the session or the socket;
        // no further edge announces it.
        conn.flags.insert(Flags::READABLE);
        self.cx.stats.tls_handshakes += 1;
        if origin == Origin::Outbound {
            self.cx.stats.connected += 1;
        }
        self.open(id, origin);
        self.after_dispatch();
        if origin == Origin::Outbound {
            if self.cx.live_conn(id).is_some() {
                // Output queued while connecting goes out now.
                self.cx.write_out(id);
            }
            if self.cx.live_conn(id).is_some_and(|c| c.flags.any(Flags::SHUTDOWN_PENDING) && !c.has_output()) {
                self.cx.finish_shutdown_write(id);
            }
        }
        self.read_from(id);
    }

    /// The handshake of `id` failed or timed out: an inbound connection is
    /// dropped without the handler hearing of it, counted under `reason`;
    /// an outbound one reaches `on_connect_failed`.
    pub(crate) fn fail_handshake(&mut self, id: ConnId, error: io::Error, reason: CloseReason) {
        let conn = &self.cx.conns[id];
        debug!("connection {id} with {}: TLS handshake failed: {error}", conn.peer);
        if conn.flags.any(Flags::INBOUND) {
            // Dropping the session writes its alert, if it has one.
            drop(self.remove_conn(id));
            self.cx.stats.count_unopened_close(reason);
        } else {
            self.fail_connect(id, error);
        }
    }

    /// The handshake timeout of `id` came due.
    pub(crate) fn check_handshake_timeout(&mut self, id: ConnId) {
        let timeout = self.cx.config.tls_handshake_timeout;
        let Some(conn) = self.cx.live_conn(id) else { return };
        if conn.phase() != Phase::Handshaking {
            return;
        }
        conn.deadline_timer = None;
        let error = io::Error::new(io::ErrorKind::TimedOut, format!("TLS handshake timed out after {timeout:?}"));
        self.fail_handshake(id, error, CloseReason::TlsHandshakeTimeout);
    }

    /// Abandons handshaking connection `id` as the loop stops or the
    /// application gives up on it: `reason` for an inbound one (counted,
    /// not reported), `ConnectionAborted` for an outbound one.
    pub(crate) fn abandon_handshake(&mut self, id: ConnId, reason: CloseReason) {
        let error =
            io::Error::new(io::ErrorKind::ConnectionAborted, format!("closed during the TLS handshake ({reason})"));
        self.fail_handshake(id, error, reason);
    }
}
