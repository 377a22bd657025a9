//! Measures what a `LoopGroup` costs and how it spreads, on this machine.
//!
//! ```text
//! cargo run --release -p bench --bin group_probe -- spread     # each Spread: 10,000 connects, then a busy loop
//! cargo run --release -p bench --bin group_probe -- messages   # one message between loops: ns and syscalls
//! ```
//!
//! `spread` runs each server as a child process (`group_probe serve`), so
//! the 10,000 client and 10,000 server sockets each fit a 20,000-descriptor
//! limit. For every `Spread` it reports the connections each loop accepted
//! after 10,000 connects (each proven served by a one-byte echo before the
//! next), the rate of those connects, the accept syscalls and polls per
//! connection (the thundering herd shows there), and, with one loop kept
//! busy for a second, how 1,000 short connections fared.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use evloop::{Config, ConnId, Ctx, GroupBuilder, Handler, Origin, Peers, Spread, TimerId};

/// Measures a LoopGroup: connection spreading and messages between loops.
#[derive(Debug, Parser)]
struct Args {
    #[command(subcommand)]
    command: Probe,
}

#[derive(Debug, Subcommand)]
enum Probe {
    /// Compare the spreads on 2 loops.
    Spread {
        /// Connections in the connect storm.
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Short connections made while one loop is busy.
        #[arg(long, default_value_t = 1_000)]
        short: usize,
        /// How long the busy loop spins, milliseconds.
        #[arg(long, default_value_t = 1_000)]
        busy_ms: u64,
    },
    /// Cost of a message between two loops.
    Messages {
        /// Messages streamed to a busy loop.
        #[arg(long, default_value_t = 2_000_000)]
        count: u64,
        /// Ping-pong round trips (each message finds its target asleep).
        #[arg(long, default_value_t = 100_000)]
        pings: u64,
    },
    /// (internal) The server for `spread`: a 2-loop echo group.
    Serve {
        #[arg(long)]
        spread: String,
    },
}

fn main() -> io::Result<()> {
    match Args::parse().command {
        Probe::Spread { connections, short, busy_ms } => {
            for spread in ["reuse-port", "shared-listener", "acceptor"] {
                probe_spread(spread, connections, short, busy_ms)?;
            }
            Ok(())
        }
        Probe::Messages { count, pings } => probe_messages(count, pings),
        Probe::Serve { spread } => serve(&spread),
    }
}

fn parse_spread(name: &str) -> Spread {
    match name {
        "shared-listener" => Spread::SharedListener,
        "acceptor" => Spread::Acceptor,
        _ => Spread::ReusePort,
    }
}

/// Echoes; `busy MS` makes its loop spin for MS milliseconds after saying
/// `spinning N` (its index).
struct Spinner {
    index: usize,
}

impl Handler for Spinner {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        match std::str::from_utf8(data).ok().and_then(|text| text.trim().strip_prefix("busy ")) {
            Some(ms) => {
                cx.send(id, format!("spinning {}\n", self.index).as_bytes());
                // Spin once the reply is out: a timer due now would fire
                // this turn, before the loop writes; one 1 ms away, after.
                cx.set_conn_timer(id, Duration::from_millis(1), ms.parse().unwrap_or(1000));
            }
            None => {
                cx.send(id, data);
            }
        }
        data.len()
    }

    fn on_conn_timer(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), _timer: TimerId, ms: u64) {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    }
}

/// The child process: a 2-loop group until stdin closes, then one line
/// per loop with its counters.
fn serve(spread: &str) -> io::Result<()> {
    let config = Config { max_connections: 15_000, idle_timeout: None, write_timeout: None, ..Config::default() };
    let mut group =
        GroupBuilder::new(config).threads(2).spread(parse_spread(spread)).build(|index, _| Spinner { index })?;
    println!("listening on {}", group.listen("127.0.0.1:0".parse().unwrap())?);
    io::stdout().flush()?;
    let handle = group.handle();
    thread::spawn(move || {
        let _ = io::stdin().read_to_end(&mut Vec::new());
        let _ = handle.stop();
    });
    for exit in group.run()? {
        let s = &exit.stats;
        println!("loop {} accepted {} accept_calls {} polls {}", exit.index, s.accepted, s.accept_calls, s.poll_calls);
    }
    Ok(())
}

