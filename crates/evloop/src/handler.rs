//! The trait an application implements.

use std::io;

use crate::{CloseReason, ConnId, Ctx, PeerAddr, TimerId};

/// Why the loop turned a new connection away at accept: passed to
/// [`Handler::on_refused`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// [`Config::max_connections`](crate::Config::max_connections) are open.
    MaxConnections,
    /// The peer's address already has
    /// [`Config::max_connections_per_ip`](crate::Config::max_connections_per_ip)
    /// open.
    MaxConnectionsPerIp,
}

/// How a connection came to be: passed to [`Handler::on_open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Accepted from the listener with this index (the order of
    /// [`EventLoop::listen`](crate::EventLoop::listen) calls, from 0).
    Inbound {
        /// Which listener accepted it.
        listener: usize,
    },
    /// Opened by [`Ctx::connect`](crate::Ctx::connect) or
    /// [`EventLoop::connect`](crate::EventLoop::connect).
    Outbound,
}

/// What to do once the peer has closed its side: returned by
/// [`Handler::on_eof`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEof {
    /// Flush queued output, then close with
    /// [`CloseReason::PeerClosed`]. The default.
    Close,
    /// Keep the connection half-open: the application may go on sending and
    /// closes it later (or calls [`Ctx::shutdown_write`]).
    KeepWriting,
}

/// An application on the loop: one value serves every connection.
///
/// Only [`on_open`](Handler::on_open) and [`on_data`](Handler::on_data) are
/// required; every other callback has a default that does nothing (or, for
/// `on_eof`, closes). Each callback gets the [`Ctx`], through which it may
/// act on any connection, not only its own (a broadcast is a loop over ids).
///
/// # Per-connection state
///
/// [`Handler::Conn`] is what the application keeps per connection (a parser
/// state, a nick, a session). `on_open` returns it, the loop stores it beside
/// the connection in its slab and hands it back as `&mut` to every callback
/// about that connection, and by value to `on_close`. No map, no lookup.
///
/// # Guarantees
///
/// - `on_close` fires exactly once for every connection `on_open` saw, with
///   the reason it closed, and after it the [`ConnId`] is stale forever.
/// - A connect that never opened gets `on_connect_failed` instead, and no
///   `on_open` or `on_close`.
/// - Callbacks run on the loop thread, one at a time.
///
/// # Examples
///
/// ```
/// use evloop::{ConnId, Ctx, Handler, Origin};
///
/// /// Counts the bytes each connection echoed.
/// struct CountingEcho;
///
/// impl Handler for CountingEcho {
///     type Conn = u64;
///     type Message = ();
///
///     fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> u64 {
///         0
///     }
///
///     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, echoed: &mut u64, data: &[u8]) -> usize {
///         cx.send(id, data);
///         *echoed += data.len() as u64;
///         data.len()
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let mut el = evloop::EventLoop::new(evloop::Config::default(), CountingEcho)?;
/// el.listen("127.0.0.1:0".parse().unwrap())?;
/// # Ok(())
/// # }
/// ```
pub trait Handler {
    /// State the application keeps per connection.
    type Conn;
    /// What other threads send through a [`LoopHandle`](crate::LoopHandle);
    /// use `()` if none.
    type Message: Send + 'static;

