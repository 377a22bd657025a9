//! The `Date` header, formatted once a second rather than per response
//! (as nginx's `ngx_time_update` and hyper's cached date do).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// An IMF-fixdate (`Sun, 06 Dec 2026 03:00:00 GMT`) is always 29 bytes.
const DATE_LEN: usize = 29;

/// The current `Date` value, reformatted when the wall clock's second
/// changes: checked against the loop's clock (one compare per response),
/// formatted at most once a second.
#[derive(Debug)]
pub struct DateCache {
    formatted: [u8; DATE_LEN],
    /// When the wall clock reaches its next whole second, on the loop's clock.
    expires: Instant,
}

impl DateCache {
    /// A cache formatted for `now`.
    pub fn new(now: Instant) -> DateCache {
        let mut cache = DateCache { formatted: [b' '; DATE_LEN], expires: now };
        cache.refresh(now);
        cache
    }

    /// The value for a response sent at `now` (the loop's time this turn).
    #[inline]
    pub fn get(&mut self, now: Instant) -> &[u8] {
        if now >= self.expires {
            self.refresh(now);
        }
        &self.formatted
    }

    #[cold]
    fn refresh(&mut self, now: Instant) {
        let wall = SystemTime::now();
        let formatted = httpdate::fmt_http_date(wall);
        if formatted.len() == DATE_LEN {
            self.formatted.copy_from_slice(formatted.as_bytes());
        }
        let into_second =
            wall.duration_since(UNIX_EPOCH).map_or(Duration::ZERO, |d| Duration::from_nanos(d.subsec_nanos().into()));
        self.expires = now + (Duration::from_secs(1) - into_second);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_is_an_imf_fixdate_that_parses_back_within_a_second_of_now() {
        let now = Instant::now();
        let mut cache = DateCache::new(now);
        let text = std::str::from_utf8(cache.get(now)).unwrap().to_string();
        assert!(text.ends_with(" GMT"), "not an IMF-fixdate: {text}");
        let parsed = httpdate::parse_http_date(&text).expect("the Date value parses");
        let skew = SystemTime::now().duration_since(parsed).unwrap_or_default();
        assert!(skew < Duration::from_secs(2), "Date {text} is {skew:?} behind the clock");
    }

    #[test]
    fn date_is_not_reformatted_within_its_second() {
        let now = Instant::now();
        let mut cache = DateCache::new(now);
        let expires = cache.expires;
        cache.get(now);
        assert_eq!(cache.expires, expires, "formatted again within the same second");
        assert!(expires <= now + Duration::from_secs(1), "valid past the next wall-clock second");
    }
}
