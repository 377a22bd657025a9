//! Framing codecs: turning a byte stream into messages inside `on_data`.
//!
//! A codec here is a decoder the application keeps per connection (in
//! [`Handler::Conn`](crate::Handler::Conn)). Given the bytes `on_data` got,
//! it yields the complete messages in them as slices borrowed from those
//! bytes, and says how many bytes they used; `on_data` returns that count
//! and the loop keeps the unfinished rest for the next call. Nothing is
//! copied on the way, and an incomplete message costs only the loop's
//! per-connection input buffer, which [`Config::max_input_bytes`](crate::Config::max_input_bytes) bounds.
//!
//! - [`LineDecoder`]: lines ending in `\n` or `\r\n`, as UTF-8 text, with a
//!   maximum length.
//! - [`RespDecoder`]: Redis requests (RESP2 arrays of bulk strings, and
//!   inline commands), parsed as Redis 7 parses them.

mod lines;
mod resp;

pub use lines::{LineDecoder, LineError, Lines, DEFAULT_MAX_LINE_BYTES};
pub use resp::{
    parse_redis_int, Args, Request, Requests, RespDecoder, RespError, DEFAULT_MAX_BULK_BYTES, MAX_ARRAY_LEN,
    MAX_INLINE_BYTES,
};
