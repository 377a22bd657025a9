//! An echo server on evloop: every byte a client sends comes back.
//!
//! What it shows: the smallest complete server. The handler (`Echo`, in
//! `lib.rs`) sends back what `on_data` is given and returns how much it
//! used; `main` builds a `Config` from the command line, listens, stops
//! gracefully on Ctrl-C (`stop_on_signals`, feature `signals`), and with
//! `--threads` runs the same handler on a `LoopGroup`, one loop per thread.
//! Read `examples/line` next: framing, per-connection state, a broadcast.
//!
//! ```text
//! cargo run --release -p echo                 # listens on 127.0.0.1:7878
//! nc 127.0.0.1 7878                           # type a line, get it back
//! RUST_LOG=debug cargo run --release -p echo  # log each accept and close
//! cargo run --release -p echo -- --threads 0  # one loop per CPU (a LoopGroup)
//! cargo run --release -p echo -- --unix /tmp/echo.sock  # a Unix-domain socket
//! nc -U /tmp/echo.sock                        # or: socat - UNIX-CONNECT:/tmp/echo.sock
//! cargo run --release -p echo -- --tls-self-signed   # TLS on 127.0.0.1:7879 too
//! openssl s_client -connect 127.0.0.1:7879 -CAfile CERT  # CERT: the path it prints
//! cargo run --release -p echo -- --tls-cert cert.pem --tls-key key.pem
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM stops it gracefully and logs the final stats.

mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use echo::Echo;
use evloop::{Config, EventLoop, GroupBuilder};

/// Echo server on a single-threaded evloop event loop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (repeat for several). Default 127.0.0.1:7878,
    /// unless only --unix is given.
    #[arg(long)]
    listen: Vec<SocketAddr>,
    /// Unix-domain socket to listen on (repeat for several); a stale socket
    /// file is replaced, and the file is removed on a clean stop.
    #[arg(long)]
    unix: Vec<PathBuf>,
    /// Connections open at once; further clients are closed at once until one leaves.
    #[arg(long, default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// Close a connection that sends nothing for this many seconds (0: never).
    #[arg(long, default_value_t = 300)]
    idle_timeout_secs: u64,
    /// Close a connection whose output makes no progress for this many seconds (0: never).
    #[arg(long, default_value_t = 30)]
    write_timeout_secs: u64,
    /// TLS: the certificate chain (PEM, own certificate first). With
    /// --tls-key, a TLS listener on --tls-listen serves the same echo.
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    tls_cert: Option<PathBuf>,
    /// TLS: the certificate's private key (PEM: PKCS #8, PKCS #1 or SEC1).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// TLS with a certificate for localhost made at start, for trying it:
    /// the certificate's path is printed, for a client to trust.
    #[arg(long)]
    tls_self_signed: bool,
    /// Address of the TLS listener (with --tls-cert or --tls-self-signed).
    #[arg(long, default_value = "127.0.0.1:7879")]
    tls_listen: SocketAddr,
    /// Event loops, one per thread, sharing the port with SO_REUSEPORT (0: one per CPU
    /// this process may use). 1 is the single-threaded loop.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// `0` switches a timeout off.
fn seconds(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn main() -> std::io::Result<()> {
    let mut args = Args::parse();
    if args.listen.is_empty() && args.unix.is_empty() {
        args.listen.push(SocketAddr::from(([127, 0, 0, 1], 7878)));
    }
    let config = Config {
        max_connections: args.max_connections,
        idle_timeout: seconds(args.idle_timeout_secs),
        write_timeout: seconds(args.write_timeout_secs),
        ..Config::default()
    };
    let certificate = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::Certificate::Files { cert: cert.clone(), key: key.clone() }),
        _ if args.tls_self_signed => Some(tls::Certificate::SelfSigned),
        _ => None,
    };
    if args.threads != 1 {
        return run_group(config, &args, certificate.as_ref());
    }
    let mut el = EventLoop::new(config, Echo)?;
    for addr in &args.listen {
        let bound = el.listen(*addr)?;
        // On stdout, for scripts that started us on port 0.
        println!("listening on {bound}");
    }
    for path in &args.unix {
        el.listen_unix(path)?;
        println!("listening on unix:{}", path.display());
    }
    if let Some(certificate) = &certificate {
        let (server_config, trust) = tls::server_config(certificate)?;
        let bound = el.listen_tls(args.tls_listen, server_config)?;
        println!("listening on tls:{bound}");
        if let Some(cert) = trust {
            println!("self-signed certificate for localhost: {}", cert.display());
            println!("try: openssl s_client -connect {bound} -CAfile {}", cert.display());
        }
    }
    init_logging();
    // Ctrl-C / SIGTERM: stop accepting, flush, close everyone, return.
    el.stop_on_signals()?;
    el.run()
}

/// Logs to stderr, at info unless `RUST_LOG` says otherwise. Called once
/// listening: `listen` logs the address stdout already has, and once is
/// enough. A failed bind is still reported, as main's error.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// `--threads N`: N loops, each with its own `Echo`; `max_connections` is per loop.
fn run_group(config: Config, args: &Args, certificate: Option<&tls::Certificate>) -> std::io::Result<()> {
    let mut builder = GroupBuilder::new(config);
    if args.threads > 0 {
        builder = builder.threads(args.threads);
    }
    let mut group = builder.build(|_index, _peers| Echo)?;
    for addr in &args.listen {
        println!("listening on {}", group.listen(*addr)?);
    }
    for path in &args.unix {
        group.listen_unix(path, None)?;
        println!("listening on unix:{}", path.display());
    }
    if let Some(certificate) = certificate {
        let (server_config, trust) = tls::server_config(certificate)?;
        println!("listening on tls:{}", group.listen_tls(args.tls_listen, server_config)?);
        if let Some(cert) = trust {
            println!("self-signed certificate for localhost: {}", cert.display());
        }
    }
    init_logging();
    group.stop_on_signals()?;
    for exit in group.run()? {
        log::info!("loop {}: {:?}: {}", exit.index, exit.result, exit.stats);
    }
    Ok(())
}
