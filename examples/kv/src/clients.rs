//! Who is connected: what `CLIENT LIST` shows, `maxclients` counts and
//! the `timeout` check reads, one entry per client in a slab.

use std::time::Instant;

use evloop::{ConnId, PeerAddr};

use crate::commands::Session;

/// One client as the server sees it from outside its connection.
///
/// A [`Session`] lives with its connection and is reachable only from
/// that connection's callbacks; this summary is what other clients'
/// commands (`CLIENT LIST`) and the cron (`timeout`) need, brought up to
/// date after each read ([`sync`](ClientInfo::sync)).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// `CLIENT ID`.
    pub id: u64,
    /// Its connection.
    pub conn: ConnId,
    /// The peer's address.
    pub addr: Option<PeerAddr>,
    /// When it connected.
    pub created: Instant,
    /// When a request last arrived.
    pub last_interaction: Instant,
    /// `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
    /// The database it uses.
    pub db: usize,
    /// Channels subscribed to.
    pub sub: usize,
    /// Patterns subscribed to.
    pub psub: usize,
    /// Commands queued inside `MULTI`, -1 outside.
    pub multi: i64,
    /// The last command run.
    pub last_command: &'static str,
}

impl ClientInfo {
    /// A client that just connected.
    pub fn new(id: u64, conn: ConnId, addr: Option<PeerAddr>, now: Instant) -> ClientInfo {
        ClientInfo {
            id,
            conn,
            addr,
            created: now,
            last_interaction: now,
            name: None,
            db: 0,
            sub: 0,
            psub: 0,
            multi: -1,
            last_command: "NULL",
        }
    }

    /// Copies what may have changed from the client's session, after a
    /// read at `now`.
    pub fn sync(&mut self, session: &Session, now: Instant) {
        self.last_interaction = now;
        self.db = session.db;
        self.sub = session.channels.len();
        self.psub = session.patterns.len();
        self.multi = session.multi.as_ref().map_or(-1, |queue| queue.len() as i64);
        self.last_command = session.last_command;
    }

    /// Whether it is subscribed (then `timeout` spares it, as in Redis).
    pub fn is_subscriber(&self) -> bool {
        self.sub + self.psub > 0
    }
}
