//! Accepting connections: until `WouldBlock`, within a per-turn budget,
//! turning away what is past `max_connections` and backing off when out of
//! descriptors.

use std::io::Write;
use std::net::SocketAddr;

use log::{debug, error, warn};
use mio::net::TcpStream;

use crate::conn::Phase;
use crate::ctx::{Ready, RunState};
use crate::listener::{is_per_connection, is_resource_exhaustion};
use crate::panic_guard::guard;
use crate::timer::{deadline_after, TimerKind};
use crate::{EventLoop, Handler, Origin, Refusal};

/// Connections accepted from one listener before the others get a turn.
const ACCEPTS_PER_TURN: usize = 256;

impl<H: Handler> EventLoop<H> {
    /// Accepts from listener `slot` until it has no more, the budget is
    /// spent (it goes on the ready list), or a limit stops it.
    pub(crate) fn accept_from(&mut self, slot: usize) {
        for _ in 0..ACCEPTS_PER_TURN {
            if self.cx.run_state != RunState::Running || self.cx.listeners.backing_off {
                return;
            }
            let Some(Some(listener)) = self.cx.listeners.sockets.get(slot) else { return };
            self.cx.stats.accept_calls += 1;
            match listener.accept() {
                Ok((stream, peer)) => match self.admit(peer) {
                    Ok(()) => {
                        debug!("accepted {peer} on listener {slot}");
                        self.open_inbound(stream, slot, peer);
                        self.after_dispatch();
                    }
                    Err(why) => self.refuse(stream, peer, why),
                },
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if is_per_connection(&e) => debug!("accept on listener {slot}: {e}"),
                Err(e) if is_resource_exhaustion(&e) => {
                    warn!("accept: {e}; pausing accepts for {:?}", self.cx.config.accept_backoff);
                    self.cx.listeners.backing_off = true;
                    let deadline = deadline_after(self.cx.now, self.cx.config.accept_backoff);
                    self.cx.timers.insert(deadline, TimerKind::AcceptBackoff);
                    return;
                }
                Err(e) => {
                    error!("accept on listener {slot} failed: {e}");
                    return;
                }
            }
        }
        self.cx.ready.push_back(Ready::Listener(slot));
    }

    /// Whether a connection from `peer` fits the limits; if it does, it is
    /// counted against its address.
    fn admit(&mut self, peer: SocketAddr) -> Result<(), Refusal> {
        if self.cx.conns.len() >= self.cx.config.max_connections {
            return Err(Refusal::MaxConnections);
        }
        if let Some(limit) = self.cx.config.max_connections_per_ip {
            if !self.cx.listeners.admit_ip(peer.ip(), limit) {
                return Err(Refusal::MaxConnectionsPerIp);
            }
        }
        Ok(())
    }

    /// Turns away a connection accepted past a limit: writes the handler's
    /// refusal once, best effort, and closes the socket at once, so the
    /// peer sees why and an end of file rather than a connect that hangs in
    /// the backlog.
    fn refuse(&mut self, mut stream: TcpStream, peer: SocketAddr, why: Refusal) {
        self.cx.stats.rejected += 1;
        if why == Refusal::MaxConnections && !self.cx.listeners.rejecting_at_limit {
            self.cx.listeners.rejecting_at_limit = true;
            warn!(
                "max_connections ({}) open: refusing new connections until one closes",
                self.cx.config.max_connections
            );
        }
        debug!("refused {peer}: {why:?}");
        let policy = self.cx.config.panic_policy;
        let handler = &mut self.handler;
        let message = guard(policy, "on_refused", || handler.on_refused(peer, why)).unwrap_or_default();
        if !message.is_empty() {
            self.cx.stats.write_calls += 1;
            if let Ok(n) = stream.write(message) {
                self.cx.stats.bytes_out += n as u64;
            }
        }
    }

    fn open_inbound(&mut self, stream: TcpStream, slot: usize, peer: SocketAddr) {
        if self.cx.config.tcp_nodelay {
            if let Err(e) = stream.set_nodelay(true) {
                debug!("TCP_NODELAY on an accepted socket: {e}");
            }
        }
        match self.cx.insert_conn(stream, Phase::Open, Origin::Inbound { listener: slot }, peer) {
            Ok(id) => {
                self.cx.stats.accepted += 1;
                self.open(id, Origin::Inbound { listener: slot });
            }
            Err(e) => {
                warn!("registering an accepted socket failed: {e}");
                if self.cx.config.max_connections_per_ip.is_some() {
                    self.cx.listeners.release_ip(peer.ip());
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
            self.cx.ready.push_back(Ready::Listener(slot));
        }
    }
}
