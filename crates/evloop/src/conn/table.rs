//! The connection table: a slab whose slots carry a generation each, so a
//! [`ConnId`] names one connection and never a later one in the same slot.

use std::ops::{Index, IndexMut};

use slab::Slab;

use crate::conn::{Conn, Phase};
use crate::ConnId;

/// A slot of the table.
#[derive(Debug)]
// Almost every slot holds a connection; boxing it to shrink the rare
// retired slot would cost an allocation and an indirection per connection.
#[allow(clippy::large_enum_variant)]
enum Slot {
    Live(Conn),
    /// Every generation of this slot has been used: it is never handed
    /// out again, so no id can come back to life by wrapping around.
    Retired,
}

/// Every connection, by slot, with a generation per slot.
///
/// A freed slot's next occupant gets the next generation of that slot.
/// After 2^32 occupants the slot is retired for good instead of wrapping,
/// which costs one slot (about 300 bytes) per four billion connections
/// through it, and keeps the promise that a stale id stays stale.
#[derive(Debug, Default)]
pub(crate) struct Conns {
    slots: Slab<Slot>,
    /// The generation the next occupant of each slot gets (slots never
    /// occupied yet are past the end: generation 0).
    generations: Vec<u32>,
    retired: usize,
    /// Sockets lingering: closed for the application, still held (see
    /// `event_loop/linger.rs`).
    lingering: usize,
}

impl Conns {
    /// Connections in the table (retired slots are not connections).
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.retired
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connections the application sees, open or connecting: what the
    /// connection limits count. A socket lingering after its `on_close`
    /// is not one.
    pub(crate) fn open_len(&self) -> usize {
        self.len() - self.lingering
    }

    /// Sockets lingering after their close.
    pub(crate) fn lingering_len(&self) -> usize {
        self.lingering
    }

    /// Turns `id` (known present, not lingering) into a lingering socket.
    pub(crate) fn begin_lingering(&mut self, id: ConnId) -> &mut Conn {
        self.lingering += 1;
        let conn = &mut self[id];
        conn.set_phase(Phase::Lingering);
        conn
    }

    /// The id the next [`insert`](Conns::insert) will return: what to
    /// register the socket under before inserting it.
    pub(crate) fn vacant_id(&self) -> ConnId {
        let index = self.slots.vacant_key();
        let generation = self.generations.get(index).copied().unwrap_or(0);
        ConnId::from_parts(index as u32, generation)
    }

    /// Inserts `conn`, whose `generation` must be [`vacant_id`](Conns::vacant_id)'s.
    pub(crate) fn insert(&mut self, conn: Conn) -> ConnId {
        let id = self.vacant_id();
        debug_assert_eq!(conn.generation, id.generation());
        let index = self.slots.insert(Slot::Live(conn));
        debug_assert_eq!(index, id.index() as usize);
        id
    }

    /// The connection `id` names, if it is still in the table (in any
    /// phase, lingering included).
    #[inline]
    pub(crate) fn get(&self, id: ConnId) -> Option<&Conn> {
        match self.slots.get(id.index() as usize) {
            Some(Slot::Live(conn)) if conn.generation == id.generation() => Some(conn),
            _ => None,
        }
    }

    /// As [`get`](Conns::get), mutably.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        match self.slots.get_mut(id.index() as usize) {
            Some(Slot::Live(conn)) if conn.generation == id.generation() => Some(conn),
            _ => None,
        }
    }

    /// Removes `id` (known present), moving its slot to the next generation
    /// or retiring it.
    pub(crate) fn remove(&mut self, id: ConnId) -> Conn {
        let index = id.index() as usize;
        let next = id.generation().checked_add(1);
        let slot = match next {
            Some(_) => self.slots.remove(index),
            None => {
                self.retired += 1;
                std::mem::replace(&mut self.slots[index], Slot::Retired)
            }
        };
        if self.generations.len() <= index {
            self.generations.resize(index + 1, 0);
        }
        self.generations[index] = next.unwrap_or(u32::MAX);
        match slot {
            Slot::Live(conn) => {
                if conn.phase() == Phase::Lingering {
                    self.lingering -= 1;
                }
                conn
            }
            Slot::Retired => unreachable!("removed a retired slot"),
        }
    }

    /// The ids of every connection, for loops that may close some of them.
    pub(crate) fn ids(&self) -> Vec<ConnId> {
        self.iter().map(|(index, conn)| ConnId::from_parts(index as u32, conn.generation)).collect()
    }

    /// Every connection with its slot index.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Conn)> {
        self.slots.iter().filter_map(|(index, slot)| match slot {
            Slot::Live(conn) => Some((index, conn)),
            Slot::Retired => None,
        })
    }

    /// Makes slot `index`'s next occupant get `generation`: for tests of
    /// wrapping without four billion connections.
    #[cfg(test)]
    pub(crate) fn set_next_generation(&mut self, index: usize, generation: u32) {
        if self.generations.len() <= index {
            self.generations.resize(index + 1, 0);
        }
        self.generations[index] = generation;
    }
}

