//! What a key holds: a string, a list, a hash, a set or a sorted set, and
//! the number formats Redis replies with for the last two's scores and
//! for `INCRBYFLOAT`.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};

use foldhash::fast::RandomState;
use indexmap::{IndexMap, IndexSet};

use crate::Bytes;

/// Redis's reply to a command run on a key of another type.
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// A list: a double-ended queue, so both ends push and pop in O(1) and
/// `LRANGE`/`LINDEX` index in O(1) per element.
pub type List = VecDeque<Bytes>;

/// A hash: fields to values in insertion order (Redis's listpack order for
/// the small hashes clients usually read back whole).
pub type Hash = IndexMap<Bytes, Bytes, RandomState>;

/// A set: members by insertion index, so `SPOP` picks a random one in O(1).
pub type Set = IndexSet<Bytes, RandomState>;

/// The value stored at a key. Containers are boxed, so a string key (the
/// common case) costs no more than before containers existed: the enum
/// is the size of one [`Bytes`].
#[derive(Debug, Clone)]
pub enum Value {
    /// A string (integers included, kept as their decimal text).
    Str(Bytes),
    /// A list.
    List(Box<List>),
    /// A hash.
    Hash(Box<Hash>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
}

/// A command found a key of another type: the caller replies [`WRONGTYPE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

impl Value {
    /// The name `TYPE` replies.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Whether it is a container with no element left (Redis deletes such
    /// a key as soon as its last element goes).
    pub fn is_empty_container(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(list) => list.is_empty(),
            Value::Hash(hash) => hash.is_empty(),
            Value::Set(set) => set.is_empty(),
            Value::ZSet(zset) => zset.is_empty(),
        }
    }
}

/// Access to one type's payload in a [`Value`], for the store's typed
/// lookups.
pub trait Kind: Sized {
    /// An empty value of this type, for a write to a missing key.
    fn empty() -> Value;
    /// The payload, if the value is of this type.
    fn of(value: &Value) -> Option<&Self>;
    /// The payload, mutable, if the value is of this type.
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
}

macro_rules! kind {
    ($payload:ty, $variant:ident, $empty:expr) => {
        impl Kind for $payload {
            fn empty() -> Value {
                $empty
            }
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(payload) => Some(payload),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(payload) => Some(payload),
                    _ => None,
                }
            }
        }
    };
}

kind!(Bytes, Str, Value::Str(Bytes::from(&b""[..])));
kind!(List, List, Value::List(Box::default()));
kind!(Hash, Hash, Value::Hash(Box::default()));
kind!(Set, Set, Value::Set(Box::default()));
kind!(ZSet, ZSet, Value::ZSet(Box::default()));

/// A score: an `f64` that is never NaN, so it has a total order (`-0` and
/// `0` equal, as Redis compares them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Score) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Score) -> Ordering {
        // Never NaN: every score is checked on the way in.
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// A sorted set: members ordered by score, then bytewise, as Redis's
/// skiplist orders them, with each member's score at hand.
///
/// Ranges by rank walk the ordered tree from its nearer end; `ZRANK`
/// counts the members before one, O(rank) where Redis's skiplist is
/// O(log n).
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: IndexMap<Bytes, f64, RandomState>,
    order: BTreeSet<(Score, Bytes)>,
}

