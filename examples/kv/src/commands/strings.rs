//! String commands: GET, SET (EX, PX, NX, XX, GET, KEEPTTL), GETDEL,
//! INCR, DECR, INCRBY, DECRBY, APPEND, STRLEN, MGET, MSET.

use evloop::codec::parse_redis_int;

use super::Call;
use crate::reply::{decimal, NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::store::Ttl;
use crate::{Bytes, Server};

pub(super) fn get(server: &mut Server, call: &mut Call<'_>) {
    let value = server.store.get(&call.args[1], call.now);
    call.out.bulk_or_nil(value.map(|v| v.as_slice()));
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | KEEPTTL]`,
/// its options parsed as Redis's `parseExtendedStringArgumentsOrReply`
/// parses them: a conflicting or unknown option is a syntax error before
/// any expire time is read.
pub(super) fn set(server: &mut Server, call: &mut Call<'_>) {
    #[derive(PartialEq)]
    enum Condition {
        Always,
        IfMissing,
        IfExists,
    }
    let mut condition = Condition::Always;
    let mut reply_old = false;
    let mut keep_ttl = false;
    // The expire argument and its unit in milliseconds.
    let mut expire: Option<(usize, i64)> = None;
    let mut index = 3;
    while index < call.args.len() {
        let option = call.arg(index).to_ascii_uppercase();
        let has_next = index + 1 < call.args.len();
        match option.as_slice() {
            b"NX" if condition != Condition::IfExists => condition = Condition::IfMissing,
            b"XX" if condition != Condition::IfMissing => condition = Condition::IfExists,
            b"GET" => reply_old = true,
            b"KEEPTTL" if expire.is_none() => keep_ttl = true,
            b"EX" if !keep_ttl && expire.is_none_or_unit(1000) && has_next => {
                expire = Some((index + 1, 1000));
                index += 1;
            }
            b"PX" if !keep_ttl && expire.is_none_or_unit(1) && has_next => {
                expire = Some((index + 1, 1));
                index += 1;
            }
            _ => return call.out.error(SYNTAX_ERROR),
        }
        index += 1;
    }
    let ttl = match expire {
        None if keep_ttl => Ttl::Keep,
        None => Ttl::Clear,
        Some((at, unit)) => match deadline(call, at, unit, "set") {
            Some(deadline) => Ttl::At(deadline),
            None => return,
        },
    };
    let key = &call.args[1];
    let exists = if reply_old {
        let old = server.store.get(key, call.now);
        call.out.bulk_or_nil(old.map(|v| v.as_slice()));
        old.is_some()
    } else {
        server.store.contains(key, call.now)
    };
    let blocked = match condition {
        Condition::Always => false,
        Condition::IfMissing => exists,
        Condition::IfExists => !exists,
    };
    if blocked {
        if !reply_old {
            call.out.nil();
        }
        return;
    }
    server.store.set(key, Bytes::from(&call.args[2][..]), ttl);
    if !reply_old {
        call.out.ok();
    }
}

/// Helper for SET's option rules: EX may repeat (the last wins) but not
/// follow PX, and the other way round.
trait ExpireOption {
    fn is_none_or_unit(&self, unit: i64) -> bool;
}

impl ExpireOption for Option<(usize, i64)> {
    fn is_none_or_unit(&self, unit: i64) -> bool {
        self.is_none_or(|(_, u)| u == unit)
    }
}

/// The deadline `SET`'s `EX`/`PX` argument at `index` names, in `unit`
/// milliseconds from now, or the error Redis replies and `None`.
fn deadline(call: &mut Call<'_>, index: usize, unit: i64, command: &str) -> Option<i64> {
    let amount = call.int_arg(index)?;
    let invalid = amount <= 0 || (unit == 1000 && amount > i64::MAX / 1000);
    let at = (!invalid).then(|| amount * unit).and_then(|ms| ms.checked_add(call.now));
    if at.is_none() {
        call.out.error(&format!("ERR invalid expire time in '{command}' command"));
    }
    at
}

pub(super) fn getdel(server: &mut Server, call: &mut Call<'_>) {
    let value = server.store.remove(&call.args[1], call.now);
    call.out.bulk_or_nil(value.as_deref());
}

pub(super) fn incr(server: &mut Server, call: &mut Call<'_>) {
    add(server, call, 1);
}

pub(super) fn decr(server: &mut Server, call: &mut Call<'_>) {
    add(server, call, -1);
}

pub(super) fn incrby(server: &mut Server, call: &mut Call<'_>) {
    if let Some(by) = call.int_arg(2) {
        add(server, call, by);
    }
}

pub(super) fn decrby(server: &mut Server, call: &mut Call<'_>) {
    match call.int_arg(2) {
        Some(i64::MIN) => call.out.error("ERR decrement would overflow"),
        Some(by) => add(server, call, -by),
        None => {}
    }
}

/// Adds `by` to the integer at the key (0 if missing), keeping its TTL.
fn add(server: &mut Server, call: &mut Call<'_>, by: i64) {
    let key = &call.args[1];
    let current = match server.store.get(key, call.now) {
        None => 0,
        Some(value) => match parse_redis_int(value) {
            Some(n) => n,
            None => return call.out.error(NOT_AN_INTEGER),
        },
    };
    let Some(sum) = current.checked_add(by) else {
        return call.out.error("ERR increment or decrement would overflow");
    };
    server.store.set(key, Bytes::from(decimal(sum, &mut [0; 20])), Ttl::Keep);
    call.out.int(sum);
}

pub(super) fn append(server: &mut Server, call: &mut Call<'_>) {
    let key = &call.args[1];
    let tail = &call.args[2];
    let old = server.store.get(key, call.now).map_or(&[][..], |v| v.as_slice());
    let len = old.len() + tail.len();
    if len > server.settings.proto_max_bulk_len {
        return call.out.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    }
    let mut joined = Vec::with_capacity(len);
    joined.extend_from_slice(old);
    joined.extend_from_slice(tail);
    server.store.set(key, Bytes::from(joined), Ttl::Keep);
    call.out.int(len as i64);
}

pub(super) fn strlen(server: &mut Server, call: &mut Call<'_>) {
    let len = server.store.get(&call.args[1], call.now).map_or(0, |v| v.len());
    call.out.int(len as i64);
}

pub(super) fn mget(server: &mut Server, call: &mut Call<'_>) {
    call.out.array(call.args.len() - 1);
    for key in &call.args[1..] {
        let value = server.store.get(key, call.now);
        call.out.bulk_or_nil(value.map(|v| v.as_slice()));
    }
}

pub(super) fn mset(server: &mut Server, call: &mut Call<'_>) {
    if call.args.len().is_multiple_of(2) {
        return call.wrong_arity("mset");
    }
    for pair in call.args[1..].chunks_exact(2) {
        server.store.set(&pair[0], Bytes::from(&pair[1][..]), Ttl::Clear);
    }
    call.out.ok();
}
