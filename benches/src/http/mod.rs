//! The http scenario (`cargo run --release -p bench -- --http`): evloop's
//! `http` example against nginx and hyper, all driven by `wrk`.
//!
//! Each server runs fresh for each (connections, pipeline) point, pinned
//! to CPU 0; `wrk` runs pinned to CPU 1 with one thread, first for a
//! one-second warm-up, then for the measured window. The server's CPU time
//! (utime + stime from /proc) over the window divided by the requests wrk
//! completed is its CPU per request; requests/s and p99 are wrk's
//! (`--latency`); peak RSS is the server's VmHWM after the point.
//! Pipelined points send 16 requests per write with a Lua script, as
//! TechEmpower's plaintext test does. Figures are medians over the runs.
//! Then each server holds 5,000 idle keep-alive connections (each has
//! made one request) for its memory per connection.
//!
//! `wrk` is required (Debian: `apt-get install wrk`); nginx
//! (`apt-get install nginx`) and the hyper peer are used when they are
//! there, with a note when they are not.

mod peers;
mod report;

use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::procfs;
use crate::results::median;
use crate::servers::find_on_path;
use peers::{Binaries, Peer, Running};

/// Connection counts and pipeline depths measured.
const CONNECTIONS: [usize; 2] = [50, 1_000];
const PIPELINES: [usize; 2] = [1, 16];

/// Idle keep-alive connections held for the memory figure.
const IDLE_CONNECTIONS: usize = 5_000;

/// The Lua script that makes wrk pipeline `depth` requests per write.
const PIPELINE_LUA: &str = r#"
init = function(args)
   local depth = tonumber(args[1]) or 1
   local r = {}
   for i = 1, depth do r[i] = wrk.format() end
   req = table.concat(r)
end
request = function() return req end
"#;

/// One measured point: one server, one run.
#[derive(Debug, Clone)]
struct Cell {
    peer: Peer,
    connections: usize,
    pipeline: usize,
    rps: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
    peak_rss: u64,
    /// Socket errors and non-2xx answers wrk counted.
    errors: u64,
}

/// Medians of one (server, connections, pipeline) over the runs.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub(crate) peer: Peer,
    pub(crate) connections: usize,
    pub(crate) pipeline: usize,
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    pub(crate) cpu_us_per_request: f64,
    pub(crate) peak_rss: f64,
    pub(crate) errors: u64,
}

/// Memory of idle keep-alive connections.
#[derive(Debug, Clone)]
pub(crate) struct IdleMemory {
    pub(crate) peer: Peer,
    pub(crate) connections: usize,
    /// RSS growth per connection, bytes.
    pub(crate) bytes_per_connection: f64,
}