    /// A connection opened: accepted from a listener, or an outbound connect
    /// that completed. Returns the connection's state.
    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) -> Self::Conn;

    /// Input arrived. Returns how many bytes of `data` were consumed (a
    /// return larger than `data.len()` counts as `data.len()`); the rest is
    /// kept, at the front of the next `data`, bounded by the connection's
    /// [`Config::max_input_bytes`](crate::Config::max_input_bytes).
    ///
    /// # When unconsumed input is offered again
    ///
    /// A handler may stop early: after one request, when
    /// [`Ctx::is_writable`] turns `false` (pipelined replies past the high
    /// watermark), or after [`Ctx::pause_read`]. The loop then offers what
    /// is left again, without waiting for new bytes:
    ///
    /// - at once (within the connection's read budget for the turn, else
    ///   next turn) if this call consumed something: progress was made, so
    ///   more may be;
    /// - when reading resumes: [`Ctx::resume_read`], or queued output
    ///   falling below [`Config::low_watermark`](crate::Config::low_watermark)
    ///   after passing the high one, and once more after
    ///   [`on_drain`](Handler::on_drain) returns (it may have finished what
    ///   kept the handler from taking the input);
    /// - never while reading is paused, by the application or by output
    ///   above the high watermark;
    /// - never after a call that consumed nothing, until more bytes arrive
    ///   (or reading resumes): a handler waiting for the rest of a frame is
    ///   not called in a loop.
    ///
    /// What is still unconsumed at the peer's end of file goes to
    /// [`on_eof`](Handler::on_eof).
    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Self::Conn, data: &[u8]) -> usize;

    /// The peer closed its side; no more data will arrive. `unconsumed` is
    /// what `on_data` left unconsumed, now never to be completed (a last
    /// line without its newline, say: Netty's `decodeLast`); it is freed
    /// when this returns. By default the connection flushes its queued
    /// output and closes.
    fn on_eof(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Self::Conn, unconsumed: &[u8]) -> AfterEof {
        let _ = (cx, id, conn, unconsumed);
        AfterEof::Close
    }

    /// Queued output fell below [`Config::low_watermark`](crate::Config::low_watermark)
    /// after having passed the high watermark; reading has resumed. The
    /// place to produce the next piece of a large reply or a download.
    fn on_drain(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Self::Conn) {
        let _ = (cx, id, conn);
    }

    /// The connection closed, for `reason`; its state is handed back. The id
    /// is already stale: sending to it does nothing. After a graceful close
    /// the socket may linger a little longer (see
    /// [`Config::linger_timeout`](crate::Config::linger_timeout)), invisible
    /// to the application.
    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, conn: Self::Conn, reason: CloseReason) {
        let _ = (cx, id, conn, reason);
    }

    /// An outbound connect failed with `error` (refused, unreachable, timed
    /// out, ...); `id` never opened.
    fn on_connect_failed(&mut self, cx: &mut Ctx, id: ConnId, error: io::Error) {
        let _ = (cx, id, error);
    }

    /// A loop-wide timer set with [`Ctx::set_timer`] fired.
    fn on_timer(&mut self, cx: &mut Ctx, timer: TimerId, key: u64) {
        let _ = (cx, timer, key);
    }

    /// A timer of this connection, set with [`Ctx::set_conn_timer`], fired.
    /// Never called after the connection's `on_close`.
    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Self::Conn, timer: TimerId, key: u64) {
        let _ = (cx, id, conn, timer, key);
    }

    /// The loop is stopping: listeners are closed and every connection is
    /// about to flush and close with [`CloseReason::Shutdown`]. The last
    /// chance to send a goodbye. A connection closed here with
    /// [`Ctx::close`] keeps that call's promise (every byte, then end of
    /// file, lingering if the peer still sends), as while the loop runs;
    /// only the loop's own shutdown closes skip the linger for a peer that
    /// shows no input.
    fn on_stop(&mut self, cx: &mut Ctx) {
        let _ = cx;
    }

    /// A connection from `peer` was accepted and is being turned away for
    /// `why`. Returns a short message to write to it first (Redis answers
    /// `-ERR max number of clients reached`); by default nothing.
    ///
    /// Best effort: the loop makes one nonblocking write of it, then closes
    /// the socket as a graceful close does: FIN, and a linger that reads
    /// and drops what the peer sends until its end of file or
    /// [`Config::linger_timeout`](crate::Config::linger_timeout), so a peer
    /// that sent something before it was refused still reads the message
    /// (closing with its input unread would reset it). At most
    /// [`Config::max_connections`](crate::Config::max_connections) refused
    /// sockets linger at once; past that they close at once. The
    /// connection never reaches `on_open` or `on_close`, holds no slot
    /// under the limits, and only [`Stats::rejected`](crate::Stats::rejected)
    /// counts it.
    fn on_refused(&mut self, peer: &PeerAddr, why: Refusal) -> &[u8] {
        let _ = (peer, why);
        &[]
    }

    /// A message from another thread, sent with
    /// [`LoopHandle::send`](crate::LoopHandle::send).
    fn on_message(&mut self, cx: &mut Ctx, message: Self::Message) {
        let _ = (cx, message);
    }
}
