//! `EventLoop`: the loop itself. `run` repeats `turn`, which reads like
//! Redis's `aeProcessEvents`: compute the timeout, poll, dispatch I/O,
//! serve what the last turn left on the ready list, fire timers, begin a
//! shutdown if one was asked for, and write the output the turn gathered.
//! Each step lives in a file of its own beside this one, in turn order.

mod accept;
mod close;
mod connect;
mod deadlines;
#[cfg(feature = "tls")]
mod handshake;
mod input;
mod linger;
mod listen;
mod messages;
mod offer;
mod open;
mod output;
mod panic_guard;
mod shutdown;
#[cfg(feature = "signals")]
mod signals;
mod timers;
mod token;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use log::info;
use mio::{Events, Waker};

pub(crate) use self::listen::{Listeners, SharedRoom};
pub(crate) use self::offer::Offer;
pub(crate) use self::panic_guard::panic_message;
pub(crate) use self::timers::{deadline_after, TimerKind, Timers};
pub(crate) use self::token::MAX_CONN_INDEX;
use self::token::{decode_token, Source, WAKER_TOKEN};
use crate::ctx::{Ready, RunState};
use crate::loop_handle::Inbox;
use crate::{Config, ConnId, Ctx, Handler, LoopHandle, Stats};

/// A single-threaded event loop serving a [`Handler`].
///
/// Create it with [`new`](EventLoop::new), add listeners with
/// [`listen`](EventLoop::listen) (or outbound connections with
/// [`connect`](EventLoop::connect)), take a [`handle`](EventLoop::handle)
/// for other threads if needed, then [`run`](EventLoop::run) it.
///
/// # Examples
///
/// ```
/// use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
/// use std::io::{Read, Write};
///
/// struct Echo;
/// impl Handler for Echo {
///     type Conn = ();
///     type Message = ();
///     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
///     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
///         cx.send(id, data);
///         data.len()
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let mut el = EventLoop::new(Config::default(), Echo)?;
/// let addr = el.listen("127.0.0.1:0".parse().unwrap())?;
/// let handle = el.handle();
/// let client = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
///     let mut stream = std::net::TcpStream::connect(addr)?;
///     stream.write_all(b"ping")?;
///     let mut reply = [0; 4];
///     stream.read_exact(&mut reply)?;
///     handle.stop().expect("the loop is running");
///     Ok(reply.to_vec())
/// });
/// el.run()?;
/// assert_eq!(client.join().unwrap()?, b"ping");
/// # Ok(())
/// # }
/// ```
pub struct EventLoop<H: Handler> {
    pub(crate) cx: Ctx,
    pub(crate) handler: H,
    /// The application's per-connection state, at the same index as the
    /// connection's slot in `cx.conns`.
    pub(crate) states: Vec<Option<H::Conn>>,
    /// The one buffer every read lands in.
    pub(crate) scratch: Vec<u8>,
    /// The ready list as the turn began: served this turn, while what the
    /// turn adds waits for the next.
    due: VecDeque<Ready>,
    /// Messages from other threads delivered this turn.
    messages_in_turn: usize,
    /// `Ready::Messages` is on the ready list.
    messages_on_ready_list: bool,
    /// Lent to the dispatch while it runs (taken and put back: a move of
    /// three words, where swapping in an empty `Events` allocated nothing
    /// but still cost a constructor call every turn).
    events: Option<Events>,
    inbox: Inbox<H::Message>,
    #[cfg(feature = "signals")]
    pub(crate) signals: Option<signal_hook_mio::v1_0::Signals>,
}

/// The application's state for open connection `id`: a function of the
/// states alone, so a caller can hold it beside `&mut Ctx` and the handler.
#[inline]
pub(crate) fn state_of<C>(states: &mut [Option<C>], id: ConnId) -> &mut C {
    states[id.index() as usize].as_mut().expect("an open connection has application state")
}

impl<H: Handler> fmt::Debug for EventLoop<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop").field("cx", &self.cx).finish_non_exhaustive()
    }
}

