//! One room across the loops of a group: what one loop's room says, sent
//! to the others.
//!
//! # Exactly once, in each sender's order
//!
//! A line said on loop A (chat, a join, a leave, a rename) goes into A's
//! own log for A's members, and is posted once to every other loop, whose
//! room hears it ([`Room::hear`](crate::room::Room::hear)) into its log for
//! its own members only: never relayed further. So each member hears each
//! line once. Each loop-to-loop queue is FIFO, and [`Peers::post`] holds
//! what a full queue turned away in order and sends later posts behind it,
//! so the lines one member says (and its private messages to another loop)
//! reach every other loop in the order said, and each room's log keeps the
//! order it appended them in. Lines from different loops may interleave
//! differently on different loops; as with one loop, only each sender's
//! order is promised.

use std::sync::Arc;
use std::time::Duration;

use evloop::{ConnId, Ctx, Peers};

/// The key of the loop-wide timer that retries what full queues held.
pub(crate) const RETRY_TIMER: u64 = 1;

/// How long a loop waits before offering held messages again: long
/// enough for the other loop to drain its queue, short against a
/// person's reading.
const RETRY_AFTER: Duration = Duration::from_millis(1);

/// What one loop's room tells another: [`Chat`](crate::Chat)'s message
/// between loops. Cheap to clone: a line for the room is shared by every
/// loop it goes to.
#[derive(Debug, Clone)]
pub enum Relay {
    /// A line for everyone in the room, ending in `\n`.
    Room(Arc<str>),
    /// A private message, ending in `\n`, for member `to` on the loop it
    /// is sent to.
    Private {
        /// The member, on the receiving loop.
        to: ConnId,
        /// What it reads.
        line: Box<str>,
    },
}

/// This loop's links to the others.
#[derive(Debug)]
pub(crate) struct Links {
    peers: Peers<Relay>,
    /// Whether the timer that retries held messages is set.
    retry_armed: bool,
}

impl Links {
    pub(crate) fn new(peers: Peers<Relay>) -> Links {
        Links { peers, retry_armed: false }
    }

    /// This loop's index.
    pub(crate) fn index(&self) -> usize {
        self.peers.index()
    }

    /// Posts `line` to every other loop's room.
    pub(crate) fn post_to_others(&mut self, cx: &mut Ctx, line: &str) {
        let line: Arc<str> = line.into();
        let me = self.peers.index();
        for to in (0..self.peers.loops()).filter(|&to| to != me) {
            // Err only once `to` has exited: the group is stopping.
            let _ = self.peers.post(to, Relay::Room(Arc::clone(&line)));
        }
        self.arm(cx);
    }

    /// Posts a private `line` to member `id` on loop `to`.
    pub(crate) fn post_to_member(&mut self, cx: &mut Ctx, to: usize, id: ConnId, line: &str) {
        let _ = self.peers.post(to, Relay::Private { to: id, line: line.into() });
        self.arm(cx);
    }

    /// The retry timer fired: offers what is held again.
    pub(crate) fn retry(&mut self, cx: &mut Ctx) {
        self.retry_armed = false;
        self.peers.flush();
        self.arm(cx);
    }

    /// While a full queue holds messages here, retries them shortly: no
    /// event would tell this loop when the other has room again.
    fn arm(&mut self, cx: &mut Ctx) {
        if self.peers.held() > 0 && !self.retry_armed {
            cx.set_timer(RETRY_AFTER, RETRY_TIMER);
            self.retry_armed = true;
        }
    }
}
