//! What the load mode prints: connect time, throughput, latency
//! percentiles, and every kind of failure, each counted.

use crate::target::Target;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Failed connections listed one by one before the rest are summed up.
const LISTED_FAILURES: usize = 3;

/// The first echoed byte that differed from the byte sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) connection: u32,
    pub(crate) message: u32,
    pub(crate) offset: usize,
    pub(crate) expected: u8,
    pub(crate) got: u8,
}

/// The outcome of a load run.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) addr: Target,
    pub(crate) connections: usize,
    pub(crate) messages_per_connection: u32,
    pub(crate) size: usize,
    /// Connects that succeeded (`on_open`), refused ones included.
    pub(crate) opened: usize,
    /// From the start of the run to each `on_open`, in nanoseconds.
    pub(crate) connect_ns: Histogram<u64>,
    pub(crate) echoed_messages: u64,
    /// From the first message sent to the last echo received.
    pub(crate) elapsed: Duration,
    pub(crate) latency_ns: Histogram<u64>,
    pub(crate) verified_bytes: u64,
    /// Echoed bytes that differed from those sent, plus bytes nobody sent.
    pub(crate) mismatched_bytes: u64,
    pub(crate) first_mismatch: Option<Mismatch>,
    pub(crate) connect_failures: Vec<String>,
    /// Opened connections the server closed before any reply.
    pub(crate) refused: usize,
    pub(crate) closed_early: Vec<String>,
}

impl Report {
    /// Every connection opened and echoed every message, every byte intact.
    pub(crate) fn passed(&self) -> bool {
        self.connect_failures.is_empty()
            && self.refused == 0
            && self.closed_early.is_empty()
            && self.mismatched_bytes == 0
            && self.echoed_messages == self.connections as u64 * u64::from(self.messages_per_connection)
    }

    fn write_connects(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connect:  {}/{} connected", self.opened - self.refused, self.connections)?;
        if !self.connect_ns.is_empty() {
            write!(
                f,
                " in {} (time to open: p50 {}, p99 {}, max {})",
                duration(self.connect_ns.max()),
                duration(self.connect_ns.value_at_quantile(0.5)),
                duration(self.connect_ns.value_at_quantile(0.99)),
                duration(self.connect_ns.max()),
            )?;
        }
        if self.refused > 0 {
            // The handshake succeeded (the kernel completes it for the
            // backlog), so only the server's close tells the refusal.
            write!(f, "; {} refused by the server (closed before any reply: at its connection limit?)", self.refused)?;
        }
        writeln!(f)
    }

    fn write_throughput(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        let payload_mib = (self.echoed_messages * self.size as u64) as f64 / (1024.0 * 1024.0);
        write!(f, "echo:     {} messages of {} B in {seconds:.3} s", self.echoed_messages, self.size)?;
        if seconds > 0.0 {
            write!(
                f,
                ": {:.0} messages/s, {:.2} MiB/s (payload, each way)",
                self.echoed_messages as f64 / seconds,
                payload_mib / seconds
            )?;
        }
        writeln!(f)
    }

    fn write_latency(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.latency_ns.is_empty() {
            return writeln!(f, "latency:  no message echoed");
        }
        let at = |q: f64| duration(self.latency_ns.value_at_quantile(q));
        writeln!(
            f,
            "latency:  p50 {}, p90 {}, p99 {}, p99.9 {}, max {}",
            at(0.5),
            at(0.9),
            at(0.99),
            at(0.999),
            duration(self.latency_ns.max())
        )
    }

    fn write_verification(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mismatched_bytes == 0 {
            return writeln!(f, "verify:   {} echoed bytes checked, all intact", self.verified_bytes);
        }
        write!(f, "FAILED:   {} echoed bytes were wrong", self.mismatched_bytes)?;
        if let Some(m) = self.first_mismatch {
            write!(
                f,
                " (first: connection {} message {} byte {}: expected {:#04x}, got {:#04x})",
                m.connection, m.message, m.offset, m.expected, m.got
            )?;
        }
        writeln!(f)
    }

    fn write_failures(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut by_cause: BTreeMap<&str, usize> = BTreeMap::new();
        for cause in &self.connect_failures {
            *by_cause.entry(cause).or_default() += 1;
        }
        for (cause, count) in by_cause {
            writeln!(f, "FAILED:   {count} connects: {cause}")?;
        }
        if !self.closed_early.is_empty() {
            writeln!(f, "FAILED:   {} connections closed before echoing every message", self.closed_early.len())?;
            for line in self.closed_early.iter().take(LISTED_FAILURES) {
                writeln!(f, "          {line}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "load:     {} connections x {} messages x {} B against {}",
            self.connections, self.messages_per_connection, self.size, self.addr
        )?;
        self.write_connects(f)?;
        self.write_throughput(f)?;
        self.write_latency(f)?;
        self.write_verification(f)?;
        self.write_failures(f)
    }
}

/// A duration in nanoseconds as a person reads it: three significant
/// digits in the largest unit that keeps the number at 1 or more (`850 ns`,
/// `8.50 µs`, `11.4 ms`, `1.20 s`). Connect times and latencies share it, so
/// a glance compares them.
fn duration(ns: u64) -> String {
    if ns < 1_000 {
        return format!("{ns} ns");
    }
    let mut value = ns as f64 / 1e3;
    for unit in ["µs", "ms"] {
        // Judged as it will be rounded: 999.7 µs is `1.00 ms`, not `1000 µs`.
        if value < 999.5 {
            return three_digits(value, unit);
        }
        value /= 1e3;
    }
    three_digits(value, "s")
}

/// `8.50`, `11.4`, `850` (and `3600`: seconds have no larger unit here).
fn three_digits(value: f64, unit: &str) -> String {
    let decimals = match value {
        v if v < 9.995 => 2,
        v if v < 99.95 => 1,
        _ => 0,
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_one_unit_with_three_significant_digits() {
        let cases = [
            (0, "0 ns"),
            (850, "850 ns"),
            (999, "999 ns"),
            (1_000, "1.00 µs"),
            (8_504, "8.50 µs"),
            (850_000, "850 µs"),
            (11_395_100, "11.4 ms"),
            (1_200_000_000, "1.20 s"),
            (3_600_000_000_000, "3600 s"),
        ];
        for (ns, text) in cases {
            assert_eq!(duration(ns), text, "{ns} ns");
        }
    }

    #[test]
    fn rounding_up_moves_to_the_next_digit_or_unit() {
        assert_eq!(duration(9_996), "10.0 µs");
        assert_eq!(duration(99_960), "100 µs");
        assert_eq!(duration(999_700), "1.00 ms");
        assert_eq!(duration(999_700_000), "1.00 s");
    }
}
