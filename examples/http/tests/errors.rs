//! Error answers, with the statuses RFC 9110 and 9112 give: a request the
//! server cannot frame is answered and the connection closed; the others
//! keep it.

mod common;

use common::{get, start, start_with, Raw};
use http::Settings;

/// Sends `request` on a fresh connection and returns the answer.
#[track_caller]
fn answer_to(raw: &mut Raw, request: &[u8]) -> u16 {
    raw.send(request);
    raw.response().status
}

#[test]
fn malformed_head_is_400_and_closes() {
    let server = start();
    for request in [
        &b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n"[..],
        b"G\x01T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let mut raw = Raw::connect(server.addr);
        assert_eq!(answer_to(&mut raw, request), 400, "{:?}", request.escape_ascii().to_string());
        raw.expect_closed();
    }
}

#[test]
fn not_found_keeps_the_connection() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    assert_eq!(answer_to(&mut raw, &get("/missing")), 404);
    raw.expect_open();
}

#[test]
fn method_not_allowed_keeps_the_connection_and_says_allow() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    raw.send(b"PUT /json HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = raw.response();
    assert_eq!((response.status, response.header("allow")), (405, Some("GET, HEAD")));
    raw.expect_open();
}

#[test]
fn body_sent_to_a_route_that_takes_none_is_dropped_and_the_connection_kept() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    assert_eq!(answer_to(&mut raw, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"), 405);
    raw.expect_open();
}

#[test]
fn declared_body_past_the_limit_is_413_and_closes() {
    let server = start_with(Settings { max_body_bytes: 1000, ..Settings::default() });
    let mut raw = Raw::connect(server.addr);
    assert_eq!(answer_to(&mut raw, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000000\r\n\r\n"), 413);
    raw.expect_closed();
}

#[test]
fn long_target_is_414_and_closes() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let request = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(10_000));
    assert_eq!(answer_to(&mut raw, request.as_bytes()), 414);
    raw.expect_closed();
}

#[test]
fn hundred_kib_of_headers_is_431_and_closes() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let request = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "b".repeat(100 * 1024));
    // The server answers once 32 KiB are in, and may close before the
    // rest is written: write from another thread, ignore its error.
    let mut writer = raw.stream().try_clone().unwrap();
    let sender = std::thread::spawn(move || std::io::Write::write_all(&mut writer, request.as_bytes()));
    assert_eq!(raw.response().status, 431);
    raw.expect_closed();
    let _ = sender.join();
}

#[test]
fn ten_thousand_headers_is_431_and_closes() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let headers: String = (0..10_000).map(|i| format!("X-{i}: y\r\n")).collect();
    let request = format!("GET / HTTP/1.1\r\nHost: t\r\n{headers}\r\n");
    let mut writer = raw.stream().try_clone().unwrap();
    let sender = std::thread::spawn(move || std::io::Write::write_all(&mut writer, request.as_bytes()));
    assert_eq!(raw.response().status, 431);
    raw.expect_closed();
    let _ = sender.join();
}

#[test]
fn unsupported_version_is_505_and_closes() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    assert_eq!(answer_to(&mut raw, b"GET / HTTP/2.0\r\nHost: t\r\n\r\n"), 505);
    raw.expect_closed();
}

#[test]
fn content_length_beside_chunked_is_400_and_closes() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    let smuggle = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(answer_to(&mut raw, smuggle), 400);
    raw.expect_closed();
}

#[test]
fn unknown_transfer_coding_is_501_and_closes() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    assert_eq!(answer_to(&mut raw, b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
    raw.expect_closed();
}
