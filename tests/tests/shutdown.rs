//! Graceful shutdown: on `LoopHandle::stop` or `Ctx::stop` the loop stops
//! accepting, gives queued output up to `Config::shutdown_timeout` to
//! flush, closes every connection with `Shutdown`, and `run` returns.

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, connect_with_small_receive_buffer, test_config, Server, TIMEOUT};

#[derive(Debug, PartialEq)]
enum Seen {
    /// `on_open`, with the output left queued after the initial send.
    Open(ConnId, usize),
    Stop,
    Close(ConnId, CloseReason),
}

/// Sends `first_output` bytes of a known pattern to the first connection
/// as it opens, stops the loop when a client sends `stop`, and optionally says
/// goodbye to everyone from `on_stop`.
struct Stopper {
    first_output: usize,
    /// Stop the loop right after the first connection's output is queued.
    stop_after_first_output: bool,
    goodbye: bool,
    open: BTreeSet<ConnId>,
    seen: Sender<Seen>,
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

impl Handler for Stopper {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) {
        self.open.insert(id);
        let output = std::mem::take(&mut self.first_output);
        if output > 0 {
            cx.send(id, &pattern(output));
            if self.stop_after_first_output {
                cx.stop();
            }
        }
        let _ = self.seen.send(Seen::Open(id, cx.queued_output(id).unwrap_or(0)));
    }

    fn on_data(&mut self, cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        if data.windows(4).any(|w| w == b"stop") {
            cx.stop();
        }
        data.len()
    }

    fn on_stop(&mut self, cx: &mut Ctx) {
        let _ = self.seen.send(Seen::Stop);
        if self.goodbye {
            for id in &self.open {
                cx.send(*id, b"bye\n");
            }
        }
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        self.open.remove(&id);
        let _ = self.seen.send(Seen::Close(id, reason));
    }
}

fn start(config: Config, first_output: usize, goodbye: bool) -> (Server<Stopper>, Receiver<Seen>) {
    let (seen, rx) = mpsc::channel();
    (
        Server::start(
            config,
            Stopper { first_output, stop_after_first_output: false, goodbye, open: BTreeSet::new(), seen },
        ),
        rx,
    )
}

#[track_caller]
fn next(seen: &Receiver<Seen>) -> Seen {
    seen.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("no event within {TIMEOUT:?}"))
}

#[track_caller]
fn next_open(seen: &Receiver<Seen>) -> (ConnId, usize) {
    match next(seen) {
        Seen::Open(id, queued) => (id, queued),
        other => panic!("expected on_open, got {other:?}"),
    }
}

/// Close reasons reported until every id in `ids` closed.
#[track_caller]
fn close_reasons(seen: &Receiver<Seen>, ids: &[ConnId]) -> Vec<(ConnId, CloseReason)> {
    let mut closed = Vec::new();
    while closed.len() < ids.len() {
        match next(seen) {
            Seen::Close(id, reason) if ids.contains(&id) => closed.push((id, reason)),
            _ => {}
        }
    }
    closed.sort_by_key(|(id, _)| *id);
    closed
}

#[track_caller]
fn expect_eof(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("read to end of file");
    assert!(rest.is_empty(), "expected end of file, got {} more bytes", rest.len());
}

// More than the kernel buffers between server and client (its send buffer
// may grow to 4 MiB), so some of it is still queued in the loop at stop.
const BIG_OUTPUT: usize = 8 * 1024 * 1024;

#[test]
fn stop_flushes_queued_output_to_a_slow_reader_then_closes_everyone_with_shutdown() {
    let config = Config { shutdown_timeout: TIMEOUT, max_output_bytes: 2 * BIG_OUTPUT, ..test_config() };
    let (mut server, seen) = start(config, BIG_OUTPUT, false);
    let mut slow = connect_with_small_receive_buffer(server.addr);
    let (slow_id, queued) = next_open(&seen);
    assert!(queued > 0, "some output must still be queued in the loop when it stops");
    let (mut idle, mut idle_ids) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        idle.push(connect(server.addr));
        idle_ids.push(next_open(&seen).0);
    }
    let server_addr = server.addr;

    server.handle.stop().expect("the loop is running");
    assert_eq!(next(&seen), Seen::Stop);
    // The slow reader holds the loop open, draining: its listener is closed.
    let refused = TcpStream::connect(server_addr).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(refused, Err(ErrorKind::ConnectionRefused), "a connect after stop must be refused");
    assert_eq!(
        close_reasons(&seen, &idle_ids),
        idle_ids.iter().map(|id| (*id, CloseReason::Shutdown)).collect::<Vec<_>>(),
        "connections with nothing queued close at once, with Shutdown"
    );
    for stream in &mut idle {
        expect_eof(stream);
    }

    let mut received = Vec::with_capacity(BIG_OUTPUT);
    let mut buf = [0u8; 8192];
    for reads in 1.. {
        match slow.read(&mut buf).expect("read the queued output") {
            0 => break,
            n => received.extend_from_slice(&buf[..n]),
        }
        // A slow reader; the shutdown timeout is far longer than it needs.
        if reads % 16 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(received.len(), BIG_OUTPUT, "every queued byte is delivered before the close");
    assert!(received == pattern(BIG_OUTPUT), "the output arrived corrupted");
    assert_eq!(close_reasons(&seen, &[slow_id]), vec![(slow_id, CloseReason::Shutdown)]);
    let (_, stats) = server.join();
    assert_eq!(stats.closed(CloseReason::Shutdown), 3);
}

