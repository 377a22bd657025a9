//! The TLS scenario (`cargo run --release -p bench -- --tls`): evloop's
//! `echo --tls-cert` against a tokio current_thread + tokio-rustls echo
//! server (`benches/src/bin/tokio_rustls_echo.rs`).
//!
//! One self-signed ECDSA P-256 certificate for `localhost` is made at start
//! with rcgen into a temp directory (removed at the end) and given to both
//! servers as PEM files. Each server runs fresh for each (connections,
//! pipeline) point, pinned to CPU 0; `tls_echo_load` runs pinned to CPU 1,
//! completes every handshake, then loads the server with 64-byte messages
//! for the window and reports requests/s and the server's CPU time
//! (`utime + stime` from /proc) per request over that window. The server's peak RSS
//! (VmHWM) is read after the point. Figures are medians over the runs.
//! Then `tls_idle_rss` holds idle TLS connections (each made one exchange)
//! to a fresh server: RSS growth per connection and full handshakes per
//! server CPU second, again the median over the runs.
//!
//! Nothing outside the workspace is needed.

use std::fs;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::procfs;
use crate::results::median;
use crate::servers::Binaries;

/// Connection counts and pipeline depths of the full run.
const CONNECTIONS: [usize; 2] = [100, 1_000];
const PIPELINES: [usize; 2] = [1, 16];

/// Idle TLS connections held for the memory and handshake figures.
const IDLE_CONNECTIONS: usize = 10_000;

/// Bytes per echoed message.
const MESSAGE_BYTES: usize = 64;

/// The goal for idle memory: evloop's RSS per idle TLS connection at most
/// this share of tokio-rustls's.
const IDLE_GOAL_RATIO: f64 = 0.5;

/// One TLS echo server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// `examples/echo` with `--tls-cert`, one loop.
    Evloop,
    /// tokio current_thread + tokio-rustls.
    TokioRustls,
}

impl Peer {
    const ALL: [Peer; 2] = [Peer::Evloop, Peer::TokioRustls];

    fn name(self) -> &'static str {
        match self {
            Peer::Evloop => "evloop",
            Peer::TokioRustls => "tokio-rustls",
        }
    }
}

/// What the scenario needs to run: binaries, certificate, pinning, logs.
#[derive(Debug)]
struct Setup {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    cpus: Option<(usize, usize)>,
    logs: PathBuf,
}

/// One measured point: one server, one run.
#[derive(Debug, Clone, Copy)]
struct Cell {
    peer: Peer,
    connections: usize,
    pipeline: usize,
    rps: f64,
    cpu_ns_per_request: f64,
    peak_rss: u64,
}

/// Medians of one (server, connections, pipeline) over the runs.
#[derive(Debug, Clone, Copy)]
struct Summary {
    peer: Peer,
    connections: usize,
    pipeline: usize,
    rps: f64,
    cpu_ns_per_request: f64,
    peak_rss: f64,
}

/// Idle TLS connections: medians over the runs.
#[derive(Debug, Clone, Copy)]
struct Idle {
    peer: Peer,
    connections: usize,
    bytes_per_connection: f64,
    handshakes_per_cpu_second: f64,
}

