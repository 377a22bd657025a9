//! Hash commands: HSET, HMSET, HSETNX, HGET, HMGET, HDEL, HEXISTS, HLEN,
//! HGETALL, HKEYS, HVALS, HINCRBY, HINCRBYFLOAT.

use evloop::codec::parse_redis_int;

use super::flags::{R, RS, W, WF};
use super::strings::parse_float;
use super::{keyed, spec, typed, Call, Spec, KEY1};
use crate::reply::decimal;
use crate::value::{format_float, Hash};
use crate::{Bytes, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    keyed(spec("hset", -4, WF, hset), KEY1),
    keyed(spec("hmset", -4, WF, hmset), KEY1),
    keyed(spec("hsetnx", 4, WF, hsetnx), KEY1),
    keyed(spec("hget", 3, R, hget), KEY1),
    keyed(spec("hmget", -3, R, hmget), KEY1),
    keyed(spec("hdel", -3, &["write", "fast"], hdel), KEY1),
    keyed(spec("hexists", 3, R, hexists), KEY1),
    keyed(spec("hlen", 2, R, hlen), KEY1),
    keyed(spec("hgetall", 2, RS, hgetall), KEY1),
    keyed(spec("hkeys", 2, RS, hkeys), KEY1),
    keyed(spec("hvals", 2, RS, hvals), KEY1),
    keyed(spec("hincrby", 4, WF, hincrby), KEY1),
    keyed(spec("hincrbyfloat", 4, W, hincrbyfloat), KEY1),
];

/// Up to this many fields a deletion keeps the others in insertion order,
/// as Redis's listpack encoding of small hashes does (`hash-max-listpack-entries`).
const ORDERED_FIELDS: usize = 128;

/// Removes `field`, keeping the order of a small hash.
fn remove_field(hash: &mut Hash, field: &[u8]) -> bool {
    if hash.len() <= ORDERED_FIELDS {
        hash.shift_remove(field).is_some()
    } else {
        hash.swap_remove(field).is_some()
    }
}

/// `HSET key field value [field value ...]`: how many fields were new.
pub fn hset(server: &mut Server, call: &mut Call<'_>) {
    if let Some(added) = set_pairs(server, call, "hset") {
        call.out.int(added as i64);
    }
}

/// `HMSET key field value [field value ...]`: `+OK`.
pub fn hmset(server: &mut Server, call: &mut Call<'_>) {
    if set_pairs(server, call, "hmset").is_some() {
        call.out.ok();
    }
}

fn set_pairs(server: &mut Server, call: &mut Call<'_>, name: &str) -> Option<usize> {
    if !call.args.len().is_multiple_of(2) {
        call.wrong_arity(name);
        return None;
    }
    let args = call.args;
    let found = call.db(server).write_or_create::<Hash>(&args[1], call.now);
    let hash = typed(call, found)?;
    let mut added = 0;
    for pair in args[2..].chunks_exact(2) {
        match hash.get_mut(&pair[0][..]) {
            Some(value) => *value = Bytes::from(&pair[1][..]),
            None => {
                hash.insert(Bytes::from(&pair[0][..]), Bytes::from(&pair[1][..]));
                added += 1;
            }
        }
    }
    Some(added)
}

/// `HSETNX key field value`: 1 if the field was new and set, else 0.
pub fn hsetnx(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).write_or_create::<Hash>(&args[1], call.now);
    let Some(hash) = typed(call, found) else { return };
    let new = !hash.contains_key(&args[2][..]);
    if new {
        hash.insert(Bytes::from(&args[2][..]), Bytes::from(&args[3][..]));
    }
    call.out.int(i64::from(new));
}

/// `HGET key field`.
pub fn hget(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).read::<Hash>(&args[1], call.now);
    if let Some(hash) = typed(call, found) {
        let value = hash.and_then(|hash| hash.get(&args[2][..]));
        call.out.bulk_or_nil(value.map(|v| v.as_slice()));
    }
}

