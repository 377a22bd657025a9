//! Every command through the `redis` crate, with its error cases, as
//! Redis 7 answers them.

mod common;

use common::{client, error_of, query, start};
use redis::Value;

#[test]
fn set_and_get_with_every_option() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v1"]), "OK");
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "v1");
    assert_eq!(query::<Option<String>>(&mut con, &["GET", "missing"]), None);
    assert_eq!(query::<Option<String>>(&mut con, &["SET", "k", "v2", "NX"]), None, "NX on an existing key");
    assert_eq!(query::<Option<String>>(&mut con, &["SET", "new", "v", "XX"]), None, "XX on a missing key");
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v2", "XX"]), "OK");
    assert_eq!(query::<Option<String>>(&mut con, &["SET", "k", "v3", "GET"]).as_deref(), Some("v2"));
    assert_eq!(query::<Option<String>>(&mut con, &["SET", "other", "x", "NX", "GET"]), None, "GET of nothing");
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v4", "EX", "100"]), "OK");
    // Seconds rounded to nearest: 100 unless half a second passed since.
    assert!((99..=100).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v5", "KEEPTTL"]), "OK");
    assert!(query::<i64>(&mut con, &["PTTL", "k"]) > 90_000, "KEEPTTL keeps the deadline");
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v6", "PX", "100000"]), "OK");
    assert_eq!(query::<String>(&mut con, &["SET", "k", "v7"]), "OK");
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1, "a plain SET drops the deadline");

    assert_eq!(error_of(&mut con, &["SET", "k"]), "ERR wrong number of arguments for 'set' command");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "NX", "XX"]), "ERR syntax error");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "EX"]), "ERR syntax error");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "EX", "1", "PX", "1"]), "ERR syntax error");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "KEEPTTL", "EX", "1"]), "ERR syntax error");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "EX", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "EX", "0"]), "ERR invalid expire time in 'set' command");
    assert_eq!(error_of(&mut con, &["SET", "k", "v", "PX", "-5"]), "ERR invalid expire time in 'set' command");
    assert_eq!(
        error_of(&mut con, &["SET", "k", "v", "EX", "9223372036854775807"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(error_of(&mut con, &["GET"]), "ERR wrong number of arguments for 'get' command");
    assert_eq!(error_of(&mut con, &["GET", "a", "b"]), "ERR wrong number of arguments for 'get' command");
}

#[test]
fn getdel_append_strlen_mget_mset() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "s", "hello"]), 5, "APPEND creates the key");
    assert_eq!(query::<i64>(&mut con, &["APPEND", "s", " world"]), 11);
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "s"]), 11);
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "missing"]), 0);
    assert_eq!(query::<String>(&mut con, &["GETDEL", "s"]), "hello world");
    assert_eq!(query::<Option<String>>(&mut con, &["GETDEL", "s"]), None);
    assert_eq!(query::<String>(&mut con, &["MSET", "a", "1", "b", "2"]), "OK");
    let values: Vec<Option<String>> = query(&mut con, &["MGET", "a", "missing", "b"]);
    assert_eq!(values, [Some("1".to_string()), None, Some("2".to_string())]);
    assert_eq!(error_of(&mut con, &["MSET", "a", "1", "b"]), "ERR wrong number of arguments for 'mset' command");
    assert_eq!(error_of(&mut con, &["MGET"]), "ERR wrong number of arguments for 'mget' command");
    assert_eq!(error_of(&mut con, &["APPEND", "a"]), "ERR wrong number of arguments for 'append' command");
    assert_eq!(error_of(&mut con, &["GETDEL"]), "ERR wrong number of arguments for 'getdel' command");
}

