//! A tokio echo server: the peer a user would pick instead of evloop.
//!
//! ```text
//! cargo run --release -p bench --bin tokio_echo -- --listen 127.0.0.1:0
//! cargo run --release -p bench --bin tokio_echo -- --runtime multi-thread
//! nc 127.0.0.1 7878
//! ```
//!
//! Written as tokio's own examples write it: a task per connection, an
//! 8 KiB buffer (the size `tokio::io::copy` uses), `read` then `write_all`,
//! `TCP_NODELAY` on. The current-thread runtime is the like-for-like peer of
//! a single-threaded event loop; the multi-thread runtime is a second
//! reference (its worker count follows the CPUs the process may run on, so
//! one worker when the benchmark pins it to one CPU).
//!
//! It prints `listening on ADDR` on stdout once bound.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes read per `read`: the size `tokio::io::copy` uses.
const BUFFER_BYTES: usize = 8 * 1024;

/// Pause after a failed `accept` before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Which tokio scheduler runs the server.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Runtime {
    /// Everything on the thread that calls `block_on`.
    CurrentThread,
    /// The work-stealing pool, one worker per available CPU.
    MultiThread,
}

/// Echo server on tokio.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// The tokio scheduler to run on.
    #[arg(long, value_enum, default_value_t = Runtime::CurrentThread)]
    runtime: Runtime,
    /// Worker threads of the multi-thread runtime (default: one per available CPU).
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let runtime = match args.runtime {
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Runtime::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(workers) = args.workers {
                builder.worker_threads(workers);
            }
            builder.enable_all().build()?
        }
    };
    runtime.block_on(serve(args.listen))
}

async fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // On stdout, for scripts that started us on port 0.
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // EMFILE and a connection reset before accept are both worth
                // a line, neither is worth stopping the server for; the pause
                // keeps a descriptor shortage from spinning.
                eprintln!("accept: {err}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        tokio::spawn(async move {
            if let Err(err) = echo(stream).await {
                if !matches!(err.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe) {
                    eprintln!("connection: {err}");
                }
            }
        });
    }
}

/// Echoes until the peer closes its side.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; BUFFER_BYTES];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}
