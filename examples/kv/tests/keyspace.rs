//! Keyspace and string commands added for Redis users: TYPE, UNLINK,
//! SCAN, FLUSHDB, SELECT, SETEX, GETEX, GETSET, INCRBYFLOAT, SET EXAT/PXAT,
//! through the `redis` crate (replies diffed against redis-server 7.0).

mod common;

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use common::{client, error_of, query, start};

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn scan_visits_every_key_once_with_match_count_and_type() {
    let server = start();
    let mut con = client(server.addr);
    for i in 0..250 {
        query::<String>(&mut con, &["SET", &format!("user:{i}"), "v"]);
    }
    query::<i64>(&mut con, &["LPUSH", "user:list", "x"]);
    query::<String>(&mut con, &["SET", "other", "v"]);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..1000 {
        let (next, keys): (String, Vec<String>) =
            query(&mut con, &["SCAN", &cursor, "MATCH", "user:*", "COUNT", "7", "TYPE", "string"]);
        for key in keys {
            assert!(seen.insert(key.clone()), "{key} returned twice");
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "the scan ended");
    assert_eq!(seen.len(), 250, "every matching string key, nothing else");
    assert_eq!(error_of(&mut con, &["SCAN", "x"]), "ERR invalid cursor");
    assert_eq!(error_of(&mut con, &["SCAN", "0", "COUNT", "0"]), "ERR syntax error");
}

#[test]
fn type_unlink_and_flushdb_per_database() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["SET", "s", "v"]);
    query::<i64>(&mut con, &["HSET", "h", "f", "v"]);
    query::<i64>(&mut con, &["SADD", "st", "m"]);
    query::<i64>(&mut con, &["ZADD", "z", "1", "m"]);
    let types: Vec<String> = ["s", "h", "st", "z", "none"].iter().map(|k| query(&mut con, &["TYPE", k])).collect();
    assert_eq!(types, ["string", "hash", "set", "zset", "none"]);
    assert_eq!(query::<i64>(&mut con, &["UNLINK", "s", "h", "nope"]), 2);
    assert_eq!(query::<String>(&mut con, &["SELECT", "3"]), "OK");
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0, "database 3 is another keyspace");
    query::<String>(&mut con, &["SET", "in3", "v"]);
    assert_eq!(query::<String>(&mut con, &["FLUSHDB"]), "OK");
    assert_eq!(query::<String>(&mut con, &["SELECT", "0"]), "OK");
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 2, "FLUSHDB emptied database 3 only");
    assert_eq!(error_of(&mut con, &["SELECT", "16"]), "ERR DB index is out of range");
}

#[test]
fn setex_getex_and_absolute_expiry() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<String>(&mut con, &["SETEX", "k", "100", "v"]), "OK");
    assert!((99..=100).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    assert_eq!(error_of(&mut con, &["SETEX", "k", "0", "v"]), "ERR invalid expire time in 'setex' command");
    assert_eq!(query::<String>(&mut con, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1, "PERSIST dropped the deadline");
    assert_eq!(query::<String>(&mut con, &["GETEX", "k", "EX", "50"]), "v");
    assert!((49..=50).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    let at = (unix_secs() + 1000).to_string();
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v", "EXAT", &at]), "OK");
    assert!((998..=1000).contains(&query::<i64>(&mut con, &["TTL", "k"])), "EXAT is a Unix time");
    let at_ms = ((unix_secs() + 2000) * 1000).to_string();
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v", "PXAT", &at_ms]), "OK");
    assert!((1998..=2000).contains(&query::<i64>(&mut con, &["TTL", "k"])), "PXAT is a Unix time in ms");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "EX", "10", "PXAT", "5"]), "ERR syntax error");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "EXAT", "0"]), "ERR invalid expire time in 'set' command");
}

#[test]
fn getset_and_incrbyfloat() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<Option<String>>(&mut con, &["GETSET", "k", "1"]), None);
    assert_eq!(query::<String>(&mut con, &["GETSET", "k", "10.5"]).as_str(), "1");
    assert_eq!(query::<String>(&mut con, &["INCRBYFLOAT", "k", "0.1"]), "10.6");
    assert_eq!(query::<String>(&mut con, &["INCRBYFLOAT", "k", "-0.6"]), "10");
    assert_eq!(error_of(&mut con, &["INCRBYFLOAT", "k", "x"]), "ERR value is not a valid float");
    query::<i64>(&mut con, &["LPUSH", "l", "x"]);
    assert_eq!(
        error_of(&mut con, &["GETSET", "l", "v"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}
