//! The load mode: many outbound connections at once, each echoing a fixed
//! number of messages in a closed loop (send one, wait for its whole echo,
//! send the next), with every echoed byte checked.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use evloop::{CloseReason, Config, ConnId, Ctx, EventLoop, Handler, Origin};
use hdrhistogram::Histogram;

use crate::connect_failure;
use crate::fd_limit;
use crate::payload::Stream;
use crate::report::{Mismatch, Report};
use crate::target::Target;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct LoadSpec {
    pub(crate) target: Target,
    pub(crate) connections: usize,
    pub(crate) messages: u32,
    pub(crate) size: usize,
    pub(crate) connect_timeout: Duration,
}

/// A connection that hears nothing for this long is closed and counted as
/// failed, so a server that stops answering ends the run instead of
/// hanging it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the load described by `spec`, prints the report, and returns
/// success only if every connection echoed every byte intact.
///
/// # Errors
///
/// If the event loop cannot be created or run, or the process runs out of
/// file descriptors before every connection is opened (the error says how
/// many opened, the limit, and how to raise it).
pub(crate) fn run(spec: LoadSpec) -> io::Result<ExitCode> {
    fd_limit::raise()?;
    let config = Config {
        connect_timeout: spec.connect_timeout,
        max_connections: spec.connections,
        idle_timeout: Some(IDLE_TIMEOUT),
        ..Config::default()
    };
    let target = spec.target.clone();
    let connections = spec.connections;
    let mut el = EventLoop::new(config, Load::new(spec))?;
    // Before the connects: the signal pipe needs descriptors too.
    crate::stop_on_signals(el.handle())?;
    // All at once: every connect is pending before the loop runs.
    let mut opened = 0;
    for _ in 0..connections {
        match target.connect(&mut el) {
            Ok(_) => opened += 1,
            // Every further connect would fail alike, and a run with fewer
            // connections than asked for would measure something else.
            Err(e) if fd_limit::is_exhausted(&e) => {
                return Err(io::Error::other(fd_limit::explain_exhaustion(opened, connections)?));
            }
            Err(e) => el.handler_mut().connect_failed(&e),
        }
    }
    if !el.handler().all_finished() {
        el.run()?;
    }
    let report = el.into_handler().into_report();
    print!("{report}");
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One connection's place in its sequence of messages.
#[derive(Debug)]
struct LoadConn {
    /// Seeds this connection's payloads (distinct per connection).
    number: u32,
    /// The message in flight.
    message: u32,
    /// Bytes of its echo received so far.
    received: usize,
    sent_at: Instant,
    /// Every message echoed; closing now is the plan, not a failure.
    done: bool,
}

/// Drives the load and gathers what the report needs.
#[derive(Debug)]
struct Load {
    spec: LoadSpec,
    started: Instant,
    opened: u32,
    finished: usize,
    /// Time from the start to each connection's `on_open`, in nanoseconds.
    connect_ns: Histogram<u64>,
    /// Time from sending a message to receiving its last echoed byte, in nanoseconds.
    latency_ns: Histogram<u64>,
    first_send: Option<Instant>,
    last_echo: Option<Instant>,
    echoed_messages: u64,
    verified_bytes: u64,
    mismatched_bytes: u64,
    first_mismatch: Option<Mismatch>,
    connect_failures: Vec<String>,
    /// Opened, then closed by the server before any reply: turned away,
    /// as a server at its connection limit does (evloop accepts and closes).
    refused: usize,
    closed_early: Vec<String>,
    /// The message being sent, and the one an echo is compared with.
    outgoing: Vec<u8>,
    expected: Vec<u8>,
}

fn nanosecond_histogram() -> Histogram<u64> {
    // 1 ns to 1 hour at 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

impl Load {
    fn new(spec: LoadSpec) -> Load {
        let size = spec.size;
        Load {
            spec,
            started: Instant::now(),
            opened: 0,
            finished: 0,
            connect_ns: nanosecond_histogram(),
            latency_ns: nanosecond_histogram(),
            first_send: None,
            last_echo: None,
            echoed_messages: 0,
            verified_bytes: 0,
            mismatched_bytes: 0,
            first_mismatch: None,
            connect_failures: Vec::new(),
            refused: 0,
            closed_early: Vec::new(),
            outgoing: vec![0; size],
            expected: vec![0; size],
        }
    }

    fn all_finished(&self) -> bool {
        self.finished == self.spec.connections
    }

    fn connect_failed(&mut self, error: &io::Error) {
        self.connect_failures.push(connect_failure::describe(&self.spec.target, error, self.spec.connect_timeout));
        self.finished += 1;
    }

    fn finish_one(&mut self, cx: &mut Ctx) {
        self.finished += 1;
        if self.all_finished() {
            cx.stop();
        }
    }

    fn send_message(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut LoadConn) {
        Stream { connection: conn.number, message: conn.message }.fill(0, &mut self.outgoing);
        conn.received = 0;
        conn.sent_at = Instant::now();
        self.first_send.get_or_insert(conn.sent_at);
        // `false` only if the connection is closing, and on_close counts that.
        cx.send(id, &self.outgoing);
    }

    /// Compares `echo` with what `conn`'s message holds at its next offset.
    fn verify(&mut self, conn: &LoadConn, echo: &[u8]) {
        let expected = &mut self.expected[..echo.len()];
        Stream { connection: conn.number, message: conn.message }.fill(conn.received, expected);
        self.verified_bytes += echo.len() as u64;
        if echo == expected {
            return;
        }
        let differing = echo.iter().zip(expected.iter()).filter(|(got, want)| got != want).count();
        self.mismatched_bytes += differing as u64;
        if self.first_mismatch.is_none() {
            let at = echo.iter().zip(expected.iter()).position(|(got, want)| got != want).unwrap_or(0);
            self.first_mismatch = Some(Mismatch {
                connection: conn.number,
                message: conn.message,
                offset: conn.received + at,
                expected: expected[at],
                got: echo[at],
            });
        }
    }

    fn into_report(self) -> Report {
        let elapsed = match (self.first_send, self.last_echo) {
            (Some(first), Some(last)) => last.duration_since(first),
            _ => Duration::ZERO,
        };
        Report {
            addr: self.spec.target.clone(),
            connections: self.spec.connections,
            messages_per_connection: self.spec.messages,
            size: self.spec.size,
            opened: self.opened as usize,
            connect_ns: self.connect_ns,
            echoed_messages: self.echoed_messages,
            elapsed,
            latency_ns: self.latency_ns,
            verified_bytes: self.verified_bytes,
            mismatched_bytes: self.mismatched_bytes,
            first_mismatch: self.first_mismatch,
            connect_failures: self.connect_failures,
            refused: self.refused,
            closed_early: self.closed_early,
        }
    }
}

impl Handler for Load {
    type Conn = LoadConn;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) -> LoadConn {
        let now = Instant::now();
        self.connect_ns.saturating_record(now.duration_since(self.started).as_nanos() as u64);
        let mut conn = LoadConn { number: self.opened, message: 0, received: 0, sent_at: now, done: false };
        self.opened += 1;
        self.send_message(cx, id, &mut conn);
        conn
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut LoadConn, data: &[u8]) -> usize {
        let now = Instant::now();
        if conn.done {
            // Nothing is in flight: these bytes were never sent.
            self.mismatched_bytes += data.len() as u64;
            return data.len();
        }
        let (echo, surplus) = data.split_at(data.len().min(self.spec.size - conn.received));
        self.verify(conn, echo);
        conn.received += echo.len();
        if !surplus.is_empty() {
            // A closed loop has one message in flight: more is never an echo.
            self.mismatched_bytes += surplus.len() as u64;
        }
        if conn.received == self.spec.size {
            self.latency_ns.saturating_record(now.duration_since(conn.sent_at).as_nanos() as u64);
            self.echoed_messages += 1;
            self.last_echo = Some(now);
            conn.message += 1;
            if conn.message < self.spec.messages {
                self.send_message(cx, id, conn);
            } else {
                conn.done = true;
                cx.close(id);
            }
        }
        data.len()
    }

    fn on_close(&mut self, cx: &mut Ctx, _id: ConnId, conn: LoadConn, reason: CloseReason) {
        let nothing_echoed = conn.message == 0 && conn.received == 0;
        if !conn.done && nothing_echoed && matches!(reason, CloseReason::PeerClosed | CloseReason::Reset) {
            // End of file, or a reset if our first message reached the
            // socket before the server closed it unread.
            self.refused += 1;
        } else if !conn.done {
            self.closed_early.push(format!(
                "connection {} closed after {} of {} messages: {reason}",
                conn.number, conn.message, self.spec.messages
            ));
        }
        self.finish_one(cx);
    }

    fn on_connect_failed(&mut self, cx: &mut Ctx, _id: ConnId, error: io::Error) {
        self.connect_failed(&error);
        if self.all_finished() {
            cx.stop();
        }
    }
}
