//! The load generator: one thread, one mio `Poll`, any number of client
//! connections, each keeping a fixed number of messages in flight and
//! checking every echoed byte.
//!
//! Closed loop with one message in flight: a connection sends a message,
//! waits for the whole echo, then sends the next. Pipelined: it keeps
//! `in_flight` messages outstanding, sending one more for each that comes
//! back. Latency is from the moment a message is handed to the socket to the
//! moment its last byte is back.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use socket2::{Domain, Socket, Type};

use crate::pattern::Pattern;

/// Bytes taken per `read` by the load generator.
const READ_BYTES: usize = 64 * 1024;

/// With no echo anywhere for this long, the server is declared stuck.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one connect may take, SYN retransmits included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a fresh connection may wait for its ping to come back.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// The load one measurement applies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    /// Bytes per message.
    pub(crate) message_bytes: usize,
    /// Messages outstanding per connection (1: closed loop).
    pub(crate) in_flight: usize,
    /// Time under load before measuring starts.
    pub(crate) warmup: Duration,
    /// Time measured.
    pub(crate) window: Duration,
}

/// Called at the edges of the measuring window, on the load generator's
/// thread, so what it samples lines up with the messages counted.
pub(crate) trait WindowProbe {
    /// Right before the first message of the window is counted.
    fn window_started(&mut self) -> io::Result<()>;
    /// Right after the last one, connections still open.
    fn window_ended(&mut self) -> io::Result<()>;
}

/// What the load generator saw in the measuring window.
#[derive(Debug)]
pub(crate) struct Measured {
    /// Echoes completed inside the window.
    pub(crate) messages: u64,
    /// The window's actual length.
    pub(crate) elapsed: Duration,
    /// Round-trip time of each message completed in the window, in ns.
    pub(crate) latency_ns: Histogram<u64>,
}

/// Opens `count` connections to `addr`, one after the other, each proven
/// served by a one-byte round trip before the next opens. That keeps the
/// server's accept backlog from overflowing (std's listener asks for only
/// 128; an overflow costs a one-second SYN retransmit per dropped connect)
/// and guarantees every connection is accepted before any load starts. They
/// close with a reset (linger 0) so thousands of closes leave no TIME_WAIT.
pub(crate) fn connect_all(addr: SocketAddr, count: usize) -> io::Result<Vec<StdTcpStream>> {
    (0..count)
        .map(|index| {
            connect_and_ping(addr, index as u8)
                .map_err(|err| io::Error::new(err.kind(), format!("connection {index} of {count}: {err}")))
        })
        .collect()
}

fn connect_and_ping(addr: SocketAddr, ping: u8) -> io::Result<StdTcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_tcp_nodelay(true)?;
    socket.set_linger(Some(Duration::ZERO))?;
    socket.connect_timeout(&addr.into(), CONNECT_TIMEOUT)?;
    let mut stream: StdTcpStream = socket.into();
    stream.set_read_timeout(Some(PING_TIMEOUT))?;
    stream.write_all(&[ping])?;
    let mut echo = [0u8; 1];
    stream.read_exact(&mut echo).map_err(|err| io::Error::new(err.kind(), format!("no echo of the ping: {err}")))?;
    if echo[0] != ping {
        return Err(io::Error::new(ErrorKind::InvalidData, "wrong ping byte echoed"));
    }
    stream.set_read_timeout(None)?;
    Ok(stream)
}

/// One client connection's progress through its byte stream.
struct Client {
    stream: TcpStream,
    /// Where this connection's stream starts in the pattern.
    start: usize,
    /// Bytes of messages issued so far (written or waiting to be).
    issued: u64,
    /// Bytes the socket has taken.
    written: u64,
    /// Bytes echoed back and checked.
    received: u64,
    /// When each outstanding message was issued, oldest first.
    issued_at: VecDeque<Instant>,
}

