//! Fan-out throughput of the chat server: one sender, many listeners, and
//! how many lines per second reach them.
//!
//! ```text
//! cargo run --release -p chat --bin fanout                       # 1,000 listeners, in-process server
//! cargo run --release -p chat --bin fanout -- --lockstep --lines 2000
//! cargo run --release -p chat --bin fanout -- --server 127.0.0.1:7879  # a running `chat`
//! cargo run --release -p chat --bin fanout -- --threads 2        # the in-process server on 2 loops
//! ```
//!
//! The listeners are outbound connections on an evloop loop of their own,
//! decoding with the same `LineDecoder` the server uses. Once every one
//! has its welcome, one blocking client takes the nick `sender` and writes
//! `--lines` lines, `--batch` lines per write; the clock runs from its
//! first write until the last listener has read the last line. Each line
//! reaches every listener once, so lines delivered = lines x listeners.
//!
//! A sender that writes faster than the server reads gets its lines
//! coalesced: one read holds many, and the server sends them to each
//! listener in one write. `--lockstep` measures the other extreme: the
//! sender writes one line and waits until every listener has it before the
//! next, so each line costs the server one write per listener.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::{Duration, Instant};

use chat::{Chat, Settings};
use clap::Parser;
use evloop::codec::LineDecoder;
use evloop::{Config, ConnId, Ctx, EventLoop, GroupBuilder, Handler, Origin};

/// Measures the chat server's fan-out: one sender, many listeners.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Clients that only listen.
    #[arg(long, default_value_t = 1000)]
    listeners: usize,
    /// Lines the sender writes.
    #[arg(long, default_value_t = 10_000)]
    lines: usize,
    /// Bytes of text per line, before the `sender: ` prefix and newline.
    #[arg(long, default_value_t = 64)]
    line_bytes: usize,
    /// Lines per write by the sender (1: each line its own segment).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Write one line at a time, each only once every listener has the last.
    #[arg(long)]
    lockstep: bool,
    /// A chat server already running; by default one starts in-process on 127.0.0.1:0.
    #[arg(long)]
    server: Option<SocketAddr>,
    /// Loops of the in-process server, one room across them (0: one per CPU).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// What a listener hears that sets the pace of the run.
#[derive(Debug)]
enum Progress {
    /// Every listener is in the room.
    AllWelcomed,
    /// Every listener has this many lines (sent in lockstep mode only).
    Round(usize),
    /// Every listener has every line, at this instant.
    AllDelivered(Instant),
    /// A listener's connection failed or closed early.
    Lost(String),
}

/// The listeners' side: counts the sender's lines on every connection.
#[derive(Debug)]
struct Listeners {
    count: usize,
    lines_each: usize,
    welcomed: usize,
    finished: usize,
    /// Lines received by all listeners together.
    received: usize,
    lockstep: bool,
    progress: Sender<Progress>,
}

/// One listener's state.
#[derive(Debug)]
struct Listener {
    decoder: LineDecoder,
    welcomed: bool,
    received: usize,
}

impl Handler for Listeners {
    type Conn = Listener;
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> Listener {
        Listener { decoder: LineDecoder::new(), welcomed: false, received: 0 }
    }

    fn on_data(&mut self, cx: &mut Ctx, _id: ConnId, listener: &mut Listener, data: &[u8]) -> usize {
        let mut lines = listener.decoder.decode(data);
        for line in lines.by_ref().flatten() {
            if line.starts_with("sender: ") {
                listener.received += 1;
                self.received += 1;
                if self.lockstep && self.received.is_multiple_of(self.count) {
                    let _ = self.progress.send(Progress::Round(self.received / self.count));
                }
                if listener.received == self.lines_each {
                    self.finished += 1;
                    if self.finished == self.count {
                        let _ = self.progress.send(Progress::AllDelivered(Instant::now()));
                        cx.stop();
                    }
                }
            } else if !listener.welcomed && line.starts_with("* welcome") {
                listener.welcomed = true;
                self.welcomed += 1;
                if self.welcomed == self.count {
                    let _ = self.progress.send(Progress::AllWelcomed);
                }
            }
        }
        lines.consumed()
    }

    fn on_connect_failed(&mut self, _cx: &mut Ctx, id: ConnId, error: std::io::Error) {
        let _ = self.progress.send(Progress::Lost(format!("listener {id} could not connect: {error}")));
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, listener: Listener, reason: evloop::CloseReason) {
        if !cx.is_stopping() && listener.received < self.lines_each {
            let _ = self.progress.send(Progress::Lost(format!("listener {id} closed early: {reason}")));
        }
    }
}

/// Stops the in-process server and waits for it.
type StopServer = Box<dyn FnOnce()>;

