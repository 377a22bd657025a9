//! Reaching a group's loops: [`GroupHandle`] from any thread, [`Peers`]
//! from inside a loop, with an ordered hold for messages a full queue
//! turned away.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use super::acceptor::AcceptorControl;
use crate::{Exited, LoopHandle, SendError};

/// What every handle and every loop's [`Peers`] share.
pub(crate) struct Shared<M> {
    pub(crate) handles: Box<[LoopHandle<M>]>,
    /// The acceptor thread, under [`Spread::Acceptor`](crate::Spread::Acceptor).
    pub(crate) acceptor: Option<Arc<AcceptorControl>>,
}

impl<M: Send> Shared<M> {
    /// Asks every loop (and the acceptor) to stop gracefully. `Err` only
    /// if every loop had already exited.
    pub(crate) fn stop_all(&self) -> Result<(), Exited<()>> {
        if let Some(acceptor) = &self.acceptor {
            acceptor.stop();
        }
        let stopped = self.handles.iter().filter(|handle| handle.stop().is_ok()).count();
        if stopped == 0 {
            Err(Exited(()))
        } else {
            Ok(())
        }
    }
}

/// A handle to a whole [`LoopGroup`](crate::LoopGroup) for any thread:
/// stop every loop, or send a message to one. `Send + Sync + Clone`; get
/// one with [`LoopGroup::handle`](crate::LoopGroup::handle).
///
/// # Examples
///
/// ```
/// use evloop::{Config, ConnId, Ctx, GroupBuilder, Handler, Origin};
///
/// struct Quiet;
/// impl Handler for Quiet {
///     type Conn = ();
///     type Message = ();
///     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
///     fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
///         data.len()
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let group = GroupBuilder::new(Config::default()).threads(2).build(|_index, _peers| Quiet)?;
/// let handle = group.handle();
/// assert_eq!(handle.loops(), 2);
/// handle.stop().expect("not run yet: the stop waits for it");
/// let exits = group.run()?; // returns at once: it was stopped
/// assert!(exits.iter().all(|exit| exit.result.is_ok()));
/// # Ok(())
/// # }
/// ```
pub struct GroupHandle<M> {
    pub(crate) shared: Arc<Shared<M>>,
}

impl<M> Clone for GroupHandle<M> {
    fn clone(&self) -> Self {
        GroupHandle { shared: Arc::clone(&self.shared) }
    }
}

impl<M> fmt::Debug for GroupHandle<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupHandle").field("loops", &self.shared.handles.len()).finish_non_exhaustive()
    }
}

impl<M: Send> GroupHandle<M> {
    /// Stops every loop gracefully, as [`LoopHandle::stop`] stops one: each
    /// closes its listeners, flushes, closes its connections with
    /// [`CloseReason::Shutdown`](crate::CloseReason::Shutdown), and
    /// [`LoopGroup::run`](crate::LoopGroup::run) returns once all have. A
    /// stop before `run` makes `run` stop at once.
    ///
    /// # Errors
    ///
    /// [`Exited`] if every loop has already exited.
    pub fn stop(&self) -> Result<(), Exited<()>> {
        self.shared.stop_all()
    }

    /// Sends `message` to loop `to`'s [`Handler::on_message`](crate::Handler::on_message),
    /// as [`LoopHandle::send`] does.
    ///
    /// # Errors
    ///
    /// As [`LoopHandle::send`]: [`SendError::Full`] or [`SendError::Exited`],
    /// with the message.
    ///
    /// # Panics
    ///
    /// If `to` is not below [`loops`](GroupHandle::loops).
    pub fn send(&self, to: usize, message: M) -> Result<(), SendError<M>> {
        self.shared.handles[to].send(message)
    }

    /// How many loops the group has.
    pub fn loops(&self) -> usize {
        self.shared.handles.len()
    }

    /// Loop `index`'s own handle.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`loops`](GroupHandle::loops).
    pub fn loop_handle(&self, index: usize) -> &LoopHandle<M> {
        &self.shared.handles[index]
    }
}

