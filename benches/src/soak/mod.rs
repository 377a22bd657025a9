//! The soak (`--soak SECONDS`, a manual mode, never run by CI): the real
//! `echo` and `chat` binaries under mixed load for a long while, then the
//! checks a long run is for.
//!
//! Well-behaved echo clients come and go at random, each byte they send
//! checked when it comes back; chat members talk all through, each hearing
//! every other member's lines exactly once and in order; hostile peers
//! (`hostile.rs`) attack both servers meanwhile. Every second each server's
//! resident memory, open descriptors and CPU time are sampled. When the load
//! stops and every client is gone, the soak waits for the descriptors to
//! come back and then measures a quiet period. It fails unless both servers
//! are still running and exit 0 on SIGTERM (no crash), their descriptors
//! are back to the starting count and their memory near it (no leak), they
//! use next to no CPU in the quiet period (no spin), and no well-behaved
//! client saw a wrong, missing or extra byte.

mod hostile;
mod sample;
mod well_behaved;

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::platform;
use crate::servers::{Binaries, RunningServer};

use hostile::Hostile;
use sample::{Sample, Span};
use well_behaved::Tally;

/// Echo clients that come and go.
const ECHO_CLIENTS: usize = 4;

/// Chat members talking all through.
const CHAT_MEMBERS: usize = 3;

/// How long, after the load stops, the members may wait for lines still
/// under way, and the servers for their descriptors to come back.
const SETTLE: Duration = Duration::from_secs(30);

/// The quiet period at the end in which CPU time is measured.
const QUIET: Duration = Duration::from_secs(10);

/// CPU a server may use in the quiet period: clock ticks are 10 ms, and an
/// idle loop with no timers due should use none.
const QUIET_CPU_LIMIT: Duration = Duration::from_millis(100);

/// Resident memory a server may keep past its starting figure once every
/// client is gone: room for what the allocator keeps for reuse, far less
/// than a leak over a long soak would show.
const RSS_SLACK_BYTES: u64 = 8 * 1024 * 1024;

/// One server under soak.
struct Soaked {
    name: &'static str,
    server: RunningServer,
    samples: Vec<Sample>,
    sample_error: Option<String>,
}

