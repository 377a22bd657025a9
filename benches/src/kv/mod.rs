//! The kv scenario (`cargo run --release -p bench -- --kv`): evloop's `kv`
//! against `redis-server` and tokio's mini-redis, all driven by
//! `redis-benchmark`.
//!
//! Each server runs fresh for each (clients, pipeline) point, pinned to
//! CPU 0; `redis-benchmark` runs pinned to CPU 1, one invocation per test
//! of its default suite (what `redis-benchmark -q` runs with no `-t`, in
//! its order), so the server's CPU time (utime + stime from /proc) over an
//! invocation is that test's. The LRANGE tests run as the commands they
//! send (`LRANGE mylist 0 99`, ...), since `-t lrange_100` would first
//! repeat its LPUSH fill inside the same invocation; the suite's own fill
//! ("LPUSH (needed to benchmark LRANGE)") is measured as the test before
//! them, as the suite does. Figures are medians over the runs; the runs
//! are spread over the whole scenario, as in the echo benchmark. Then a
//! million keys, and a list, a hash and a set of a million elements each,
//! are written into each server for its memory per key and per element.
//!
//! `redis-benchmark` (Debian's `redis-tools`) is required; `redis-server`
//! (`redis-server`) is used when installed, with a note when it is not.
//! mini-redis implements GET and SET only, and serves at most 250
//! connections at once: its other cells say n/a.

mod chart;
mod memory;
mod peers;
mod report;

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::procfs;
use crate::results::median;
use crate::servers::find_on_path;
use peers::{Binaries, Peer, Running};

/// How one test is asked of redis-benchmark.
#[derive(Debug, Clone, Copy)]
enum Invocation {
    /// `-t NAME`.
    Suite(&'static str),
    /// The command itself, as arguments after the options.
    Command(&'static [&'static str]),
}

/// One test of the default suite: its label (the suite's name for it), how
/// to run it, and how many times dearer than a GET a request is (requests
/// per invocation are divided by it, so each takes about as long).
#[derive(Debug, Clone, Copy)]
struct Test {
    label: &'static str,
    invocation: Invocation,
    cost: usize,
}

const fn suite(label: &'static str, name: &'static str) -> Test {
    Test { label, invocation: Invocation::Suite(name), cost: 1 }
}

const fn lrange(label: &'static str, command: &'static [&'static str], cost: usize) -> Test {
    Test { label, invocation: Invocation::Command(command), cost }
}

/// redis-benchmark 7's default suite, in its order.
const TESTS: [Test; 20] = [
    suite("PING_INLINE", "ping_inline"),
    suite("PING_MBULK", "ping_mbulk"),
    suite("SET", "set"),
    suite("GET", "get"),
    suite("INCR", "incr"),
    suite("LPUSH", "lpush"),
    suite("RPUSH", "rpush"),
    suite("LPOP", "lpop"),
    suite("RPOP", "rpop"),
    suite("SADD", "sadd"),
    suite("HSET", "hset"),
    suite("SPOP", "spop"),
    suite("ZADD", "zadd"),
    suite("ZPOPMIN", "zpopmin"),
    suite("LPUSH_FILL", "lpush"),
    lrange("LRANGE_100", &["LRANGE", "mylist", "0", "99"], 5),
    lrange("LRANGE_300", &["LRANGE", "mylist", "0", "299"], 15),
    lrange("LRANGE_500", &["LRANGE", "mylist", "0", "499"], 25),
    lrange("LRANGE_600", &["LRANGE", "mylist", "0", "599"], 30),
    Test { label: "MSET", invocation: Invocation::Suite("mset"), cost: 3 },
];

impl Test {
    /// The name mini-redis is judged by (it has GET and SET only).
    fn name(&self) -> &'static str {
        match self.invocation {
            Invocation::Suite(name) => name,
            Invocation::Command(_) => "lrange",
        }
    }
}

/// The longest one redis-benchmark invocation may take.
const BENCHMARK_TIMEOUT: Duration = Duration::from_secs(120);

/// Client counts and pipeline depths measured.
const CLIENTS: [usize; 2] = [50, 1_000];
const PIPELINES: [usize; 2] = [1, 16];

/// One measured cell: a test at a point against one server, one run.
#[derive(Debug, Clone)]
struct Cell {
    peer: Peer,
    clients: usize,
    pipeline: usize,
    test: &'static str,
    requests: usize,
    rps: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
    /// VmHWM of the server after the point's last test.
    peak_rss: u64,
    /// Share of CPU 0 others (not the server) used during the test.
    others_share: f64,
}

