//! The chat's own limits, beside the loop's [`Config`].

use std::time::Duration;

use evloop::codec::{LineDecoder, DEFAULT_MAX_LINE_BYTES};
use evloop::Config;

/// The chat's own limits, beside the loop's [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The longest line a client may send, in bytes, not counting its
    /// ending. A longer one is answered with `ERR` and dropped.
    pub max_line_bytes: usize,
    /// How long a line may take from its first byte to its newline. The
    /// loop's idle timeout counts from the last input, so without this a
    /// client sending a byte every few seconds and never a newline (a
    /// slowloris) would hold its slot forever. `None` disables it.
    pub line_timeout: Option<Duration>,
    /// How long a client may send nothing before it is told
    /// `* idle for N s, disconnecting` and closed. The chat keeps this
    /// itself, instead of the loop's [`Config::idle_timeout`], which closes
    /// a connection without a word. `None` disables it.
    pub idle_timeout: Option<Duration>,
    /// Lines taken from one client's input per turn of the loop, before
    /// the other clients get theirs: the rest is left unconsumed, reading
    /// that client pauses, and next turn the loop offers the rest again.
    /// Bounds the work one write can cause at once (7,000 `/nick` lines in
    /// one write would otherwise all be handled before anyone else is
    /// served).
    pub max_lines_per_turn: usize,
    /// Members sent what the room said per turn. A bigger room gets it over
    /// several turns, the other clients served in between: in a room of
    /// thousands, one send to each member takes tens of milliseconds, and a
    /// burst of joins or lines would otherwise make every turn that long.
    pub members_per_turn: usize,
    /// Flood control: how fast one client may send lines. `None` lets a
    /// client send as fast as the server reads, which one client writing
    /// flat out turns into more than the other members can read: they are
    /// the ones dropped, as too slow.
    pub flood: Option<FloodLimit>,
}

/// Flood control: a client's line rate with a burst (a token bucket).
///
/// A client may send `burst` lines at once and then `lines_per_sec` on
/// average; a line of text longer than 512 bytes counts as one line per
/// 512 bytes begun. Past that, the server reads no more from the client
/// until its next line is due (TCP holds the rest back, in the client's own
/// buffers); a client held back for `disconnect_after` without a break is
/// told why and disconnected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimit {
    /// Lines per second a client may keep up. Must be positive.
    pub lines_per_sec: f64,
    /// Lines a client may send at once, beyond the rate (at least 1).
    pub burst: u32,
    /// How long a client may stay over its rate before it is
    /// disconnected; `None`: held back, never disconnected.
    pub disconnect_after: Option<Duration>,
}

impl Default for FloodLimit {
    /// 10 lines a second, 40 at once, disconnected after 10 s over.
    fn default() -> FloodLimit {
        FloodLimit { lines_per_sec: 10.0, burst: 40, disconnect_after: Some(Duration::from_secs(10)) }
    }
}

impl Default for Settings {
    /// Lines up to 8 KiB, arriving within 30 seconds, 256 a turn, the
    /// default [`FloodLimit`], 5 minutes' silence at most, and the room's
    /// output to 1,024 members a turn.
    fn default() -> Settings {
        Settings {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            line_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(300)),
            max_lines_per_turn: 256,
            members_per_turn: 1024,
            flood: Some(FloodLimit::default()),
        }
    }
}

impl Settings {
    /// `base` made fit for the chat: with room for a whole line of input
    /// (the loop must keep an unfinished line of `max_line_bytes` and its
    /// `\r` without closing the connection for
    /// [`CloseReason::InputLimit`](evloop::CloseReason::InputLimit)), and
    /// without the loop's idle timeout, since the chat keeps its own
    /// ([`Settings::idle_timeout`]) to tell the client why it closes.
    pub fn loop_config(&self, base: Config) -> Config {
        let needed = LineDecoder::with_max_line_bytes(self.max_line_bytes).max_buffered_bytes();
        Config { max_input_bytes: base.max_input_bytes.max(needed), idle_timeout: None, ..base }
    }
}