/// Drives `streams` with `load`, calling `probe` at the window's edges.
///
/// # Errors
///
/// `InvalidData` when an echoed byte differs from the one sent, or a
/// connection receives no echo at all over the run; `UnexpectedEof` when the
/// server closes a connection; `TimedOut` when no echo arrives anywhere for
/// [`STALL_TIMEOUT`]; any socket or probe error as it came.
pub(crate) fn drive(streams: Vec<StdTcpStream>, load: Load, probe: &mut dyn WindowProbe) -> io::Result<Measured> {
    let pattern = Pattern::new(READ_BYTES.max(load.message_bytes * load.in_flight));
    let mut poll = Poll::new()?;
    let mut clients = Vec::with_capacity(streams.len());
    for (index, stream) in streams.into_iter().enumerate() {
        stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(stream);
        poll.registry().register(&mut stream, Token(index), Interest::READABLE | Interest::WRITABLE)?;
        let start = Pattern::start_of(index);
        clients.push(Client { stream, start, issued: 0, written: 0, received: 0, issued_at: VecDeque::new() });
    }
    let mut scratch = vec![0u8; READ_BYTES];
    let mut events = Events::with_capacity(1024);
    let mut latency_ns = new_histogram();
    let begun = Instant::now();
    for client in &mut clients {
        issue(client, load.in_flight, load.message_bytes, begun);
        flush(client, &pattern)?;
    }
    let window_start_due = begun + load.warmup;
    let mut window: Option<(Instant, u64)> = None;
    let mut completed: u64 = 0;
    let mut last_progress = begun;
    loop {
        let now = Instant::now();
        let due = match window {
            None => window_start_due,
            Some((started, _)) => started + load.window,
        };
        if now >= due {
            match window {
                None => {
                    probe.window_started()?;
                    latency_ns.reset();
                    window = Some((Instant::now(), completed));
                    continue;
                }
                Some((started, completed_before)) => {
                    let ended = Instant::now();
                    let messages = completed - completed_before;
                    probe.window_ended()?;
                    check_everyone_served(&clients, load.message_bytes)?;
                    return Ok(Measured { messages, elapsed: ended - started, latency_ns });
                }
            }
        }
        if now.duration_since(last_progress) > STALL_TIMEOUT {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("no echo on any connection for {STALL_TIMEOUT:?}"),
            ));
        }
        let timeout = (due - now).min(Duration::from_millis(500));
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        let record = window.is_some();
        for event in &events {
            let index = event.token().0;
            let client = &mut clients[index];
            let done = receive(client, index, &pattern, &mut scratch, load.message_bytes, |issued_at, now| {
                if record {
                    let _ = latency_ns.record(now.duration_since(issued_at).as_nanos() as u64);
                }
            })?;
            if done > 0 {
                completed += done as u64;
                last_progress = Instant::now();
                issue(client, done, load.message_bytes, Instant::now());
            }
            flush(client, &pattern)?;
        }
    }
}

/// Queues `count` more messages on `client`, stamped `now`.
fn issue(client: &mut Client, count: usize, message_bytes: usize, now: Instant) {
    client.issued += (count * message_bytes) as u64;
    client.issued_at.extend(std::iter::repeat_n(now, count));
}