/// What one loop of a [`LoopGroup`](crate::LoopGroup) uses to reach the
/// others: given to the factory that builds its handler, which keeps it.
///
/// Messages between loops go through each loop's bounded queue
/// ([`Config::message_queue_capacity`](crate::Config::message_queue_capacity)),
/// in each sender's order, with no lock held while any handler runs. A
/// busy loop finds them before it next polls, with no syscall on either
/// side; one asleep is woken once (one `write(2)` to its eventfd) however
/// many arrive before it runs.
///
/// # When a peer's queue is full
///
/// A loop thread must never wait for another loop: two loops waiting on
/// each other's full queues would deadlock. So nothing here blocks. Two
/// ways to send:
///
/// - [`send`](Peers::send) gives a message a full queue turned away back
///   to you ([`SendError::Full`]): drop it, or retry later, your choice.
/// - [`post`](Peers::post) never loses a message to a full queue: it holds
///   it here, behind any already held for that loop, and later posts and
///   [`flush`](Peers::flush) deliver them in order. Call `flush` from a
///   timer while [`held`](Peers::held) is not zero, and bound the memory:
///   past your limit, pause reading from the clients whose input produces
///   the messages ([`Ctx::pause_read`](crate::Ctx::pause_read)) until it
///   drains. Every loop drains its own queue whatever it holds for others,
///   so this never deadlocks.
///
/// # Examples
///
/// A line chat whose room spans every loop: each loop forwards what its
/// clients say to the others, which relay it to theirs.
///
/// ```
/// use std::sync::Arc;
/// use evloop::{Config, ConnId, Ctx, GroupBuilder, Handler, Origin, Peers};
///
/// struct Room {
///     peers: Peers<Arc<[u8]>>,
///     members: Vec<ConnId>,
/// }
///
/// impl Handler for Room {
///     type Conn = ();
///     type Message = Arc<[u8]>; // a line said on another loop
///
///     fn on_open(&mut self, _: &mut Ctx, id: ConnId, _: Origin) {
///         self.members.push(id);
///     }
///
///     fn on_data(&mut self, cx: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
///         let line: Arc<[u8]> = data.into();
///         for to in self.peers.others() {
///             let _ = self.peers.post(to, Arc::clone(&line)); // Err only once `to` has exited
///         }
///         self.on_message(cx, line);
///         data.len()
///     }
///
///     fn on_message(&mut self, cx: &mut Ctx, line: Arc<[u8]>) {
///         self.members.retain(|&member| cx.send(member, &line));
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let group = GroupBuilder::new(Config::default())
///     .threads(2)
///     .build(|_index, peers| Room { peers, members: Vec::new() })?;
/// # group.handle().stop().unwrap();
/// # group.run()?;
/// # Ok(())
/// # }
/// ```
pub struct Peers<M> {
    index: usize,
    shared: Arc<Shared<M>>,
    /// Per loop: messages a full queue turned away, and those posted after
    /// them, oldest first.
    held: Vec<VecDeque<M>>,
    held_total: usize,
}

impl<M> fmt::Debug for Peers<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peers")
            .field("index", &self.index)
            .field("loops", &self.shared.handles.len())
            .field("held", &self.held_total)
            .finish()
    }
}

impl<M: Send> Peers<M> {
    pub(crate) fn new(index: usize, shared: Arc<Shared<M>>) -> Peers<M> {
        let held = (0..shared.handles.len()).map(|_| VecDeque::new()).collect();
        Peers { index, shared, held, held_total: 0 }
    }

    /// This loop's index, from 0.
    pub fn index(&self) -> usize {
        self.index
    }

    /// How many loops the group has, this one included.
    pub fn loops(&self) -> usize {
        self.shared.handles.len()
    }

    /// The indices of every loop but this one.
    pub fn others(&self) -> impl Iterator<Item = usize> {
        let me = self.index;
        (0..self.loops()).filter(move |&index| index != me)
    }

    /// Sends `message` to loop `to` (this one too, through its own queue)
    /// now, or gives it back. Never blocks.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when `to`'s queue is full, [`SendError::Exited`]
    /// once it has exited; either way with the message.
    ///
    /// # Panics
    ///
    /// If `to` is not below [`loops`](Peers::loops).
    pub fn send(&self, to: usize, message: M) -> Result<(), SendError<M>> {
        self.shared.handles[to].send(message)
    }

    /// Sends `message` to loop `to` after every message held for it, or
    /// holds it here if `to`'s queue is full. Never blocks, never reorders,
    /// never drops a message to a full queue (see the type's docs for
    /// bounding what is held).
    ///
    /// # Errors
    ///
    /// [`Exited`] with the message once `to` has exited (what was held for
    /// it is dropped).
    ///
    /// # Panics
    ///
    /// If `to` is not below [`loops`](Peers::loops).
    pub fn post(&mut self, to: usize, message: M) -> Result<(), Exited<M>> {
        if self.flush_one(to) == Delivery::Exited {
            return Err(Exited(message));
        }
        if !self.held[to].is_empty() {
            self.hold(to, message);
            return Ok(());
        }
        match self.shared.handles[to].send(message) {
            Ok(()) => Ok(()),
            Err(SendError::Full(message)) => {
                self.hold(to, message);
                Ok(())
            }
            Err(SendError::Exited(message)) => Err(Exited(message)),
        }
    }

    /// Delivers what is held, in order, as far as the queues take it;
    /// returns how many messages are still held. What was held for a loop
    /// that has exited is dropped.
    pub fn flush(&mut self) -> usize {
        for to in 0..self.held.len() {
            self.flush_one(to);
        }
        self.held_total
    }

    /// Messages held for full queues, all loops together.
    pub fn held(&self) -> usize {
        self.held_total
    }

    /// A handle to the whole group, for another thread or to stop it all.
    pub fn group(&self) -> GroupHandle<M> {
        GroupHandle { shared: Arc::clone(&self.shared) }
    }

    fn hold(&mut self, to: usize, message: M) {
        self.held[to].push_back(message);
        self.held_total += 1;
    }

    /// Delivers what is held for `to` until its queue is full.
    fn flush_one(&mut self, to: usize) -> Delivery {
        while let Some(message) = self.held[to].pop_front() {
            match self.shared.handles[to].send(message) {
                Ok(()) => self.held_total -= 1,
                Err(SendError::Full(message)) => {
                    self.held[to].push_front(message);
                    return Delivery::Full;
                }
                Err(SendError::Exited(_)) => {
                    self.held_total -= 1 + self.held[to].len();
                    self.held[to].clear();
                    return Delivery::Exited;
                }
            }
        }
        Delivery::Open
    }
}

/// How far [`Peers::flush_one`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Everything held went out.
    Open,
    /// The queue filled up again.
    Full,
    /// The loop has exited.
    Exited,
}