/// Starts a chat server on its own thread (on `threads` loops unless 1),
/// on 127.0.0.1:0.
fn start_server(threads: usize) -> std::io::Result<(SocketAddr, StopServer)> {
    // One sender writing as fast as it can is a flood by design here.
    let settings = Settings { flood: None, ..Settings::default() };
    let config = settings.loop_config(Config { idle_timeout: None, write_timeout: None, ..Config::default() });
    let any_address = "127.0.0.1:0".parse().expect("a valid address");
    if threads == 1 {
        let mut el = EventLoop::new(config, Chat::new(settings))?;
        let addr = el.listen(any_address)?;
        let handle = el.handle();
        let server = thread::spawn(move || el.run().expect("the chat server failed"));
        let stop = move || {
            let _ = handle.stop();
            server.join().expect("the chat server panicked");
        };
        return Ok((addr, Box::new(stop)));
    }
    let mut builder = GroupBuilder::new(config);
    if threads > 0 {
        builder = builder.threads(threads);
    }
    let mut group = builder.build(Chat::group_factory(settings))?;
    let addr = group.listen(any_address)?;
    let handle = group.handle();
    let server = thread::spawn(move || group.run().expect("the chat server failed"));
    let stop = move || {
        let _ = handle.stop();
        server.join().expect("the chat server panicked");
    };
    Ok((addr, Box::new(stop)))
}

/// Joins the room as `sender` and waits until the server confirms it.
fn join_as_sender(addr: SocketAddr) -> std::io::Result<(TcpStream, BufReader<TcpStream>)> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    writer.write_all(b"/nick sender\n")?;
    let mut line = String::new();
    while !line.ends_with(" is now sender\n") {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line.starts_with("ERR") {
            return Err(std::io::Error::other(format!("could not take the nick `sender`: {line:?}")));
        }
    }
    Ok((writer, reader))
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    if args.lines == 0 || args.listeners == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "--lines and --listeners must be positive"));
    }
    let (addr, server) = match args.server {
        Some(addr) => (addr, None),
        None => {
            let (addr, stop) = start_server(args.threads)?;
            (addr, Some(stop))
        }
    };

    let (progress_tx, progress) = mpsc::channel();
    let handler = Listeners {
        count: args.listeners,
        lines_each: args.lines,
        welcomed: 0,
        finished: 0,
        received: 0,
        lockstep: args.lockstep,
        progress: progress_tx,
    };
    let mut listeners =
        EventLoop::new(Config { idle_timeout: None, write_timeout: None, ..Config::default() }, handler)?;
    for _ in 0..args.listeners {
        listeners.connect(addr)?;
    }
    let listeners_handle = listeners.handle();
    let listening = thread::spawn(move || listeners.run());

    let wait = |what: &str| -> std::io::Result<Progress> {
        match progress.recv_timeout(Duration::from_secs(120)) {
            Ok(Progress::Lost(why)) => Err(std::io::Error::other(why)),
            Ok(progress) => Ok(progress),
            Err(_) => Err(std::io::Error::other(format!("timed out waiting until {what}"))),
        }
    };
    wait("every listener is welcomed")?;
    let (mut sender, _replies) = join_as_sender(addr)?;

    let text = "x".repeat(args.line_bytes);
    let batch_lines = args.batch.max(1);
    let batch: Vec<u8> = (0..batch_lines).flat_map(|_| format!("{text}\n").into_bytes()).collect();
    let started = Instant::now();
    if args.lockstep {
        for sent in 1..args.lines {
            sender.write_all(&batch[..args.line_bytes + 1])?;
            match wait("every listener has the line")? {
                Progress::Round(round) if round == sent => {}
                other => return Err(std::io::Error::other(format!("after line {sent} the listeners said {other:?}"))),
            }
        }
        sender.write_all(&batch[..args.line_bytes + 1])?;
    } else {
        for first in (0..args.lines).step_by(batch_lines) {
            let lines_now = (args.lines - first).min(batch_lines);
            sender.write_all(&batch[..lines_now * (args.line_bytes + 1)])?;
        }
    }
    let finished = loop {
        match wait("every listener has every line")? {
            Progress::AllDelivered(finished) => break finished,
            Progress::Round(_) => {} // the last line's round
            Progress::AllWelcomed | Progress::Lost(_) => unreachable!("reported once, or an error"),
        }
    };
    let elapsed = finished - started;
    let delivered = (args.lines * args.listeners) as f64;
    println!(
        "{} lines x {} listeners = {delivered} lines delivered in {:.3} s: {:.0} lines/s",
        args.lines,
        args.listeners,
        elapsed.as_secs_f64(),
        delivered / elapsed.as_secs_f64()
    );

    // The server first, so it does not tell the room about 1,000 leaves.
    if let Some(stop) = server {
        stop();
    }
    let _ = listeners_handle.stop();
    listening.join().expect("the listeners' loop panicked")?;
    Ok(())
}
