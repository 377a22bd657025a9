//! What a benchmark run measures: servers, load shapes, connection counts,
//! windows and repetitions.

use std::time::Duration;

use crate::loadgen::Load;
use crate::servers::Server;

/// How a connection keeps messages in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub(crate) enum Mode {
    /// One message at a time: send, wait for the whole echo, send the next.
    Closed,
    /// [`PIPELINE_DEPTH`] messages outstanding per connection.
    Pipelined,
}

/// Messages in flight per connection in [`Mode::Pipelined`].
pub(crate) const PIPELINE_DEPTH: usize = 16;

impl Mode {
    /// Both modes, in report order.
    pub(crate) const ALL: [Mode; 2] = [Mode::Closed, Mode::Pipelined];

    /// Short name used in tables, CSV and file names.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Closed => "closed",
            Mode::Pipelined => "pipelined",
        }
    }

    /// Messages outstanding per connection.
    pub(crate) fn in_flight(self) -> usize {
        match self {
            Mode::Closed => 1,
            Mode::Pipelined => PIPELINE_DEPTH,
        }
    }
}

/// One measured configuration: a server under one load shape at one
/// connection count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Point {
    /// Load shape.
    pub(crate) mode: Mode,
    /// Client connections.
    pub(crate) connections: usize,
    /// Server under test.
    pub(crate) server: Server,
}

/// The whole run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Servers, in report order.
    pub(crate) servers: Vec<Server>,
    /// Load shapes, in report order.
    pub(crate) modes: Vec<Mode>,
    /// Connection counts, ascending.
    pub(crate) connections: Vec<usize>,
    /// Bytes per message.
    pub(crate) message_bytes: usize,
    /// Time under load before each window.
    pub(crate) warmup: Duration,
    /// Measuring window per run.
    pub(crate) window: Duration,
    /// Runs per point; the median is reported.
    pub(crate) runs: usize,
    /// Connections in the idle-memory scenario (0: skip it).
    pub(crate) idle_connections: usize,
    /// Other processes' CPU use (in CPUs, over the two pinned ones) above
    /// which a run counts as noisy and is repeated.
    pub(crate) max_noise: f64,
    /// Repeats allowed for one noisy run.
    pub(crate) noisy_retries: usize,
    /// CPUs to pin the server and the load generator to, when there are two.
    pub(crate) cpus: Option<Cpus>,
    /// A smoke run (`--quick`): checks that everything runs and measures,
    /// too short and too few runs to judge the goals by.
    pub(crate) smoke: bool,
}

/// The two CPUs the run is split over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cpus {
    /// Where every server runs.
    pub(crate) server: usize,
    /// Where the runner and its load generator run.
    pub(crate) load: usize,
}

impl Plan {
    /// Every point, grouped so that one mode and connection count runs all
    /// servers back to back (machine noise then hits them alike).
    pub(crate) fn points(&self) -> Vec<Point> {
        let mut points = Vec::new();
        for &mode in &self.modes {
            for &connections in &self.connections {
                for &server in &self.servers {
                    points.push(Point { mode, connections, server });
                }
            }
        }
        points
    }

    /// The load of every point in `mode`.
    pub(crate) fn load(&self, mode: Mode) -> Load {
        Load {
            message_bytes: self.message_bytes,
            in_flight: mode.in_flight(),
            warmup: self.warmup,
            window: self.window,
        }
    }
}
