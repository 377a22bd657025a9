//! A line chat server on evloop: what one client types, the others read.
//!
//! ```text
//! cargo run --release -p line                 # listens on 127.0.0.1:7879
//! nc 127.0.0.1 7879                           # in two terminals; type /help
//! RUST_LOG=debug cargo run --release -p line  # log each accept and close
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM tells every client `* server shutting down`,
//! stops gracefully and logs the final stats.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use evloop::{Config, EventLoop};
use line::{Chat, Settings};

/// Output queued for one chat client before it is dropped as too slow:
/// far below the framework's 4 MiB, since every line goes to everyone and
/// a room of 10,000 slow readers would otherwise pin 40 GiB.
const DEFAULT_MAX_OUTPUT_BYTES: usize = 256 * 1024;

/// Line chat server on a single-threaded evloop event loop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (repeat for several).
    #[arg(long, default_value = "127.0.0.1:7879")]
    listen: Vec<SocketAddr>,
    /// Connections open at once; further clients wait in the backlog.
    #[arg(long, default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// Close a connection that sends nothing for this many seconds (0: never).
    #[arg(long, default_value_t = 300)]
    idle_timeout_secs: u64,
    /// Close a connection whose unfinished line has been arriving for this many seconds (0: never).
    #[arg(long, default_value_t = 30)]
    line_timeout_secs: u64,
    /// Close a connection whose output makes no progress for this many seconds (0: never).
    #[arg(long, default_value_t = 30)]
    write_timeout_secs: u64,
    /// The longest line a client may send, in bytes; longer ones get `ERR`.
    #[arg(long, default_value_t = Settings::default().max_line_bytes)]
    max_line_bytes: usize,
    /// Output queued for one client past which it is disconnected (a client that does not read).
    #[arg(long, default_value_t = DEFAULT_MAX_OUTPUT_BYTES)]
    max_output_bytes: usize,
}

/// `0` switches a timeout off.
fn seconds(secs: u64) -> Option<Duration> {
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    let settings = Settings { max_line_bytes: args.max_line_bytes, line_timeout: seconds(args.line_timeout_secs) };
    let defaults = Config::default();
    // The watermarks must stay below the output limit, however small it is set.
    let high_watermark = defaults.high_watermark.min(args.max_output_bytes);
    let config = settings.loop_config(Config {
        max_connections: args.max_connections,
        idle_timeout: seconds(args.idle_timeout_secs),
        write_timeout: seconds(args.write_timeout_secs),
        max_output_bytes: args.max_output_bytes,
        high_watermark,
        low_watermark: defaults.low_watermark.min(high_watermark),
        ..defaults
    });
    let mut el = EventLoop::new(config, Chat::new(settings))?;
    for addr in &args.listen {
        let bound = el.listen(*addr)?;
        // On stdout, for scripts that started us on port 0.
        println!("listening on {bound}");
    }
    // Ctrl-C / SIGTERM: stop accepting, flush, close everyone, return.
    el.stop_on_signals()?;
    el.run() // logs the final stats
}