/// Runs the scenario; `Ok(false)` when some point failed.
pub(crate) fn run(quick: bool, runs: Option<usize>, out: &Path, pin: bool) -> io::Result<bool> {
    let runs = runs.unwrap_or(if quick { 1 } else { 3 }).max(1);
    let cpus = (pin && crate::platform::available_cpus() >= 2).then_some((0usize, 1usize));
    if let Some((_, load)) = cpus {
        crate::platform::pin_current_thread(load)?;
    }
    let idle_connections = if quick { 200 } else { IDLE_CONNECTIONS };
    let fd_limit = crate::platform::raise_fd_limit()?;
    if (idle_connections as u64) + 64 > fd_limit {
        return Err(io::Error::other(format!(
            "{idle_connections} connections need more than the {fd_limit} open files allowed (ulimit -n)"
        )));
    }
    let binaries = Binaries::build_and_locate()?;
    let dir = binaries.dir().to_path_buf();
    for binary in ["echo", "tokio_rustls_echo", "tls_echo_load", "tls_idle_rss"] {
        if !dir.join(binary).is_file() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{binary} missing from {}", dir.display())));
        }
    }
    let logs = out.join("logs");
    fs::create_dir_all(&logs)?;
    let certs = std::env::temp_dir().join(format!("evloop-bench-tls-{}", std::process::id()));
    let (cert, key) = write_certificate(&certs)?;
    let setup = Setup { dir, cert, key, cpus, logs };
    let connections: &[usize] = if quick { &CONNECTIONS[..1] } else { &CONNECTIONS };
    let window = if quick { 1 } else { 5 };
    let mut cells = Vec::new();
    let mut failures = Vec::new();
    // Runs outermost, as in the echo scenario: a burst of noise lands in one
    // run of many points rather than in every run of one.
    for run in 0..runs {
        for &conns in connections {
            for pipeline in PIPELINES {
                for peer in Peer::ALL {
                    eprintln!("run {}/{runs}: {} c{conns} P{pipeline}", run + 1, peer.name());
                    match measure(&setup, peer, conns, pipeline, window, run) {
                        Ok(cell) => cells.push(cell),
                        Err(err) => {
                            eprintln!("FAILED: {err}");
                            failures.push(format!("{} c{conns} P{pipeline}: {err}", peer.name()));
                        }
                    }
                }
            }
        }
    }
    let mut idle_runs: Vec<(Peer, f64, f64)> = Vec::new();
    for run in 0..runs {
        for peer in Peer::ALL {
            eprintln!("idle run {}/{runs}: {idle_connections} idle TLS connections to {}", run + 1, peer.name());
            match idle(&setup, peer, idle_connections, run) {
                Ok((bytes, handshakes)) => idle_runs.push((peer, bytes, handshakes)),
                Err(err) => {
                    eprintln!("FAILED: {err}");
                    failures.push(format!("idle {}: {err}", peer.name()));
                }
            }
        }
    }
    let _ = fs::remove_dir_all(&certs);
    let summaries = summarize(&cells);
    let idle: Vec<Idle> = Peer::ALL
        .into_iter()
        .filter_map(|peer| {
            let of: Vec<_> = idle_runs.iter().filter(|(p, _, _)| *p == peer).collect();
            (!of.is_empty()).then(|| Idle {
                peer,
                connections: idle_connections,
                bytes_per_connection: median(of.iter().map(|r| r.1).collect()),
                handshakes_per_cpu_second: median(of.iter().map(|r| r.2).collect()),
            })
        })
        .collect();
    let text = render(&summaries, &idle, runs, window, quick, cpus.is_some(), &failures);
    print!("{text}");
    write_csv(out, &summaries, &idle)?;
    println!("wrote tls-summary.csv and tls-idle.csv to {}", out.display());
    if !failures.is_empty() {
        eprintln!("error: {} point(s) failed; see the notes above", failures.len());
    }
    Ok(failures.is_empty())
}

/// A self-signed ECDSA P-256 certificate for `localhost`, as PEM files in `dir`.
fn write_certificate(dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(dir)?;
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
        .map_err(|e| io::Error::other(format!("making a self-signed certificate: {e}")))?;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    fs::write(&cert, made.cert.pem())?;
    fs::write(&key, made.signing_key.serialize_pem())?;
    Ok((cert, key))
}

/// A running TLS echo server, killed (by its PID) on drop.
#[derive(Debug)]
struct Running {
    child: Child,
    /// Its TLS address, `127.0.0.1:PORT`.
    addr: SocketAddr,
}

