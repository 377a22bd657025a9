//! A chat server on evloop: what one client types, the others read.
//!
//! What it shows: `examples/line` (read it first) made into a product a
//! hostile internet can reach. What a line asks for and the rules for
//! nicks and characters (`command.rs`), what the server does with it
//! (`respond.rs`), a share of each client's lines per turn and flood
//! control that stops reading a client rather than buffer its lines
//! (`intake.rs`), one send per member per pass however much the room says
//! (`room.rs`), a reason told to every client it drops, a limit for each
//! thing a client may cost the others (`--help`), and one room across the
//! loops of a `LoopGroup` (`relay.rs`, `nicks.rs`). The tests in
//! `tests/tests/chat_*.rs` and the tools in `src/bin/` (`fanout`,
//! `attack`) measure it.
//!
//! ```text
//! cargo run --release -p chat                 # listens on 127.0.0.1:7879
//! nc 127.0.0.1 7879                           # in two terminals; type /help
//! RUST_LOG=debug cargo run --release -p chat  # log each accept and close
//! cargo run --release -p chat -- --threads 0  # one loop per CPU, one room across them
//! cargo run --release -p chat -- --unix /tmp/chat.sock  # also on a Unix socket: nc -U /tmp/chat.sock
//! ```
//!
//! Ctrl-C (SIGINT) or SIGTERM tells every client `* server shutting down`,
//! stops gracefully and logs the final stats.

use std::net::SocketAddr;
use std::path::PathBuf;

use chat::{Chat, ServerOptions};
use clap::Parser;
use evloop::{EventLoop, GroupBuilder};

/// Chat server on a single-threaded evloop event loop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (repeat for several).
    #[arg(long, default_value = "127.0.0.1:7879")]
    listen: Vec<SocketAddr>,
    /// A Unix-domain socket to listen on as well (repeat for several): the
    /// same room, its members shown as `unix:` peers.
    #[arg(long)]
    unix: Vec<PathBuf>,
    /// Event loops, one per thread, sharing the port with SO_REUSEPORT and
    /// one room: what is said on one loop is relayed to the others (0: one
    /// per CPU this process may use). 1 is the single-threaded loop.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[command(flatten)]
    server: ServerOptions,
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = Args::parse();
    if args.threads != 1 {
        return run_group(&args);
    }
    let mut el = EventLoop::new(args.server.config(), Chat::new(args.server.settings()))?;
    for addr in &args.listen {
        let bound = el.listen(*addr)?;
        // On stdout, for scripts that started us on port 0.
        println!("listening on {bound}");
    }
    for path in &args.unix {
        el.listen_unix(path)?;
        println!("listening on unix:{}", path.display());
    }
    // Ctrl-C / SIGTERM: stop accepting, flush, close everyone, return.
    el.stop_on_signals()?;
    el.run() // logs the final stats
}

/// `--threads N`: N loops, one room; `--max-connections` is per loop.
fn run_group(args: &Args) -> std::io::Result<()> {
    let mut builder = GroupBuilder::new(args.server.config());
    if args.threads > 0 {
        builder = builder.threads(args.threads);
    }
    let mut group = builder.build(Chat::group_factory(args.server.settings()))?;
    for addr in &args.listen {
        println!("listening on {}", group.listen(*addr)?);
    }
    for path in &args.unix {
        group.listen_unix(path, None)?;
        println!("listening on unix:{}", path.display());
    }
    group.stop_on_signals()?;
    for exit in group.run()? {
        log::info!("loop {}: {:?}: {}", exit.index, exit.result, exit.stats);
    }
    Ok(())
}