/// A `serve` child: its address, its stdin (close it to stop it) and stdout.
struct Child {
    process: std::process::Child,
    addr: SocketAddr,
    lines: io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Child {
    fn start(spread: &str) -> io::Result<Child> {
        let exe = std::env::current_exe()?;
        let mut process = Command::new(exe)
            .args(["serve", "--spread", spread])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(process.stdout.take().expect("piped")).lines();
        let first = lines.next().ok_or_else(|| io::Error::other("the server said nothing"))??;
        let addr = first.trim_start_matches("listening on ").parse().map_err(io::Error::other)?;
        Ok(Child { process, addr, lines })
    }

    /// Stops it; returns per loop (accepted, accept calls, polls).
    fn stop(mut self) -> io::Result<Vec<[u64; 3]>> {
        drop(self.process.stdin.take());
        let mut loops = Vec::new();
        for line in self.lines.by_ref() {
            let words: Vec<u64> = line?.split(' ').filter_map(|word| word.parse().ok()).collect();
            if let [_, accepted, accepts, polls] = words[..] {
                loops.push([accepted, accepts, polls]);
            }
        }
        self.process.wait()?;
        Ok(loops)
    }
}

/// Connects and proves the connection served with a one-byte echo.
fn connect_served(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    stream.write_all(b"x")?;
    let mut byte = [0];
    stream.read_exact(&mut byte)?;
    Ok(stream)
}

/// Runs `count` jobs over 4 client threads; returns each job's result.
fn on_four_threads<T: Send + 'static>(
    count: usize,
    job: impl Fn() -> io::Result<T> + Send + Sync + Copy + 'static,
) -> io::Result<Vec<T>> {
    let threads: Vec<_> = (0..4)
        .map(|t| thread::spawn(move || (t..count).step_by(4).map(|_| job()).collect::<io::Result<Vec<T>>>()))
        .collect();
    let mut all = Vec::new();
    for thread in threads {
        all.extend(thread.join().map_err(|_| io::Error::other("a client thread panicked"))??);
    }
    Ok(all)
}

fn probe_spread(spread: &str, connections: usize, short: usize, busy_ms: u64) -> io::Result<()> {
    // Storm: every connection stays open, so the count per loop is the spread.
    let server = Child::start(spread)?;
    let addr = server.addr;
    let start = Instant::now();
    let streams = on_four_threads(connections, move || connect_served(addr))?;
    let elapsed = start.elapsed();
    let loops = server.stop()?;
    drop(streams);
    let accepted: Vec<u64> = loops.iter().map(|l| l[0]).collect();
    let total = accepted.iter().sum::<u64>().max(1) as f64;
    println!(
        "{spread:<16} storm: per loop {accepted:?}, {:.0} connects/s, accept calls/conn {:.2}, polls/conn {:.2}",
        connections as f64 / elapsed.as_secs_f64(),
        loops.iter().map(|l| l[1]).sum::<u64>() as f64 / total,
        loops.iter().map(|l| l[2]).sum::<u64>() as f64 / total,
    );

    // Busy: one loop spins; short connections come and go meanwhile.
    let server = Child::start(spread)?;
    let addr = server.addr;
    let mut busy = TcpStream::connect(addr)?;
    busy.write_all(format!("busy {busy_ms}\n").as_bytes())?;
    let mut said = String::new();
    BufReader::new(busy.try_clone()?).read_line(&mut said)?;
    let start = Instant::now();
    let mut latencies = open_loop_pings(addr, short)?;
    let phase = start.elapsed();
    let loops = server.stop()?;
    latencies.sort();
    let late = latencies.iter().filter(|l| **l > Duration::from_millis(100)).count();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "{spread:<16} busy: {} ({busy_ms} ms); {short} short conns per loop {:?} in {:.0} ms; p50 {:.2} ms, p99 {:.0} ms, max {:.0} ms, {late} waited > 100 ms",
        said.trim(),
        loops.iter().map(|l| l[0]).collect::<Vec<_>>(),
        phase.as_secs_f64() * 1e3,
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    Ok(())
}

/// Opens `count` connections back to back, each sending one byte at once
/// (no connection waits for another's echo), then waits for every echo
/// with one poll; returns each connection's time from its send to its echo.
fn open_loop_pings(addr: SocketAddr, count: usize) -> io::Result<Vec<Duration>> {
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new()?;
    let mut pending = Vec::with_capacity(count);
    for i in 0..count {
        let mut stream = TcpStream::connect(addr)?;
        stream.write_all(b"x")?;
        let sent = Instant::now();
        stream.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(stream);
        poll.registry().register(&mut stream, Token(i), Interest::READABLE)?;
        pending.push((stream, sent, None));
    }
    let mut events = Events::with_capacity(1024);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left = count;
    while left > 0 && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for event in events.iter() {
            let (stream, sent, echoed) = &mut pending[event.token().0];
            let mut byte = [0];
            if echoed.is_none() && matches!(stream.read(&mut byte), Ok(1)) {
                *echoed = Some(sent.elapsed());
                left -= 1;
            }
        }
    }
    pending.into_iter().map(|(_, _, echoed)| echoed.ok_or_else(|| io::Error::other("an echo never came"))).collect()
}

