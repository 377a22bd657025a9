//! The three Redis-protocol servers the kv scenario compares, as child
//! processes pinned to the server CPU: evloop's `kv`, `redis-server`, and
//! tokio's mini-redis.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use crate::platform;
use crate::servers::{find_on_path, first_answer, free_port, wait_for_address};

/// One server implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Peer {
    /// `examples/kv`.
    Kv,
    /// Redis itself (Debian's `redis-server`).
    Redis,
    /// tokio's mini-redis (`benches/src/bin/mini_redis_server.rs`).
    MiniRedis,
}

impl Peer {
    /// Every peer, in report order.
    pub(crate) const ALL: [Peer; 3] = [Peer::Kv, Peer::Redis, Peer::MiniRedis];

    /// Short name for tables and files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Kv => "kv",
            Peer::Redis => "redis-server",
            Peer::MiniRedis => "mini-redis",
        }
    }

    /// Whether it can run redis-benchmark's test `test` with `clients`
    /// connections: mini-redis has GET and SET only, and serves at most
    /// 250 connections at once (its `MAX_CONNECTIONS`; the others wait in
    /// the backlog, and redis-benchmark with them).
    pub(crate) fn supports(self, test: &str, clients: usize) -> bool {
        self != Peer::MiniRedis || (matches!(test, "set" | "get") && clients <= 250)
    }
}

/// Where the binaries are: `kv` and `mini_redis_server` beside the
/// runner, `redis-server` on the PATH.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    dir: PathBuf,
    /// `redis-server`, if installed.
    pub(crate) redis_server: Option<PathBuf>,
}

impl Binaries {
    /// Builds `kv` and the bench binaries into the runner's own target
    /// directory (a no-op when up to date) and finds `redis-server`.
    pub(crate) fn build_and_locate() -> io::Result<Binaries> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().ok_or_else(|| io::Error::other("runner executable has no directory"))?.to_path_buf();
        let profile = dir.file_name().and_then(|name| name.to_str()).unwrap_or("release").to_string();
        let target_dir = dir.parent().ok_or_else(|| io::Error::other("no target directory"))?;
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.arg("build").arg("--manifest-path").arg(&manifest).arg("--target-dir").arg(target_dir);
        match profile.as_str() {
            "debug" => {}
            "release" => {
                command.arg("--release");
            }
            other => {
                command.args(["--profile", other]);
            }
        }
        let built = command.args(["-p", "kv", "-p", "bench", "--bins"]).stdin(Stdio::null()).status();
        if !matches!(built, Ok(status) if status.success()) {
            eprintln!("warning: could not rebuild kv ({built:?}); using the binaries already built");
        }
        for binary in ["kv", "mini_redis_server"] {
            if !dir.join(binary).is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{binary} missing from {}", dir.display()),
                ));
            }
        }
        Ok(Binaries { dir, redis_server: find_on_path("redis-server") })
    }
}

/// A running server.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

impl Running {
    /// Starts `peer` on a free loopback port, pinned to `cpu` when given,
    /// its output into `log`; returns once it answers `SET`.
    pub(crate) fn start(peer: Peer, binaries: &Binaries, cpu: Option<usize>, log: &Path) -> io::Result<Running> {
        let redis_port = if peer == Peer::Redis { free_port()? } else { 0 };
        let mut command = match peer {
            Peer::Kv => {
                let mut command = Command::new(binaries.dir.join("kv"));
                command.args(["--listen", "127.0.0.1:0"]).env("RUST_LOG", "warn");
                command
            }
            Peer::MiniRedis => {
                let mut command = Command::new(binaries.dir.join("mini_redis_server"));
                command.args(["--listen", "127.0.0.1:0"]);
                command
            }
            Peer::Redis => {
                let binary = binaries.redis_server.as_ref().ok_or_else(|| io::Error::other("redis-server missing"))?;
                let mut command = Command::new(binary);
                // A Redis that persists nothing, as kv and mini-redis.
                command.args([
                    "--port",
                    &redis_port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                command.args(["--daemonize", "no", "--maxclients", "10000", "--protected-mode", "no"]);
                command
            }
        };
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(File::create(log)?);
        if let Some(cpu) = cpu {
            platform::pin_command(&mut command, cpu);
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let port = match peer {
            Peer::Redis => {
                // Redis logs to stdout: keep draining it so it never blocks.
                thread::spawn(move || io::copy(&mut BufReader::new(stdout), &mut io::sink()));
                redis_port
            }
            _ => match wait_for_address(stdout, "listening on ").map(|addr| addr.port()) {
                Ok(port) => port,
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(err);
                }
            },
        };
        let running = Running { child, port };
        running.wait_until_serving(peer)?;
        Ok(running)
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Connects and checks it answers a `SET` (which every peer has),
    /// retrying while it starts (`first_answer`).
    fn wait_until_serving(&self, peer: Peer) -> io::Result<()> {
        let reply = first_answer(peer.name(), || {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(b"*3\r\n$3\r\nSET\r\n$5\r\nprobe\r\n$1\r\n1\r\n")?;
            let mut reply = [0; 5];
            stream.read_exact(&mut reply)?;
            Ok(reply)
        })?;
        if &reply == b"+OK\r\n" {
            return Ok(());
        }
        Err(io::Error::other(format!("{} answered {:?}", peer.name(), reply)))
    }

    /// Kills it.
    pub(crate) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
