//! List commands: LPUSH, RPUSH, LPOP, RPOP (with a count), LLEN, LRANGE,
//! LINDEX, LSET, LREM, LTRIM.

use super::flags::{R, RS, WD, WF, WS};
use super::{clamp_range, keyed, spec, typed, Call, Spec, KEY1};
use crate::value::List;
use crate::{Bytes, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    keyed(spec("lpush", -3, WF, lpush), KEY1),
    keyed(spec("rpush", -3, WF, rpush), KEY1),
    keyed(spec("lpop", -2, WD, lpop), KEY1),
    keyed(spec("rpop", -2, WD, rpop), KEY1),
    keyed(spec("llen", 2, R, llen), KEY1),
    keyed(spec("lrange", 4, RS, lrange), KEY1),
    keyed(spec("lindex", 3, RS, lindex), KEY1),
    keyed(spec("lset", 4, &["write", "denyoom"], lset), KEY1),
    keyed(spec("lrem", 4, WS, lrem), KEY1),
    keyed(spec("ltrim", 4, WS, ltrim), KEY1),
];

/// Which end of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

/// `LPUSH key element...`: each element to the head in turn; the length.
pub fn lpush(server: &mut Server, call: &mut Call<'_>) {
    push(server, call, End::Head);
}

/// `RPUSH key element...`: each element to the tail in turn; the length.
pub fn rpush(server: &mut Server, call: &mut Call<'_>) {
    push(server, call, End::Tail);
}

fn push(server: &mut Server, call: &mut Call<'_>, end: End) {
    let args = call.args;
    let found = call.db(server).write_or_create::<List>(&args[1], call.now);
    let Some(list) = typed(call, found) else { return };
    for element in &args[2..] {
        let element = Bytes::from(&element[..]);
        match end {
            End::Head => list.push_front(element),
            End::Tail => list.push_back(element),
        }
    }
    call.out.int(list.len() as i64);
}

/// `LPOP key [count]`.
pub fn lpop(server: &mut Server, call: &mut Call<'_>) {
    pop(server, call, End::Head);
}

/// `RPOP key [count]`.
pub fn rpop(server: &mut Server, call: &mut Call<'_>) {
    pop(server, call, End::Tail);
}

/// Without a count, the element or nil; with one, an array of up to that
/// many, or the nil array for a missing key. The key goes with its last
/// element.
fn pop(server: &mut Server, call: &mut Call<'_>, end: End) {
    let count = match call.args.len() {
        2 => None,
        3 => match evloop::codec::parse_redis_int(call.arg(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return call.out.error("ERR value is out of range, must be positive"),
        },
        _ => return call.wrong_arity(if end == End::Head { "lpop" } else { "rpop" }),
    };
    let args = call.args;
    let found = call.db(server).write::<List>(&args[1], call.now);
    let Some(list) = typed(call, found) else { return };
    let Some(list) = list else {
        return if count.is_some() { call.out.array_nil() } else { call.out.nil() };
    };
    let take = |list: &mut List| match end {
        End::Head => list.pop_front(),
        End::Tail => list.pop_back(),
    };
    match count {
        None => {
            let element = take(list);
            call.out.bulk_or_nil(element.as_deref());
        }
        Some(count) => {
            let count = count.min(list.len());
            call.out.array(count);
            for _ in 0..count {
                let element = take(list);
                call.out.bulk_or_nil(element.as_deref());
            }
        }
    }
    call.db(server).remove_if_empty(&args[1]);
}

/// `LLEN key`.
pub fn llen(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).read::<List>(&call.args[1], call.now).map(|l| l.map_or(0, |l| l.len()));
    if let Some(len) = typed(call, found) {
        call.out.int(len as i64);
    }
}

/// `LRANGE key start stop`: negative indices count from the end.
pub fn lrange(server: &mut Server, call: &mut Call<'_>) {
    let (Some(start), Some(stop)) = (call.int_arg(2), call.int_arg(3)) else { return };
    let found = call.db(server).read::<List>(&call.args[1], call.now);
    let Some(list) = typed(call, found) else { return };
    match list.and_then(|list| clamp_range(start, stop, list.len()).map(|range| (list, range))) {
        None => call.out.array(0),
        Some((list, (first, last))) => {
            call.out.array(last - first + 1);
            for element in list.range(first..=last) {
                call.out.bulk(element);
            }
        }
    }
}

/// The position `index` names in a list of `len`, negative from the end.
fn position(index: i64, len: usize) -> Option<usize> {
    let at = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&at).then_some(at as usize)
}

/// `LINDEX key index`: the element, nil past either end.
pub fn lindex(server: &mut Server, call: &mut Call<'_>) {
    let Some(index) = call.int_arg(2) else { return };
    let found = call.db(server).read::<List>(&call.args[1], call.now);
    let Some(list) = typed(call, found) else { return };
    let element = list.and_then(|list| position(index, list.len()).map(|at| &list[at]));
    call.out.bulk_or_nil(element.map(|e| e.as_slice()));
}

/// `LSET key index element`.
pub fn lset(server: &mut Server, call: &mut Call<'_>) {
    let Some(index) = call.int_arg(2) else { return };
    let args = call.args;
    let found = call.db(server).write::<List>(&args[1], call.now);
    let Some(list) = typed(call, found) else { return };
    let Some(list) = list else { return call.out.error("ERR no such key") };
    match position(index, list.len()) {
        Some(at) => {
            list[at] = Bytes::from(&args[3][..]);
            call.out.ok();
        }
        None => call.out.error("ERR index out of range"),
    }
}

/// `LREM key count element`: removes up to `count` occurrences from the
/// head (from the tail if negative, all if 0); how many went.
pub fn lrem(server: &mut Server, call: &mut Call<'_>) {
    let Some(count) = call.int_arg(2) else { return };
    let args = call.args;
    let found = call.db(server).write::<List>(&args[1], call.now);
    let Some(list) = typed(call, found) else { return };
    let Some(list) = list else { return call.out.int(0) };
    let target = &args[3][..];
    let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
    let mut removed = 0;
    if count >= 0 {
        list.retain(|element| {
            let drop = removed < limit && element.as_slice() == target;
            removed += usize::from(drop);
            !drop
        });
    } else {
        // From the tail: mark the last `limit` matches, then keep the rest.
        let mut doomed = Vec::new();
        for (at, element) in list.iter().enumerate().rev() {
            if doomed.len() == limit {
                break;
            }
            if element.as_slice() == target {
                doomed.push(at);
            }
        }
        removed = doomed.len();
        doomed.reverse(); // ascending, walked once beside the list
        let (mut at, mut next) = (0, 0);
        list.retain(|_| {
            let drop = doomed.get(next) == Some(&at);
            next += usize::from(drop);
            at += 1;
            !drop
        });
    }
    call.db(server).remove_if_empty(&args[1]);
    call.out.int(removed as i64);
}

/// `LTRIM key start stop`: keeps only that range.
pub fn ltrim(server: &mut Server, call: &mut Call<'_>) {
    let (Some(start), Some(stop)) = (call.int_arg(2), call.int_arg(3)) else { return };
    let args = call.args;
    let found = call.db(server).write::<List>(&args[1], call.now);
    let Some(list) = typed(call, found) else { return };
    if let Some(list) = list {
        match clamp_range(start, stop, list.len()) {
            Some((first, last)) => {
                list.truncate(last + 1);
                list.drain(..first);
            }
            None => list.clear(),
        }
        if list.capacity() > 2 * list.len() + 64 {
            list.shrink_to_fit();
        }
    }
    call.db(server).remove_if_empty(&args[1]);
    call.out.ok();
}
