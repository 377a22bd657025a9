//! Transactions: MULTI, EXEC, DISCARD.
//!
//! After `MULTI` a command is checked (it exists, its arity) and queued,
//! answered `+QUEUED`; `EXEC` runs the queue in one go, within the one
//! loop turn that read it, so no other client's command runs in between,
//! and replies an array of the replies. A command refused while queuing
//! makes `EXEC` discard them all, as Redis's `EXECABORT`. There is no
//! `WATCH`.

use std::borrow::Cow;

use super::{in_multi, lookup, run, spec, Call, Spec};
use crate::Server;

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    in_multi(spec("multi", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], multi)),
    in_multi(spec("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], exec)),
    in_multi(spec("discard", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], discard)),
];

/// What `MULTI` has queued for one client.
#[derive(Debug, Default)]
pub struct Queue {
    /// The commands, each its arguments.
    commands: Vec<Vec<Vec<u8>>>,
    /// A command was refused while queuing: `EXEC` aborts.
    aborted: bool,
}

impl Queue {
    /// Commands queued.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }
}

/// `MULTI`: queue from now on.
pub fn multi(_server: &mut Server, call: &mut Call<'_>) {
    if call.session.multi.is_some() {
        return call.out.error("ERR MULTI calls can not be nested");
    }
    call.session.multi = Some(Queue::default());
    call.out.ok();
}

/// `DISCARD`: drop the queue.
pub fn discard(_server: &mut Server, call: &mut Call<'_>) {
    if call.session.multi.take().is_none() {
        return call.out.error("ERR DISCARD without MULTI");
    }
    call.out.ok();
}

/// `EXEC`: run the queue and reply each command's reply in an array.
pub fn exec(server: &mut Server, call: &mut Call<'_>) {
    let Some(queue) = call.session.multi.take() else { return call.out.error("ERR EXEC without MULTI") };
    if queue.aborted {
        return call.out.error("EXECABORT Transaction discarded because of previous errors.");
    }
    call.out.array(queue.commands.len());
    for command in &queue.commands {
        let args: Vec<Cow<'_, [u8]>> = command.iter().map(|arg| Cow::Borrowed(arg.as_slice())).collect();
        let mut inner = Call { out: call.out.reborrow(), session: &mut *call.session, args: &args, now: call.now };
        match lookup(&args[0]) {
            Some(spec) => run(server, &mut inner, spec),
            None => inner.out.error("ERR unknown command"),
        }
    }
}

/// Queues the request (inside `MULTI`) and answers `+QUEUED`.
pub(super) fn queue(call: &mut Call<'_>) {
    let command = call.args.iter().map(|arg| arg.to_vec()).collect();
    if let Some(queue) = call.session.multi.as_mut() {
        queue.commands.push(command);
    }
    call.out.status("QUEUED");
}

/// A request refused (unknown command, wrong arity): inside `MULTI`, the
/// transaction is then aborted at `EXEC`.
pub(super) fn refuse_queueing(call: &mut Call<'_>) {
    if let Some(queue) = call.session.multi.as_mut() {
        queue.aborted = true;
    }
}
