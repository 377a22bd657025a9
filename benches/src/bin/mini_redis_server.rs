//! mini-redis, tokio's reference Redis server, as the kv benchmark's tokio
//! peer: its own `server::run`, on a listener bound where asked.
//!
//! ```text
//! cargo run --release -p bench --bin mini_redis_server -- --listen 127.0.0.1:0
//! redis-cli -p PORT set k v
//! ```
//!
//! Its `main` binds 127.0.0.1 on a fixed port and runs tokio's
//! multi-thread runtime; here the runtime is current-thread, the
//! like-for-like peer of a single-threaded event loop (pinned to one CPU,
//! the multi-thread runtime would have one worker anyway). It prints
//! `listening on ADDR` on stdout once bound, as the other bench servers
//! do, and stops on SIGTERM or Ctrl-C. mini-redis implements GET, SET,
//! PUBLISH and SUBSCRIBE; everything else gets its "unknown command" error.

use std::io::{self, Write};
use std::net::SocketAddr;

use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

/// mini-redis's server on a current-thread tokio runtime.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:6379")]
    listen: SocketAddr,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(args.listen).await?;
        // On stdout, for scripts that started us on port 0.
        println!("listening on {}", listener.local_addr()?);
        io::stdout().flush()?;
        let mut terminate = signal(SignalKind::terminate())?;
        let stop = async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        mini_redis::server::run(listener, stop).await.map_err(|err| io::Error::other(err.to_string()))
    })
}
