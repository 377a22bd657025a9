//! Shared helpers for the integration tests: a loop on its own thread, a
//! handler that reports what it sees, and bounded waiting.
//!
//! Every wait here is bounded in time and fails with a message saying what
//! did not happen; none sleeps in place of a readiness signal.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub mod chat;
pub mod group;
#[cfg(doctest)]
pub mod guide;
pub mod process;
pub mod tls;
pub mod transport;

pub use transport::connect_unix;

use socket2::{Domain, Protocol, Socket, Type};

use evloop::{AfterEof, CloseReason, Config, ConnId, Ctx, EventLoop, Handler, LoopHandle, Origin, Stats, TimerId};

/// How long any single wait in a test may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// An event loop serving on its own thread, listening on 127.0.0.1:0.
#[derive(Debug)]
pub struct Server<H: Handler> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its handle, to stop it or send it messages.
    pub handle: LoopHandle<H::Message>,
    /// The Unix-domain socket it also listens on, if started over that
    /// transport ([`transport`]).
    pub unix_path: Option<std::path::PathBuf>,
    thread: Option<JoinHandle<(H, Stats)>>,
}

impl<H> Server<H>
where
    H: Handler + Send + 'static,
{
    /// Starts `handler` on a loop with `config`, listening on an ephemeral
    /// loopback port.
    pub fn start(config: Config, handler: H) -> Server<H> {
        Server::start_listening(config, handler, |el| el.listen("127.0.0.1:0".parse().unwrap()))
    }

    /// Starts `handler` on a loop with `config`, listening as `listen` does
    /// (a TLS listener, say) on an ephemeral loopback port it returns.
    pub fn start_listening(
        config: Config,
        handler: H,
        listen: impl FnOnce(&mut EventLoop<H>) -> io::Result<SocketAddr> + Send + 'static,
    ) -> Server<H> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut el = EventLoop::new(config, handler).expect("create the event loop");
            let addr = listen(&mut el).expect("listen on 127.0.0.1:0");
            ready_tx.send((addr, el.handle())).unwrap();
            el.run().expect("the event loop failed");
            let stats = el.stats().clone();
            (el.into_handler(), stats)
        });
        let (addr, handle) = ready_rx.recv_timeout(TIMEOUT).expect("the server did not start");
        Server { addr, handle, unix_path: None, thread: Some(thread) }
    }

    /// Stops the loop gracefully and returns the handler and final stats.
    pub fn stop(mut self) -> (H, Stats) {
        let _ = self.handle.stop();
        self.join()
    }

    /// Waits for a loop that stops by itself to return.
    pub fn join(&mut self) -> (H, Stats) {
        let thread = self.thread.take().expect("joined twice");
        let deadline = Instant::now() + TIMEOUT;
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the event loop did not exit within {TIMEOUT:?}");
            thread::park_timeout(Duration::from_millis(5));
        }
        thread.join().expect("the event loop thread panicked")
    }
}

impl<H: Handler> Drop for Server<H> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.handle.stop();
        }
    }
}

/// Connects to `addr` with read and write timeouts, so a test that would
/// hang fails instead.
#[track_caller]
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the test server");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Connects with a tiny receive buffer (set before connecting, so the TCP
/// window is small from the handshake on): the server's output to it
/// backs up after a few KiB unless it reads.
#[track_caller]
pub fn connect_with_small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).expect("connect to the test server");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Sends `message` and reads back exactly as many bytes.
#[track_caller]
pub fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("send to the server");
    let mut reply = vec![0; message.len()];
    stream.read_exact(&mut reply).expect("read the reply");
    reply
}

/// Reads until end of file (bounded by the stream's read timeout).
#[track_caller]
pub fn read_to_end(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all)?;
    Ok(all)
}

/// Polls `condition` until it holds, failing with `what` after [`TIMEOUT`].
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    let mut pause = Duration::from_micros(100);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out after {TIMEOUT:?} waiting until {what}");
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// `on_open`.
    Open(ConnId, Origin),
    /// `on_eof`.
    Eof(ConnId),
    /// `on_drain`.
    Drain(ConnId),
    /// `on_close`, with the reason.
    Close(ConnId, CloseReason),
    /// `on_connect_failed`, with the error's kind.
    ConnectFailed(ConnId, io::ErrorKind),
    /// `on_timer`, with its key.
    Timer(u64),
    /// `on_conn_timer`, with its key.
    ConnTimer(ConnId, u64),
    /// `on_message`.
    Message(u64),
    /// `on_stop`.
    Stop,
}

