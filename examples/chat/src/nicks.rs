//! The nicks in use in the whole room, whichever loop each member is on.
//!
//! # One owner, behind a lock
//!
//! A nick must be unique across the room, so with several loops something
//! must decide between two loops granting the same nick at once. The
//! registry is that one owner: a map shared by every loop, locked only
//! while a nick is granted, changed, released or listed (a join, a
//! rename, a leave, a `/who`, a `/msg`). Those are not the data path: a
//! chat line never takes the lock. The alternative, each nick owned by a
//! loop chosen by its hash and asked with a request and a reply, would make
//! `/nick` answer a turn later and `/who` gather from every loop, for no
//! gain at the rate people rename. With one loop the lock is never
//! contended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use evloop::ConnId;

/// A member somewhere in the room: its loop and its connection there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seat {
    /// The loop it is on (0 with one loop).
    pub(crate) loop_index: usize,
    /// Its connection on that loop.
    pub(crate) id: ConnId,
}

/// Why a nick could not be taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Someone else has it (in any case).
    ByAnother,
    /// The member asking has it already.
    ByYou,
}

/// The nicks in use across every loop of the room: a handle, cloned for
/// each loop of a group.
#[derive(Debug, Clone, Default)]
pub struct Nicks {
    registry: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    /// By nick lowercased, so `Alice` and `alice` cannot both exist: who
    /// has it, and the nick as spelled.
    owners: HashMap<String, (Seat, String)>,
    /// The number of the last default nick, `guestN`.
    last_guest: u64,
}

impl Nicks {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while the lock was held left the map whole (no call in
        // here can leave it half changed): go on with it.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Gives `seat` the first `guestN` nobody has taken, and returns it.
    pub(crate) fn take_guest(&self, seat: Seat) -> String {
        let mut registry = self.lock();
        let nick = loop {
            registry.last_guest += 1;
            let nick = format!("guest{}", registry.last_guest);
            if !registry.owners.contains_key(&nick) {
                break nick;
            }
        };
        registry.owners.insert(nick.clone(), (seat, nick.clone()));
        nick
    }

    /// Frees `nick`, if `seat` has it.
    pub(crate) fn release(&self, seat: Seat, nick: &str) {
        let mut registry = self.lock();
        let key = nick.to_ascii_lowercase();
        if registry.owners.get(&key).is_some_and(|(owner, _)| *owner == seat) {
            registry.owners.remove(&key);
        }
    }

    /// Moves `seat` from `old` to `new` (checked by the caller).
    pub(crate) fn rename(&self, seat: Seat, old: &str, new: &str) -> Result<(), Taken> {
        if old == new {
            return Err(Taken::ByYou);
        }
        let mut registry = self.lock();
        let key = new.to_ascii_lowercase();
        // The same nick in another case is the member's own to respell.
        if registry.owners.get(&key).is_some_and(|(owner, _)| *owner != seat) {
            return Err(Taken::ByAnother);
        }
        registry.owners.remove(&old.to_ascii_lowercase());
        registry.owners.insert(key, (seat, new.to_string()));
        Ok(())
    }

    /// Who goes by `nick` (in any case), and the nick as they spell it.
    pub(crate) fn owner_of(&self, nick: &str) -> Option<(Seat, String)> {
        self.lock().owners.get(&nick.to_ascii_lowercase()).cloned()
    }

    /// How many are in the room, on every loop.
    pub(crate) fn len(&self) -> usize {
        self.lock().owners.len()
    }

    /// Every nick in the room, sorted.
    pub(crate) fn all(&self) -> Vec<String> {
        let mut nicks: Vec<String> = self.lock().owners.values().map(|(_, nick)| nick.clone()).collect();
        nicks.sort_unstable();
        nicks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_connection_on_two_loops_is_two_members() {
        let nicks = Nicks::default();
        let id = ConnId::from_parts(0, 0);
        let (here, there) = (Seat { loop_index: 0, id }, Seat { loop_index: 1, id });
        assert_eq!(nicks.take_guest(here), "guest1");
        assert_eq!(nicks.take_guest(there), "guest2");
        assert_eq!(nicks.rename(there, "guest2", "GUEST1"), Err(Taken::ByAnother));
        nicks.release(there, "guest1");
        assert_eq!(nicks.owner_of("guest1").map(|(seat, _)| seat), Some(here), "only its owner frees a nick");
        assert_eq!(nicks.rename(there, "guest2", "alice"), Ok(()));
        assert_eq!(nicks.all(), ["alice", "guest1"]);
        assert_eq!(nicks.len(), 2);
    }
}
