//! Sorted set commands through the `redis` crate, with Redis 7's replies
//! and errors (each diffed against redis-server 7.0).

mod common;

use common::{client, error_of, query, start};
use redis::Value;

#[test]
fn zadd_options_behave_as_redis_documents_them() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<i64>(&mut con, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]), 3);
    assert_eq!(query::<i64>(&mut con, &["ZADD", "z", "CH", "1.5", "a", "9", "b", "4", "d"]), 3, "CH counts changes");
    assert_eq!(query::<i64>(&mut con, &["ZADD", "z", "NX", "100", "a", "5", "e"]), 1, "NX adds only");
    assert_eq!(query::<i64>(&mut con, &["ZADD", "z", "XX", "0", "a", "0", "f"]), 0, "XX updates only");
    assert_eq!(query::<String>(&mut con, &["ZSCORE", "z", "a"]), "0");
    assert_eq!(query::<i64>(&mut con, &["ZADD", "z", "GT", "CH", "200", "a", "0", "b"]), 1, "GT only raises");
    assert_eq!(query::<String>(&mut con, &["ZADD", "z", "INCR", "0.5", "a"]), "200.5");
    assert_eq!(query::<Value>(&mut con, &["ZADD", "z", "XX", "INCR", "1", "nope"]), Value::Nil);
    assert_eq!(
        error_of(&mut con, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        error_of(&mut con, &["ZADD", "z", "GT", "LT", "1", "a"]),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(error_of(&mut con, &["ZADD", "z", "x", "a"]), "ERR value is not a valid float");
    assert_eq!(error_of(&mut con, &["ZADD", "z", "1", "a", "2"]), "ERR syntax error");
}

#[test]
fn zrange_by_rank_and_by_score_both_ways() {
    let server = start();
    let mut con = client(server.addr);
    query::<i64>(&mut con, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "3", "bb"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["ZRANGE", "z", "0", "-1"]), ["a", "b", "bb", "c"], "ties by member");
    assert_eq!(query::<Vec<String>>(&mut con, &["ZRANGE", "z", "0", "0", "WITHSCORES"]), ["a", "1"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["ZRANGE", "z", "0", "1", "REV"]), ["c", "bb"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["ZRANGE", "z", "(1", "3", "BYSCORE"]), ["b", "bb", "c"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV"]), ["c", "bb"]);
    assert_eq!(
        query::<Vec<String>>(&mut con, &["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"]),
        ["b", "bb"]
    );
    assert_eq!(
        error_of(&mut con, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(query::<i64>(&mut con, &["ZRANK", "z", "bb"]), 2);
    assert_eq!(query::<Value>(&mut con, &["ZRANK", "z", "nope"]), Value::Nil);
    assert_eq!(query::<i64>(&mut con, &["ZCARD", "z"]), 4);
}

#[test]
fn scores_print_as_redis_prints_them() {
    let server = start();
    let mut con = client(server.addr);
    query::<i64>(&mut con, &["ZADD", "z", "0.1", "a", "1e20", "b", "-inf", "c"]);
    assert_eq!(
        query::<Vec<String>>(&mut con, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        ["c", "-inf", "a", "0.10000000000000001", "b", "1e+20"]
    );
    assert_eq!(query::<String>(&mut con, &["ZINCRBY", "z", "2.5", "a"]), "2.6000000000000001");
}

#[test]
fn zpopmin_takes_the_lowest_and_the_key_goes_with_the_last() {
    let server = start();
    let mut con = client(server.addr);
    query::<i64>(&mut con, &["ZADD", "z", "3", "c", "1", "a", "2", "b"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["ZPOPMIN", "z"]), ["a", "1"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["ZPOPMIN", "z", "5"]), ["b", "2", "c", "3"]);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "z"]), 0);
    assert!(query::<Vec<String>>(&mut con, &["ZPOPMIN", "z"]).is_empty());
    query::<i64>(&mut con, &["ZADD", "z", "1", "x"]);
    assert_eq!(query::<i64>(&mut con, &["ZREM", "z", "x", "nope"]), 1);
    query::<String>(&mut con, &["SET", "s", "v"]);
    assert_eq!(
        error_of(&mut con, &["ZADD", "s", "1", "a"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}
