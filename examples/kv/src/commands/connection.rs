//! Connection commands: PING, ECHO, SELECT, QUIT, HELLO, CLIENT (ID,
//! SETNAME, GETNAME, SETINFO, LIST, INFO).

use std::fmt::Write as _;

use evloop::codec::parse_redis_int;
use evloop::PeerAddr;

use super::flags::{ADMIN, FAST};
use super::{in_multi, pubsub_ok, run_subcommand, spec, Call, Spec, Subcommand};
use crate::clients::ClientInfo;
use crate::reply::NOT_AN_INTEGER;
use crate::{Server, DATABASES};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    pubsub_ok(spec("ping", -1, FAST, ping)),
    spec("echo", 2, FAST, echo),
    spec("select", 2, &["loading", "stale", "fast"], select),
    in_multi(pubsub_ok(spec("quit", -1, &["allow_busy", "noscript", "loading", "stale", "fast"], quit))),
    spec("hello", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], hello),
    spec("client", -2, ADMIN, client),
];

/// `PING [message]`: `+PONG`, the message, or in subscribed mode a reply
/// that reads like a message.
pub fn ping(_server: &mut Server, call: &mut Call<'_>) {
    if call.args.len() > 2 {
        return call.wrong_arity("ping");
    }
    if call.session.is_subscriber() {
        call.out.array(2);
        call.out.bulk(b"pong");
        call.out.bulk(call.args.get(1).map_or(&[][..], |arg| arg));
    } else if let Some(message) = call.args.get(1) {
        call.out.bulk(message);
    } else {
        call.out.status("PONG");
    }
}

/// `ECHO message`.
pub fn echo(_server: &mut Server, call: &mut Call<'_>) {
    call.out.bulk(&call.args[1]);
}

/// `SELECT index`: one of the sixteen databases, as Redis's default
/// `databases 16`.
pub fn select(_server: &mut Server, call: &mut Call<'_>) {
    // Redis reads it with `getIntFromObjectOrReply`: a strict integer that fits an `int`.
    match parse_redis_int(call.arg(1)).map(i32::try_from) {
        None => call.out.error(NOT_AN_INTEGER),
        Some(Err(_)) => call.out.error("ERR value is out of range, value must between -2147483648 and 2147483647"),
        Some(Ok(index)) if (0..DATABASES as i32).contains(&index) => {
            call.session.db = index as usize;
            call.out.ok();
        }
        Some(Ok(_)) => call.out.error("ERR DB index is out of range"),
    }
}

/// `QUIT`: `+OK`, then the connection closes once that is written.
pub fn quit(_server: &mut Server, call: &mut Call<'_>) {
    call.out.ok();
    call.out.flush();
    call.out.cx.close(call.out.id);
}

/// `HELLO [protover [SETNAME name]]`: the server's description, in RESP2.
/// RESP3 is not spoken: `HELLO 3` is refused as Redis refuses a version
/// it does not know, `-NOPROTO`, and a client then stays on RESP2.
pub fn hello(server: &mut Server, call: &mut Call<'_>) {
    if let Some(version) = call.args.get(1) {
        match parse_redis_int(version) {
            Some(2) => {}
            Some(_) => return call.out.error("NOPROTO unsupported protocol version"),
            None => return call.out.error("ERR Protocol version is not an integer or out of range"),
        }
    }
    let mut at = 2;
    while at < call.args.len() {
        let has_next = at + 1 < call.args.len();
        if call.arg(at).eq_ignore_ascii_case(b"setname") && has_next {
            if !set_name(server, call, at + 1) {
                return;
            }
            at += 2;
        } else {
            let option = String::from_utf8_lossy(call.arg(at)).into_owned();
            return call.out.error(&format!("ERR Syntax error in HELLO option '{option}'"));
        }
    }
    call.out.array(14);
    for (field, value) in [("server", "redis"), ("version", crate::info::REDIS_VERSION)] {
        call.out.bulk(field.as_bytes());
        call.out.bulk(value.as_bytes());
    }
    call.out.bulk(b"proto");
    call.out.int(2);
    call.out.bulk(b"id");
    call.out.int(call.session.client_id as i64);
    for (field, value) in [("mode", "standalone"), ("role", "master")] {
        call.out.bulk(field.as_bytes());
        call.out.bulk(value.as_bytes());
    }
    call.out.bulk(b"modules");
    call.out.array(0);
}

const CLIENT: &[Subcommand] = &[
    ("id", 2, client_id),
    ("setname", 3, client_setname),
    ("getname", 2, client_getname),
    ("setinfo", 4, client_setinfo),
    ("list", -2, client_list),
    ("info", 2, client_info),
];

/// `CLIENT subcommand ...`.
pub fn client(server: &mut Server, call: &mut Call<'_>) {
    run_subcommand(server, call, "client", CLIENT);
}

