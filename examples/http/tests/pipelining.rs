//! Pipelined requests, over raw sockets: answered in order, however they
//! are split, behind a body, and past what the output buffer holds.

mod common;

use std::io::Read;
use std::thread;

use common::{get, pattern, start, start_with, Raw};
use http::Settings;

#[test]
fn sixteen_pipelined_requests_in_one_write_are_answered_in_order() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let paths = ["/", "/json", "/nope"];
    let batch: Vec<u8> = (0..16).flat_map(|i| get(paths[i % 3])).collect();
    raw.send(&batch);
    for i in 0..16 {
        let response = raw.response();
        let expected = [200, 200, 404][i % 3];
        assert_eq!(response.status, expected, "response {i} out of order");
    }
    raw.expect_open();
}

#[test]
fn requests_split_at_every_byte_are_answered() {
    let server = start();
    let request = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
GET /json HTTP/1.1\r\nHost: t\r\n\r\n";
    for split in 1..request.len() {
        let mut raw = Raw::connect(server.addr);
        // Two writes, two segments (TCP_NODELAY): the server sees the
        // request cut at `split`, unless it was too slow to read between.
        raw.send(&request[..split]);
        raw.send(&request[split..]);
        let echo = raw.response();
        assert_eq!(echo.body, b"hello", "echo with the request split at byte {split}");
        let json = raw.response();
        assert_eq!(json.status, 200, "second request with the split at byte {split}");
    }
}

#[test]
fn request_pipelined_behind_a_large_echoed_body_is_answered_after_it() {
    let settings = Settings { max_body_bytes: 16 * 1024 * 1024, ..Settings::default() };
    let server = start_with(settings);
    let mut raw = Raw::connect(server.addr);
    // 12 MiB up and back, far more than the socket buffers and the output
    // limit (4 MiB) hold: the echo keeps pace with the client's reading.
    let body = pattern(12 * 1024 * 1024);
    let mut batch = format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    batch.extend_from_slice(&body);
    batch.extend_from_slice(&get("/json"));
    // Written from another thread: the server's answer fills the socket
    // while the request is still being written.
    let mut writer = raw.stream().try_clone().unwrap();
    let sender = thread::spawn(move || std::io::Write::write_all(&mut writer, &batch));
    let echo = raw.response();
    assert!(echo.body == body, "the 12 MiB echo differs");
    let json = raw.response();
    assert_eq!(json.text(), r#"{"message":"Hello, World!"}"#, "the request behind the body");
    sender.join().unwrap().expect("write the batch");
}

#[test]
fn ten_thousand_pipelined_requests_from_a_client_that_reads_late_are_all_answered() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let batch: Vec<u8> = (0..10_000).flat_map(|_| get("/")).collect();
    // Written while nothing is read: the server stops reading once its
    // output for this client passes the high watermark, so the write
    // blocks until the reader below starts.
    let mut writer = raw.stream().try_clone().unwrap();
    let sender = thread::spawn(move || std::io::Write::write_all(&mut writer, &batch));
    for i in 0..10_000 {
        let response = raw.read_response(false).unwrap_or_else(|err| panic!("response {i}: {err}"));
        assert_eq!(response.body, b"Hello, World!", "response {i}");
    }
    sender.join().unwrap().expect("write the 10,000 requests");
    raw.expect_open();
}

#[test]
fn http10_request_is_answered_and_closed_unless_it_asks_to_keep_alive() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    raw.send(b"GET / HTTP/1.0\r\n\r\n");
    let response = raw.response();
    assert_eq!(response.header("connection"), Some("close"));
    raw.expect_closed();
    let mut raw = Raw::connect(server.addr);
    raw.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(raw.response().header("connection"), Some("keep-alive"));
    raw.expect_open();
}

#[test]
fn connection_close_closes_after_the_answer_and_drops_what_follows() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let mut batch = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec();
    batch.extend_from_slice(&get("/json"));
    raw.send(&batch);
    assert_eq!(raw.response().body, b"Hello, World!");
    raw.expect_closed();
}

#[test]
fn expect_100_continue_gets_continue_before_the_body() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    raw.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let interim = raw.response();
    assert_eq!(interim.status, 100, "100 Continue before the body is sent");
    raw.send(b"ping");
    let response = raw.response();
    assert_eq!((response.status, response.body.as_slice()), (200, &b"ping"[..]));
    raw.expect_open();
}

#[test]
fn half_closed_client_gets_every_pipelined_answer_then_end_of_file() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let batch: Vec<u8> = (0..16).flat_map(|_| get("/json")).collect();
    raw.send(&batch);
    raw.stream().shutdown(std::net::Shutdown::Write).unwrap();
    for i in 0..16 {
        assert_eq!(raw.response().status, 200, "response {i}");
    }
    let mut rest = Vec::new();
    raw.stream().read_to_end(&mut rest).expect("end of file");
    assert!(rest.is_empty(), "nothing after the 16 responses");
}
