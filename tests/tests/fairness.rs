//! One connection sending nonstop cannot starve the others: the read
//! budget per connection per turn hands the loop to everyone in turn.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use evloop::{ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, round_trip, test_config, wait_until, Server, TIMEOUT};

/// Swallows everything from a connection whose first byte is `F`, echoes
/// everything else.
#[derive(Debug, Default)]
struct SinkOrEcho {
    swallowed: Arc<AtomicU64>,
}

impl Handler for SinkOrEcho {
    /// Whether this connection is the flooder, once its first byte says.
    type Conn = Option<bool>;
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> Option<bool> {
        None
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, flooder: &mut Option<bool>, data: &[u8]) -> usize {
        if *flooder.get_or_insert(data[0] == b'F') {
            self.swallowed.fetch_add(data.len() as u64, Ordering::Relaxed);
        } else {
            cx.send(id, data);
        }
        data.len()
    }
}

#[test]
fn a_flooding_client_does_not_starve_round_trips_on_another() {
    const ROUND_TRIPS: usize = 1000;
    let handler = SinkOrEcho::default();
    let swallowed = handler.swallowed.clone();
    let server = Server::start(test_config(), handler);

    let stop = Arc::new(AtomicBool::new(false));
    let mut flood = connect(server.addr);
    let flooding = {
        let stop = stop.clone();
        thread::spawn(move || {
            let block = vec![b'F'; 256 * 1024];
            let deadline = Instant::now() + TIMEOUT;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                flood.write_all(&block).expect("the server keeps reading the flood");
            }
        })
    };
    wait_until("the flood reaches the server", || swallowed.load(Ordering::Relaxed) > 1024 * 1024);

    let mut client = connect(server.addr);
    let before = swallowed.load(Ordering::Relaxed);
    for i in 0..ROUND_TRIPS {
        let message = format!("round trip {i}");
        assert_eq!(round_trip(&mut client, message.as_bytes()), message.as_bytes());
    }
    let during = swallowed.load(Ordering::Relaxed) - before;
    assert!(!flooding.is_finished(), "the flood went on for the whole test");
    stop.store(true, Ordering::Relaxed);
    flooding.join().unwrap();
    assert!(during > 0, "the flood was being served at the same time");
}

/// Notes, per turn (the loop's `poll_calls` when a callback runs), the
/// bytes `on_data` got and the connections opened; a message holds the loop
/// until the test releases it, so work piles up for the turns after.
struct TurnCounter {
    release: std::sync::mpsc::Receiver<()>,
    held: std::sync::mpsc::Sender<()>,
    bytes_by_turn: std::collections::BTreeMap<u64, usize>,
    opens_by_turn: std::collections::BTreeMap<u64, usize>,
    bytes: Arc<AtomicU64>,
    opens: Arc<AtomicU64>,
}

impl TurnCounter {
    fn new() -> (TurnCounter, std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>) {
        let (release_tx, release) = std::sync::mpsc::channel();
        let (held, held_rx) = std::sync::mpsc::channel();
        let counter = TurnCounter {
            release,
            held,
            bytes_by_turn: Default::default(),
            opens_by_turn: Default::default(),
            bytes: Default::default(),
            opens: Default::default(),
        };
        (counter, release_tx, held_rx)
    }
}

impl Handler for TurnCounter {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, _id: ConnId, _origin: Origin) {
        *self.opens_by_turn.entry(cx.stats().poll_calls).or_default() += 1;
        self.opens.fetch_add(1, Ordering::Relaxed);
    }

    fn on_data(&mut self, cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        *self.bytes_by_turn.entry(cx.stats().poll_calls).or_default() += data.len();
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        data.len()
    }

    fn on_message(&mut self, _cx: &mut Ctx, _message: ()) {
        let _ = self.held.send(());
        self.release.recv_timeout(TIMEOUT).expect("the test releases the loop");
    }
}

#[test]
fn a_flooding_connection_reads_at_most_its_budget_per_turn() {
    let config = evloop::Config { read_budget_bytes: 64 * 1024, read_buffer_bytes: 16 * 1024, ..test_config() };
    let per_turn = config.read_budget_bytes + config.read_buffer_bytes;
    let (counter, release, held) = TurnCounter::new();
    let bytes = counter.bytes.clone();
    let server = Server::start(config, counter);
    let mut flood = connect(server.addr);
    flood.write_all(b"F").unwrap();
    wait_until("the first byte arrives", || bytes.load(Ordering::Relaxed) == 1);
    server.handle.send(()).unwrap();
    held.recv_timeout(TIMEOUT).expect("the loop is held");
    // While the loop is held, fill the kernel's buffers: a few MiB wait.
    flood.set_nonblocking(true).unwrap();
    let block = vec![b'F'; 64 * 1024];
    let mut sent = 1u64;
    while let Ok(n) = flood.write(&block) {
        sent += n as u64;
    }
    release.send(()).unwrap();
    wait_until("the backlog is read", || bytes.load(Ordering::Relaxed) == sent);
    let (counter, _) = server.stop();
    let (turn, most) = counter.bytes_by_turn.iter().max_by_key(|(_, bytes)| **bytes).unwrap();
    assert!(sent > 4 * per_turn as u64, "the backlog ({sent} bytes) must span several turns");
    assert!(*most <= per_turn, "turn {turn} read {most} bytes from one connection; the budget allows {per_turn}");
}

#[test]
fn at_most_the_accept_cap_is_accepted_per_turn() {
    const CLIENTS: usize = 1_000;
    let (counter, release, held) = TurnCounter::new();
    let opens = counter.opens.clone();
    let server = Server::start(test_config(), counter);
    server.handle.send(()).unwrap();
    held.recv_timeout(TIMEOUT).expect("the loop is held");
    // Connects complete in the kernel's backlog while the loop is held.
    let clients: Vec<_> = (0..CLIENTS).map(|_| connect(server.addr)).collect();
    release.send(()).unwrap();
    wait_until("every client is accepted", || opens.load(Ordering::Relaxed) == CLIENTS as u64);
    let (counter, _) = server.stop();
    drop(clients);
    let most = counter.opens_by_turn.values().max().copied().unwrap_or(0);
    assert!(most <= 256, "{most} connections accepted in one turn; the cap is 256");
    assert!(counter.opens_by_turn.len() >= CLIENTS / 256, "the backlog spread over several turns");
}
