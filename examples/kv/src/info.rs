//! `INFO`: the server, its clients, its counters (the loop's own among
//! them: reads, writes and polls, in total and per second) and its keys.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Instant;

use evloop::Stats;

use crate::Server;

/// The Redis version this server answers for, in `INFO` and `HELLO`: the
/// one whose replies it reproduces. Clients check it to pick what to send.
pub const REDIS_VERSION: &str = "7.0.0";

/// Samples kept: 1.6 seconds at 10 a second, as Redis's 16.
const SAMPLES: usize = 16;

/// Counters read at one cron run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    commands: u64,
    bytes_in: u64,
    bytes_out: u64,
    reads: u64,
    writes: u64,
    polls: u64,
}

/// Per-second rates over the last 16 cron runs (1.6 s at 10 a second).
#[derive(Debug, Default)]
pub struct Rates {
    samples: VecDeque<Sample>,
}

impl Rates {
    /// Records the counters now.
    pub fn sample(&mut self, at: Instant, commands: u64, stats: &Stats) {
        if self.samples.len() == SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample {
            at,
            commands,
            bytes_in: stats.bytes_in,
            bytes_out: stats.bytes_out,
            reads: stats.read_calls,
            writes: stats.write_calls,
            polls: stats.poll_calls,
        });
    }

    /// The rate of one counter per second between the oldest and newest
    /// sample; 0 before there are two.
    fn per_second(&self, counter: impl Fn(&Sample) -> u64) -> f64 {
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else { return 0.0 };
        let secs = last.at.saturating_duration_since(first.at).as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        counter(last).saturating_sub(counter(first)) as f64 / secs
    }
}

/// A section `INFO` can be asked for, in the order it prints them.
const SECTIONS: [&str; 5] = ["server", "clients", "memory", "stats", "keyspace"];

/// The `INFO` text for the sections asked for (none, `default`, `all` or
/// `everything`: every one), Redis's `# Section` and `field:value` lines.
pub fn render(server: &Server, asked: &[&[u8]], now: Instant, stats: &Stats, connected: usize) -> String {
    let all = asked.is_empty()
        || asked.iter().any(|s| ["default", "all", "everything"].iter().any(|a| a.as_bytes().eq_ignore_ascii_case(s)));
    let mut text = String::new();
    for section in SECTIONS {
        if !all && !asked.iter().any(|s| section.as_bytes().eq_ignore_ascii_case(s)) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        // Writing to a String cannot fail.
        let _ = match section {
            "server" => server_section(&mut text, server, now),
            "clients" => write!(
                text,
                "# Clients\r\nconnected_clients:{connected}\r\nmaxclients:{}\r\nblocked_clients:0\r\n",
                server.settings.max_clients
            ),
            "memory" => write!(text, "# Memory\r\nused_memory_rss:{}\r\n", rss_bytes().unwrap_or(0)),
            "stats" => stats_section(&mut text, server, stats),
            _ => keyspace_section(&mut text, server),
        };
    }
    text
}

fn server_section(text: &mut String, server: &Server, now: Instant) -> std::fmt::Result {
    let uptime = server.uptime(now).as_secs();
    write!(
        text,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nkv_version:{}\r\n\
         os:{} {}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\ntcp_port:{}\r\n\
         uptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        server.settings.tcp_port,
        uptime / 86_400,
        server.settings.hz,
    )
}

fn stats_section(text: &mut String, server: &Server, stats: &Stats) -> std::fmt::Result {
    let rates = &server.rates;
    let keyspace = server.store.stats();
    write!(
        text,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{:.0}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
         instantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\n\
         expired_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\n\
         total_reads_processed:{}\r\ntotal_writes_processed:{}\r\ntotal_polls:{}\r\n\
         instantaneous_reads_per_sec:{:.0}\r\ninstantaneous_writes_per_sec:{:.0}\r\ninstantaneous_polls_per_sec:{:.0}\r\n",
        stats.accepted,
        server.commands_processed,
        rates.per_second(|s| s.commands),
        stats.bytes_in,
        stats.bytes_out,
        rates.per_second(|s| s.bytes_in) / 1024.0,
        rates.per_second(|s| s.bytes_out) / 1024.0,
        stats.rejected,
        keyspace.expired,
        keyspace.hits,
        keyspace.misses,
        server.pubsub.channel_count(),
        server.pubsub.pattern_count(),
        stats.read_calls,
        stats.write_calls,
        stats.poll_calls,
        rates.per_second(|s| s.reads),
        rates.per_second(|s| s.writes),
        rates.per_second(|s| s.polls),
    )
}

fn keyspace_section(text: &mut String, server: &Server) -> std::fmt::Result {
    text.push_str("# Keyspace\r\n");
    if server.store.is_empty() {
        return Ok(());
    }
    write!(text, "db0:keys={},expires={},avg_ttl=0\r\n", server.store.len(), server.store.volatile_len())
}

/// This process's resident memory, from /proc (Linux).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}
