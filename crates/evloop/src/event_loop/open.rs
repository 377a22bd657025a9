//! A connection enters the table (registered once with the poll, for its
//! whole life) and opens: its idle clock starts and `on_open` gives the
//! application's state for it.

use std::io;

use log::debug;
use mio::Interest;

use super::panic_guard::guard;
use super::timers::{deadline_after, TimerKind};
use super::token::conn_token;
use super::EventLoop;
use crate::conn::{Conn, Opened, Phase};
use crate::transport::{PeerAddr, Stream};
use crate::{CloseReason, ConnId, Ctx, Handler, Origin};

impl Ctx {
    /// Registers `stream` once, for both directions and urgent data,
    /// edge-triggered, and gives it a slot.
    pub(crate) fn insert_conn(
        &mut self,
        mut stream: Stream,
        phase: Phase,
        origin: Origin,
        peer: PeerAddr,
    ) -> io::Result<ConnId> {
        let id = self.conns.vacant_id();
        let interest = Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY;
        stream.register(self.poll.registry(), conn_token(id), interest)?;
        let opened = Opened {
            origin,
            peer,
            now: self.now,
            max_input_bytes: self.config.max_input_bytes,
            max_output_bytes: self.config.max_output_bytes,
        };
        Ok(self.conns.insert(Conn::new(stream, id.generation(), phase, opened)))
    }

    /// Whether another connection fits under `max_connections`.
    ///
    /// # Errors
    ///
    /// `ResourceBusy` at the limit.
    pub(crate) fn check_capacity(&self) -> io::Result<()> {
        if self.conns.open_len() >= self.config.max_connections {
            return Err(io::Error::new(io::ErrorKind::ResourceBusy, "max_connections reached"));
        }
        Ok(())
    }
}

impl<H: Handler> EventLoop<H> {
    /// A connection is open: start its idle clock and ask the application
    /// for its state. A panic in `on_open` drops the connection without
    /// `on_close` (it never opened, from the application's side).
    pub(crate) fn open(&mut self, id: ConnId, origin: Origin) {
        let index = id.index() as usize;
        self.cx.stats.open += 1;
        if let Some(idle) = self.cx.config.idle_timeout {
            let timer = self.cx.timers.insert(deadline_after(self.cx.now, idle), TimerKind::Idle(id));
            self.cx.conns[id].deadline_timer = Some(timer);
        }
        match origin {
            Origin::Inbound { listener } => {
                debug!("connection {id} from {} accepted on listener {listener}", self.cx.conns[id].peer)
            }
            Origin::Outbound => debug!("connection {id} to {} open", self.cx.conns[id].peer),
        }
        let EventLoop { cx, handler, .. } = self;
        let state = guard(cx.config.panic_policy, "on_open", || handler.on_open(cx, id, origin));
        match state {
            Some(state) => {
                if self.states.len() <= index {
                    self.states.resize_with(index + 1, || None);
                }
                self.states[index] = Some(state);
            }
            None => {
                let conn = self.remove_conn(id);
                conn.reset_on_close();
                self.cx.stats.count_close(CloseReason::Panic);
            }
        }
    }
}
