//! How many of one client's lines the server takes now: a share per turn,
//! so one client's input cannot keep the others waiting, and flood control,
//! so one client cannot say more than the room can read.
//!
//! Flood control is a token bucket, as chat servers do it (IRC's "excess
//! flood"): a client may send [`FloodLimit::burst`] lines at once and then
//! [`FloodLimit::lines_per_sec`] on average. Past that its input is held
//! back, not dropped: the server stops reading it until a token is due, so
//! TCP slows the sender down. A client held back without a break for
//! [`FloodLimit::disconnect_after`] is disconnected.

use std::time::{Duration, Instant};

use crate::FloodLimit;

/// Text bytes one token pays for: a longer line costs a token per 512
/// bytes begun (IRC's line length), since everyone has to read it.
pub(crate) const BYTES_PER_TOKEN: usize = 512;

/// Why the server does not take a client's next line now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// This turn's share is taken: leave the rest unconsumed and stop
    /// reading the client until the next turn, when the loop offers the
    /// rest again, after the other clients had their turn.
    TurnOver,
    /// The client is over its rate: stop reading it until a token is due.
    Throttled,
}

/// What to do with a client held back by flood control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Throttle {
    /// Read from it again after this long.
    Wait(Duration),
    /// It has been over its rate for [`FloodLimit::disconnect_after`].
    Disconnect,
}

/// Tokens that refill at a steady rate up to a cap. Spending may go below
/// zero (a long line costs more than one token): the debt is paid off
/// before the next line.
#[derive(Debug)]
struct TokenBucket {
    per_sec: f64,
    cap: f64,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    fn new(limit: &FloodLimit, now: Instant) -> TokenBucket {
        let cap = f64::from(limit.burst.max(1));
        TokenBucket { per_sec: limit.lines_per_sec, cap, tokens: cap, updated: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.cap);
        self.updated = now;
    }

    /// How long until a whole token is there: zero if it is.
    fn wait(&self) -> Duration {
        let missing = 1.0 - self.tokens;
        if missing <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(missing / self.per_sec)
        }
    }
}

/// One client's allowance of lines.
#[derive(Debug)]
pub(crate) struct Intake {
    per_turn: usize,
    /// Lines taken in this `on_data` call.
    taken: usize,
    bucket: Option<TokenBucket>,
    disconnect_after: Option<Duration>,
    /// Since when the client has been held back without catching up.
    throttled_since: Option<Instant>,
}

impl Intake {
    /// An allowance of `per_turn` lines per `on_data` call (at least one),
    /// and `flood` (if any) over time, starting with a full burst at `now`.
    pub(crate) fn new(per_turn: usize, flood: Option<&FloodLimit>, now: Instant) -> Intake {
        Intake {
            per_turn: per_turn.max(1),
            taken: 0,
            bucket: flood.filter(|f| f.lines_per_sec > 0.0).map(|f| TokenBucket::new(f, now)),
            disconnect_after: flood.and_then(|f| f.disconnect_after),
            throttled_since: None,
        }
    }

    /// A new `on_data` call begins: a new turn's share.
    pub(crate) fn start_turn(&mut self) {
        self.taken = 0;
    }

    /// Why not to take the next line now, if there is a reason.
    pub(crate) fn holds_back(&mut self, now: Instant) -> Option<Hold> {
        if let Some(bucket) = &mut self.bucket {
            bucket.refill(now);
            if bucket.tokens < 1.0 {
                return Some(Hold::Throttled);
            }
        }
        (self.taken >= self.per_turn).then_some(Hold::TurnOver)
    }

    /// A line of `text_bytes` was taken (0 for one answered with an error:
    /// nobody else reads it).
    pub(crate) fn took(&mut self, text_bytes: usize) {
        self.taken += 1;
        if let Some(bucket) = &mut self.bucket {
            bucket.tokens -= text_bytes.div_ceil(BYTES_PER_TOKEN).max(1) as f64;
        }
    }

    /// Every line the client sent so far is taken: it is within its rate.
    pub(crate) fn caught_up(&mut self) {
        self.throttled_since = None;
    }

    /// Whether the client has been held back since it last caught up.
    pub(crate) fn is_held_back(&self) -> bool {
        self.throttled_since.is_some()
    }