#[test]
fn counters_count_and_refuse_what_is_not_an_integer() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<i64>(&mut con, &["INCR", "n"]), 1, "a missing key counts from 0");
    assert_eq!(query::<i64>(&mut con, &["INCRBY", "n", "41"]), 42);
    assert_eq!(query::<i64>(&mut con, &["DECR", "n"]), 41);
    assert_eq!(query::<i64>(&mut con, &["DECRBY", "n", "50"]), -9);
    assert_eq!(query::<String>(&mut con, &["GET", "n"]), "-9", "stored as its decimal text");
    query::<String>(&mut con, &["SET", "n", "5", "EX", "100"]);
    query::<i64>(&mut con, &["INCR", "n"]);
    assert!((99..=100).contains(&query::<i64>(&mut con, &["TTL", "n"])), "INCR keeps the deadline");

    let not_integer = "ERR value is not an integer or out of range";
    for bad in ["abc", "1.5", " 1", "01", "+1", ""] {
        query::<String>(&mut con, &["SET", "bad", bad]);
        assert_eq!(error_of(&mut con, &["INCR", "bad"]), not_integer, "INCR of {bad:?}");
    }
    assert_eq!(error_of(&mut con, &["INCRBY", "n", "x"]), not_integer);
    assert_eq!(error_of(&mut con, &["INCRBY", "n", "99999999999999999999"]), not_integer);
    query::<String>(&mut con, &["SET", "max", "9223372036854775807"]);
    assert_eq!(error_of(&mut con, &["INCR", "max"]), "ERR increment or decrement would overflow");
    assert_eq!(error_of(&mut con, &["DECRBY", "n", "-9223372036854775808"]), "ERR decrement would overflow");
    assert_eq!(error_of(&mut con, &["INCR"]), "ERR wrong number of arguments for 'incr' command");
    assert_eq!(error_of(&mut con, &["INCRBY", "n"]), "ERR wrong number of arguments for 'incrby' command");
}

#[test]
fn del_exists_keys_dbsize_flushall_select() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["MSET", "user:1", "a", "user:2", "b", "item:1", "c"]);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "user:1", "user:1", "nope"]), 2, "a key named twice counts twice");
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 3);
    let mut keys: Vec<String> = query(&mut con, &["KEYS", "user:*"]);
    keys.sort();
    assert_eq!(keys, ["user:1", "user:2"]);
    assert_eq!(query::<Vec<String>>(&mut con, &["KEYS", "*"]).len(), 3);
    assert_eq!(query::<Vec<String>>(&mut con, &["KEYS", "item:[0-9]"]), ["item:1"]);
    assert_eq!(query::<i64>(&mut con, &["DEL", "user:1", "user:2", "nope"]), 2);
    assert_eq!(query::<String>(&mut con, &["SELECT", "0"]), "OK");
    assert_eq!(error_of(&mut con, &["SELECT", "16"]), "ERR DB index is out of range");
    assert_eq!(error_of(&mut con, &["SELECT", "x"]), "ERR value is not an integer or out of range");
    assert_eq!(query::<String>(&mut con, &["FLUSHALL"]), "OK");
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
    assert_eq!(query::<String>(&mut con, &["FLUSHALL", "ASYNC"]), "OK");
    assert_eq!(error_of(&mut con, &["FLUSHALL", "NOW"]), "ERR syntax error");
    assert_eq!(error_of(&mut con, &["DEL"]), "ERR wrong number of arguments for 'del' command");
    assert_eq!(error_of(&mut con, &["DBSIZE", "x"]), "ERR wrong number of arguments for 'dbsize' command");
    assert_eq!(error_of(&mut con, &["KEYS"]), "ERR wrong number of arguments for 'keys' command");
}