#[test]
fn shutdown_timeout_closes_a_peer_that_never_reads_and_run_returns() {
    let shutdown_timeout = Duration::from_millis(300);
    let config = Config { shutdown_timeout, max_output_bytes: 2 * BIG_OUTPUT, ..test_config() };
    let (mut server, seen) = start(config, BIG_OUTPUT, false);
    let mut stalled = connect_with_small_receive_buffer(server.addr);
    let (id, queued) = next_open(&seen);
    assert!(queued > 0, "output must be queued for the shutdown timeout to matter");

    let stopped_at = Instant::now();
    server.handle.stop().expect("the loop is running");
    assert_eq!(next(&seen), Seen::Stop);
    assert_eq!(close_reasons(&seen, &[id]), vec![(id, CloseReason::Shutdown)]);
    let (_, stats) = server.join();
    assert!(stopped_at.elapsed() >= shutdown_timeout, "closed after {:?}, before the timeout", stopped_at.elapsed());
    assert_eq!(stats.closed(CloseReason::Shutdown), 1);

    // What was still queued in the loop was dropped.
    let mut received = 0;
    let mut buf = [0u8; 65536];
    loop {
        match stalled.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n,
        }
    }
    assert!(received < BIG_OUTPUT, "the peer got all {received} bytes, though the loop gave up on it");
}

#[test]
fn ctx_stop_from_a_callback_closes_every_connection_with_shutdown() {
    let (mut server, seen) = start(test_config(), 0, false);
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        clients.push(connect(server.addr));
        ids.push(next_open(&seen).0);
    }
    clients[0].write_all(b"stop").unwrap();
    assert_eq!(next(&seen), Seen::Stop);
    assert_eq!(close_reasons(&seen, &ids), ids.iter().map(|id| (*id, CloseReason::Shutdown)).collect::<Vec<_>>());
    for client in &mut clients {
        expect_eof(client);
    }
    let (handler, stats) = server.join();
    assert!(handler.open.is_empty(), "on_close fired for every connection");
    assert_eq!(stats.closed(CloseReason::Shutdown), 3);
}

#[test]
fn on_stop_can_say_goodbye_before_every_connection_closes() {
    let (server, seen) = start(test_config(), 0, true);
    let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(server.addr)).collect();
    for _ in 0..3 {
        next_open(&seen);
    }
    server.handle.stop().expect("the loop is running");
    for client in &mut clients {
        let mut all = Vec::new();
        client.read_to_end(&mut all).expect("read the goodbye and end of file");
        assert_eq!(all, b"bye\n", "the goodbye sent from on_stop, then end of file");
    }
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::Shutdown), 3);
}

#[test]
fn a_shutdown_timeout_of_duration_max_means_no_deadline() {
    let config = Config { shutdown_timeout: Duration::MAX, ..test_config() };
    let (server, seen) = start(config, 0, false);
    let mut client = connect(server.addr);
    let (id, _) = next_open(&seen);
    server.handle.stop().expect("the loop is running");
    assert_eq!(next(&seen), Seen::Stop);
    assert_eq!(close_reasons(&seen, &[id]), vec![(id, CloseReason::Shutdown)]);
    expect_eof(&mut client);
    server.stop();
}

#[test]
fn the_idle_timeout_does_not_cut_short_a_shutdown_flush() {
    // The flush takes longer than the idle timeout, and the reader sends
    // nothing: while stopping, input no longer matters (the loop has
    // stopped reading), so the connection still closes with Shutdown
    // after every byte.
    let idle = Duration::from_millis(200);
    let config = Config {
        idle_timeout: Some(idle),
        shutdown_timeout: TIMEOUT,
        max_output_bytes: 2 * BIG_OUTPUT,
        ..test_config()
    };
    let (seen_tx, seen) = mpsc::channel();
    // Stopping in the very turn the connection opens, so the stop always
    // comes before the idle deadline, however loaded the machine.
    let stopper = Stopper {
        first_output: BIG_OUTPUT,
        stop_after_first_output: true,
        goodbye: false,
        open: BTreeSet::new(),
        seen: seen_tx,
    };
    let mut server = Server::start(config, stopper);
    let mut slow = connect_with_small_receive_buffer(server.addr);
    let (id, queued) = next_open(&seen);
    assert!(queued > 0, "output must still be queued when the loop stops");
    assert_eq!(next(&seen), Seen::Stop);

    let started = Instant::now();
    let mut received = 0;
    let mut buf = [0u8; 8192];
    loop {
        match slow.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) => panic!("reading the flush after {received} bytes: {e}"),
        }
        if started.elapsed() < 2 * idle {
            // Dawdle at first, so the flush outlasts the idle timeout.
            thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(started.elapsed() > idle, "the flush must outlast the idle timeout to prove anything");
    assert_eq!(received, BIG_OUTPUT, "every queued byte is delivered");
    assert_eq!(close_reasons(&seen, &[id]), vec![(id, CloseReason::Shutdown)]);
    server.join();
}