impl<H: Handler> EventLoop<H> {
    /// Creates a loop (an epoll instance and a waker) serving `handler`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `config`'s limits contradict each other (for
    /// example `low_watermark > high_watermark`); otherwise what
    /// `epoll_create` or `eventfd` return (`Other` for EMFILE).
    pub fn new(config: Config, handler: H) -> io::Result<EventLoop<H>> {
        let (cx, inbox) = EventLoop::<H>::parts(config)?;
        Ok(EventLoop::from_parts(cx, inbox, handler))
    }

    /// The loop's poll and queue, made before its handler (a group makes
    /// every loop's, so each handler can be given the others' handles).
    pub(crate) fn parts(config: Config) -> io::Result<(Ctx, Inbox<H::Message>)> {
        config.validate()?;
        let message_queue_capacity = config.message_queue_capacity;
        let cx = Ctx::new(config)?;
        let waker = Waker::new(cx.poll.registry(), WAKER_TOKEN)?;
        Ok((cx, Inbox::new(waker, message_queue_capacity)))
    }

    /// Puts a loop together from [`parts`](EventLoop::parts) and its
    /// handler; its buffers are allocated here, on the thread that will use
    /// them.
    pub(crate) fn from_parts(cx: Ctx, inbox: Inbox<H::Message>, handler: H) -> EventLoop<H> {
        EventLoop {
            scratch: vec![0; cx.config.read_buffer_bytes],
            events: Some(Events::with_capacity(cx.config.events_capacity)),
            cx,
            handler,
            states: Vec::new(),
            due: VecDeque::new(),
            messages_in_turn: 0,
            messages_on_ready_list: false,
            inbox,
            #[cfg(feature = "signals")]
            signals: None,
        }
    }

    /// A loop that stopped and let every connection go may run again.
    fn ready_after_stop(&mut self) {
        if self.cx.run_state == RunState::Draining && self.cx.conns.is_empty() {
            self.cx.run_state = RunState::Running;
        }
    }

    /// A handle other threads can use to send messages to the loop or stop
    /// it.
    pub fn handle(&self) -> LoopHandle<H::Message> {
        self.inbox.handle()
    }

    /// The loop's counters so far.
    pub fn stats(&self) -> &Stats {
        &self.cx.stats
    }

