//! The wire, over raw sockets: what a client library hides. Requests split
//! at every byte, inline commands, protocol errors answered and then the
//! connection closed, large requests past the default input limit, and
//! the refusal past `maxclients`.

mod common;

use std::io::Write;
use std::thread;

use common::{exchange, expect_closed, expect_reply, resp, start, start_with};
use evloop_tests::connect;
use kv::Settings;

#[test]
fn requests_split_at_every_byte_are_answered_once_each() {
    let server = start();
    let request = [
        resp(&[b"SET", b"k", b"hello\r\nworld"]),
        b"GET k\r\n".to_vec(),
        resp(&[b"INCR", b"n"]),
        b"ECHO \"a b\"\n".to_vec(),
    ]
    .concat();
    let replies: &[u8] = b"+OK\r\n$12\r\nhello\r\nworld\r\n:1\r\n$3\r\na b\r\n";
    let mut stream = connect(server.addr);
    for split in 1..request.len() {
        stream.write_all(&request[..split]).unwrap();
        stream.flush().unwrap();
        stream.write_all(&request[split..]).unwrap();
        expect_reply(&mut stream, replies, &request);
        exchange(&mut stream, b"DEL n\r\n", b":1\r\n");
    }
}

#[test]
fn a_request_arriving_one_byte_at_a_time_is_answered_once() {
    let server = start();
    let mut stream = connect(server.addr);
    let request = resp(&[b"SET", b"key", &[b'x'; 100]]);
    for byte in &request {
        stream.write_all(std::slice::from_ref(byte)).unwrap();
    }
    expect_reply(&mut stream, b"+OK\r\n", &request);
    exchange(&mut stream, b"STRLEN key\r\n", b":100\r\n");
}

#[test]
fn inline_commands_are_parsed_as_redis_parses_them() {
    let server = start();
    let mut stream = connect(server.addr);
    exchange(&mut stream, b"PING\r\n", b"+PONG\r\n");
    exchange(&mut stream, b"ping\n", b"+PONG\r\n");
    exchange(&mut stream, b"\r\n\r\n  SET  k   \"two words\\x21\"  \r\n", b"+OK\r\n");
    exchange(&mut stream, b"GET k\r\n", b"$10\r\ntwo words!\r\n");
    exchange(&mut stream, b"ECHO 'it\\'s'\r\n", b"$4\r\nit's\r\n");
    exchange(&mut stream, b"*0\r\n*-1\r\nPING\r\n", b"+PONG\r\n");
}

#[test]
fn many_pipelined_requests_in_one_write_are_all_answered() {
    let server = start();
    let mut stream = connect(server.addr);
    let requests = b"INCR n\r\n".repeat(1000);
    stream.write_all(&requests).unwrap();
    let replies: Vec<u8> = (1..=1000).flat_map(|i| format!(":{i}\r\n").into_bytes()).collect();
    expect_reply(&mut stream, &replies, b"INCR n x1000");
}

/// Each protocol error as Redis 7 words it: the replies to the requests
/// before it, the error, then the connection closes.
#[test]
fn protocol_errors_are_answered_then_the_connection_closed() {
    let server = start();
    let cases: [(&[u8], &[u8]); 7] = [
        (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n+PING\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
        (b"ECHO \"open\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"PING\r\nECHO 'x'y\r\n", b"+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n"),
        (b"PING\r\n*1\r\n$x\r\nPING\r\n", b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"),
    ];
    for (request, reply) in cases {
        let mut stream = connect(server.addr);
        exchange(&mut stream, request, reply);
        expect_closed(&mut stream);
    }
    let mut stream = connect(server.addr);
    let overlong = vec![b'a'; 64 * 1024 + 1];
    exchange(&mut stream, &overlong, b"-ERR Protocol error: too big inline request\r\n");
    expect_closed(&mut stream);
}

#[test]
fn command_errors_read_byte_for_byte_as_redis_7() {
    let server = start();
    let mut stream = connect(server.addr);
    exchange(&mut stream, b"GET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n");
    exchange(&mut stream, b"NOSUCH a b\r\n", b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n");
    exchange(&mut stream, b"SET k v XX NX\r\n", b"-ERR syntax error\r\n");
    exchange(&mut stream, b"SET k v\r\nINCR k\r\n", b"+OK\r\n-ERR value is not an integer or out of range\r\n");
    let newline = resp(&[b"NO\nSUCH", b"a\r\nb"]);
    exchange(&mut stream, &newline, b"-ERR unknown command 'NO SUCH', with args beginning with: 'a  b' \r\n");
    exchange(&mut stream, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn a_bulk_string_past_proto_max_bulk_len_is_a_protocol_error() {
    let server = start_with(Settings { proto_max_bulk_len: 1024, ..Settings::default() });
    let mut stream = connect(server.addr);
    exchange(&mut stream, &resp(&[b"SET", b"k", &[b'x'; 1024]]), b"+OK\r\n");
    exchange(&mut stream, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1025\r\n", b"-ERR Protocol error: invalid bulk length\r\n");
    expect_closed(&mut stream);
}

#[test]
fn a_request_larger_than_the_default_input_limit_is_served() {
    let server = start();
    let mut stream = connect(server.addr);
    let value = vec![b'v'; 3 * 1024 * 1024];
    let mut args: Vec<&[u8]> = vec![b"MSET"];
    // A 3 MiB value and 20,000 small pairs behind it, in one request.
    let keys: Vec<String> = (0..20_000).map(|i| format!("key:{i}")).collect();
    args.extend([&b"big"[..], &value]);
    for key in &keys {
        args.extend([key.as_bytes(), b"1"]);
    }
    let request = resp(&args);
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&request).unwrap());
    expect_reply(&mut stream, b"+OK\r\n", b"a 3 MiB MSET");
    sender.join().unwrap();
    exchange(&mut stream, b"DBSIZE\r\n", b":20001\r\n");
    exchange(&mut stream, b"STRLEN big\r\n", b":3145728\r\n");
}

#[test]
fn a_client_past_maxclients_is_told_and_closed() {
    let server = start_with(Settings { max_clients: 2, ..Settings::default() });
    let mut first = connect(server.addr);
    let mut second = connect(server.addr);
    exchange(&mut first, b"PING\r\n", b"+PONG\r\n");
    exchange(&mut second, b"PING\r\n", b"+PONG\r\n");
    let mut third = connect(server.addr);
    expect_reply(&mut third, b"-ERR max number of clients reached\r\n", b"(connect)");
    expect_closed(&mut third);
    exchange(&mut first, b"PING\r\n", b"+PONG\r\n");
}
