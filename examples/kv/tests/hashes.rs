//! Hash commands through the `redis` crate, with Redis 7's replies and
//! errors (each diffed against redis-server 7.0).

mod common;

use common::{client, error_of, query, start};

#[test]
fn fields_are_set_read_and_counted() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<i64>(&mut con, &["HSET", "h", "f1", "v1", "f2", "v2"]), 2, "new fields counted");
    assert_eq!(query::<i64>(&mut con, &["HSET", "h", "f1", "v9", "f3", "v3"]), 1, "an update is not new");
    assert_eq!(query::<Option<String>>(&mut con, &["HGET", "h", "f1"]).as_deref(), Some("v9"));
    assert_eq!(query::<Option<String>>(&mut con, &["HGET", "h", "nope"]), None);
    assert_eq!(
        query::<Vec<Option<String>>>(&mut con, &["HMGET", "h", "f1", "nope", "f3"]),
        [Some("v9".to_string()), None, Some("v3".to_string())]
    );
    assert_eq!(query::<i64>(&mut con, &["HLEN", "h"]), 3);
    assert_eq!(query::<i64>(&mut con, &["HEXISTS", "h", "f2"]), 1);
    assert_eq!(query::<Vec<String>>(&mut con, &["HGETALL", "h"]), ["f1", "v9", "f2", "v2", "f3", "v3"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["HKEYS", "h"]), ["f1", "f2", "f3"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["HVALS", "h"]), ["v9", "v2", "v3"]);
    assert_eq!(query::<i64>(&mut con, &["HDEL", "h", "f2", "nope"]), 1);
    assert_eq!(query::<Vec<String>>(&mut con, &["HKEYS", "h"]), ["f1", "f3"], "a small hash keeps its order");
    assert_eq!(query::<i64>(&mut con, &["HDEL", "h", "f1", "f3"]), 2);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "h"]), 0, "the key goes with its last field");
    assert_eq!(error_of(&mut con, &["HSET", "h", "f1"]), "ERR wrong number of arguments for 'hset' command");
}

#[test]
fn hincrby_adds_to_integer_fields_only() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<i64>(&mut con, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(query::<i64>(&mut con, &["HINCRBY", "h", "n", "-7"]), -2);
    assert_eq!(query::<i64>(&mut con, &["HINCRBY", "h", "n", "10"]), 8);
    query::<i64>(&mut con, &["HSET", "h", "s", "text"]);
    assert_eq!(error_of(&mut con, &["HINCRBY", "h", "s", "1"]), "ERR hash value is not an integer");
    assert_eq!(
        error_of(&mut con, &["HINCRBY", "h", "n", "9223372036854775807"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(query::<String>(&mut con, &["HINCRBYFLOAT", "h", "f", "1.5"]), "1.5");
}

#[test]
fn hash_commands_on_another_type_answer_wrongtype() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["SET", "s", "v"]);
    assert_eq!(
        error_of(&mut con, &["HSET", "s", "f", "v"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        error_of(&mut con, &["HGETALL", "s"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}
