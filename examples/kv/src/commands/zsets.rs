//! Sorted set commands: ZADD (NX, XX, GT, LT, CH, INCR), ZREM, ZSCORE,
//! ZRANGE (BYSCORE, REV, LIMIT, WITHSCORES), ZREVRANGE, ZRANK, ZCARD,
//! ZINCRBY, ZPOPMIN, ZPOPMAX.

use evloop::codec::parse_redis_int;

use super::flags::{R, RS, WD, WF};
use super::{clamp_range, keyed, spec, typed, Call, Spec, KEY1};
use crate::reply::SYNTAX_ERROR;
use crate::value::{format_score, parse_score, ZSet};
use crate::{Bytes, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    keyed(spec("zadd", -4, WF, zadd), KEY1),
    keyed(spec("zrem", -3, WD, zrem), KEY1),
    keyed(spec("zscore", 3, R, zscore), KEY1),
    keyed(spec("zrange", -4, RS, zrange), KEY1),
    keyed(spec("zrevrange", -4, RS, zrevrange), KEY1),
    keyed(spec("zrank", 3, R, zrank), KEY1),
    keyed(spec("zcard", 2, R, zcard), KEY1),
    keyed(spec("zincrby", 4, WF, zincrby), KEY1),
    keyed(spec("zpopmin", -2, WD, zpopmin), KEY1),
    keyed(spec("zpopmax", -2, WD, zpopmax), KEY1),
];

const NOT_A_FLOAT: &str = "ERR value is not a valid float";

