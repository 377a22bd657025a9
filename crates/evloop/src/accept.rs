//! Accepting connections: until `WouldBlock`, within a per-turn budget,
//! turning away what is past `max_connections` and backing off when out of
//! descriptors.

use log::{debug, error, warn};
use mio::net::TcpStream;

use crate::conn::Phase;
use crate::ctx::{Ready, RunState};
use crate::listener::{is_per_connection, is_resource_exhaustion};
use crate::timer::{deadline_after, TimerKind};
use crate::{EventLoop, Handler, Origin};

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
                Ok((_, peer)) if self.cx.conns.len() >= self.cx.config.max_connections => self.reject(peer),
                Ok((stream, peer)) => {
                    debug!("accepted {peer} on listener {slot}");
                    self.open_inbound(stream, slot);
                    self.after_dispatch();
                }
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

    /// Turns away a connection accepted past `max_connections`: its socket
    /// (dropped by the caller) closes at once, so the peer sees end of file
    /// rather than a connect that hangs in the backlog.
    fn reject(&mut self, peer: std::net::SocketAddr) {
        self.cx.stats.rejected += 1;
        if !self.cx.listeners.rejecting_at_limit {
            self.cx.listeners.rejecting_at_limit = true;
            warn!(
                "max_connections ({}) open: closing new connections until one closes",
                self.cx.config.max_connections
            );
        }
        debug!("rejected {peer}: max_connections open");
    }

    fn open_inbound(&mut self, stream: TcpStream, slot: usize) {
        if self.cx.config.tcp_nodelay {
            if let Err(e) = stream.set_nodelay(true) {
                debug!("TCP_NODELAY on an accepted socket: {e}");
            }
        }
        match self.cx.insert_conn(stream, Phase::Open) {
            Ok(id) => {
                self.cx.stats.accepted += 1;
                self.open(id, Origin::Inbound { listener: slot });
            }
            Err(e) => warn!("registering an accepted socket failed: {e}"),
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
