//! A small single-threaded TCP event-loop framework on [mio].
//!
//! One thread, one `epoll`, thousands of connections in a [slab], and a
//! [`Handler`] trait the application implements. It is the socket tutorial
//! (`bind`, `listen`, `accept`, `connect`, `read`, `write`, `close`) done the
//! way a production server does it: nonblocking, edge-triggered, with every
//! resource bounded, and few enough syscalls that you can count them
//! ([`Stats`]).
//!
//! # Example: an echo server
//!
//! ```
//! use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Conn = (); // no per-connection state
//!     type Message = (); // no messages from other threads
//!
//!     fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}
//!
//!     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
//!         cx.send(id, data);
//!         data.len() // consumed all of it
//!     }
//! }
//!
//! # fn main() -> std::io::Result<()> {
//! let mut el = EventLoop::new(Config::default(), Echo)?;
//! let addr = el.listen("127.0.0.1:0".parse().unwrap())?;
//! println!("echoing on {addr}");
//! # el.handle().stop().unwrap();
//! el.run() // until stopped; see `LoopHandle` and `Ctx::stop`
//! # }
//! ```
//!
//! # Connections
//!
//! Each connection has a [`ConnId`]: a slab index and a generation of that
//! slot. When the connection closes the id goes stale for good; a stale id
//! passed to [`Ctx`] does nothing and returns `false` or `None`, even after
//! the slot is reused (a slot whose 2^32 generations are used up is retired,
//! never wrapped). [`Handler::on_open`] returns the application's state for
//! the connection, which the loop keeps beside it and passes to every
//! callback about it. [`Handler::on_close`] fires exactly once for every
//! connection `on_open` saw, with a [`CloseReason`].
//!
//! # Input
//!
//! Reads land in one loop-wide buffer and go straight to
//! [`Handler::on_data`], which returns how many bytes it consumed; only the
//! rest is copied into a buffer of the connection's own, allocated on
//! demand and freed once consumed. What is left is offered again without
//! new bytes whenever the handler made progress, or reading resumes (the
//! rule is in [`Handler::on_data`]'s docs), so a handler may serve one
//! request per call or stop when its output backs up. An idle connection
//! holds a slab slot and a socket, no buffers.
//!
//! # Output
//!
//! [`Ctx::send`] appends to the connection's output; the loop writes each
//! connection that got output once per turn, just before it polls again,
//! however many sends made it (Redis's `handleClientsWithPendingWrites`).
//! Sixteen pipelined requests answered with sixteen sends cost one
//! `write(2)`; a broadcast to a thousand connections costs one write each.
//! Sending back part of the input `on_data` is looking at (an echo, a
//! reply that repeats the request) costs no copy: as the connection's first
//! output of the turn, it is written straight from that input when
//! `on_data` returns, with whatever was sent after it in the same `writev`;
//! output for that connection later in the turn waits for the next one.
//!
//! # Backpressure
//!
//! Output the socket will not take stays queued. Past
//! [`Config::high_watermark`] the loop stops reading from that connection,
//! and stops offering it buffered input; [`Ctx::is_writable`] (Netty's
//! `isWritable`) turns `false`, which is a pipelining handler's cue to stop
//! and return. Below [`Config::low_watermark`] reading resumes and
//! [`Handler::on_drain`] fires. So a client pipelining requests for far
//! more than [`Config::max_output_bytes`] is served in full with the memory
//! for it near the high watermark; past `max_output_bytes` (what a single
//! callback queued) the connection closes with
//! [`CloseReason::OutputLimit`], and a peer that stops reading altogether
//! is closed after [`Config::write_timeout`]. Input is bounded by
//! [`Config::max_input_bytes`] (per connection, see
//! [`Ctx::set_max_input_bytes`]), and one connection gets at most
//! [`Config::read_budget_bytes`] (plus one read) per turn, so a flood
//! cannot starve the others.
//!
//! # Closing
//!
//! [`Ctx::close`], an end of file from the peer, and stopping the loop
//! close gracefully: queued output is flushed, then FIN; where the peer may
//! still be sending, the socket lingers, reading and dropping its input
//! until its end of file or [`Config::linger_timeout`], because closing
//! with unread input makes the kernel reset the connection and the peer
//! lose what it had not read. The FIN of a lingering close waits until
//! the kernel has sent every byte, since a reset would discard those too. [`Ctx::abort`], timeouts, limits and panics
//! close abortively, with a reset (RST), so the peer cannot take a
//! truncated stream for a complete one; except an idle close with no
//! output waiting in the loop, which is graceful, since what the kernel
//! holds may still be on its way ([`Config::idle_timeout`]). Idle means
//! no progress either way; time with reading paused does not count.
//!
//! # Transports
//!
//! TCP ([`EventLoop::listen`], [`Ctx::connect`]) and Unix-domain stream
//! sockets ([`EventLoop::listen_unix`], [`Ctx::connect_unix`]) behind one
//! contract: the same handler serves both, and every guarantee above holds
//! on each. [`Ctx::peer_addr`] says which a connection uses
//! ([`PeerAddr`]); [`Ctx::peer_credentials`] names a Unix-domain peer's
//! process and user. One difference the kernel makes: a Unix-domain socket
//! has no reset, so an abortive close there reads as an end of file
//! unless input was left unread.
//!
//! # Timers
//!
//! [`Ctx::set_timer`] and [`Ctx::set_conn_timer`] schedule
//! [`Handler::on_timer`] and [`Handler::on_conn_timer`]; a connection's
//! timers die with it. The next deadline is the `epoll_wait` timeout, so an
//! idle loop sleeps. Idle and write timeouts are checked lazily against
//! stamps, costing nothing per read.
//!
//! # Codecs
//!
//! [`codec::LineDecoder`] frames a line protocol inside `on_data`: it
//! yields the complete lines in the input as borrowed slices, without
//! copying, and says how many bytes they used; the loop keeps the
//! unfinished line for the next call. An overlong line or one that is not
//! UTF-8 is an error value the handler answers, and the connection goes on.
//! Keep [`Config::max_input_bytes`] at least
//! [`LineDecoder::max_buffered_bytes`](codec::LineDecoder::max_buffered_bytes)
//! (the line limit plus one), or the loop closes a connection before its
//! decoder can report an overlong line.
//!
//! # Threads
//!
//! The loop and every callback run on one thread. Other threads reach it
//! through a [`LoopHandle`] (`Send + Sync + Clone`): [`LoopHandle::send`]
//! delivers a [`Handler::Message`] to [`Handler::on_message`], and
//! [`LoopHandle::stop`] begins a graceful shutdown. With the `signals`
//! feature, `EventLoop::stop_on_signals` makes SIGINT and SIGTERM stop the
//! loop from inside it, keeping the process single-threaded (glibc's
//! `read`/`write` wrappers cost more in a multi-threaded process).
//!
//! To use more than one core, a [`LoopGroup`] runs N such loops, one per
//! thread, each with its own handler built by a factory, serving the same
//! address ([`Spread`] says how they share connections); loops reach each
//! other through [`Peers`], and the group stops as one.
//!
//! # Panics
//!
//! A panic in a callback about one connection closes that connection with
//! [`CloseReason::Panic`] and is logged; the loop serves everyone else.
//! [`Config::panic_policy`] can make it abort instead.
//!
//! # Features
//!
//! - `signals` (off by default): `EventLoop::stop_on_signals`, through
//!   `signal-hook-mio`. Build the docs with `cargo doc -p evloop
//!   --all-features` to see it.
//! - `tls` (off by default): TLS through rustls on its aws-lc-rs provider
//!   (the [`tls`] module).
//!
//! [mio]: https://docs.rs/mio
//! [slab]: https://docs.rs/slab
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

