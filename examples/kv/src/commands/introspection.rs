//! What the server says about itself: COMMAND (COUNT, INFO, DOCS, LIST),
//! CONFIG GET and INFO — enough for `redis-cli` and `redis-benchmark` to
//! start as they do against Redis.

use super::{lookup, run_subcommand, Call, Spec, Subcommand, COMMANDS};
use crate::{glob, info, Server};

const COMMAND: &[Subcommand] =
    &[("count", 2, command_count), ("info", -2, command_info), ("docs", -2, command_docs), ("list", -2, command_list)];

/// `COMMAND` alone describes every command; with a subcommand, see
/// [`COMMAND`].
pub(super) fn command(server: &mut Server, call: &mut Call<'_>) {
    if call.args.len() == 1 {
        call.out.array(COMMANDS.len());
        for spec in &COMMANDS {
            describe(call, spec);
        }
    } else {
        run_subcommand(server, call, "command", COMMAND);
    }
}

fn command_count(_server: &mut Server, call: &mut Call<'_>) {
    call.out.int(COMMANDS.len() as i64);
}

fn command_info(_server: &mut Server, call: &mut Call<'_>) {
    if call.args.len() == 2 {
        call.out.array(COMMANDS.len());
        for spec in &COMMANDS {
            describe(call, spec);
        }
        return;
    }
    call.out.array(call.args.len() - 2);
    for index in 2..call.args.len() {
        match lookup(call.arg(index)) {
            Some(spec) => describe(call, spec),
            None => call.out.array_nil(),
        }
    }
}

/// No documentation: an empty map, so `redis-cli` starts with its own
/// built-in help instead of hints from the server.
fn command_docs(_server: &mut Server, call: &mut Call<'_>) {
    call.out.array(0);
}

fn command_list(_server: &mut Server, call: &mut Call<'_>) {
    call.out.array(COMMANDS.len());
    for spec in &COMMANDS {
        call.out.bulk(spec.name.as_bytes());
    }
}

/// Redis 7's ten-element command description: name, arity, flags, first
/// key, last key, step, ACL categories, tips, key specs, subcommands
/// (the last four empty here).
fn describe(call: &mut Call<'_>, spec: &Spec) {
    let out = &mut call.out;
    out.array(10);
    out.bulk(spec.name.as_bytes());
    out.int(i64::from(spec.arity));
    out.array(spec.flags.len());
    for flag in spec.flags {
        out.status(flag);
    }
    let (first, last, step) = spec.keys;
    out.int(i64::from(first));
    out.int(i64::from(last));
    out.int(i64::from(step));
    for _ in 0..4 {
        out.array(0);
    }
}

const CONFIG: &[Subcommand] = &[("get", -3, config_get)];

pub(super) fn config(server: &mut Server, call: &mut Call<'_>) {
    run_subcommand(server, call, "config", CONFIG);
}

/// `CONFIG GET pattern...`: the settings this server has, by Redis's
/// names, and those `redis-benchmark` asks for (`save`, `appendonly`) with
/// the values of a Redis that persists nothing.
fn config_get(server: &mut Server, call: &mut Call<'_>) {
    let settings = &server.settings;
    let output_limits =
        format!("normal {} 0 0 pubsub {} 0 0", settings.normal_output_limit, settings.pubsub_output_limit);
    let values: [(&str, String); 11] = [
        ("maxclients", settings.max_clients.to_string()),
        ("timeout", settings.idle_timeout.map_or(0, |t| t.as_secs()).to_string()),
        ("proto-max-bulk-len", settings.proto_max_bulk_len.to_string()),
        ("client-query-buffer-limit", settings.client_query_buffer_limit.to_string()),
        ("client-output-buffer-limit", output_limits),
        ("hz", settings.hz.to_string()),
        ("port", settings.tcp_port.to_string()),
        ("databases", "1".to_string()),
        ("save", String::new()),
        ("appendonly", "no".to_string()),
        ("maxmemory", "0".to_string()),
    ];
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

pub(super) fn info(server: &mut Server, call: &mut Call<'_>) {
    let asked: Vec<&[u8]> = call.args[1..].iter().map(|arg| &arg[..]).collect();
    let cx = &call.out.cx;
    let text = info::render(server, &asked, cx.now(), cx.stats(), cx.connection_count());
    call.out.bulk(text.as_bytes());
}
