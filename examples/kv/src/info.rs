//! `INFO`: the server, its clients, its counters (the loop's own among
//! them: reads, writes and polls, in total and per second) and its keys.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Instant;

use evloop::Stats;

use crate::Server;

/// The Redis version this server answers for, in `INFO` and `HELLO`: the
/// one whose replies it reproduces (they are diffed against redis-server
/// 7.0). Clients check it to pick what to send; what the server really is
/// `INFO` says beside it, in `server_name:kv` and `kv_version`.
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
const SECTIONS: [&str; 8] = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "keyspace"];

/// The `INFO` text for the sections asked for (none, `default`, `all` or
/// `everything`: every one), Redis's `# Section` and `field:value` lines.
pub fn render(server: &Server, asked: &[&[u8]], now: Instant, stats: &Stats) -> String {
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
            "clients" => clients_section(&mut text, server),
            "memory" => memory_section(&mut text),
            "persistence" => persistence_section(&mut text, server),
            "stats" => stats_section(&mut text, server, stats),
            "replication" => replication_section(&mut text),
            "cpu" => cpu_section(&mut text),
            _ => keyspace_section(&mut text, server),
        };
    }
    text
}

fn server_section(text: &mut String, server: &Server, now: Instant) -> std::fmt::Result {
    let uptime = server.uptime(now).as_secs();
    write!(
        text,
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nserver_name:kv\r\nkv_version:{}\r\nredis_mode:standalone\r\n\
         os:{} {}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\ntcp_port:{}\r\n\
         uptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nexecutable:{}\r\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        server.settings.tcp_port,
        uptime / 86_400,
        server.settings.hz,
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
    )
}

fn clients_section(text: &mut String, server: &Server) -> std::fmt::Result {
    let pubsub = server.clients.iter().filter(|(_, info)| info.is_subscriber()).count();
    write!(
        text,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\npubsub_clients:{pubsub}\r\n",
        server.clients.len(),
        server.settings.max_clients
    )
}

/// `used_memory` is what the allocator holds when the binary counts it
/// ([`crate::alloc`]), else the resident size, the best figure at hand.
fn memory_section(text: &mut String) -> std::fmt::Result {
    let rss = rss_bytes().unwrap_or(0);
    let used = match crate::alloc::allocated() {
        0 => rss,
        counted => counted as u64,
    };
    let ratio = if used > 0 { rss as f64 / used as f64 } else { 0.0 };
    write!(
        text,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
         used_memory_rss_human:{}\r\nused_memory_peak:{}\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n\
         mem_fragmentation_ratio:{ratio:.2}\r\nmem_allocator:libc\r\n",
        human(used),
        human(rss),
        peak_rss_bytes().unwrap_or(rss),
    )
}

/// kv persists nothing: no save has run or is running, none failed, and
/// every change since start is unsaved.
fn persistence_section(text: &mut String, server: &Server) -> std::fmt::Result {
    write!(
        text,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:{}\r\n\
         rdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\n\
         aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_last_bgrewrite_status:ok\r\n",
        server.writes,
        server.started_unix_secs(),
    )
}

/// kv is a standalone master with no replicas.
fn replication_section(text: &mut String) -> std::fmt::Result {
    write!(
        text,
        "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n\
         master_repl_offset:0\r\nrepl_backlog_active:0\r\n"
    )
}

/// CPU time used by the process, from /proc (Linux).
fn cpu_section(text: &mut String) -> std::fmt::Result {
    let (user, system) = cpu_seconds().unwrap_or((0.0, 0.0));
    write!(text, "# CPU\r\nused_cpu_sys:{system:.6}\r\nused_cpu_user:{user:.6}\r\n")
}

/// `1.50M` as Redis's `bytesToHuman` writes it.
fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes}B"),
        1024..1_048_576 => format!("{:.2}K", b / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.2}M", b / 1_048_576.0),
        _ => format!("{:.2}G", b / 1_073_741_824.0),
    }
}

fn stats_section(text: &mut String, server: &Server, stats: &Stats) -> std::fmt::Result {
    let rates = &server.rates;
    let keyspace = server.dbs.iter().map(|db| db.stats()).fold(crate::store::KeyspaceStats::default(), |a, b| {
        crate::store::KeyspaceStats {
            hits: a.hits + b.hits,
            misses: a.misses + b.misses,
            expired: a.expired + b.expired,
        }
    });
    write!(
        text,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
         instantaneous_ops_per_sec:{:.0}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
         instantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\n\
         expired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\n\
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
    for (index, db) in server.dbs.iter().enumerate().filter(|(_, db)| !db.is_empty()) {
        write!(text, "db{index}:keys={},expires={},avg_ttl=0\r\n", db.len(), db.volatile_len())?;
    }
    Ok(())
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

/// This process's peak resident memory, from /proc (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// User and system CPU seconds of this process, from /proc (Linux; 100
/// clock ticks a second, as on every Linux kv runs on).
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user / 100.0, system / 100.0))
}