    /// The client is being held back (after [`Hold::Throttled`]): for how
    /// long, or whether it has been over its rate too long.
    pub(crate) fn throttle(&mut self, now: Instant) -> Throttle {
        let since = *self.throttled_since.get_or_insert(now);
        if self.disconnect_after.is_some_and(|limit| now.saturating_duration_since(since) >= limit) {
            return Throttle::Disconnect;
        }
        Throttle::Wait(self.bucket.as_ref().map_or(Duration::ZERO, TokenBucket::wait))
    }
}

/// Whether `input` holds a complete line: worth stopping for, since a
/// partial one is left unconsumed anyway.
pub(crate) fn has_line(input: &[u8]) -> bool {
    input.contains(&b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flood(lines_per_sec: f64, burst: u32, disconnect_after_secs: u64) -> FloodLimit {
        FloodLimit { lines_per_sec, burst, disconnect_after: Some(Duration::from_secs(disconnect_after_secs)) }
    }

    /// Takes lines of `bytes` at `now` while allowed, returning how many.
    fn take_all(intake: &mut Intake, now: Instant, bytes: usize) -> usize {
        intake.start_turn();
        let mut taken = 0;
        while intake.holds_back(now).is_none() {
            intake.took(bytes);
            taken += 1;
        }
        taken
    }

    #[test]
    fn at_most_per_turn_lines_are_taken_per_turn() {
        let now = Instant::now();
        let mut intake = Intake::new(3, None, now);
        for _ in 0..2 {
            assert_eq!(take_all(&mut intake, now, 10), 3);
            assert_eq!(intake.holds_back(now), Some(Hold::TurnOver));
        }
    }

    #[test]
    fn a_zero_limit_still_takes_one_line_per_turn() {
        let now = Instant::now();
        let mut intake = Intake::new(0, None, now);
        assert_eq!(take_all(&mut intake, now, 10), 1);
    }

    #[test]
    fn a_burst_is_taken_at_once_then_the_rate_holds() {
        let start = Instant::now();
        let mut intake = Intake::new(1000, Some(&flood(10.0, 40, 10)), start);
        assert_eq!(take_all(&mut intake, start, 10), 40, "the whole burst at once");
        assert_eq!(intake.holds_back(start), Some(Hold::Throttled));
        assert_eq!(intake.throttle(start), Throttle::Wait(Duration::from_millis(100)), "one token is due in 1/10 s");
        let later = start + Duration::from_secs(2);
        assert_eq!(take_all(&mut intake, later, 10), 20, "ten lines a second");
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(take_all(&mut intake, much_later, 10), 40, "the bucket refills to the burst, no more");
    }

    #[test]
    fn a_long_line_costs_a_token_per_512_bytes_begun() {
        let start = Instant::now();
        let mut intake = Intake::new(1000, Some(&flood(1.0, 10, 10)), start);
        assert_eq!(take_all(&mut intake, start, 513), 5, "two tokens each");
        let mut intake = Intake::new(1000, Some(&flood(1.0, 10, 10)), start);
        intake.took(8 * 1024);
        assert_eq!(intake.holds_back(start), Some(Hold::Throttled), "16 tokens: in debt");
        assert_eq!(intake.throttle(start), Throttle::Wait(Duration::from_secs(7)), "6 tokens owed, 1 wanted");
    }

    #[test]
    fn a_client_held_back_for_disconnect_after_is_disconnected_unless_it_caught_up() {
        let start = Instant::now();
        let mut intake = Intake::new(1000, Some(&flood(10.0, 1, 5)), start);
        take_all(&mut intake, start, 10);
        assert!(matches!(intake.throttle(start), Throttle::Wait(_)));
        let mut now = start;
        for _ in 0..49 {
            now += Duration::from_millis(100);
            assert_eq!(take_all(&mut intake, now, 10), 1, "one line per token");
            assert!(matches!(intake.throttle(now), Throttle::Wait(_)), "still within 5 s");
        }
        intake.caught_up();
        now += Duration::from_millis(100);
        take_all(&mut intake, now, 10);
        assert!(matches!(intake.throttle(now), Throttle::Wait(_)), "caught up: the clock starts over");
        assert_eq!(intake.throttle(now + Duration::from_secs(5)), Throttle::Disconnect);
    }

    #[test]
    fn only_a_newline_makes_a_line() {
        assert!(has_line(b"partial\nmore"));
        assert!(!has_line(b"partial"));
    }
}
