//! The room: who is in it, under which nick, and what each member is still
//! to be told this turn.
//!
//! # One send per member per turn
//!
//! What is said to the room during a turn (chat lines, joins, leaves,
//! renames) is appended once to one shared log, and at the end of the turn
//! each member is sent its part of the log with one `send`. Most members'
//! part is the whole log, the same bytes for all. So a turn costs one send
//! per member however many lines the room produced in it: a burst of 3,000
//! joins, or one client renaming itself 7,000 times, costs O(members) sends
//! per turn instead of O(members × lines).
//!
//! A member's part is the log from its cursor on. A member who joins
//! mid-turn starts at the end of the log (it was not there for what came
//! before), and a member's cursor jumps past a line it said itself (nobody
//! hears their own line). Anything for one member alone (a reply, a private
//! message) first sends that member the part of the log it has not had yet,
//! so every member reads what happened in the order it happened.

use std::collections::HashMap;
use std::time::Duration;

use evloop::{ConnId, Ctx};

/// The key of the loop-wide timer that sends the turn's log.
pub(crate) const FLUSH_TIMER: u64 = 0;

/// One member of the room.
#[derive(Debug)]
pub(crate) struct Member {
    /// The nick it goes by.
    pub(crate) nick: String,
    /// Where its unsent part of the log begins.
    cursor: usize,
}

/// Why a nick could not be taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// Someone else has it (in any case).
    ByAnother,
    /// The member asking has it already.
    ByYou,
}

/// Everyone connected, and what they are still to be told this turn.
#[derive(Debug, Default)]
pub(crate) struct Room {
    members: HashMap<ConnId, Member>,
    /// Nicks in use, lowercased, so `Alice` and `alice` cannot both exist.
    nick_owners: HashMap<String, ConnId>,
    /// The number of the next default nick, `guestN`.
    next_guest: u64,
    /// What was said to the room this turn, each line once.
    log: String,
    /// Whether the timer that sends `log` is set.
    flush_armed: bool,
}

impl Room {
    /// How many are in the room.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// The member on `id`, if it is in the room.
    pub(crate) fn member(&self, id: ConnId) -> Option<&Member> {
        self.members.get(&id)
    }

    /// Every nick in the room, sorted.
    pub(crate) fn nicks(&self) -> Vec<&str> {
        let mut nicks: Vec<&str> = self.members.values().map(|m| m.nick.as_str()).collect();
        nicks.sort_unstable();
        nicks
    }

    /// Who goes by `nick` (in any case).
    pub(crate) fn owner_of(&self, nick: &str) -> Option<ConnId> {
        self.nick_owners.get(&nick.to_ascii_lowercase()).copied()
    }

    /// Lets `id` in under the first `guestN` nobody has taken, and returns
    /// the nick. It hears what is said from now on, not what was said
    /// earlier this turn.
    pub(crate) fn enter(&mut self, id: ConnId) -> &str {
        let nick = loop {
            self.next_guest += 1;
            let nick = format!("guest{}", self.next_guest);
            if !self.nick_owners.contains_key(&nick) {
                break nick;
            }
        };
        self.nick_owners.insert(nick.clone(), id);
        let member = self.members.entry(id).or_insert(Member { nick, cursor: 0 });
        member.cursor = self.log.len();
        &member.nick
    }

    /// Takes `id` out of the room; it hears nothing more.
    pub(crate) fn remove(&mut self, id: ConnId) -> Option<Member> {
        let member = self.members.remove(&id)?;
        self.nick_owners.remove(&member.nick.to_ascii_lowercase());
        Some(member)
    }

    /// Gives `id` the nick `new` (checked by the caller), returning the old one.
    pub(crate) fn rename(&mut self, id: ConnId, new: &str) -> Result<String, Taken> {
        let key = new.to_ascii_lowercase();
        match self.nick_owners.get(&key) {
            Some(&owner) if owner != id => return Err(Taken::ByAnother),
            _ => {}
        }
        let member = self.members.get_mut(&id).ok_or(Taken::ByAnother)?;
        if member.nick == new {
            return Err(Taken::ByYou);
        }
        let old = std::mem::replace(&mut member.nick, new.to_string());
        self.nick_owners.remove(&old.to_ascii_lowercase());
        self.nick_owners.insert(key, id);
        Ok(old)
    }

    /// Says `line` (ending in `\n`) to everyone in the room, this turn.
    pub(crate) fn announce(&mut self, cx: &mut Ctx, line: &str) {
        self.log.push_str(line);
        self.arm(cx);
    }

    /// Says `line` (ending in `\n`) to everyone but `from`, this turn.
    pub(crate) fn say(&mut self, cx: &mut Ctx, from: ConnId, line: &str) {
        self.catch_up(cx, from);
        self.log.push_str(line);
        if let Some(member) = self.members.get_mut(&from) {
            member.cursor = self.log.len();
        }
        self.arm(cx);
    }

    /// Sends `line` (ending in `\n`) to `id` alone, after what it is still
    /// to be told.
    pub(crate) fn tell(&mut self, cx: &mut Ctx, id: ConnId, line: &str) {
        self.catch_up(cx, id);
        cx.send(id, line.as_bytes());
    }

    /// Sends `id` its part of this turn's log now: before something for it
    /// alone, or before it is closed.
    pub(crate) fn catch_up(&mut self, cx: &mut Ctx, id: ConnId) {
        let Some(member) = self.members.get_mut(&id) else { return };
        if member.cursor < self.log.len() {
            cx.send(id, &self.log.as_bytes()[member.cursor..]);
            member.cursor = self.log.len();
        }
    }

    /// Sends every member its part of this turn's log, one send each, and
    /// starts the next turn's log.
    pub(crate) fn flush(&mut self, cx: &mut Ctx) {
        self.flush_armed = false;
        let log = self.log.as_bytes();
        for (&id, member) in &mut self.members {
            if member.cursor < log.len() {
                // A member past its output limit is closed by `send`, and
                // its `on_close` tells the room; the rest go on.
                cx.send(id, &log[member.cursor..]);
            }
            member.cursor = 0;
        }
        self.log.clear();
    }

    /// Sends the log at the end of this turn: a timer due now fires after
    /// the turn's I/O is dispatched, once however many lines came.
    fn arm(&mut self, cx: &mut Ctx) {
        if !self.flush_armed {
            cx.set_timer(Duration::ZERO, FLUSH_TIMER);
            self.flush_armed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guests_are_numbered_from_one_and_skip_taken_nicks() {
        let mut room = Room::default();
        let [a, b, c] = [0, 1, 2].map(|i| ConnId::from_parts(i, 0));
        assert_eq!(room.enter(a), "guest1");
        assert_eq!(room.rename(a, "GUEST2"), Ok("guest1".to_string()));
        assert_eq!(room.enter(b), "guest3", "guest2 is taken, in another case");
        assert_eq!(room.rename(b, "guest2"), Err(Taken::ByAnother));
        assert_eq!(room.rename(b, "guest3"), Err(Taken::ByYou));
        assert_eq!(room.enter(c), "guest4");
        assert_eq!(room.nicks(), ["GUEST2", "guest3", "guest4"]);
        assert_eq!(room.owner_of("Guest2"), Some(a));
        room.remove(a);
        assert_eq!(room.owner_of("guest2"), None, "a nick is free once its member left");
    }
}
