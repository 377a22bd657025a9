//! What the server says about its commands: COMMAND (COUNT, INFO, DOCS,
//! LIST), enough for `redis-cli` to start as it does against Redis.

use super::flags::ADMIN;
use super::{all, lookup, run_subcommand, spec, Call, Spec, Subcommand};
use crate::Server;

/// The family's table.
pub const COMMANDS: &[Spec] = &[spec("command", -1, ADMIN, command)];

const COMMAND: &[Subcommand] =
    &[("count", 2, command_count), ("info", -2, command_info), ("docs", -2, command_docs), ("list", -2, command_list)];

/// `COMMAND` alone describes every command; with a subcommand, see
/// the `COMMAND` subcommand table below.
pub fn command(server: &mut Server, call: &mut Call<'_>) {
    if call.args.len() == 1 {
        call.out.array(all().count());
        for spec in all() {
            describe(call, spec);
        }
    } else {
        run_subcommand(server, call, "command", COMMAND);
    }
}

fn command_count(_server: &mut Server, call: &mut Call<'_>) {
    call.out.int(all().count() as i64);
}

fn command_info(_server: &mut Server, call: &mut Call<'_>) {
    if call.args.len() == 2 {
        call.out.array(all().count());
        for spec in all() {
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
    call.out.array(all().count());
    for spec in all() {
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
