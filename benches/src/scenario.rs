//! Running one point (a fresh server process under load, sampled at the
//! window's edges) and the idle-memory scenario.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::loadgen::{self, WindowProbe};
use crate::plan::{Plan, Point};
use crate::procfs::{self, CpuBusy, Memory};
use crate::results::RunResult;
use crate::servers::{Binaries, RunningServer, Server};
use crate::syscalls::SyscallCounter;

/// Where a run keeps server logs and perf's files, and what it may use.
#[derive(Debug)]
pub(crate) struct Workspace {
    /// Server stderr and perf output go here.
    pub(crate) logs: PathBuf,
    /// Whether to count syscalls with perf.
    pub(crate) perf: bool,
    /// Server binaries.
    pub(crate) binaries: Binaries,
    /// Clock ticks per second for /proc/PID/stat.
    pub(crate) ticks_per_second: u64,
}

/// Runs `point` once (run number `run`) with a fresh server process.
/// Problems that only cost the syscall count go to `warn`; anything that
/// makes the figures wrong (a wrong byte, a dead server) is an error.
pub(crate) fn run_point(
    plan: &Plan,
    point: Point,
    run: usize,
    work: &Workspace,
    warn: &mut dyn FnMut(String),
) -> io::Result<RunResult> {
    let label = format!("{}-{}-{}-run{}", point.server.name(), point.mode.name(), point.connections, run + 1);
    let log = work.logs.join(format!("{label}.log"));
    let mut server = RunningServer::start(point.server, &work.binaries, plan.cpus.map(|cpus| cpus.server), &log)?;
    let pid = server.pid();
    let before = procfs::memory(pid)?;
    let counter = if work.perf {
        SyscallCounter::attach(pid, &work.logs)
            .map_err(|err| warn(format!("{label}: perf did not attach ({err}); syscalls not counted")))
            .ok()
    } else {
        None
    };
    let streams = loadgen::connect_all(server.addr(), point.connections)
        .map_err(|err| io::Error::new(err.kind(), format!("{label}: {err}; server log: {}", log.display())))?;
    let mut probe = ServerProbe {
        pid,
        ticks_per_second: work.ticks_per_second,
        counter,
        cpus: plan.cpus.map(|cpus| [cpus.server, cpus.load]),
        ..ServerProbe::default()
    };
    let measured = loadgen::drive(streams, plan.load(point.mode), &mut probe).map_err(|err| {
        let died = if server.is_running() { "" } else { " (the server process died)" };
        io::Error::new(err.kind(), format!("{label}: {err}{died}; server log: {}", log.display()))
    })?;
    if !server.is_running() {
        return Err(io::Error::other(format!("{label}: the server exited during the run; see {}", log.display())));
    }
    let syscalls = match (probe.counter.take(), probe.counter_failed.take()) {
        (Some(counter), None) => {
            counter.finish().map_err(|err| warn(format!("{label}: perf gave no count ({err})"))).ok()
        }
        (_, Some(err)) => {
            warn(format!("{label}: perf failed mid-run ({err}); syscalls not counted"));
            None
        }
        (None, None) => None,
    };
    server.stop();
    let (Some(cpu), Some(load_cpu), Some(after)) = (probe.cpu, probe.load_cpu, probe.memory) else {
        return Err(io::Error::other(format!("{label}: the window never ended")));
    };
    let quantile = |q: f64| measured.latency_ns.value_at_quantile(q) as f64 / 1000.0;
    Ok(RunResult {
        point,
        messages: measured.messages,
        window_secs: measured.elapsed.as_secs_f64(),
        latency_us: [quantile(0.5), quantile(0.99), quantile(0.999)],
        server_cpu_secs: cpu.as_secs_f64(),
        load_cpu_secs: load_cpu.as_secs_f64(),
        // Both CPUs' busy time less the server's and the generator's own:
        // what the machine's other tenants took, as a share of one CPU.
        others_cpu_share: probe.busy_share.map(|share| {
            let ours = (cpu + load_cpu).as_secs_f64() / measured.elapsed.as_secs_f64();
            (share * 2.0 - ours).max(0.0)
        }),
        syscalls,
        peak_rss: after.peak_rss,
        rss_growth: after.rss as i64 - before.rss as i64,
    })
}

