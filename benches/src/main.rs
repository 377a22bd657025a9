//! The evloop benchmark runner.
//!
//! ```text
//! cargo run --release -p bench              # the full run (about 12 minutes on 2 CPUs)
//! cargo run --release -p bench -- --quick   # CI's smoke run (under a minute once built; judges no goal)
//! cargo run --release -p bench -- --http    # evloop's http against nginx and hyper under wrk
//! cargo run --release -p bench -- --tls     # echo over TLS: evloop against tokio-rustls
//! cargo run --release -p bench -- --soak 600  # 10 minutes of mixed and hostile load (manual)
//! cargo run --release -p bench -- --help
//! ```
//!
//! Every server runs as its own process pinned to one CPU, and one load
//! generator (this process, pinned to the other CPU) drives them all the same
//! way, checking every echoed byte: evloop's `echo` example, a tokio echo
//! server (current_thread, and multi-thread as a second reference), the
//! thread-per-connection `threaded` baseline, `mio_echo`, the same job on
//! bare mio, the floor, and `c/epoll_echo.c`, the same again in C on bare
//! epoll (built with the system's `cc`; skipped, with a note, without
//! one). For each server, load shape (closed loop or 16
//! messages pipelined), and connection count it reports messages/s, latency
//! percentiles, the server's CPU time per message and its utilisation,
//! syscalls per message (counted by perf) and memory, as a table on stdout,
//! CSV files and SVG charts under `--out`.
//!
//! Server binaries are found beside this runner's own executable (the same
//! target directory); the runner first runs `cargo build` for them with that
//! target directory, which is a no-op when they are up to date, and `cc -O2`
//! for the C server when its source is newer than its binary.
//!
//! It exits non-zero when a server fails to start, dies, or echoes a wrong
//! byte.

mod c_floor;
mod charts;
mod export;
mod goals;
mod http;
mod kv;
mod loadgen;
mod pattern;
mod plan;
mod platform;
mod procfs;
mod report;
mod results;
mod scenario;
mod servers;
mod soak;
mod syscalls;
mod tls;

use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use crate::plan::{Cpus, Mode, Plan};
use crate::results::{median, IdleResult, RunResult, Summary};
use crate::scenario::Workspace;
use crate::servers::{Binaries, Server};

/// Benchmark evloop's echo server against tokio, thread-per-connection, raw mio and raw epoll in C.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Smoke run for CI: 1 and 100 connections, one short run each, a small idle
    /// scenario; the figures are printed, the goals not judged.
    #[arg(long)]
    quick: bool,
    /// Bytes per message.
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// Directory for the CSV files, charts and server logs.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Connection counts (comma separated) instead of the default set.
    #[arg(long, value_delimiter = ',')]
    connections: Option<Vec<usize>>,
    /// Servers to run (comma separated) instead of all.
    #[arg(long, value_enum, value_delimiter = ',')]
    servers: Option<Vec<Server>>,
    /// Load shapes to run (comma separated) instead of both.
    #[arg(long, value_enum, value_delimiter = ',')]
    modes: Option<Vec<Mode>>,
    /// Runs per point (the median is reported).
    #[arg(long)]
    runs: Option<usize>,
    /// Warm-up before each window, milliseconds.
    #[arg(long)]
    warmup_ms: Option<u64>,
    /// Measuring window, milliseconds.
    #[arg(long)]
    window_ms: Option<u64>,
    /// Clients in the idle-memory scenario (0 skips it).
    #[arg(long)]
    idle_connections: Option<usize>,
    /// Repeat a run when other processes took more than this share of one CPU
    /// on the two pinned CPUs during its window (0.25 = 25%).
    #[arg(long, default_value_t = 0.25)]
    max_noise: f64,
    /// How many times a noisy run may be repeated (the quietest is kept).
    #[arg(long)]
    noisy_retries: Option<usize>,
    /// Measure nothing: redraw the charts from `summary.csv` in `--out`.
    #[arg(long)]
    replot: bool,
    /// Do not count syscalls with perf.
    #[arg(long)]
    no_perf: bool,
    /// Do not pin the servers and the load generator to separate CPUs.
    #[arg(long)]
    no_pin: bool,
    /// Run the key-value scenario instead: evloop's kv, redis-server and mini-redis under redis-benchmark.
    #[arg(long)]
    kv: bool,
    /// Run the HTTP scenario instead: evloop's http, nginx and hyper under wrk (plain and 16 deep pipelined).
    #[arg(long)]
    http: bool,
    /// Run the TLS scenario instead: echo over TLS, evloop against tokio current_thread + tokio-rustls
    /// (with --quick: 100 connections, 1 s windows, 200 idle connections, no goal judged).
    #[arg(long)]
    tls: bool,
    /// Run the soak instead, for this many seconds: echo and line under mixed
    /// load and hostile peers, then crash, leak, spin and byte checks (manual; not in CI).
    #[arg(long, value_name = "SECONDS")]
    soak: Option<u64>,
}

