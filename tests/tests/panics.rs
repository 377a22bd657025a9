//! A panic in a callback: the connection it was about closes with
//! `CloseReason::Panic` (a panic in `on_open` drops it without `on_close`),
//! the panic is logged at error level with its message, and the loop goes
//! on serving everyone else. A panic in a loop-wide callback (`on_timer`,
//! `on_message`, `on_close`) is logged and the loop goes on.
//! `PanicPolicy::Abort` takes the process down instead (tested in a child
//! process).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, Once};
use std::time::Duration;

use evloop::{AfterEof, CloseReason, Config, ConnId, Ctx, Handler, Origin, PanicPolicy, TimerId};
use evloop_tests::{connect, round_trip, test_config, Server, TIMEOUT};
use log::{Level, LevelFilter, Log, Metadata, Record};

/// Keeps every warning and error logged in this test binary.
struct Capture;

static RECORDS: Mutex<Vec<(Level, String)>> = Mutex::new(Vec::new());
static CAPTURE: Capture = Capture;

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Warn
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            RECORDS.lock().unwrap().push((record.level(), record.args().to_string()));
        }
    }

    fn flush(&self) {}
}

fn capture_logs() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&CAPTURE).expect("no other logger in this test binary");
        log::set_max_level(LevelFilter::Warn);
    });
}

#[track_caller]
fn assert_logged_error(expected: &str) {
    let records = RECORDS.lock().unwrap();
    assert!(
        records.iter().any(|(level, message)| *level == Level::Error && message == expected),
        "no error logged as {expected:?}; logged: {records:?}"
    );
}

/// What the handler saw.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Open(ConnId),
    Close(ConnId, CloseReason),
    Timer(u64),
    Message(u64),
}

/// What the test asks of the loop from another thread.
#[derive(Debug)]
enum Order {
    /// Panic in `on_message` with this message.
    Panic(&'static str),
    /// Report this number back.
    Echo(u64),
    /// Set a loop timer; key [`PANIC_KEY`] panics when it fires.
    Timer(u64),
}

const PANIC_KEY: u64 = 666;

/// An echo handler that panics on request: `panic:<msg>` panics in
/// `on_data`, `conn-timer:<msg>` arms a connection timer that panics,
/// `eof-panic` makes `on_eof` panic; the `n`th open may panic in `on_open`,
/// and `on_close` and `on_stop` may panic.
struct Fragile {
    seen: Sender<Seen>,
    opens: usize,
    panic_on_open: Option<usize>,
    panic_in_on_close: Option<&'static str>,
    panic_in_on_stop: bool,
    timer_panic: &'static str,
}

/// Per connection: what a connection timer or `on_eof` panics with.
#[derive(Default)]
struct Armed {
    conn_timer_panic: Option<String>,
    eof_panic: bool,
}

impl Fragile {
    fn report(&self, seen: Seen) {
        let _ = self.seen.send(seen);
    }
}

impl Handler for Fragile {
    type Conn = Armed;
    type Message = Order;

    fn on_open(&mut self, _cx: &mut Ctx, id: ConnId, _origin: Origin) -> Armed {
        self.opens += 1;
        self.report(Seen::Open(id));
        if self.panic_on_open == Some(self.opens) {
            panic!("boom in on_open");
        }
        Armed::default()
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, armed: &mut Armed, data: &[u8]) -> usize {
        let text = String::from_utf8_lossy(data);
        if let Some(message) = text.strip_prefix("panic:") {
            panic!("{message}");
        } else if let Some(message) = text.strip_prefix("conn-timer:") {
            armed.conn_timer_panic = Some(message.to_string());
            cx.set_conn_timer(id, Duration::ZERO, 0);
        } else if text == "eof-panic" {
            armed.eof_panic = true;
        } else {
            cx.send(id, data);
        }
        data.len()
    }

    fn on_eof(&mut self, _cx: &mut Ctx, _id: ConnId, armed: &mut Armed, _unconsumed: &[u8]) -> AfterEof {
        assert!(!armed.eof_panic, "boom in on_eof");
        AfterEof::Close
    }

    fn on_conn_timer(&mut self, _cx: &mut Ctx, _id: ConnId, armed: &mut Armed, _timer: TimerId, _key: u64) {
        if let Some(message) = armed.conn_timer_panic.take() {
            panic!("{message}");
        }
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _armed: Armed, reason: CloseReason) {
        self.report(Seen::Close(id, reason));
        if let Some(message) = self.panic_in_on_close {
            panic!("{message}");
        }
    }