fn client_id(_server: &mut Server, call: &mut Call<'_>) {
    call.out.int(call.session.client_id as i64);
}

/// Sets the client's name from argument `at`; `false` (and the error
/// replied) for a name with blanks or special characters.
fn set_name(server: &mut Server, call: &mut Call<'_>, at: usize) -> bool {
    let name = call.arg(at);
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        call.out.error("ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    let name = (!name.is_empty()).then(|| name.to_vec());
    if let Some(info) = server.clients.get_mut(call.session.slot) {
        info.name.clone_from(&name);
    }
    call.session.name = name;
    true
}

fn client_setname(server: &mut Server, call: &mut Call<'_>) {
    if set_name(server, call, 2) {
        call.out.ok();
    }
}

fn client_getname(_server: &mut Server, call: &mut Call<'_>) {
    let name = call.session.name.as_deref();
    call.out.bulk_or_nil(name);
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value` (Redis 7.2), which client
/// libraries send on connect: accepted and not kept.
fn client_setinfo(_server: &mut Server, call: &mut Call<'_>) {
    let attribute = call.arg(2);
    if attribute.eq_ignore_ascii_case(b"lib-name") || attribute.eq_ignore_ascii_case(b"lib-ver") {
        call.out.ok();
    } else {
        let attribute = String::from_utf8_lossy(attribute).into_owned();
        call.out.error(&format!("ERR Unrecognized option '{attribute}'"));
    }
}

/// `CLIENT LIST [TYPE normal|pubsub]`: one line per client, Redis 7's
/// fields in Redis 7's order.
fn client_list(server: &mut Server, call: &mut Call<'_>) {
    let kind = match &call.args[2..] {
        [] => None,
        [option, kind] if option.eq_ignore_ascii_case(b"type") => match kind.to_ascii_lowercase().as_slice() {
            b"normal" => Some(false),
            b"pubsub" => Some(true),
            b"master" | b"replica" | b"slave" => return call.out.bulk(b""),
            _ => {
                let kind = String::from_utf8_lossy(kind).into_owned();
                return call.out.error(&format!("ERR Unknown client type '{kind}'"));
            }
        },
        _ => return call.out.error(crate::reply::SYNTAX_ERROR),
    };
    sync_own_entry(server, call);
    let now = call.out.cx.now();
    let mut text = String::new();
    for (_, info) in &server.clients {
        if kind.is_none_or(|pubsub| pubsub == (info.sub + info.psub > 0)) {
            describe(&mut text, info, now, call.out.cx.queued_output(info.conn).unwrap_or(0));
        }
    }
    call.out.bulk(text.as_bytes());
}

/// `CLIENT INFO`: this client's line of `CLIENT LIST`.
fn client_info(server: &mut Server, call: &mut Call<'_>) {
    sync_own_entry(server, call);
    let now = call.out.cx.now();
    let mut text = String::new();
    if let Some(info) = server.clients.get(call.session.slot) {
        describe(&mut text, info, now, 0);
    }
    call.out.bulk(text.as_bytes());
}

/// The registry has this client as of its last read; bring it up to date.
fn sync_own_entry(server: &mut Server, call: &mut Call<'_>) {
    let now = call.out.cx.now();
    if let Some(info) = server.clients.get_mut(call.session.slot) {
        info.sync(call.session, now);
    }
}

/// One `CLIENT LIST` line. Fields kv has no counterpart for (the input
/// and argument buffers' sizes, a descriptor and local address kv does
/// not see) say 0 or nothing.
fn describe(text: &mut String, info: &ClientInfo, now: std::time::Instant, queued: usize) {
    let age = now.saturating_duration_since(info.created).as_secs();
    let idle = now.saturating_duration_since(info.last_interaction).as_secs();
    let flags = match (info.sub + info.psub > 0, info.multi >= 0) {
        (true, _) => "P",
        (false, true) => "x",
        (false, false) => "N",
    };
    // As Redis prints them: `ip:port`, or for a Unix-domain client the
    // socket's path (unknown for an accepted one) and port 0.
    let addr = match &info.addr {
        Some(PeerAddr::Tcp(addr)) => addr.to_string(),
        Some(PeerAddr::Unix(path)) => {
            format!("{}:0", path.as_deref().map(|p| p.display().to_string()).unwrap_or_default())
        }
        Some(_) | None => String::new(),
    };
    let name = info.name.as_deref().map(String::from_utf8_lossy).unwrap_or_default();
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "id={} addr={addr} laddr= fd=0 name={name} age={age} idle={idle} flags={flags} db={} sub={} psub={} \
         ssub=0 multi={} qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={queued} \
         tot-mem=0 events=r cmd={} user=default redir=-1 resp=2",
        info.id, info.db, info.sub, info.psub, info.multi, info.last_command,
    );
}
