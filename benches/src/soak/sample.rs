//! One server's descriptors, memory and CPU time, sampled from /proc.

use std::fs;
use std::io;
use std::time::Duration;

use crate::procfs;

/// What a server process used at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Seconds since the soak started.
    pub(crate) at_secs: f64,
    /// Resident memory, bytes.
    pub(crate) rss: u64,
    /// Open descriptors: the entries of /proc/PID/fd.
    pub(crate) fds: usize,
    /// CPU time used since it started.
    pub(crate) cpu: Duration,
}

impl Sample {
    /// Reads the process `pid` now.
    ///
    /// # Errors
    ///
    /// `NotFound` once the process is gone; `InvalidData` on a /proc file
    /// that does not parse.
    pub(crate) fn take(pid: u32, at_secs: f64, ticks_per_second: u64) -> io::Result<Sample> {
        let fds = fs::read_dir(format!("/proc/{pid}/fd"))?.count();
        let rss = procfs::memory(pid)?.rss;
        let cpu = procfs::cpu_time(pid, ticks_per_second)?;
        Ok(Sample { at_secs, rss, fds, cpu })
    }
}

/// Start, peak and end of one server's samples.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: Sample,
    pub(crate) peak_rss: u64,
    pub(crate) peak_fds: usize,
    pub(crate) end: Sample,
}

impl Span {
    /// Over `samples`, in the order taken; `None` when there are none.
    pub(crate) fn of(samples: &[Sample]) -> Option<Span> {
        let (&start, &end) = (samples.first()?, samples.last()?);
        Some(Span {
            start,
            peak_rss: samples.iter().map(|s| s.rss).max()?,
            peak_fds: samples.iter().map(|s| s.fds).max()?,
            end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_process_and_spans_samples() {
        let ticks = crate::procfs::clock_ticks_per_second();
        let first = Sample::take(std::process::id(), 0.0, ticks).expect("own /proc entries should parse");
        assert!(first.fds >= 3 && first.rss > 0, "stdio open and some memory resident: {first:?}");
        let big = Sample { at_secs: 1.0, rss: first.rss * 2, fds: first.fds + 5, ..first };
        let last = Sample { at_secs: 2.0, ..first };
        let span = Span::of(&[first, big, last]).expect("three samples");
        assert_eq!((span.peak_rss, span.peak_fds), (big.rss, big.fds), "the peak is the largest sample");
        assert_eq!(span.end.at_secs, 2.0, "the end is the last sample");
        assert!(Span::of(&[]).is_none());
    }
}