    fn on_stop(&mut self, _cx: &mut Ctx) {
        assert!(!self.panic_in_on_stop, "boom in on_stop");
    }

    fn on_timer(&mut self, _cx: &mut Ctx, _timer: TimerId, key: u64) {
        self.report(Seen::Timer(key));
        if key == PANIC_KEY {
            panic!("{}", self.timer_panic);
        }
    }

    fn on_message(&mut self, cx: &mut Ctx, order: Order) {
        match order {
            Order::Panic(message) => panic!("{message}"),
            Order::Echo(n) => self.report(Seen::Message(n)),
            Order::Timer(key) => {
                cx.set_timer(Duration::ZERO, key);
            }
        }
    }
}

fn fragile(seen: Sender<Seen>) -> Fragile {
    Fragile { seen, opens: 0, panic_on_open: None, panic_in_on_close: None, panic_in_on_stop: false, timer_panic: "" }
}

fn start(config: Config, configure: impl FnOnce(&mut Fragile)) -> (Server<Fragile>, Receiver<Seen>) {
    capture_logs();
    let (seen, rx) = mpsc::channel();
    let mut handler = fragile(seen);
    configure(&mut handler);
    (Server::start(config, handler), rx)
}

#[track_caller]
fn next(seen: &Receiver<Seen>) -> Seen {
    seen.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("no event within {TIMEOUT:?}"))
}

#[track_caller]
fn next_open(seen: &Receiver<Seen>) -> ConnId {
    match next(seen) {
        Seen::Open(id) => id,
        other => panic!("expected on_open, got {other:?}"),
    }
}

/// The server closed `stream`: end of file, or a reset since our input
/// went unread.
#[track_caller]
fn assert_closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close the connection, got {other:?}"),
    }
}

#[test]
fn a_panic_in_on_data_closes_only_that_connection() {
    let (server, seen) = start(test_config(), |_| {});
    let mut victim = connect(server.addr);
    let victim_id = next_open(&seen);
    let mut bystander = connect(server.addr);
    next_open(&seen);

    victim.write_all(b"panic:boom in on_data 5c1e").unwrap();
    assert_eq!(next(&seen), Seen::Close(victim_id, CloseReason::Panic));
    assert_closed_by_server(&mut victim);
    assert_logged_error("on_data panicked: boom in on_data 5c1e");

    assert_eq!(round_trip(&mut bystander, b"still served"), b"still served");
    let mut newcomer = connect(server.addr);
    assert_eq!(round_trip(&mut newcomer, b"new clients too"), b"new clients too");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::Panic), 1);
}

#[test]
fn a_panic_in_a_connection_timer_closes_that_connection() {
    let (server, seen) = start(test_config(), |_| {});
    let mut victim = connect(server.addr);
    let victim_id = next_open(&seen);
    let mut bystander = connect(server.addr);
    next_open(&seen);

    victim.write_all(b"conn-timer:boom in on_conn_timer 77ab").unwrap();
    assert_eq!(next(&seen), Seen::Close(victim_id, CloseReason::Panic));
    assert_closed_by_server(&mut victim);
    assert_logged_error("on_conn_timer panicked: boom in on_conn_timer 77ab");
    assert_eq!(round_trip(&mut bystander, b"still served"), b"still served");
}

#[test]
fn a_panic_in_on_eof_closes_that_connection() {
    let (server, seen) = start(test_config(), |_| {});
    let mut victim = connect(server.addr);
    let victim_id = next_open(&seen);
    let mut bystander = connect(server.addr);
    next_open(&seen);

    // The data comes before the FIN, so on_data arms on_eof first.
    victim.write_all(b"eof-panic").unwrap();
    victim.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(next(&seen), Seen::Close(victim_id, CloseReason::Panic));
    assert_logged_error("on_eof panicked: boom in on_eof");
    assert_eq!(round_trip(&mut bystander, b"still served"), b"still served");
}

