//! Outbound connections: `EventLoop::connect` / `Ctx::connect` open, fail
//! with the real cause, time out, and once open behave like accepted ones.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo::Echo;
use evloop::{CloseReason, Config, ConnId, Ctx, EventLoop, Handler, LoopHandle, Origin, Stats};
use evloop_tests::{test_config, Recorder, Seen, Server, TIMEOUT};
use socket2::{Domain, Socket, Type};

/// A loop that makes outbound connections, running on its own thread.
struct ClientLoop<H: Handler> {
    handle: LoopHandle<H::Message>,
    thread: JoinHandle<(H, Stats)>,
}

impl<H> ClientLoop<H>
where
    H: Handler + Send + 'static,
{
    /// Starts a loop serving `handler` that first connects to every address
    /// in `targets` (before `run`, so they are all pending at once), and
    /// returns it with the ids the connects were given.
    fn start(config: Config, handler: H, targets: Vec<SocketAddr>) -> (ClientLoop<H>, Vec<ConnId>) {
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut el = EventLoop::new(config, handler).expect("create the client loop");
            let ids: Vec<ConnId> =
                targets.iter().map(|addr| el.connect(*addr).expect("the kernel accepts the connect")).collect();
            ready_tx.send((el.handle(), ids)).unwrap();
            el.run().expect("the client loop failed");
            let stats = el.stats().clone();
            (el.into_handler(), stats)
        });
        let (handle, ids) = ready_rx.recv_timeout(TIMEOUT).expect("the client loop did not start");
        (ClientLoop { handle, thread }, ids)
    }

    /// Waits for the loop to return (it stops itself, or was stopped).
    fn join(self) -> (H, Stats) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.thread.is_finished() {
            assert!(Instant::now() < deadline, "the client loop did not exit within {TIMEOUT:?}");
            thread::park_timeout(Duration::from_millis(5));
        }
        self.thread.join().expect("the client loop panicked")
    }

    fn stop(self) -> (H, Stats) {
        let _ = self.handle.stop();
        self.join()
    }
}

/// A loopback address nothing listens on: a port bound a moment ago and
/// released, so the kernel answers a SYN with RST.
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// A listener whose accept queue is full and that never accepts, so a
/// further connect stays pending.
///
/// Why this works on Linux: a listener with backlog 0 admits one
/// connection to its accept queue (the check is `queued > backlog`), and
/// once the queue is full `tcp_conn_request` drops every new SYN before
/// SYN cookies are considered, so the connecting side just retransmits
/// its SYN (1 s, 3 s, ...) and stays in SYN_SENT. Rather than trust the
/// exact count, the queue is filled with short blocking connects until one
/// times out: that one proves SYNs are now dropped.
struct FullBacklog {
    addr: SocketAddr,
    _listener: Socket,
    _queued: Vec<TcpStream>,
}

impl FullBacklog {
    fn new() -> FullBacklog {
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        listener.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).unwrap();
        listener.listen(0).unwrap();
        let addr = listener.local_addr().unwrap().as_socket().unwrap();
        let mut queued = Vec::new();
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => queued.push(stream),
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    return FullBacklog { addr, _listener: listener, _queued: queued };
                }
                Err(e) => panic!("filling the backlog of {addr}: {e}"),
            }
        }
        panic!("16 connects to a listener with backlog 0 that never accepts all completed");
    }
}

#[test]
fn refused_connect_reports_connection_refused() {
    let addr = closed_port();
    // A long connect timeout, so that only a real refusal (not the timeout)
    // can end this connect within the test's wait.
    let config = Config { connect_timeout: TIMEOUT * 2, ..test_config() };
    let (recorder, events) = Recorder::new();
    let (client, ids) = ClientLoop::start(config, recorder, vec![addr]);

    let seen = events.find("on_connect_failed", |s| matches!(s, Seen::ConnectFailed(..) | Seen::Open(..)));
    assert_eq!(seen, Seen::ConnectFailed(ids[0], ErrorKind::ConnectionRefused), "connect to {addr}");
    let (_, stats) = client.stop();
    assert_eq!((stats.connect_failed, stats.connected, stats.open), (1, 0, 0), "{stats:?}");
    assert!(
        !events.drain().iter().any(|s| matches!(s, Seen::Open(..) | Seen::Close(..))),
        "a connect that never opened must not reach on_open or on_close"
    );
}

