//! The commands, one module per family, as mini-redis's `cmd/`: each
//! module opens with its table (name, arity, flags, keys) and then has one
//! function per command that parses its arguments, runs it and replies,
//! in that order, in one place.
//!
//! | module | commands |
//! | --- | --- |
//! | [`strings`] | GET, SET, SETEX, GETEX, GETSET, GETDEL, INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT, APPEND, STRLEN, MGET, MSET |
//! | [`keys`] | DEL, UNLINK, EXISTS, TYPE, EXPIRE, PEXPIRE, PERSIST, TTL, PTTL, SCAN, KEYS, DBSIZE, FLUSHDB, FLUSHALL |
//! | [`lists`] | LPUSH, RPUSH, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET, LREM, LTRIM |
//! | [`hashes`] | HSET, HGET, HMGET, HDEL, HEXISTS, HLEN, HGETALL, HKEYS, HVALS, HINCRBY |
//! | [`sets`] | SADD, SREM, SMEMBERS, SISMEMBER, SCARD, SPOP |
//! | [`zsets`] | ZADD, ZREM, ZSCORE, ZRANGE, ZRANK, ZCARD, ZINCRBY, ZPOPMIN |
//! | [`pubsub`] | PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE |
//! | [`transactions`] | MULTI, EXEC, DISCARD |
//! | [`connection`] | PING, ECHO, SELECT, QUIT, HELLO, CLIENT |
//! | [`server`] | INFO, CONFIG, TIME, SHUTDOWN |
//! | [`introspection`] | COMMAND |
//!
//! What runs a request is here: lookup, arity, the pub/sub and MULTI
//! context checks, then the command, with Redis 7's error for each step.

pub mod connection;
pub mod hashes;
pub mod introspection;
pub mod keys;
pub mod lists;
pub mod pubsub;
pub mod server;
pub mod sets;
pub mod strings;
pub mod transactions;
pub mod zsets;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

use evloop::codec::parse_redis_int;

use crate::reply::{Out, NOT_AN_INTEGER};
use crate::store::Store;
use crate::value::{WrongType, WRONGTYPE};
use crate::{Bytes, Server};

/// What the server keeps about one client besides its input.
#[derive(Debug)]
pub struct Session {
    /// `CLIENT ID`: unique, from 1, in connection order.
    pub client_id: u64,
    /// Its entry in [`Server::clients`].
    pub slot: usize,
    /// `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
    /// The database `SELECT` chose.
    pub db: usize,
    /// Channels subscribed to.
    pub channels: HashSet<Bytes>,
    /// Patterns subscribed to, in subscription order.
    pub patterns: Vec<Bytes>,
    /// Inside `MULTI`: the commands queued, and whether one was refused
    /// (then `EXEC` discards them all).
    pub multi: Option<transactions::Queue>,
    /// The last command run, for `CLIENT LIST`'s `cmd=`.
    pub last_command: &'static str,
}

impl Session {
    /// A client that has done nothing yet.
    pub fn new(client_id: u64, slot: usize) -> Session {
        Session {
            client_id,
            slot,
            name: None,
            db: 0,
            channels: HashSet::new(),
            patterns: Vec::new(),
            multi: None,
            last_command: "NULL",
        }
    }

    /// Subscriptions, channels and patterns together.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the client is in RESP2's subscribed mode, where only the
    /// pub/sub commands, `PING` and `QUIT` may run.
    pub fn is_subscriber(&self) -> bool {
        self.subscriptions() > 0
    }
}

/// One request being run: where its reply goes, who sent it, its
/// arguments (the command name first) and the time, in Unix milliseconds.
#[derive(Debug)]
pub struct Call<'c> {
    /// The reply.
    pub out: Out<'c>,
    /// The client.
    pub session: &'c mut Session,
    /// The arguments, the command name first.
    pub args: &'c [Cow<'c, [u8]>],
    /// The loop's time for this batch, Unix milliseconds.
    pub now: i64,
}

impl Call<'_> {
    /// Argument `index`, which arity checking guarantees.
    pub fn arg(&self, index: usize) -> &[u8] {
        &self.args[index]
    }

    /// Argument `index` as a Redis integer, or the reply
    /// `-ERR value is not an integer or out of range` and `None`.
    pub fn int_arg(&mut self, index: usize) -> Option<i64> {
        let value = parse_redis_int(&self.args[index]);
        if value.is_none() {
            self.out.error(NOT_AN_INTEGER);
        }
        value
    }

    /// Replies Redis's arity error for `name` (`get`, `client|setname`).
    pub fn wrong_arity(&mut self, name: &str) {
        self.out.error(&format!("ERR wrong number of arguments for '{name}' command"));
    }

    /// Replies `-WRONGTYPE`.
    pub fn wrong_type(&mut self) {
        self.out.error(WRONGTYPE);
    }

    /// The database this client uses.
    pub fn db<'s>(&self, server: &'s mut Server) -> &'s mut Store {
        &mut server.dbs[self.session.db]
    }
}

