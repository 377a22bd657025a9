//! `LoopHandle`: reaching the loop from other threads.

use std::fmt;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use mio::Waker;

use crate::transport::{PeerAddr, Stream};

/// State shared between the loop and its handles.
#[derive(Debug)]
struct Signal {
    waker: Waker,
    /// A wake-up is in flight: later sends skip the `write(2)` on the eventfd,
    /// so a burst of sends between two turns costs one wake-up.
    woken: AtomicBool,
    /// The loop is in (or about to enter) a blocking `epoll_wait`. A loop
    /// that is awake looks at its queue before it sleeps, so a send to it
    /// needs no wake-up at all: no syscall on either side.
    asleep: AtomicBool,
    stop_requested: AtomicBool,
    /// The loop is stopping (draining): a group's acceptor hands it no
    /// connection, which it would only drop.
    stopping: AtomicBool,
    exited: AtomicBool,
    /// Connections the loop had open at the end of its last turn, plus
    /// connections handed to it and not yet taken: what a group's acceptor
    /// balances on.
    open: AtomicUsize,
    handed_over: AtomicUsize,
    /// Envelopes sent, or being sent, and not yet taken by the loop
    /// (counted before the send, uncounted if it fails): while it is zero
    /// the loop's every-turn look at its queue is this one load, where a
    /// `try_recv` cost a hundred instructions.
    queued: AtomicUsize,
}

/// What travels through a loop's queue: an application message, or (from a
/// [`LoopGroup`](crate::LoopGroup)'s acceptor) a connection to adopt.
pub(crate) enum Envelope<M> {
    Message(M),
    Adopt(Box<Adoption>),
}

/// A connection accepted elsewhere, for the loop to serve.
#[derive(Debug)]
pub(crate) struct Adoption {
    pub(crate) stream: Stream,
    pub(crate) peer: PeerAddr,
    /// The index `Origin::Inbound` reports.
    pub(crate) listener: usize,
}

impl<M> Envelope<M> {
    /// The message of an envelope known to hold one: `send` only ever
    /// sends messages, so what comes back from its `try_send` is one.
    fn into_message(self) -> M {
        match self {
            Envelope::Message(message) => message,
            Envelope::Adopt(_) => unreachable!("LoopHandle::send sends only messages"),
        }
    }
}

/// The loop has exited: what could not be delivered comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited<T>(pub T);

impl<T> fmt::Display for Exited<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the event loop has exited")
    }
}

impl<T: fmt::Debug> std::error::Error for Exited<T> {}

/// Why [`LoopHandle::send`] did not deliver a message; either way the
/// message comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError<T> {
    /// [`Config::message_queue_capacity`](crate::Config::message_queue_capacity)
    /// messages are waiting: the loop is behind. Retry later, drop the
    /// message, or slow the producer down.
    Full(T),
    /// The loop has exited.
    Exited(T),
}

impl<T> SendError<T> {
    /// The message that was not delivered.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Full(message) | SendError::Exited(message) => message,
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("the event loop's message queue is full"),
            SendError::Exited(_) => f.write_str("the event loop has exited"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// A handle to an [`EventLoop`](crate::EventLoop) for other threads: send it
/// messages, or ask it to stop. `Send + Sync + Clone`; get one with
/// [`EventLoop::handle`](crate::EventLoop::handle) before calling `run`.
///
/// # Examples
///
/// ```
/// use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
///
/// struct Counter(u64);
/// impl Handler for Counter {
///     type Conn = ();
///     type Message = u64;
///     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
///     fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
///         data.len()
///     }
///     fn on_message(&mut self, cx: &mut Ctx, n: u64) {
///         self.0 += n;
///         if self.0 == 6 {
///             cx.stop();
///         }
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let mut el = EventLoop::new(Config::default(), Counter(0))?;
/// let handle = el.handle();
/// let sender = std::thread::spawn(move || {
///     for n in 1..=3 {
///         handle.send(n).expect("the loop is running");
///     }
/// });
/// el.run()?;
/// sender.join().unwrap();
/// assert_eq!(el.handler().0, 6);
/// # Ok(())
/// # }
/// ```
pub struct LoopHandle<M> {
    sender: SyncSender<Envelope<M>>,
    signal: Arc<Signal>,
}

impl<M> Clone for LoopHandle<M> {
    fn clone(&self) -> Self {
        LoopHandle { sender: self.sender.clone(), signal: Arc::clone(&self.signal) }
    }
}

impl<M> fmt::Debug for LoopHandle<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle").field("exited", &self.signal.exited.load(Ordering::Relaxed)).finish()
    }
}