#[test]
fn pending_connect_fails_with_timed_out_after_connect_timeout() {
    let target = FullBacklog::new();
    let config = Config { connect_timeout: Duration::from_millis(300), ..test_config() };
    let (recorder, events) = Recorder::new();
    let (client, ids) = ClientLoop::start(config, recorder, vec![target.addr]);

    let seen = events.find("on_connect_failed", |s| matches!(s, Seen::ConnectFailed(..) | Seen::Open(..)));
    assert_eq!(seen, Seen::ConnectFailed(ids[0], ErrorKind::TimedOut), "connect to a listener whose backlog is full");
    let (_, stats) = client.stop();
    assert_eq!((stats.connect_failed, stats.connected), (1, 0), "{stats:?}");
}

#[test]
fn completed_connect_opens_as_outbound_and_echoes() {
    let server = Server::start(test_config(), Echo);
    let (client, ids) = ClientLoop::start(test_config(), Pinger::new(1, 4096), vec![server.addr]);

    let (pinger, stats) = client.join();
    assert_eq!(pinger.opened, vec![(ids[0], Origin::Outbound)], "on_open must say the connection is outbound");
    assert_eq!(pinger.echoed, 1, "the echo did not come back whole");
    assert_eq!((stats.connected, stats.open, stats.closed(CloseReason::App)), (1, 0, 1), "{stats:?}");
    let (_, server_stats) = server.stop();
    assert_eq!(server_stats.accepted, 1);
}

#[test]
fn two_thousand_outbound_connections_open_at_once_and_each_echoes() {
    const CONNECTIONS: usize = 2_000;
    let server = Server::start(test_config(), Echo);
    let targets = vec![server.addr; CONNECTIONS];
    let (client, ids) = ClientLoop::start(test_config(), Pinger::new(CONNECTIONS, 100), targets);
    assert_eq!(ids.len(), CONNECTIONS);

    let (pinger, stats) = client.join();
    assert_eq!(pinger.failed, Vec::<io::ErrorKind>::new(), "connects failed");
    assert_eq!(pinger.opened.len(), CONNECTIONS, "connections opened");
    assert!(pinger.opened.iter().all(|(_, origin)| *origin == Origin::Outbound));
    assert_eq!(pinger.echoed, CONNECTIONS, "connections whose echo came back whole");
    assert_eq!(
        pinger.most_open_at_once, CONNECTIONS,
        "every connection should have been open at once before any closed"
    );
    assert_eq!(stats.connected, CONNECTIONS as u64, "{stats:?}");
    assert_eq!(stats.closed(CloseReason::App), CONNECTIONS as u64, "{stats:?}");
    assert_eq!(stats.bytes_in, (CONNECTIONS * 100) as u64, "{stats:?}");
    let (_, server_stats) = server.stop();
    assert_eq!(server_stats.accepted, CONNECTIONS as u64);
}

#[test]
fn outbound_connection_closes_on_idle_timeout() {
    let server = Server::start(test_config(), Echo);
    let config = Config { idle_timeout: Some(Duration::from_millis(200)), ..test_config() };
    let (mut recorder, events) = Recorder::new();
    recorder.echo = false;
    let (client, ids) = ClientLoop::start(config, recorder, vec![server.addr]);

    assert_eq!(events.next(), Seen::Open(ids[0], Origin::Outbound));
    assert_eq!(events.close_reason(ids[0]), CloseReason::IdleTimeout, "an outbound connection that hears nothing");
    let (_, stats) = client.stop();
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 1, "{stats:?}");
}

#[test]
fn outbound_connection_pauses_at_high_watermark_and_drains() {
    // A peer that does not read until told to: the client's output backs up.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let (flood, events) = Flooder::new();
    let config = Config { max_output_bytes: 2 * Flooder::TOTAL, ..test_config() };
    let (client, ids) = ClientLoop::start(config.clone(), flood, vec![addr]);
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();

    assert_eq!(next_seen(&events), Seen::Open(ids[0], Origin::Outbound));
    let queued = match next_seen(&events) {
        Seen::Message(queued) => queued as usize,
        other => panic!("expected the queued output size, got {other:?}"),
    };
    assert!(queued > config.high_watermark, "only {queued} bytes queued: the kernel took the rest");
    let mut received = 0;
    let mut buf = vec![0; 64 * 1024];
    while received < Flooder::TOTAL {
        let n = peer.read(&mut buf).expect("read the flood");
        assert!(n > 0, "the client closed after {received} bytes");
        received += n;
    }
    assert_eq!(next_seen(&events), Seen::Drain(ids[0]), "on_drain after the queue passed the high watermark");
    drop(peer);
    let (_, stats) = client.stop();
    assert_eq!(stats.bytes_out, Flooder::TOTAL as u64, "{stats:?}");
}

