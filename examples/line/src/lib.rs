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
//! is said to the room during one turn of the loop goes into one log, each
//! line once, and each member gets its part of the log in one send when the
//! turn ends (see `room.rs`). Everyone hears a sender's lines exactly once
//! and in the order sent, private messages and nick changes included.

mod chat;
mod clocks;
mod command;
mod intake;
mod options;
mod respond;
mod room;
mod settings;

pub use chat::{Chat, Client, HELP, SERVER_FULL, TOO_MANY_FROM_YOU};
pub use command::{has_control_chars, invisible_char, is_valid_nick, Command, MAX_NICK_CHARS};
pub use options::{ServerOptions, DEFAULT_MAX_OUTPUT_BYTES};
pub use settings::{FloodLimit, Settings};
