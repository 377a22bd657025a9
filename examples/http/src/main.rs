//! An HTTP/1.1 server on evloop.
//!
//! ```text
//! cargo run --release -p http                                # listens on 127.0.0.1:8080
//! curl -v http://127.0.0.1:8080/ http://127.0.0.1:8080/json  # two requests, one connection
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/echo  # the body comes back
//! cargo run --release -p http -- --root .                    # and files under /static/
//! curl -r 0-99 http://127.0.0.1:8080/static/Cargo.toml       # a byte range (206)
//! wrk -c 50 -d 5 http://127.0.0.1:8080/                      # Debian: apt-get install wrk
//! ab -k -c 50 -n 100000 http://127.0.0.1:8080/               # Debian: apt-get install apache2-utils
//! RUST_LOG=debug cargo run --release -p http                 # log each connection and why it closed
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM stops it gracefully: responses already queued
//! are flushed, every connection is closed, and the loop's counters are
//! logged. No TLS: evloop's core has none yet (`--tls-...` will come with it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use evloop::{EventLoop, GroupBuilder};
use http::{Http, Settings};

/// HTTP/1.1 server on evloop: `/` (plaintext), `/json`, `POST /echo` and, with --root, files under `/static/`.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (repeat for several).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: Vec<SocketAddr>,
    /// Event loops, one per thread, sharing the port with SO_REUSEPORT (0: one per CPU
    /// this process may use). 1 is the single-threaded loop.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Serve the files under this directory at /static/ (nginx's root).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The largest request body, in bytes; past it, 413 (nginx's client_max_body_size).
    #[arg(long, default_value_t = Settings::default().max_body_bytes)]
    max_body_bytes: u64,
    /// The largest request head, in bytes; past it, 431 (nginx's large_client_header_buffers, 4 x 8k).
    #[arg(long, default_value_t = Settings::default().max_head_bytes)]
    max_head_bytes: usize,
    /// The longest request target, in bytes; past it, 414.
    #[arg(long, default_value_t = Settings::default().max_uri_bytes)]
    max_uri_bytes: usize,
    /// Seconds a request head may take to arrive (nginx's client_header_timeout).
    #[arg(long, default_value_t = Settings::default().header_timeout.as_secs())]
    header_timeout: u64,
    /// Seconds a request body may go without a byte (nginx's client_body_timeout).
    #[arg(long, default_value_t = Settings::default().body_timeout.as_secs())]
    body_timeout: u64,
    /// Seconds a keep-alive connection may sit idle between requests; 0 closes after
    /// every response (nginx's keepalive_timeout).
    #[arg(long, default_value_t = Settings::default().keepalive_timeout.as_secs())]
    keepalive_timeout: u64,
    /// Seconds a response may go unread before the connection is cut; 0 never
    /// (nginx's send_timeout).
    #[arg(long, default_value_t = Settings::default().send_timeout.as_secs())]
    send_timeout: u64,
    /// Connections open at once (per loop); more are closed at once until one leaves.
    #[arg(long, default_value_t = Settings::default().max_connections)]
    max_connections: usize,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let settings = Settings {
        root: args.root.clone(),
        max_body_bytes: args.max_body_bytes,
        max_head_bytes: args.max_head_bytes,
        max_uri_bytes: args.max_uri_bytes,
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        keepalive_timeout: Duration::from_secs(args.keepalive_timeout),
        send_timeout: Duration::from_secs(args.send_timeout),
        max_connections: args.max_connections,
    };
    // Fails here, before listening, on a --root that does not exist.
    let handler = Http::new(settings.clone())?;
    if args.threads != 1 {
        return run_group(settings, &args);
    }
    let mut el = EventLoop::new(settings.loop_config(), handler)?;
    for addr in &args.listen {
        // On stdout, for scripts that started us on port 0.
        println!("listening on {}", el.listen(*addr)?);
    }
    // Only now: `listen` logs the same line at info, and once is enough.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // Ctrl-C / SIGTERM: stop accepting, flush, close everyone, return.
    el.stop_on_signals()?;
    el.run()?;
    log::info!("{} requests answered", el.handler().requests());
    Ok(())
}

/// `--threads N`: N loops, each with its own `Http`; the limits are per loop.
fn run_group(settings: Settings, args: &Args) -> std::io::Result<()> {
    let mut builder = GroupBuilder::new(settings.loop_config());
    if args.threads > 0 {
        builder = builder.threads(args.threads);
    }
    let mut group =
        builder.build(move |_index, _peers| Http::new(settings.clone()).expect("the root was checked at start"))?;
    for addr in &args.listen {
        println!("listening on {}", group.listen(*addr)?);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    group.stop_on_signals()?;
    for exit in group.run()? {
        let requests = exit.handler.as_ref().map_or(0, Http::requests);
        log::info!("loop {}: {:?}, {requests} requests, {}", exit.index, exit.result, exit.stats);
    }
    Ok(())
}
