//! Idle and write timeouts: a connection with no input for
//! `Config::idle_timeout` closes with `IdleTimeout`; one whose queued output
//! makes no progress for `Config::write_timeout` closes with `WriteTimeout`.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{
    connect, connect_with_small_receive_buffer, round_trip, test_config, Recorder, Seen, Server, TIMEOUT,
};
use socket2::{Domain, Protocol, Socket, Type};

/// Reads until end of file, failing the test on a timeout; a reset counts
/// as the end too (the server closed with our input unread).
#[track_caller]
fn expect_closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("expected the server to close the connection, got {e}"),
        }
    }
}

#[test]
fn a_connection_with_no_input_closes_with_idle_timeout() {
    let idle = Duration::from_millis(200);
    let (recorder, events) = Recorder::new();
    let server = Server::start(Config { idle_timeout: Some(idle), ..test_config() }, recorder);
    let opened_at = Instant::now();
    let mut client = connect(server.addr);
    let id = events.next_open();
    assert_eq!(events.close_reason(id), CloseReason::IdleTimeout);
    expect_closed_by_server(&mut client);
    assert!(opened_at.elapsed() >= idle, "closed after {:?}, before the idle timeout", opened_at.elapsed());
}

#[test]
fn input_keeps_a_connection_open_past_the_idle_timeout_without_a_timer_per_read() {
    let idle = Duration::from_secs(1);
    let pings = 30;
    let (recorder, events) = Recorder::new();
    let server = Server::start(Config { idle_timeout: Some(idle), ..test_config() }, recorder);
    let mut client = connect(server.addr);
    let id = events.next_open();
    let started = Instant::now();
    // A ping every 100 ms: each one is input, so the connection outlives
    // the idle timeout several times over.
    for n in 0..pings {
        let message = format!("ping {n}");
        assert_eq!(
            round_trip(&mut client, message.as_bytes()),
            message.as_bytes(),
            "ping {n} after {:?}",
            started.elapsed()
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() > 2 * idle, "the pings must outlast the idle timeout");
    assert!(events.drain().iter().all(|e| !matches!(e, Seen::Close(..))), "closed while active");
    // Silence: now it goes.
    assert_eq!(events.close_reason(id), CloseReason::IdleTimeout);
    expect_closed_by_server(&mut client);
    let lifetime = started.elapsed();
    let (_, stats) = server.stop();
    // The idle check fires and re-arms once per timeout period, not once
    // per read: about lifetime / idle times (a re-arm can come up to one
    // ping interval early, hence the slack).
    let periods = (lifetime.as_secs_f64() / idle.as_secs_f64()).ceil() as u64;
    assert!(
        stats.timers_fired <= periods + 2,
        "{} timers fired in {lifetime:?} ({periods} idle periods) for {pings} reads: a read must cost no timer work",
        stats.timers_fired
    );
}

/// Floods every connection as it opens, until the socket takes no more and
/// a backlog is queued, then reports how much was queued and how it closed.
struct Flooder {
    report: Sender<(ConnId, Flood)>,
}

#[derive(Debug, PartialEq)]
enum Flood {
    /// Output queued right after the flood, and when.
    Queued {
        bytes: usize,
        at: Instant,
    },
    /// `on_drain`: queued output fell below the low watermark.
    Drained {
        at: Instant,
    },
    Closed(CloseReason),
}

impl Handler for Flooder {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) {
        // Past what the kernel takes (its send buffer autotunes up to
        // 4 MiB): output is gathered and written once at the end of the
        // turn, so queue well beyond that.
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..1024 {
            if !cx.send(id, &chunk) || cx.queued_output(id) >= Some(8 * 1024 * 1024) {
                break;
            }
        }
        let _ = self.report.send((id, Flood::Queued { bytes: cx.queued_output(id).unwrap_or(0), at: cx.now() }));
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        let _ = self.report.send((id, Flood::Closed(reason)));
    }
}

fn start_flooder(config: Config) -> (Server<Flooder>, Receiver<(ConnId, Flood)>) {
    let (report, reports) = mpsc::channel();
    (Server::start(config, Flooder { report }), reports)
}

#[track_caller]
fn next(reports: &Receiver<(ConnId, Flood)>) -> (ConnId, Flood) {
    reports.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("no report within {TIMEOUT:?}"))
}

