//! The acceptor of [`Spread::Acceptor`](crate::Spread::Acceptor): one
//! thread that accepts every connection and hands each to the loop with
//! the fewest, through that loop's queue.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::{debug, error, info, warn};
use mio::{Events, Poll, Token, Waker};

use crate::loop_handle::Adoption;
use crate::transport::{is_per_connection, is_resource_exhaustion, Listener, PeerAddr, Stream};
use crate::LoopHandle;

/// The waker's token; listeners use their index.
const WAKER: Token = Token(usize::MAX);

/// Stopping the acceptor from other threads.
#[derive(Debug)]
pub(crate) struct AcceptorControl {
    waker: Waker,
    stop: AtomicBool,
}

impl AcceptorControl {
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        // Fails only if the eventfd counter is full: it is awake then.
        let _ = self.waker.wake();
    }
}

/// The acceptor before it runs: its poll and listeners.
#[derive(Debug)]
pub(crate) struct Acceptor {
    poll: Poll,
    listeners: Vec<Listener>,
    control: Arc<AcceptorControl>,
    /// How long to stop accepting after running out of descriptors.
    backoff: Duration,
}

impl Acceptor {
    pub(crate) fn new(backoff: Duration) -> io::Result<Acceptor> {
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        let control = Arc::new(AcceptorControl { waker, stop: AtomicBool::new(false) });
        Ok(Acceptor { poll, listeners: Vec::new(), control, backoff })
    }

    pub(crate) fn control(&self) -> Arc<AcceptorControl> {
        Arc::clone(&self.control)
    }

    /// How many listeners it has: the next one's index.
    #[cfg(feature = "tls")]
    pub(crate) fn len(&self) -> usize {
        self.listeners.len()
    }

    /// Adds a listener; connections from it reach `on_open` with this
    /// listener's index, as from a loop's own.
    pub(crate) fn add(&mut self, mut listener: Listener) -> io::Result<()> {
        let token = Token(self.listeners.len());
        listener.register(self.poll.registry(), token)?;
        self.listeners.push(listener);
        Ok(())
    }

    /// Accepts and hands over until stopped; dropping the listeners on the
    /// way out closes them.
    pub(crate) fn run<M: Send>(mut self, loops: &[LoopHandle<M>]) {
        let mut events = Events::with_capacity(64);
        let mut timeout = None;
        let mut out_of_descriptors = false;
        loop {
            if self.control.stop.load(Ordering::Acquire) {
                info!("acceptor stopped");
                return;
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    error!("acceptor: poll failed, no more connections will be accepted: {e}");
                    return;
                }
            }
            // Every listener, not only those with an event: after a backoff
            // no new edge announces connections already waiting.
            let exhausted = (0..self.listeners.len()).any(|slot| self.accept_all(slot, loops).is_err());
            timeout = exhausted.then_some(self.backoff);
            match (exhausted, out_of_descriptors) {
                (true, false) => warn!("acceptor: out of descriptors; retrying every {:?}", self.backoff),
                (false, true) => info!("acceptor: accepting again"),
                _ => {}
            }
            out_of_descriptors = exhausted;
        }
    }

    /// Accepts from listener `slot` until it has no more; `Err` when out
    /// of descriptors.
    fn accept_all<M: Send>(&self, slot: usize, loops: &[LoopHandle<M>]) -> Result<(), ()> {
        loop {
            match self.listeners[slot].accept() {
                Ok((stream, peer)) => hand_over(stream, peer, slot, loops),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if is_per_connection(&e) => debug!("acceptor: accept: {e}"),
                Err(e) if is_resource_exhaustion(&e) => return Err(()),
                Err(e) => {
                    error!("acceptor: accept on listener {slot} failed: {e}");
                    return Ok(());
                }
            }
        }
    }
}

/// Hands `stream` to the loop with the fewest connections (open, plus
/// handed over and not yet taken, so a loop too busy to take them stops
/// getting more; a loop that is stopping counts as full, since it would
/// drop it); a loop whose queue is full is passed over. If every queue is
/// full the connection is dropped, as a full backlog would.
fn hand_over<M: Send>(stream: Stream, peer: PeerAddr, listener: usize, loops: &[LoopHandle<M>]) {
    let mut adoption = Box::new(Adoption { stream, peer, listener });
    let least_loaded = (0..loops.len()).min_by_key(|&i| loops[i].load()).unwrap_or(0);
    // Then, past a full queue, the others in turn.
    for to in (0..loops.len()).map(|i| (least_loaded + i) % loops.len()) {
        match loops[to].adopt(adoption) {
            Ok(()) => return,
            Err(back) => adoption = back,
        }
    }
    warn!("acceptor: every loop's queue is full; dropping the connection from {}", adoption.peer);
}