impl ZSet {
    /// Members.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets the score of `member`, adding it if new; whether it was new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        match self.scores.get_mut(member) {
            Some(old) => {
                if *old != score {
                    let key = Bytes::from(member);
                    self.order.remove(&(Score(*old), key.clone()));
                    self.order.insert((Score(score), key));
                    *old = score;
                }
                false
            }
            None => {
                let key = Bytes::from(member);
                self.scores.insert(key.clone(), score);
                self.order.insert((Score(score), key));
                true
            }
        }
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.swap_remove_full(member) {
            Some((_, key, score)) => {
                self.order.remove(&(Score(score), key));
                true
            }
            None => false,
        }
    }

    /// The members in order, lowest score first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.order.iter().map(|(score, member)| (member.as_slice(), score.0))
    }

    /// Members with a score in `min..=max` (each end exclusive if its
    /// flag says so), lowest first; the tree is entered at `min`.
    pub fn range_by_score(&self, min: (f64, bool), max: (f64, bool)) -> Vec<(&[u8], f64)> {
        // The empty member sorts first among members of one score.
        let from = (Score(min.0), Bytes::from(&b""[..]));
        self.order
            .range(from..)
            .map(|(score, member)| (member.as_slice(), score.0))
            .skip_while(|&(_, s)| min.1 && s == min.0)
            .take_while(|&(_, s)| s < max.0 || (!max.1 && s == max.0))
            .collect()
    }

    /// The 0-based rank of `member`, lowest score first.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.order.range(..(Score(score), Bytes::from(member))).count())
    }

    /// Removes and returns the member with the lowest score.
    pub fn pop_min(&mut self) -> Option<(Bytes, f64)> {
        let (score, member) = self.order.pop_first()?;
        self.scores.swap_remove(member.as_slice());
        Some((member, score.0))
    }

    /// Removes and returns the member with the highest score.
    pub fn pop_max(&mut self) -> Option<(Bytes, f64)> {
        let (score, member) = self.order.pop_last()?;
        self.scores.swap_remove(member.as_slice());
        Some((member, score.0))
    }
}

/// Redis's `string2d`/`strtod` as its score arguments read: a decimal or
/// exponent float, `inf`, `+inf` or `-inf`; no blanks, never NaN.
pub fn parse_score(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let value = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        lower if lower.contains("inf") || lower.contains("nan") => return None,
        _ => text.parse().ok()?,
    };
    (!value.is_nan()).then_some(value)
}

/// A score as Redis 7.0 replies it (`addReplyDouble`): `inf`/`-inf`, an
/// integral value within 2^53 as an integer, anything else as C's `%.17g`.
pub fn format_score(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value.fract() == 0.0 && value.abs() < (1u64 << 53) as f64 {
        return format!("{}", value as i64);
    }
    format_g17(value)
}

/// C's `printf("%.17g", value)` for a finite value.
fn format_g17(value: f64) -> String {
    const PRECISION: i32 = 17;
    // 17 significant digits, in scientific form, give the exponent.
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, value);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..PRECISION).contains(&exponent) {
        let mantissa = trim_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        let decimals = (PRECISION - 1 - exponent).max(0) as usize;
        trim_fraction(&format!("{value:.decimals$}")).to_string()
    }
}

/// `1.2300` → `1.23`, `4.000` → `4`: `%g` drops trailing zeros.
fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// A float as `INCRBYFLOAT` and `HINCRBYFLOAT` store and reply it: the
/// shortest text that reads back as the same value, in plain notation
/// (Redis prints `%.17Lf` of a long double and trims zeros, which reads
/// the same for the values a client adds up).
pub fn format_float(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e17 {
        return format!("{}", value as i64);
    }
    format!("{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_the_size_of_a_string() {
        assert_eq!(std::mem::size_of::<Value>(), std::mem::size_of::<Bytes>());
    }

    #[test]
    fn scores_print_as_redis_7_0_prints_them() {
        let cases: [(f64, &str); 9] = [
            (1.0, "1"),
            (-3.0, "-3"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (1.5e-7, "1.4999999999999999e-07"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (123456.789, "123456.789"),
        ];
        for (value, text) in cases {
            assert_eq!(format_score(value), text, "{value}");
        }
    }

    #[test]
    fn scores_parse_as_redis_reads_them() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"1e3"), Some(1000.0));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"x"), None);
        assert_eq!(parse_score(b""), None);
    }

    #[test]
    fn a_sorted_set_orders_by_score_then_member() {
        let mut zset = ZSet::default();
        zset.insert(b"b", 1.0);
        zset.insert(b"a", 1.0);
        zset.insert(b"c", 0.5);
        let order: Vec<&[u8]> = zset.iter().map(|(m, _)| m).collect();
        assert_eq!(order, [&b"c"[..], b"a", b"b"]);
        assert_eq!(zset.rank(b"b"), Some(2));
        zset.insert(b"c", 9.0);
        assert_eq!(zset.pop_max().map(|(m, s)| (m.to_vec(), s)), Some((b"c".to_vec(), 9.0)));
        assert!(zset.remove(b"a") && !zset.remove(b"a"));
        assert_eq!(zset.len(), 1);
    }
}