/// Runs the scenario; `Ok(false)` when some point failed.
pub(crate) fn run(quick: bool, runs: Option<usize>, out: &Path, pin: bool) -> io::Result<bool> {
    let Some(redis_benchmark) = find_on_path("redis-benchmark") else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "redis-benchmark not found: the kv scenario needs it (Debian: apt-get install redis-tools)",
        ));
    };
    let runs = runs.unwrap_or(if quick { 1 } else { 3 }).max(1);
    let cpus = (pin && crate::platform::available_cpus() >= 2).then_some((0usize, 1usize));
    if let Some((_, load)) = cpus {
        crate::platform::pin_current_thread(load)?;
    }
    crate::platform::raise_fd_limit()?;
    let binaries = Binaries::build_and_locate()?;
    let mut notes = Vec::new();
    let mut peers = Peer::ALL.to_vec();
    if binaries.redis_server.is_none() {
        notes.push("redis-server not found (Debian: apt-get install redis-server): its columns are missing".into());
        peers.retain(|peer| *peer != Peer::Redis);
    }
    let logs = out.join("logs");
    fs::create_dir_all(&logs)?;
    let ticks = crate::procfs::clock_ticks_per_second();
    let mut cells = Vec::new();
    let mut failures = Vec::new();
    for run in 0..runs {
        for clients in CLIENTS {
            for pipeline in PIPELINES {
                for &peer in peers.iter().filter(|peer| TESTS.iter().any(|test| peer.supports(test.name(), clients))) {
                    let point = Point { peer, clients, pipeline, run, quick, cpus, ticks };
                    eprintln!("run {}/{runs}: {} c{clients} P{pipeline}", run + 1, peer.name());
                    match point.measure(&binaries, &redis_benchmark, &logs) {
                        Ok(measured) => cells.extend(measured),
                        Err(err) => {
                            eprintln!("FAILED: {err}");
                            failures.push(format!("{} c{clients} P{pipeline}: {err}", peer.name()));
                        }
                    }
                }
            }
        }
    }
    let keys = if quick { 100_000 } else { 1_000_000 };
    let mut memory = Vec::new();
    for shape in memory::Shape::ALL {
        for &peer in peers.iter().filter(|peer| shape == memory::Shape::Keys || **peer != Peer::MiniRedis) {
            eprintln!("memory: {keys} {} into {}", shape.unit(), peer.name());
            let log = logs.join(format!("kv-memory-{}-{}.log", shape.unit(), peer.name()));
            match memory::measure(peer, shape, &binaries, cpus.map(|(server, _)| server), &log, keys) {
                Ok(measured) => memory.push(measured),
                Err(err) => failures.push(format!("memory of {} ({}): {err}", peer.name(), shape.unit())),
            }
        }
    }
    let summary = summarize(&cells, &peers);
    notes.extend(failures.iter().map(|failure| format!("FAILED: {failure}")));
    let report = report::render(&summary, &peers, &memory, runs, &notes);
    print!("{report}");
    report::write_csv(out, &cells, &summary, &memory)?;
    let chart = chart::draw(&out.join("kv-cpu-per-request.svg"), &summary, &peers, &TESTS.map(|test| test.label))?;
    println!("wrote kv-runs.csv, kv-summary.csv, kv-memory.csv and {} to {}", chart.display(), out.display());
    Ok(failures.is_empty())
}

/// One server at one (clients, pipeline) point, in one run.
#[derive(Debug, Clone, Copy)]
struct Point {
    peer: Peer,
    clients: usize,
    pipeline: usize,
    run: usize,
    quick: bool,
    cpus: Option<(usize, usize)>,
    ticks: u64,
}

impl Point {
    /// Requests for `test`: about a second's worth for each server.
    fn requests(&self, test: &Test) -> usize {
        let base = match (self.pipeline, self.peer) {
            (1, _) => 100_000,
            // mini-redis flushes every reply alone: ~20k requests/s pipelined.
            (_, Peer::MiniRedis) => 100_000,
            _ => 1_000_000,
        };
        let base = base / test.cost;
        if self.quick {
            base / 10
        } else {
            base
        }
    }

