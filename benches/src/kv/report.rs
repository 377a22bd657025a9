//! The kv scenario's report: the table, kv's ratios to each peer, memory
//! per key, and the CSV files.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::memory::{KeyMemory, Shape};
use super::peers::Peer;
use super::{Cell, Summary};

/// The goal (issue 25): kv's CPU per request at most this share of
/// redis-server's at every point.
const GOAL_RATIO: f64 = 0.7;

fn find<'s>(summary: &'s [Summary], like: &Summary, peer: Peer) -> Option<&'s Summary> {
    summary
        .iter()
        .find(|s| s.peer == peer && s.clients == like.clients && s.pipeline == like.pipeline && s.test == like.test)
}

pub(super) fn render(
    summary: &[Summary],
    peers: &[Peer],
    memory: &[KeyMemory],
    runs: usize,
    notes: &[String],
) -> String {
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(text, "## kv scenario: redis-benchmark against each server, median of {runs} run(s)");
    let _ = writeln!(text, "(µs cpu/req: the server's CPU time per request; oth %: others' use of the server's CPU)");
    let _ = writeln!(
        text,
        "{:<11} {:>7} {:>4}  {:<13} {:>10} {:>8} {:>11} {:>9} {:>6}",
        "test", "clients", "pipe", "server", "req/s", "p99 ms", "µs cpu/req", "peak MiB", "oth %"
    );
    for s in summary {
        let _ = writeln!(
            text,
            "{:<11} {:>7} {:>4}  {:<13} {:>10.0} {:>8.3} {:>11.3} {:>9.1} {:>6.0}",
            s.test,
            s.clients,
            s.pipeline,
            s.peer.name(),
            s.rps,
            s.p99_ms,
            s.cpu_us_per_request,
            s.peak_rss / (1024.0 * 1024.0),
            s.others_share * 100.0
        );
    }
    let _ = writeln!(text, "\n## kv's CPU per request ÷ each peer's (below 1.00: kv spends less)");
    let others: Vec<Peer> = peers.iter().copied().filter(|p| *p != Peer::Kv).collect();
    let header: String = others.iter().map(|p| format!(" {:>14}", format!("÷ {}", p.name()))).collect();
    let _ = writeln!(text, "{:<11} {:>7} {:>4}{header}", "test", "clients", "pipe");
    let (mut met, mut total) = (0, 0);
    for kv in summary.iter().filter(|s| s.peer == Peer::Kv) {
        let mut line = format!("{:<11} {:>7} {:>4}", kv.test, kv.clients, kv.pipeline);
        for &peer in &others {
            match find(summary, kv, peer) {
                Some(other) => {
                    let ratio = kv.cpu_us_per_request / other.cpu_us_per_request;
                    if peer == Peer::Redis {
                        total += 1;
                        met += usize::from(ratio <= GOAL_RATIO);
                    }
                    let _ = write!(line, " {ratio:>14.2}");
                }
                None => line.push_str(&format!(" {:>14}", "n/a")),
            }
        }
        let _ = writeln!(text, "{line}");
    }
    if total > 0 {
        let verdict = if met == total { "MET" } else { "MISSED" };
        let _ = writeln!(
            text,
            "[{verdict}] kv's CPU per request ≤ {GOAL_RATIO:.1}× redis-server's: {met} of {total} points"
        );
    }
    for shape in Shape::ALL {
        let of: Vec<&KeyMemory> = memory.iter().filter(|m| m.shape == shape).collect();
        let Some(first) = of.first() else { continue };
        let _ = writeln!(
            text,
            "\n## memory: {} {} (`{}`), written into a fresh server",
            first.keys,
            shape.unit(),
            shape.describe()
        );
        let _ = writeln!(text, "{:<13} {:>20} {:>22}", "server", "RSS growth B/each", "used_memory B/each");
        for m in of {
            let used = m.used_memory_per_key.map_or("n/a".to_string(), |b| format!("{b:.1}"));
            let _ = writeln!(text, "{:<13} {:>20.1} {:>22}", m.peer.name(), m.rss_per_key, used);
        }
    }
    for note in notes {
        let _ = writeln!(text, "note: {note}");
    }
    text
}

pub(super) fn write_csv(out: &Path, cells: &[Cell], summary: &[Summary], memory: &[KeyMemory]) -> io::Result<PathBuf> {
    let mut runs = csv::Writer::from_path(out.join("kv-runs.csv"))?;
    runs.write_record([
        "server",
        "clients",
        "pipeline",
        "test",
        "requests",
        "rps",
        "p99_ms",
        "cpu_us_per_request",
        "peak_rss",
        "others_share",
    ])?;
    for c in cells {
        runs.write_record([
            c.peer.name().to_string(),
            c.clients.to_string(),
            c.pipeline.to_string(),
            c.test.to_string(),
            c.requests.to_string(),
            format!("{:.0}", c.rps),
            format!("{:.3}", c.p99_ms),
            format!("{:.4}", c.cpu_us_per_request),
            c.peak_rss.to_string(),
            format!("{:.3}", c.others_share),
        ])?;
    }
    runs.flush()?;
    let mut medians = csv::Writer::from_path(out.join("kv-summary.csv"))?;
    medians.write_record([
        "server",
        "clients",
        "pipeline",
        "test",
        "rps",
        "p99_ms",
        "cpu_us_per_request",
        "peak_rss",
    ])?;
    for s in summary {
        medians.write_record([
            s.peer.name().to_string(),
            s.clients.to_string(),
            s.pipeline.to_string(),
            s.test.to_string(),
            format!("{:.0}", s.rps),
            format!("{:.3}", s.p99_ms),
            format!("{:.4}", s.cpu_us_per_request),
            format!("{:.0}", s.peak_rss),
        ])?;
    }
    medians.flush()?;
    let path = out.join("kv-memory.csv");
    let mut mem = csv::Writer::from_path(&path)?;
    mem.write_record(["server", "shape", "count", "rss_bytes_each", "used_memory_bytes_each"])?;
    for m in memory {
        let used = m.used_memory_per_key.map_or(String::new(), |b| format!("{b:.1}"));
        mem.write_record([
            m.peer.name().to_string(),
            m.shape.unit().to_string(),
            m.keys.to_string(),
            format!("{:.1}", m.rss_per_key),
            used,
        ])?;
    }
    mem.flush()?;
    Ok(path)
}