impl<M: Send> LoopHandle<M> {
    /// Delivers `message` to [`Handler::on_message`](crate::Handler::on_message)
    /// on the loop thread, in the order this thread sent it. Never blocks.
    /// A loop that is busy finds the message before it next polls, with no
    /// wake-up; one asleep in `epoll_wait` is woken once however many
    /// messages arrive before it runs (one `write(2)` to its eventfd).
    ///
    /// # Errors
    ///
    /// - [`SendError::Full`] when
    ///   [`Config::message_queue_capacity`](crate::Config::message_queue_capacity)
    ///   messages wait: the queue is bounded so a producer faster than the
    ///   loop cannot grow memory without end.
    /// - [`SendError::Exited`] once the loop has returned from `run` or been
    ///   dropped. A message sent while the loop is exiting may be dropped
    ///   undelivered.
    pub fn send(&self, message: M) -> Result<(), SendError<M>> {
        if self.signal.exited.load(Ordering::Acquire) {
            return Err(SendError::Exited(message));
        }
        match self.enqueue(Envelope::Message(message)) {
            Ok(()) => {
                self.wake_if_asleep();
                Ok(())
            }
            Err(TrySendError::Full(envelope)) => {
                // A loop about to sleep sees its full queue and does not.
                self.wake_if_asleep();
                Err(SendError::Full(envelope.into_message()))
            }
            Err(TrySendError::Disconnected(envelope)) => Err(SendError::Exited(envelope.into_message())),
        }
    }

    /// Puts `envelope` in the loop's queue, counted in `queued` before the
    /// send (so the loop, reading the count after its fence, cannot miss
    /// it: see `Inbox::has_pending`) and uncounted if the send fails.
    fn enqueue(&self, envelope: Envelope<M>) -> Result<(), TrySendError<Envelope<M>>> {
        self.signal.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.sender.try_send(envelope);
        if sent.is_err() {
            self.signal.queued.fetch_sub(1, Ordering::Relaxed);
        }
        sent
    }

    /// Hands an accepted connection to the loop (a group's acceptor).
    pub(crate) fn adopt(&self, adoption: Box<Adoption>) -> Result<(), Box<Adoption>> {
        if self.signal.exited.load(Ordering::Acquire) {
            return Err(adoption);
        }
        self.signal.handed_over.fetch_add(1, Ordering::Relaxed);
        match self.enqueue(Envelope::Adopt(adoption)) {
            Ok(()) => {
                self.wake_if_asleep();
                Ok(())
            }
            Err(TrySendError::Full(envelope) | TrySendError::Disconnected(envelope)) => {
                self.signal.handed_over.fetch_sub(1, Ordering::Relaxed);
                match envelope {
                    Envelope::Adopt(adoption) => Err(adoption),
                    Envelope::Message(_) => unreachable!("adopt sends only connections"),
                }
            }
        }
    }

    /// Connections the loop has open or has been handed and not yet taken
    /// (as of its last turn): how loaded it is, for a group's acceptor.
    /// A loop that is stopping counts as full, whatever it has left: it
    /// takes no new connection.
    pub(crate) fn load(&self) -> usize {
        if self.signal.stopping.load(Ordering::Acquire) {
            return usize::MAX;
        }
        // Hand-overs first (acquire): once a taken one is no longer counted,
        // the open count published before it was dropped is visible.
        let handed_over = self.signal.handed_over.load(Ordering::Acquire);
        self.signal.open.load(Ordering::Relaxed) + handed_over
    }

    /// Asks the loop to stop, as [`Ctx::stop`](crate::Ctx::stop) does.
    ///
    /// # Errors
    ///
    /// [`Exited`] if the loop has already returned from `run`.
    pub fn stop(&self) -> Result<(), Exited<()>> {
        if self.signal.exited.load(Ordering::Acquire) {
            return Err(Exited(()));
        }
        self.signal.stop_requested.store(true, Ordering::Release);
        self.wake();
        Ok(())
    }

    /// Wakes the loop if it sleeps (or is about to). The fence pairs with
    /// the one in [`Inbox::prepare_to_sleep`]: either the loop sees this
    /// message when it looks at its queue after saying it will sleep, or
    /// this sees it asleep and wakes it (Dekker's handshake; both sides
    /// need `SeqCst`, which plain acquire/release would not give).
    fn wake_if_asleep(&self) {
        fence(Ordering::SeqCst);
        if self.signal.asleep.load(Ordering::Relaxed) {
            self.wake();
        }
    }

    fn wake(&self) {
        if !self.signal.woken.swap(true, Ordering::AcqRel) {
            // Only fails if the eventfd counter would overflow, which takes
            // 2^64 unread wake-ups: the loop is then awake anyway.
            let _ = self.signal.waker.wake();
        }
    }
}

