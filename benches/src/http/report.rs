//! The http scenario's report: the table, evloop's ratios to each peer
//! judged against the goals, idle memory, and the CSV files.

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::peers::Peer;
use super::{IdleMemory, Summary};

fn find(summary: &[Summary], peer: Peer, connections: usize, pipeline: usize) -> Option<&Summary> {
    summary.iter().find(|s| s.peer == peer && s.connections == connections && s.pipeline == pipeline)
}

/// One goal: evloop's figure over a peer's, at most `bound`.
struct Goal {
    what: String,
    ratio: Option<f64>,
    bound: f64,
}

pub(super) fn render(
    summary: &[Summary],
    peers: &[Peer],
    idle: &[IdleMemory],
    runs: usize,
    window: Duration,
    notes: &[String],
) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "## http scenario: wrk (1 thread) against each server, {}s windows, median of {runs} run(s)",
        window.as_secs()
    );
    let _ = writeln!(text, "(µs cpu/req: the server's CPU time per request; errors: wrk's socket errors and non-2xx)");
    let _ = writeln!(
        text,
        "| conns | pipeline | server | req/s | p99 ms | µs cpu/req | peak RSS MiB | errors |\n|---:|---:|---|---:|---:|---:|---:|---:|"
    );
    for s in summary {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} |",
            s.connections,
            s.pipeline,
            s.peer.name(),
            s.rps,
            s.p99_ms,
            s.cpu_us_per_request,
            s.peak_rss / (1024.0 * 1024.0),
            s.errors
        );
    }
    let _ = writeln!(text, "\n## idle keep-alive connections (each made one request), RSS growth per connection");
    let _ = writeln!(text, "| server | connections | bytes/conn |\n|---|---:|---:|");
    for m in idle {
        let _ = writeln!(text, "| {} | {} | {:.0} |", m.peer.name(), m.connections, m.bytes_per_connection);
    }
    let mut goals = Vec::new();
    let cpu = |peer: Peer, c: usize, p: usize| find(summary, peer, c, p).map(|s| s.cpu_us_per_request);
    let p99 = |peer: Peer, c: usize, p: usize| find(summary, peer, c, p).map(|s| s.p99_ms);
    let ratio = |ours: Option<f64>, theirs: Option<f64>| Some(ours? / theirs?);
    for c in [50, 1_000] {
        for (peer, bound) in [(Peer::Nginx, 0.8), (Peer::Hyper, 0.7)] {
            if peers.contains(&peer) {
                goals.push(Goal {
                    what: format!("CPU/request at {c} connections ÷ {}", peer.name()),
                    ratio: ratio(cpu(Peer::Evloop, c, 1), cpu(peer, c, 1)),
                    bound,
                });
            }
        }
        for peer in [Peer::Nginx, Peer::Hyper] {
            if peers.contains(&peer) {
                goals.push(Goal {
                    what: format!("CPU/request pipelined 16 at {c} connections ÷ {}", peer.name()),
                    ratio: ratio(cpu(Peer::Evloop, c, 16), cpu(peer, c, 16)),
                    bound: if peer == Peer::Hyper { 0.5 } else { f64::INFINITY },
                });
            }
        }
    }
    for peer in [Peer::Nginx, Peer::Hyper] {
        if peers.contains(&peer) {
            goals.push(Goal {
                what: format!("p99 at 1000 connections ÷ {}", peer.name()),
                ratio: ratio(p99(Peer::Evloop, 1_000, 1), p99(peer, 1_000, 1)),
                bound: 1.0,
            });
        }
    }
    let idle_of = |peer: Peer| idle.iter().find(|m| m.peer == peer).map(|m| m.bytes_per_connection);
    if peers.contains(&Peer::Nginx) {
        goals.push(Goal {
            what: "idle keep-alive memory per connection ÷ nginx".into(),
            ratio: ratio(idle_of(Peer::Evloop), idle_of(Peer::Nginx)),
            bound: 1.0,
        });
    }
    let _ = writeln!(text, "\n## evloop-http ÷ each peer, against the goals (below 1.00: evloop spends less)");
    let _ = writeln!(text, "| what | ratio | goal | verdict |\n|---|---:|---:|---|");
    for goal in &goals {
        let (ratio, verdict) = match goal.ratio {
            Some(r) if goal.bound.is_infinite() => (format!("{r:.2}"), "(no goal)".to_string()),
            Some(r) => (format!("{r:.2}"), if r <= goal.bound { "met" } else { "MISSED" }.to_string()),
            None => ("n/a".into(), "not measured".into()),
        };
        let bound = if goal.bound.is_infinite() { "-".to_string() } else { format!("≤ {:.2}", goal.bound) };
        let _ = writeln!(text, "| {} | {ratio} | {bound} | {verdict} |", goal.what);
    }
    for note in notes {
        let _ = writeln!(text, "\nnote: {note}");
    }
    text
}

pub(super) fn write_csv(out: &Path, summary: &[Summary], idle: &[IdleMemory]) -> io::Result<()> {
    let mut rows = String::from("server,connections,pipeline,rps,p99_ms,cpu_us_per_request,peak_rss_bytes,errors\n");
    for s in summary {
        let _ = writeln!(
            rows,
            "{},{},{},{:.0},{:.3},{:.3},{:.0},{}",
            s.peer.name(),
            s.connections,
            s.pipeline,
            s.rps,
            s.p99_ms,
            s.cpu_us_per_request,
            s.peak_rss,
            s.errors
        );
    }
    std::fs::write(out.join("http-summary.csv"), rows)?;
    let mut rows = String::from("server,connections,bytes_per_connection\n");
    for m in idle {
        let _ = writeln!(rows, "{},{},{:.0}", m.peer.name(), m.connections, m.bytes_per_connection);
    }
    std::fs::write(out.join("http-idle.csv"), rows)
}
