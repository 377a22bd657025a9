//! Set commands through the `redis` crate, with Redis 7's replies and
//! errors (each diffed against redis-server 7.0).

mod common;

use std::collections::HashSet;

use common::{client, error_of, query, start};
use redis::Value;

#[test]
fn members_are_added_once_and_removed() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<i64>(&mut con, &["SADD", "s", "a", "b", "c", "a"]), 3, "a repeat is added once");
    assert_eq!(query::<i64>(&mut con, &["SCARD", "s"]), 3);
    assert_eq!(query::<i64>(&mut con, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(query::<Vec<i64>>(&mut con, &["SMISMEMBER", "s", "a", "z"]), [1, 0]);
    assert_eq!(query::<i64>(&mut con, &["SREM", "s", "a", "z"]), 1);
    let members: HashSet<String> = query(&mut con, &["SMEMBERS", "s"]);
    assert_eq!(members, HashSet::from(["b".to_string(), "c".to_string()]));
    query::<i64>(&mut con, &["SADD", "ints", "5", "3", "10", "-1"]);
    assert_eq!(query::<Vec<i64>>(&mut con, &["SMEMBERS", "ints"]), [-1, 3, 5, 10], "an intset lists in order");
}

#[test]
fn spop_removes_random_members_until_none_is_left() {
    let server = start();
    let mut con = client(server.addr);
    query::<i64>(&mut con, &["SADD", "s", "a", "b", "c", "d"]);
    let one: String = query(&mut con, &["SPOP", "s"]);
    let rest: Vec<String> = query(&mut con, &["SPOP", "s", "10"]);
    let mut all: Vec<String> = rest.into_iter().chain([one]).collect();
    all.sort();
    assert_eq!(all, ["a", "b", "c", "d"], "every member popped exactly once");
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "s"]), 0, "the key goes with its last member");
    assert_eq!(query::<Value>(&mut con, &["SPOP", "s"]), Value::Nil);
    assert_eq!(query::<Vec<String>>(&mut con, &["SPOP", "s", "2"]), Vec::<String>::new());
    assert_eq!(error_of(&mut con, &["SPOP", "s", "-1"]), "ERR value is out of range, must be positive");
}

#[test]
fn set_commands_on_another_type_answer_wrongtype() {
    let server = start();
    let mut con = client(server.addr);
    query::<i64>(&mut con, &["LPUSH", "l", "x"]);
    assert_eq!(
        error_of(&mut con, &["SADD", "l", "x"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}