/// Runs the soak for `seconds` of load, writes `soak.csv` and the servers'
/// logs into `out`, prints the report; `Ok(false)` when a check failed.
pub(crate) fn run(seconds: u64, out: &Path) -> io::Result<bool> {
    platform::raise_fd_limit()?;
    let binaries = Binaries::build_and_locate()?;
    let logs = out.join("logs");
    fs::create_dir_all(&logs)?;
    let ticks = crate::procfs::clock_ticks_per_second();
    let echo = RunningServer::start_binary("echo", &[], &binaries, None, &logs.join("soak-echo.log"))?;
    let chat = RunningServer::start_binary("chat", &[], &binaries, None, &logs.join("soak-chat.log"))?;
    let mut servers = [echo, chat].map(|server| Soaked { name: "", server, samples: Vec::new(), sample_error: None });
    servers[0].name = "echo";
    servers[1].name = "chat";
    let (echo_addr, chat_addr) = (servers[0].server.addr(), servers[1].server.addr());
    // The servers finish setting up (signal handling, for one) after they
    // print their address: the starting figures are taken a moment later.
    thread::sleep(Duration::from_secs(1));
    let began = Instant::now();
    sample_all(&mut servers, began, ticks);

    let until = began + Duration::from_secs(seconds);
    let tally = Arc::new(Tally::default());
    let mut clients: Vec<JoinHandle<()>> =
        (0..ECHO_CLIENTS).map(|i| well_behaved::echo_client(echo_addr, 1 + i as u64, until, tally.clone())).collect();
    clients.extend(well_behaved::chat_members(chat_addr, CHAT_MEMBERS, until, SETTLE, tally.clone())?);
    let mut attackers: Vec<(Hostile, &'static str, JoinHandle<u64>)> = Vec::new();
    for (kind, peers) in Hostile::ALL {
        for peer in 0..peers {
            for (name, addr, chat) in [("echo", echo_addr, false), ("chat", chat_addr, true)] {
                let seed = 1_000 + attackers.len() as u64 * 7 + peer as u64;
                attackers.push((kind, name, hostile::start(kind, addr, chat, seed, until)));
            }
        }
    }
    eprintln!(
        "soak: {seconds} s of load on echo ({echo_addr}, pid {}) and chat ({chat_addr}, pid {}), then up to {} s to settle and {} s quiet",
        servers[0].server.pid(),
        servers[1].server.pid(),
        SETTLE.as_secs() * 2,
        QUIET.as_secs()
    );

    // Under load, and until every client has finished (bounded: each stops
    // at `until`, a member within SETTLE after it, nothing blocks past STEP).
    let finish_by = until + SETTLE * 2;
    while Instant::now() < finish_by
        && (clients.iter().any(|c| !c.is_finished()) || attackers.iter().any(|(_, _, a)| !a.is_finished()))
    {
        thread::sleep(Duration::from_secs(1));
        sample_all(&mut servers, began, ticks);
    }
    let mut failures = Vec::new();
    if clients.iter().any(|c| !c.is_finished()) || attackers.iter().any(|(_, _, a)| !a.is_finished()) {
        failures.push(format!(
            "some client threads were still running {} s after the load stopped",
            (SETTLE * 2).as_secs()
        ));
    }
    for client in clients.into_iter().filter(|c| c.is_finished()) {
        if client.join().is_err() {
            failures.push("a well-behaved client's thread panicked".into());
        }
    }
    let mut attacks: Vec<(Hostile, &'static str, u64)> = Vec::new();
    for (kind, name, attacker) in attackers.into_iter().filter(|(_, _, a)| a.is_finished()) {
        let count = attacker.join().unwrap_or(0);
        match attacks.iter_mut().find(|(k, n, _)| *k == kind && *n == name) {
            Some(entry) => entry.2 += count,
            None => attacks.push((kind, name, count)),
        }
    }

    // Clients gone: wait for the servers' descriptors to come back (lingering
    // closes take up to 2 s), then the quiet period.
    let settle_by = Instant::now() + SETTLE;
    while Instant::now() < settle_by && !servers.iter().all(fds_back) {
        thread::sleep(Duration::from_secs(1));
        sample_all(&mut servers, began, ticks);
    }
    let quiet_from: Vec<Option<Duration>> = servers.iter().map(|s| s.samples.last().map(|x| x.cpu)).collect();
    let quiet_until = Instant::now() + QUIET;
    while Instant::now() < quiet_until {
        thread::sleep(Duration::from_secs(1));
        sample_all(&mut servers, began, ticks);
    }
    let quiet_cpu: Vec<Option<Duration>> =
        servers.iter().zip(&quiet_from).map(|(s, from)| Some(s.samples.last()?.cpu.saturating_sub((*from)?))).collect();

    write_csv(&servers, &out.join("soak.csv"))?;
    let alive: Vec<bool> = servers.iter_mut().map(|s| s.server.is_running()).collect();
    let spans: Vec<Option<Span>> = servers.iter().map(|s| Span::of(&s.samples)).collect();
    let names: Vec<&str> = servers.iter().map(|s| s.name).collect();
    let sample_errors: Vec<String> =
        servers.iter().filter_map(|s| Some(format!("{}: {}", s.name, s.sample_error.as_ref()?))).collect();
    let exits: Vec<_> = servers.into_iter().map(|s| s.server.terminate()).collect();

    let mut report = String::new();
    let _ = writeln!(report, "soak: {seconds} s of mixed load, echo and chat release binaries, loopback");
    let _ = writeln!(
        report,
        "well-behaved: {ECHO_CLIENTS} echo clients, {} connections, {} bytes echoed and checked byte for byte; {CHAT_MEMBERS} chat members, {} lines said, {} heard, each once and in order",
        tally.echo_connections.load(Ordering::Relaxed),
        tally.echo_bytes.load(Ordering::Relaxed),
        tally.chat_lines_said.load(Ordering::Relaxed),
        tally.chat_lines_heard.load(Ordering::Relaxed),
    );
    for name in ["echo", "chat"] {
        let list: Vec<String> =
            attacks.iter().filter(|a| a.1 == name).map(|(k, _, n)| format!("{} {n}", k.name())).collect();
        let _ = writeln!(report, "hostile attacks on {name}: {}", list.join(", "));
    }
    let _ = writeln!(
        report,
        "{:<6} {:>26} {:>18} {:>12} {:>14} {:>10}",
        "server", "RSS KiB start/peak/end", "fds start/peak/end", "CPU total s", "CPU quiet ms", "SIGTERM"
    );
    let mut crashed = false;
    let mut leaked = false;
    let mut spun = false;
    for i in 0..names.len() {
        let exit = match exits[i] {
            Some(status) if status.success() && alive[i] => "exit 0".to_string(),
            Some(status) => {
                crashed = true;
                if alive[i] {
                    format!("{status}")
                } else {
                    format!("died: {status}")
                }
            }
            None => {
                crashed = true;
                "killed".to_string()
            }
        };
        let Some(span) = spans[i] else {
            crashed = true;
            let _ = writeln!(report, "{:<6} no samples", names[i]);
            continue;
        };
        leaked |= span.end.fds > span.start.fds || span.end.rss > span.start.rss + RSS_SLACK_BYTES;
        let quiet_ms = quiet_cpu[i].map(|cpu| cpu.as_millis().to_string()).unwrap_or_else(|| "?".into());
        spun |= quiet_cpu[i].is_none_or(|cpu| cpu > QUIET_CPU_LIMIT);
        let _ = writeln!(
            report,
            "{:<6} {:>26} {:>18} {:>12.2} {:>14} {:>10}",
            names[i],
            format!("{}/{}/{}", span.start.rss / 1024, span.peak_rss / 1024, span.end.rss / 1024),
            format!("{}/{}/{}", span.start.fds, span.peak_fds, span.end.fds),
            span.end.cpu.as_secs_f64(),
            quiet_ms,
            exit
        );
    }
    failures.extend(sample_errors.into_iter().map(|e| format!("sampling stopped: {e}")));
    failures.extend(tally.failures.lock().expect("client threads are done").iter().cloned());
    let bytes_ok = failures.is_empty()
        && tally.echo_bytes.load(Ordering::Relaxed) > 0
        && tally.chat_lines_heard.load(Ordering::Relaxed) > 0;
    let verdict = |bad: bool| if bad { "FAIL" } else { "ok" };
    let _ = writeln!(
        report,
        "checks: no crash {}, no leak {} (fds back to start, RSS within {} MiB of start), no spin {} (quiet CPU at most {} ms in {} s), every well-behaved byte {}",
        verdict(crashed),
        verdict(leaked),
        RSS_SLACK_BYTES >> 20,
        verdict(spun),
        QUIET_CPU_LIMIT.as_millis(),
        QUIET.as_secs(),
        verdict(!bytes_ok)
    );
    for failure in &failures {
        let _ = writeln!(report, "FAILED: {failure}");
    }
    print!("{report}");
    println!("wrote soak.csv to {}", out.display());
    Ok(!(crashed || leaked || spun || !bytes_ok))
}

/// Whether the server's descriptors are back to (or under) where they started.
fn fds_back(soaked: &Soaked) -> bool {
    match (soaked.samples.first(), soaked.samples.last()) {
        (Some(first), Some(last)) => last.fds <= first.fds,
        _ => true,
    }
}

/// One sample of each server; a server that cannot be read any more (it
/// died) keeps its first error.
fn sample_all(servers: &mut [Soaked], began: Instant, ticks: u64) {
    for soaked in servers {
        if soaked.sample_error.is_some() {
            continue;
        }
        match Sample::take(soaked.server.pid(), began.elapsed().as_secs_f64(), ticks) {
            Ok(sample) => soaked.samples.push(sample),
            Err(err) => {
                let at = began.elapsed().as_secs_f64();
                let status = soaked.server.try_status();
                soaked.sample_error = Some(format!("at {at:.1} s: {err} (exit status {status:?})"));
            }
        }
    }
}

fn write_csv(servers: &[Soaked], path: &Path) -> io::Result<()> {
    let mut csv = String::from("server,seconds,rss_bytes,fds,cpu_seconds\n");
    for soaked in servers {
        for s in &soaked.samples {
            let _ = writeln!(csv, "{},{:.1},{},{},{:.2}", soaked.name, s.at_secs, s.rss, s.fds, s.cpu.as_secs_f64());
        }
    }
    fs::write(path, csv)
}

/// xorshift64*: random enough for sizes and choices, the same every run.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}
