//! Keyspace commands: DEL, EXISTS, EXPIRE, PEXPIRE (NX, XX, GT, LT),
//! PERSIST, TTL, PTTL, DBSIZE, FLUSHALL, KEYS.

use super::Call;
use crate::reply::SYNTAX_ERROR;
use crate::{glob, Server};

pub(super) fn del(server: &mut Server, call: &mut Call<'_>) {
    let removed = call.args[1..].iter().filter(|key| server.store.remove(key, call.now).is_some()).count();
    call.out.int(removed as i64);
}

pub(super) fn exists(server: &mut Server, call: &mut Call<'_>) {
    // A key named twice counts twice, as in Redis.
    let found = call.args[1..].iter().filter(|key| server.store.contains(key, call.now)).count();
    call.out.int(found as i64);
}

pub(super) fn expire(server: &mut Server, call: &mut Call<'_>) {
    set_expire(server, call, 1000, "expire");
}

pub(super) fn pexpire(server: &mut Server, call: &mut Call<'_>) {
    set_expire(server, call, 1, "pexpire");
}

/// Redis's `expireGenericCommand`: options, then the time (any integer; a
/// past one deletes the key), then the conditions.
fn set_expire(server: &mut Server, call: &mut Call<'_>, unit: i64, command: &str) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in &call.args[3..] {
        match option.to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => return call.out.error(&format!("ERR Unsupported option {}", String::from_utf8_lossy(option))),
        }
    }
    if nx && (xx || gt || lt) {
        return call.out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return call.out.error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(amount) = call.int_arg(2) else { return };
    let at = if unit == 1000 && !(i64::MIN / 1000..=i64::MAX / 1000).contains(&amount) {
        None
    } else {
        (amount * unit).checked_add(call.now)
    };
    let Some(at) = at else {
        return call.out.error(&format!("ERR invalid expire time in '{command}' command"));
    };
    let key = &call.args[1];
    let Some(current) = server.store.deadline(key, call.now) else { return call.out.int(0) };
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.map_or(true, |current| at <= current))
        || (lt && current.is_some_and(|current| at >= current));
    if refused {
        return call.out.int(0);
    }
    server.store.set_deadline(key, at, call.now);
    call.out.int(1);
}

pub(super) fn persist(server: &mut Server, call: &mut Call<'_>) {
    let key = &call.args[1];
    let persisted = server.store.contains(key, call.now) && server.store.persist(key);
    call.out.int(i64::from(persisted));
}

pub(super) fn ttl(server: &mut Server, call: &mut Call<'_>) {
    time_to_live(server, call, false);
}

pub(super) fn pttl(server: &mut Server, call: &mut Call<'_>) {
    time_to_live(server, call, true);
}

/// -2 for a missing key, -1 for one without a deadline, else the time
/// left (seconds rounded to nearest, as Redis rounds them).
fn time_to_live(server: &mut Server, call: &mut Call<'_>, millis: bool) {
    let reply = match server.store.deadline(&call.args[1], call.now) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let left = (at - call.now).max(0);
            if millis {
                left
            } else {
                (left + 500) / 1000
            }
        }
    };
    call.out.int(reply);
}

pub(super) fn dbsize(server: &mut Server, call: &mut Call<'_>) {
    call.out.int(server.store.len() as i64);
}

pub(super) fn flushall(server: &mut Server, call: &mut Call<'_>) {
    match &call.args[1..] {
        [] => {}
        [mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {}
        _ => return call.out.error(SYNTAX_ERROR),
    }
    server.store.clear();
    call.out.ok();
}

pub(super) fn keys(server: &mut Server, call: &mut Call<'_>) {
    let pattern = call.arg(1);
    let all = pattern == b"*";
    let matching: Vec<&[u8]> = server
        .store
        .live_keys(call.now)
        .map(|key| key.as_slice())
        .filter(|key| all || glob::matches(pattern, key))
        .collect();
    call.out.array(matching.len());
    for key in matching {
        call.out.bulk(key);
    }
}
