//! Publish/subscribe's registry: channels and patterns with their
//! subscribers. The commands are in [`commands::pubsub`](crate::commands::pubsub).

use std::collections::HashMap;

use evloop::ConnId;
use indexmap::IndexSet;

use crate::commands::Session;
use crate::Bytes;

/// Who listens to what.
///
/// A message is encoded once and the same bytes are sent to every
/// subscriber, each into its own output: a subscriber that stops reading
/// only grows its own queue, until the pub/sub output limit
/// ([`Settings::pubsub_output_limit`](crate::Settings::pubsub_output_limit))
/// drops it, as Redis's `client-output-buffer-limit pubsub` does: the
/// message that would pass the limit is not queued, and the subscriber is
/// closed gracefully, so it reads every message queued before, then EOF.
#[derive(Debug, Default)]
pub struct PubSub {
    pub(crate) channels: HashMap<Bytes, IndexSet<ConnId>>,
    pub(crate) patterns: HashMap<Bytes, IndexSet<ConnId>>,
    /// The message being sent, encoded once for every subscriber.
    pub(crate) message: Vec<u8>,
}

impl PubSub {
    /// Channels with at least one subscriber.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Channels the registry has room for: shrinks back once most are gone.
    pub fn channel_capacity(&self) -> usize {
        self.channels.capacity()
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

/// Takes `id` off `name`'s subscribers; a name left with none goes, and
/// a registry left mostly empty gives its room back.
pub(crate) fn remove(registry: &mut HashMap<Bytes, IndexSet<ConnId>>, name: &[u8], id: ConnId) {
    if let Some(subscribers) = registry.get_mut(name) {
        subscribers.swap_remove(&id);
        if subscribers.is_empty() {
            registry.remove(name);
            give_back_room(registry);
        }
    }
}

/// Shrinks a map left at a quarter or less of its capacity, as Redis's
/// dicts shrink: 100k subscriptions dropped do not keep their table.
pub(crate) fn give_back_room<K: std::hash::Hash + Eq, V, S: std::hash::BuildHasher>(map: &mut HashMap<K, V, S>) {
    if map.capacity() > 64 && map.len() * 4 <= map.capacity() {
        map.shrink_to_fit();
    }
}
