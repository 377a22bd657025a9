//! nginx's timeouts: a head that takes too long (slowloris), a keep-alive
//! connection idle too long, a body that stalls.

mod common;

use std::time::{Duration, Instant};

use common::{get, start_with, Raw};
use http::Settings;

/// Short timeouts, so the tests take a fraction of a second each.
fn quick(settings: Settings) -> Settings {
    Settings {
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        keepalive_timeout: Duration::from_millis(300),
        ..settings
    }
}

#[track_caller]
fn closed_within(raw: &mut Raw, started: Instant, at_least: Duration) {
    raw.expect_closed();
    let took = started.elapsed();
    assert!(took >= at_least, "closed after {took:?}, before its timeout of {at_least:?}");
}

#[test]
fn head_trickling_in_a_byte_at_a_time_is_closed_at_the_header_timeout() {
    let server = start_with(quick(Settings::default()));
    let mut raw = Raw::connect(server.addr);
    let started = Instant::now();
    // A byte every 20 ms, for up to 8 s: the connection is never idle, but
    // its head is never done either.
    let mut writer = raw.stream().try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        let head = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: {}", "s".repeat(400));
        for byte in head.bytes() {
            if std::io::Write::write_all(&mut writer, &[byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    closed_within(&mut raw, started, Duration::from_millis(300));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(6), "still open after {took:?} of trickling");
    trickle.join().unwrap();
}

#[test]
fn idle_keep_alive_connection_is_closed_after_the_keepalive_timeout() {
    let server = start_with(quick(Settings::default()));
    let mut raw = Raw::connect(server.addr);
    raw.send(&get("/"));
    assert_eq!(raw.response().status, 200);
    let started = Instant::now();
    closed_within(&mut raw, started, Duration::from_millis(300));
}

#[test]
fn connection_that_never_sends_a_byte_is_closed_after_the_keepalive_timeout() {
    let server = start_with(quick(Settings::default()));
    let mut raw = Raw::connect(server.addr);
    let started = Instant::now();
    closed_within(&mut raw, started, Duration::from_millis(300));
}

#[test]
fn body_that_stalls_is_cut_after_the_body_timeout() {
    let server = start_with(quick(Settings::default()));
    let mut raw = Raw::connect(server.addr);
    raw.send(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nonly this");
    assert_eq!(raw.response().status, 404, "the answer comes before the body");
    let started = Instant::now();
    closed_within(&mut raw, started, Duration::from_millis(250));
}

#[test]
fn keep_alive_timeout_zero_closes_after_every_response() {
    let server = start_with(Settings { keepalive_timeout: Duration::ZERO, ..Settings::default() });
    let mut raw = Raw::connect(server.addr);
    raw.send(&get("/"));
    assert_eq!(raw.response().header("connection"), Some("close"));
    raw.expect_closed();
}
