//! The goals for evloop, checked against one run's medians. They are
//! reported, never asserted: the machine is shared and the numbers noisy.

use crate::plan::Mode;
use crate::results::{IdleResult, Summary};
use crate::servers::Server;

/// "Clearly below" for the pipelined goal: at most this share of tokio's CPU.
const CLEARLY_BELOW: f64 = 0.9;

/// Whether one goal held on this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Held at every point it covers.
    Met,
    /// Failed at one point or more.
    Missed,
    /// No point it covers was measured (or the figure was not available).
    NotMeasured,
}

impl Verdict {
    /// As printed.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Verdict::Met => "MET",
            Verdict::Missed => "MISSED",
            Verdict::NotMeasured => "n/a",
        }
    }
}

/// One goal, its verdict and the figures behind it.
#[derive(Debug, Clone)]
pub(crate) struct Goal {
    /// What the goal asks.
    pub(crate) statement: &'static str,
    /// Whether it held.
    pub(crate) verdict: Verdict,
    /// The compared figures, point by point.
    pub(crate) evidence: Vec<String>,
}

/// Checks every goal.
pub(crate) fn evaluate(summaries: &[Summary], idle: &[IdleResult]) -> Vec<Goal> {
    let find = |server: Server, mode: Mode, connections: usize| {
        summaries
            .iter()
            .find(|s| s.point.server == server && s.point.mode == mode && s.point.connections == connections)
    };
    let evloop_points = |mode: Mode, connections_from: usize| {
        summaries.iter().filter(move |s| {
            s.point.server == Server::Evloop && s.point.mode == mode && s.point.connections >= connections_from
        })
    };
    let cpu_ratio = |statement: &'static str, mode: Mode, from: usize, only: &[usize], peer: Server, limit: f64| {
        let checks = evloop_points(mode, from)
            .filter(|evloop| only.is_empty() || only.contains(&evloop.point.connections))
            .filter_map(|evloop| {
                let other = find(peer, mode, evloop.point.connections)?;
                let ratio = evloop.cpu_us_per_message / other.cpu_us_per_message;
                Some((
                    ratio <= limit,
                    format!(
                        "{} conns: evloop {:.2} µs vs {} {:.2} µs = {:.2}x (need ≤ {limit:.2}x)",
                        evloop.point.connections,
                        evloop.cpu_us_per_message,
                        peer.name(),
                        other.cpu_us_per_message,
                        ratio
                    ),
                ))
            })
            .collect();
        goal(statement, checks)
    };
    let mut goals = vec![
        cpu_ratio(
            "closed loop, 10+ conns: evloop CPU/message ≤ tokio current_thread's",
            Mode::Closed,
            10,
            &[],
            Server::TokioCt,
            1.0,
        ),
        cpu_ratio(
            "closed loop, 10+ conns: evloop CPU/message within 5% of raw mio",
            Mode::Closed,
            10,
            &[],
            Server::Mio,
            1.05,
        ),
        cpu_ratio(
            "closed loop, 1,000 and 10,000 conns: evloop CPU/message ≤ 0.6x threaded",
            Mode::Closed,
            0,
            &[1000, 10_000],
            Server::Threaded,
            0.6,
        ),
        cpu_ratio(
            "pipelined: evloop CPU/message clearly below tokio current_thread's (≤ 0.9x)",
            Mode::Pipelined,
            0,
            &[],
            Server::TokioCt,
            CLEARLY_BELOW,
        ),
    ];
    let syscall_checks = Mode::ALL
        .iter()
        .flat_map(|&mode| evloop_points(mode, 100))
        .map(|evloop| {
            evloop.syscalls_per_message.map(|calls| {
                let point = format!("{} {} conns", evloop.point.mode.name(), evloop.point.connections);
                (calls <= 2.1, format!("{point}: {calls:.2} syscalls/message"))
            })
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    goals.push(goal("100+ conns: evloop ≤ 2.1 syscalls/message", syscall_checks));
    let idle_checks = idle
        .iter()
        .filter(|result| result.server == Server::Evloop)
        .map(|result| {
            (
                result.rss_per_connection <= 1024.0,
                format!("{} idle conns: {:.0} B/conn", result.connections, result.rss_per_connection),
            )
        })
        .collect();
    goals.push(goal("idle: evloop ≤ 1 KiB RSS per connection", idle_checks));
    let latency_checks = find(Server::Evloop, Mode::Closed, 1000)
        .zip(find(Server::TokioCt, Mode::Closed, 1000))
        .map(|(evloop, tokio)| {
            vec![(
                evloop.latency_us[1] <= tokio.latency_us[1],
                format!("p99 evloop {:.0} µs vs tokio-ct {:.0} µs", evloop.latency_us[1], tokio.latency_us[1]),
            )]
        })
        .unwrap_or_default();
    goals.push(goal("closed loop, 1,000 conns: evloop p99 ≤ tokio current_thread's", latency_checks));
    goals
}

fn goal(statement: &'static str, checks: Vec<(bool, String)>) -> Goal {
    let verdict = if checks.is_empty() {
        Verdict::NotMeasured
    } else if checks.iter().all(|(held, _)| *held) {
        Verdict::Met
    } else {
        Verdict::Missed
    };
    let evidence =
        checks.into_iter().map(|(held, text)| format!("{} {text}", if held { "ok  " } else { "MISS" })).collect();
    Goal { statement, verdict, evidence }
}
