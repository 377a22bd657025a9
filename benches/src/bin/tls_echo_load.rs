//! A TLS load generator for echo servers, on evloop's own TLS client
//! (`Ctx::connect_tls`): `--connections` connections from one thread,
//! each with `--pipeline` messages of `--size` bytes in flight (1: closed
//! loop), for `--secs` seconds. It reports requests per second and, with
//! `--server-pid`, the server's CPU time per request.
//!
//! ```text
//! target/release/echo --listen 127.0.0.1:0 --tls-listen 127.0.0.1:7879 --tls-self-signed &
//! cargo run --release -p bench --bin tls_echo_load -- --addr 127.0.0.1:7879 --server-pid $! --connections 100
//! ```
//!
//! The server's certificate is not checked (what is measured is its cost,
//! not its identity); the handshakes happen before the timed part starts.

// The runner's /proc readers; this tool uses one of them.
#[allow(dead_code)]
#[path = "../procfs.rs"]
mod procfs;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use evloop::tls::rustls::pki_types::ServerName;
use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};

/// TLS echo load generator.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The echo server's TLS address (loopback).
    #[arg(long)]
    addr: SocketAddr,
    /// Connections, all from this one thread.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Messages in flight per connection (1: closed loop).
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Bytes per message.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Seconds of load, after every handshake has completed.
    #[arg(long, default_value_t = 5)]
    secs: u64,
    /// The server's process id: its CPU time per request is reported.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// What the run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Connecting,
    Loading,
    Done,
}

/// The load: every connection sends a batch, and the next once the whole
/// echo of it is back. Per connection, the echo bytes received of the
/// batch in flight.
#[derive(Debug)]
struct Load {
    connections: usize,
    open: usize,
    /// One batch: `--pipeline` messages back to back.
    batch: Vec<u8>,
    message_size: usize,
    stage: Stage,
    ids: Vec<ConnId>,
    requests: u64,
    started: Option<Instant>,
    cpu_at_start: Option<Duration>,
    server_pid: Option<u32>,
    secs: u64,
    elapsed: Duration,
    server_cpu: Duration,
}

impl Handler for Load {
    type Conn = usize;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) -> usize {
        self.open += 1;
        self.ids.push(id);
        if self.open == self.connections {
            self.stage = Stage::Loading;
            self.started = Some(Instant::now());
            self.cpu_at_start = self.server_pid.and_then(|pid| server_cpu(pid).ok());
            for &id in &self.ids {
                cx.send(id, &self.batch);
            }
            cx.set_timer(Duration::from_secs(self.secs), 0);
        }
        0
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, received: &mut usize, data: &[u8]) -> usize {
        *received += data.len();
        while *received >= self.batch.len() {
            *received -= self.batch.len();
            self.requests += (self.batch.len() / self.message_size) as u64;
            if self.stage == Stage::Loading {
                cx.send(id, &self.batch);
            }
        }
        data.len()
    }

    fn on_connect_failed(&mut self, cx: &mut Ctx, _id: ConnId, error: io::Error) {
        eprintln!("connect failed: {error}");
        cx.stop();
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: evloop::TimerId, _key: u64) {
        self.stage = Stage::Done;
        self.elapsed = self.started.map(|s| s.elapsed()).unwrap_or_default();
        if let (Some(pid), Some(start)) = (self.server_pid, self.cpu_at_start) {
            self.server_cpu = server_cpu(pid).unwrap_or(start).saturating_sub(start);
        }
        cx.stop();
    }
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    assert!(args.addr.ip().is_loopback(), "only loopback servers are loaded here");
    let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard)?;
    // This measures cost, not identity.
    let config = evloop::tls::client_config_trusting_any_server()?;
    let load = Load {
        connections: args.connections,
        open: 0,
        batch: vec![b'x'; args.size * args.pipeline],
        message_size: args.size,
        stage: Stage::Connecting,
        ids: Vec::new(),
        requests: 0,
        started: None,
        cpu_at_start: None,
        server_pid: args.server_pid,
        secs: args.secs,
        elapsed: Duration::ZERO,
        server_cpu: Duration::ZERO,
    };
    let loop_config = Config {
        idle_timeout: None,
        max_connections: args.connections + 16,
        tls_handshake_timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(60),
        ..Config::default()
    };
    let mut el = EventLoop::new(loop_config, load)?;
    for _ in 0..args.connections {
        let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
        el.connect_tls(args.addr, name, config.clone())?;
    }
    el.run()?;
    let load = el.into_handler();
    let secs = load.elapsed.as_secs_f64().max(1e-9);
    let rps = load.requests as f64 / secs;
    let cpu = load
        .server_pid
        .map(|_| {
            let cpu_ns = load.server_cpu.as_secs_f64() * 1e9;
            format!(", server CPU {:.0} ns per request", cpu_ns / load.requests.max(1) as f64)
        })
        .unwrap_or_default();
    println!(
        "{} connections, pipeline {}, {} B: {} requests in {secs:.1} s, {rps:.0} requests/s{cpu}",
        args.connections, args.pipeline, args.size, load.requests
    );
    Ok(())
}

/// User plus system CPU time `pid` has used.
fn server_cpu(pid: u32) -> io::Result<Duration> {
    procfs::cpu_time(pid, procfs::clock_ticks_per_second())
}
