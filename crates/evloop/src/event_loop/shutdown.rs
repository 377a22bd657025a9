//! Stopping: closing the listeners, `on_stop`, flushing every connection
//! up to the shutdown deadline, then closing what is left.

use std::io;

use log::info;

use super::panic_guard::guard;
use super::timers::{deadline_after, TimerKind};
use super::EventLoop;
use crate::conn::{Closing, Phase};
use crate::ctx::RunState;
use crate::{CloseReason, ConnId, Handler};

impl<H: Handler> EventLoop<H> {
    /// Begins a graceful stop, if one was asked for this turn: closes the
    /// listeners, calls `on_stop`, asks every connection to flush and
    /// close, and arms the shutdown deadline.
    pub(super) fn begin_shutdown_if_asked(&mut self) {
        if self.cx.run_state != RunState::StopRequested {
            return;
        }
        self.cx.run_state = RunState::Draining;
        self.inbox.set_stopping(true);
        info!("stopping: closing listeners, flushing {} connections", self.cx.conns.len());
        // Full for good: a sibling sharing a listener leaves nothing to it.
        self.cx.listeners.count_full();
        for socket in self.cx.listeners.sockets.iter_mut() {
            *socket = None;
        }
        let EventLoop { cx, handler, .. } = self;
        guard(cx.config.panic_policy, "on_stop", || handler.on_stop(cx));
        self.after_dispatch();
        for id in self.cx.conns.ids() {
            self.shut_down_conn(id);
        }
        let deadline = deadline_after(self.cx.now, self.cx.config.shutdown_timeout);
        self.cx.shutdown_timer = Some(self.cx.timers.insert(deadline, TimerKind::Shutdown));
        self.after_dispatch();
    }

    /// Begins closing `id` for shutdown: a pending connect fails, an open
    /// connection flushes and closes with [`CloseReason::Shutdown`].
    pub(crate) fn shut_down_conn(&mut self, id: ConnId) {
        let Some(conn) = self.cx.live_conn(id) else { return };
        #[cfg(feature = "tls")]
        if conn.phase() == Phase::Handshaking {
            self.abandon_handshake(id, CloseReason::Shutdown);
            return;
        }
        if conn.phase() == Phase::Connecting {
            let error = io::Error::new(io::ErrorKind::ConnectionAborted, "the event loop stopped");
            self.fail_connect(id, error);
        } else {
            self.cx.close_with(id, Closing::AfterFlush(CloseReason::Shutdown));
        }
    }

    /// `epoll_wait` failed: the loop cannot serve anyone. It counts as
    /// stopping from here (a callback's `connect` fails, nothing is
    /// accepted), so the `on_close` each connection gets cannot open one
    /// that would outlive `run`'s error.
    pub(super) fn lose_service(&mut self, error: &io::Error) {
        log::error!("poll failed, closing every connection: {error}");
        self.cx.run_state = RunState::Draining;
        self.close_all(CloseReason::Error(error.kind()));
    }

    /// Closes every connection now, with `reason` for those not already
    /// closing for another; lingering sockets are closed without waiting.
    pub(crate) fn close_all(&mut self, reason: CloseReason) {
        for id in self.cx.conns.ids() {
            let Some(conn) = self.cx.conns.get_mut(id) else { continue };
            match conn.phase() {
                Phase::Lingering => {
                    drop(self.remove_conn(id));
                    continue;
                }
                Phase::Connecting => {
                    self.fail_connect(id, io::Error::new(io::ErrorKind::ConnectionAborted, "the event loop stopped"));
                    continue;
                }
                #[cfg(feature = "tls")]
                Phase::Handshaking => {
                    self.abandon_handshake(id, reason);
                    continue;
                }
                Phase::Open => {}
            }
            let how = match conn.closing() {
                Closing::Now(earlier) | Closing::AfterFlush(earlier) if earlier != CloseReason::Shutdown => {
                    Closing::Now(earlier)
                }
                _ => Closing::Now(reason),
            };
            conn.set_closing(Closing::No);
            self.cx.close_with(id, how);
        }
        self.after_dispatch();
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::{SocketAddr, TcpListener};

    use crate::{Config, ConnId, Ctx, EventLoop, Handler, Origin};

    /// Connects again from `on_connect_failed` and keeps what that gave.
    struct Reconnect {
        addr: SocketAddr,
        again: Option<io::Result<ConnId>>,
    }

    impl Handler for Reconnect {
        type Conn = ();
        type Message = ();

        fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

        fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
            data.len()
        }

        fn on_connect_failed(&mut self, cx: &mut Ctx, _: ConnId, _: io::Error) {
            self.again = Some(cx.connect(self.addr));
        }
    }

    #[test]
    fn after_a_failed_poll_no_connection_outlives_the_loop() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut el = EventLoop::new(Config::default(), Reconnect { addr, again: None }).unwrap();
        el.connect(addr).expect("a connect to start");
        el.lose_service(&io::Error::other("epoll_wait failed"));
        let again = el.handler.again.take().expect("the pending connect failed");
        assert_eq!(
            again.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::ConnectionAborted),
            "a connect from a callback while the loop closes everything after a failed poll"
        );
        assert!(el.cx.conns.is_empty(), "a connection outlives the failed loop");
    }
}
