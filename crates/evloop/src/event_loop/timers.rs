//! Timers: a binary heap of deadlines over a slab of live timers, and
//! the turn's step that fires those due.
//!
//! Setting, cancelling and firing cost O(log n). Cancelling only removes the
//! slab entry; its heap entry goes stale and is skipped when it surfaces (or
//! dropped when stale entries outnumber live ones), which keeps cancel cheap
//! and the heap bounded.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use slab::Slab;

use super::panic_guard::guard;
use super::EventLoop;
use crate::conn::Conn;
use crate::{CloseReason, ConnId, Handler, TimerId};

/// How far off a deadline too distant for `Instant` (`Duration::MAX` and
/// the like) is put instead: far enough never to come.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// `now + after`, saturating at a deadline that never comes instead of
/// overflowing.
pub(crate) fn deadline_after(now: Instant, after: Duration) -> Instant {
    now.checked_add(after).unwrap_or_else(|| now + NEVER)
}

/// What a timer is for. The loop's own deadlines share the heap with the
/// application's timers, so one `poll` timeout covers all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Set by the application; `owner` is `Some` for a connection's timer.
    App { key: u64, owner: Option<ConnId> },
    /// Check the connection's last-input stamp against the idle timeout.
    Idle(ConnId),
    /// Check the connection's last-write-progress stamp against the write timeout.
    Write(ConnId),
    /// An outbound connect still pending times out.
    Connect(ConnId),
    /// A TLS handshake still under way times out.
    #[cfg(feature = "tls")]
    Handshake(ConnId),
    /// A lingering socket closes whatever its peer does.
    Linger(ConnId),
    /// Accepting resumes after running out of file descriptors.
    AcceptBackoff,
    /// The graceful-shutdown flush deadline.
    Shutdown,
}

#[derive(Debug)]
struct Entry {
    sequence: u64,
    kind: TimerKind,
    /// For a connection's timer, its position in the connection's list of
    /// timers, so removing it from there is O(1).
    owner_slot: u32,
}

/// A timer that came due.
#[derive(Debug)]
pub(crate) struct Expired {
    pub(crate) id: TimerId,
    pub(crate) kind: TimerKind,
    /// Its position in its connection's list of timers, for a connection's.
    pub(crate) owner_slot: u32,
}

/// The id of the timer with `sequence` (never zero) in slot `index`.
fn timer_id(index: u32, sequence: u64) -> TimerId {
    TimerId { index, sequence: NonZeroU64::new(sequence).expect("timer sequences start at 1") }
}

/// Heap order: earliest deadline first, then the order timers were set in.
type HeapKey = Reverse<(Instant, u64, u32)>;

/// The loop's timers.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    live: Slab<Entry>,
    heap: BinaryHeap<HeapKey>,
    next_sequence: u64,
}

impl Timers {
    /// Cancels every timer of `conn`: the loop's and the application's.
    pub(crate) fn cancel_all_of(&mut self, conn: &mut Conn) {
        let all =
            conn.deadline_timer.take().into_iter().chain(conn.write_timer.take()).chain(conn.app_timers.drain(..));
        for timer in all {
            self.cancel(timer);
        }
    }

    /// Schedules `kind` to fire at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, kind: TimerKind) -> TimerId {
        // Sequences start at 1: a `TimerId`'s is never zero.
        self.next_sequence += 1;
        let sequence = self.next_sequence;
        let index = self.live.insert(Entry { sequence, kind, owner_slot: 0 }) as u32;
        self.heap.push(Reverse((deadline, sequence, index)));
        self.drop_stale_if_crowded();
        timer_id(index, sequence)
    }

    /// Cancels a timer. Returns what it was for, or `None` if it already
    /// fired or was cancelled.
    pub(crate) fn cancel(&mut self, id: TimerId) -> Option<TimerKind> {
        self.remove(id).map(|(kind, _)| kind)
    }

    /// Cancels a timer, returning what it was for and its owner slot.
    pub(crate) fn remove(&mut self, id: TimerId) -> Option<(TimerKind, u32)> {
        let index = id.index as usize;
        match self.live.get(index) {
            Some(entry) if entry.sequence == id.sequence.get() => {
                let entry = self.live.remove(index);
                Some((entry.kind, entry.owner_slot))
            }
            _ => None,
        }
    }

    /// Records where live timer `id` sits in its connection's list.
    pub(crate) fn set_owner_slot(&mut self, id: TimerId, slot: u32) {
        if let Some(entry) = self.live.get_mut(id.index as usize).filter(|e| e.sequence == id.sequence.get()) {
            entry.owner_slot = slot;
        }
    }

    /// Whether `id` is still pending.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: TimerId) -> bool {
        self.live.get(id.index as usize).is_some_and(|e| e.sequence == id.sequence.get())
    }

    /// The earliest pending deadline, if any timer is live.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.skip_stale();
        self.heap.peek().map(|Reverse((deadline, _, _))| *deadline)
    }

    /// The sequence number the next timer will get: timers set from now on
    /// compare at or above it.
    pub(crate) fn next_sequence(&self) -> u64 {
        self.next_sequence + 1
    }

    /// Removes and returns the earliest timer whose deadline is at or before
    /// `now`, among those set before sequence `set_before`. A timer set for
    /// "now" from inside a timer callback thus waits for the next turn
    /// instead of looping forever in this one (ties in deadline fire in
    /// sequence order, so stopping at the first newer timer skips no older
    /// one that is due).
    pub(crate) fn pop_expired(&mut self, now: Instant, set_before: u64) -> Option<Expired> {
        self.skip_stale();
        let &Reverse((deadline, sequence, index)) = self.heap.peek()?;
        if deadline > now || sequence >= set_before {
            return None;
        }
        self.heap.pop();
        let entry = self.live.remove(index as usize);
        Some(Expired { id: timer_id(index, sequence), kind: entry.kind, owner_slot: entry.owner_slot })
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    fn is_live(&self, sequence: u64, index: u32) -> bool {
        self.live.get(index as usize).is_some_and(|e| e.sequence == sequence)
    }

    fn skip_stale(&mut self) {
        while let Some(&Reverse((_, sequence, index))) = self.heap.peek() {
            if self.is_live(sequence, index) {
                break;
            }
            self.heap.pop();
        }
    }

    /// Rebuilds the heap without cancelled entries once they outnumber the
    /// live ones, so a workload that sets and cancels forever stays bounded.
    fn drop_stale_if_crowded(&mut self) {
        if self.heap.len() > 2 * self.live.len() + 64 {
            let live = &self.live;
            self.heap.retain(|Reverse((_, sequence, index))| {
                live.get(*index as usize).is_some_and(|e| e.sequence == *sequence)
            });
        }
    }
}