/// `HMGET key field...`: the values, nil for each missing field.
pub fn hmget(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).read::<Hash>(&args[1], call.now);
    let Some(hash) = typed(call, found) else { return };
    call.out.array(args.len() - 2);
    for field in &args[2..] {
        let value = hash.and_then(|hash| hash.get(&field[..]));
        call.out.bulk_or_nil(value.map(|v| v.as_slice()));
    }
}

/// `HDEL key field...`: how many were removed; the key goes with its last field.
pub fn hdel(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).write::<Hash>(&args[1], call.now);
    let Some(hash) = typed(call, found) else { return };
    let removed = hash.map_or(0, |hash| args[2..].iter().filter(|field| remove_field(hash, field)).count());
    call.db(server).remove_if_empty(&args[1]);
    call.out.int(removed as i64);
}

/// `HEXISTS key field`.
pub fn hexists(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).read::<Hash>(&args[1], call.now);
    if let Some(hash) = typed(call, found) {
        call.out.int(i64::from(hash.is_some_and(|hash| hash.contains_key(&args[2][..]))));
    }
}

/// `HLEN key`.
pub fn hlen(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).read::<Hash>(&call.args[1], call.now).map(|h| h.map_or(0, |h| h.len()));
    if let Some(len) = typed(call, found) {
        call.out.int(len as i64);
    }
}

/// What of each field and value a whole-hash read replies.
#[derive(Debug, Clone, Copy)]
enum Part {
    Fields,
    Values,
    Both,
}

/// `HGETALL key`: fields and values, alternating.
pub fn hgetall(server: &mut Server, call: &mut Call<'_>) {
    whole(server, call, Part::Both);
}

/// `HKEYS key`.
pub fn hkeys(server: &mut Server, call: &mut Call<'_>) {
    whole(server, call, Part::Fields);
}

/// `HVALS key`.
pub fn hvals(server: &mut Server, call: &mut Call<'_>) {
    whole(server, call, Part::Values);
}

fn whole(server: &mut Server, call: &mut Call<'_>, part: Part) {
    let found = call.db(server).read::<Hash>(&call.args[1], call.now);
    let Some(hash) = typed(call, found) else { return };
    let Some(hash) = hash else { return call.out.array(0) };
    let per_field = if matches!(part, Part::Both) { 2 } else { 1 };
    call.out.array(hash.len() * per_field);
    for (field, value) in hash {
        if !matches!(part, Part::Values) {
            call.out.bulk(field);
        }
        if !matches!(part, Part::Fields) {
            call.out.bulk(value);
        }
    }
}

/// `HINCRBY key field increment`: the new value.
pub fn hincrby(server: &mut Server, call: &mut Call<'_>) {
    let Some(by) = call.int_arg(3) else { return };
    let args = call.args;
    let found = call.db(server).write_or_create::<Hash>(&args[1], call.now);
    let Some(hash) = typed(call, found) else { return };
    let current = match hash.get(&args[2][..]) {
        None => 0,
        Some(value) => match parse_redis_int(value) {
            Some(n) => n,
            None => return call.out.error("ERR hash value is not an integer"),
        },
    };
    let Some(sum) = current.checked_add(by) else {
        return call.out.error("ERR increment or decrement would overflow");
    };
    hash.insert(Bytes::from(&args[2][..]), Bytes::from(decimal(sum, &mut [0; 20])));
    call.out.int(sum);
}

/// `HINCRBYFLOAT key field increment`: the new value, as a bulk string.
pub fn hincrbyfloat(server: &mut Server, call: &mut Call<'_>) {
    let Some(by) = parse_float(call.arg(3)) else { return call.out.error("ERR value is not a valid float") };
    let args = call.args;
    let found = call.db(server).write_or_create::<Hash>(&args[1], call.now);
    let Some(hash) = typed(call, found) else { return };
    let current = match hash.get(&args[2][..]) {
        None => 0.0,
        Some(value) => match parse_float(value) {
            Some(n) => n,
            None => return call.out.error("ERR hash value is not a float"),
        },
    };
    let sum = current + by;
    if !sum.is_finite() {
        return call.out.error("ERR increment would produce NaN or Infinity");
    }
    let text = format_float(sum);
    hash.insert(Bytes::from(&args[2][..]), Bytes::from(text.as_bytes()));
    call.out.bulk(text.as_bytes());
}
