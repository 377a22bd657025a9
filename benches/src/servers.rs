//! The servers under test: which binary each is, how to start it pinned to
//! its CPU, and how to find (or build) the binaries.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::ValueEnum;

use crate::platform;

/// How long a server may take to print `listening on ADDR`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// One echo server implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Server {
    /// evloop's echo example.
    Evloop,
    /// tokio, current_thread runtime.
    TokioCt,
    /// tokio, multi-thread runtime.
    TokioMt,
    /// evloop's echo example as a group of two loops (`--threads 2`).
    EvloopX2,
    /// tokio, multi-thread runtime with two workers: the group's peer.
    TokioX2,
    /// Thread per connection on std::net.
    Threaded,
    /// Raw mio, no framework: the floor.
    Mio,
    /// Raw epoll in C (`benches/c/epoll_echo.c`): the floor under the floor.
    CEpoll,
}

impl Server {
    /// Every server, in report order.
    pub(crate) const ALL: [Server; 8] = [
        Server::Evloop,
        Server::TokioCt,
        Server::TokioMt,
        Server::EvloopX2,
        Server::TokioX2,
        Server::Threaded,
        Server::Mio,
        Server::CEpoll,
    ];

    /// Short name used in tables, CSV and file names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Server::Evloop => "evloop",
            Server::TokioCt => "tokio-ct",
            Server::TokioMt => "tokio-mt",
            Server::EvloopX2 => "evloop-x2",
            Server::TokioX2 => "tokio-x2",
            Server::Threaded => "threaded",
            Server::Mio => "mio",
            Server::CEpoll => "c-epoll",
        }
    }

    /// The binary that runs it, in the runner's own directory.
    pub(crate) fn binary(self) -> &'static str {
        match self {
            Server::Evloop | Server::EvloopX2 => "echo",
            Server::TokioCt | Server::TokioMt | Server::TokioX2 => "tokio_echo",
            Server::Threaded => "threaded",
            Server::Mio => "mio_echo",
            Server::CEpoll => "c_epoll_echo",
        }
    }

    /// Whether cargo builds its binary (the C floor is built by `c_floor`).
    fn built_by_cargo(self) -> bool {
        self != Server::CEpoll
    }

    /// Arguments besides `--listen`.
    fn args(self) -> &'static [&'static str] {
        match self {
            // Idle and write timeouts off: the idle scenario keeps clients
            // silent, and nothing should close a connection mid-run. The
            // connection cap well above the largest point.
            Server::Evloop => &["--idle-timeout-secs", "0", "--write-timeout-secs", "0", "--max-connections", "15000"],
            Server::TokioCt => &["--runtime", "current-thread"],
            Server::TokioMt => &["--runtime", "multi-thread"],
            // Two loops, two workers, whatever CPUs the process is pinned to.
            Server::EvloopX2 => &[
                "--idle-timeout-secs",
                "0",
                "--write-timeout-secs",
                "0",
                "--max-connections",
                "15000",
                "--threads",
                "2",
            ],
            Server::TokioX2 => &["--runtime", "multi-thread", "--workers", "2"],
            Server::Threaded => &["--stack-kib", "64"],
            Server::Mio | Server::CEpoll => &[],
        }
    }
}

/// Where the server binaries are: the runner's own directory, which is the
/// cargo profile directory they are all built into.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    dir: PathBuf,
}

impl Binaries {
    /// Builds the server binaries with cargo into the runner's own target
    /// directory, when cargo is at hand (as under `cargo run`); a no-op when
    /// they are up to date, and the guarantee that a changed evloop is what
    /// gets measured. Without cargo, uses what is already there.
    pub(crate) fn build_and_locate() -> io::Result<Binaries> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().ok_or_else(|| io::Error::other("runner executable has no directory"))?.to_path_buf();
        let binaries = Binaries { dir };
        match binaries.build() {
            Ok(()) => {}
            Err(err) if binaries.missing().is_empty() => {
                eprintln!("warning: could not rebuild the servers ({err}); using the binaries already built");
            }
            Err(err) => return Err(err),
        }
        let missing = binaries.missing();
        if !missing.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("server binaries missing from {}: {}", binaries.dir.display(), missing.join(", ")),
            ));
        }
        Ok(binaries)
    }

    fn build(&self) -> io::Result<()> {
        // target/<profile>/bench: the profile is the directory name, the
        // target directory its parent.
        let profile = self.dir.file_name().and_then(|name| name.to_str()).unwrap_or("release");
        let target_dir = self.dir.parent().ok_or_else(|| io::Error::other("no target directory"))?;
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.arg("build").arg("--manifest-path").arg(&manifest).arg("--target-dir").arg(target_dir);
        match profile {
            "debug" => {}
            "release" => {
                command.arg("--release");
            }
            other => {
                command.args(["--profile", other]);
            }
        }
        // `chat` for the soak (`--soak`), which runs it beside `echo`.
        command.args(["-p", "echo", "-p", "chat", "-p", "threaded", "-p", "bench", "--bins"]);
        let status = command.stdin(Stdio::null()).status()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("cargo build of the servers failed: {status}")))
        }
    }

    /// The directory the binaries are in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn missing(&self) -> Vec<&'static str> {
        let mut missing: Vec<_> = Server::ALL
            .iter()
            .filter(|server| server.built_by_cargo())
            .map(|server| server.binary())
            .filter(|binary| !self.dir.join(binary).is_file())
            .collect();
        missing.dedup();
        missing
    }
}

