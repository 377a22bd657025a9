//! Publish/subscribe: channels and patterns with their subscribers, and
//! PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE.

use std::collections::HashMap;

use evloop::ConnId;
use indexmap::IndexSet;

use crate::commands::{Call, Session};
use crate::reply::push_decimal;
use crate::{glob, Bytes, Server};

/// Who listens to what.
///
/// A message is encoded once and the same bytes are sent to every
/// subscriber, each into its own output: a subscriber that stops reading
/// only grows its own queue, until the pub/sub output limit
/// ([`Settings::pubsub_output_limit`](crate::Settings::pubsub_output_limit))
/// drops it, as Redis's `client-output-buffer-limit pubsub` does.
#[derive(Debug, Default)]
pub struct PubSub {
    channels: HashMap<Bytes, IndexSet<ConnId>>,
    patterns: HashMap<Bytes, IndexSet<ConnId>>,
    /// The message being sent, encoded once for every subscriber.
    message: Vec<u8>,
}

impl PubSub {
    /// Channels with at least one subscriber.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Patterns with at least one subscriber.
    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Drops every subscription of a client that closed.
    pub fn forget(&mut self, id: ConnId, session: &Session) {
        for channel in &session.channels {
            remove(&mut self.channels, channel, id);
        }
        for pattern in &session.patterns {
            remove(&mut self.patterns, pattern, id);
        }
    }
}

fn remove(registry: &mut HashMap<Bytes, IndexSet<ConnId>>, name: &[u8], id: ConnId) {
    if let Some(subscribers) = registry.get_mut(name) {
        subscribers.swap_remove(&id);
        if subscribers.is_empty() {
            registry.remove(name);
        }
    }
}

/// Appends a bulk string to `out`.
fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    push_decimal(out, bytes.len() as i64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// `PUBLISH channel message`: to the channel's subscribers, then to those
/// of every matching pattern; replies how many clients it went to.
pub(crate) fn publish(server: &mut Server, call: &mut Call<'_>) {
    let (channel, text) = (&call.args[1], &call.args[2]);
    let pubsub = &mut server.pubsub;
    let mut receivers = 0;
    if let Some(subscribers) = pubsub.channels.get(&channel[..]) {
        pubsub.message.clear();
        pubsub.message.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n");
        push_bulk(&mut pubsub.message, channel);
        push_bulk(&mut pubsub.message, text);
        for &subscriber in subscribers {
            // One over its output limit is closed by `send`; its
            // `on_close` unsubscribes it. The rest go on.
            call.out.cx.send(subscriber, &pubsub.message);
        }
        receivers += subscribers.len();
    }
    for (pattern, subscribers) in &pubsub.patterns {
        if !glob::matches(pattern, channel) {
            continue;
        }
        pubsub.message.clear();
        pubsub.message.extend_from_slice(b"*4\r\n$8\r\npmessage\r\n");
        push_bulk(&mut pubsub.message, pattern);
        push_bulk(&mut pubsub.message, channel);
        push_bulk(&mut pubsub.message, text);
        for &subscriber in subscribers {
            call.out.cx.send(subscriber, &pubsub.message);
        }
        receivers += subscribers.len();
    }
    call.out.int(receivers as i64);
}

/// Which registry a (un)subscription is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
}

pub(crate) fn subscribe(server: &mut Server, call: &mut Call<'_>) {
    for index in 1..call.args.len() {
        join(server, call, Kind::Channel, index);
    }
}

pub(crate) fn psubscribe(server: &mut Server, call: &mut Call<'_>) {
    for index in 1..call.args.len() {
        join(server, call, Kind::Pattern, index);
    }
}

pub(crate) fn unsubscribe(server: &mut Server, call: &mut Call<'_>) {
    leave_all_or(server, call, Kind::Channel);
}

pub(crate) fn punsubscribe(server: &mut Server, call: &mut Call<'_>) {
    leave_all_or(server, call, Kind::Pattern);
}

/// Subscribes to argument `index` and confirms it, as Redis does for each
/// name, a repeated one included.
fn join(server: &mut Server, call: &mut Call<'_>, kind: Kind, index: usize) {
    let was_subscriber = call.session.is_subscriber();
    let name = Bytes::from(&call.args[index][..]);
    let (registry, added) = match kind {
        Kind::Channel => (&mut server.pubsub.channels, call.session.channels.insert(name.clone())),
        Kind::Pattern if call.session.patterns.contains(&name) => (&mut server.pubsub.patterns, false),
        Kind::Pattern => {
            call.session.patterns.push(name.clone());
            (&mut server.pubsub.patterns, true)
        }
    };
    if added {
        registry.entry(name.clone()).or_default().insert(call.out.id);
    }
    if !was_subscriber {
        // From now on it is a pub/sub client, with that output limit.
        call.out.cx.set_max_output_bytes(call.out.id, server.settings.pubsub_output_limit);
    }
    confirm(call, kind, true, Some(&name));
}

/// Unsubscribes from the names given, or from every one of `kind` if none
/// are; with nothing to leave, one confirmation with a nil name.
fn leave_all_or(server: &mut Server, call: &mut Call<'_>, kind: Kind) {
    let names: Vec<Bytes> = if call.args.len() > 1 {
        call.args[1..].iter().map(|name| Bytes::from(&name[..])).collect()
    } else {
        match kind {
            Kind::Channel => call.session.channels.iter().cloned().collect(),
            Kind::Pattern => call.session.patterns.clone(),
        }
    };
    if names.is_empty() {
        confirm(call, kind, false, None);
    }
    for name in names {
        let removed = match kind {
            Kind::Channel => call.session.channels.remove(&name),
            Kind::Pattern => {
                let before = call.session.patterns.len();
                call.session.patterns.retain(|pattern| *pattern != name);
                call.session.patterns.len() < before
            }
        };
        if removed {
            let registry = match kind {
                Kind::Channel => &mut server.pubsub.channels,
                Kind::Pattern => &mut server.pubsub.patterns,
            };
            remove(registry, &name, call.out.id);
            if !call.session.is_subscriber() {
                call.out.cx.set_max_output_bytes(call.out.id, server.settings.normal_output_limit);
            }
        }
        confirm(call, kind, false, Some(&name));
    }
}

/// `*3 (p)(un)subscribe name count`: the count is the client's
/// subscriptions of both kinds after the change.
fn confirm(call: &mut Call<'_>, kind: Kind, joined: bool, name: Option<&[u8]>) {
    let what: &[u8] = match (kind, joined) {
        (Kind::Channel, true) => b"subscribe",
        (Kind::Channel, false) => b"unsubscribe",
        (Kind::Pattern, true) => b"psubscribe",
        (Kind::Pattern, false) => b"punsubscribe",
    };
    call.out.array(3);
    call.out.bulk(what);
    call.out.bulk_or_nil(name);
    call.out.int(call.session.subscriptions() as i64);
}
