//! Accepting connections: until `WouldBlock`, within a per-turn budget,
//! turning away what is past `max_connections` and backing off when out of
//! descriptors.

use log::{debug, error, info, warn};

use super::listen::Exhaustion;
use super::panic_guard::guard;
use super::timers::{deadline_after, TimerKind};
use crate::conn::{Flags, Phase};
use crate::ctx::{Ready, RunState};
use crate::loop_handle::Adoption;
use crate::transport::{is_per_connection, is_resource_exhaustion, PeerAddr, Stream};
use crate::{EventLoop, Handler, Origin, Refusal};

/// Connections accepted from one listener before the others get a turn.
const ACCEPTS_PER_TURN: usize = 256;

impl<H: Handler> EventLoop<H> {
    /// Accepts from listener `slot` until it has no more, the budget is
    /// spent (it goes on the ready list), or a limit stops it.
    pub(crate) fn accept_from(&mut self, slot: usize) {
        let turn = self.cx.turn;
        loop {
            if self.cx.run_state != RunState::Running || self.cx.listeners.backing_off {
                return;
            }
            if self.cx.listeners.accepts_left(slot, turn, ACCEPTS_PER_TURN) == 0 {
                break;
            }
            let full = self.cx.conns.open_len() >= self.cx.config.max_connections;
            if full && self.cx.listeners.leave_to_siblings(slot) {
                return;
            }
            let Some(Some(listener)) = self.cx.listeners.sockets.get(slot) else { return };
            self.cx.stats.accept_calls += 1;
            self.cx.listeners.accepted_in_turn[slot].1 += 1;
            let accepted = listener.accept();
            if accepted.is_ok() || matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
                self.end_exhaustion_episode();
            }
            match accepted {
                Ok((stream, peer)) => match self.admit(&peer) {
                    Ok(()) => {
                        self.open_inbound(stream, slot, peer, false);
                        self.after_dispatch();
                    }
                    Err(why) => self.refuse(stream, slot, peer, why, false),
                },
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if is_per_connection(&e) => debug!("accept on listener {slot}: {e}"),
                Err(e) if is_resource_exhaustion(&e) => {
                    self.back_off_accepting(&e);
                    return;
                }
                Err(e) => {
                    error!("accept on listener {slot} failed: {e}");
                    return;
                }
            }
        }
        if !self.cx.listeners.on_ready_list[slot] {
            self.cx.listeners.on_ready_list[slot] = true;
            self.cx.ready.push_back(Ready::Listener(slot));
        }
    }

    /// Serves a connection a group's acceptor accepted and handed over, as
    /// if this loop had accepted it: the same limits, the same `on_open`.
    pub(crate) fn adopt(&mut self, adoption: Adoption) {
        let Adoption { stream, peer, listener } = adoption;
        if self.cx.run_state != RunState::Running {
            // Stopping: as a listener closed with it in the backlog would.
            return;
        }
        match self.admit(&peer) {
            Ok(()) => {
                debug!("adopted {peer} from listener {listener}");
                self.open_inbound(stream, listener, peer, true);
                self.after_dispatch();
            }
            Err(why) => self.refuse(stream, listener, peer, why, true),
        }
    }

    /// Out of descriptors: stop accepting for `accept_backoff` instead of
    /// spinning on a listener that stays readable. Logged when the episode
    /// starts and when it ends, not per attempt.
    fn back_off_accepting(&mut self, error: &std::io::Error) {
        let backoff = self.cx.config.accept_backoff;
        let listeners = &mut self.cx.listeners;
        match &mut listeners.exhaustion {
            Some(episode) => episode.failed_accepts += 1,
            None => {
                warn!("accept: {error}; retrying every {backoff:?} until descriptors free up");
                listeners.exhaustion = Some(Exhaustion { since: self.cx.now, failed_accepts: 1 });
            }
        }
        listeners.backing_off = true;
        let deadline = deadline_after(self.cx.now, backoff);
        self.cx.timers.insert(deadline, TimerKind::AcceptBackoff);
    }

    /// An accept got past the descriptor limit again: log the episode's end.
    fn end_exhaustion_episode(&mut self) {
        if let Some(episode) = self.cx.listeners.exhaustion.take() {
            info!(
                "accepting again: out of descriptors for {:?}, {} accept attempts failed",
                self.cx.now.saturating_duration_since(episode.since),
                episode.failed_accepts
            );
        }
    }

    /// Whether a connection from `peer` fits the limits; if it does, it is
    /// counted against its address.
    fn admit(&mut self, peer: &PeerAddr) -> Result<(), Refusal> {
        if self.cx.conns.open_len() >= self.cx.config.max_connections {
            return Err(Refusal::MaxConnections);
        }
        if let (Some(limit), Some(ip)) = (self.cx.config.max_connections_per_ip, peer.ip()) {
            if !self.cx.listeners.admit_ip(ip, limit) {
                return Err(Refusal::MaxConnectionsPerIp);
            }
        }
        Ok(())
    }

    /// Turns away a connection accepted past a limit: writes the handler's
    /// refusal once, best effort (on a TLS listener nothing: it would reach
    /// the client as a record it cannot parse), and closes the socket
    /// gracefully (FIN, then a linger: see
    /// [`linger_refused`](EventLoop::linger_refused)), so the peer sees why
    /// and an end of file rather than a connect that hangs in the backlog.
    fn refuse(&mut self, mut stream: Stream, slot: usize, peer: PeerAddr, why: Refusal, adopted: bool) {
        self.cx.stats.rejected += 1;
        if why == Refusal::MaxConnections && !self.cx.listeners.rejecting_at_limit {
            self.cx.listeners.rejecting_at_limit = true;
            warn!(
                "max_connections ({}) open: refusing new connections until one closes",
                self.cx.config.max_connections
            );
        }
        debug!(
            "connection from {peer} refused: {}",
            match why {
                Refusal::MaxConnections => "max_connections open",
                _ => "max_connections_per_ip open from its address",
            }
        );
        let policy = self.cx.config.panic_policy;
        let handler = &mut self.handler;
        let message = guard(policy, "on_refused", || handler.on_refused(&peer, why)).unwrap_or_default();
        #[cfg(feature = "tls")]
        let message = if self.cx.listeners.tls_config(slot, adopted).is_some() { &[][..] } else { message };
        #[cfg(not(feature = "tls"))]
        let _ = adopted;
        if !message.is_empty() {
            self.cx.stats.write_calls += 1;
            if let Ok(n) = stream.write(message, &[]) {
                self.cx.stats.bytes_out += n as u64;
            }
        }
        self.linger_refused(stream, slot, peer);
    }

    /// Lingers on a refused socket as a graceful close does: a peer that
    /// sent something before the refusal would otherwise be reset (a
    /// socket closed with input unread sends RST) and lose the message.
    /// The socket never reaches `on_open` and holds no slot under the
    /// limits; at most `max_connections` sockets linger at once, past
    /// which a refused one closes at once.
    fn linger_refused(&mut self, stream: Stream, slot: usize, peer: PeerAddr) {
        if self.cx.conns.lingering_len() >= self.cx.config.max_connections {
            return;
        }
        match self.cx.insert_conn(stream, Phase::Open, Origin::Inbound { listener: slot }, peer) {
            Ok(id) => {
                self.begin_linger(id);
                // What the peer sent before the accept raised no edge we saw.
                self.cx.conns[id].flags.insert(Flags::READABLE);
                self.linger_read(id);
            }
            Err(e) => debug!("registering a refused socket to linger on: {e}"),
        }
    }

    /// `adopted`: handed over by a group's acceptor, whose listener `slot` is.
    fn open_inbound(&mut self, stream: Stream, slot: usize, peer: PeerAddr, adopted: bool) {
        if self.cx.config.tcp_nodelay {
            if let Err(e) = stream.set_nodelay() {
                debug!("TCP_NODELAY on an accepted socket: {e}");
            }
        }
        let ip = peer.ip();
        #[cfg(not(feature = "tls"))]
        let _ = adopted;
        #[cfg(feature = "tls")]
        if let Some(config) = self.cx.listeners.tls_config(slot, adopted) {
            // `on_open` waits for the handshake (`handshake.rs`).
            match self.cx.insert_tls_inbound(stream, slot, peer, config) {
                Ok(_) => self.cx.stats.accepted += 1,
                Err(e) => {
                    warn!("registering an accepted TLS socket failed: {e}");
                    if let (Some(_), Some(ip)) = (self.cx.config.max_connections_per_ip, ip) {
                        self.cx.listeners.release_ip(ip);
                    }
                }
            }
            return;
        }
        match self.cx.insert_conn(stream, Phase::Open, Origin::Inbound { listener: slot }, peer) {
            Ok(id) => {
                self.cx.stats.accepted += 1;
                self.open(id, Origin::Inbound { listener: slot });
            }
            Err(e) => {
                warn!("registering an accepted socket failed: {e}");
                if let (Some(_), Some(ip)) = (self.cx.config.max_connections_per_ip, ip) {
                    self.cx.listeners.release_ip(ip);
                }
            }
        }
    }

    /// Accepting may go on: the descriptor backoff passed. Edge-triggered
    /// listeners will not signal the connections already waiting, so every
    /// listener is tried.
    pub(crate) fn resume_accepting(&mut self) {
        let listeners = &mut self.cx.listeners;
        listeners.backing_off = false;
        for slot in 0..listeners.sockets.len() {
            if !listeners.on_ready_list[slot] {
                listeners.on_ready_list[slot] = true;
                self.cx.ready.push_back(Ready::Listener(slot));
            }
        }
    }
}
