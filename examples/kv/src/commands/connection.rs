//! Connection commands: PING, ECHO, SELECT, QUIT, CLIENT (ID, SETNAME,
//! GETNAME, SETINFO), HELLO.

use super::{run_subcommand, Call, Subcommand};
use crate::Server;

pub(super) fn ping(_server: &mut Server, call: &mut Call<'_>) {
    if call.args.len() > 2 {
        return call.wrong_arity("ping");
    }
    if call.session.is_subscriber() {
        // RESP2's subscribed mode: a reply that reads like a message.
        call.out.array(2);
        call.out.bulk(b"pong");
        call.out.bulk(call.args.get(1).map_or(&[][..], |arg| arg));
    } else if let Some(message) = call.args.get(1) {
        call.out.bulk(message);
    } else {
        call.out.status("PONG");
    }
}

pub(super) fn echo(_server: &mut Server, call: &mut Call<'_>) {
    call.out.bulk(&call.args[1]);
}

/// One database, as a Redis with `databases 1`: `SELECT 0` and nothing else.
pub(super) fn select(_server: &mut Server, call: &mut Call<'_>) {
    // Redis reads it with `getIntFromObjectOrReply`: a strict integer that fits an `int`.
    match evloop::codec::parse_redis_int(call.arg(1)).map(i32::try_from) {
        None => call.out.error(crate::reply::NOT_AN_INTEGER),
        Some(Err(_)) => call.out.error("ERR value is out of range, value must between -2147483648 and 2147483647"),
        Some(Ok(0)) => call.out.ok(),
        Some(Ok(_)) => call.out.error("ERR DB index is out of range"),
    }
}

/// `+OK`, then the connection closes once that is written.
pub(super) fn quit(_server: &mut Server, call: &mut Call<'_>) {
    call.out.ok();
    call.out.flush();
    call.out.cx.close(call.out.id);
}

const CLIENT: &[Subcommand] = &[
    ("id", 2, client_id),
    ("setname", 3, client_setname),
    ("getname", 2, client_getname),
    ("setinfo", 4, client_setinfo),
];

pub(super) fn client(server: &mut Server, call: &mut Call<'_>) {
    run_subcommand(server, call, "client", CLIENT);
}

fn client_id(_server: &mut Server, call: &mut Call<'_>) {
    call.out.int(call.session.client_id as i64);
}

fn client_setname(_server: &mut Server, call: &mut Call<'_>) {
    let name = call.arg(2);
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return call.out.error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    call.session.name = (!name.is_empty()).then(|| name.to_vec());
    call.out.ok();
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

/// `HELLO [2]`: the server's description, in RESP2. RESP3 is not spoken.
pub(super) fn hello(_server: &mut Server, call: &mut Call<'_>) {
    if let Some(version) = call.args.get(1) {
        match evloop::codec::parse_redis_int(version) {
            Some(2) => {}
            Some(_) => return call.out.error("NOPROTO unsupported protocol version"),
            None => return call.out.error("ERR Protocol version is not an integer or out of range"),
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
