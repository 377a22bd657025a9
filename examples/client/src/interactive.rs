//! The `nc` mode: stdin to the server, the server to stdout.
//!
//! Stdout is written from the loop thread, in `on_data`, and may block
//! while whatever reads our stdout is slow. For a one-connection CLI that
//! is the backpressure we want: while the loop waits on stdout it stops
//! reading the socket, and TCP's window slows the server down. A writer
//! thread would only move the wait: it needs a bounded queue and a way to
//! pause reading when that queue fills, which is what blocking here does.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use evloop::{CloseReason, Config, ConnId, Ctx, EventLoop, Handler, Origin, TimerId};
use log::debug;

use crate::connect_failure;
use crate::stdin_feed::{self, Credits, Input, CHUNK_BYTES, CREDITS_IN_FLIGHT};
use crate::target::Target;

/// Output queued for the server below which stdin may be read on.
const QUEUE_LIMIT_BYTES: usize = 256 * 1024;

/// Above this, evloop stops reading from the server. Stdin's output stays
/// below it ([`QUEUE_LIMIT_BYTES`] plus the chunks in flight), so a server
/// that stops reading when its replies back up (an echo server does) never
/// deadlocks with us while stdout keeps up.
const HIGH_WATERMARK_BYTES: usize = 1024 * 1024;

/// How often a backlog of stdin output is checked while it waits for the
/// server to take it. evloop's `on_drain` only follows the high watermark,
/// which we stay below on purpose (see [`HIGH_WATERMARK_BYTES`]).
const BACKLOG_RECHECK: Duration = Duration::from_millis(2);

const _: () = assert!(QUEUE_LIMIT_BYTES + CREDITS_IN_FLIGHT * CHUNK_BYTES < HIGH_WATERMARK_BYTES);

/// Exit status when the server closes the connection.
const EXIT_SERVER_CLOSED: u8 = 0;
/// Exit status when connecting or the connection failed.
const EXIT_FAILED: u8 = 1;
/// Exit status after SIGINT or SIGTERM, as a shell reports Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;

/// Connects to `addr` and relays stdin and stdout until the server closes.
///
/// # Errors
///
/// If the event loop cannot be created or run, or a thread cannot start.
/// A failed connect is not an error: it is printed and the exit status says so.
pub(crate) fn run(addr: Target, connect_timeout: Duration) -> io::Result<ExitCode> {
    let config = Config {
        connect_timeout,
        // An interactive session may sit quiet for as long as its user likes.
        idle_timeout: None,
        write_timeout: None,
        high_watermark: HIGH_WATERMARK_BYTES,
        low_watermark: HIGH_WATERMARK_BYTES / 2,
        ..Config::default()
    };
    let (credits, credit_wait) = stdin_feed::credits();
    let mut el = EventLoop::new(config, Interactive::new(addr.clone(), connect_timeout, credits))?;
    if let Err(e) = addr.connect(&mut el) {
        eprintln!("{}", connect_failure::describe(&addr, &e, connect_timeout));
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    stdin_feed::spawn(credit_wait, el.handle())?;
    crate::stop_on_signals(el.handle())?;
    el.run()?;
    Ok(ExitCode::from(el.handler().exit_status.unwrap_or(EXIT_FAILED)))
}

/// Relays between stdin (as [`Input`] messages) and one outbound
/// connection, and stops the loop when that connection ends.
#[derive(Debug)]
struct Interactive {
    addr: Target,
    connect_timeout: Duration,
    credits: Credits,
    conn: Option<ConnId>,
    /// Credits held back until the server takes our queued output.
    credits_owed: usize,
    recheck_armed: bool,
    /// Decided by whichever ending comes first.
    exit_status: Option<u8>,
}

impl Interactive {
    fn new(addr: Target, connect_timeout: Duration, credits: Credits) -> Interactive {
        Interactive {
            addr,
            connect_timeout,
            credits,
            conn: None,
            credits_owed: 0,
            recheck_armed: false,
            exit_status: None,
        }
    }

    fn finish(&mut self, cx: &mut Ctx, status: u8) {
        self.exit_status.get_or_insert(status);
        cx.stop();
    }

    /// Lets stdin go on if the server keeps up, else checks again shortly.
    fn return_credit(&mut self, cx: &mut Ctx, id: ConnId) {
        self.credits_owed += 1;
        if cx.queued_output(id).is_some_and(|queued| queued <= QUEUE_LIMIT_BYTES) {
            self.credits.grant(std::mem::take(&mut self.credits_owed));
        } else if !self.recheck_armed {
            self.recheck_armed = cx.set_conn_timer(id, BACKLOG_RECHECK, 0).is_some();
        }
    }
}

impl Handler for Interactive {
    type Conn = ();
    type Message = Input;

    fn on_open(&mut self, _cx: &mut Ctx, id: ConnId, _origin: Origin) {
        debug!("connected to {}", self.addr);
        self.conn = Some(id);
        self.credits.grant(CREDITS_IN_FLIGHT);
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        let mut stdout = io::stdout().lock();
        if let Err(e) = stdout.write_all(data).and_then(|()| stdout.flush()) {
            eprintln!("writing stdout: {e}");
            self.exit_status.get_or_insert(EXIT_FAILED);
            cx.abort(id);
        }
        data.len()
    }

    fn on_close(&mut self, cx: &mut Ctx, _id: ConnId, _conn: (), reason: CloseReason) {
        let status = match reason {
            CloseReason::PeerClosed => EXIT_SERVER_CLOSED,
            CloseReason::Shutdown => EXIT_INTERRUPTED,
            CloseReason::App => EXIT_FAILED, // we gave up on it; the reason is printed
            other => {
                eprintln!("connection to {} lost: {other}", self.addr);
                EXIT_FAILED
            }
        };
        self.finish(cx, status);
    }

    fn on_connect_failed(&mut self, cx: &mut Ctx, _id: ConnId, error: io::Error) {
        eprintln!("{}", connect_failure::describe(&self.addr, &error, self.connect_timeout));
        self.finish(cx, EXIT_FAILED);
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), _timer: TimerId, _key: u64) {
        self.recheck_armed = false;
        if self.credits_owed > 0 {
            self.credits_owed -= 1; // return_credit counts it again
            self.return_credit(cx, id);
        }
    }

    fn on_message(&mut self, cx: &mut Ctx, input: Input) {
        let Some(id) = self.conn else { return };
        match input {
            Input::Data(bytes) => {
                // `false` once the connection is closing: its end is near
                // and on_close decides the exit, so stdin is dropped.
                if cx.send(id, &bytes) {
                    self.return_credit(cx, id);
                }
            }
            Input::Eof => {
                debug!("stdin ended: half-closing");
                cx.shutdown_write(id);
            }
            Input::Failed(e) => {
                eprintln!("reading stdin: {e}");
                cx.shutdown_write(id);
            }
        }
    }
}
