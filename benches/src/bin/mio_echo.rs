//! The floor: an echo server written directly on mio, with no framework.
//!
//! ```text
//! cargo run --release -p bench --bin mio_echo -- --listen 127.0.0.1:0
//! nc 127.0.0.1 7878
//! ```
//!
//! One `Poll`, edge-triggered registration for read and write once per
//! connection, one 64 KiB scratch buffer for every read, reads until a short
//! read (which on Linux proves a stream socket drained, epoll(7)), and the
//! echo written at once; only what the socket refuses is kept, per
//! connection, until the writable edge. No timers, no limits, no stats: the
//! benchmark compares evloop against this to show what the framework itself
//! costs over raw readiness I/O.
//!
//! It prints `listening on ADDR` on stdout once bound.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// The listener's token; connections use their slab index.
const LISTENER: Token = Token(usize::MAX);

/// The one buffer every read goes into.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Echo server on bare mio.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
}

/// One client: its socket and the echo bytes it has not taken yet.
struct Connection {
    stream: TcpStream,
    unsent: Vec<u8>,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(args.listen)?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    // On stdout, for scripts that started us on port 0.
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;

    let mut connections: Slab<Connection> = Slab::new();
    let mut scratch = vec![0u8; SCRATCH_BYTES];
    let mut events = Events::with_capacity(1024);
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        }
        for event in &events {
            if event.token() == LISTENER {
                accept_all(&listener, &poll, &mut connections)?;
                continue;
            }
            let key = event.token().0;
            let Some(conn) = connections.get_mut(key) else { continue };
            if serve(conn, &mut scratch).is_err() {
                let mut conn = connections.remove(key);
                let _ = poll.registry().deregister(&mut conn.stream);
            }
        }
    }
}

/// Accepts until the backlog is empty.
fn accept_all(listener: &TcpListener, poll: &Poll, connections: &mut Slab<Connection>) -> io::Result<()> {
    loop {
        let (mut stream, _peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            // EMFILE and friends: leave the rest in the backlog; the next
            // readable edge (a new connect) tries again.
            Err(err) => {
                eprintln!("accept: {err}");
                return Ok(());
            }
        };
        stream.set_nodelay(true)?;
        let entry = connections.vacant_entry();
        poll.registry().register(&mut stream, Token(entry.key()), Interest::READABLE | Interest::WRITABLE)?;
        entry.insert(Connection { stream, unsent: Vec::new() });
    }
}

/// Flushes what is owed, then echoes until the socket is drained or full.
/// An error (or the peer closing) means the connection is done.
fn serve(conn: &mut Connection, scratch: &mut [u8]) -> io::Result<()> {
    if !conn.unsent.is_empty() {
        let written = write_some(&mut conn.stream, &conn.unsent)?;
        conn.unsent.drain(..written);
        if !conn.unsent.is_empty() {
            // Still full: reading more would only queue more; the writable
            // edge brings us back, and the unread input waits in the kernel.
            return Ok(());
        }
    }
    loop {
        let n = match conn.stream.read(scratch) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        let written = write_some(&mut conn.stream, &scratch[..n])?;
        if written < n {
            conn.unsent.extend_from_slice(&scratch[written..n]);
            return Ok(());
        }
        if n < scratch.len() {
            return Ok(());
        }
    }
}

/// Writes as much of `bytes` as the socket takes now; how much it took.
fn write_some(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(written)
}