/// Samples the server at the window's edges: CPU time, syscalls, memory.
#[derive(Debug, Default)]
struct ServerProbe {
    pid: u32,
    ticks_per_second: u64,
    counter: Option<SyscallCounter>,
    /// Why the syscall count is unusable, if perf failed at an edge.
    counter_failed: Option<io::Error>,
    cpu_at_start: Duration,
    load_cpu_at_start: Duration,
    /// The two pinned CPUs, to see how busy others kept them.
    cpus: Option<[usize; 2]>,
    busy_at_start: [CpuBusy; 2],
    /// Share of the two CPUs' time spent busy over the window (anyone's).
    busy_share: Option<f64>,
    /// Server CPU time over the window.
    cpu: Option<Duration>,
    /// The runner's own CPU time over the window: the load generator's.
    load_cpu: Option<Duration>,
    /// Memory at the window's end.
    memory: Option<Memory>,
}

impl WindowProbe for ServerProbe {
    fn window_started(&mut self) -> io::Result<()> {
        if let Some(counter) = &mut self.counter {
            if let Err(err) = counter.enable() {
                self.counter_failed = Some(err);
            }
        }
        self.cpu_at_start = procfs::cpu_time(self.pid, self.ticks_per_second)?;
        self.load_cpu_at_start = procfs::cpu_time(std::process::id(), self.ticks_per_second)?;
        if let Some(cpus) = self.cpus {
            self.busy_at_start = [procfs::cpu_busy(cpus[0])?, procfs::cpu_busy(cpus[1])?];
        }
        Ok(())
    }

    fn window_ended(&mut self) -> io::Result<()> {
        let cpu_now = procfs::cpu_time(self.pid, self.ticks_per_second)?;
        self.cpu = Some(cpu_now.saturating_sub(self.cpu_at_start));
        let load_cpu_now = procfs::cpu_time(std::process::id(), self.ticks_per_second)?;
        self.load_cpu = Some(load_cpu_now.saturating_sub(self.load_cpu_at_start));
        if let Some(cpus) = self.cpus {
            let now = [procfs::cpu_busy(cpus[0])?, procfs::cpu_busy(cpus[1])?];
            let busy: u64 = (0..2).map(|i| now[i].busy.saturating_sub(self.busy_at_start[i].busy)).sum();
            let total: u64 = (0..2).map(|i| now[i].total.saturating_sub(self.busy_at_start[i].total)).sum();
            self.busy_share = (total > 0).then(|| busy as f64 / total as f64);
        }
        if let Some(counter) = &mut self.counter {
            if self.counter_failed.is_none() {
                if let Err(err) = counter.disable() {
                    self.counter_failed = Some(err);
                }
            }
        }
        self.memory = Some(procfs::memory(self.pid)?);
        Ok(())
    }
}

/// Memory of a server holding `connections` idle clients.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdleMemory {
    /// VmRSS before any client connected, bytes.
    pub(crate) before: u64,
    /// VmRSS with every client connected and served once, bytes.
    pub(crate) with_clients: u64,
}

/// Starts `server`, connects `connections` clients (each pinged once, so the
/// server has accepted and served every one), and reads its memory.
pub(crate) fn run_idle(
    server: Server,
    connections: usize,
    run: usize,
    cpus: Option<usize>,
    work: &Workspace,
) -> io::Result<IdleMemory> {
    let label = format!("{}-idle-{}-run{}", server.name(), connections, run + 1);
    let log: &Path = &work.logs.join(format!("{label}.log"));
    let mut running = RunningServer::start(server, &work.binaries, cpus, log)?;
    let before = procfs::memory(running.pid())?.rss;
    let mut streams = loadgen::connect_all(running.addr(), connections)
        .map_err(|err| io::Error::new(err.kind(), format!("{label}: {err}; server log: {}", log.display())))?;
    let with_clients = procfs::memory(running.pid())?.rss;
    if !running.is_running() {
        return Err(io::Error::other(format!("{label}: the server exited; see {}", log.display())));
    }
    streams.clear();
    running.stop();
    Ok(IdleMemory { before, with_clients })
}
