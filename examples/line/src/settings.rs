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
    /// Lines taken from one client's input per `on_data` call, that is per
    /// turn of the loop, before the other clients get theirs: the rest is
    /// left unconsumed and the loop offers it again on a later turn. Bounds
    /// the work one write can cause at once (7,000 `/nick` lines in one
    /// write would otherwise all be handled before anyone else is served).
    pub max_lines_per_turn: usize,
}

impl Default for Settings {
    /// Lines up to 8 KiB, arriving within 30 seconds, 64 a turn.
    fn default() -> Settings {
        Settings {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            line_timeout: Some(Duration::from_secs(30)),
            max_lines_per_turn: 64,
        }
    }
}

impl Settings {
    /// `base` with room for a whole line of input: the loop must keep an
    /// unfinished line of `max_line_bytes` (and its `\r`) without closing
    /// the connection for [`CloseReason::InputLimit`](evloop::CloseReason::InputLimit).
    pub fn loop_config(&self, base: Config) -> Config {
        let needed = LineDecoder::with_max_line_bytes(self.max_line_bytes).max_buffered_bytes();
        Config { max_input_bytes: base.max_input_bytes.max(needed), ..base }
    }
}