/// A handler that echoes (unless told not to) and reports every callback on
/// a channel, for tests that assert on the loop's behaviour.
#[derive(Debug)]
pub struct Recorder {
    events: Sender<Seen>,
    /// Echo input back.
    pub echo: bool,
    /// What `on_eof` answers.
    pub after_eof: AfterEof,
}

impl Recorder {
    /// A recording echo handler and the receiving end of its reports.
    pub fn new() -> (Recorder, Events) {
        let (events, rx) = mpsc::channel();
        (Recorder { events, echo: true, after_eof: AfterEof::Close }, Events(rx))
    }

    fn report(&self, seen: Seen) {
        let _ = self.events.send(seen);
    }
}

impl Handler for Recorder {
    type Conn = ();
    type Message = u64;

    fn on_open(&mut self, _cx: &mut Ctx, id: ConnId, origin: Origin) {
        self.report(Seen::Open(id, origin));
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        if self.echo {
            cx.send(id, data);
        }
        data.len()
    }

    fn on_eof(&mut self, _cx: &mut Ctx, id: ConnId, _conn: &mut (), _unconsumed: &[u8]) -> AfterEof {
        self.report(Seen::Eof(id));
        self.after_eof
    }

    fn on_drain(&mut self, _cx: &mut Ctx, id: ConnId, _conn: &mut ()) {
        self.report(Seen::Drain(id));
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        self.report(Seen::Close(id, reason));
    }

    fn on_connect_failed(&mut self, _cx: &mut Ctx, id: ConnId, error: io::Error) {
        self.report(Seen::ConnectFailed(id, error.kind()));
    }

    fn on_timer(&mut self, _cx: &mut Ctx, _timer: TimerId, key: u64) {
        self.report(Seen::Timer(key));
    }

    fn on_conn_timer(&mut self, _cx: &mut Ctx, id: ConnId, _conn: &mut (), _timer: TimerId, key: u64) {
        self.report(Seen::ConnTimer(id, key));
    }

    fn on_message(&mut self, _cx: &mut Ctx, message: u64) {
        self.report(Seen::Message(message));
    }

    fn on_stop(&mut self, _cx: &mut Ctx) {
        self.report(Seen::Stop);
    }
}

/// The receiving end of a [`Recorder`]'s reports.
#[derive(Debug)]
pub struct Events(Receiver<Seen>);

impl Events {
    /// The next event, failing the test if none comes within [`TIMEOUT`].
    #[track_caller]
    pub fn next(&self) -> Seen {
        match self.0.recv_timeout(TIMEOUT) {
            Ok(seen) => seen,
            Err(RecvTimeoutError::Timeout) => panic!("no event within {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the handler is gone"),
        }
    }

    /// Skips events until one matches `wanted`, returning it.
    #[track_caller]
    pub fn find(&self, what: &str, wanted: impl FnMut(&Seen) -> bool) -> Seen {
        find_within(&self.0, what, wanted)
    }

    /// The id of the next connection opened.
    #[track_caller]
    pub fn next_open(&self) -> ConnId {
        match self.find("on_open", |s| matches!(s, Seen::Open(..))) {
            Seen::Open(id, _) => id,
            _ => unreachable!(),
        }
    }

    /// The reason `id` closed, waiting for it.
    #[track_caller]
    pub fn close_reason(&self, id: ConnId) -> CloseReason {
        match self.find("on_close", |s| matches!(s, Seen::Close(closed, _) if *closed == id)) {
            Seen::Close(_, reason) => reason,
            _ => unreachable!(),
        }
    }

    /// Everything reported so far, without waiting.
    pub fn drain(&self) -> Vec<Seen> {
        self.0.try_iter().collect()
    }
}

/// Skips what `events` reports until one matches `wanted`, returning it;
/// fails the test with `what` if none comes within [`TIMEOUT`].
#[track_caller]
pub fn find_within<T>(events: &Receiver<T>, what: &str, mut wanted: impl FnMut(&T) -> bool) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(seen) if wanted(&seen) => return seen,
            Ok(_) => {}
            Err(_) => panic!("no {what} within {TIMEOUT:?}"),
        }
    }
}

/// A config for tests: generous limits, timeouts off unless a test sets them.
pub fn test_config() -> Config {
    Config { idle_timeout: None, write_timeout: None, ..Config::default() }
}