/// Runs the scenario; `Ok(false)` when some point failed.
pub(crate) fn run(quick: bool, runs: Option<usize>, out: &Path, pin: bool) -> io::Result<bool> {
    let Some(wrk) = find_on_path("wrk") else {
        eprintln!("skipped: wrk not found; the http scenario needs it (Debian: apt-get install wrk)");
        return Ok(true);
    };
    let runs = runs.unwrap_or(if quick { 1 } else { 3 }).max(1);
    let cpus = (pin && crate::platform::available_cpus() >= 2).then_some((0usize, 1usize));
    if let Some((_, load)) = cpus {
        crate::platform::pin_current_thread(load)?;
    }
    crate::platform::raise_fd_limit()?;
    let mut notes = Vec::new();
    let binaries = Binaries::build_and_locate(&mut notes)?;
    let peers: Vec<Peer> = Peer::ALL.into_iter().filter(|peer| binaries.has(*peer)).collect();
    let logs = out.join("logs");
    fs::create_dir_all(&logs)?;
    let lua = out.join("pipeline.lua");
    fs::write(&lua, PIPELINE_LUA)?;
    let ticks = crate::procfs::clock_ticks_per_second();
    let window = if quick { Duration::from_secs(1) } else { Duration::from_secs(5) };
    let mut cells = Vec::new();
    let mut failures = Vec::new();
    for run in 0..runs {
        for connections in CONNECTIONS {
            for pipeline in PIPELINES {
                for &peer in &peers {
                    eprintln!("run {}/{runs}: {} c{connections} P{pipeline}", run + 1, peer.name());
                    let point = Point { peer, connections, pipeline, run, cpus, ticks, window };
                    match point.measure(&binaries, &wrk, &lua, &logs) {
                        Ok(cell) => cells.push(cell),
                        Err(err) => {
                            eprintln!("FAILED: {err}");
                            failures.push(format!("{} c{connections} P{pipeline}: {err}", peer.name()));
                        }
                    }
                }
            }
        }
    }
    let mut idle = Vec::new();
    let idle_connections = if quick { 500 } else { IDLE_CONNECTIONS };
    for &peer in &peers {
        eprintln!("idle memory: {idle_connections} keep-alive connections to {}", peer.name());
        let log = logs.join(format!("http-idle-{}.log", peer.name()));
        match idle_memory(peer, &binaries, cpus.map(|(server, _)| server), &log, idle_connections) {
            Ok(measured) => idle.push(measured),
            Err(err) => failures.push(format!("idle memory of {}: {err}", peer.name())),
        }
    }
    let summary = summarize(&cells, &peers);
    notes.extend(failures.iter().map(|failure| format!("FAILED: {failure}")));
    let text = report::render(&summary, &peers, &idle, runs, window, &notes);
    print!("{text}");
    report::write_csv(out, &summary, &idle)?;
    println!("wrote http-summary.csv and http-idle.csv to {}", out.display());
    Ok(failures.is_empty())
}

/// One server at one (connections, pipeline) point, in one run.
#[derive(Debug, Clone, Copy)]
struct Point {
    peer: Peer,
    connections: usize,
    pipeline: usize,
    run: usize,
    cpus: Option<(usize, usize)>,
    ticks: u64,
    window: Duration,
}

impl Point {
    fn measure(&self, binaries: &Binaries, wrk: &Path, lua: &Path, logs: &Path) -> io::Result<Cell> {
        let label = format!("http-{}-c{}-P{}-run{}", self.peer.name(), self.connections, self.pipeline, self.run + 1);
        let log = logs.join(format!("{label}.log"));
        let mut server = Running::start(self.peer, binaries, self.cpus.map(|(server, _)| server), &log)?;
        // Warm-up: connections opened, caches and allocators warm.
        self.wrk(wrk, lua, server.port, Duration::from_secs(1))?;
        let cpu_before = procfs::cpu_time(server.pid(), self.ticks)?;
        let result = self.wrk(wrk, lua, server.port, self.window)?;
        let cpu = procfs::cpu_time(server.pid(), self.ticks)?.saturating_sub(cpu_before).as_secs_f64();
        if !server.is_running() {
            return Err(io::Error::other(format!("{label}: the server died; see {}", log.display())));
        }
        let peak_rss = procfs::memory(server.pid())?.peak_rss;
        server.stop();
        if result.requests == 0 {
            return Err(io::Error::other(format!("{label}: wrk completed no request")));
        }
        Ok(Cell {
            peer: self.peer,
            connections: self.connections,
            pipeline: self.pipeline,
            rps: result.rps,
            p99_ms: result.p99_ms,
            cpu_us_per_request: cpu * 1e6 / result.requests as f64,
            peak_rss,
            errors: result.errors,
        })
    }

    /// One wrk invocation of `duration`.
    fn wrk(&self, wrk: &Path, lua: &Path, port: u16, duration: Duration) -> io::Result<WrkResult> {
        let mut command = Command::new(wrk);
        command.args(["-t", "1", "-c", &self.connections.to_string()]).args([
            "-d",
            &format!("{}s", duration.as_secs().max(1)),
            "--latency",
            "--timeout",
            "10s",
        ]);
        if self.pipeline > 1 {
            command.arg("-s").arg(lua);
        }
        command.arg(format!("http://127.0.0.1:{port}/"));
        if self.pipeline > 1 {
            command.args(["--", &self.pipeline.to_string()]);
        }
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some((_, load)) = self.cpus {
            crate::platform::pin_command(&mut command, load);
        }
        let output = command.output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "wrk failed ({}): {stdout} {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        parse_wrk(&stdout).ok_or_else(|| io::Error::other(format!("could not read wrk's output: {stdout}")))
    }
}

