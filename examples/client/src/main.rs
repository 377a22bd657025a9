//! `client`: an `nc` built on evloop's nonblocking connect, and a load
//! generator for echo servers.
//!
//! What it shows: outbound connections (`EventLoop::connect`, ending in
//! `on_open` or `on_connect_failed` with the socket's error), a blocking
//! source brought into the loop (stdin, read on a helper thread that hands
//! each chunk to the loop through a `LoopHandle`, in `stdin_feed.rs`), a
//! half-close at stdin's end (`shutdown_write`), and many connections
//! driven from one thread (`load.rs`).
//!
//! ```text
//! cargo run --release -p echo                        # an echo server on 127.0.0.1:7878
//! cargo run --release -p client                      # type lines, get them back; Ctrl-D half-closes
//! cargo run --release -p client -- localhost         # the same: a host name, port 7878 by default
//! printf 'hi\n' | cargo run --release -p client      # prints hi, exits 0 once the server closes
//! cargo run --release -p client -- 127.0.0.1:1       # "connection refused: 127.0.0.1:1", exit 1
//! cargo run --release -p client -- --connections 1000 --messages 100 --size 512 127.0.0.1:7878
//! cargo run --release -p client -- --unix /tmp/echo.sock   # a Unix-domain socket (echo --unix)
//! cargo run --release -p client -- --tls --insecure 127.0.0.1:7879   # TLS (echo --tls-self-signed)
//! cargo run --release -p client -- --tls --ca ca.pem 127.0.0.1:7879  # TLS, checking the certificate
//! ```
//!
//! Interactive mode is one connection on the loop; load mode opens every
//! connection at once on the one loop thread. `RUST_LOG=debug` shows the
//! connection's life, and `RUST_LOG=info` the loop's final stats.

mod connect_failure;
mod fd_limit;
mod interactive;
mod load;
mod payload;
mod report;
mod server_addr;
mod stdin_feed;
mod target;
mod tls;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use evloop::LoopHandle;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::load::LoadSpec;
use crate::target::Target;

/// Connect to a TCP (or Unix-domain) server: relay stdin and stdout like `nc`, or with
/// `--connections`, measure an echo server under load.
// `[::1]:7878` below is an address for `--help`, not a doc link.
#[allow(rustdoc::broken_intra_doc_links)]
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server: HOST:PORT, HOST (port 7878) or an IP address, e.g. localhost,
    /// localhost:7878, 127.0.0.1, [::1]:7878. A name is resolved once, at start.
    #[arg(default_value = "127.0.0.1:7878", value_parser = server_addr::resolve)]
    addr: SocketAddr,
    /// Connect to the Unix-domain socket at this path instead of ADDR.
    #[arg(long)]
    unix: Option<PathBuf>,
    /// Speak TLS to ADDR (needs --ca or --insecure).
    #[arg(long, conflicts_with = "unix")]
    tls: bool,
    /// With --tls: trust the certificate authorities in this PEM file.
    #[arg(long, requires = "tls")]
    ca: Option<PathBuf>,
    /// With --tls: accept any server certificate (as `curl -k`).
    #[arg(long, requires = "tls", conflicts_with = "ca")]
    insecure: bool,
    /// With --tls: the server name sent (SNI) and checked against its certificate.
    #[arg(long, default_value = "localhost", requires = "tls")]
    tls_name: String,
    /// Give up on a connect still pending after this many seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    connect_timeout_secs: u64,
    /// Load mode: open this many connections at once and echo through each.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    connections: Option<u32>,
    /// Load mode: messages echoed one after another on each connection.
    #[arg(long, default_value_t = 100, requires = "connections", value_parser = clap::value_parser!(u32).range(1..))]
    messages: u32,
    /// Load mode: bytes per message.
    #[arg(long, default_value_t = 512, requires = "connections", value_parser = clap::value_parser!(u32).range(1..))]
    size: u32,
}

fn main() -> ExitCode {
    // Warnings only by default: stderr is for the one line that says what failed.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let connect_timeout = Duration::from_secs(args.connect_timeout_secs);
    let target = match (args.unix, args.tls) {
        (Some(path), _) => Target::Unix(path),
        (None, true) => {
            let config = match tls::client_config(args.ca.as_deref(), args.insecure) {
                Ok(config) => config,
                Err(e) => {
                    eprintln!("client: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let Ok(name) = evloop::tls::rustls::pki_types::ServerName::try_from(args.tls_name.clone()) else {
                eprintln!("client: --tls-name {:?} is not a valid server name", args.tls_name);
                return ExitCode::FAILURE;
            };
            Target::Tls(args.addr, name, config)
        }
        (None, false) => Target::Tcp(args.addr),
    };
    let outcome = match args.connections {
        Some(connections) => load::run(LoadSpec {
            target,
            connections: connections as usize,
            messages: args.messages,
            size: args.size as usize,
            connect_timeout,
        }),
        None => interactive::run(target, connect_timeout),
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("client: {e}");
        ExitCode::FAILURE
    })
}

/// Asks the loop behind `handle` to stop on SIGINT or SIGTERM: connections
/// flush and close, and the mode reports how far it got.
///
/// # Errors
///
/// If the signal handlers cannot be installed or the thread cannot start.
fn stop_on_signals<M: Send + 'static>(handle: LoopHandle<M>) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        if let Some(signal) = signals.forever().next() {
            log::info!("signal {signal}: stopping");
            let _ = handle.stop();
        }
    })?;
    Ok(())
}