/// A running server process.
#[derive(Debug)]
pub(crate) struct RunningServer {
    child: Child,
    addr: SocketAddr,
}

impl RunningServer {
    /// Starts `server` on an ephemeral loopback port, pinned to `cpu` when
    /// given, its stderr into `log`; returns once it says where it listens.
    ///
    /// # Errors
    ///
    /// The spawn error, or `TimedOut`/`InvalidData` when it does not print
    /// `listening on ADDR` in time (it is killed then).
    pub(crate) fn start(server: Server, binaries: &Binaries, cpu: Option<usize>, log: &Path) -> io::Result<Self> {
        RunningServer::start_binary(server.binary(), server.args(), binaries, cpu, log)
    }

    /// Starts the binary `name` from `binaries` as [`start`](Self::start)
    /// does a [`Server`], with `args` besides `--listen 127.0.0.1:0`: for
    /// servers that are not in the echo comparison (the soak's `chat`).
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start).
    pub(crate) fn start_binary(
        name: &str,
        args: &[&str],
        binaries: &Binaries,
        cpu: Option<usize>,
        log: &Path,
    ) -> io::Result<Self> {
        let mut command = Command::new(binaries.dir.join(name));
        command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(log)?);
        if let Some(cpu) = cpu {
            platform::pin_command(&mut command, cpu);
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        match wait_for_address(stdout, "listening on ") {
            Ok(addr) => Ok(RunningServer { child, addr }),
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::new(err.kind(), format!("{name} did not start: {err} (see {})", log.display())))
            }
        }
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How it exited, if it has.
    pub(crate) fn try_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then SIGKILL if it lingers.
    pub(crate) fn stop(self) {
        let _ = self.terminate();
    }

    /// SIGTERM, then SIGKILL if it lingers; how it exited, `None` when it
    /// had to be killed (or could not be waited for).
    pub(crate) fn terminate(mut self) -> Option<ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status); // it had already exited
        }
        if platform::signal(&self.child, libc::SIGTERM).is_ok() {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Some(status);
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The first `name` in the PATH's directories.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// A port on 127.0.0.1 nobody listens on right now, for a server that
/// cannot bind port 0 and say which it got (redis-server, nginx).
pub(crate) fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Makes `exchange` (a connect to a server just started and one request)
/// until it succeeds, retrying every 20 ms while it fails, for at most
/// [`START_TIMEOUT`]; then its last error, saying `name` never answered.
pub(crate) fn first_answer<T>(name: &str, mut exchange: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match exchange() {
            Ok(answer) => return Ok(answer),
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Err(err) => return Err(io::Error::new(err.kind(), format!("{name} never answered: {err}"))),
        }
    }
}

/// Reads a server's stdout until a line `PREFIX ADDR` (`listening on `
/// for every server here; `listening on tls:` for a TLS listener's), on a
/// thread so that a silent server times out instead of hanging the runner.
/// The thread goes on reading (and dropping) stdout so the server never
/// blocks on a full pipe.
pub(crate) fn wait_for_address(stdout: impl io::Read + Send + 'static, prefix: &'static str) -> io::Result<SocketAddr> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut sent = false;
        while let Some(Ok(line)) = lines.next() {
            if !sent {
                if let Some(addr) = line.strip_prefix(prefix) {
                    sent = true;
                    let _ = tx.send(addr.trim().parse::<SocketAddr>().map_err(|err| err.to_string()));
                }
            }
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(Ok(addr)) => Ok(addr),
        Ok(Err(err)) => Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad address printed: {err}"))),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            Err(io::Error::new(io::ErrorKind::TimedOut, format!("no `{prefix}ADDR` line within {START_TIMEOUT:?}")))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("exited without printing `{prefix}ADDR`")))
        }
    }
}
