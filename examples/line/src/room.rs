//! The room: who is in it, under which nick, and what each member is still
//! to be told.
//!
//! # One send per member per pass
//!
//! What is said to the room (chat lines, joins, leaves, renames) is
//! appended once to one shared log, and at the end of the turn a pass over
//! the members sends each its part of the log with one `send`. Most
//! members' part is the whole log, the same bytes for all. So the room's
//! output costs one send per member per pass however many lines it holds: a
//! burst of 3,000 joins, or one client renaming itself 7,000 times, costs
//! O(members) sends per turn instead of O(members × lines).
//!
//! A pass sends to at most [`Settings::members_per_turn`](crate::Settings::members_per_turn)
//! members per turn and goes on next turn, so in a room of thousands one
//! turn's output stays short and the other clients are served in between;
//! what was said meanwhile goes out in the next pass.
//!
//! A member's part is the log from its cursor on. A member who joins
//! starts at the end of the log (it was not there for what came before),
//! and a member's cursor jumps past a line it said itself (nobody hears
//! their own line). Anything for one member alone (a reply, a private
//! message) first sends that member the part of the log it has not had
//! yet, so every member reads what happened in the order it happened.

use std::collections::HashMap;
use std::time::Duration;

use evloop::{ConnId, Ctx};

/// The key of the loop-wide timer that sends the log.
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

/// Everyone connected, and what they are still to be told.
#[derive(Debug)]
pub(crate) struct Room {
    /// Members sent their part of the log per turn.
    members_per_turn: usize,
    members: HashMap<ConnId, Member>,
    /// Nicks in use, lowercased, so `Alice` and `alice` cannot both exist.
    nick_owners: HashMap<String, ConnId>,
    /// The number of the next default nick, `guestN`.
    next_guest: u64,
    /// What was said to the room and not yet sent to everyone, each line
    /// once.
    log: String,
    /// Members this pass has still to send their part to.
    pass: Vec<ConnId>,
    /// Whether the timer that sends `log` is set.
    flush_armed: bool,
}

impl Room {
    /// An empty room whose output goes to at most `members_per_turn`
    /// members per turn (at least one).
    pub(crate) fn new(members_per_turn: usize) -> Room {
        Room {
            members_per_turn: members_per_turn.max(1),
            members: HashMap::new(),
            nick_owners: HashMap::new(),
            next_guest: 0,
            log: String::new(),
            pass: Vec::new(),
            flush_armed: false,
        }
    }

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
    /// before and not yet sent.
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

    /// Says `line` (ending in `\n`) to everyone in the room.
    pub(crate) fn announce(&mut self, cx: &mut Ctx, line: &str) {
        self.log.push_str(line);
        self.arm(cx);
    }

    /// Says `line` (ending in `\n`) to everyone but `from`.
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

    /// Sends `id` its part of the log now: in a pass, before something for
    /// it alone, or before it is closed.
    pub(crate) fn catch_up(&mut self, cx: &mut Ctx, id: ConnId) {
        let Some(member) = self.members.get_mut(&id) else { return };
        if member.cursor < self.log.len() {
            // A member past its output limit is closed by `send`, and its
            // `on_close` tells the room; the rest go on.
            cx.send(id, &self.log.as_bytes()[member.cursor..]);
            member.cursor = self.log.len();
        }
    }

    /// This turn's share of the pass: sends up to `members_per_turn`
    /// members their part of the log, one send each, and arms the next
    /// turn's share if some member is still owed a part.
    pub(crate) fn flush(&mut self, cx: &mut Ctx) {
        self.flush_armed = false;
        if self.pass.is_empty() {
            self.pass.extend(self.members.keys().copied());
        }
        for _ in 0..self.members_per_turn {
            let Some(id) = self.pass.pop() else { break };
            // Members that left since the pass began are skipped.
            self.catch_up(cx, id);
        }
        if self.pass.is_empty() {
            self.forget_what_all_have();
        }
        if !self.pass.is_empty() || self.members.values().any(|m| m.cursor < self.log.len()) {
            self.arm(cx);
        }
    }

    /// Sends every member all it is owed, now: when there is no later turn.
    pub(crate) fn flush_all(&mut self, cx: &mut Ctx) {
        self.pass.clear();
        let ids: Vec<ConnId> = self.members.keys().copied().collect();
        for id in ids {
            self.catch_up(cx, id);
        }
        self.forget_what_all_have();
    }

    /// Drops the front of the log that every member has had.
    fn forget_what_all_have(&mut self) {
        let had_by_all = self.members.values().map(|m| m.cursor).min().unwrap_or(self.log.len());
        if had_by_all > 0 {
            self.log.drain(..had_by_all);
            for member in self.members.values_mut() {
                member.cursor -= had_by_all;
            }
        }
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
        let mut room = Room::new(1);
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
