//! The echo server end to end: big transfers and many clients.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::io::{Read, Write};
use std::sync::{Arc, Barrier};
use std::thread;

use echo::Echo;
use evloop::CloseReason;
use evloop_tests::{connect, round_trip, test_config, Server};
use rand::{Rng, RngCore, SeedableRng};

#[test]
fn random_64_mib_round_trips_intact_in_random_sized_chunks() {
    const TOTAL: usize = 64 * 1024 * 1024;
    let server = Server::start(test_config(), Echo);
    let mut writer = connect(server.addr);
    let mut reader = writer.try_clone().unwrap();

    let sender = thread::spawn(move || {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        let mut chunk = vec![0u8; 128 * 1024];
        let mut hasher = DefaultHasher::new();
        let mut sent = 0;
        while sent < TOTAL {
            let len = rng.gen_range(1..=chunk.len()).min(TOTAL - sent);
            rng.fill_bytes(&mut chunk[..len]);
            writer.write_all(&chunk[..len]).expect("send");
            hasher.write(&chunk[..len]);
            sent += len;
        }
        hasher.finish()
    });

    let mut hasher = DefaultHasher::new();
    let mut received = 0;
    let mut buf = vec![0u8; 100_000];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    while received < TOTAL {
        let want = rng.gen_range(1..=buf.len()).min(TOTAL - received);
        let n = reader.read(&mut buf[..want]).expect("read the echo");
        assert!(n > 0, "the server closed after {received} of {TOTAL} bytes");
        hasher.write(&buf[..n]);
        received += n;
    }
    let sent_hash = sender.join().unwrap();
    assert_eq!(hasher.finish(), sent_hash, "the echoed bytes differ from the bytes sent");

    let (_, stats) = server.stop();
    assert_eq!(stats.bytes_in, TOTAL as u64);
    assert_eq!(stats.bytes_out, TOTAL as u64);
}

#[test]
fn thousand_concurrent_clients_each_echo_a_hundred_messages() {
    const CLIENTS: usize = 1000;
    const MESSAGES: usize = 100;
    let server = Server::start(test_config(), Echo);
    let addr = server.addr;
    let all_connected = Arc::new(Barrier::new(CLIENTS));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let all_connected = Arc::clone(&all_connected);
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut stream = connect(addr);
                    all_connected.wait();
                    for message in 0..MESSAGES {
                        let text = format!("client {client} message {message}\n");
                        let reply = round_trip(&mut stream, text.as_bytes());
                        assert_eq!(reply, text.as_bytes(), "client {client} got another client's bytes");
                    }
                })
                .expect("spawn a client thread")
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }
    let (_, stats) = server.stop();
    assert_eq!(stats.accepted, CLIENTS as u64);
    assert_eq!(stats.closed_total(), CLIENTS as u64, "every connection closes exactly once");
    // A client's FIN may still be in flight when the stop lands.
    let ended = stats.closed(CloseReason::PeerClosed) + stats.closed(CloseReason::Shutdown);
    assert_eq!(ended, CLIENTS as u64, "closes by an unexpected reason: {stats}");
}