/// The loop's end of the handles: the receiver and the shared signal.
pub(crate) struct Inbox<M> {
    receiver: Receiver<Envelope<M>>,
    sender: SyncSender<Envelope<M>>,
    signal: Arc<Signal>,
    /// What [`has_pending`](Inbox::has_pending) took from the queue to see
    /// it was not empty: delivered first.
    peeked: Option<Envelope<M>>,
}

impl<M> fmt::Debug for Inbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

impl<M> Inbox<M> {
    pub(crate) fn new(waker: Waker, capacity: usize) -> Inbox<M> {
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let signal = Signal {
            waker,
            woken: AtomicBool::new(false),
            asleep: AtomicBool::new(false),
            stop_requested: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            exited: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            handed_over: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
        };
        Inbox { receiver, sender, signal: Arc::new(signal), peeked: None }
    }

    pub(crate) fn handle(&self) -> LoopHandle<M> {
        LoopHandle { sender: self.sender.clone(), signal: Arc::clone(&self.signal) }
    }

    /// Re-arms the wake-up before draining, so a send that lands after the
    /// drain started rings again instead of waiting for the next event.
    ///
    /// A swap, not a store: a sender that found `woken` set skipped the
    /// wake-up, so its message must be visible to the drain that follows.
    /// Reading its `AcqRel` swap here (acquire) orders its channel send
    /// before our `try_recv`; a plain store would not synchronize with it.
    pub(crate) fn acknowledge_wake(&self) {
        self.signal.woken.swap(false, Ordering::AcqRel);
    }

    /// The next message or connection waiting, if any.
    pub(crate) fn try_next(&mut self) -> Option<Envelope<M>> {
        let envelope = self.peeked.take().or_else(|| self.receiver.try_recv().ok())?;
        self.signal.queued.fetch_sub(1, Ordering::Relaxed);
        Some(envelope)
    }

    /// Whether something waits in the queue (without taking it). Looks in
    /// the queue only when the count says something was sent: a count
    /// raised by a send still in progress finds nothing there, and is not
    /// taken for a message, so the loop does not spin waiting for it (the
    /// sender wakes the loop once it has sent, if it sleeps).
    ///
    /// Before sleeping this is the second half of the handshake in
    /// [`prepare_to_sleep`](Inbox::prepare_to_sleep): a sender raises the
    /// count before its send and looks at `asleep` after it, with a fence
    /// between; the loop sets `asleep`, fences, then reads the count and the
    /// queue. Either the loop sees the message, or the sender sees it
    /// asleep and wakes it.
    #[inline]
    pub(crate) fn has_pending(&mut self) -> bool {
        if self.peeked.is_none() && self.signal.queued.load(Ordering::Relaxed) != 0 {
            self.peeked = self.receiver.try_recv().ok();
        }
        self.peeked.is_some()
    }

    /// The loop is about to block in `epoll_wait`: from now on senders
    /// wake it. Returns `false` (and stays awake) if something is already
    /// waiting, which a sender that saw the loop awake did not wake it for.
    pub(crate) fn prepare_to_sleep(&mut self) -> bool {
        self.signal.asleep.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.has_pending() {
            self.woke_up();
            return false;
        }
        true
    }

    /// The loop is back from `epoll_wait`: senders need not wake it.
    pub(crate) fn woke_up(&self) {
        self.signal.asleep.store(false, Ordering::Relaxed);
    }

    /// A connection handed over was taken (adopted or refused).
    pub(crate) fn took_handed_over(&self) {
        self.signal.handed_over.fetch_sub(1, Ordering::Release);
    }

    /// Publishes how many connections the loop has open, for a group's
    /// acceptor: one relaxed store per turn.
    pub(crate) fn publish_open(&self, open: usize) {
        self.signal.open.store(open, Ordering::Relaxed);
    }

    /// Takes a stop request from a handle, if one came.
    pub(crate) fn take_stop_request(&self) -> bool {
        self.signal.stop_requested.swap(false, Ordering::AcqRel)
    }

    /// Marks the loop running. A stop that raced the previous run's exit
    /// (it saw the loop running, and landed after it stopped) was meant for
    /// that run and is dropped; one sent before the first run stands.
    pub(crate) fn begin_run(&self) {
        if self.signal.exited.load(Ordering::Acquire) {
            self.take_stop_request();
        }
        self.set_stopping(false);
        self.set_exited(false);
    }

    /// Says the loop is stopping (or runs again), for a group's acceptor.
    pub(crate) fn set_stopping(&self, stopping: bool) {
        self.signal.stopping.store(stopping, Ordering::Release);
    }

    pub(crate) fn set_exited(&self, exited: bool) {
        self.signal.exited.store(exited, Ordering::Release);
    }
}

impl<M> Drop for Inbox<M> {
    fn drop(&mut self) {
        self.set_exited(true);
    }
}