/// Replies a score as a bulk string, as Redis 7.0 prints it.
fn reply_score(call: &mut Call<'_>, score: f64) {
    call.out.bulk(format_score(score).as_bytes());
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`,
/// as Redis's `zaddGenericCommand`: options, their conflicts, every score,
/// then the key.
pub fn zadd(server: &mut Server, call: &mut Call<'_>) {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, false);
    let mut at = 2;
    while at < call.args.len() {
        match call.arg(at).to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            b"ch" => ch = true,
            b"incr" => incr = true,
            _ => break,
        }
        at += 1;
    }
    let elements = call.args.len() - at;
    if elements == 0 || !elements.is_multiple_of(2) {
        return call.out.error(SYNTAX_ERROR);
    }
    if nx && xx {
        return call.out.error("ERR XX and NX options at the same time are not compatible");
    }
    if ((gt || lt) && nx) || (gt && lt) {
        return call.out.error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && elements > 2 {
        return call.out.error("ERR INCR option supports a single increment-element pair");
    }
    let args = call.args;
    let mut pairs = Vec::with_capacity(elements / 2);
    for pair in args[at..].chunks_exact(2) {
        let Some(score) = parse_score(&pair[0]) else { return call.out.error(NOT_A_FLOAT) };
        pairs.push((score, &pair[1][..]));
    }
    let store = call.db(server);
    let zset = if xx {
        match store.write::<ZSet>(&args[1], call.now) {
            Ok(Some(zset)) => Some(zset),
            Ok(None) => None,
            Err(_) => return call.wrong_type(),
        }
    } else {
        match store.write_or_create::<ZSet>(&args[1], call.now) {
            Ok(zset) => Some(zset),
            Err(_) => return call.wrong_type(),
        }
    };
    let (mut added, mut updated, mut last_score) = (0, 0, None);
    if let Some(zset) = zset {
        for (score, member) in pairs {
            match zset.score(member) {
                Some(_) if nx => {}
                Some(current) => {
                    let score = if incr { current + score } else { score };
                    if score.is_nan() {
                        return call.out.error("ERR resulting score is not a number (NaN)");
                    }
                    if (gt && score <= current) || (lt && score >= current) {
                        continue;
                    }
                    if score != current {
                        zset.insert(member, score);
                        updated += 1;
                    }
                    last_score = Some(score);
                }
                None if xx => {}
                None => {
                    zset.insert(member, score);
                    added += 1;
                    last_score = Some(score);
                }
            }
        }
    }
    call.db(server).remove_if_empty(&args[1]);
    if incr {
        match last_score {
            Some(score) => reply_score(call, score),
            None => call.out.nil(),
        }
    } else {
        call.out.int(if ch { added + updated } else { added });
    }
}

/// `ZINCRBY key increment member`: the new score.
pub fn zincrby(server: &mut Server, call: &mut Call<'_>) {
    let Some(by) = parse_score(call.arg(2)) else { return call.out.error(NOT_A_FLOAT) };
    let args = call.args;
    let found = call.db(server).write_or_create::<ZSet>(&args[1], call.now);
    let Some(zset) = typed(call, found) else { return };
    let score = zset.score(&args[3]).unwrap_or(0.0) + by;
    if score.is_nan() {
        call.db(server).remove_if_empty(&args[1]);
        return call.out.error("ERR resulting score is not a number (NaN)");
    }
    zset.insert(&args[3], score);
    reply_score(call, score);
}

/// `ZREM key member...`: how many were removed; the key goes with its last member.
pub fn zrem(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).write::<ZSet>(&args[1], call.now);
    let Some(zset) = typed(call, found) else { return };
    let removed = zset.map_or(0, |zset| args[2..].iter().filter(|member| zset.remove(member)).count());
    call.db(server).remove_if_empty(&args[1]);
    call.out.int(removed as i64);
}

/// `ZSCORE key member`.
pub fn zscore(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).read::<ZSet>(&args[1], call.now);
    let Some(zset) = typed(call, found) else { return };
    match zset.and_then(|zset| zset.score(&args[2])) {
        Some(score) => reply_score(call, score),
        None => call.out.nil(),
    }
}

/// `ZRANK key member`: the 0-based rank by ascending score, or nil.
pub fn zrank(server: &mut Server, call: &mut Call<'_>) {
    let args = call.args;
    let found = call.db(server).read::<ZSet>(&args[1], call.now);
    let Some(zset) = typed(call, found) else { return };
    match zset.and_then(|zset| zset.rank(&args[2])) {
        Some(rank) => call.out.int(rank as i64),
        None => call.out.nil(),
    }
}

/// `ZCARD key`.
pub fn zcard(server: &mut Server, call: &mut Call<'_>) {
    let found = call.db(server).read::<ZSet>(&call.args[1], call.now).map(|z| z.map_or(0, |z| z.len()));
    if let Some(len) = typed(call, found) {
        call.out.int(len as i64);
    }
}

/// A score bound of `BYSCORE`: `1.5`, `(1.5` (exclusive), `-inf`, `+inf`.
fn parse_bound(text: &[u8]) -> Option<(f64, bool)> {
    match text.strip_prefix(b"(") {
        Some(rest) => parse_score(rest).map(|score| (score, true)),
        None => parse_score(text).map(|score| (score, false)),
    }
}

/// `ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES]`
/// (not BYLEX): by rank, or by score; REV from the highest, its bounds
/// then given highest first.
pub fn zrange(server: &mut Server, call: &mut Call<'_>) {
    let (mut by_score, mut rev, mut with_scores, mut limit) = (false, false, false, None);
    let mut at = 4;
    while at < call.args.len() {
        match call.arg(at).to_ascii_lowercase().as_slice() {
            b"byscore" => by_score = true,
            b"rev" => rev = true,
            b"withscores" => with_scores = true,
            b"limit" if at + 2 < call.args.len() => {
                let (Some(offset), Some(count)) = (call.int_arg(at + 1), call.int_arg(at + 2)) else { return };
                limit = Some((offset, count));
                at += 2;
            }
            _ => return call.out.error(SYNTAX_ERROR),
        }
        at += 1;
    }
    if limit.is_some() && !by_score {
        return call.out.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    }
    range(server, call, by_score, rev, with_scores, limit);
}

/// `ZREVRANGE key start stop [WITHSCORES]`.
pub fn zrevrange(server: &mut Server, call: &mut Call<'_>) {
    let with_scores = match &call.args[4..] {
        [] => false,
        [option] if option.eq_ignore_ascii_case(b"withscores") => true,
        _ => return call.out.error(SYNTAX_ERROR),
    };
    range(server, call, false, true, with_scores, None);
}

fn range(
    server: &mut Server,
    call: &mut Call<'_>,
    by_score: bool,
    rev: bool,
    with_scores: bool,
    limit: Option<(i64, i64)>,
) {
    enum Bounds {
        Ranks(i64, i64),
        Scores((f64, bool), (f64, bool)),
    }
    let bounds = if by_score {
        let (first, second) = (parse_bound(call.arg(2)), parse_bound(call.arg(3)));
        let (Some(first), Some(second)) = (first, second) else {
            return call.out.error("ERR min or max is not a float");
        };
        // REV gives the bounds highest first.
        if rev {
            Bounds::Scores(second, first)
        } else {
            Bounds::Scores(first, second)
        }
    } else {
        let (Some(start), Some(stop)) = (parse_redis_int(call.arg(2)), parse_redis_int(call.arg(3))) else {
            return call.out.error(crate::reply::NOT_AN_INTEGER);
        };
        Bounds::Ranks(start, stop)
    };
    let found = call.db(server).read::<ZSet>(&call.args[1], call.now);
    let Some(zset) = typed(call, found) else { return };
    let Some(zset) = zset else { return call.out.array(0) };
    let picked: Vec<(&[u8], f64)> = match bounds {
        Bounds::Ranks(start, stop) => match clamp_range(start, stop, zset.len()) {
            None => Vec::new(),
            Some((first, last)) if rev => zset.iter().rev().skip(first).take(last - first + 1).collect(),
            Some((first, last)) => zset.iter().skip(first).take(last - first + 1).collect(),
        },
        Bounds::Scores(min, max) => {
            let (offset, count) = limit.unwrap_or((0, -1));
            let mut matching = zset.range_by_score(min, max);
            if rev {
                matching.reverse();
            }
            if offset < 0 {
                Vec::new()
            } else {
                let count = if count < 0 { usize::MAX } else { count as usize };
                matching.into_iter().skip(offset as usize).take(count).collect()
            }
        }
    };
    call.out.array(picked.len() * if with_scores { 2 } else { 1 });
    for (member, score) in picked {
        call.out.bulk(member);
        if with_scores {
            reply_score(call, score);
        }
    }
}

/// `ZPOPMIN key [count]`: members and scores, lowest first.
pub fn zpopmin(server: &mut Server, call: &mut Call<'_>) {
    pop(server, call, false);
}

/// `ZPOPMAX key [count]`: members and scores, highest first.
pub fn zpopmax(server: &mut Server, call: &mut Call<'_>) {
    pop(server, call, true);
}

fn pop(server: &mut Server, call: &mut Call<'_>, max: bool) {
    let count = match call.args.len() {
        2 => 1,
        3 => match parse_redis_int(call.arg(2)) {
            Some(n) if n >= 0 => n as usize,
            _ => return call.out.error("ERR value is out of range, must be positive"),
        },
        _ => return call.out.error(SYNTAX_ERROR),
    };
    let args = call.args;
    let found = call.db(server).write::<ZSet>(&args[1], call.now);
    let Some(zset) = typed(call, found) else { return };
    let Some(zset) = zset else { return call.out.array(0) };
    let popped: Vec<(Bytes, f64)> =
        (0..count.min(zset.len())).filter_map(|_| if max { zset.pop_max() } else { zset.pop_min() }).collect();
    call.out.array(popped.len() * 2);
    for (member, score) in popped {
        call.out.bulk(&member);
        reply_score(call, score);
    }
    call.db(server).remove_if_empty(&args[1]);
}
