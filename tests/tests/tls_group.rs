//! A loop group serving TLS (`LoopGroup::listen_tls`) under each way of
//! spreading connections, beside a plaintext listener.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;

use evloop::{GroupBuilder, Spread};
use evloop_tests::tls::{connect_tls, tls_round_trip, TestPki};
use evloop_tests::{connect, test_config, Recorder, TIMEOUT};

fn echoes_over_tls_and_plaintext_under(spread: Spread) {
    let pki = TestPki::new();
    let tls = pki.server_config();
    let (ready_tx, ready_rx) = mpsc::channel();
    let group = thread::spawn(move || {
        let builder = GroupBuilder::new(test_config()).threads(2).spread(spread);
        let mut group = builder.build(|_, _| Recorder::new().0).expect("build the group");
        // A plaintext listener first, so the TLS one is not index 0.
        let plain = group.listen("127.0.0.1:0".parse().unwrap()).expect("listen");
        let secure = group.listen_tls("127.0.0.1:0".parse().unwrap(), tls).expect("listen_tls");
        ready_tx.send((plain, secure, group.handle())).unwrap();
        group.run().expect("run the group")
    });
    let (plain, secure, handle) = ready_rx.recv_timeout(TIMEOUT).expect("the group started");
    for i in 0..8 {
        let mut client = connect_tls(secure, pki.client_config());
        let message = format!("tls client {i} under {spread:?}");
        assert_eq!(
            tls_round_trip(&mut client, message.as_bytes()),
            message.as_bytes(),
            "the TLS echo under {spread:?}"
        );
    }
    let mut raw = connect(plain);
    raw.write_all(b"plain").unwrap();
    let mut reply = [0; 5];
    raw.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"plain", "the plaintext listener stays plaintext under {spread:?}");
    let _ = handle.stop();
    let exits = group.join().expect("the group thread");
    let handshakes: u64 = exits.iter().map(|exit| exit.stats.tls_handshakes).sum();
    assert_eq!(handshakes, 8, "every TLS client was served by some loop under {spread:?}");
}

#[test]
fn a_group_serves_tls_with_reuseport() {
    echoes_over_tls_and_plaintext_under(Spread::ReusePort);
}

#[test]
fn a_group_serves_tls_with_a_shared_listener() {
    echoes_over_tls_and_plaintext_under(Spread::SharedListener);
}

#[test]
fn a_group_serves_tls_through_its_acceptor() {
    echoes_over_tls_and_plaintext_under(Spread::Acceptor);
}