impl Running {
    fn start(setup: &Setup, peer: Peer, log: &Path) -> io::Result<Running> {
        let mut command = match peer {
            Peer::Evloop => {
                let mut command = Command::new(setup.dir.join("echo"));
                // The plain listener too, on a port of its own (its default is a fixed one).
                command.args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"]);
                command.args(["--max-connections", "20000"]).env("RUST_LOG", "warn");
                command
            }
            Peer::TokioRustls => {
                let mut command = Command::new(setup.dir.join("tokio_rustls_echo"));
                command.args(["--listen", "127.0.0.1:0"]);
                command
            }
        };
        command.arg("--tls-cert").arg(&setup.cert).arg("--tls-key").arg(&setup.key);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(fs::File::create(log)?);
        if let Some((server, _)) = setup.cpus {
            crate::platform::pin_command(&mut command, server);
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let prefix = match peer {
            Peer::Evloop => "listening on tls:",
            Peer::TokioRustls => "listening on ",
        };
        match crate::servers::wait_for_address(stdout, prefix) {
            Ok(addr) => Ok(Running { child, addr }),
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(io::Error::new(err.kind(), format!("{}: {err}; see {}", peer.name(), log.display())))
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server at one point in one run.
fn measure(setup: &Setup, peer: Peer, connections: usize, pipeline: usize, secs: u64, run: usize) -> io::Result<Cell> {
    let label = format!("tls-{}-c{connections}-P{pipeline}-run{}", peer.name(), run + 1);
    let log = setup.logs.join(format!("{label}.log"));
    let mut server = Running::start(setup, peer, &log)?;
    let mut command = Command::new(setup.dir.join("tls_echo_load"));
    command.args(["--addr", &server.addr.to_string(), "--server-pid", &server.pid().to_string()]);
    command.args(["--connections", &connections.to_string(), "--pipeline", &pipeline.to_string()]);
    command.args(["--size", &MESSAGE_BYTES.to_string(), "--secs", &secs.to_string()]);
    let timeout = Duration::from_secs(secs + 120);
    let output = run_bounded(command, setup.cpus.map(|(_, load)| load), timeout)?;
    if !server.is_running() {
        return Err(io::Error::other(format!("{label}: the server died; see {}", log.display())));
    }
    let peak_rss = procfs::memory(server.pid())?.peak_rss;
    drop(server);
    let (rps, cpu_ns_per_request) = parse_load(&output)
        .ok_or_else(|| io::Error::other(format!("{label}: could not read tls_echo_load's output: {output:?}")))?;
    if rps <= 0.0 {
        return Err(io::Error::other(format!("{label}: no request completed: {output:?}")));
    }
    Ok(Cell { peer, connections, pipeline, rps, cpu_ns_per_request, peak_rss })
}

/// Idle TLS connections to a fresh server: (RSS bytes per connection,
/// handshakes per server CPU second).
fn idle(setup: &Setup, peer: Peer, connections: usize, run: usize) -> io::Result<(f64, f64)> {
    let label = format!("tls-idle-{}-run{}", peer.name(), run + 1);
    let log = setup.logs.join(format!("{label}.log"));
    let mut server = Running::start(setup, peer, &log)?;
    let mut command = Command::new(setup.dir.join("tls_idle_rss"));
    command.args(["--addr", &server.addr.to_string(), "--server-pid", &server.pid().to_string()]);
    command.args(["--connections", &connections.to_string()]);
    let output = run_bounded(command, setup.cpus.map(|(_, load)| load), Duration::from_secs(300))?;
    if !server.is_running() {
        return Err(io::Error::other(format!("{label}: the server died; see {}", log.display())));
    }
    drop(server);
    parse_idle(&output)
        .ok_or_else(|| io::Error::other(format!("{label}: could not read tls_idle_rss's output: {output:?}")))
}

/// Runs a measuring tool pinned to `cpu`, killing it (by its PID) if it
/// outlives `timeout`; its stdout, or an error with its stderr.
fn run_bounded(mut command: Command, cpu: Option<usize>, timeout: Duration) -> io::Result<String> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(cpu) = cpu {
        crate::platform::pin_command(&mut command, cpu);
    }
    let mut child = command.spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok(out),
        Some(status) => Err(io::Error::other(format!("{command:?} failed ({status}): {out} {err}"))),
        None => Err(io::Error::new(io::ErrorKind::TimedOut, format!("{command:?} took over {timeout:?}: {err}"))),
    }
}

/// Reads `..., R requests/s, server CPU N ns per request` from tls_echo_load.
fn parse_load(text: &str) -> Option<(f64, f64)> {
    let line = text.lines().find(|line| line.contains(" requests/s"))?;
    let rps = line.split(" requests/s").next()?.rsplit(", ").next()?.trim().parse().ok()?;
    let cpu = line.split("server CPU ").nth(1)?.split(" ns per request").next()?.trim().parse().ok()?;
    Some((rps, cpu))
}

/// Reads `..., B B per connection; ..., H full handshakes ... per CPU second`
/// from tls_idle_rss.
fn parse_idle(text: &str) -> Option<(f64, f64)> {
    let line = text.lines().find(|line| line.contains(" B per connection"))?;
    let bytes = line.split(" B per connection").next()?.rsplit(", ").next()?.trim().parse().ok()?;
    let handshakes = line.split(" full handshakes").next()?.rsplit(": ").next()?.trim().parse().ok()?;
    Some((bytes, handshakes))
}

fn summarize(cells: &[Cell]) -> Vec<Summary> {
    let mut summaries = Vec::new();
    for connections in CONNECTIONS {
        for pipeline in PIPELINES {
            for peer in Peer::ALL {
                let of: Vec<&Cell> = cells
                    .iter()
                    .filter(|c| c.peer == peer && c.connections == connections && c.pipeline == pipeline)
                    .collect();
                if of.is_empty() {
                    continue;
                }
                let med = |figure: fn(&Cell) -> f64| median(of.iter().map(|c| figure(c)).collect());
                summaries.push(Summary {
                    peer,
                    connections,
                    pipeline,
                    rps: med(|c| c.rps),
                    cpu_ns_per_request: med(|c| c.cpu_ns_per_request),
                    peak_rss: med(|c| c.peak_rss as f64),
                });
            }
        }
    }
    summaries
}

/// The figure of `peer` at a point, if measured.
fn find(summaries: &[Summary], peer: Peer, connections: usize, pipeline: usize) -> Option<&Summary> {
    summaries.iter().find(|s| s.peer == peer && s.connections == connections && s.pipeline == pipeline)
}

/// `1234567.8` as `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// The report: Markdown tables, ratios evloop/tokio-rustls, the goals.
fn render(
    summaries: &[Summary],
    idle: &[Idle],
    runs: usize,
    window: u64,
    quick: bool,
    pinned: bool,
    failures: &[String],
) -> String {
    let mut text = String::new();
    text.push_str(&format!(
        "\nEcho over TLS: evloop `echo --tls-cert` vs tokio current_thread + tokio-rustls \
         ({MESSAGE_BYTES} B messages, {window} s windows, median of {runs} run(s))\n\n"
    ));
    text.push_str(
        "| Connections | Pipeline | CPU/request evloop | CPU/request tokio-rustls | ratio | requests/s evloop | \
         requests/s tokio-rustls | ratio | peak RSS evloop | peak RSS tokio-rustls |\n",
    );
    text.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut cpu_goal: Option<bool> = None;
    let mut cpu_misses = Vec::new();
    for connections in CONNECTIONS {
        for pipeline in PIPELINES {
            let (Some(e), Some(t)) = (
                find(summaries, Peer::Evloop, connections, pipeline),
                find(summaries, Peer::TokioRustls, connections, pipeline),
            ) else {
                continue;
            };
            let cpu_ratio = e.cpu_ns_per_request / t.cpu_ns_per_request;
            let met = e.cpu_ns_per_request <= t.cpu_ns_per_request;
            cpu_goal = Some(cpu_goal.unwrap_or(true) && met);
            if !met {
                cpu_misses.push(format!("c{connections} P{pipeline} ({cpu_ratio:.2}x)"));
            }
            text.push_str(&format!(
                "| {} | {pipeline} | {} ns | {} ns | {cpu_ratio:.2} | {} | {} | {:.2} | {} | {} |\n",
                thousands(connections as f64),
                thousands(e.cpu_ns_per_request),
                thousands(t.cpu_ns_per_request),
                thousands(e.rps),
                thousands(t.rps),
                e.rps / t.rps,
                mib(e.peak_rss),
                mib(t.peak_rss),
            ));
        }
    }
    let mut idle_goal = None;
    if !idle.is_empty() {
        let connections = idle[0].connections;
        text.push_str(&format!(
            "\nIdle TLS connections ({} held, each after one exchange; median of {runs} run(s))\n\n",
            thousands(connections as f64)
        ));
        text.push_str(
            "| Server | RSS per idle TLS connection | Full handshakes (+ one exchange) per server CPU second |\n",
        );
        text.push_str("|---|---:|---:|\n");
        let tokio = idle.iter().find(|i| i.peer == Peer::TokioRustls);
        for row in idle {
            let ratio = match (row.peer, tokio) {
                (Peer::Evloop, Some(t)) => {
                    let ratio = row.bytes_per_connection / t.bytes_per_connection;
                    idle_goal = Some(ratio <= IDLE_GOAL_RATIO);
                    format!(" ({ratio:.2}x tokio-rustls)")
                }
                _ => String::new(),
            };
            let handshakes = match (row.peer, tokio) {
                (Peer::Evloop, Some(t)) => {
                    format!(" ({:.2}x)", row.handshakes_per_cpu_second / t.handshakes_per_cpu_second)
                }
                _ => String::new(),
            };
            text.push_str(&format!(
                "| {} | {} B{ratio} | {}{handshakes} |\n",
                row.peer.name(),
                thousands(row.bytes_per_connection),
                thousands(row.handshakes_per_cpu_second)
            ));
        }
    }
    text.push_str("\nGoals\n\n");
    if quick {
        text.push_str("- not judged: a --quick run (one short run per point) would flip verdicts at random\n");
    } else {
        let verdict = |goal: Option<bool>| match goal {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "not measured",
        };
        let misses =
            if cpu_misses.is_empty() { String::new() } else { format!(" (over at {})", cpu_misses.join(", ")) };
        text.push_str(&format!(
            "- server CPU per request <= tokio-rustls's at every point: {}{misses}\n",
            verdict(cpu_goal)
        ));
        text.push_str(&format!(
            "- RSS per idle TLS connection <= {IDLE_GOAL_RATIO}x tokio-rustls's: {}\n",
            verdict(idle_goal)
        ));
    }
    if !pinned {
        text.push_str("\nnote: servers and load not pinned to separate CPUs: figures include scheduler effects\n");
    }
    for failure in failures {
        text.push_str(&format!("\nFAILED: {failure}\n"));
    }
    text
}

fn write_csv(out: &Path, summaries: &[Summary], idle: &[Idle]) -> io::Result<()> {
    fs::create_dir_all(out)?;
    let mut summary = csv::Writer::from_path(out.join("tls-summary.csv"))?;
    summary.write_record(["server", "connections", "pipeline", "requests_per_s", "cpu_ns_per_request", "peak_rss"])?;
    for s in summaries {
        summary.write_record([
            s.peer.name().to_string(),
            s.connections.to_string(),
            s.pipeline.to_string(),
            format!("{:.0}", s.rps),
            format!("{:.0}", s.cpu_ns_per_request),
            format!("{:.0}", s.peak_rss),
        ])?;
    }
    summary.flush()?;
    let mut writer = csv::Writer::from_path(out.join("tls-idle.csv"))?;
    writer.write_record(["server", "connections", "rss_per_connection", "handshakes_per_cpu_second"])?;
    for row in idle {
        writer.write_record([
            row.peer.name().to_string(),
            row.connections.to_string(),
            format!("{:.0}", row.bytes_per_connection),
            format!("{:.0}", row.handshakes_per_cpu_second),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_output_is_read() {
        let text = "100 connections, pipeline 16, 64 B: 2400000 requests in 5.0 s, 480000 requests/s, \
                    server CPU 348 ns per request\n";
        assert_eq!(parse_load(text), Some((480_000.0, 348.0)), "rps and CPU per request from tls_echo_load");
    }

    #[test]
    fn idle_output_is_read() {
        let text = "10000 idle TLS connections to 127.0.0.1:7879: server RSS 4900 KiB -> 125240 KiB, \
                    12323 B per connection; connected in 6.1 s, server CPU 2.99 s: 3344 full handshakes \
                    (and one exchange) per CPU second\n";
        assert_eq!(parse_idle(text), Some((12_323.0, 3_344.0)), "bytes per connection and handshakes per CPU s");
    }

    #[test]
    fn report_judges_the_goals() {
        let point = |peer, cpu| Summary {
            peer,
            connections: 100,
            pipeline: 1,
            rps: 1000.0,
            cpu_ns_per_request: cpu,
            peak_rss: 1e6,
        };
        let summaries = [point(Peer::Evloop, 5_400.0), point(Peer::TokioRustls, 5_000.0)];
        let idle = [
            Idle { peer: Peer::Evloop, connections: 10, bytes_per_connection: 9_000.0, handshakes_per_cpu_second: 1.0 },
            Idle {
                peer: Peer::TokioRustls,
                connections: 10,
                bytes_per_connection: 20_000.0,
                handshakes_per_cpu_second: 1.0,
            },
        ];
        let text = render(&summaries, &idle, 3, 5, false, true, &[]);
        assert!(text.contains("at every point: MISSED (over at c100 P1 (1.08x))"), "CPU goal missed: {text}");
        assert!(text.contains("tokio-rustls's: met"), "idle goal met at 0.45x: {text}");
        assert!(text.contains("| 9,000 B (0.45x tokio-rustls) |"), "idle ratio shown: {text}");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(1_234_567.4), "1,234,567", "grouping of a large number");
        assert_eq!(thousands(999.0), "999", "no separator under 1,000");
    }
}
