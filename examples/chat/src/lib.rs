//! The chat handler: a line protocol on evloop, the framework's first real
//! user.
//!
//! Kept apart from `main.rs` so the integration tests and the measurement
//! binaries serve the very same handler the binary does.
//!
//! # Protocol
//!
//! Every line goes both ways as UTF-8 ending in `\n` (clients may send
//! `\r\n`). A line is said to everyone else as `nick: text`; lines starting
//! with `/` are commands ([`Command`]). Notices from the server start with
//! `* `, errors with `ERR `; an error never disconnects.
//!
//! # Broadcast
//!
//! The room keeps every member's nick, by [`ConnId`](evloop::ConnId). What
//! is said to the room goes into one log, each line once, and at the end of
//! the turn each member gets its part of the log in one send, at most
//! [`Settings::members_per_turn`] members a turn (see `room.rs`). Everyone
//! hears a sender's lines exactly once and in the order sent, private
//! messages and nick changes included.
//!
//! # What one client may cost the others
//!
//! At most [`Settings::max_lines_per_turn`] of a client's lines are handled
//! per turn, and [`FloodLimit`] bounds its lines over time: past either, the
//! server stops reading the client for a while and the loop offers the rest
//! of its input again later. Every limit that drops a client tells it why
//! first where it can still hear, and the room hears why it left.
//!
//! # Several loops
//!
//! [`Chat::group_factory`] makes one room of a [`LoopGroup`](evloop::LoopGroup)'s
//! loops: each loop's room relays what it says to the others ([`Relay`]),
//! which tell their own members only, so every member hears every line once
//! and each sender's lines in order; the nicks are the whole room's
//! ([`Nicks`]).

mod chat;
mod clocks;
mod command;
mod intake;
mod nicks;
mod options;
mod relay;
mod respond;
mod room;
mod settings;

pub use chat::{Chat, Client, HELP, SERVER_FULL, TOO_MANY_FROM_YOU};
pub use command::{has_control_chars, invisible_char, is_valid_nick, Command, MAX_NICK_CHARS};
pub use nicks::Nicks;
pub use options::{ServerOptions, DEFAULT_MAX_OUTPUT_BYTES};
pub use relay::Relay;
pub use settings::{FloodLimit, Settings};
