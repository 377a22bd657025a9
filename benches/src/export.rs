//! The CSV files: every run, the medians, and the idle scenario.

use std::io;
use std::path::Path;

use crate::plan::{Mode, Point};
use crate::results::{IdleResult, RunResult, Summary};
use crate::servers::Server;

/// Writes `runs.csv`, `summary.csv` and `idle.csv` into `dir`.
pub(crate) fn write_csv(dir: &Path, runs: &[RunResult], summaries: &[Summary], idle: &[IdleResult]) -> io::Result<()> {
    let mut writer = csv::Writer::from_path(dir.join("runs.csv"))?;
    writer.write_record([
        "server",
        "mode",
        "connections",
        "messages",
        "window_s",
        "msgs_per_s",
        "p50_us",
        "p99_us",
        "p999_us",
        "server_cpu_s",
        "server_cpu_utilisation",
        "load_cpu_s",
        "load_cpu_utilisation",
        "others_cpu",
        "cpu_us_per_msg",
        "syscalls",
        "syscalls_per_msg",
        "peak_rss_bytes",
        "rss_growth_bytes",
    ])?;
    for run in runs {
        writer.write_record([
            run.point.server.name().to_string(),
            run.point.mode.name().to_string(),
            run.point.connections.to_string(),
            run.messages.to_string(),
            format!("{:.4}", run.window_secs),
            format!("{:.1}", run.throughput()),
            format!("{:.1}", run.latency_us[0]),
            format!("{:.1}", run.latency_us[1]),
            format!("{:.1}", run.latency_us[2]),
            format!("{:.4}", run.server_cpu_secs),
            format!("{:.4}", run.cpu_utilisation()),
            format!("{:.4}", run.load_cpu_secs),
            format!("{:.4}", run.load_cpu_utilisation()),
            run.others_cpu_share.map_or(String::new(), |share| format!("{share:.4}")),
            format!("{:.4}", run.cpu_us_per_message()),
            run.syscalls.map_or(String::new(), |calls| calls.to_string()),
            run.syscalls_per_message().map_or(String::new(), |calls| format!("{calls:.4}")),
            run.peak_rss.to_string(),
            run.rss_growth.to_string(),
        ])?;
    }
    writer.flush()?;

    let mut writer = csv::Writer::from_path(dir.join("summary.csv"))?;
    writer.write_record([
        "server",
        "mode",
        "connections",
        "runs",
        "msgs_per_s",
        "p50_us",
        "p99_us",
        "p999_us",
        "server_cpu_utilisation",
        "load_cpu_utilisation",
        "others_cpu",
        "cpu_us_per_msg",
        "cpu_us_per_msg_spread",
        "syscalls_per_msg",
        "peak_rss_bytes",
        "rss_per_connection_bytes",
    ])?;
    for s in summaries {
        writer.write_record([
            s.point.server.name().to_string(),
            s.point.mode.name().to_string(),
            s.point.connections.to_string(),
            s.runs.to_string(),
            format!("{:.1}", s.throughput),
            format!("{:.1}", s.latency_us[0]),
            format!("{:.1}", s.latency_us[1]),
            format!("{:.1}", s.latency_us[2]),
            format!("{:.4}", s.cpu_utilisation),
            format!("{:.4}", s.load_cpu_utilisation),
            s.others_cpu_share.map_or("n/a".into(), |share| format!("{share:.4}")),
            format!("{:.4}", s.cpu_us_per_message),
            format!("{:.4}", s.cpu_spread),
            s.syscalls_per_message.map_or("n/a".into(), |calls| format!("{calls:.4}")),
            format!("{:.0}", s.peak_rss),
            format!("{:.1}", s.rss_per_connection),
        ])?;
    }
    writer.flush()?;

    let mut writer = csv::Writer::from_path(dir.join("idle.csv"))?;
    writer.write_record(["server", "connections", "rss_bytes", "rss_per_connection_bytes"])?;
    for result in idle {
        writer.write_record([
            result.server.name().to_string(),
            result.connections.to_string(),
            format!("{:.0}", result.rss),
            format!("{:.1}", result.rss_per_connection),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// Reads back the medians a run wrote to `summary.csv` in `dir`, to redraw
/// its charts without measuring again.
pub(crate) fn read_summaries(dir: &Path) -> io::Result<Vec<Summary>> {
    let mut reader = csv::Reader::from_path(dir.join("summary.csv"))?;
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, format!("summary.csv: {what}"));
    let mut summaries = Vec::new();
    for record in reader.records() {
        let record = record?;
        let field = |index: usize| record.get(index).ok_or_else(|| invalid(format!("row too short: {record:?}")));
        let number = |index: usize| -> io::Result<f64> {
            let text = field(index)?;
            text.parse().map_err(|_| invalid(format!("not a number: {text:?}")))
        };
        let (server_name, mode_name) = (field(0)?, field(1)?);
        let server = Server::ALL
            .into_iter()
            .find(|server| server.name() == server_name)
            .ok_or_else(|| invalid(format!("unknown server {server_name:?}")))?;
        let mode = Mode::ALL
            .into_iter()
            .find(|mode| mode.name() == mode_name)
            .ok_or_else(|| invalid(format!("unknown mode {mode_name:?}")))?;
        summaries.push(Summary {
            point: Point { mode, connections: number(2)? as usize, server },
            runs: number(3)? as usize,
            throughput: number(4)?,
            latency_us: [number(5)?, number(6)?, number(7)?],
            cpu_utilisation: number(8)?,
            load_cpu_utilisation: number(9)?,
            others_cpu_share: number(10).ok(),
            cpu_us_per_message: number(11)?,
            cpu_spread: number(12)?,
            syscalls_per_message: number(13).ok(),
            peak_rss: number(14)?,
            rss_per_connection: number(15)?,
        });
    }
    Ok(summaries)
}