impl Index<ConnId> for Conns {
    type Output = Conn;

    /// The connection `id` names. Only for ids the loop knows are present.
    #[inline]
    fn index(&self, id: ConnId) -> &Conn {
        self.get(id).expect("a connection known to be present")
    }
}

impl IndexMut<ConnId> for Conns {
    #[inline]
    fn index_mut(&mut self, id: ConnId) -> &mut Conn {
        self.get_mut(id).expect("a connection known to be present")
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use super::*;
    use crate::conn::{Opened, Phase};
    use crate::transport::{PeerAddr, Stream};
    use crate::Origin;

    /// A connected loopback socket to put in the table.
    fn conn(generation: u32, listener: &std::net::TcpListener) -> Conn {
        let addr = listener.local_addr().unwrap();
        let stream = Stream::Tcp(mio::net::TcpStream::from_std(std::net::TcpStream::connect(addr).unwrap()));
        let opened = Opened {
            origin: Origin::Outbound,
            peer: PeerAddr::Tcp(addr),
            now: Instant::now(),
            max_input_bytes: 1,
            max_output_bytes: 1,
        };
        Conn::new(stream, generation, Phase::Open, opened)
    }

    fn listener() -> std::net::TcpListener {
        std::net::TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).unwrap()
    }

    #[test]
    fn a_reused_slot_gets_the_next_generation_and_the_old_id_stays_stale() {
        let listener = listener();
        let mut conns = Conns::default();
        let first = conns.insert(conn(conns.vacant_id().generation(), &listener));
        drop(conns.remove(first));
        let second = conns.insert(conn(conns.vacant_id().generation(), &listener));
        assert_eq!(first.index(), second.index(), "the slot is reused");
        assert_eq!(second.generation(), first.generation() + 1);
        assert!(conns.get(first).is_none(), "the old id names nothing");
        assert!(conns.get(second).is_some());
    }

    /// An idle connection costs its slot and nothing else, so the slot's
    /// size is the per-connection memory floor (RSS per idle connection in
    /// the benchmark follows it). Its yes/no fields as bits in one word
    /// took it from 264 to 256 bytes in a release build: four cache lines;
    /// the transport's tag (8 bytes) was paid for by the origin becoming a
    /// flag bit (16). (A debug build's is 16 bytes larger: mio's stream
    /// carries a selector id under `debug_assertions`.)
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_slot_stays_within_256_bytes() {
        let mio_debug_field = if cfg!(debug_assertions) { 16 } else { 0 };
        let size = std::mem::size_of::<Slot>() - mio_debug_field;
        assert!(size <= 256, "a connection slot grew to {size} bytes (release layout)");
    }

    #[test]
    fn a_slot_whose_generations_are_used_up_is_retired_not_wrapped() {
        let listener = listener();
        let mut conns = Conns::default();
        conns.set_next_generation(0, u32::MAX);
        let last = conns.insert(conn(conns.vacant_id().generation(), &listener));
        assert_eq!((last.index(), last.generation()), (0, u32::MAX));
        drop(conns.remove(last));
        assert_eq!(conns.len(), 0, "a retired slot is not a connection");
        let next = conns.insert(conn(conns.vacant_id().generation(), &listener));
        assert_ne!(next.index(), 0, "the retired slot is never handed out again");
        assert!(conns.get(ConnId::from_parts(0, 0)).is_none(), "generation 0 of the retired slot stays stale");
        assert_eq!(conns.ids(), vec![next]);
    }
}
