//! What the kv tests share: a server on its own loop thread, a `redis`
//! crate client, and raw-socket helpers for what a client library hides.

#![allow(dead_code, unreachable_pub)] // each test file uses its own share

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use evloop_tests::{Server, TIMEOUT};
use kv::{Kv, Settings};

/// A kv server with `settings`, listening on 127.0.0.1:0.
pub fn start_with(settings: Settings) -> Server<Kv> {
    Server::start(settings.loop_config(), Kv::new(settings))
}

/// A kv server with Redis's defaults.
pub fn start() -> Server<Kv> {
    start_with(Settings::default())
}

/// A `redis` crate connection to `addr`, every wait bounded.
#[track_caller]
pub fn client(addr: SocketAddr) -> redis::Connection {
    let client = redis::Client::open(format!("redis://{addr}/")).expect("a valid URL");
    let con = client.get_connection_with_timeout(TIMEOUT).expect("connect with the redis crate");
    con.set_read_timeout(Some(TIMEOUT)).unwrap();
    con.set_write_timeout(Some(TIMEOUT)).unwrap();
    con
}

/// Runs `args` and returns the error the server answered, as Redis writes
/// it after the `-`: its code and its text.
#[track_caller]
pub fn error_of(con: &mut redis::Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    match cmd.query::<redis::Value>(con) {
        Ok(value) => panic!("{args:?} should fail, answered {value:?}"),
        Err(err) => format!("{} {}", err.code().unwrap_or("?"), err.detail().unwrap_or("")),
    }
}

/// Runs `args` and returns the reply, failing the test on an error.
#[track_caller]
pub fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con).unwrap_or_else(|err| panic!("{args:?} failed: {err}"))
}

/// Sends `request` bytes and checks the reply is exactly `expected`.
#[track_caller]
pub fn exchange(stream: &mut TcpStream, request: &[u8], expected: &[u8]) {
    stream.write_all(request).expect("send the request");
    expect_reply(stream, expected, request);
}

/// Reads exactly `expected.len()` bytes and compares them.
#[track_caller]
pub fn expect_reply(stream: &mut TcpStream, expected: &[u8], request: &[u8]) {
    let mut reply = vec![0; expected.len()];
    stream.read_exact(&mut reply).unwrap_or_else(|err| {
        panic!("no {} byte reply to {:?}: {err}", expected.len(), request.escape_ascii().to_string())
    });
    assert_eq!(
        reply.escape_ascii().to_string(),
        expected.escape_ascii().to_string(),
        "reply to {:?}",
        request.escape_ascii().to_string()
    );
}

/// Checks the server closed `stream`: end of file (or a reset) with no
/// more bytes.
#[track_caller]
pub fn expect_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => assert!(rest.is_empty(), "unexpected bytes before the close: {:?}", rest.escape_ascii().to_string()),
        Err(err) => assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "expected a close, got {err}"),
    }
}

/// The RESP array for a command, as client libraries send it.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}