/// Replies `-WRONGTYPE` for an `Err(WrongType)` and passes the value on:
/// `let Some(list) = typed(call, store.write(key, now)) else { return };`.
pub fn typed<T>(call: &mut Call<'_>, found: Result<T, WrongType>) -> Option<T> {
    match found {
        Ok(value) => Some(value),
        Err(WrongType) => {
            call.wrong_type();
            None
        }
    }
}

/// How a command is run and described to `COMMAND`.
#[derive(Debug)]
pub struct Spec {
    /// Lowercase, as Redis names it in errors.
    pub name: &'static str,
    /// Redis's arity: `n` exactly `n` arguments (the name included), `-n`
    /// at least `n`.
    pub arity: i32,
    /// Redis's command flags, for `COMMAND`.
    pub flags: &'static [&'static str],
    /// First key argument, last (negative: from the end) and step, for `COMMAND`.
    pub keys: (i32, i32, i32),
    /// Allowed while subscribed (RESP2).
    pub in_pubsub: bool,
    /// Runs at once inside `MULTI` instead of being queued (`EXEC`, ...).
    pub in_multi: bool,
    /// Runs it; the arity has been checked.
    pub run: fn(&mut Server, &mut Call<'_>),
    /// The name folded into one integer ([`fold_name`]), what a lookup
    /// compares.
    folded: u128,
    /// Its first flag is `write`: counted in `INFO`'s changes.
    writes: bool,
}

/// A command name of up to 16 bytes folded into one integer, each byte
/// with its `0x20` bit set: for letters, lowercase, so `GET` and `get`
/// fold alike, and a lookup is one integer comparison per candidate.
/// Another byte cannot fold onto a letter but from the letter's other
/// case, and no byte folds to 0, so names of different lengths never
/// collide. `None` past 16 bytes (no command is that long).
pub const fn fold_name(name: &[u8]) -> Option<u128> {
    if name.len() > 16 {
        return None;
    }
    let mut folded = 0u128;
    let mut i = 0;
    while i < name.len() {
        folded = folded << 8 | (name[i] | 0x20) as u128;
        i += 1;
    }
    Some(folded)
}

/// A command's table entry: name, arity, flags and what runs it.
pub const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    run: fn(&mut Server, &mut Call<'_>),
) -> Spec {
    let folded = match fold_name(name.as_bytes()) {
        Some(folded) => folded,
        None => panic!("a command name longer than 16 bytes"),
    };
    let writes = !flags.is_empty() && same_bytes(flags[0].as_bytes(), b"write");
    Spec { name, arity, flags, keys: (0, 0, 0), in_pubsub: false, in_multi: false, run, folded, writes }
}

/// `a == b`, usable in a `const fn`.
const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A command's table entry with the keys it takes: first, last and step.
pub const fn keyed(mut spec: Spec, keys: (i32, i32, i32)) -> Spec {
    spec.keys = keys;
    spec
}

/// A command allowed while subscribed (RESP2's subscribed mode).
pub const fn pubsub_ok(mut spec: Spec) -> Spec {
    spec.in_pubsub = true;
    spec
}

/// A command run at once inside `MULTI` rather than queued.
pub const fn in_multi(mut spec: Spec) -> Spec {
    spec.in_multi = true;
    spec
}

/// The usual keys: argument 1 only.
pub const KEY1: (i32, i32, i32) = (1, 1, 1);

/// Flag lists as Redis 7 gives them to `COMMAND`.
pub mod flags {
    /// A fast read.
    pub const R: &[&str] = &["readonly", "fast"];
    /// A read that may be slow (ranges, whole containers).
    pub const RS: &[&str] = &["readonly"];
    /// A write that may grow memory.
    pub const W: &[&str] = &["write", "denyoom"];
    /// A fast write that may grow memory.
    pub const WF: &[&str] = &["write", "denyoom", "fast"];
    /// A fast write that does not grow memory.
    pub const WD: &[&str] = &["write", "fast"];
    /// A write that may be slow.
    pub const WS: &[&str] = &["write"];
    /// Fast, touching no key.
    pub const FAST: &[&str] = &["fast"];
    /// The pub/sub commands.
    pub const PS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
    /// Administrative commands allowed while loading.
    pub const ADMIN: &[&str] = &["loading", "stale"];
}

/// Every family's table, in the order `COMMAND` lists them.
pub fn families() -> [&'static [Spec]; 11] {
    [
        strings::COMMANDS,
        keys::COMMANDS,
        lists::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        pubsub::COMMANDS,
        transactions::COMMANDS,
        connection::COMMANDS,
        server::COMMANDS,
        introspection::COMMANDS,
    ]
}

/// Every command.
pub fn all() -> impl Iterator<Item = &'static Spec> {
    families().into_iter().flatten()
}

/// Commands by the lowercase first letter of their name; a lookup then
/// compares a handful of folded names.
fn by_letter() -> &'static [Vec<&'static Spec>; 26] {
    static TABLE: OnceLock<[Vec<&'static Spec>; 26]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: [Vec<&'static Spec>; 26] = Default::default();
        for spec in all() {
            table[usize::from(spec.name.as_bytes()[0] - b'a')].push(spec);
        }
        table
    })
}