impl Args {
    fn plan(&self) -> Plan {
        let quick = self.quick;
        let connections =
            self.connections.clone().unwrap_or_else(
                || {
                    if quick {
                        vec![1, 100]
                    } else {
                        vec![1, 10, 100, 1_000, 10_000]
                    }
                },
            );
        let cpus = (!self.no_pin && platform::available_cpus() >= 2).then_some(Cpus { server: 0, load: 1 });
        Plan {
            servers: self.servers.clone().unwrap_or_else(|| Server::ALL.to_vec()),
            modes: self.modes.clone().unwrap_or_else(|| Mode::ALL.to_vec()),
            connections,
            message_bytes: self.size,
            warmup: Duration::from_millis(self.warmup_ms.unwrap_or(if quick { 200 } else { 1_000 })),
            window: Duration::from_millis(self.window_ms.unwrap_or(if quick { 500 } else { 3_000 })),
            runs: self.runs.unwrap_or(if quick { 1 } else { 3 }).max(1),
            idle_connections: self.idle_connections.unwrap_or(if quick { 100 } else { 10_000 }),
            max_noise: self.max_noise,
            noisy_retries: self.noisy_retries.unwrap_or(if quick { 0 } else { 2 }),
            cpus,
            smoke: quick,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The whole benchmark; `Ok(false)` when some point failed (the report of
/// the others is still written).
fn run(args: &Args) -> io::Result<bool> {
    if let Some(seconds) = args.soak {
        return soak::run(seconds, &args.out);
    }
    if args.kv {
        return kv::run(args.quick, args.runs, &args.out, !args.no_pin);
    }
    if args.http {
        return http::run(args.quick, args.runs, &args.out, !args.no_pin);
    }
    if args.tls {
        return tls::run(args.quick, args.runs, &args.out, !args.no_pin);
    }
    if args.size == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "--size must be positive"));
    }
    let mut plan = args.plan();
    if args.replot {
        let summaries = export::read_summaries(&args.out)?;
        let servers: Vec<Server> =
            plan.servers.iter().copied().filter(|s| summaries.iter().any(|m| m.point.server == *s)).collect();
        let charts = charts::draw_all(&args.out, &summaries, &servers)?;
        println!("redrew {} charts in {}", charts.len(), args.out.display());
        return Ok(true);
    }
    // Before any other thread exists, so every helper thread inherits it.
    if let Some(cpus) = plan.cpus {
        platform::pin_current_thread(cpus.load)?;
    }
    let fd_limit = platform::raise_fd_limit()?;
    let most_connections = plan.connections.iter().copied().max().unwrap_or(0).max(plan.idle_connections);
    if (most_connections as u64) + 64 > fd_limit {
        return Err(io::Error::other(format!(
            "{most_connections} connections need more than the {fd_limit} open files allowed (ulimit -n)"
        )));
    }
    let binaries = Binaries::build_and_locate()?;
    let mut notes = Vec::new();
    if plan.servers.contains(&Server::CEpoll) {
        if let Some(skipped) = c_floor::build(binaries.dir())? {
            plan.servers.retain(|&server| server != Server::CEpoll);
            notes.push(skipped);
        }
    }
    let perf = !args.no_perf && perf_works(&mut notes);
    if args.no_perf {
        notes.push("syscalls not counted (--no-perf): the sys/msg column says n/a".into());
    }
    if plan.cpus.is_none() {
        notes.push("server and load generator not pinned: figures include scheduler effects".into());
    }
    let logs = args.out.join("logs");
    fs::create_dir_all(&logs)?;
    let work = Workspace { logs, perf, binaries, ticks_per_second: procfs::clock_ticks_per_second() };

    let points = plan.points();
    let idle_steps = if plan.idle_connections > 0 { plan.servers.len() * plan.runs } else { 0 };
    let progress = ProgressBar::new((points.len() * plan.runs + idle_steps) as u64);
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}")
            .expect("valid progress template")
            .progress_chars("=> "),
    );
    // Through `suspend`, not `println`: a hidden bar (stderr not a terminal,
    // as in CI) drops what `println` gives it.
    let say = |line: String| progress.suspend(|| eprintln!("{line}"));
    let mut warn = |message: String| say(format!("warning: {message}"));
    let mut runs: Vec<RunResult> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    // Runs outermost: each point's runs are spread over the whole benchmark,
    // so a burst of noise on the shared machine lands in one run of many
    // points rather than in every run of one.
    for run in 0..plan.runs {
        for &point in &points {
            progress.set_message(format!(
                "run {}/{}: {} {} x{}",
                run + 1,
                plan.runs,
                point.server.name(),
                point.mode.name(),
                point.connections
            ));
            match measure_quietly(&plan, point, run, &work, &mut warn) {
                Ok(result) => runs.push(result),
                Err(err) => {
                    say(format!("FAILED: {err}"));
                    failures.push(err.to_string());
                }
            }
            progress.inc(1);
        }
    }
    let idle = run_idle_scenario(&plan, &work, &progress, &mut failures);
    progress.finish_and_clear();

    let mut summaries: Vec<Summary> = Vec::new();
    for point in &points {
        let of_point: Vec<RunResult> = runs.iter().filter(|r| r.point == *point).cloned().collect();
        if !of_point.is_empty() {
            summaries.push(Summary::of(&of_point));
        }
    }
    // One short run per point on a shared machine would flip verdicts at
    // random: a smoke run judges nothing.
    let goals = if plan.smoke { Vec::new() } else { goals::evaluate(&summaries, &idle) };
    notes.extend(failures.iter().map(|failure| format!("FAILED: {failure}")));
    print!("{}", report::render(&plan, &summaries, &idle, &goals, &notes));
    export::write_csv(&args.out, &runs, &summaries, &idle)?;
    let charts = charts::draw_all(&args.out, &summaries, &plan.servers)?;
    println!(
        "wrote {} and {} charts ({}) to {}",
        ["runs.csv", "summary.csv", "idle.csv"].join(", "),
        charts.len(),
        charts.iter().filter_map(|path| path.file_name()?.to_str()).collect::<Vec<_>>().join(", "),
        args.out.display()
    );
    if !failures.is_empty() {
        eprintln!("error: {} point(s) failed; see the notes above", failures.len());
    }
    Ok(failures.is_empty())
}