#[test]
fn expire_persist_ttl_and_their_conditions() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["SET", "k", "v"]);
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1, "no deadline");
    assert_eq!(query::<i64>(&mut con, &["TTL", "missing"]), -2, "no key");
    assert_eq!(query::<i64>(&mut con, &["PTTL", "missing"]), -2);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "missing", "10"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "100", "XX"]), 0, "XX: no deadline yet");
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "100", "NX"]), 1);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "200", "NX"]), 0, "NX: has a deadline");
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "50", "GT"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "300", "GT"]), 1);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "400", "LT"]), 0);
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "k", "250000", "LT"]), 1);
    assert!((249..=250).contains(&query::<i64>(&mut con, &["TTL", "k"])));
    let pttl: i64 = query(&mut con, &["PTTL", "k"]);
    assert!((240_000..=250_000).contains(&pttl), "PTTL {pttl}");
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "k"]), 1);
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "k"]), 0, "nothing left to persist");
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "missing"]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "-1"]), 1, "a past deadline deletes");
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 0);

    query::<String>(&mut con, &["SET", "k", "v"]);
    assert_eq!(
        error_of(&mut con, &["EXPIRE", "k", "10", "NX", "XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        error_of(&mut con, &["EXPIRE", "k", "10", "GT", "LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(error_of(&mut con, &["EXPIRE", "k", "10", "SOON"]), "ERR Unsupported option SOON");
    assert_eq!(error_of(&mut con, &["EXPIRE", "k", "ten"]), "ERR value is not an integer or out of range");
    assert_eq!(
        error_of(&mut con, &["EXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        error_of(&mut con, &["PEXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(error_of(&mut con, &["EXPIRE", "k"]), "ERR wrong number of arguments for 'expire' command");
    assert_eq!(error_of(&mut con, &["TTL"]), "ERR wrong number of arguments for 'ttl' command");
    assert_eq!(error_of(&mut con, &["PERSIST"]), "ERR wrong number of arguments for 'persist' command");
}

#[test]
fn ping_echo_and_client_names() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<String>(&mut con, &["PING"]), "PONG");
    assert_eq!(query::<String>(&mut con, &["PING", "hi"]), "hi");
    assert_eq!(query::<String>(&mut con, &["ECHO", "a b"]), "a b");
    assert_eq!(query::<Option<String>>(&mut con, &["CLIENT", "GETNAME"]), None);
    assert_eq!(query::<String>(&mut con, &["CLIENT", "SETNAME", "worker-1"]), "OK");
    assert_eq!(query::<String>(&mut con, &["CLIENT", "GETNAME"]), "worker-1");
    let first: i64 = query(&mut con, &["CLIENT", "ID"]);
    let mut other = client(server.addr);
    assert!(query::<i64>(&mut other, &["CLIENT", "ID"]) > first, "ids grow with each connection");

    assert_eq!(
        error_of(&mut con, &["CLIENT", "SETNAME", "two words"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(error_of(&mut con, &["PING", "a", "b"]), "ERR wrong number of arguments for 'ping' command");
    assert_eq!(error_of(&mut con, &["ECHO"]), "ERR wrong number of arguments for 'echo' command");
    assert_eq!(error_of(&mut con, &["CLIENT"]), "ERR wrong number of arguments for 'client' command");
    assert_eq!(
        error_of(&mut con, &["CLIENT", "SETNAME"]),
        "ERR wrong number of arguments for 'client|setname' command"
    );
    assert_eq!(error_of(&mut con, &["CLIENT", "KILL"]), "ERR unknown subcommand 'KILL'. Try CLIENT HELP.");
    assert_eq!(
        error_of(&mut con, &["NOSUCH", "a", "b"]),
        "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' "
    );
}

#[test]
fn quit_answers_ok_then_closes() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(query::<String>(&mut con, &["QUIT"]), "OK");
    assert!(redis::cmd("PING").query::<String>(&mut con).is_err(), "the connection is closed after QUIT");
}

#[test]
fn command_config_and_info_describe_the_server() {
    let server = start();
    let mut con = client(server.addr);
    let count: i64 = query(&mut con, &["COMMAND", "COUNT"]);
    assert_eq!(query::<Vec<Value>>(&mut con, &["COMMAND"]).len() as i64, count);
    let info: Vec<Value> = query(&mut con, &["COMMAND", "INFO", "get", "nosuch"]);
    assert!(matches!(info[1], Value::Nil), "an unknown command is nil");
    let Value::Array(get) = &info[0] else { panic!("GET's description is an array: {info:?}") };
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));

    let config: Vec<String> = query(&mut con, &["CONFIG", "GET", "save"]);
    assert_eq!(config, ["save", ""]);
    let config: Vec<String> = query(&mut con, &["CONFIG", "GET", "appendonly", "maxclients"]);
    assert_eq!(config, ["maxclients", "10000", "appendonly", "no"]);
    assert_eq!(error_of(&mut con, &["CONFIG", "GET"]), "ERR wrong number of arguments for 'config|get' command");

    query::<String>(&mut con, &["SET", "k", "v"]);
    let info: String = query(&mut con, &["INFO"]);
    for field in [
        "# Server",
        "redis_version:",
        "# Clients",
        "connected_clients:1",
        "# Stats",
        "total_commands_processed:",
        "total_reads_processed:",
        "total_writes_processed:",
        "total_polls:",
        "instantaneous_polls_per_sec:",
        "# Keyspace",
        "db0:keys=1,expires=0",
    ] {
        assert!(info.contains(field), "INFO lacks {field:?}:\n{info}");
    }
    let stats: String = query(&mut con, &["INFO", "stats"]);
    assert!(stats.starts_with("# Stats\r\n") && !stats.contains("# Server"), "one section asked, one given");
}
