//! What the load mode prints: connect time, throughput, latency
//! percentiles, and every kind of failure, each counted.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
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
    pub(crate) addr: SocketAddr,
    pub(crate) connections: usize,
    pub(crate) messages_per_connection: u32,
    pub(crate) size: usize,
    pub(crate) connected: usize,
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
    pub(crate) closed_early: Vec<String>,
}

impl Report {
    /// Every connection opened and echoed every message, every byte intact.
    pub(crate) fn passed(&self) -> bool {
        self.connect_failures.is_empty()
            && self.closed_early.is_empty()
            && self.mismatched_bytes == 0
            && self.echoed_messages == self.connections as u64 * u64::from(self.messages_per_connection)
    }

    fn write_connects(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connect:  {}/{} connected", self.connected, self.connections)?;
        if self.connect_ns.is_empty() {
            return writeln!(f);
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        writeln!(
            f,
            " in {:.1} ms (time to open: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms)",
            ms(self.connect_ns.max()),
            ms(self.connect_ns.value_at_quantile(0.5)),
            ms(self.connect_ns.value_at_quantile(0.99)),
            ms(self.connect_ns.max()),
        )
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
        let us = |ns: u64| ns as f64 / 1e3;
        let at = |q: f64| us(self.latency_ns.value_at_quantile(q));
        writeln!(
            f,
            "latency:  p50 {:.1} us, p90 {:.1} us, p99 {:.1} us, p99.9 {:.1} us, max {:.1} us",
            at(0.5),
            at(0.9),
            at(0.99),
            at(0.999),
            us(self.latency_ns.max())
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