#[test]
fn a_panic_in_on_open_drops_the_connection_without_on_close() {
    let (server, seen) = start(test_config(), |h| h.panic_on_open = Some(1));
    let mut victim = connect(server.addr);
    let victim_id = next_open(&seen);
    assert_closed_by_server(&mut victim);
    assert_logged_error("on_open panicked: boom in on_open");

    let mut next_client = connect(server.addr);
    next_open(&seen);
    assert_eq!(round_trip(&mut next_client, b"served"), b"served");
    let (_, stats) = server.stop();
    let never_closed = seen.try_iter().all(|event| !matches!(event, Seen::Close(id, _) if id == victim_id));
    assert!(never_closed, "on_close fired for a connection whose on_open panicked");
    assert_eq!(stats.closed(CloseReason::Panic), 1, "the dropped connection counts as closed by a panic");
}

#[test]
fn a_panic_in_on_close_is_logged_and_the_loop_goes_on() {
    let (server, seen) = start(test_config(), |h| h.panic_in_on_close = Some("boom in on_close 31d0"));
    let leaving = connect(server.addr);
    let leaving_id = next_open(&seen);
    drop(leaving);
    assert_eq!(next(&seen), Seen::Close(leaving_id, CloseReason::PeerClosed));
    let mut next_client = connect(server.addr);
    next_open(&seen);
    assert_eq!(round_trip(&mut next_client, b"served"), b"served");
    assert_logged_error("on_close panicked: boom in on_close 31d0");
}

#[test]
fn a_panic_in_on_timer_is_logged_and_the_loop_goes_on() {
    let (server, seen) = start(test_config(), |h| h.timer_panic = "boom in on_timer 9e42");
    let mut client = connect(server.addr);
    next_open(&seen);
    server.handle.send(Order::Timer(PANIC_KEY)).unwrap();
    assert_eq!(next(&seen), Seen::Timer(PANIC_KEY));
    server.handle.send(Order::Timer(1)).unwrap();
    assert_eq!(next(&seen), Seen::Timer(1), "timers fire after one panicked");
    assert_eq!(round_trip(&mut client, b"served"), b"served");
    assert_logged_error("on_timer panicked: boom in on_timer 9e42");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::Panic), 0, "a loop-wide panic closes no connection");
}

#[test]
fn a_panic_in_on_message_is_logged_and_later_messages_arrive() {
    let (server, seen) = start(test_config(), |_| {});
    let mut client = connect(server.addr);
    next_open(&seen);
    server.handle.send(Order::Panic("boom in on_message 40aa")).unwrap();
    server.handle.send(Order::Echo(2)).unwrap();
    assert_eq!(next(&seen), Seen::Message(2), "messages after the panic are delivered");
    assert_eq!(round_trip(&mut client, b"served"), b"served");
    assert_logged_error("on_message panicked: boom in on_message 40aa");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::Panic), 0, "a loop-wide panic closes no connection");
}

#[test]
fn a_panic_in_on_stop_is_logged_and_the_shutdown_completes() {
    let (server, seen) = start(test_config(), |h| h.panic_in_on_stop = true);
    let mut client = connect(server.addr);
    let id = next_open(&seen);
    let (_, stats) = server.stop();
    assert_eq!(next(&seen), Seen::Close(id, CloseReason::Shutdown));
    assert_closed_by_server(&mut client);
    assert_logged_error("on_stop panicked: boom in on_stop");
    assert_eq!(stats.closed(CloseReason::Shutdown), 1);
}

const ABORT_CHILD: &str = "EVLOOP_TEST_ABORT_CHILD";

#[test]
fn abort_policy_takes_the_process_down() {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_with_abort_policy_panics_in_on_data", "--nocapture"])
        .env(ABORT_CHILD, "1")
        .output()
        .expect("run the test binary as a child");
    use std::os::unix::process::ExitStatusExt;
    const SIGABRT: i32 = 6;
    assert_eq!(
        status.status.signal(),
        Some(SIGABRT),
        "the child should have aborted; it exited with {:?}\n{}",
        status.status,
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("running 1 test"), "the child ran the test");
}

#[test]
#[ignore = "run in a child process by abort_policy_takes_the_process_down; it aborts the process"]
fn child_with_abort_policy_panics_in_on_data() {
    if std::env::var_os(ABORT_CHILD).is_none() {
        return;
    }
    let (server, seen) = start(Config { panic_policy: PanicPolicy::Abort, ..test_config() }, |_| {});
    let mut client = connect(server.addr);
    next_open(&seen);
    client.write_all(b"panic:boom under the abort policy").unwrap();
    // Under `Abort` the process dies before this read returns; if the loop
    // closed the connection instead, the child exits normally and the
    // parent test fails.
    assert_closed_by_server(&mut client);
}