#[test]
fn a_peer_that_stops_reading_is_closed_with_write_timeout() {
    let write_timeout = Duration::from_millis(300);
    let config = Config { write_timeout: Some(write_timeout), max_output_bytes: 128 * 1024 * 1024, ..test_config() };
    let (server, reports) = start_flooder(config);
    let connecting_at = Instant::now();
    let client = connect_with_small_receive_buffer(server.addr);
    let (id, queued) = next(&reports);
    assert!(
        matches!(queued, Flood::Queued { bytes, .. } if bytes > 0),
        "the flood must leave output queued, got {queued:?}"
    );
    assert_eq!(next(&reports), (id, Flood::Closed(CloseReason::WriteTimeout)));
    assert!(connecting_at.elapsed() >= write_timeout, "closed before the write timeout");
    drop(client);
}

#[test]
fn a_peer_that_reads_slowly_but_steadily_is_not_write_timed_out() {
    // More than the kernel buffers (its send buffer may grow to 4 MiB), so
    // output stays queued in the loop for many write timeouts.
    const TOTAL: usize = 8 * 1024 * 1024;
    let write_timeout = Duration::from_millis(300);
    let config = Config { write_timeout: Some(write_timeout), max_output_bytes: 2 * TOTAL, ..test_config() };
    let (report, reports) = mpsc::channel();
    let server = Server::start(config, SendThenClose { total: TOTAL, report });
    let mut client = connect_with_small_receive_buffer(server.addr);
    let (id, opened_at) = match next(&reports) {
        (id, Flood::Queued { bytes, at }) => {
            assert!(bytes > 0, "output must be queued for the write timeout to matter");
            (id, at)
        }
        other => panic!("expected the queued report, got {other:?}"),
    };
    let mut received = 0;
    let mut buf = [0u8; 8192];
    loop {
        match client.read(&mut buf).expect("read the server's output") {
            0 => break,
            n => received += n,
        }
        // Slow, but every pause is much shorter than the write timeout.
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(received, TOTAL, "every byte arrives; the server saw {:?}", reports.try_iter().collect::<Vec<_>>());
    let drained_at = match next(&reports) {
        (_, Flood::Drained { at }) => at,
        other => panic!("expected on_drain, got {other:?}"),
    };
    assert!(
        drained_at - opened_at > write_timeout,
        "output stayed queued only {:?}: too short to prove the write timeout waits on progress",
        drained_at - opened_at
    );
    assert_eq!(next(&reports), (id, Flood::Closed(CloseReason::App)));
}

/// Sends `total` bytes as each connection opens; once most of it has
/// drained (`on_drain`), closes the connection after the rest.
struct SendThenClose {
    total: usize,
    report: Sender<(ConnId, Flood)>,
}

impl Handler for SendThenClose {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) {
        cx.send(id, &vec![b'y'; self.total]);
        let bytes = cx.queued_output(id).unwrap_or(0);
        let _ = self.report.send((id, Flood::Queued { bytes, at: cx.now() }));
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_drain(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut ()) {
        let _ = self.report.send((id, Flood::Drained { at: cx.now() }));
        cx.close(id);
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        let _ = self.report.send((id, Flood::Closed(reason)));
    }
}

/// Dials the address it is sent and queues a greeting on the connection
/// while it is still connecting; reports how the connect ended.
struct Dialer {
    report: Sender<Dialed>,
}

#[derive(Debug, PartialEq)]
enum Dialed {
    Connecting(ConnId),
    Failed(ConnId, ErrorKind),
    Opened(ConnId),
    Closed(ConnId, CloseReason),
}

impl Handler for Dialer {
    type Conn = ();
    type Message = SocketAddr;

    fn on_open(&mut self, _cx: &mut Ctx, id: ConnId, _origin: Origin) {
        let _ = self.report.send(Dialed::Opened(id));
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_connect_failed(&mut self, _cx: &mut Ctx, id: ConnId, error: std::io::Error) {
        let _ = self.report.send(Dialed::Failed(id, error.kind()));
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        let _ = self.report.send(Dialed::Closed(id, reason));
    }

    fn on_message(&mut self, cx: &mut Ctx, addr: SocketAddr) {
        let id = cx.connect(addr).expect("start connecting");
        // Queued until the connection opens, as `Ctx::send` documents.
        cx.send(id, b"hello");
        let _ = self.report.send(Dialed::Connecting(id));
    }
}

#[test]
fn a_pending_connect_with_queued_output_is_left_to_the_connect_timeout() {
    // A listener whose accept queue is full drops further SYNs, so a
    // connect to it stays pending (on loopback, without leaving the host).
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    listener.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into()).unwrap();
    listener.listen(0).unwrap();
    let full_at = listener.local_addr().unwrap().as_socket().unwrap();
    let _fills_the_queue = TcpStream::connect(full_at).unwrap();

    let write_timeout = Duration::from_millis(200);
    let connect_timeout = Duration::from_millis(800);
    let config = Config { write_timeout: Some(write_timeout), connect_timeout, ..test_config() };
    let (report, reports) = mpsc::channel();
    let server = Server::start(config, Dialer { report });
    let dialed_at = Instant::now();
    server.handle.send(full_at).expect("the loop is running");
    let id = match reports.recv_timeout(TIMEOUT).expect("the dial began") {
        Dialed::Connecting(id) => id,
        other => panic!("expected the connect to be pending, got {other:?}"),
    };
    // No output can progress before the connect completes, so the write
    // timeout has nothing to judge: the connect timeout ends it, with
    // on_connect_failed (it must not vanish without a callback either).
    let outcome = reports.recv_timeout(TIMEOUT).expect("the pending connect must end with a callback");
    assert_eq!(outcome, Dialed::Failed(id, ErrorKind::TimedOut));
    assert!(
        dialed_at.elapsed() >= connect_timeout,
        "failed after {:?}: the write timeout ({write_timeout:?}) cut the connect timeout ({connect_timeout:?}) short",
        dialed_at.elapsed()
    );
}

#[test]
fn an_idle_timeout_of_duration_max_means_never() {
    let (recorder, events) = Recorder::new();
    let server = Server::start(Config { idle_timeout: Some(Duration::MAX), ..test_config() }, recorder);
    let mut client = connect(server.addr);
    let id = events.next_open();
    assert_eq!(round_trip(&mut client, b"still here"), b"still here");
    let (_, stats) = server.stop();
    assert_eq!(events.close_reason(id), CloseReason::Shutdown);
    assert_eq!(stats.closed(CloseReason::IdleTimeout), 0);
}

#[test]
fn a_peer_that_reads_nothing_is_closed_near_the_write_timeout() {
    let write_timeout = Duration::from_millis(1000);
    let config = Config { write_timeout: Some(write_timeout), max_output_bytes: 128 * 1024 * 1024, ..test_config() };
    let (server, reports) = start_flooder(config);
    let client = connect_with_small_receive_buffer(server.addr);
    let (id, _) = next(&reports);
    let queued_at = Instant::now();
    assert_eq!(next(&reports), (id, Flood::Closed(CloseReason::WriteTimeout)));
    let took = queued_at.elapsed();
    eprintln!("a peer that reads nothing: closed {took:?} after the flood, for a {write_timeout:?} write timeout");
    assert!(
        took < write_timeout * 3 / 2,
        "closed {took:?} after the flood for a {write_timeout:?} write timeout: the probe counted as progress"
    );
    drop(client);
}

/// Streams `total` bytes in 64 KiB pieces, one more each time the output
/// drains, then closes: a download paced by the reader.
struct Download {
    total: usize,
    sent: usize,
}

impl Handler for Download {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) {
        self.on_drain(cx, id, &mut ());
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_drain(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut ()) {
        while self.sent < self.total && cx.is_writable(id) {
            let piece = (self.total - self.sent).min(64 * 1024);
            cx.send(id, &vec![b'd'; piece]);
            self.sent += piece;
        }
        if self.sent == self.total {
            cx.close(id);
        }
    }
}

#[test]
fn a_download_longer_than_the_idle_timeout_is_not_cut() {
    const TOTAL: usize = 16 * 1024 * 1024;
    let idle = Duration::from_millis(300);
    let server =
        Server::start(Config { idle_timeout: Some(idle), ..test_config() }, Download { total: TOTAL, sent: 0 });
    let started = Instant::now();
    let mut client = connect_with_small_receive_buffer(server.addr);
    let mut received = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match client.read(&mut buf).expect("the download ends cleanly") {
            0 => break,
            n => received += n,
        }
        // A reader slower than the network: the download outlasts the
        // idle timeout many times over, with every pause far shorter.
        thread::sleep(Duration::from_millis(1));
    }
    assert!(started.elapsed() > 2 * idle, "the download must outlast the idle timeout to prove anything");
    assert_eq!(received, TOTAL, "every byte of the download arrives");
}

/// Pauses reading as each connection opens and resumes it from a timer
/// `pause` later; echoes once reading.
struct PausedAtFirst {
    pause: Duration,
}

impl Handler for PausedAtFirst {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) {
        cx.pause_read(id);
        cx.set_conn_timer(id, self.pause, 0);
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        data.len()
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), _timer: evloop::TimerId, _key: u64) {
        cx.resume_read(id);
    }
}

#[test]
fn time_with_reading_paused_is_not_idle() {
    let idle = Duration::from_millis(200);
    let config = Config { idle_timeout: Some(idle), ..test_config() };
    let server = Server::start(config, PausedAtFirst { pause: idle * 4 });
    let mut client = connect(server.addr);
    assert_eq!(
        round_trip(&mut client, b"waiting"),
        b"waiting",
        "a connection paused by the application for four idle timeouts is still served"
    );
}