impl<H: Handler> EventLoop<H> {
    /// Fires every timer due by this turn's `now` that was set before this
    /// timer phase began (during this turn's dispatch included); one set
    /// from a timer callback for "now" waits for the next turn, so a timer
    /// that re-arms itself cannot keep a turn going.
    pub(super) fn fire_timers(&mut self) {
        let set_before = self.cx.timers.next_sequence();
        while let Some(expired) = self.cx.timers.pop_expired(self.cx.now, set_before) {
            self.cx.stats.timers_fired += 1;
            let timer = expired.id;
            match expired.kind {
                TimerKind::App { key, owner: None } => {
                    let EventLoop { cx, handler, .. } = self;
                    guard(cx.config.panic_policy, "on_timer", || handler.on_timer(cx, timer, key));
                }
                TimerKind::App { key, owner: Some(id) } => self.fire_conn_timer(id, timer, key, expired.owner_slot),
                TimerKind::Idle(id) => self.check_idle(id),
                TimerKind::Write(id) => self.check_write_progress(id),
                TimerKind::Connect(id) => self.check_connect_timeout(id),
                #[cfg(feature = "tls")]
                TimerKind::Handshake(id) => self.check_handshake_timeout(id),
                TimerKind::Linger(id) => self.end_linger(id),
                TimerKind::AcceptBackoff => self.resume_accepting(),
                TimerKind::Shutdown => {
                    self.cx.shutdown_timer = None;
                    self.close_all(CloseReason::Shutdown);
                }
            }
            self.after_dispatch();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn app(key: u64) -> TimerKind {
        TimerKind::App { key, owner: None }
    }

    fn fire_all(timers: &mut Timers, now: Instant) -> Vec<TimerKind> {
        std::iter::from_fn(|| timers.pop_expired(now, u64::MAX).map(|expired| expired.kind)).collect()
    }

    #[test]
    fn fires_in_deadline_order_then_insertion_order() {
        let start = Instant::now();
        let mut timers = Timers::default();
        timers.insert(start + Duration::from_millis(30), app(3));
        timers.insert(start + Duration::from_millis(10), app(1));
        timers.insert(start + Duration::from_millis(20), app(2));
        timers.insert(start + Duration::from_millis(20), app(22));
        assert_eq!(timers.next_deadline(), Some(start + Duration::from_millis(10)));
        let fired = fire_all(&mut timers, start + Duration::from_millis(25));
        assert_eq!(fired, vec![app(1), app(2), app(22)]);
        assert_eq!(fire_all(&mut timers, start + Duration::from_secs(1)), vec![app(3)]);
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn cancelled_timer_never_fires_and_cancel_twice_is_a_no_op() {
        let now = Instant::now();
        let mut timers = Timers::default();
        let id = timers.insert(now, app(1));
        assert_eq!(timers.cancel(id), Some(app(1)));
        assert_eq!(timers.cancel(id), None);
        assert!(fire_all(&mut timers, now).is_empty());
    }

    #[test]
    fn stale_id_does_not_cancel_the_slot_reuser() {
        let now = Instant::now();
        let mut timers = Timers::default();
        let old = timers.insert(now, app(1));
        assert_eq!(fire_all(&mut timers, now), vec![app(1)]);
        let new = timers.insert(now, app(2));
        assert_eq!(old.index, new.index, "the slot is reused");
        assert_eq!(timers.cancel(old), None);
        assert!(timers.contains(new));
    }

    #[test]
    fn timers_set_after_the_cutoff_wait_even_when_due() {
        let now = Instant::now();
        let mut timers = Timers::default();
        timers.insert(now, app(1));
        let cutoff = timers.next_sequence();
        timers.insert(now, app(2));
        assert_eq!(timers.pop_expired(now, cutoff).map(|expired| expired.kind), Some(app(1)));
        assert!(timers.pop_expired(now, cutoff).is_none());
        assert_eq!(fire_all(&mut timers, now), vec![app(2)]);
    }

    #[test]
    fn heap_stays_bounded_under_set_and_cancel_churn() {
        let now = Instant::now();
        let mut timers = Timers::default();
        let keep = timers.insert(now + Duration::from_secs(60), app(0));
        for i in 0..10_000 {
            let id = timers.insert(now + Duration::from_secs(30), app(i));
            timers.cancel(id);
        }
        assert!(timers.heap.len() <= 2 * timers.len() + 65, "heap grew to {}", timers.heap.len());
        assert!(timers.contains(keep));
    }
}