    /// The application.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The application, mutably (between runs).
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Consumes the loop, returning the application (after `run`, to read
    /// what it gathered).
    pub fn into_handler(self) -> H {
        self.handler
    }

    /// Serves events until the loop is stopped, then shuts down gracefully:
    /// listeners close, queued output gets up to
    /// [`Config::shutdown_timeout`] to flush, and every connection closes
    /// with [`CloseReason::Shutdown`](crate::CloseReason::Shutdown) (each gets `on_close`) before `run`
    /// returns.
    ///
    /// # Errors
    ///
    /// Only if `epoll_wait` itself fails, which loses service: every
    /// connection is then closed with that error as its reason before `run`
    /// returns it, the loop counting as stopping meanwhile (a `connect`
    /// from those `on_close` calls fails), so none outlives the error. `Interrupted` (a signal during the wait) is the one error
    /// retried, here and nowhere else; sockets are nonblocking and are never
    /// interrupted.
    pub fn run(&mut self) -> io::Result<()> {
        self.inbox.begin_run();
        self.ready_after_stop();
        info!("event loop running");
        let result = loop {
            if let Err(e) = self.turn() {
                self.lose_service(&e);
                break Err(e);
            }
            if self.cx.run_state == RunState::Draining && self.cx.conns.is_empty() {
                break Ok(());
            }
        };
        self.inbox.set_exited(true);
        if let Some(timer) = self.cx.shutdown_timer.take() {
            // Not for the next run to find.
            self.cx.timers.cancel(timer);
        }
        info!("event loop stopped: {}", self.cx.stats);
        result
    }

    /// One turn of the loop.
    fn turn(&mut self) -> io::Result<()> {
        let timeout = self.poll_timeout();
        self.poll(timeout)?;
        self.cx.now = Instant::now();
        self.cx.turn += 1;
        self.messages_in_turn = 0;
        std::mem::swap(&mut self.due, &mut self.cx.ready);
        self.dispatch_events();
        self.serve_ready_list();
        self.fire_timers();
        self.begin_shutdown_if_asked();
        self.flush();
        self.inbox.publish_open(self.cx.conns.len());
        Ok(())
    }

    /// Zero when something waits on the ready list, in the message queue,
    /// or output waits to be written, else until the next timer, else
    /// forever: an idle loop sleeps in `epoll_wait`. The queue is looked at
    /// every turn, because senders wake only a loop that said it sleeps.
    fn poll_timeout(&mut self) -> Option<Duration> {
        if self.inbox.has_pending() {
            self.schedule_messages();
        }
        let pending = !self.cx.ready.is_empty() || !self.cx.flush_queue.is_empty();
        if pending || self.cx.run_state == RunState::StopRequested {
            return Some(Duration::ZERO);
        }
        if !self.inbox.prepare_to_sleep() {
            self.schedule_messages();
            return Some(Duration::ZERO);
        }
        let deadline = self.cx.timers.next_deadline()?;
        Some(deadline.saturating_duration_since(Instant::now()))
    }

    fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.cx.stats.poll_calls += 1;
        let events = self.events.as_mut().expect("events are back after every dispatch");
        let polled = self.cx.poll.poll(events, timeout);
        self.inbox.woke_up();
        match polled {
            Ok(()) => Ok(()),
            // A signal landed during the wait (signal-hook's SIGINT, say):
            // treat it as an empty poll; the next turn recomputes the timeout.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn dispatch_events(&mut self) {
        let events = self.events.take().expect("events are back after every dispatch");
        for event in events.iter() {
            match decode_token(event.token()) {
                Source::Waker => self.drain_inbox(),
                Source::Listener(slot) => self.accept_from(slot),
                Source::Conn(id) => self.conn_event(id, event),
                #[cfg(feature = "signals")]
                Source::Signals => self.on_signals(),
                #[cfg(not(feature = "signals"))]
                Source::Signals => {}
            }
            self.after_dispatch();
        }
        self.events = Some(events);
    }

    /// Serves what the last turn left over. What this turn adds to the
    /// ready list waits for the next turn, so the list cannot keep a turn
    /// going forever.
    fn serve_ready_list(&mut self) {
        while let Some(ready) = self.due.pop_front() {
            match ready {
                Ready::Conn(id) => self.serve_ready_conn(id),
                Ready::Listener(slot) => {
                    self.cx.listeners.on_ready_list[slot] = false;
                    self.accept_from(slot);
                }
                Ready::Messages => {
                    self.messages_on_ready_list = false;
                    self.drain_inbox();
                }
            }
            self.after_dispatch();
        }
    }

    /// Writes the output this turn gathered, one write per connection,
    /// then closes what the writes finished or failed.
    fn flush(&mut self) {
        self.cx.flush_gathered();
        self.after_dispatch();
    }

    /// Runs what callbacks left pending: `on_drain` for connections that fell
    /// below the low watermark, and closing the connections asked to close
    /// (whose `on_close` may ask for more of both).
    #[inline]
    pub(crate) fn after_dispatch(&mut self) {
        if !self.cx.drained.is_empty() || !self.cx.closing.is_empty() {
            self.run_pending_closes_and_drains();
        }
    }

    #[cold]
    fn run_pending_closes_and_drains(&mut self) {
        while !self.cx.drained.is_empty() || !self.cx.closing.is_empty() {
            for id in std::mem::take(&mut self.cx.drained) {
                self.fire_drain(id);
            }
            for id in std::mem::take(&mut self.cx.closing) {
                self.reap(id);
            }
        }
    }
}
