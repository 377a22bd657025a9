//! The figures one run of a point yields, and their medians over runs.

use crate::plan::Point;

/// One run of one point.
#[derive(Debug, Clone)]
pub(crate) struct RunResult {
    /// What was measured.
    pub(crate) point: Point,
    /// Echoes completed in the window.
    pub(crate) messages: u64,
    /// Window length, seconds.
    pub(crate) window_secs: f64,
    /// Round-trip latency percentiles, microseconds: p50, p99, p99.9.
    pub(crate) latency_us: [f64; 3],
    /// Server CPU time (user + system) over the window, seconds.
    pub(crate) server_cpu_secs: f64,
    /// The load generator's CPU time over the window, seconds.
    pub(crate) load_cpu_secs: f64,
    /// CPU the machine's other tenants used on the two pinned CPUs over the
    /// window, in CPUs (0 to 2); `None` when not pinned.
    pub(crate) others_cpu_share: Option<f64>,
    /// Syscalls the server made over the window (`None`: not counted).
    pub(crate) syscalls: Option<u64>,
    /// Server VmHWM at the window's end, bytes.
    pub(crate) peak_rss: u64,
    /// (VmRSS at the window's end - VmRSS before any client), bytes.
    pub(crate) rss_growth: i64,
}

impl RunResult {
    /// Echoes per second.
    pub(crate) fn throughput(&self) -> f64 {
        self.messages as f64 / self.window_secs
    }

    /// Share of one CPU the server used.
    pub(crate) fn cpu_utilisation(&self) -> f64 {
        self.server_cpu_secs / self.window_secs
    }

    /// Share of one CPU the load generator used.
    pub(crate) fn load_cpu_utilisation(&self) -> f64 {
        self.load_cpu_secs / self.window_secs
    }

    /// Server CPU per echoed message, microseconds.
    pub(crate) fn cpu_us_per_message(&self) -> f64 {
        self.server_cpu_secs * 1e6 / self.messages.max(1) as f64
    }

    /// Server syscalls per echoed message.
    pub(crate) fn syscalls_per_message(&self) -> Option<f64> {
        self.syscalls.map(|calls| calls as f64 / self.messages.max(1) as f64)
    }

    /// Resident memory added per client connection, bytes.
    pub(crate) fn rss_per_connection(&self) -> f64 {
        self.rss_growth as f64 / self.point.connections as f64
    }
}

/// The median of each figure over a point's runs.
#[derive(Debug, Clone)]
pub(crate) struct Summary {
    /// What was measured.
    pub(crate) point: Point,
    /// Runs the medians are taken over.
    pub(crate) runs: usize,
    /// Echoes per second.
    pub(crate) throughput: f64,
    /// p50, p99, p99.9 round trip, microseconds.
    pub(crate) latency_us: [f64; 3],
    /// Share of one CPU the server used.
    pub(crate) cpu_utilisation: f64,
    /// Share of one CPU the load generator used.
    pub(crate) load_cpu_utilisation: f64,
    /// CPU others used on the two pinned CPUs, in CPUs (0 to 2).
    pub(crate) others_cpu_share: Option<f64>,
    /// Server CPU per message, microseconds.
    pub(crate) cpu_us_per_message: f64,
    /// Half the range of CPU per message over the runs, as a share of the
    /// median: how far apart the runs were.
    pub(crate) cpu_spread: f64,
    /// Server syscalls per message, when counted in every run.
    pub(crate) syscalls_per_message: Option<f64>,
    /// Server peak RSS, bytes.
    pub(crate) peak_rss: f64,
    /// Resident memory per connection under load, bytes.
    pub(crate) rss_per_connection: f64,
}

impl Summary {
    /// Medians over `runs` (all of one point; at least one).
    pub(crate) fn of(runs: &[RunResult]) -> Summary {
        let per = |figure: &dyn Fn(&RunResult) -> f64| median(runs.iter().map(figure).collect());
        let syscalls: Option<Vec<f64>> = runs.iter().map(RunResult::syscalls_per_message).collect();
        let others: Option<Vec<f64>> = runs.iter().map(|run| run.others_cpu_share).collect();
        Summary {
            point: runs[0].point,
            runs: runs.len(),
            throughput: per(&RunResult::throughput),
            latency_us: [0, 1, 2].map(|i| per(&|run: &RunResult| run.latency_us[i])),
            cpu_utilisation: per(&RunResult::cpu_utilisation),
            load_cpu_utilisation: per(&RunResult::load_cpu_utilisation),
            others_cpu_share: others.map(median),
            cpu_us_per_message: per(&RunResult::cpu_us_per_message),
            cpu_spread: spread(runs.iter().map(RunResult::cpu_us_per_message).collect()),
            syscalls_per_message: syscalls.map(median),
            peak_rss: per(&|run: &RunResult| run.peak_rss as f64),
            rss_per_connection: per(&RunResult::rss_per_connection),
        }
    }
}

/// The idle scenario for one server.
#[derive(Debug, Clone)]
pub(crate) struct IdleResult {
    /// Server name.
    pub(crate) server: crate::servers::Server,
    /// Idle connections held.
    pub(crate) connections: usize,
    /// Median over runs of (VmRSS with the connections - VmRSS before) / N, bytes.
    pub(crate) rss_per_connection: f64,
    /// Median VmRSS with the connections open, bytes.
    pub(crate) rss: f64,
}

/// The median (mean of the middle two for an even count).
///
/// # Panics
///
/// On an empty list.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    assert!(!values.is_empty(), "median of nothing");
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Half the range over the median: 0 for one value.
fn spread(values: Vec<f64>) -> f64 {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let middle = median(values);
    if middle > 0.0 {
        (high - low) / 2.0 / middle
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn spread_is_half_the_range_over_the_median() {
        assert_eq!(spread(vec![5.0]), 0.0);
        assert!((spread(vec![9.0, 10.0, 11.0]) - 0.1).abs() < 1e-12);
    }
}
