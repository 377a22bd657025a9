//! The text report on stdout: the machine, the figures per point, evloop's
//! ratios to its peers, idle memory and the goals.

use std::fmt::Write as _;
use std::fs;

use crate::goals::Goal;
use crate::plan::{Mode, Plan};
use crate::results::{IdleResult, Summary};
use crate::servers::Server;

/// What a `--quick` report says before its figures.
const SMOKE_NOTICE: &str = "--quick: a smoke test, not a verdict. It checks that every server starts, echoes every \
                            byte and gets measured; one short run per point on a shared machine is too noisy to \
                            compare servers by, so no goal is judged.";

/// nproc, CPU model and kernel, as the report states them.
pub(crate) fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name").and_then(|rest| rest.split_once(':')).map(|(_, m)| m.trim()))
        .unwrap_or("unknown CPU");
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_else(|_| "unknown".into());
    let online = cpuinfo.lines().filter(|line| line.starts_with("processor")).count();
    format!("{online} CPUs ({model}), Linux {}", kernel.trim())
}

/// The whole report.
pub(crate) fn render(
    plan: &Plan,
    summaries: &[Summary],
    idle: &[IdleResult],
    goals: &[Goal],
    notes: &[String],
) -> String {
    let mut out = String::new();
    let pinning = match plan.cpus {
        Some(cpus) => format!("server on CPU {}, load generator on CPU {}", cpus.server, cpus.load),
        None => "not pinned (fewer than two CPUs)".into(),
    };
    let _ = writeln!(out, "machine: {}; {pinning}", machine());
    let _ = writeln!(
        out,
        "{} B messages; {} ms warm-up, {} ms window; median of {} run(s) per point; a run repeated up to {} \
         time(s) while others took over {:.0}% of a CPU (quietest kept)\n",
        plan.message_bytes,
        plan.warmup.as_millis(),
        plan.window.as_millis(),
        plan.runs,
        plan.noisy_retries,
        plan.max_noise * 100.0
    );
    if plan.smoke {
        let _ = writeln!(out, "{SMOKE_NOTICE}\n");
    }
    for mode in Mode::ALL {
        let rows: Vec<&Summary> = summaries.iter().filter(|s| s.point.mode == mode).collect();
        if rows.is_empty() {
            continue;
        }
        let title = match mode {
            Mode::Closed => "closed loop (1 message in flight per connection)".to_string(),
            Mode::Pipelined => format!("pipelined ({} messages in flight per connection)", mode.in_flight()),
        };
        let _ = writeln!(out, "## {title}");
        let _ = writeln!(
            out,
            "(srv %, gen %: CPU use of the server and of the load generator, each on its own CPU; oth %: CPU other \
             processes took on those two CPUs, % of one CPU; µs cpu/msg, sys/msg: the server's; ±%: half the \
             range of µs cpu/msg over the runs)"
        );
        let _ = writeln!(
            out,
            "{:<9} {:>6} {:>10} {:>8} {:>8} {:>8} {:>6} {:>6} {:>6} {:>10} {:>5} {:>8} {:>9} {:>9}",
            "server",
            "conns",
            "msg/s",
            "p50 µs",
            "p99 µs",
            "p99.9 µs",
            "srv %",
            "gen %",
            "oth %",
            "µs cpu/msg",
            "±%",
            "sys/msg",
            "peak MiB",
            "KiB/conn"
        );
        for s in rows {
            let _ = writeln!(
                out,
                "{:<9} {:>6} {:>10.0} {:>8.0} {:>8.0} {:>8.0} {:>6.0} {:>6.0} {:>6} {:>10.2} {:>5.0} {:>8} {:>9.1} {:>9.1}",
                s.point.server.name(),
                s.point.connections,
                s.throughput,
                s.latency_us[0],
                s.latency_us[1],
                s.latency_us[2],
                s.cpu_utilisation * 100.0,
                s.load_cpu_utilisation * 100.0,
                s.others_cpu_share.map_or("n/a".into(), |share| format!("{:.0}", share * 100.0)),
                s.cpu_us_per_message,
                s.cpu_spread * 100.0,
                s.syscalls_per_message.map_or("n/a".into(), |calls| format!("{calls:.2}")),
                s.peak_rss / (1024.0 * 1024.0),
                s.rss_per_connection / 1024.0,
            );
        }
        out.push('\n');
    }
    render_ratios(&mut out, summaries);
    render_idle(&mut out, idle);
    if plan.smoke {
        let _ = writeln!(out, "## goals: not judged on a --quick run; the full run (without --quick) judges them");
    } else {
        let _ = writeln!(out, "## goals (reported, not asserted)");
        for goal in goals {
            let _ = writeln!(out, "[{:<6}] {}", goal.verdict.label(), goal.statement);
            for line in &goal.evidence {
                let _ = writeln!(out, "           {line}");
            }
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(out, "\n## notes");
        for note in notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

/// evloop's figures divided by each peer's: below 1 is better for CPU and
/// latency, above 1 better for throughput.
fn render_ratios(out: &mut String, summaries: &[Summary]) {
    let find = |server: Server, mode: Mode, connections: usize| {
        summaries
            .iter()
            .find(|s| s.point.server == server && s.point.mode == mode && s.point.connections == connections)
    };
    let peers = [Server::TokioCt, Server::Threaded, Server::Mio, Server::CEpoll];
    let _ =
        writeln!(out, "## ratios evloop/peer (msg/s: higher is better for evloop; cpu/msg and p99: lower is better)");
    let _ = writeln!(
        out,
        "{:<9} {:>6}  {:>22}  {:>22}  {:>22}  {:>22}",
        "mode",
        "conns",
        "vs tokio-ct thr/cpu/p99",
        "vs threaded thr/cpu/p99",
        "vs mio thr/cpu/p99",
        "vs c-epoll thr/cpu/p99"
    );
    for s in summaries.iter().filter(|s| s.point.server == Server::Evloop) {
        let _ = write!(out, "{:<9} {:>6}", s.point.mode.name(), s.point.connections);
        for peer in peers {
            let cell = match find(peer, s.point.mode, s.point.connections) {
                Some(p) => format!(
                    "{:.2} / {:.2} / {:.2}",
                    s.throughput / p.throughput,
                    s.cpu_us_per_message / p.cpu_us_per_message,
                    s.latency_us[1] / p.latency_us[1]
                ),
                None => "-".into(),
            };
            let _ = write!(out, "  {cell:>22}");
        }
        out.push('\n');
    }
    out.push('\n');
}

fn render_idle(out: &mut String, idle: &[IdleResult]) {
    if idle.is_empty() {
        return;
    }
    let _ = writeln!(out, "## idle: {} connected, silent clients", idle[0].connections);
    let _ = writeln!(out, "{:<9} {:>12} {:>12}", "server", "RSS MiB", "B/conn");
    for result in idle {
        let _ = writeln!(
            out,
            "{:<9} {:>12.1} {:>12.0}",
            result.server.name(),
            result.rss / (1024.0 * 1024.0),
            result.rss_per_connection
        );
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::goals::Verdict;

    fn plan(smoke: bool) -> Plan {
        Plan {
            servers: Server::ALL.to_vec(),
            modes: Mode::ALL.to_vec(),
            connections: vec![1],
            message_bytes: 512,
            warmup: Duration::from_millis(200),
            window: Duration::from_millis(500),
            runs: 1,
            idle_connections: 0,
            max_noise: 0.25,
            noisy_retries: 0,
            cpus: None,
            smoke,
        }
    }

    fn missed() -> Goal {
        Goal { statement: "a goal", verdict: Verdict::Missed, evidence: vec!["MISS evidence".into()] }
    }

    #[test]
    fn a_smoke_run_says_it_is_no_verdict_and_prints_none() {
        let report = render(&plan(true), &[], &[], &[missed()], &[]);
        assert!(report.contains(SMOKE_NOTICE), "{report}");
        assert!(!report.contains("[MISSED]") && !report.contains("MISS evidence"), "{report}");
    }

    #[test]
    fn a_full_run_prints_its_verdicts() {
        let report = render(&plan(false), &[], &[], &[missed()], &[]);
        assert!(report.contains("[MISSED] a goal\n           MISS evidence"), "{report}");
        assert!(!report.contains("smoke test"), "{report}");
    }
}
