//! A Redis-protocol key-value server on evloop.
//!
//! ```text
//! cargo run --release -p kv                      # listens on 127.0.0.1:6380
//! redis-cli -p 6380                              # then: SET greeting hello, GET greeting, ...
//! printf 'PING\r\n' | nc 127.0.0.1 6380          # inline commands work too: +PONG
//! redis-benchmark -p 6380 -q                    # the default suite: strings, lists, hashes, sets, sorted sets
//! redis-benchmark -p 6380 -q -P 16              # the same, 16 requests pipelined per client
//! RUST_LOG=debug cargo run --release -p kv       # log each client and why it closed
//! cargo run --release -p kv -- --unixsocket /tmp/kv.sock --unixsocketperm 700
//! redis-cli -s /tmp/kv.sock                      # the same server over a Unix-domain socket
//! redis-benchmark -s /tmp/kv.sock -q -t set,get  # ... which redis-benchmark drives too
//! cargo run --release -p kv -- --tls-port 6390 --tls-cert-file cert.pem --tls-key-file key.pem
//! redis-cli --tls --cacert cert.pem -p 6390      # TLS, Redis's option names
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM stops it gracefully: replies already queued
//! are flushed, every client is closed, and the loop's counters are logged.
//! Nothing is persisted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use evloop::EventLoop;
use kv::{Kv, Settings};

/// Counts the bytes held, for `INFO`'s `used_memory`.
#[global_allocator]
static ALLOCATOR: kv::alloc::Counting = kv::alloc::Counting;

/// Redis-protocol key-value server on a single-threaded evloop event loop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (repeat for several).
    #[arg(long, default_value = "127.0.0.1:6380")]
    listen: Vec<SocketAddr>,
    /// Also listen on a Unix-domain socket at this path (Redis's unixsocket).
    #[arg(long)]
    unixsocket: Option<PathBuf>,
    /// The Unix-domain socket file's permissions, in octal (Redis's unixsocketperm), e.g. 700.
    #[arg(long, value_parser = parse_octal, requires = "unixsocket")]
    unixsocketperm: Option<u32>,
    /// Clients connected at once; one more is told `-ERR max number of clients reached` (Redis's maxclients).
    #[arg(long, default_value_t = Settings::default().max_clients)]
    max_clients: usize,
    /// Close a client idle for this many seconds; 0, the default, never (Redis's timeout).
    #[arg(long, default_value_t = 0)]
    timeout: u64,
    /// The longest bulk string a request may carry, in bytes (Redis's proto-max-bulk-len).
    #[arg(long, default_value_t = Settings::default().proto_max_bulk_len)]
    proto_max_bulk_len: usize,
    /// The most input one client may have buffered, in bytes (Redis's client-query-buffer-limit).
    #[arg(long, default_value_t = Settings::default().client_query_buffer_limit)]
    client_query_buffer_limit: usize,
    /// Output queued for a subscriber past which it is dropped, in bytes (Redis's client-output-buffer-limit pubsub).
    #[arg(long, default_value_t = Settings::default().pubsub_output_limit)]
    pubsub_output_limit: usize,
    /// Output queued for any other client past which it is dropped, in bytes.
    #[arg(long, default_value_t = Settings::default().normal_output_limit)]
    normal_output_limit: usize,
    /// Cron runs per second: active expiry and the per-second rates (Redis's hz).
    #[arg(long, default_value_t = Settings::default().hz)]
    hz: u32,
    /// Port of a TLS listener on 127.0.0.1, beside the plaintext ones (Redis's tls-port).
    #[arg(long, requires_all = ["tls_cert_file", "tls_key_file"])]
    tls_port: Option<u16>,
    /// The TLS certificate chain, PEM (Redis's tls-cert-file).
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// The certificate's private key, PEM (Redis's tls-key-file).
    #[arg(long)]
    tls_key_file: Option<PathBuf>,
    /// Authorities whose client certificates are accepted, PEM (Redis's
    /// tls-ca-cert-file). Clients must then present one, as with Redis's
    /// default `tls-auth-clients yes`.
    #[arg(long)]
    tls_ca_cert_file: Option<PathBuf>,
    /// With --tls-ca-cert-file: whether clients must present a certificate
    /// (Redis's tls-auth-clients: yes, or no).
    #[arg(long, default_value = "yes", value_parser = ["yes", "no"])]
    tls_auth_clients: String,
}

/// The TLS listener's config from Redis's option names: a certificate and
/// key, and with a CA file, client certificates checked against it.
fn tls_config(args: &Args) -> std::io::Result<Option<Arc<evloop::tls::rustls::ServerConfig>>> {
    let (Some(cert), Some(key)) = (&args.tls_cert_file, &args.tls_key_file) else { return Ok(None) };
    let certs = evloop::tls::load_certs(cert)?;
    let key = evloop::tls::load_private_key(key)?;
    let config = match &args.tls_ca_cert_file {
        Some(ca) if args.tls_auth_clients == "yes" => {
            evloop::tls::server_config_with_client_auth(certs, key, evloop::tls::load_roots(ca)?)?
        }
        _ => evloop::tls::server_config(certs, key)?,
    };
    Ok(Some(config))
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    let settings = Settings {
        max_clients: args.max_clients,
        idle_timeout: (args.timeout > 0).then(|| Duration::from_secs(args.timeout)),
        proto_max_bulk_len: args.proto_max_bulk_len,
        client_query_buffer_limit: args.client_query_buffer_limit,
        normal_output_limit: args.normal_output_limit,
        pubsub_output_limit: args.pubsub_output_limit,
        hz: args.hz,
        tcp_port: args.listen.first().map_or(0, SocketAddr::port),
    };
    let mut el = EventLoop::new(settings.loop_config(), Kv::new(settings))?;
    for addr in &args.listen {
        let bound = el.listen(*addr)?;
        // On stdout, for scripts that started us on port 0.
        println!("listening on {bound}");
    }
    if let Some(path) = &args.unixsocket {
        match args.unixsocketperm {
            Some(mode) => el.listen_unix_with_mode(path, mode)?,
            None => el.listen_unix(path)?,
        }
        println!("listening on unix:{}", path.display());
    }
    if let (Some(port), Some(config)) = (args.tls_port, tls_config(&args)?) {
        let bound = el.listen_tls(SocketAddr::from(([127, 0, 0, 1], port)), config)?;
        println!("listening on tls:{bound}");
    }
    // Ctrl-C / SIGTERM: stop accepting, flush, close everyone, return.
    el.stop_on_signals()?;
    el.run() // logs the final stats
}

/// Permission bits as Redis's `unixsocketperm` takes them: octal digits.
fn parse_octal(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| format!("{text:?} is not an octal mode such as 700 or 770"))
}