#[test]
fn data_and_eof_that_arrive_before_the_connect_is_handled_are_both_seen() {
    // The peer accepts, writes and closes before the client loop even
    // polls, so the loop's first event for the connection carries
    // writable, readable and read-closed at once.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut el = EventLoop::new(test_config(), Collector::default()).unwrap();
    let id = el.connect(addr).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.write_all(b"hello").unwrap();
    drop(peer);

    let handle = el.handle();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if done_rx.recv_timeout(TIMEOUT).is_err() {
            let _ = handle.stop();
        }
    });
    el.run().unwrap();
    let _ = done_tx.send(()); // the watchdog is gone if it had to stop the loop
    watchdog.join().unwrap();
    let collector = el.into_handler();
    assert_eq!(collector.data, b"hello");
    assert_eq!(collector.closed, vec![(id, CloseReason::PeerClosed)], "the peer's FIN was missed");
}

#[test]
fn output_and_shutdown_asked_for_while_connecting_go_out_once_open() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::start(test_config(), ConnectOnMessage);
    for payload in [&b"sent while connecting"[..], b""] {
        server.handle.send((addr, payload.to_vec())).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap_or_else(|e| {
            panic!(
                "no FIN after {:?} (shutdown_write before the connect completed): {e}",
                String::from_utf8_lossy(payload)
            )
        });
        assert_eq!(got, payload);
    }
    let (_, stats) = server.stop();
    assert_eq!(stats.connected, 2, "{stats:?}");
}

#[test]
fn connects_still_pending_at_stop_fail_with_connection_aborted() {
    let target = FullBacklog::new();
    let config = Config { connect_timeout: TIMEOUT * 2, ..test_config() };
    let (recorder, events) = Recorder::new();
    let (client, ids) = ClientLoop::start(config, recorder, vec![target.addr]);
    let (_, stats) = client.stop();
    assert_eq!(stats.connect_failed, 1, "{stats:?}");
    let seen = events.find("on_connect_failed", |s| matches!(s, Seen::ConnectFailed(..)));
    assert_eq!(seen, Seen::ConnectFailed(ids[0], ErrorKind::ConnectionAborted));
}

/// Records like [`Recorder`], and closes (with [`Ctx::close`]) whatever
/// connection a message names.
#[derive(Debug)]
struct CloseOnMessage(Recorder);

impl Handler for CloseOnMessage {
    type Conn = ();
    type Message = ConnId;

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) {
        self.0.on_open(cx, id, origin)
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut (), data: &[u8]) -> usize {
        self.0.on_data(cx, id, conn, data)
    }

    fn on_connect_failed(&mut self, cx: &mut Ctx, id: ConnId, error: io::Error) {
        self.0.on_connect_failed(cx, id, error)
    }

    fn on_message(&mut self, cx: &mut Ctx, id: ConnId) {
        assert!(cx.send(id, b"queued while connecting"));
        assert!(cx.close(id), "a pending connect can be closed");
    }
}

#[test]
fn closing_a_pending_connect_reports_connection_aborted() {
    let target = FullBacklog::new();
    let config = Config { connect_timeout: TIMEOUT * 2, ..test_config() };
    let (recorder, events) = Recorder::new();
    let (client, ids) = ClientLoop::start(config, CloseOnMessage(recorder), vec![target.addr]);
    client.handle.send(ids[0]).unwrap();
    let seen = events.find("on_connect_failed", |s| matches!(s, Seen::ConnectFailed(..) | Seen::Open(..)));
    assert_eq!(seen, Seen::ConnectFailed(ids[0], ErrorKind::ConnectionAborted));
    let (_, stats) = client.stop();
    assert_eq!((stats.connect_failed, stats.connected, stats.closed_total()), (1, 0, 0), "{stats:?}");
}

/// Sends one message of `size` bytes on each outbound connection as it
/// opens, checks the echo, and closes all of them once every one has
/// echoed (so all are open at once), then stops the loop.
#[derive(Debug)]
struct Pinger {
    expected: usize,
    size: usize,
    opened: Vec<(ConnId, Origin)>,
    failed: Vec<io::ErrorKind>,
    echoed: usize,
    most_open_at_once: usize,
    finished: usize,
}

impl Pinger {
    fn new(expected: usize, size: usize) -> Pinger {
        Pinger { expected, size, opened: Vec::new(), failed: Vec::new(), echoed: 0, most_open_at_once: 0, finished: 0 }
    }

    /// The bytes connection `id` sends: different for every connection, so
    /// an echo delivered to the wrong one is caught.
    fn payload(&self, id: ConnId) -> Vec<u8> {
        (0..self.size).map(|i| (id.index() as usize * 7 + i) as u8).collect()
    }

    fn finish_one(&mut self, cx: &mut Ctx) {
        self.finished += 1;
        if self.finished == self.expected {
            cx.stop();
        }
    }
}

