//! Memory given back after one-off work: a request of very many
//! arguments, a reply of very many elements, and 100k channels
//! subscribed and left.

mod common;

use common::{client, query, start};

#[test]
fn a_request_of_100k_arguments_leaves_no_large_buffer_behind() {
    let server = start();
    let mut con = client(server.addr);
    let keys: Vec<String> = (0..100_000).map(|i| format!("key:{i}")).collect();
    let mut del = redis::cmd("DEL");
    del.arg(&keys);
    assert_eq!(del.query::<i64>(&mut con).expect("DEL of 100k keys"), 0);
    let mut push = redis::cmd("RPUSH");
    push.arg("l").arg(&keys);
    assert_eq!(push.query::<i64>(&mut con).expect("RPUSH of 100k"), 100_000);
    let all: Vec<String> = query(&mut con, &["LRANGE", "l", "0", "-1"]);
    assert_eq!(all.len(), 100_000, "a reply of 100k elements");
    drop(con);
    let (kv, _) = server.stop();
    assert!(kv.scratch_bytes() <= 128 * 1024, "{} bytes of buffers kept after the one-off work", kv.scratch_bytes());
}

#[test]
fn channels_subscribed_and_left_give_their_room_back() {
    let server = start();
    let mut con = client(server.addr);
    let channels: Vec<String> = (0..100_000).map(|i| format!("channel:{i}")).collect();
    for _ in 0..2 {
        let mut pubsub = con.as_pubsub();
        for chunk in channels.chunks(10_000) {
            pubsub.subscribe(chunk).expect("SUBSCRIBE 10k channels");
        }
        pubsub.unsubscribe(&channels).expect("UNSUBSCRIBE all");
    }
    let info: String = query(&mut con, &["INFO", "stats"]);
    assert!(info.contains("pubsub_channels:0\r\n"), "no channel left:\n{info}");
    drop(con);
    let (kv, _) = server.stop();
    let capacity = kv.server().pubsub.channel_capacity();
    assert!(capacity <= 1024, "the registry kept room for {capacity} channels with none left");
}