/// The command named `name`, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let letter = name.first()?.to_ascii_lowercase().checked_sub(b'a')?;
    let folded = fold_name(name)?;
    by_letter().get(usize::from(letter))?.iter().copied().find(|spec| spec.folded == folded)
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i64;
    if arity >= 0 {
        argc == i64::from(arity)
    } else {
        argc >= -i64::from(arity)
    }
}

/// Runs one request and appends its reply to the reply buffer (which the
/// handler sends once per read, or sooner once it is large): Redis's
/// `processCommand` for what this server has (unknown command, arity,
/// subscribed mode, MULTI's queue, run).
pub fn execute(server: &mut Server, mut call: Call<'_>) {
    server.commands_processed += 1;
    let spec = match lookup(call.arg(0)) {
        None => {
            transactions::refuse_queueing(&mut call);
            return unknown_command(&mut call);
        }
        Some(spec) => spec,
    };
    if !arity_ok(spec.arity, call.args.len()) {
        transactions::refuse_queueing(&mut call);
        call.wrong_arity(spec.name);
    } else if call.session.is_subscriber() && !spec.in_pubsub {
        call.out.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
    } else if call.session.multi.is_some() && !spec.in_multi {
        transactions::queue(&mut call);
    } else {
        run(server, &mut call, spec);
    }
}

/// Runs a command whose checks have passed (at once or from `EXEC`).
fn run(server: &mut Server, call: &mut Call<'_>, spec: &'static Spec) {
    call.session.last_command = spec.name;
    server.writes += u64::from(spec.writes);
    (spec.run)(server, call);
}

/// `-ERR unknown command 'x', with args beginning with: 'a' 'b' `: the
/// name and the first 128 bytes or so of arguments, each cut to what is
/// left of the 128, as Redis 7 quotes them.
fn unknown_command(call: &mut Call<'_>) {
    let name = String::from_utf8_lossy(&call.arg(0)[..call.arg(0).len().min(128)]).into_owned();
    let mut quoted = String::new();
    for arg in &call.args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push('\'');
        quoted.push_str(&String::from_utf8_lossy(&arg[..arg.len().min(room)]));
        quoted.push_str("' ");
    }
    call.out.error(&format!("ERR unknown command '{name}', with args beginning with: {quoted}"));
}

/// A subcommand of a container (`CLIENT`, `CONFIG`, `COMMAND`): its name
/// as Redis reports it, its arity and what runs it.
pub type Subcommand = (&'static str, i32, fn(&mut Server, &mut Call<'_>));

/// Runs the subcommand named by argument 1 from `table`, with Redis's
/// errors for an unknown one (`unknown subcommand 'x'. Try CLIENT HELP.`)
/// and for its arity (`wrong number of arguments for 'client|setname'`).
pub fn run_subcommand(server: &mut Server, call: &mut Call<'_>, container: &str, table: &[Subcommand]) {
    let found = table.iter().find(|(name, _, _)| name.as_bytes().eq_ignore_ascii_case(call.arg(1)));
    match found {
        None => {
            let sub = String::from_utf8_lossy(&call.arg(1)[..call.arg(1).len().min(128)]).into_owned();
            call.out.error(&format!("ERR unknown subcommand '{sub}'. Try {} HELP.", container.to_uppercase()));
        }
        Some((name, arity, _)) if !arity_ok(*arity, call.args.len()) => {
            call.wrong_arity(&format!("{container}|{name}"));
        }
        Some((_, _, run)) => run(server, call),
    }
}

/// Redis's index rule for ranges (`LRANGE`, `ZRANGE`): negative counts
/// from the end, then both ends clamped; `None` for an empty range.
pub fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { (len + start).max(0) } else { start };
    let stop = if stop < 0 { len + stop } else { stop.min(len - 1) };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_in_any_case() {
        for spec in all() {
            let upper = spec.name.to_uppercase();
            assert!(lookup(upper.as_bytes()).is_some_and(|found| found.name == spec.name), "{upper}");
        }
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(b"").is_none() && lookup(b"1").is_none() && lookup(b"\xff").is_none());
        assert!(lookup(b"gEt").is_some() && lookup(b"g\x05t").is_none() && lookup(b"ge").is_none());
        assert!(lookup(b"getx").is_none() && lookup(b"\x07et").is_none(), "only a letter's two cases fold alike");
    }

    #[test]
    fn command_names_are_unique_and_lowercase() {
        let mut names: Vec<&str> = all().map(|spec| spec.name).collect();
        assert!(names.iter().all(|name| name.bytes().all(|b| b.is_ascii_lowercase())), "{names:?}");
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a command is in two tables");
    }

    #[test]
    fn arity_is_exact_when_positive_and_a_minimum_when_negative() {
        assert!(arity_ok(2, 2) && !arity_ok(2, 3) && !arity_ok(2, 1));
        assert!(arity_ok(-3, 3) && arity_ok(-3, 9) && !arity_ok(-3, 2));
    }

    #[test]
    fn ranges_clamp_as_redis_clamps_them() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(0, -1, 0), None);
        assert_eq!(clamp_range(-2, -1, 5), Some((3, 4)));
    }
}
