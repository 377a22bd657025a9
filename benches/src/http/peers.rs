//! The three HTTP servers the `--http` scenario compares, as child
//! processes pinned to the server CPU: evloop's `http` example, `nginx`
//! (a config of the runner's own) and a hyper 1.x server on a tokio
//! current_thread runtime (`benches/peers/hyper`, built here).

use std::fs::{self, File};
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
    /// `examples/http`, one loop.
    Evloop,
    /// nginx, one worker.
    Nginx,
    /// hyper 1.x on tokio's current_thread runtime.
    Hyper,
}

impl Peer {
    /// Every peer, in report order.
    pub(crate) const ALL: [Peer; 3] = [Peer::Evloop, Peer::Nginx, Peer::Hyper];

    /// Short name for tables and files.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::Evloop => "evloop-http",
            Peer::Nginx => "nginx",
            Peer::Hyper => "hyper",
        }
    }
}

/// Where the servers' binaries are.
#[derive(Debug, Clone)]
pub(crate) struct Binaries {
    /// `http`, beside the runner.
    http: PathBuf,
    /// `hyper_hello`, if it built.
    pub(crate) hyper: Option<PathBuf>,
    /// `nginx`, if installed.
    pub(crate) nginx: Option<PathBuf>,
}

impl Binaries {
    /// Builds `http` (in the workspace) and the hyper peer (its own
    /// manifest and lockfile) into the runner's target directory, a no-op
    /// when up to date, and finds nginx.
    pub(crate) fn build_and_locate(notes: &mut Vec<String>) -> io::Result<Binaries> {
        let exe = std::env::current_exe()?;
        let dir = exe.parent().ok_or_else(|| io::Error::other("runner executable has no directory"))?.to_path_buf();
        let target_dir = dir.parent().ok_or_else(|| io::Error::other("no target directory"))?.to_path_buf();
        let profile_args: Vec<String> = match dir.file_name().and_then(|name| name.to_str()).unwrap_or("release") {
            "debug" => vec![],
            "release" => vec!["--release".into()],
            other => vec!["--profile".into(), other.into()],
        };
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let build = |manifest: PathBuf, extra: &[&str]| {
            Command::new(&cargo)
                .arg("build")
                .arg("--manifest-path")
                .arg(manifest)
                .arg("--target-dir")
                .arg(&target_dir)
                .args(&profile_args)
                .args(extra)
                .stdin(Stdio::null())
                .status()
        };
        let built = build(root.join("Cargo.toml"), &["-p", "http", "--bins"]);
        if !matches!(built, Ok(status) if status.success()) {
            eprintln!("warning: could not rebuild http ({built:?}); using the binary already built");
        }
        let http = dir.join("http");
        if !http.is_file() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("http missing from {}", dir.display())));
        }
        let hyper_built = build(root.join("benches/peers/hyper/Cargo.toml"), &["--locked"]);
        let hyper = Some(dir.join("hyper_hello")).filter(|path| path.is_file());
        if hyper.is_none() {
            notes.push(format!(
                "hyper peer did not build ({hyper_built:?}; it needs crates.io once): its columns are missing"
            ));
        }
        let nginx = find_on_path("nginx").or_else(|| Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()));
        if nginx.is_none() {
            notes.push("nginx not found (Debian: apt-get install nginx): its columns are missing".into());
        }
        Ok(Binaries { http, hyper, nginx })
    }

    /// Whether `peer` can run here.
    pub(crate) fn has(&self, peer: Peer) -> bool {
        match peer {
            Peer::Evloop => true,
            Peer::Nginx => self.nginx.is_some(),
            Peer::Hyper => self.hyper.is_some(),
        }
    }
}

/// A running server.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// nginx's prefix directory, removed on drop.
    scratch: Option<PathBuf>,
}

impl Running {
    /// Starts `peer` on a free loopback port, pinned to `cpu` when given,
    /// its output into `log`; returns once it answers `GET /`.
    pub(crate) fn start(peer: Peer, binaries: &Binaries, cpu: Option<usize>, log: &Path) -> io::Result<Running> {
        let mut scratch = None;
        let mut fixed_port = None;
        let mut command = match peer {
            Peer::Evloop => {
                let mut command = Command::new(&binaries.http);
                command.args(["--listen", "127.0.0.1:0", "--max-connections", "20000"]).env("RUST_LOG", "warn");
                command
            }
            Peer::Hyper => {
                let mut command = Command::new(binaries.hyper.as_ref().ok_or_else(|| io::Error::other("no hyper"))?);
                command.args(["--listen", "127.0.0.1:0"]);
                command
            }
            Peer::Nginx => {
                let binary = binaries.nginx.as_ref().ok_or_else(|| io::Error::other("no nginx"))?;
                // nginx cannot listen on port 0 and say which it got: take a
                // free port and release it for nginx to bind.
                let port = free_port()?;
                let dir = nginx_prefix(port)?;
                let mut command = Command::new(binary);
                command.arg("-p").arg(&dir).arg("-c").arg(dir.join("nginx.conf")).arg("-e").arg(dir.join("error.log"));
                scratch = Some(dir);
                fixed_port = Some(port);
                command
            }
        };
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(File::create(log)?);
        if let Some(cpu) = cpu {
            platform::pin_command(&mut command, cpu);
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let port = match fixed_port {
            Some(port) => {
                thread::spawn(move || io::copy(&mut BufReader::new(stdout), &mut io::sink()));
                port
            }
            None => match wait_for_address(stdout, "listening on ").map(|addr| addr.port()) {
                Ok(port) => port,
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(err);
                }
            },
        };
        let running = Running { child, port, scratch };
        running.wait_until_serving(peer)?;
        Ok(running)
    }

    /// Its process id (nginx runs with `master_process off`: one process).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait_until_serving(&self, peer: Peer) -> io::Result<()> {
        let reply = first_answer(peer.name(), || {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?;
            let mut reply = Vec::new();
            stream.read_to_end(&mut reply)?;
            Ok(reply)
        })?;
        if reply.starts_with(b"HTTP/1.1 200") && reply.ends_with(b"Hello, World!") {
            return Ok(());
        }
        Err(io::Error::other(format!("{} answered {:?}", peer.name(), String::from_utf8_lossy(&reply))))
    }

    /// Kills it.
    pub(crate) fn stop(self) {}
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.scratch {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// A prefix directory with the nginx config: one process (`master_process
/// off`, so its CPU time and memory are one PID's), access log off,
/// `return 200 "Hello, World!"` as text/plain, keep-alive requests
/// unlimited in practice (as evloop and hyper have no limit), running as
/// the current user from a temp dir.
fn nginx_prefix(port: u16) -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("evloop-bench-nginx-{}-{port}", std::process::id()));
    fs::create_dir_all(&dir)?;
    let d = dir.display();
    let config = format!(
        "daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         worker_rlimit_nofile 30000;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 20000; }}\n\
         http {{\n\
         \x20   access_log off;\n\
         \x20   keepalive_requests 100000000;\n\
         \x20   client_body_temp_path {d}/body;\n\
         \x20   proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/uwsgi;\n\
         \x20   scgi_temp_path {d}/scgi;\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{port};\n\
         \x20       location / {{ default_type text/plain; return 200 \"Hello, World!\"; }}\n\
         \x20   }}\n\
         }}\n"
    );
    fs::write(dir.join("nginx.conf"), config)?;
    Ok(dir)
}
