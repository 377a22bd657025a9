//! Memory per idle TLS connection: the server's RSS grows by how much
//! when `--connections` TLS clients connect, finish their handshake, make
//! one exchange and stay idle.
//!
//! ```text
//! ulimit -n 30000
//! target/release/echo --listen 127.0.0.1:0 --tls-listen 127.0.0.1:7879 --tls-self-signed &
//! cargo run --release -p bench --bin tls_idle_rss -- --addr 127.0.0.1:7879 --server-pid $! --connections 10000
//! redis-server --port 0 --tls-port 6390 --tls-cert-file cert.pem --tls-key-file key.pem --tls-auth-clients no &
//! cargo run --release -p bench --bin tls_idle_rss -- --addr 127.0.0.1:6390 --server-pid $! --message 'PING\r\n'
//! ```
//!
//! The clients are rustls sessions in this process (the server's
//! certificate is not checked: its memory is what is measured, not its
//! identity), connected one after another. Each sends `--message` and
//! reads one read's worth of reply, so the server has served it once. The
//! server's `VmRSS` is read from `/proc` before the first connect and once
//! all are idle; the difference over the count is the figure printed.

// The runner's /proc readers; this tool uses two of them.
#[allow(dead_code)]
#[path = "../procfs.rs"]
mod procfs;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use clap::Parser;
use evloop::tls::rustls::pki_types::ServerName;
use evloop::tls::rustls::{ClientConnection, StreamOwned};

/// Server RSS per idle TLS connection.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The server's TLS address (loopback).
    #[arg(long)]
    addr: SocketAddr,
    /// The server's process id, whose RSS is read.
    #[arg(long)]
    server_pid: u32,
    /// Idle TLS connections to hold.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// What each client sends once (`\r\n` is understood).
    #[arg(long, default_value = "x")]
    message: String,
    /// How long to hold the connections idle before reading the RSS.
    #[arg(long, default_value_t = 2)]
    settle_secs: u64,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    assert!(args.addr.ip().is_loopback(), "only loopback servers are measured here");
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard)?;
    let message = args.message.replace("\\r", "\r").replace("\\n", "\n");
    // This measures memory, not identity.
    let config = evloop::tls::client_config_trusting_any_server()?;
    let before = rss_kib(args.server_pid)?;
    let cpu_before = server_cpu(args.server_pid)?;
    let started = Instant::now();
    let mut held = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let tcp = TcpStream::connect(args.addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(20)))?;
        let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
        let conn = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
        let mut stream = StreamOwned::new(conn, tcp);
        stream.write_all(message.as_bytes())?;
        let mut reply = [0; 64];
        let n = stream.read(&mut reply)?;
        if n == 0 {
            return Err(io::Error::other(format!("connection {i}: the server closed it")));
        }
        held.push(stream);
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let cpu_secs = server_cpu(args.server_pid)?.saturating_sub(cpu_before).as_secs_f64();
    std::thread::sleep(Duration::from_secs(args.settle_secs));
    let after = rss_kib(args.server_pid)?;
    let per_conn = (after.saturating_sub(before) as f64) * 1024.0 / args.connections as f64;
    println!(
        "{} idle TLS connections to {}: server RSS {before} KiB -> {after} KiB, {per_conn:.0} B per connection; \
         connected in {connect_secs:.1} s, server CPU {cpu_secs:.2} s: {:.0} full handshakes (and one exchange) per CPU second",
        args.connections,
        args.addr,
        args.connections as f64 / cpu_secs.max(0.001)
    );
    drop(held);
    Ok(())
}

/// User plus system CPU time `pid` has used.
fn server_cpu(pid: u32) -> io::Result<Duration> {
    procfs::cpu_time(pid, procfs::clock_ticks_per_second())
}

/// `VmRSS` of `pid`, in KiB.
fn rss_kib(pid: u32) -> io::Result<u64> {
    Ok(procfs::memory(pid)?.rss / 1024)
}
