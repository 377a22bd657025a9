//! Messages between a group's loops: under echo load, with queues small
//! enough to fill, every message arrives once and in its sender's order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::{Config, ConnId, Ctx, GroupBuilder, Handler, Origin, Peers, TimerId};
use evloop_tests::group::GroupServer;
use evloop_tests::{connect, round_trip, test_config, TIMEOUT};

/// What loops say to each other.
#[derive(Debug)]
enum Note {
    /// From the test: send `count` numbered notes to every other loop.
    Start { count: u64 },
    /// Number `n` of loop `from`'s notes.
    Numbered { from: usize, n: u64 },
}

/// What a loop reports once it has every note it expects.
#[derive(Debug)]
struct Tally {
    index: usize,
    received: u64,
    out_of_order: u64,
}

/// Echoes its clients, sends numbered notes to every other loop in
/// batches (a timer between batches lets the clients in), and checks the
/// notes it gets.
struct Relay {
    peers: Peers<Note>,
    to_send: u64,
    sent: u64,
    next_from: Vec<u64>,
    received: u64,
    out_of_order: u64,
    expected: u64,
    /// The most notes ever held back for full queues.
    held_peak: usize,
    done: Sender<Tally>,
}

/// Notes posted to each peer per callback.
const BATCH: u64 = 500;

impl Relay {
    fn pump(&mut self, cx: &mut Ctx) {
        self.peers.flush();
        let end = (self.sent + BATCH).min(self.to_send);
        while self.sent < end {
            for to in self.peers.others().collect::<Vec<_>>() {
                let from = self.peers.index();
                self.peers
                    .post(to, Note::Numbered { from, n: self.sent })
                    .expect("peers run until the test stops them");
            }
            self.sent += 1;
        }
        self.held_peak = self.held_peak.max(self.peers.held());
        if self.sent < self.to_send || self.peers.held() > 0 {
            cx.set_timer(Duration::ZERO, 0);
        }
    }
}

impl Handler for Relay {
    type Conn = ();
    type Message = Note;

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        data.len()
    }

    fn on_message(&mut self, cx: &mut Ctx, note: Note) {
        match note {
            Note::Start { count } => {
                self.to_send = count;
                self.pump(cx);
            }
            Note::Numbered { from, n } => {
                if n != self.next_from[from] {
                    self.out_of_order += 1;
                }
                self.next_from[from] = n + 1;
                self.received += 1;
                if self.received == self.expected {
                    let tally =
                        Tally { index: self.peers.index(), received: self.received, out_of_order: self.out_of_order };
                    let _ = self.done.send(tally);
                }
            }
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: TimerId, _key: u64) {
        self.pump(cx);
    }
}

#[test]
fn notes_between_three_loops_under_echo_load_all_arrive_in_order() {
    const LOOPS: usize = 3;
    const NOTES: u64 = 50_000;
    // A small queue, so that senders find it full and hold notes back.
    let config = Config { message_queue_capacity: 64, ..test_config() };
    let (done, tallies) = mpsc::channel();
    let server = GroupServer::start(GroupBuilder::new(config).threads(LOOPS), move |_, peers| Relay {
        peers,
        to_send: 0,
        sent: 0,
        next_from: vec![0; LOOPS],
        received: 0,
        out_of_order: 0,
        expected: NOTES * (LOOPS as u64 - 1),
        held_peak: 0,
        done: done.clone(),
    });
    // Echo load on every loop while the notes flow.
    let stop_load = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..12)
        .map(|client| {
            let (addr, stop_load) = (server.addr, Arc::clone(&stop_load));
            thread::spawn(move || {
                let mut stream = connect(addr);
                let deadline = Instant::now() + TIMEOUT;
                let mut trips = 0u64;
                while !stop_load.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let message = format!("client {client} trip {trips}\n");
                    assert_eq!(round_trip(&mut stream, message.as_bytes()), message.as_bytes());
                    trips += 1;
                }
                trips
            })
        })
        .collect();
    for index in 0..LOOPS {
        server.handle.send(index, Note::Start { count: NOTES }).expect("the loop is running");
    }
    let mut seen = Vec::new();
    for _ in 0..LOOPS {
        seen.push(tallies.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("not every loop got every note: {seen:?}")));
    }
    stop_load.store(true, Ordering::Relaxed);
    let trips: u64 = load.into_iter().map(|client| client.join().expect("a client failed")).sum();
    let exits = server.stop();
    for tally in &seen {
        assert_eq!(tally.received, NOTES * (LOOPS as u64 - 1), "loop {}: every note once", tally.index);
        assert_eq!(tally.out_of_order, 0, "loop {}: each sender's notes in order", tally.index);
    }
    for exit in &exits {
        let relay = exit.handler.as_ref().expect("every loop ran");
        assert_eq!(relay.peers.held(), 0, "loop {} still held notes", exit.index);
    }
    assert!(trips > 0, "the clients were served meanwhile");
    let held_peak = exits.iter().filter_map(|exit| exit.handler.as_ref()).map(|relay| relay.held_peak).max();
    assert!(held_peak > Some(0), "no queue ever filled: the test did not exercise holding");
}