impl Handler for Pinger {
    /// Bytes of the echo received so far.
    type Conn = Vec<u8>;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) -> Vec<u8> {
        self.opened.push((id, origin));
        self.most_open_at_once = self.most_open_at_once.max(cx.connection_count());
        cx.send(id, &self.payload(id));
        Vec::new()
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, received: &mut Vec<u8>, data: &[u8]) -> usize {
        received.extend_from_slice(data);
        if received.len() >= self.size {
            assert_eq!(*received, self.payload(id), "{id}: the echo differs from what was sent");
            self.echoed += 1;
            if self.echoed == self.expected {
                let open: Vec<ConnId> = self.opened.iter().map(|(id, _)| *id).collect();
                for id in open {
                    cx.close(id);
                }
            }
        }
        data.len()
    }

    fn on_close(&mut self, cx: &mut Ctx, _id: ConnId, _received: Vec<u8>, _reason: CloseReason) {
        self.finish_one(cx);
    }

    fn on_connect_failed(&mut self, cx: &mut Ctx, _id: ConnId, error: io::Error) {
        self.failed.push(error.kind());
        self.finish_one(cx);
    }
}

/// Sends [`Flooder::TOTAL`] bytes on open, far more than the socket takes
/// at once, and reports `on_open`, then how much output was left queued
/// (as a `Seen::Message`), then `on_drain`.
struct Flooder {
    events: mpsc::Sender<Seen>,
}

impl Flooder {
    const TOTAL: usize = 8 * 1024 * 1024;

    fn new() -> (Flooder, mpsc::Receiver<Seen>) {
        let (events, rx) = mpsc::channel();
        (Flooder { events }, rx)
    }
}

impl Handler for Flooder {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) {
        let sent = cx.send(id, &vec![b'x'; Flooder::TOTAL]);
        let _ = self.events.send(Seen::Open(id, origin));
        let queued = if sent { cx.queued_output(id).unwrap_or(0) } else { 0 };
        let _ = self.events.send(Seen::Message(queued as u64));
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_drain(&mut self, _cx: &mut Ctx, id: ConnId, _conn: &mut ()) {
        let _ = self.events.send(Seen::Drain(id));
    }
}

/// The next thing a [`Flooder`] reports, failing after [`TIMEOUT`].
#[track_caller]
fn next_seen(events: &mpsc::Receiver<Seen>) -> Seen {
    events.recv_timeout(TIMEOUT).expect("no report from the flooding client")
}

/// Keeps what it reads and how connections closed; stops the loop after
/// the first close.
#[derive(Debug, Default)]
struct Collector {
    data: Vec<u8>,
    closed: Vec<(ConnId, CloseReason)>,
}

impl Handler for Collector {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        self.data.extend_from_slice(data);
        data.len()
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        self.closed.push((id, reason));
        cx.stop();
    }
}

/// On a message `(addr, payload)`: connects to `addr`, and before the
/// connect can complete sends `payload` and half-closes.
struct ConnectOnMessage;

impl Handler for ConnectOnMessage {
    type Conn = ();
    type Message = (SocketAddr, Vec<u8>);

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_message(&mut self, cx: &mut Ctx, (addr, payload): (SocketAddr, Vec<u8>)) {
        let id = cx.connect(addr).expect("connect");
        if !payload.is_empty() {
            assert!(cx.send(id, &payload), "send while connecting queues the output");
        }
        assert!(cx.shutdown_write(id), "shutdown_write while connecting");
    }
}

#[test]
fn connect_past_max_connections_fails_with_resource_busy_and_while_stopping_with_connection_aborted() {
    /// Once its one connection opens, tries another (past the limit), then
    /// stops and tries again while stopping.
    struct Tries {
        target: SocketAddr,
        outcomes: Vec<std::io::ErrorKind>,
    }
    impl Handler for Tries {
        type Conn = ();
        type Message = ();
        fn on_open(&mut self, cx: &mut Ctx, _: ConnId, _: Origin) {
            let at_capacity = cx.connect(self.target).expect_err("the one slot is taken");
            self.outcomes.push(at_capacity.kind());
            cx.stop();
        }
        fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
            data.len()
        }
        fn on_stop(&mut self, cx: &mut Ctx) {
            let stopping = cx.connect(self.target).expect_err("no connect while stopping");
            self.outcomes.push(stopping.kind());
        }
    }
    let target_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = target_listener.local_addr().unwrap();
    let handler = Tries { target, outcomes: vec![] };
    let mut el = EventLoop::new(Config { max_connections: 1, ..test_config() }, handler).expect("create the loop");
    el.connect(target).expect("the first connect takes the one slot");
    el.run().expect("the loop runs");
    assert_eq!(
        el.into_handler().outcomes,
        vec![std::io::ErrorKind::ResourceBusy, std::io::ErrorKind::ConnectionAborted],
        "at capacity and stopping each have their own kind"
    );
}
