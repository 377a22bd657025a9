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

use clap::Parser;
use evloop::EventLoop;
use line::{Chat, ServerOptions};

/// Line chat server on a single-threaded evloop event loop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (repeat for several).
    #[arg(long, default_value = "127.0.0.1:7879")]
    listen: Vec<SocketAddr>,
    #[command(flatten)]
    server: ServerOptions,
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    let mut el = EventLoop::new(args.server.config(), Chat::new(args.server.settings()))?;
    for addr in &args.listen {
        let bound = el.listen(*addr)?;
        // On stdout, for scripts that started us on port 0.
        println!("listening on {bound}");
    }
    // Ctrl-C / SIGTERM: stop accepting, flush, close everyone, return.
    el.stop_on_signals()?;
    el.run() // logs the final stats
}
