//! Keyspace commands: DEL, UNLINK, EXISTS, TYPE, EXPIRE, PEXPIRE,
//! EXPIREAT, PEXPIREAT (NX, XX, GT, LT), PERSIST, TTL, PTTL, SCAN, KEYS,
//! DBSIZE, FLUSHDB, FLUSHALL.

use super::flags::{R, RS, WD, WS};
use super::{keyed, spec, Call, Spec, KEY1};
use crate::reply::SYNTAX_ERROR;
use crate::{glob, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    keyed(spec("del", -2, WS, del), (1, -1, 1)),
    keyed(spec("unlink", -2, WD, del), (1, -1, 1)),
    keyed(spec("exists", -2, R, exists), (1, -1, 1)),
    keyed(spec("type", 2, R, type_), KEY1),
    keyed(spec("expire", -3, WD, expire), KEY1),
    keyed(spec("pexpire", -3, WD, pexpire), KEY1),
    keyed(spec("expireat", -3, WD, expireat), KEY1),
    keyed(spec("pexpireat", -3, WD, pexpireat), KEY1),
    keyed(spec("persist", 2, WD, persist), KEY1),
    keyed(spec("ttl", 2, R, ttl), KEY1),
    keyed(spec("pttl", 2, R, pttl), KEY1),
    spec("scan", -2, RS, scan),
    spec("keys", 2, RS, keys),
    spec("dbsize", 1, R, dbsize),
    spec("flushdb", -1, WS, flushdb),
    spec("flushall", -1, WS, flushall),
];

/// `DEL key...` and `UNLINK key...`: how many existed. Freeing is done at
/// once either way (Redis frees a large value of UNLINK in a thread).
pub fn del(server: &mut Server, call: &mut Call<'_>) {
    let store = &mut server.dbs[call.session.db];
    let removed = call.args[1..].iter().filter(|key| store.remove(key, call.now).is_some()).count();
    call.out.int(removed as i64);
}

/// `EXISTS key...`: a key named twice counts twice, as in Redis.
pub fn exists(server: &mut Server, call: &mut Call<'_>) {
    let store = &mut server.dbs[call.session.db];
    let found = call.args[1..].iter().filter(|key| store.contains(key, call.now)).count();
    call.out.int(found as i64);
}

/// `TYPE key`: `string`, `list`, `hash`, `set`, `zset` or `none`.
pub fn type_(server: &mut Server, call: &mut Call<'_>) {
    let name = call.db(server).get_mut(&call.args[1], call.now).map_or("none", |value| value.type_name());
    call.out.status(name);
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`.
pub fn expire(server: &mut Server, call: &mut Call<'_>) {
    set_expire(server, call, 1000, false, "expire");
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`.
pub fn pexpire(server: &mut Server, call: &mut Call<'_>) {
    set_expire(server, call, 1, false, "pexpire");
}

/// `EXPIREAT key unix-seconds [NX | XX | GT | LT]`.
pub fn expireat(server: &mut Server, call: &mut Call<'_>) {
    set_expire(server, call, 1000, true, "expireat");
}

/// `PEXPIREAT key unix-milliseconds [NX | XX | GT | LT]`.
pub fn pexpireat(server: &mut Server, call: &mut Call<'_>) {
    set_expire(server, call, 1, true, "pexpireat");
}

/// Redis's `expireGenericCommand`: options, then the time (any integer; a
/// past one deletes the key), then the conditions.
fn set_expire(server: &mut Server, call: &mut Call<'_>, unit: i64, absolute: bool, command: &str) {
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
    let base = if absolute { 0 } else { call.now };
    let at = if unit == 1000 && !(i64::MIN / 1000..=i64::MAX / 1000).contains(&amount) {
        None
    } else {
        (amount * unit).checked_add(base)
    };
    let Some(at) = at else {
        return call.out.error(&format!("ERR invalid expire time in '{command}' command"));
    };
    let args = call.args;
    let key = &args[1];
    let store = call.db(server);
    let Some(current) = store.deadline(key, call.now) else { return call.out.int(0) };
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|current| at <= current))
        || (lt && current.is_some_and(|current| at >= current));
    if refused {
        return call.out.int(0);
    }
    store.set_deadline(key, at, call.now);
    call.out.int(1);
}

/// `PERSIST key`: whether a deadline was dropped.
pub fn persist(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let store = call.db(server);
    let persisted = store.contains(&args[1], call.now) && store.persist(&args[1]);
    call.out.int(i64::from(persisted));
}

