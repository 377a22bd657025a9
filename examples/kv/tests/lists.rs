//! List commands through the `redis` crate, with Redis 7's replies and
//! errors (each diffed against redis-server 7.0).

mod common;

use common::{client, error_of, query, start};
use redis::Value;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn pushes_and_ranges_read_back_in_list_order() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<i64>(&mut con, &["LPUSH", "l", "a", "b", "c"]), 3, "LPUSH replies the length");
    assert_eq!(query::<i64>(&mut con, &["RPUSH", "l", "d", "e"]), 5);
    assert_eq!(query::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]), ["c", "b", "a", "d", "e"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["LRANGE", "l", "-2", "-1"]), ["d", "e"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["LRANGE", "l", "3", "100"]), ["d", "e"], "stop clamped");
    assert!(query::<Vec<String>>(&mut con, &["LRANGE", "l", "4", "1"]).is_empty(), "start past stop");
    assert!(query::<Vec<String>>(&mut con, &["LRANGE", "missing", "0", "-1"]).is_empty());
    assert_eq!(query::<i64>(&mut con, &["LLEN", "l"]), 5);
    assert_eq!(query::<Option<String>>(&mut con, &["LINDEX", "l", "-1"]).as_deref(), Some("e"));
    assert_eq!(query::<Option<String>>(&mut con, &["LINDEX", "l", "9"]), None);
    assert_eq!(error_of(&mut con, &["LRANGE", "l", "x", "1"]), "ERR value is not an integer or out of range");
}

#[test]
fn pops_take_from_either_end_and_the_key_goes_with_the_last() {
    let server = start();
    let mut con = client(server.addr);
    query::<i64>(&mut con, &["RPUSH", "l", "1", "2", "3", "4"]);
    assert_eq!(query::<Option<String>>(&mut con, &["LPOP", "l"]).as_deref(), Some("1"));
    assert_eq!(query::<Option<String>>(&mut con, &["RPOP", "l"]).as_deref(), Some("4"));
    assert_eq!(query::<Vec<String>>(&mut con, &["LPOP", "l", "5"]), ["2", "3"], "a count takes up to that many");
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "l"]), 0, "an emptied list is deleted");
    assert_eq!(query::<Value>(&mut con, &["LPOP", "l"]), Value::Nil);
    assert_eq!(query::<Value>(&mut con, &["RPOP", "l", "2"]), Value::Nil, "the nil array for a missing key");
    assert_eq!(error_of(&mut con, &["LPOP", "l", "-1"]), "ERR value is out of range, must be positive");
}

#[test]
fn lset_lrem_and_ltrim_edit_in_place() {
    let server = start();
    let mut con = client(server.addr);
    query::<i64>(&mut con, &["RPUSH", "r", "a", "b", "a", "c", "a", "d", "a"]);
    assert_eq!(query::<i64>(&mut con, &["LREM", "r", "2", "a"]), 2, "from the head");
    assert_eq!(query::<i64>(&mut con, &["LREM", "r", "-1", "a"]), 1, "from the tail");
    assert_eq!(query::<Vec<String>>(&mut con, &["LRANGE", "r", "0", "-1"]), ["b", "c", "a", "d"]);
    assert_eq!(query::<String>(&mut con, &["LSET", "r", "-1", "z"]), "OK");
    assert_eq!(error_of(&mut con, &["LSET", "r", "9", "z"]), "ERR index out of range");
    assert_eq!(error_of(&mut con, &["LSET", "missing", "0", "z"]), "ERR no such key");
    assert_eq!(query::<String>(&mut con, &["LTRIM", "r", "1", "-2"]), "OK");
    assert_eq!(query::<Vec<String>>(&mut con, &["LRANGE", "r", "0", "-1"]), ["c", "a"]);
    assert_eq!(query::<String>(&mut con, &["LTRIM", "r", "5", "10"]), "OK");
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "r"]), 0, "trimmed to nothing, the key goes");
}

#[test]
fn list_commands_on_another_type_answer_wrongtype() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["SET", "s", "v"]);
    for args in
        [&["LPUSH", "s", "x"][..], &["LRANGE", "s", "0", "1"], &["LLEN", "s"], &["LPOP", "s"], &["LINDEX", "s", "0"]]
    {
        assert_eq!(error_of(&mut con, args), WRONGTYPE, "{args:?}");
    }
    query::<i64>(&mut con, &["LPUSH", "l", "x"]);
    assert_eq!(error_of(&mut con, &["GET", "l"]), WRONGTYPE, "GET of a list");
    assert_eq!(query::<String>(&mut con, &["TYPE", "l"]), "list");
}

#[test]
fn a_range_of_thousands_arrives_whole_under_pipelining() {
    let server = start();
    let mut con = client(server.addr);
    let elements: Vec<String> = (0..5000).map(|i| format!("element:{i}")).collect();
    let mut push = redis::cmd("RPUSH");
    push.arg("big").arg(&elements);
    let _: i64 = push.query(&mut con).expect("RPUSH of 5,000");
    let mut pipe = redis::pipe();
    for _ in 0..20 {
        pipe.cmd("LRANGE").arg("big").arg(0).arg(-1);
    }
    let replies: Vec<Vec<String>> = pipe.query(&mut con).expect("20 pipelined LRANGEs");
    assert_eq!(replies.len(), 20);
    assert!(replies.iter().all(|reply| *reply == elements), "every reply has every element in order");
}