// A `Token` holds a connection's slot index and generation, 32 bits each.
#[cfg(not(target_pointer_width = "64"))]
compile_error!("evloop needs 64-bit tokens: a ConnId packs a 32-bit slot index and a 32-bit generation");

// The internal map (one concept per file; folders are layers):
//
// - the public surface: `handler` (the trait), `ctx` (what a callback may
//   do, and the loop state it acts on), `config`, `id`, `close_reason`,
//   `stats`, `loop_handle` (other threads), `codec` (framing);
// - `event_loop/`: `run` and `turn`, and each step of a turn in its own
//   file: `token`, `listen`, `accept`, `connect`, `open`, `input`,
//   `output`, `offer`, `close`, `linger`, `shutdown`, `messages`,
//   `timers`, `deadlines`, `panic_guard`, `signals`;
// - `conn/`: one connection's state (`Conn`), the table (`table`), its
//   `flags` and `buffer`s;
// - `transport/`: the only code that touches a socket: `Stream` and
//   `Listener` over `tcp` and `unix`;
// - `group/`: N loops, how they share connections, messages between them.
//
// The dependency rule: `codec` depends on nothing; `transport` only on
// std, mio, socket2 and rustix; `conn` on `transport` and ids; `event_loop`
// on everything below it; `group` on the loop's crate API (`EventLoop`,
// `Ctx::add_listener`, `LoopHandle`), never on `Ctx`'s fields. No cycles.
mod close_reason;
pub mod codec;
mod config;
mod conn;
mod ctx;
mod event_loop;
mod group;
mod handler;
mod id;
mod loop_handle;
mod stats;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
mod transport;

pub use close_reason::CloseReason;
pub use config::{Config, PanicPolicy};
pub use ctx::Ctx;
pub use event_loop::EventLoop;
pub use group::{GroupBuilder, GroupHandle, LoopError, LoopExit, LoopGroup, Peers, Spread};
pub use handler::{AfterEof, Handler, Origin, Refusal};
pub use id::{ConnId, TimerId};
pub use loop_handle::{Exited, LoopHandle, SendError};
pub use stats::Stats;
pub use transport::{PeerAddr, PeerCredentials};

/// The README's examples, compiled as doc tests so they stay true (with
/// the `tls` feature, which one of them uses; the workspace turns it on).
#[cfg(all(doctest, feature = "tls"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
