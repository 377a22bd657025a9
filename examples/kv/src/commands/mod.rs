//! The command table and what runs a request: lookup, arity, the pub/sub
//! context check, then the command, with Redis 7's errors for each step.

mod connection;
mod introspection;
mod keys;
mod strings;

use std::borrow::Cow;
use std::collections::HashSet;

use evloop::codec::parse_redis_int;

use crate::reply::{Out, NOT_AN_INTEGER};
use crate::{pubsub, Bytes, Server};

/// What the server keeps about one client besides its input.
#[derive(Debug)]
pub struct Session {
    /// `CLIENT ID`: unique, from 1, in connection order.
    pub client_id: u64,
    /// `CLIENT SETNAME`.
    pub name: Option<Vec<u8>>,
    /// Channels subscribed to.
    pub channels: HashSet<Bytes>,
    /// Patterns subscribed to, in subscription order.
    pub patterns: Vec<Bytes>,
}

impl Session {
    /// A client that has done nothing yet.
    pub fn new(client_id: u64) -> Session {
        Session { client_id, name: None, channels: HashSet::new(), patterns: Vec::new() }
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
    /// Runs it; the arity has been checked.
    pub run: fn(&mut Server, &mut Call<'_>),
}

const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    run: fn(&mut Server, &mut Call<'_>),
) -> Spec {
    Spec { name, arity, flags, keys: (0, 0, 0), in_pubsub: false, run }
}

const fn keyed(mut spec: Spec, keys: (i32, i32, i32)) -> Spec {
    spec.keys = keys;
    spec
}

const fn pubsub_ok(mut spec: Spec) -> Spec {
    spec.in_pubsub = true;
    spec
}

const R: &[&str] = &["readonly", "fast"];
const W: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "denyoom", "fast"];
const WD: &[&str] = &["write", "fast"];
const FAST: &[&str] = &["fast"];
const PS: &[&str] = &["pubsub", "noscript", "loading", "stale"];
const ADMIN: &[&str] = &["loading", "stale"];

/// Every command, the most used first: lookup is a scan, and `GET`, `SET`
/// and `PING` then cost one or two comparisons.
pub static COMMANDS: [Spec; 35] = [
    keyed(spec("get", 2, R, strings::get), (1, 1, 1)),
    keyed(spec("set", -3, W, strings::set), (1, 1, 1)),
    pubsub_ok(spec("ping", -1, FAST, connection::ping)),
    keyed(spec("incr", 2, WF, strings::incr), (1, 1, 1)),
    keyed(spec("mset", -3, W, strings::mset), (1, -1, 2)),
    keyed(spec("mget", -2, R, strings::mget), (1, -1, 1)),
    keyed(spec("del", -2, &["write"], keys::del), (1, -1, 1)),
    keyed(spec("exists", -2, R, keys::exists), (1, -1, 1)),
    keyed(spec("decr", 2, WF, strings::decr), (1, 1, 1)),
    keyed(spec("incrby", 3, WF, strings::incrby), (1, 1, 1)),
    keyed(spec("decrby", 3, WF, strings::decrby), (1, 1, 1)),
    keyed(spec("getdel", 2, WD, strings::getdel), (1, 1, 1)),
    keyed(spec("append", 3, WF, strings::append), (1, 1, 1)),
    keyed(spec("strlen", 2, R, strings::strlen), (1, 1, 1)),
    keyed(spec("expire", -3, WD, keys::expire), (1, 1, 1)),
    keyed(spec("pexpire", -3, WD, keys::pexpire), (1, 1, 1)),
    keyed(spec("persist", 2, WD, keys::persist), (1, 1, 1)),
    keyed(spec("ttl", 2, R, keys::ttl), (1, 1, 1)),
    keyed(spec("pttl", 2, R, keys::pttl), (1, 1, 1)),
    spec("publish", 3, &["pubsub", "loading", "stale", "fast"], pubsub::publish),
    pubsub_ok(spec("subscribe", -2, PS, pubsub::subscribe)),
    pubsub_ok(spec("unsubscribe", -1, PS, pubsub::unsubscribe)),
    pubsub_ok(spec("psubscribe", -2, PS, pubsub::psubscribe)),
    pubsub_ok(spec("punsubscribe", -1, PS, pubsub::punsubscribe)),
    spec("echo", 2, FAST, connection::echo),
    spec("select", 2, &["loading", "stale", "fast"], connection::select),
    pubsub_ok(spec("quit", -1, &["allow_busy", "noscript", "loading", "stale", "fast"], connection::quit)),
    spec("client", -2, ADMIN, connection::client),
    spec("dbsize", 1, R, keys::dbsize),
    spec("flushall", -1, &["write"], keys::flushall),
    spec("keys", 2, &["readonly"], keys::keys),
    spec("command", -1, ADMIN, introspection::command),
    spec("config", -2, ADMIN, introspection::config),
    spec("info", -1, ADMIN, introspection::info),
    spec("hello", -1, ADMIN, connection::hello),
];

/// The command named `name`, in any case.
pub fn lookup(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS.iter().find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i64;
    if arity >= 0 {
        argc == i64::from(arity)
    } else {
        argc >= -i64::from(arity)
    }
}

/// Runs one request and sends its reply: Redis's `processCommand` for
/// what this server has (unknown command, arity, subscribed mode, run).
pub fn execute(server: &mut Server, mut call: Call<'_>) {
    server.commands_processed += 1;
    match lookup(call.arg(0)) {
        None => unknown_command(&mut call),
        Some(spec) if !arity_ok(spec.arity, call.args.len()) => call.wrong_arity(spec.name),
        Some(spec) if call.session.is_subscriber() && !spec.in_pubsub => call.out.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        )),
        Some(spec) => (spec.run)(server, &mut call),
    }
    call.out.flush();
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
type Subcommand = (&'static str, i32, fn(&mut Server, &mut Call<'_>));

/// Runs the subcommand named by argument 1 from `table`, with Redis's
/// errors for an unknown one (`unknown subcommand 'x'. Try CLIENT HELP.`)
/// and for its arity (`wrong number of arguments for 'client|setname'`).
fn run_subcommand(server: &mut Server, call: &mut Call<'_>, container: &str, table: &[Subcommand]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_in_any_case() {
        for spec in &COMMANDS {
            let upper = spec.name.to_uppercase();
            assert!(lookup(upper.as_bytes()).is_some_and(|found| found.name == spec.name), "{upper}");
        }
        assert!(lookup(b"nosuch").is_none());
    }

    #[test]
    fn arity_is_exact_when_positive_and_a_minimum_when_negative() {
        assert!(arity_ok(2, 2) && !arity_ok(2, 3) && !arity_ok(2, 1));
        assert!(arity_ok(-3, 3) && arity_ok(-3, 9) && !arity_ok(-3, 2));
    }
}