    /// A fresh server, every test it supports, its peak memory.
    fn measure(&self, binaries: &Binaries, redis_benchmark: &Path, logs: &Path) -> io::Result<Vec<Cell>> {
        let label = format!("kv-{}-c{}-P{}-run{}", self.peer.name(), self.clients, self.pipeline, self.run + 1);
        let log = logs.join(format!("{label}.log"));
        let mut server = Running::start(self.peer, binaries, self.cpus.map(|(server, _)| server), &log)?;
        let mut cells = Vec::new();
        for test in &TESTS {
            let name = test.label;
            if !self.peer.supports(test.name(), self.clients) {
                continue;
            }
            let cpu_before = procfs::cpu_time(server.pid(), self.ticks)?;
            let busy_before = self.cpus.map(|(cpu, _)| procfs::cpu_busy(cpu)).transpose()?;
            let started = Instant::now();
            let (rps, p99_ms) = self.redis_benchmark(redis_benchmark, server.port, test)?;
            let elapsed = started.elapsed().as_secs_f64();
            let cpu = procfs::cpu_time(server.pid(), self.ticks)?.saturating_sub(cpu_before).as_secs_f64();
            let busy = match (self.cpus, busy_before) {
                (Some((cpu0, _)), Some(before)) => {
                    let after = procfs::cpu_busy(cpu0)?;
                    let total = after.total.saturating_sub(before.total).max(1) as f64;
                    after.busy.saturating_sub(before.busy) as f64 / total
                }
                _ => 0.0,
            };
            if !server.is_running() {
                return Err(io::Error::other(format!("{label}: the server died during {name}; see {}", log.display())));
            }
            cells.push(Cell {
                peer: self.peer,
                clients: self.clients,
                pipeline: self.pipeline,
                test: name,
                requests: self.requests(test),
                rps,
                p99_ms,
                cpu_us_per_request: cpu * 1e6 / self.requests(test) as f64,
                peak_rss: 0,
                others_share: (busy - cpu / elapsed).max(0.0),
            });
        }
        let peak = procfs::memory(server.pid())?.peak_rss;
        cells.iter_mut().for_each(|cell| cell.peak_rss = peak);
        server.stop();
        Ok(cells)
    }

    /// One `redis-benchmark` invocation; its requests/s and p99.
    fn redis_benchmark(&self, binary: &Path, port: u16, test: &Test) -> io::Result<(f64, f64)> {
        let mut command = Command::new(binary);
        command
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--csv"])
            .args([
                "-c",
                &self.clients.to_string(),
                "-P",
                &self.pipeline.to_string(),
                "-n",
                &self.requests(test).to_string(),
            ])
            .stdin(Stdio::null());
        match test.invocation {
            Invocation::Suite(name) => command.args(["-t", name]),
            Invocation::Command(args) => command.args(args),
        };
        let test = test.label;
        if let Some((_, load)) = self.cpus {
            crate::platform::pin_command(&mut command, load);
        }
        let output = output_within(command, BENCHMARK_TIMEOUT)
            .map_err(|err| io::Error::new(err.kind(), format!("redis-benchmark -t {test}: {err}")))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let errors: Vec<&str> = stdout.lines().filter(|line| line.contains("Error") || line.contains("ERR")).collect();
        if !output.status.success() || !errors.is_empty() {
            return Err(io::Error::other(format!(
                "redis-benchmark -t {test}: {status} {errors:?}",
                status = output.status
            )));
        }
        // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
        let row = stdout.lines().rev().find(|line| line.starts_with('"') && !line.starts_with("\"test\""));
        let fields: Vec<f64> = row
            .map(|row| row.split(',').skip(1).filter_map(|field| field.trim_matches('"').parse().ok()).collect())
            .unwrap_or_default();
        match fields.as_slice() {
            [rps, _, _, _, _, p99, ..] => Ok((*rps, *p99)),
            _ => Err(io::Error::other(format!("redis-benchmark -t {test}: no CSV row in {stdout:?}"))),
        }
    }
}

/// Runs `command` to completion, killing it after `timeout`: a server
/// that stops answering fails its point instead of hanging the run.
fn output_within(mut command: Command, timeout: Duration) -> io::Result<Output> {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let reader = thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(io::ErrorKind::TimedOut, format!("no result within {timeout:?}")));
        }
        thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().unwrap_or_default();
    Ok(Output { status, stdout, stderr: Vec::new() })
}

/// Medians of one (server, clients, pipeline, test) over the runs.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    pub(crate) peer: Peer,
    pub(crate) clients: usize,
    pub(crate) pipeline: usize,
    pub(crate) test: &'static str,
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    pub(crate) cpu_us_per_request: f64,
    pub(crate) peak_rss: f64,
    pub(crate) others_share: f64,
}

fn summarize(cells: &[Cell], peers: &[Peer]) -> Vec<Summary> {
    let mut summaries = Vec::new();
    for clients in CLIENTS {
        for pipeline in PIPELINES {
            for test in TESTS.map(|test| test.label) {
                for &peer in peers {
                    let of: Vec<&Cell> = cells
                        .iter()
                        .filter(|c| c.peer == peer && c.clients == clients && c.pipeline == pipeline && c.test == test)
                        .collect();
                    if of.is_empty() {
                        continue;
                    }
                    let med = |figure: fn(&Cell) -> f64| median(of.iter().map(|c| figure(c)).collect());
                    summaries.push(Summary {
                        peer,
                        clients,
                        pipeline,
                        test,
                        rps: med(|c| c.rps),
                        p99_ms: med(|c| c.p99_ms),
                        cpu_us_per_request: med(|c| c.cpu_us_per_request),
                        peak_rss: med(|c| c.peak_rss as f64),
                        others_share: med(|c| c.others_share),
                    });
                }
            }
        }
    }
    summaries
}