/// What the two loops of `messages` say to each other.
#[derive(Debug)]
enum Msg {
    /// Begin: stream `n` messages (or ping-pong `n` times) to loop 1.
    Start {
        stream: bool,
        n: u64,
    },
    Ping(u64),
    Pong(u64),
    Item,
}

/// Loop 0 sends, loop 1 receives (and answers pings).
struct Bouncer {
    peers: Peers<Msg>,
    to_send: u64,
    sent: u64,
    received: u64,
    done: mpsc::Sender<()>,
}

impl Bouncer {
    fn pump(&mut self, cx: &mut Ctx) {
        self.peers.flush();
        let end = (self.sent + 256).min(self.to_send);
        while self.sent < end {
            let _ = self.peers.post(1, Msg::Item);
            self.sent += 1;
        }
        if self.sent < self.to_send || self.peers.held() > 0 {
            cx.set_timer(Duration::ZERO, 0);
        }
    }
}

impl Handler for Bouncer {
    type Conn = ();
    type Message = Msg;

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_message(&mut self, cx: &mut Ctx, message: Msg) {
        match message {
            Msg::Start { stream: true, n } => {
                self.to_send = n;
                if self.peers.index() == 0 {
                    self.pump(cx);
                }
            }
            Msg::Start { stream: false, n } => {
                self.to_send = n;
                let _ = self.peers.send(1, Msg::Ping(0));
            }
            Msg::Ping(i) => {
                let _ = self.peers.send(0, Msg::Pong(i));
            }
            Msg::Pong(i) if i + 1 < self.to_send => {
                let _ = self.peers.send(1, Msg::Ping(i + 1));
            }
            Msg::Pong(_) => {
                let _ = self.done.send(());
            }
            Msg::Item => {
                self.received += 1;
                if self.received == self.to_send {
                    let _ = self.done.send(());
                }
            }
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: TimerId, _key: u64) {
        self.pump(cx);
    }
}

/// Write syscalls (`write`, the eventfd wake-ups among them) this process
/// has made, from /proc/self/io.
fn write_syscalls() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines().find_map(|line| line.strip_prefix("syscw: ")?.parse().ok()).unwrap_or(0)
}

fn probe_messages(count: u64, pings: u64) -> io::Result<()> {
    for (stream, n) in [(true, count), (false, pings)] {
        let (done, finished) = mpsc::channel();
        let group = GroupBuilder::new(Config::default()).threads(2).build(move |_, peers| Bouncer {
            peers,
            to_send: 0,
            sent: 0,
            received: 0,
            done: done.clone(),
        })?;
        let handle = group.handle();
        let runner = thread::spawn(move || group.run());
        // Both loops asleep in epoll_wait before the clock starts.
        thread::sleep(Duration::from_millis(100));
        let writes_before = write_syscalls();
        let start = Instant::now();
        handle.send(0, Msg::Start { stream, n }).map_err(|_| io::Error::other("loop 0 is gone"))?;
        if stream {
            handle.send(1, Msg::Start { stream, n }).map_err(|_| io::Error::other("loop 1 is gone"))?;
        }
        finished.recv_timeout(Duration::from_secs(120)).map_err(|_| io::Error::other("the messages did not arrive"))?;
        let elapsed = start.elapsed();
        let writes = write_syscalls() - writes_before;
        let _ = handle.stop();
        let exits = runner.join().map_err(|_| io::Error::other("the group panicked"))??;
        let messages = if stream { n } else { 2 * n } as f64;
        let polls: u64 = exits.iter().map(|exit| exit.stats.poll_calls).sum();
        println!(
            "{:<10} {n} {}: {:.0} ns per message, eventfd writes per message {:.4}, epoll_waits per message {:.4}",
            if stream { "stream" } else { "ping-pong" },
            if stream { "messages to a busy loop" } else { "round trips (target asleep)" },
            elapsed.as_nanos() as f64 / messages,
            writes as f64 / messages,
            polls as f64 / messages,
        );
    }
    Ok(())
}
