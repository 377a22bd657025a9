//! A loop group meets a loop's limits and a loop's stop: `Spread` promises
//! that the free loops take the new connections, so a loop at
//! `max_connections` leaves a shared listener's backlog to a sibling with
//! room, and a loop that is stopping gets no connections from the
//! acceptor (it would drop them).

use std::sync::mpsc::{self, Receiver, Sender};

use evloop::{CloseReason, Config, ConnId, Ctx, GroupBuilder, Handler, Origin, PeerAddr, Refusal, Spread};
use evloop_tests::group::GroupServer;
use evloop_tests::{connect, connect_with_small_receive_buffer, round_trip, test_config, TIMEOUT};

/// Far more than the kernel's buffers take from a peer that does not
/// read: most of it stays queued in the loop.
const STOP_REPLY: usize = 16 * 1024 * 1024;

/// What a loop of the group saw, with the loop's index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Open(usize, ConnId),
    Close(usize, ConnId, CloseReason),
    Stop(usize),
}

/// Echoes; `stop` makes its loop queue a large reply (for a peer that
/// does not read, so the loop's drain lasts) and stop. Refusals say so.
struct Member {
    index: usize,
    seen: Sender<Seen>,
}

impl Handler for Member {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, id: ConnId, _: Origin) {
        let _ = self.seen.send(Seen::Open(self.index, id));
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        if data == b"stop" {
            cx.send(id, &vec![b's'; STOP_REPLY]);
            cx.stop();
        } else {
            cx.send(id, data);
        }
        data.len()
    }

    fn on_close(&mut self, _: &mut Ctx, id: ConnId, _: (), reason: CloseReason) {
        let _ = self.seen.send(Seen::Close(self.index, id, reason));
    }

    fn on_stop(&mut self, _: &mut Ctx) {
        let _ = self.seen.send(Seen::Stop(self.index));
    }

    fn on_refused(&mut self, _: &PeerAddr, _: Refusal) -> &[u8] {
        b"-ERR full\r\n"
    }
}

fn start(config: Config, spread: Spread) -> (GroupServer<Member>, Receiver<Seen>) {
    let (seen, events) = mpsc::channel();
    let builder = GroupBuilder::new(config).threads(2).spread(spread);
    let server = GroupServer::start(builder, move |index, _| Member { index, seen: seen.clone() });
    (server, events)
}

#[track_caller]
fn next(events: &Receiver<Seen>) -> Seen {
    events.recv_timeout(TIMEOUT).expect("an event from the group within the timeout")
}

#[track_caller]
fn next_open(events: &Receiver<Seen>) -> (usize, ConnId) {
    match next(events) {
        Seen::Open(index, id) => (index, id),
        other => panic!("expected an open, got {other:?}"),
    }
}

#[test]
fn a_full_loop_leaves_a_shared_listeners_connections_to_a_sibling_with_room() {
    let config = Config { max_connections: 1, ..test_config() };
    let (server, events) = start(config, Spread::SharedListener);
    let mut holder = connect(server.addr);
    assert_eq!(round_trip(&mut holder, b"mine"), b"mine");
    let (full, _) = next_open(&events);
    // Each newcomer, one at a time, finds one loop full and the other
    // empty: it must be served, never refused.
    for attempt in 0..10 {
        let mut newcomer = connect(server.addr);
        let mut reply = [0u8; 2];
        std::io::Write::write_all(&mut newcomer, b"hi").expect("send to the group");
        let read = std::io::Read::read_exact(&mut newcomer, &mut reply);
        assert!(
            read.is_ok() && reply == *b"hi",
            "attempt {attempt}: a newcomer was refused ({read:?}, {reply:?}) while a loop had room"
        );
        let (index, id) = next_open(&events);
        assert_ne!(index, full, "attempt {attempt}: the full loop took a connection past its limit");
        drop(newcomer);
        assert_eq!(next(&events), Seen::Close(index, id, CloseReason::PeerClosed), "the newcomer leaves");
    }
    assert_eq!(round_trip(&mut holder, b"still"), b"still", "the holder is still served");
}

#[test]
fn a_shared_listener_refuses_cleanly_once_every_loop_is_full() {
    let config = Config { max_connections: 1, ..test_config() };
    let (server, events) = start(config, Spread::SharedListener);
    let mut holders: Vec<_> = (0..2).map(|_| connect(server.addr)).collect();
    for holder in &mut holders {
        assert_eq!(round_trip(holder, b"mine"), b"mine");
    }
    let loops: std::collections::HashSet<_> = (0..2).map(|_| next_open(&events).0).collect();
    assert_eq!(loops.len(), 2, "each loop holds one connection");
    let mut newcomer = connect(server.addr);
    let said = evloop_tests::read_to_end(&mut newcomer).expect("a refusal, then end of file, not a hang");
    assert_eq!(said, b"-ERR full\r\n", "the refusal, whole");
}

#[test]
fn the_acceptor_hands_no_connection_to_a_loop_that_is_stopping() {
    let config = Config { shutdown_timeout: TIMEOUT, max_output_bytes: 2 * STOP_REPLY, ..test_config() };
    let (server, events) = start(config, Spread::Acceptor);
    // Three readers that never read: the acceptor alternates, so one loop
    // gets two and the other one. One at a time, so each open is known to
    // be that client's.
    let (mut clients, opened): (Vec<_>, Vec<_>) =
        (0..3).map(|_| (connect_with_small_receive_buffer(server.addr), next_open(&events))).unzip();
    let busier = opened[2].0;
    let lone = opened.iter().position(|&(index, _)| index != busier).expect("both loops got a connection");
    let stopping = opened[lone].0;
    // The loop with one connection stops; its reply to a peer that does
    // not read keeps it draining (up to the shutdown timeout), with one
    // connection open: fewer than its sibling's two.
    std::io::Write::write_all(&mut clients[lone], b"stop").expect("ask the loop to stop");
    loop {
        match next(&events) {
            Seen::Stop(index) if index == stopping => break,
            Seen::Stop(index) => panic!("loop {index} stopped, not loop {stopping}"),
            _ => {}
        }
    }
    let mut newcomer = connect(server.addr);
    let mut reply = [0u8; 5];
    std::io::Write::write_all(&mut newcomer, b"hello").expect("send to the group");
    let read = std::io::Read::read_exact(&mut newcomer, &mut reply);
    assert!(
        read.is_ok() && reply == *b"hello",
        "a connection made while loop {stopping} drains was dropped ({read:?}), not served by loop {busier}"
    );
    drop(clients);
}