/// What one wrk run reported.
#[derive(Debug, Clone, Copy, PartialEq)]
struct WrkResult {
    requests: u64,
    rps: f64,
    p99_ms: f64,
    errors: u64,
}

/// Reads wrk's `N requests in`, `Requests/sec:`, the `99%` latency line,
/// and its error counts.
fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut result = WrkResult { requests: 0, rps: 0.0, p99_ms: 0.0, errors: 0 };
    let mut found = (false, false, false);
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            result.rps = rest.trim().parse().ok()?;
            found.0 = true;
        } else if let Some(rest) = line.strip_prefix("99%") {
            result.p99_ms = latency_ms(rest.trim())?;
            found.1 = true;
        } else if line.contains(" requests in ") {
            result.requests = line.split_whitespace().next()?.parse().ok()?;
            found.2 = true;
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            result.errors += rest.trim().parse::<u64>().ok()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            result.errors +=
                rest.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
        }
    }
    (found == (true, true, true)).then_some(result)
}

/// `123.45us`, `1.20ms` or `2.00s` in milliseconds.
fn latency_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// Opens `count` keep-alive connections to a fresh server, each making one
/// request, and returns the server's RSS growth per connection.
fn idle_memory(
    peer: Peer,
    binaries: &Binaries,
    cpu: Option<usize>,
    log: &Path,
    count: usize,
) -> io::Result<IdleMemory> {
    let server = Running::start(peer, binaries, cpu, log)?;
    let mut warm = Vec::new();
    // A few first, so one-time allocations are in the baseline.
    for _ in 0..10 {
        warm.push(one_request(server.port)?);
    }
    settle();
    let before = procfs::memory(server.pid())?.rss;
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        held.push(one_request(server.port)?);
    }
    settle();
    let after = procfs::memory(server.pid())?.rss;
    drop(held);
    drop(warm);
    server.stop();
    Ok(IdleMemory {
        peer,
        connections: count,
        bytes_per_connection: after.saturating_sub(before) as f64 / count as f64,
    })
}

/// A connection that made one `GET /`, read its answer, and stays open.
fn one_request(port: u16) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
    let mut answer = Vec::with_capacity(256);
    let mut buf = [0; 512];
    while !answer.ends_with(b"Hello, World!") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before answering"));
        }
        answer.extend_from_slice(&buf[..n]);
    }
    Ok(stream)
}

/// Lets the server finish what the last connections started (the RSS is
/// read after it has been idle for a moment, not mid-request).
fn settle() {
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        thread::sleep(Duration::from_millis(50));
    }
}

fn summarize(cells: &[Cell], peers: &[Peer]) -> Vec<Summary> {
    let mut summaries = Vec::new();
    for connections in CONNECTIONS {
        for pipeline in PIPELINES {
            for &peer in peers {
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
                    p99_ms: med(|c| c.p99_ms),
                    cpu_us_per_request: med(|c| c.cpu_us_per_request),
                    peak_rss: med(|c| c.peak_rss as f64),
                    errors: of.iter().map(|c| c.errors).sum(),
                });
            }
        }
    }
    summaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrk_output_is_read() {
        let text = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 50 connections\n\
  Latency Distribution\n     50%  300.00us\n     75%  400.00us\n     90%  500.00us\n     99%    1.25ms\n\
  500000 requests in 5.00s, 60.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n\
Requests/sec: 100000.00\nTransfer/sec:     12.00MB\n";
        let result = parse_wrk(text).expect("parses");
        assert_eq!(result, WrkResult { requests: 500_000, rps: 100_000.0, p99_ms: 1.25, errors: 3 });
        assert_eq!(latency_ms("850.00us"), Some(0.85));
        assert_eq!(latency_ms("1.50s"), Some(1500.0));
    }
}