/// Writes what was issued and not yet written, until done or the socket is full.
fn flush(client: &mut Client, pattern: &Pattern) -> io::Result<()> {
    while client.written < client.issued {
        let owed = (client.issued - client.written) as usize;
        let bytes = pattern.slice(client.start, client.written, owed);
        match client.stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => client.written += n as u64,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Reads until the socket is drained, checks every byte, and reports each
/// message whose echo is now complete to `on_complete(issued_at, now)`.
/// Returns how many completed.
fn receive(
    client: &mut Client,
    index: usize,
    pattern: &Pattern,
    scratch: &mut [u8],
    message_bytes: usize,
    mut on_complete: impl FnMut(Instant, Instant),
) -> io::Result<usize> {
    let mut completed = 0;
    loop {
        let n = match client.stream.read(scratch) {
            Ok(0) => {
                return Err(io::Error::new(ErrorKind::UnexpectedEof, format!("server closed connection {index}")));
            }
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if client.received + n as u64 > client.written {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("connection {index}: server echoed more bytes than were sent"),
            ));
        }
        if let Some(at) = pattern.first_mismatch(client.start, client.received, &scratch[..n]) {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("connection {index}: wrong byte echoed at stream offset {}", client.received + at as u64),
            ));
        }
        let messages_before = client.received / message_bytes as u64;
        client.received += n as u64;
        let messages_now = client.received / message_bytes as u64;
        if messages_now > messages_before {
            let now = Instant::now();
            for _ in messages_before..messages_now {
                let issued_at = client.issued_at.pop_front().expect("an echoed message was issued");
                on_complete(issued_at, now);
                completed += 1;
            }
        }
        // A short read proves a stream socket drained (epoll(7)).
        if n < scratch.len() {
            break;
        }
    }
    Ok(completed)
}

fn check_everyone_served(clients: &[Client], message_bytes: usize) -> io::Result<()> {
    let starved = clients.iter().filter(|client| client.received < message_bytes as u64).count();
    if starved > 0 {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("{starved} of {} connections got no complete echo over the whole run", clients.len()),
        ));
    }
    Ok(())
}

/// Latencies from 1 ns to 100 s at three significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// Counts its calls.
    #[derive(Default)]
    struct CountingProbe {
        starts: usize,
        ends: usize,
    }

    impl WindowProbe for CountingProbe {
        fn window_started(&mut self) -> io::Result<()> {
            self.starts += 1;
            Ok(())
        }
        fn window_ended(&mut self) -> io::Result<()> {
            self.ends += 1;
            Ok(())
        }
    }

    /// A thread-per-connection echo server on a background thread that
    /// flips every byte at stream offset `corrupt_at` (after the one-byte
    /// ping), if given. It serves `connections` clients, then stops accepting.
    fn echo_server(connections: usize, corrupt_at: Option<u64>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        thread::spawn(move || {
            for _ in 0..connections {
                let Ok((mut stream, _)) = listener.accept() else { return };
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut offset = 0u64;
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            return;
                        }
                        if let Some(at) = corrupt_at {
                            // The ping is byte 0 of the stream; load starts at 1.
                            let at = at + 1;
                            if (offset..offset + n as u64).contains(&at) {
                                buf[(at - offset) as usize] ^= 0xff;
                            }
                        }
                        offset += n as u64;
                        if stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn short_load(in_flight: usize) -> Load {
        Load { message_bytes: 100, in_flight, warmup: Duration::from_millis(50), window: Duration::from_millis(200) }
    }

    #[test]
    fn counts_echoes_in_the_window_and_calls_the_probe_once_each_edge() {
        let addr = echo_server(4, None);
        let streams = connect_all(addr, 4).expect("connect and ping four clients");
        let mut probe = CountingProbe::default();
        let measured = drive(streams, short_load(PIPELINE), &mut probe).expect("a clean run");
        assert!(measured.messages > 0, "some echoes should complete in the window");
        assert_eq!(measured.latency_ns.len(), measured.messages, "one latency sample per message counted");
        assert!(measured.elapsed >= Duration::from_millis(200), "the window lasts as long as asked");
        assert_eq!((probe.starts, probe.ends), (1, 1), "each window edge is probed exactly once");
    }

    #[test]
    fn a_wrong_byte_fails_the_run() {
        let addr = echo_server(2, Some(1000));
        let streams = connect_all(addr, 2).expect("connect and ping two clients");
        let err = drive(streams, short_load(1), &mut CountingProbe::default()).expect_err("a corrupted echo");
        assert_eq!(err.kind(), ErrorKind::InvalidData, "wrong bytes are reported as such: {err}");
        assert!(err.to_string().contains("offset 1000"), "the error names the stream offset: {err}");
    }

    /// Messages in flight for the pipelined test.
    const PIPELINE: usize = 4;
}
