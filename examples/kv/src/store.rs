//! The keyspace: keys to values of any type ([`Value`]), with deadlines,
//! expired lazily on access and actively by sampling, as Redis does.

use std::time::{Duration, Instant};

use foldhash::fast::RandomState;
use indexmap::IndexMap;

use crate::value::{Kind, Value, WrongType};
use crate::Bytes;

/// Keys sampled per round of the active expiry cycle (Redis's
/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
const KEYS_PER_ROUND: usize = 20;

/// The cycle goes on while more than this share of a round had expired
/// (Redis's `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE`, 10%).
const ACCEPTABLE_STALE_PERCENT: usize = 10;

/// Rounds per cycle at most, whatever the clock says: the bound that holds
/// even if reading the clock were free and the machine infinitely fast.
const MAX_ROUNDS: usize = 1_000;

/// What a write does to the key's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Keep it (`SET ... KEEPTTL`, `APPEND`, `INCR`).
    Keep,
    /// Drop it: the key lives until deleted (`SET`, `MSET`).
    Clear,
    /// Expire at this time, in Unix milliseconds.
    At(i64),
}

/// Lookups, hits and expiries, for `INFO`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyspaceStats {
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
    /// Keys removed because their deadline passed (lazily or actively).
    pub expired: u64,
}