/// Runs `point` once; while other processes took more than the plan's
/// noise limit of the two pinned CPUs, runs it again (up to the plan's
/// retries) and keeps the quietest attempt. The shared machine's noise then
/// lands in fewer of the figures, and the report still shows what remained.
fn measure_quietly(
    plan: &Plan,
    point: plan::Point,
    run: usize,
    work: &Workspace,
    warn: &mut dyn FnMut(String),
) -> io::Result<RunResult> {
    let noise = |result: &RunResult| result.others_cpu_share.unwrap_or(0.0);
    let mut best = scenario::run_point(plan, point, run, work, warn)?;
    for _ in 0..plan.noisy_retries {
        if noise(&best) <= plan.max_noise {
            break;
        }
        let again = scenario::run_point(plan, point, run, work, warn)?;
        if noise(&again) < noise(&best) {
            best = again;
        }
    }
    Ok(best)
}

/// Idle memory for every server: the median over runs of RSS growth per
/// connection.
fn run_idle_scenario(
    plan: &Plan,
    work: &Workspace,
    progress: &ProgressBar,
    failures: &mut Vec<String>,
) -> Vec<IdleResult> {
    let mut results = Vec::new();
    if plan.idle_connections == 0 {
        return results;
    }
    for &server in &plan.servers {
        let mut per_connection = Vec::new();
        let mut rss = Vec::new();
        for run in 0..plan.runs {
            progress.set_message(format!("idle: {} x{}", server.name(), plan.idle_connections));
            match scenario::run_idle(server, plan.idle_connections, run, plan.cpus.map(|cpus| cpus.server), work) {
                Ok(memory) => {
                    let growth = memory.with_clients as f64 - memory.before as f64;
                    per_connection.push(growth / plan.idle_connections as f64);
                    rss.push(memory.with_clients as f64);
                }
                Err(err) => {
                    progress.suspend(|| eprintln!("FAILED: {err}"));
                    failures.push(err.to_string());
                }
            }
            progress.inc(1);
        }
        if !per_connection.is_empty() {
            results.push(IdleResult {
                server,
                connections: plan.idle_connections,
                rss_per_connection: median(per_connection),
                rss: median(rss),
            });
        }
    }
    results
}

/// Whether `perf stat` can count the syscall tracepoint here; if not, why
/// goes into the report's notes.
fn perf_works(notes: &mut Vec<String>) -> bool {
    let probe = Command::new("perf")
        .args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output();
    let reason = match probe {
        Ok(output) if output.status.success() => return true,
        Ok(output) => {
            format!("perf stat failed: {}", String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("").trim())
        }
        Err(err) => format!("perf not runnable: {err}"),
    };
    notes.push(format!("syscalls not counted ({reason}): the sys/msg column says n/a"));
    false
}
