//! Publish/subscribe commands: PUBLISH, SUBSCRIBE, UNSUBSCRIBE,
//! PSUBSCRIBE, PUNSUBSCRIBE. Who listens to what is [`crate::pubsub`].

use evloop::{ConnId, Ctx};
use log::warn;

use super::flags::PS;
use super::{pubsub_ok, spec, Call, Spec};
use crate::pubsub::{give_back_room, remove};
use crate::reply::push_bulk;
use crate::{glob, Bytes, Server};

/// The family's table.
pub const COMMANDS: &[Spec] = &[
    spec("publish", 3, &["pubsub", "loading", "stale", "fast"], publish),
    pubsub_ok(spec("subscribe", -2, PS, subscribe)),
    pubsub_ok(spec("unsubscribe", -1, PS, unsubscribe)),
    pubsub_ok(spec("psubscribe", -2, PS, psubscribe)),
    pubsub_ok(spec("punsubscribe", -1, PS, punsubscribe)),
];

/// A message buffer larger than this is given back after the publish.
const KEPT_MESSAGE_BYTES: usize = 64 * 1024;

/// Queues `message` for `subscriber` unless that would pass the pub/sub
/// output limit; then the subscriber is dropped as Redis drops it: what
/// it has queued is delivered, then EOF (a graceful close), so it can
/// tell it was cut off. Whether the message was queued.
fn deliver(cx: &mut Ctx, subscriber: ConnId, message: &[u8], limit: usize) -> bool {
    if !cx.is_open(subscriber) {
        return false; // dropped already, its unsubscription pending
    }
    let queued = cx.queued_output(subscriber).unwrap_or(0);
    if queued + message.len() > limit {
        warn!("subscriber {subscriber} dropped: over the pubsub client output buffer limit ({limit} bytes)");
        cx.close(subscriber);
        return false;
    }
    cx.send(subscriber, message)
}

/// `PUBLISH channel message`: to the channel's subscribers, then to those
/// of every matching pattern; replies how many clients it went to.
pub fn publish(server: &mut Server, call: &mut Call<'_>) {
    let (channel, text) = (&call.args[1], &call.args[2]);
    let limit = server.settings.pubsub_output_limit;
    let pubsub = &mut server.pubsub;
    let mut receivers = 0;
    if let Some(subscribers) = pubsub.channels.get(&channel[..]) {
        pubsub.message.clear();
        pubsub.message.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n");
        push_bulk(&mut pubsub.message, channel);
        push_bulk(&mut pubsub.message, text);
        for &subscriber in subscribers {
            receivers += usize::from(deliver(call.out.cx, subscriber, &pubsub.message, limit));
        }
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
            receivers += usize::from(deliver(call.out.cx, subscriber, &pubsub.message, limit));
        }
    }
    if pubsub.message.capacity() > KEPT_MESSAGE_BYTES {
        pubsub.message = Vec::new();
    }
    call.out.int(receivers as i64);
}

/// Which registry a (un)subscription is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Channel,
    Pattern,
}

/// `SUBSCRIBE channel...`: one confirmation per channel.
pub fn subscribe(server: &mut Server, call: &mut Call<'_>) {
    for index in 1..call.args.len() {
        join(server, call, Kind::Channel, index);
    }
}

/// `PSUBSCRIBE pattern...`: one confirmation per pattern.
pub fn psubscribe(server: &mut Server, call: &mut Call<'_>) {
    for index in 1..call.args.len() {
        join(server, call, Kind::Pattern, index);
    }
}

/// `UNSUBSCRIBE [channel...]`: from those, or from every channel.
pub fn unsubscribe(server: &mut Server, call: &mut Call<'_>) {
    leave_all_or(server, call, Kind::Channel);
}

/// `PUNSUBSCRIBE [pattern...]`: from those, or from every pattern.
pub fn punsubscribe(server: &mut Server, call: &mut Call<'_>) {
    leave_all_or(server, call, Kind::Pattern);
}

/// Subscribes to argument `index` and confirms it, as Redis does for each
/// name, a repeated one included.
fn join(server: &mut Server, call: &mut Call<'_>, kind: Kind, index: usize) {
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
        }
        confirm(call, kind, false, Some(&name));
    }
    // What a client that subscribed to 100k names and left them held.
    let channels = &mut call.session.channels;
    if channels.capacity() > 64 && channels.len() * 4 <= channels.capacity() {
        channels.shrink_to_fit();
    }
    let patterns = &mut call.session.patterns;
    if patterns.capacity() > 64 && patterns.len() * 4 <= patterns.capacity() {
        patterns.shrink_to_fit();
    }
    give_back_room(&mut server.pubsub.channels);
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
