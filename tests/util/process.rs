//! A server binary run as a child process, for tests of the real binaries
//! (their CLI, their signals) rather than of a handler in-process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::{connect, TIMEOUT};

/// A server process started with `--listen 127.0.0.1:0`, killed when
/// dropped however the test ends.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Where it says it listens (its first line on stdout).
    pub addr: SocketAddr,
    /// Collects its log (stderr), when started with [`ServerProcess::start_logging`].
    log: Option<JoinHandle<Vec<String>>>,
    /// What it prints on stdout after the first line, line by line.
    printed: Receiver<String>,
}

impl ServerProcess {
    /// Starts `binary --listen 127.0.0.1:0 ARGS` and reads the
    /// `listening on ADDR` line every server here prints first.
    #[track_caller]
    pub fn start(binary: &str, args: &[&str]) -> ServerProcess {
        ServerProcess::spawn(binary, args, None)
    }

    /// As [`start`](ServerProcess::start), with `RUST_LOG=filter` and its
    /// log (stderr) kept, for [`wait_with_log`](ServerProcess::wait_with_log).
    #[track_caller]
    pub fn start_logging(binary: &str, args: &[&str], filter: &str) -> ServerProcess {
        ServerProcess::spawn(binary, args, Some(filter))
    }

    #[track_caller]
    fn spawn(binary: &str, args: &[&str], log_filter: Option<&str>) -> ServerProcess {
        let mut command = Command::new(binary);
        command.args(["--listen", "127.0.0.1:0"]).args(args).stdin(Stdio::null()).stdout(Stdio::piped());
        match log_filter {
            Some(filter) => command.env("RUST_LOG", filter).stderr(Stdio::piped()),
            None => command.stderr(Stdio::null()),
        };
        let mut child = command.spawn().unwrap_or_else(|err| panic!("{binary} should start: {err}"));
        let log = child.stderr.take().map(|stderr| {
            thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>())
        });
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        stdout.read_line(&mut line).expect("a first line");
        // Keep reading what else it prints (another listener's line, say),
        // for `printed`: a closed pipe would make its next println! fail
        // and kill it.
        let (lines, printed) = mpsc::channel();
        thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line should be `listening on ADDR`, was {line:?}"))
            .parse()
            .expect("a socket address");
        ServerProcess { child, addr, log, printed }
    }

    /// The rest of the first line after the first that starts with
    /// `prefix` (`"listening on tls:"`, say), waiting for it (bounded by
    /// [`TIMEOUT`]); lines before it are skipped.
    #[track_caller]
    pub fn printed(&self, prefix: &str) -> String {
        let line =
            crate::find_within(&self.printed, &format!("a line starting {prefix:?}"), |line| line.starts_with(prefix));
        line[prefix.len()..].trim().to_string()
    }

    /// Sends the process `signal` (`"TERM"`, `"INT"`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.expect("run kill(1)").success(), "kill -{signal} failed");
    }

    /// Waits (bounded by [`TIMEOUT`]) for the process to exit by itself.
    #[track_caller]
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the child") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit within {TIMEOUT:?}");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl ServerProcess {
    /// Waits (bounded) for the process to exit by itself, and returns its
    /// exit status and its log, line by line.
    ///
    /// # Panics
    ///
    /// If it was not started with [`start_logging`](ServerProcess::start_logging).
    #[track_caller]
    pub fn wait_with_log(&mut self) -> (ExitStatus, Vec<String>) {
        let status = self.wait();
        let log = self.log.take().expect("started with start_logging");
        (status, log.join().expect("the log reader"))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks an echo server at `addr`: 1 MiB through one connection (more
/// than the socket buffers hold, so the server must wait for the writable
/// edge), then 50 connections at once, each getting its own bytes back.
#[track_caller]
pub fn check_echo(addr: SocketAddr) {
    let mut stream = connect(addr);
    let sent: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let writer = {
        let mut stream = stream.try_clone().expect("clone the stream");
        let sent = sent.clone();
        thread::spawn(move || stream.write_all(&sent).expect("write everything"))
    };
    let mut echoed = vec![0u8; sent.len()];
    stream.read_exact(&mut echoed).expect("read the whole echo");
    writer.join().expect("writer thread");
    assert!(echoed == sent, "the 1 MiB echo differs from what was sent");

    let mut streams: Vec<TcpStream> = (0..50).map(|_| connect(addr)).collect();
    for (index, stream) in streams.iter_mut().enumerate() {
        stream.write_all(format!("hello {index}\n").as_bytes()).expect("write");
    }
    for (index, stream) in streams.iter_mut().enumerate() {
        let expected = format!("hello {index}\n");
        let mut echoed = vec![0u8; expected.len()];
        stream.read_exact(&mut echoed).expect("read the echo");
        assert_eq!(echoed, expected.as_bytes(), "connection {index} got another connection's bytes");
    }
}
