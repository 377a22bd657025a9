//! A thread-per-connection echo server on `std::net`: the benchmark baseline.
//!
//! ```text
//! cargo run --release -p threaded                 # listens on 127.0.0.1:7878
//! nc 127.0.0.1 7878                               # type a line, get it back
//! cargo run --release -p threaded -- --listen 127.0.0.1:0 --stack-kib 64
//! ```
//!
//! This is the server a competent user writes without an event loop: one
//! thread per accepted connection doing blocking `read`/`write_all` with its
//! own buffer, `TCP_NODELAY` set (a request/response workload stalls on
//! Nagle's algorithm otherwise), and small thread stacks so that ten thousand
//! connections fit: the echo loop needs a few KiB of stack, and the default
//! 2 MiB only costs address space and page-table entries.
//!
//! It prints `listening on ADDR` on stdout once bound, like the evloop echo
//! example, so a script can start it on port 0 and read the port back.
//! SIGINT/SIGTERM end it the default way (the process exits at once).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use clap::Parser;

/// Bytes read per `read(2)`: the size `std::io::copy` and `tokio::io::copy` use.
const BUFFER_BYTES: usize = 8 * 1024;

/// How long to wait before accepting again after running out of file
/// descriptors or threads, instead of spinning on the failing `accept`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Echo server with one blocking thread per connection.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Stack size of each connection thread, in KiB.
    #[arg(long, default_value_t = 64)]
    stack_kib: usize,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen)?;
    // On stdout, for scripts that started us on port 0.
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    accept_forever(&listener, args.stack_kib * 1024)
}

/// Accepts connections and gives each its own thread; only a failure of the
/// listening socket itself ends it.
fn accept_forever(listener: &TcpListener, stack_bytes: usize) -> io::Result<()> {
    loop {
        let stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(err) if is_transient_accept_error(&err) => {
                eprintln!("accept: {err}; retrying in {ACCEPT_BACKOFF:?}");
                thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
            Err(err) => return Err(err),
        };
        let spawned = thread::Builder::new().name("conn".into()).stack_size(stack_bytes).spawn(move || {
            if let Err(err) = echo(stream) {
                if !is_peer_gone(&err) {
                    eprintln!("connection: {err}");
                }
            }
        });
        if let Err(err) = spawned {
            // The stream moved into the closure is dropped with it: the
            // client sees the connection close, the server goes on.
            eprintln!("spawning a connection thread: {err}; retrying in {ACCEPT_BACKOFF:?}");
            thread::sleep(ACCEPT_BACKOFF);
        }
    }
}

/// Echoes until the peer closes its side.
fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUFFER_BYTES];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        stream.write_all(&buf[..n])?;
    }
}

/// Errors that say the process is short of a resource for now (file
/// descriptors, memory) or that one pending connection died before it was
/// accepted: the listener itself is fine.
fn is_transient_accept_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted | ErrorKind::OutOfMemory
    ) || matches!(err.raw_os_error(), Some(code) if code == EMFILE || code == ENFILE || code == ENOBUFS)
}

/// How a client that went away shows up: not worth a log line.
fn is_peer_gone(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted)
}

/// `errno` values for "too many open files" (per process, system-wide) and
/// "no buffer space", fixed by the Linux ABI; spelled out to keep this
/// baseline on std alone.
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;
const ENOBUFS: i32 = 105;
