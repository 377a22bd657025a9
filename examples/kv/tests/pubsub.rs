//! Publish/subscribe: fan-out to many subscribers, patterns, and a
//! subscriber that stops reading dropped at its output limit while the
//! others go on.

mod common;

use std::io::Read;

use common::{client, exchange, query, resp, start, start_with};
use evloop_tests::connect_with_small_receive_buffer;
use kv::Settings;

#[test]
fn a_message_reaches_100_subscribers() {
    let server = start();
    let mut connections: Vec<redis::Connection> = (0..100).map(|_| client(server.addr)).collect();
    let mut subscribers: Vec<redis::PubSub<'_>> = connections
        .iter_mut()
        .map(|con| {
            let mut pubsub = con.as_pubsub();
            pubsub.subscribe("news").expect("subscribe");
            pubsub
        })
        .collect();
    let mut publisher = client(server.addr);
    assert_eq!(query::<i64>(&mut publisher, &["PUBLISH", "news", "hello"]), 100, "PUBLISH counts the receivers");
    assert_eq!(query::<i64>(&mut publisher, &["PUBLISH", "other", "x"]), 0);
    for (i, subscriber) in subscribers.iter_mut().enumerate() {
        let message = subscriber.get_message().unwrap_or_else(|err| panic!("subscriber {i}: {err}"));
        assert_eq!(message.get_channel_name(), "news");
        assert_eq!(message.get_payload::<String>().unwrap(), "hello", "subscriber {i}");
    }
}

#[test]
fn pattern_subscribers_get_pmessages() {
    let server = start();
    let mut con = client(server.addr);
    let mut pubsub = con.as_pubsub();
    pubsub.psubscribe("news.*").unwrap();
    let mut publisher = client(server.addr);
    assert_eq!(query::<i64>(&mut publisher, &["PUBLISH", "news.sport", "goal"]), 1);
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_pattern::<String>().unwrap(), "news.*");
    assert_eq!(message.get_channel_name(), "news.sport");
    assert_eq!(message.get_payload::<String>().unwrap(), "goal");
}

#[test]
fn subscribe_confirmations_and_the_subscribed_context_read_as_redis() {
    let server = start();
    let mut stream = evloop_tests::connect(server.addr);
    exchange(
        &mut stream,
        b"SUBSCRIBE a b\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
    );
    exchange(
        &mut stream,
        b"GET k\r\n",
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    exchange(&mut stream, b"PING\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    exchange(&mut stream, b"UNSUBSCRIBE a\r\n", b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
    exchange(&mut stream, b"UNSUBSCRIBE\r\n", b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
    exchange(&mut stream, b"UNSUBSCRIBE\r\n", b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    exchange(&mut stream, b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn a_subscriber_that_never_reads_is_dropped_and_the_others_go_on() {
    let settings = Settings { pubsub_output_limit: 256 * 1024, ..Settings::default() };
    let server = start_with(settings);
    let mut stalled = connect_with_small_receive_buffer(server.addr);
    exchange(&mut stalled, &resp(&[b"SUBSCRIBE", b"feed"]), b"*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n");
    let mut reader_con = client(server.addr);
    let mut reader = reader_con.as_pubsub();
    reader.subscribe("feed").unwrap();
    let mut publisher = client(server.addr);
    let payload = "x".repeat(4096);
    // 4 MiB in all, sixteen times the stalled subscriber's limit: it must
    // be dropped well before the end, while the reader gets everything.
    let mut receivers = Vec::new();
    for i in 0..1024 {
        receivers.push(query::<i64>(&mut publisher, &["PUBLISH", "feed", &payload]));
        let message = reader.get_message().unwrap_or_else(|err| panic!("message {i} to the reader: {err}"));
        assert_eq!(message.get_payload::<String>().unwrap().len(), 4096);
    }
    assert_eq!(receivers[0], 2, "both subscribed at first");
    assert_eq!(receivers.last(), Some(&1), "the stalled subscriber was dropped");
    // What it had been sent before it was dropped, then the close.
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest);
    assert!(rest.len() < 1024 * 4200, "the stalled subscriber was cut off, not sent everything");
    let info: String = query(&mut publisher, &["INFO", "stats"]);
    assert!(info.contains("pubsub_channels:1\r\n"), "the reader is still subscribed:\n{info}");
}

#[test]
fn a_dropped_subscriber_reads_every_message_queued_then_a_clean_eof() {
    let settings = Settings { pubsub_output_limit: 128 * 1024, ..Settings::default() };
    let server = start_with(settings);
    let mut stalled = connect_with_small_receive_buffer(server.addr);
    exchange(&mut stalled, &resp(&[b"SUBSCRIBE", b"feed"]), b"*3\r\n$9\r\nsubscribe\r\n$4\r\nfeed\r\n:1\r\n");
    let mut publisher = client(server.addr);
    let payload = "y".repeat(4096);
    // Publish until the stalled subscriber is dropped (a PUBLISH reaches
    // nobody), at most 4,096 times: 16 MiB, far past its 128 KiB limit.
    let mut delivered = 0;
    for _ in 0..4096 {
        match query::<i64>(&mut publisher, &["PUBLISH", "feed", &payload]) {
            1 => delivered += 1,
            _ => break,
        }
    }
    assert!(delivered > 0 && delivered < 4096, "the subscriber was dropped after {delivered} messages");
    let mut rest = Vec::new();
    let read = stalled.read_to_end(&mut rest);
    assert!(read.is_ok(), "the dropped subscriber got a reset, not an EOF: {read:?}");
    let message = [&b"*3\r\n$7\r\nmessage\r\n$4\r\nfeed\r\n$4096\r\n"[..], payload.as_bytes(), b"\r\n"].concat();
    assert_eq!(rest.len() % message.len(), 0, "only whole messages arrive");
    assert!(rest.chunks(message.len()).all(|chunk| chunk == message), "every message arrives intact");
    assert_eq!(rest.len() / message.len(), delivered, "every message PUBLISH counted as delivered arrives");
}
