//! A server's CPU time and memory, read from /proc as the kernel keeps them.
//! Self-contained: the measuring tools in `src/bin/` include this file too.

use std::fs;
use std::io;
use std::time::Duration;

/// Clock ticks per second, the unit of utime and stime in /proc/PID/stat.
pub(crate) fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// CPU time a process (all its threads, living and exited) has used.
pub(crate) fn cpu_time(pid: u32, ticks_per_second: u64) -> io::Result<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name in parentheses may hold spaces: fields are counted
    // from the last ')'. After it come state (field 3) ... utime (14), stime (15).
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or_else(|| malformed("stat", &stat))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let tick = |index: usize| -> io::Result<u64> {
        fields.get(index).and_then(|field| field.parse().ok()).ok_or_else(|| malformed("stat", &stat))
    };
    let ticks = tick(11)? + tick(12)?;
    Ok(Duration::from_secs_f64(ticks as f64 / ticks_per_second as f64))
}

/// How much of the time one CPU spent busy, in clock ticks since boot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpuBusy {
    /// Ticks running anything (user, nice, system, irq, softirq, steal).
    pub(crate) busy: u64,
    /// All ticks, idle and iowait included.
    pub(crate) total: u64,
}

/// Busy and total ticks of CPU number `cpu`, from /proc/stat.
pub(crate) fn cpu_busy(cpu: usize) -> io::Result<CpuBusy> {
    let stat = fs::read_to_string("/proc/stat")?;
    let prefix = format!("cpu{cpu} ");
    let line = stat.lines().find(|line| line.starts_with(&prefix)).ok_or_else(|| malformed("../stat", &prefix))?;
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let ticks: Vec<u64> = line.split_whitespace().skip(1).take(8).filter_map(|field| field.parse().ok()).collect();
    if ticks.len() < 8 {
        return Err(malformed("../stat", line));
    }
    let total: u64 = ticks.iter().sum();
    Ok(CpuBusy { busy: total - ticks[3] - ticks[4], total })
}

/// Resident memory of a process, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memory {
    /// VmRSS: resident now.
    pub(crate) rss: u64,
    /// VmHWM: the most it has been resident at once.
    pub(crate) peak_rss: u64,
}

/// Reads VmRSS and VmHWM from /proc/PID/status.
pub(crate) fn memory(pid: u32) -> io::Result<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |key: &str| -> io::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| malformed("status", key))
    };
    Ok(Memory { rss: kib("VmRSS:")?, peak_rss: kib("VmHWM:")? })
}

fn malformed(file: &str, what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/PID/{file} content near {what:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_time_and_memory() {
        let pid = std::process::id();
        let ticks = clock_ticks_per_second();
        let mut spin = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(50) {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
        assert!(cpu_time(pid, ticks).is_ok(), "own /proc/PID/stat should parse");
        let busy = cpu_busy(0).expect("/proc/stat should list cpu0");
        assert!(busy.busy <= busy.total, "busy ticks cannot exceed all ticks: {busy:?}");
        let memory = memory(pid).expect("own /proc/PID/status should parse");
        assert!(memory.rss > 0 && memory.peak_rss >= memory.rss, "VmHWM must be at least VmRSS: {memory:?}");
    }
}