/// `TTL key`.
pub fn ttl(server: &mut Server, call: &mut Call<'_>) {
    time_to_live(server, call, false);
}

/// `PTTL key`.
pub fn pttl(server: &mut Server, call: &mut Call<'_>) {
    time_to_live(server, call, true);
}

/// -2 for a missing key, -1 for one without a deadline, else the time
/// left (seconds rounded to nearest, as Redis rounds them).
fn time_to_live(server: &mut Server, call: &mut Call<'_>, millis: bool) {
    let reply = match call.db(server).deadline(&call.args[1], call.now) {
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

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
///
/// The cursor is a position in the database's dense key order, `COUNT`
/// positions visited per call (10 by default). As Redis's, a full
/// iteration returns every key present from start to end at least once
/// while no key is deleted meanwhile; a deletion moves the last key into
/// the freed position, so a scan under deletions may miss keys that were
/// there throughout (Redis's reverse-binary cursor does not).
pub fn scan(server: &mut Server, call: &mut Call<'_>) {
    let cursor = match std::str::from_utf8(call.arg(1)).ok().and_then(|c| c.parse::<u64>().ok()) {
        Some(cursor) => cursor as usize,
        None => return call.out.error("ERR invalid cursor"),
    };
    let (mut pattern, mut count, mut kind) = (None, 10usize, None);
    let args = call.args;
    let mut index = 2;
    while index < call.args.len() {
        let has_next = index + 1 < call.args.len();
        let option = call.arg(index).to_ascii_lowercase();
        match option.as_slice() {
            b"match" if has_next => pattern = Some(&args[index + 1][..]),
            b"count" if has_next => match call.int_arg(index + 1) {
                Some(n) if n >= 1 => count = n as usize,
                Some(_) => return call.out.error(SYNTAX_ERROR),
                None => return,
            },
            b"type" if has_next => kind = Some(call.arg(index + 1).to_ascii_lowercase()),
            _ => return call.out.error(SYNTAX_ERROR),
        }
        index += 2;
    }
    let store = &server.dbs[call.session.db];
    let end = cursor.saturating_add(count).min(store.len());
    let mut found = Vec::new();
    for at in cursor..end {
        let Some((key, value)) = store.get_index(at) else { break };
        let live = store.stored_deadline(key).is_none_or(|deadline| deadline > call.now);
        let matches = pattern.is_none_or(|p| p == b"*" || glob::matches(p, key));
        let of_kind = kind.as_deref().is_none_or(|k| k == value.type_name().as_bytes());
        if live && matches && of_kind {
            found.push(key.as_slice());
        }
    }
    let next = if end >= store.len() { 0 } else { end };
    call.out.array(2);
    call.out.bulk(next.to_string().as_bytes());
    call.out.array(found.len());
    for key in found {
        call.out.bulk(key);
    }
}

/// `KEYS pattern`: every live key that matches.
pub fn keys(server: &mut Server, call: &mut Call<'_>) {
    let pattern = call.arg(1);
    let all = pattern == b"*";
    let matching: Vec<&[u8]> = server.dbs[call.session.db]
        .live_keys(call.now)
        .map(|key| key.as_slice())
        .filter(|key| all || glob::matches(pattern, key))
        .collect();
    call.out.array(matching.len());
    for key in matching {
        call.out.bulk(key);
    }
}

/// `DBSIZE`.
pub fn dbsize(server: &mut Server, call: &mut Call<'_>) {
    call.out.int(call.db(server).len() as i64);
}

/// `FLUSHDB [ASYNC | SYNC]`: this database emptied.
pub fn flushdb(server: &mut Server, call: &mut Call<'_>) {
    if flush_mode_ok(call) {
        call.db(server).clear();
        call.out.ok();
    }
}

/// `FLUSHALL [ASYNC | SYNC]`: every database emptied.
pub fn flushall(server: &mut Server, call: &mut Call<'_>) {
    if flush_mode_ok(call) {
        server.dbs.iter_mut().for_each(|db| db.clear());
        call.out.ok();
    }
}

/// The optional `ASYNC`/`SYNC` of the flushes (freeing is done at once
/// either way), or a syntax error.
fn flush_mode_ok(call: &mut Call<'_>) -> bool {
    match &call.args[1..] {
        [] => true,
        [mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => true,
        _ => {
            call.out.error(SYNTAX_ERROR);
            false
        }
    }
}
