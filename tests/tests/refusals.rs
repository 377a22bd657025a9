//! Connection limits meet lingering and early input: a refusal reaches a
//! peer that had already sent something (a refused socket is not closed
//! with its input unread, which would reset it and lose the message), and
//! `max_connections_per_ip` counts connections open for the application,
//! not sockets lingering after their `on_close`.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, Sender};

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin, PeerAddr, Refusal};
use evloop_tests::{connect, read_to_end, round_trip, test_config, Server, TIMEOUT};

const REFUSAL: &[u8] = b"-ERR max number of clients reached\r\n";

/// Echoes; closes a connection that says `bye`; refuses with a message;
/// reports every `on_close`.
struct Refuser {
    closed: Sender<(ConnId, CloseReason)>,
}

impl Handler for Refuser {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        if data == b"bye" {
            cx.close(id);
        } else {
            cx.send(id, data);
        }
        data.len()
    }

    fn on_close(&mut self, _: &mut Ctx, id: ConnId, _: (), reason: CloseReason) {
        let _ = self.closed.send((id, reason));
    }

    fn on_refused(&mut self, _: &PeerAddr, _: Refusal) -> &[u8] {
        REFUSAL
    }
}

fn start(config: Config) -> (Server<Refuser>, Receiver<(ConnId, CloseReason)>) {
    let (closed, on_close) = mpsc::channel();
    (Server::start(config, Refuser { closed }), on_close)
}

#[test]
fn a_refused_peer_that_already_sent_input_still_reads_the_refusal_then_end_of_file() {
    let (server, _) = start(Config { max_connections: 1, ..test_config() });
    let mut admitted = connect(server.addr);
    assert_eq!(round_trip(&mut admitted, b"in"), b"in");
    for attempt in 0..20 {
        let mut turned_away = connect(server.addr);
        // Sent before the loop gets to the accept, as a client that does
        // not wait for a greeting does.
        turned_away.write_all(b"let me in").expect("send before the refusal");
        let said = read_to_end(&mut turned_away)
            .unwrap_or_else(|e| panic!("attempt {attempt}: the refusal then end of file, not {e}"));
        assert_eq!(said, REFUSAL, "attempt {attempt}: the handler's refusal, whole");
    }
    assert_eq!(round_trip(&mut admitted, b"still"), b"still", "the admitted peer is still served");
}

#[test]
fn max_connections_per_ip_does_not_count_a_connection_lingering_after_its_close() {
    // A linger far longer than the test: only the peer's end of file ends it.
    let config = Config { max_connections_per_ip: Some(1), linger_timeout: TIMEOUT, ..test_config() };
    let (server, on_close) = start(config);
    let mut leaving = connect(server.addr);
    leaving.write_all(b"bye").unwrap();
    let (_, reason) = on_close.recv_timeout(TIMEOUT).expect("the application closes the first connection");
    assert_eq!(reason, CloseReason::App);
    // `leaving` keeps its side open: the server's socket lingers, but the
    // application has closed the connection, so the address has none open.
    let mut next = connect(server.addr);
    next.write_all(b"again").unwrap();
    let mut reply = [0u8; 5];
    let read = next.read_exact(&mut reply);
    assert!(
        read.is_ok() && reply == *b"again",
        "a connection from an address with none open (one lingering) was refused: {read:?}, {:?}",
        String::from_utf8_lossy(&reply)
    );
    drop(leaving);
}
