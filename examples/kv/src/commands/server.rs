//! Server commands: INFO, CONFIG (GET, SET, RESETSTAT), TIME, SHUTDOWN.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{info, warn};

use super::flags::ADMIN;
use super::{run_subcommand, spec, Call, Spec, Subcommand};
use crate::{glob, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    spec("info", -1, ADMIN, info),
    spec("config", -2, ADMIN, config),
    spec("time", 1, &["loading", "stale", "fast"], time),
    spec("shutdown", -1, &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"], shutdown),
];

/// `INFO [section...]`.
pub fn info(server: &mut Server, call: &mut Call<'_>) {
    let asked: Vec<&[u8]> = call.args[1..].iter().map(|arg| &arg[..]).collect();
    let cx = &call.out.cx;
    let text = crate::info::render(server, &asked, cx.now(), cx.stats());
    call.out.bulk(text.as_bytes());
}

/// `TIME`: Unix seconds and the microseconds within, as two bulk strings.
pub fn time(_server: &mut Server, call: &mut Call<'_>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    call.out.array(2);
    call.out.bulk(now.as_secs().to_string().as_bytes());
    call.out.bulk(now.subsec_micros().to_string().as_bytes());
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE]`: stops the server as SIGTERM
/// does (replies queued are flushed, every client closed); the client
/// that asked gets no reply, only the close, as from Redis. kv persists
/// nothing, so `SAVE` cannot be honoured and is refused with Redis's
/// error for a failed save.
pub fn shutdown(_server: &mut Server, call: &mut Call<'_>) {
    let mut save = false;
    for option in &call.args[1..] {
        match option.to_ascii_lowercase().as_slice() {
            b"nosave" | b"now" | b"force" => {}
            b"save" => save = true,
            b"abort" => return call.out.error("ERR No shutdown in progress."),
            _ => return call.out.error(crate::reply::SYNTAX_ERROR),
        }
    }
    if save {
        warn!("SHUTDOWN SAVE refused: kv does not persist");
        return call.out.error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
    info!("SHUTDOWN asked by client {}: stopping", call.session.client_id);
    call.out.cx.stop();
}

const CONFIG: &[Subcommand] = &[("get", -3, config_get), ("set", -4, config_set), ("resetstat", 2, config_resetstat)];

/// `CONFIG subcommand ...`.
pub fn config(server: &mut Server, call: &mut Call<'_>) {
    run_subcommand(server, call, "config", CONFIG);
}

/// The settings `CONFIG GET` reports, by Redis's names: those kv has, and
/// those `redis-benchmark` and monitoring tools ask for (`save`,
/// `appendonly`, `maxmemory`) with the values of a Redis that persists
/// nothing and has no memory limit.
fn settings(server: &Server) -> [(&'static str, String); 11] {
    let settings = &server.settings;
    let output_limits = format!(
        "normal {} 0 0 replica 0 0 0 pubsub {} 0 0",
        settings.normal_output_limit, settings.pubsub_output_limit
    );
    [
        ("maxclients", settings.max_clients.to_string()),
        ("timeout", settings.idle_timeout.map_or(0, |t| t.as_secs()).to_string()),
        ("proto-max-bulk-len", settings.proto_max_bulk_len.to_string()),
        ("client-query-buffer-limit", settings.client_query_buffer_limit.to_string()),
        ("client-output-buffer-limit", output_limits),
        ("hz", settings.hz.to_string()),
        ("port", settings.tcp_port.to_string()),
        ("databases", crate::DATABASES.to_string()),
        ("save", String::new()),
        ("appendonly", "no".to_string()),
        ("maxmemory", "0".to_string()),
    ]
}

/// `CONFIG GET pattern...`.
fn config_get(server: &mut Server, call: &mut Call<'_>) {
    let values = settings(server);
    let patterns = &call.args[2..];
    let matching: Vec<&(&str, String)> = values
        .iter()
        .filter(|(name, _)| {
            patterns.iter().any(|pattern| glob::matches(&pattern.to_ascii_lowercase(), name.as_bytes()))
        })
        .collect();
    call.out.array(matching.len() * 2);
    for (name, value) in matching {
        call.out.bulk(name.as_bytes());
        call.out.bulk(value.as_bytes());
    }
}

/// `CONFIG SET name value [name value ...]`, for the limits kv can change
/// at run time: `maxclients` (kv's own count: the loop's
/// [`Config::max_connections`](evloop::Config::max_connections), fixed at
/// start, stays a ceiling above it), `timeout` (enforced by kv's cron),
/// `client-output-buffer-limit` (the hard limits of the normal and pubsub
/// classes; kv has no soft limits), `client-query-buffer-limit` and `hz`.
/// All pairs are checked before any is applied, as Redis does.
fn config_set(server: &mut Server, call: &mut Call<'_>) {
    if !call.args.len().is_multiple_of(2) {
        return call.wrong_arity("config|set");
    }
    let mut next = server.settings.clone();
    for pair in call.args[2..].chunks_exact(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        if let Err(reason) = apply(&mut next, &name, &value) {
            return call.out.error(&match reason {
                Refusal::Unknown => {
                    format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
                }
                Refusal::Invalid(why) => {
                    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
                }
            });
        }
    }
    if next.normal_output_limit != server.settings.normal_output_limit {
        // The loop enforces it per connection: every client's changes now.
        let limit = next.normal_output_limit.max(call.out.cx.config().high_watermark);
        for (_, info) in &server.clients {
            call.out.cx.set_max_output_bytes(info.conn, limit);
        }
    }
    server.settings = next;
    call.out.ok();
}

/// Why a `CONFIG SET` pair was refused.
enum Refusal {
    /// No setting of that name.
    Unknown,
    /// Refused, with Redis's reason.
    Invalid(String),
}

fn apply(settings: &mut crate::Settings, name: &str, value: &str) -> Result<(), Refusal> {
    let number = |value: &str| {
        parse_memory(value).ok_or_else(|| Refusal::Invalid("argument couldn't be parsed into an integer".into()))
    };
    match name {
        "maxclients" => {
            let n = number(value)?;
            if n == 0 {
                return Err(Refusal::Invalid("argument must be between 1 and 4294967295 inclusive".into()));
            }
            settings.max_clients = n as usize;
        }
        "timeout" => {
            let seconds = number(value)?;
            settings.idle_timeout = (seconds > 0).then(|| Duration::from_secs(seconds));
        }
        "client-query-buffer-limit" => {
            let bytes = number(value)?;
            if bytes < 1024 * 1024 {
                return Err(Refusal::Invalid(
                    "argument must be between 1048576 and 9223372036854775807 inclusive".into(),
                ));
            }
            settings.client_query_buffer_limit = bytes as usize;
        }
        "hz" => {
            let hz = number(value)?;
            settings.hz = hz.clamp(1, 500) as u32;
        }
        "client-output-buffer-limit" => {
            let fields: Vec<&str> = value.split_whitespace().collect();
            if fields.is_empty() || !fields.len().is_multiple_of(4) {
                return Err(Refusal::Invalid("Wrong number of arguments in buffer limit configuration.".into()));
            }
            for class in fields.chunks_exact(4) {
                let hard = parse_memory(class[1]);
                let (soft, secs) = (parse_memory(class[2]), class[3].parse::<u64>().ok());
                let (Some(hard), Some(soft), Some(secs)) = (hard, soft, secs) else {
                    return Err(Refusal::Invalid(
                        "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
                    ));
                };
                if soft != 0 || secs != 0 {
                    return Err(Refusal::Invalid("kv has no soft output buffer limits: give 0 0".into()));
                }
                // 0 is "no limit" in Redis; kv keeps a bound on everything.
                let hard = if hard == 0 { usize::MAX } else { hard as usize };
                match class[0].to_ascii_lowercase().as_str() {
                    "normal" => settings.normal_output_limit = hard,
                    "pubsub" => settings.pubsub_output_limit = hard,
                    "replica" | "slave" => {}
                    _ => {
                        return Err(Refusal::Invalid(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        ))
                    }
                }
            }
        }
        "port" | "databases" | "proto-max-bulk-len" => {
            return Err(Refusal::Invalid("can't set immutable config".into()));
        }
        "save" | "appendonly" | "maxmemory" => {
            return Err(Refusal::Invalid("kv does not persist and has no memory limit".into()));
        }
        _ => return Err(Refusal::Unknown),
    }
    Ok(())
}

/// Redis's `memtoull`: an integer with an optional unit, `k`/`m`/`g`
/// (powers of 1000) or `kb`/`mb`/`gb` (powers of 1024), in any case.
fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let units: [(&str, u64); 7] =
        [("kb", 1024), ("mb", 1 << 20), ("gb", 1 << 30), ("k", 1000), ("m", 1_000_000), ("g", 1_000_000_000), ("b", 1)];
    let (digits, unit) = units
        .iter()
        .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|digits| (digits, *unit)))
        .unwrap_or((&lower, 1));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// `CONFIG RESETSTAT`: the counters `INFO` reports start again.
fn config_resetstat(server: &mut Server, call: &mut Call<'_>) {
    server.commands_processed = 0;
    for db in &mut server.dbs {
        db.reset_stats();
    }
    call.out.ok();
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_amounts_read_as_redis_reads_them() {
        assert_eq!(parse_memory("32mb"), Some(32 << 20));
        assert_eq!(parse_memory("1GB"), Some(1 << 30));
        assert_eq!(parse_memory("100k"), Some(100_000));
        assert_eq!(parse_memory("42"), Some(42));
        assert_eq!(parse_memory("x"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("mb"), None);
    }
}
