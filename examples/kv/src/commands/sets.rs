//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP.

use evloop::codec::parse_redis_int;

use super::flags::{R, RS, WD, WF};
use super::{keyed, spec, typed, Call, Spec, KEY1};
use crate::value::Set;
use crate::{Bytes, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    keyed(spec("sadd", -3, WF, sadd), KEY1),
    keyed(spec("srem", -3, WD, srem), KEY1),
    keyed(spec("smembers", 2, RS, smembers), KEY1),
    keyed(spec("sismember", 3, R, sismember), KEY1),
    keyed(spec("smismember", -3, R, smismember), KEY1),
    keyed(spec("scard", 2, R, scard), KEY1),
    keyed(spec("spop", -2, WD, spop), KEY1),
];

/// Sets of at most this many integers Redis keeps as a sorted `intset`
/// (`set-max-intset-entries`), and so lists in numeric order.
const INTSET_ENTRIES: usize = 512;

/// `SADD key member...`: how many were new.
pub fn sadd(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).write_or_create::<Set>(&args[1], call.now);
    let Some(set) = typed(call, found) else { return };
    let added = args[2..].iter().filter(|member| set.insert(Bytes::from(&member[..]))).count();
    call.out.int(added as i64);
}

/// `SREM key member...`: how many were removed; the key goes with its last member.
pub fn srem(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).write::<Set>(&args[1], call.now);
    let Some(set) = typed(call, found) else { return };
    let removed = set.map_or(0, |set| args[2..].iter().filter(|member| set.swap_remove(&member[..])).count());
    call.db(server).remove_if_empty(&args[1]);
    call.out.int(removed as i64);
}

/// `SMEMBERS key`: every member; a small set of integers in numeric
/// order, as Redis's intset lists it, any other in no particular order.
pub fn smembers(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).read::<Set>(&call.args[1], call.now);
    let Some(set) = typed(call, found) else { return };
    let Some(set) = set else { return call.out.array(0) };
    call.out.array(set.len());
    let integers: Option<Vec<i64>> =
        (set.len() <= INTSET_ENTRIES).then(|| set.iter().map(|m| parse_redis_int(m)).collect()).flatten();
    match integers {
        Some(mut integers) => {
            integers.sort_unstable();
            for n in integers {
                call.out.bulk(n.to_string().as_bytes());
            }
        }
        None => {
            for member in set {
                call.out.bulk(member);
            }
        }
    }
}

/// `SISMEMBER key member`.
pub fn sismember(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).read::<Set>(&args[1], call.now);
    if let Some(set) = typed(call, found) {
        call.out.int(i64::from(set.is_some_and(|set| set.contains(&args[2][..]))));
    }
}

/// `SMISMEMBER key member...`: 1 or 0 for each.
pub fn smismember(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).read::<Set>(&args[1], call.now);
    let Some(set) = typed(call, found) else { return };
    call.out.array(args.len() - 2);
    for member in &args[2..] {
        call.out.int(i64::from(set.is_some_and(|set| set.contains(&member[..]))));
    }
}

/// `SCARD key`.
pub fn scard(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).read::<Set>(&call.args[1], call.now).map(|s| s.map_or(0, |s| s.len()));
    if let Some(len) = typed(call, found) {
        call.out.int(len as i64);
    }
}

/// `SPOP key [count]`: a random member removed, or an array of up to
/// `count` of them (empty for a missing key).
pub fn spop(server: &mut Server, call: &mut Call<'_>) {
    let count = match call.args.len() {
        2 => None,
        3 => match parse_redis_int(call.arg(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return call.out.error("ERR value is out of range, must be positive"),
        },
        _ => return call.out.error(crate::reply::SYNTAX_ERROR),
    };
    let args = call.args;
    let mut seed = server.random();
    let found = call.db(server).write::<Set>(&args[1], call.now);
    let Some(set) = typed(call, found) else { return };
    let Some(set) = set else {
        return if count.is_some() { call.out.array(0) } else { call.out.nil() };
    };
    let mut pop_one = |set: &mut Set| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = (seed % set.len() as u64) as usize;
        set.swap_remove_index(at)
    };
    match count {
        None => {
            let member = pop_one(set);
            call.out.bulk_or_nil(member.as_deref());
        }
        Some(count) => {
            let count = count.min(set.len());
            call.out.array(count);
            for _ in 0..count {
                let member = pop_one(set);
                call.out.bulk_or_nil(member.as_deref());
            }
        }
    }
    call.db(server).remove_if_empty(&args[1]);
}
