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
//!
//! # Across loops
//!
//! In a group of loops each loop has a room of its own members, and the
//! rooms are one: what is said to one is relayed to the others (see
//! `relay.rs`), and the nicks are the whole room's ([`Nicks`]).

use std::collections::HashMap;
use std::time::Duration;

use evloop::{ConnId, Ctx};

use crate::nicks::{Nicks, Seat, Taken};
use crate::relay::{Links, Relay};

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

/// Everyone connected, and what they are still to be told.
#[derive(Debug)]
pub(crate) struct Room {
    /// Members sent their part of the log per turn.
    members_per_turn: usize,
    members: HashMap<ConnId, Member>,
    /// The nicks of the whole room, this loop's members and the others'.
    nicks: Nicks,
    /// The other loops' rooms, in a group of loops.
    links: Option<Links>,
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
    /// members per turn (at least one), its nicks in `nicks`, and linked
    /// to the other loops' rooms by `links` in a group.
    pub(crate) fn new(members_per_turn: usize, nicks: Nicks, links: Option<Links>) -> Room {
        Room {
            members_per_turn: members_per_turn.max(1),
            members: HashMap::new(),
            nicks,
            links,
            log: String::new(),
            pass: Vec::new(),
            flush_armed: false,
        }
    }

    /// How many are in the room on this loop.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// How many are in the room on every loop.
    pub(crate) fn online(&self) -> usize {
        self.nicks.len()
    }

    /// The member on `id`, if it is in the room.
    pub(crate) fn member(&self, id: ConnId) -> Option<&Member> {
        self.members.get(&id)
    }

    /// Every nick in the room, on every loop, sorted.
    pub(crate) fn nicks(&self) -> Vec<String> {
        self.nicks.all()
    }

    /// Who goes by `nick` (in any case), on whichever loop, and the nick
    /// as they spell it.
    pub(crate) fn owner_of(&self, nick: &str) -> Option<(Seat, String)> {
        self.nicks.owner_of(nick)
    }

    /// Where this loop's member `id` sits in the whole room.
    fn seat(&self, id: ConnId) -> Seat {
        Seat { loop_index: self.links.as_ref().map_or(0, Links::index), id }
    }

    /// Lets `id` in under the first `guestN` nobody has taken, and returns
    /// the nick. It hears what is said from now on, not what was said
    /// before and not yet sent.
    pub(crate) fn enter(&mut self, id: ConnId) -> &str {
        let nick = self.nicks.take_guest(self.seat(id));
        let member = self.members.entry(id).or_insert(Member { nick, cursor: 0 });
        member.cursor = self.log.len();
        &member.nick
    }

    /// Takes `id` out of the room; it hears nothing more.
    pub(crate) fn remove(&mut self, id: ConnId) -> Option<Member> {
        let member = self.members.remove(&id)?;
        self.nicks.release(self.seat(id), &member.nick);
        Some(member)
    }

    /// Gives `id` the nick `new` (checked by the caller), returning the old one.
    pub(crate) fn rename(&mut self, id: ConnId, new: &str) -> Result<String, Taken> {
        let seat = self.seat(id);
        let member = self.members.get_mut(&id).ok_or(Taken::ByAnother)?;
        self.nicks.rename(seat, &member.nick, new)?;
        Ok(std::mem::replace(&mut member.nick, new.to_string()))
    }

    /// Says `line` (ending in `\n`) to everyone in the room, on every loop.
    pub(crate) fn announce(&mut self, cx: &mut Ctx, line: &str) {
        self.announce_here(cx, line);
        if let Some(links) = &mut self.links {
            links.post_to_others(cx, line);
        }
    }

    /// Says `line` (ending in `\n`) to this loop's members only: what
    /// every loop says for itself, or what another loop relayed.
    pub(crate) fn announce_here(&mut self, cx: &mut Ctx, line: &str) {
        self.log.push_str(line);
        self.arm(cx);
    }

    /// Says `line` (ending in `\n`) to everyone but `from`, on every loop.
    pub(crate) fn say(&mut self, cx: &mut Ctx, from: ConnId, line: &str) {
        self.catch_up(cx, from);
        self.log.push_str(line);
        if let Some(member) = self.members.get_mut(&from) {
            member.cursor = self.log.len();
        }
        self.arm(cx);
        if let Some(links) = &mut self.links {
            links.post_to_others(cx, line);
        }
    }

    /// What another loop's room relayed: heard here by this loop's
    /// members only, so by everyone exactly once.
    pub(crate) fn hear(&mut self, cx: &mut Ctx, relay: Relay) {
        match relay {
            Relay::Room(line) => self.announce_here(cx, &line),
            // Gone since it was sent (a stale id is ignored anyway).
            Relay::Private { to, line } if self.members.contains_key(&to) => self.tell(cx, to, &line),
            Relay::Private { .. } => {}
        }
    }

    /// Sends `line` (ending in `\n`) to the member at `seat` alone, on
    /// this loop or another.
    pub(crate) fn tell_seat(&mut self, cx: &mut Ctx, seat: Seat, line: &str) {
        match &mut self.links {
            Some(links) if links.index() != seat.loop_index => links.post_to_member(cx, seat.loop_index, seat.id, line),
            _ => self.tell(cx, seat.id, line),
        }
    }

    /// The relay's retry timer fired: offers the other loops what their
    /// full queues turned away.
    pub(crate) fn retry_relay(&mut self, cx: &mut Ctx) {
        if let Some(links) = &mut self.links {
            links.retry(cx);
        }
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
        let mut room = Room::new(1, Nicks::default(), None);
        let [a, b, c] = [0, 1, 2].map(|i| ConnId::from_parts(i, 0));
        assert_eq!(room.enter(a), "guest1");
        assert_eq!(room.rename(a, "GUEST2"), Ok("guest1".to_string()));
        assert_eq!(room.enter(b), "guest3", "guest2 is taken, in another case");
        assert_eq!(room.rename(b, "guest2"), Err(Taken::ByAnother));
        assert_eq!(room.rename(b, "guest3"), Err(Taken::ByYou));
        assert_eq!(room.enter(c), "guest4");
        assert_eq!(room.nicks(), ["GUEST2", "guest3", "guest4"]);
        assert_eq!(room.owner_of("Guest2").map(|(seat, nick)| (seat.id, nick)), Some((a, "GUEST2".to_string())));
        room.remove(a);
        assert_eq!(room.owner_of("guest2"), None, "a nick is free once its member left");
    }
}
