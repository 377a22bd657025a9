//! What a Redis user and a monitoring tool ask the server: CONFIG SET of
//! the limits kv has, SHUTDOWN, HELLO, CLIENT LIST, INFO's sections, TIME.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{client, error_of, exchange, query, resp, start, start_with};
use evloop_tests::{connect, TIMEOUT};
use kv::Settings;

#[test]
fn config_set_maxclients_refuses_the_next_client_at_once() {
    let server = start();
    let mut admin = client(server.addr);
    assert_eq!(query::<String>(&mut admin, &["CONFIG", "SET", "maxclients", "1"]), "OK");
    assert_eq!(query::<Vec<String>>(&mut admin, &["CONFIG", "GET", "maxclients"]), ["maxclients", "1"]);
    let mut refused = connect(server.addr);
    let mut reply = Vec::new();
    refused.read_to_end(&mut reply).expect("the refused client reads its error, then EOF");
    assert_eq!(reply, b"-ERR max number of clients reached\r\n");
    assert_eq!(query::<String>(&mut admin, &["CONFIG", "SET", "maxclients", "10"]), "OK");
    let mut second = connect(server.addr);
    exchange(&mut second, &resp(&[b"PING"]), b"+PONG\r\n");
}

#[test]
fn config_set_timeout_closes_an_idle_client_but_not_a_subscriber() {
    let server = start_with(Settings { hz: 100, ..Settings::default() });
    let mut admin = client(server.addr);
    let mut subscriber = connect(server.addr);
    exchange(&mut subscriber, &resp(&[b"SUBSCRIBE", b"c"]), b"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
    let mut idle = connect(server.addr);
    exchange(&mut idle, &resp(&[b"PING"]), b"+PONG\r\n");
    assert_eq!(query::<String>(&mut admin, &["CONFIG", "SET", "timeout", "1"]), "OK");
    // The idle client is closed after a second or so: EOF, within the bound.
    idle.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).expect("an EOF, not a timeout");
    assert!(rest.is_empty(), "nothing but the close");
    // The admin connection was idle as long: a new one turns it off.
    let mut admin = client(server.addr);
    assert_eq!(query::<String>(&mut admin, &["CONFIG", "SET", "timeout", "0"]), "OK");
    exchange(&mut subscriber, &resp(&[b"PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn config_set_checks_every_pair_and_names_kv_limits() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(
        error_of(&mut con, &["CONFIG", "SET", "nosuch", "1"]),
        "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
    );
    assert_eq!(
        error_of(&mut con, &["CONFIG", "SET", "maxclients", "x"]),
        "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer"
    );
    assert_eq!(query::<String>(&mut con, &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 0 0"]), "OK");
    let limits: Vec<String> = query(&mut con, &["CONFIG", "GET", "client-output-buffer-limit"]);
    assert!(limits[1].contains("pubsub 1048576 0 0"), "{limits:?}");
}

#[test]
fn shutdown_stops_the_server_and_closes_the_asker() {
    let mut server = start();
    let mut stream = connect(server.addr);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    exchange(&mut stream, &resp(&[b"SHUTDOWN", b"ABORT"]), b"-ERR No shutdown in progress.\r\n");
    std::io::Write::write_all(&mut stream, &resp(&[b"SHUTDOWN", b"NOSAVE"])).unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("EOF once the server stops");
    assert!(rest.is_empty(), "no reply to SHUTDOWN, as from Redis: {:?}", rest.escape_ascii().to_string());
    server.join(); // the loop returned by itself
}

#[test]
fn hello_3_is_refused_and_the_client_stays_on_resp2() {
    let server = start();
    let mut stream = connect(server.addr);
    exchange(&mut stream, &resp(&[b"HELLO", b"3"]), b"-NOPROTO unsupported protocol version\r\n");
    exchange(&mut stream, &resp(&[b"GET", b"nope"]), b"$-1\r\n");
}

#[test]
fn client_list_shows_every_client_with_its_name_and_database() {
    let server = start();
    let mut named = client(server.addr);
    query::<String>(&mut named, &["CLIENT", "SETNAME", "worker"]);
    query::<String>(&mut named, &["SELECT", "2"]);
    let mut other = client(server.addr);
    let list: String = query(&mut other, &["CLIENT", "LIST"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines.iter().any(|line| line.contains(" name=worker ") && line.contains(" db=2 ")), "{list}");
    let own: String = query(&mut other, &["CLIENT", "INFO"]);
    assert!(own.starts_with("id=") && own.contains(" cmd=client "), "{own}");
}

#[test]
fn info_has_the_sections_monitoring_tools_read() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["SET", "k", "v"]);
    let info: String = query(&mut con, &["INFO"]);
    for field in [
        "redis_version:",
        "server_name:kv",
        "connected_clients:1",
        "used_memory:",
        "rdb_bgsave_in_progress:0",
        "aof_enabled:0",
        "role:master",
        "connected_slaves:0",
        "used_cpu_user:",
        "db0:keys=1,",
    ] {
        assert!(info.contains(field), "INFO lacks {field}:\n{info}");
    }
    let (seconds, micros): (String, String) = query(&mut con, &["TIME"]);
    assert!(seconds.parse::<u64>().unwrap() > 1_600_000_000 && micros.parse::<u32>().unwrap() < 1_000_000);
    let _ = Duration::ZERO;
}