/// One database (`SELECT` picks one of sixteen).
///
/// Keys and values live in an insertion-ordered hash map (`indexmap`): its
/// entries are one dense vector and its hash table holds only their
/// indices, so a string key costs its 24-byte [`Bytes`] and 24-byte
/// [`Value`], its hash and about ten bytes of table, and a random key is one index away (for the active
/// expiry cycle). Deadlines live in a second map holding only the keys that
/// have one, as Redis's `expires` dict: a key without a deadline pays
/// nothing for the feature, and while no key has one, reads skip the check.
///
/// Times are Unix milliseconds, as Redis keeps them, so the same `EXPIRE`
/// overflows at the same point.
///
/// # Examples
///
/// ```
/// use kv::store::{Store, Ttl};
///
/// let mut store = Store::new();
/// store.set_str(b"k", b"v"[..].into(), Ttl::At(1_000));
/// assert_eq!(store.get_str(b"k", 999).unwrap().map(|v| v.as_slice()), Some(&b"v"[..]));
/// assert!(store.get_str(b"k", 1_000).unwrap().is_none()); // expired on access
/// assert_eq!(store.stats().expired, 1);
/// ```
#[derive(Debug)]
pub struct Store {
    map: IndexMap<Bytes, Value, RandomState>,
    expires: IndexMap<Bytes, i64, RandomState>,
    stats: KeyspaceStats,
    /// xorshift64 state for sampling.
    rng: u64,
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        let seed = std::hash::BuildHasher::hash_one(&RandomState::default(), Instant::now());
        Store { map: IndexMap::default(), expires: IndexMap::default(), stats: KeyspaceStats::default(), rng: seed | 1 }
    }

    /// Keys stored, expired ones not yet removed included (as `DBSIZE`).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no key is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys with a deadline.
    pub fn volatile_len(&self) -> usize {
        self.expires.len()
    }

    /// Starts the hit, miss and expiry counts again (`CONFIG RESETSTAT`).
    pub fn reset_stats(&mut self) {
        self.stats = KeyspaceStats::default();
    }

    /// Hits, misses and expiries so far.
    pub fn stats(&self) -> KeyspaceStats {
        self.stats
    }

    /// Removes `key` if its deadline has passed; whether it did.
    fn expire_if_due(&mut self, key: &[u8], now: i64) -> bool {
        // The common case, no key with a deadline, costs one comparison.
        if self.expires.is_empty() {
            return false;
        }
        match self.expires.get(key) {
            Some(&at) if at <= now => {
                self.expires.swap_remove(key);
                self.map.swap_remove(key);
                self.stats.expired += 1;
                true
            }
            _ => false,
        }
    }

    /// The value of a live `key`, counted as a hit or a miss (a read, as
    /// Redis's `lookupKeyRead`).
    pub fn get(&mut self, key: &[u8], now: i64) -> Option<&Value> {
        self.expire_if_due(key, now);
        let value = self.map.get(key);
        match value {
            Some(_) => self.stats.hits += 1,
            None => self.stats.misses += 1,
        }
        value
    }

    /// The value of a live `key`, to change in place (a write: no hit or
    /// miss counted).
    pub fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        self.expire_if_due(key, now);
        self.map.get_mut(key)
    }

    /// A read of a `T` at `key`: `Ok(None)` if missing, [`WrongType`] if
    /// it holds another type.
    pub fn read<T: Kind>(&mut self, key: &[u8], now: i64) -> Result<Option<&T>, WrongType> {
        match self.get(key, now) {
            None => Ok(None),
            Some(value) => T::of(value).map(Some).ok_or(WrongType),
        }
    }

    /// A write to the `T` at `key`: `Ok(None)` if missing, [`WrongType`]
    /// if it holds another type.
    pub fn write<T: Kind>(&mut self, key: &[u8], now: i64) -> Result<Option<&mut T>, WrongType> {
        match self.get_mut(key, now) {
            None => Ok(None),
            Some(value) => T::of_mut(value).map(Some).ok_or(WrongType),
        }
    }

    /// The `T` at `key`, created empty if missing; [`WrongType`] if it
    /// holds another type.
    pub fn write_or_create<T: Kind>(&mut self, key: &[u8], now: i64) -> Result<&mut T, WrongType> {
        self.expire_if_due(key, now);
        let value = match self.map.get_index_of(key) {
            Some(index) => &mut self.map[index],
            None => self.map.entry(Bytes::from(key)).or_insert_with(T::empty),
        };
        T::of_mut(value).ok_or(WrongType)
    }

    /// The string at `key` (a read).
    pub fn get_str(&mut self, key: &[u8], now: i64) -> Result<Option<&Bytes>, WrongType> {
        self.read::<Bytes>(key, now)
    }

    /// Deletes `key` if it holds a container left empty, as Redis does
    /// once a container's last element goes; whether it did.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        if self.map.get(key).is_some_and(Value::is_empty_container) {
            self.map.swap_remove(key);
            if !self.expires.is_empty() {
                self.expires.swap_remove(key);
            }
            true
        } else {
            false
        }
    }

    /// Whether `key` is live, without counting a hit or miss.
    pub fn contains(&mut self, key: &[u8], now: i64) -> bool {
        !self.expire_if_due(key, now) && self.map.contains_key(key)
    }

    /// Stores the string `value` at `key`, replacing what was there (of
    /// any type), with its deadline as `ttl` says.
    pub fn set_str(&mut self, key: &[u8], value: Bytes, ttl: Ttl) {
        self.set(key, Value::Str(value), ttl);
    }

    /// Stores `value` at `key`, replacing what was there, with its deadline
    /// as `ttl` says. Call [`contains`](Store::contains) or
    /// [`get`](Store::get) first when an expired old value must not be
    /// kept alive by [`Ttl::Keep`].
    pub fn set(&mut self, key: &[u8], value: Value, ttl: Ttl) {
        match self.map.get_mut(key) {
            Some(old) => *old = value,
            None => {
                self.map.insert(Bytes::from(key), value);
            }
        }
        match ttl {
            Ttl::Keep => {}
            Ttl::Clear => {
                if !self.expires.is_empty() {
                    self.expires.swap_remove(key);
                }
            }
            Ttl::At(at) => {
                self.expires.insert(Bytes::from(key), at);
            }
        }
    }

    /// Removes a live `key`, returning its value.
    pub fn remove(&mut self, key: &[u8], now: i64) -> Option<Value> {
        self.expire_if_due(key, now);
        let value = self.map.swap_remove(key)?;
        if !self.expires.is_empty() {
            self.expires.swap_remove(key);
        }
        Some(value)
    }

    /// The deadline of a live `key`: `None` if the key is missing,
    /// `Some(None)` if it has none.
    pub fn deadline(&mut self, key: &[u8], now: i64) -> Option<Option<i64>> {
        if !self.contains(key, now) {
            return None;
        }
        Some(self.expires.get(key).copied())
    }

    /// Sets the deadline of `key`, which must be live; a deadline already
    /// past deletes it, as Redis's `EXPIRE` with a negative time does.
    pub fn set_deadline(&mut self, key: &[u8], at: i64, now: i64) {
        if at <= now {
            self.remove(key, now);
        } else if let Some((stored, _)) = self.map.get_key_value(key) {
            self.expires.insert(stored.clone(), at);
        }
    }

    /// Drops the deadline of `key`; whether it had one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        !self.expires.is_empty() && self.expires.swap_remove(key).is_some()
    }

    /// Every live key, in no particular order.
    pub fn live_keys(&self, now: i64) -> impl Iterator<Item = &Bytes> + '_ {
        self.map.keys().filter(move |key| self.expires.get(key.as_slice()).is_none_or(|&at| at > now))
    }

    /// The key and value at `index` of the map's dense order (live or
    /// not), for `SCAN`'s cursor and `RANDOMKEY`-style sampling.
    pub fn get_index(&self, index: usize) -> Option<(&Bytes, &Value)> {
        self.map.get_index(index)
    }

    /// The deadline of `key` as stored, expired or not.
    pub fn stored_deadline(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.map = IndexMap::default();
        self.expires = IndexMap::default();
    }

    /// One run of the active expiry cycle: samples random keys with a
    /// deadline, removes those past it, and goes on while more than 10% of
    /// a sample had expired, for at most `budget` of time and
    /// 1,000 rounds. Returns how many keys it removed.
    ///
    /// As Redis's `activeExpireCycle`: keys nobody reads again still go
    /// once expired, at a cost bounded per run, and a store where most
    /// volatile keys have expired is cleaned faster than one where few have.
    pub fn expire_cycle(&mut self, now: i64, budget: Duration) -> usize {
        let started = Instant::now();
        let mut removed = 0;
        for round in 0..MAX_ROUNDS {
            if self.expires.is_empty() {
                break;
            }
            let sample = KEYS_PER_ROUND.min(self.expires.len());
            let mut expired = 0;
            for _ in 0..sample {
                let index = (self.next_random() % self.expires.len() as u64) as usize;
                let Some((key, &at)) = self.expires.get_index(index) else { continue };
                if at <= now {
                    let key = key.clone();
                    self.expires.swap_remove_index(index);
                    self.map.swap_remove(key.as_slice());
                    self.stats.expired += 1;
                    expired += 1;
                    if self.expires.is_empty() {
                        break;
                    }
                }
            }
            removed += expired;
            if expired * 100 <= sample * ACCEPTABLE_STALE_PERCENT {
                break;
            }
            // The clock every 16 rounds, as Redis: reading it costs too.
            if round % 16 == 15 && started.elapsed() > budget {
                break;
            }
        }
        removed
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        Value::Str(Bytes::from(text.as_bytes()))
    }

    #[test]
    fn set_without_ttl_clears_a_deadline_and_keep_keeps_it() {
        let mut store = Store::new();
        store.set(b"k", value("1"), Ttl::At(100));
        store.set(b"k", value("2"), Ttl::Keep);
        assert_eq!(store.deadline(b"k", 0), Some(Some(100)));
        store.set(b"k", value("3"), Ttl::Clear);
        assert_eq!(store.deadline(b"k", 0), Some(None));
        assert_eq!(store.volatile_len(), 0);
    }

    #[test]
    fn expired_keys_are_gone_for_every_read() {
        let mut store = Store::new();
        store.set(b"k", value("v"), Ttl::At(10));
        assert!(store.contains(b"k", 9));
        assert!(!store.contains(b"k", 10));
        assert_eq!(store.len(), 0, "removed on access");
        assert_eq!(store.stats().expired, 1);
    }

    #[test]
    fn a_past_deadline_deletes_the_key() {
        let mut store = Store::new();
        store.set(b"k", value("v"), Ttl::Clear);
        store.set_deadline(b"k", 5, 5);
        assert!(store.is_empty());
    }

    #[test]
    fn the_expiry_cycle_removes_expired_keys_nobody_reads() {
        let mut store = Store::new();
        for i in 0..1000 {
            let at = if i % 2 == 0 { 10 } else { 1_000 };
            store.set(format!("k{i}").as_bytes(), value("v"), Ttl::At(at));
        }
        store.set(b"forever", value("v"), Ttl::Clear);
        let mut removed = 0;
        // Each run stops once a sample is mostly live; runs repeat as the
        // timer would, a bounded number of times.
        for _ in 0..200 {
            removed += store.expire_cycle(20, Duration::from_millis(25));
        }
        assert!(removed >= 450, "most of the 500 expired keys should be gone, {removed} were");
        assert!(store.contains(b"forever", 20) && store.contains(b"k1", 20), "live keys stay");
        assert_eq!(store.len(), 1001 - removed);
    }

    #[test]
    fn typed_access_refuses_another_type() {
        let mut store = Store::new();
        store.write_or_create::<crate::value::List>(b"l", 0).unwrap().push_back(Bytes::from(&b"x"[..]));
        assert_eq!(store.get_str(b"l", 0), Err(WrongType));
        assert!(store.write::<crate::value::Set>(b"l", 0).is_err());
        store.write::<crate::value::List>(b"l", 0).unwrap().unwrap().clear();
        assert!(store.remove_if_empty(b"l") && store.is_empty(), "an emptied list goes");
    }

    #[test]
    fn live_keys_skip_the_expired() {
        let mut store = Store::new();
        store.set(b"old", value("v"), Ttl::At(1));
        store.set(b"new", value("v"), Ttl::Clear);
        let keys: Vec<&[u8]> = store.live_keys(5).map(|k| k.as_slice()).collect();
        assert_eq!(keys, [&b"new"[..]]);
    }
}
