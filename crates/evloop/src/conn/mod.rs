//! Per-connection I/O state: the socket, its buffers, and what it waits for.

mod buffer;
mod flags;
mod table;

use std::io;
use std::time::Instant;

use log::debug;

pub(crate) use self::buffer::{Buffer, SpareOutput};
pub(crate) use self::flags::Flags;
pub(crate) use self::table::Conns;
use crate::transport::{PeerAddr, Stream};
use crate::{CloseReason, Origin, Stats, TimerId};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// An outbound connect is in flight; `on_open` has not fired.
    Connecting,
    /// Connected, and the TLS handshake under way (`transport/tls.rs`);
    /// `on_open` has not fired. It shares the `CONNECTING` flag: neither
    /// reads for the application nor writes its output.
    #[cfg(feature = "tls")]
    Handshaking,
    /// Open: `on_open` fired, so `on_close` will.
    Open,
    /// Closed for the application (`on_close` fired, its id is stale), but
    /// the socket stays until the peer's end of file or the linger timeout:
    /// its FIN is sent, and input arriving meanwhile is read and dropped,
    /// because closing a socket with unread input makes Linux send RST and
    /// discard output still in flight to the peer.
    Lingering,
}

impl Phase {
    /// Whether `on_open` has yet to fire: connecting, or handshaking.
    #[inline]
    pub(crate) fn is_unopened(self) -> bool {
        match self {
            Phase::Connecting => true,
            #[cfg(feature = "tls")]
            Phase::Handshaking => true,
            Phase::Open | Phase::Lingering => false,
        }
    }
}

/// How a connection is to end, once it has been asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closing {
    /// Not closing.
    No,
    /// Flush queued output, then close with this reason.
    AfterFlush(CloseReason),
    /// Close at the end of this dispatch, dropping queued output.
    Now(CloseReason),
}

/// Where a new connection comes from and the limits it starts with.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    pub(crate) origin: Origin,
    pub(crate) peer: PeerAddr,
    pub(crate) now: Instant,
    pub(crate) max_input_bytes: usize,
    pub(crate) max_output_bytes: usize,
}

/// One connection's I/O state. The application's state lives beside it,
/// at the same slab index, in the event loop.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    pub(crate) generation: u32,
    /// Read through `phase()`, written through `set_phase`, which keeps
    /// the `CONNECTING` and `LINGERING` flags in step.
    phase: Phase,
    /// Read through `closing()`, written through `set_closing`, which keeps
    /// the `CLOSING` flag in step.
    closing: Closing,
    /// The yes/no state (`flags.rs`).
    pub(crate) flags: Flags,
    /// The peer's address, kept so logs and `Ctx::peer_addr` need no
    /// syscall, and so it is still known after a reset.
    pub(crate) peer: PeerAddr,
    /// This connection's [`Config::max_input_bytes`](crate::Config::max_input_bytes),
    /// which the application may change for it.
    pub(crate) max_input_bytes: usize,
    /// This connection's [`Config::max_output_bytes`](crate::Config::max_output_bytes).
    pub(crate) max_output_bytes: usize,
    /// Input `on_data` left unconsumed.
    pub(crate) input: Buffer,
    /// Output not written yet: sends since the last flush, and what the
    /// socket did not take.
    pub(crate) output: Buffer,
    /// The turn of the last `write(2)`: one per connection per turn.
    pub(crate) written_turn: u64,
    /// The turn `read_in_turn` counts for.
    pub(crate) read_turn: u64,
    /// Bytes read from the socket and re-offered in `read_turn`, against
    /// [`Config::read_budget_bytes`](crate::Config::read_budget_bytes).
    pub(crate) read_in_turn: usize,
    /// The read side of the idle clock: the last input, or when reading
    /// last resumed, since paused time does not count.
    pub(crate) last_input: Instant,
    /// The last write that made progress, or when output began to wait.
    pub(crate) last_write_progress: Instant,
    /// The idle check; while connecting, the connect timeout; while
    /// lingering, the linger timeout.
    pub(crate) deadline_timer: Option<TimerId>,
    pub(crate) write_timer: Option<TimerId>,
    /// Timers the application set for this connection, cancelled on close.
    /// Each timer knows its position here, so cancelling one is O(1).
    pub(crate) app_timers: Vec<TimerId>,
}

impl Conn {
    pub(crate) fn new(stream: Stream, generation: u32, phase: Phase, opened: Opened) -> Conn {
        let Opened { origin, peer, now, max_input_bytes, max_output_bytes } = opened;
        let mut conn = Conn {
            stream,
            generation,
            phase,
            closing: Closing::No,
            flags: Flags::default(),
            peer,
            max_input_bytes,
            max_output_bytes,
            input: Buffer::default(),
            output: Buffer::default(),
            written_turn: 0,
            read_turn: 0,
            read_in_turn: 0,
            last_input: now,
            last_write_progress: now,
            deadline_timer: None,
            write_timer: None,
            app_timers: Vec::new(),
        };
        // The phase's own bits, from the one place that sets them.
        conn.set_phase(phase);
        conn.flags.set(Flags::WRITABLE, phase == Phase::Open);
        conn.flags.set(Flags::INBOUND, matches!(origin, Origin::Inbound { .. }));
        conn
    }

    /// Where the connection is in its life.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    pub(crate) fn set_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.flags.set(Flags::CONNECTING, phase.is_unopened());
        self.flags.set(Flags::LINGERING, phase == Phase::Lingering);
    }

    /// How the connection is to end, if it has been asked to.
    #[inline]
    pub(crate) fn closing(&self) -> Closing {
        self.closing
    }

    pub(crate) fn set_closing(&mut self, closing: Closing) {
        self.closing = closing;
        self.flags.set(Flags::CLOSING, closing != Closing::No);
    }

    /// Whether the application can still see this connection (its id is
    /// not stale yet).
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        !self.flags.any(Flags::LINGERING)
    }

    /// Whether input should be taken now: read from the socket or offered
    /// from the buffer.
    #[inline]
    pub(crate) fn wants_read(&self) -> bool {
        !self.flags.any(Flags::NO_READ)
    }

    /// Whether buffered input should be offered to `on_data` again without
    /// new bytes: the handler made progress on it last time.
    #[inline]
    pub(crate) fn has_offerable_input(&self) -> bool {
        !self.flags.any(Flags::INPUT_STALLED) && !self.input.is_empty()
    }

    /// Whether `send` may still add output.
    #[inline]
    pub(crate) fn accepts_output(&self) -> bool {
        !self.flags.any(Flags::NO_OUTPUT)
    }

    /// Bytes of the read budget left in `turn`.
    #[inline]
    pub(crate) fn read_budget_left(&mut self, turn: u64, budget: usize) -> usize {
        if self.read_turn != turn {
            self.read_turn = turn;
            self.read_in_turn = 0;
        }
        budget.saturating_sub(self.read_in_turn)
    }

    /// Whether output waits: plaintext in the queue, or (through TLS)
    /// records the socket has not taken yet.
    #[inline]
    pub(crate) fn has_output(&self) -> bool {
        !self.output.is_empty() || self.stream.queued_tls() > 0
    }

    /// One `write(2)` of the queued output, if the socket may take it.
    /// Output is one contiguous buffer, so one write says all a `writev`
    /// would. Returns the bytes written.
    pub(crate) fn write_output(&mut self, stats: &mut Stats, now: Instant, turn: u64) -> io::Result<usize> {
        if !self.flags.any(Flags::WRITABLE) || !self.has_output() {
            return Ok(0);
        }
        self.written_turn = turn;
        #[cfg(feature = "tls")]
        if let Stream::Tls(tls) = &mut self.stream {
            let plaintext = self.output.len();
            let n = write_tls(tls, &mut self.flags, self.output.as_slice(), &[], stats)?;
            self.output.consume_keeping(plaintext);
            if n > 0 {
                self.wrote_at(now);
            }
            return Ok(n);
        }
        let n = write_nonblocking(&mut self.stream, &mut self.flags, self.output.as_slice(), &[], stats)?;
        if n > 0 {
            self.wrote_at(now);
            self.output.consume_keeping(n);
        }
        Ok(n)
    }

    /// Output moved at `now`: the write timeout measures a stall from here,
    /// and a probe it was waiting on is answered.
    #[inline]
    pub(crate) fn wrote_at(&mut self, now: Instant) {
        self.last_write_progress = now;
        self.flags.remove(Flags::WRITE_PROBED);
    }

    /// Output begins to wait in the (empty) queue at `now`: the write
    /// timeout measures a stall from here, not from the last time output
    /// moved, which may be long ago; and the queue takes a spare buffer
    /// rather than allocating one.
    pub(crate) fn begin_queueing(&mut self, now: Instant, spare: &mut SpareOutput) {
        debug_assert!(self.output.is_empty());
        // Records still waiting from before keep their stall clock.
        if self.stream.queued_tls() == 0 {
            self.last_write_progress = now;
        }
        if !self.output.has_storage() {
            if let Some(storage) = spare.take() {
                self.output.adopt(storage);
            }
        }
    }

    /// Whether nothing follows from a write that left this connection's
    /// output empty: no buffer to give back, no reading to resume, no FIN
    /// or close waiting for the flush.
    #[inline]
    pub(crate) fn settled_after_write(&self) -> bool {
        !self.output.has_storage() && !self.flags.any(Flags::WAITING_ON_FLUSH)
    }

    /// Makes closing this connection's socket abortive (a reset on TCP),
    /// so the peer cannot take a truncated stream for a complete one.
    pub(crate) fn reset_on_close(&self) {
        if let Err(e) = self.stream.reset_on_close() {
            debug!("SO_LINGER 0 on a closing socket: {e}");
        }
    }

    /// Why the connection closes after the peer's end of file: the peer
    /// closed, or through TLS, closed without `close_notify` (a stream
    /// that may have been cut short).
    pub(crate) fn eof_reason(&self) -> CloseReason {
        match &self.stream {
            #[cfg(feature = "tls")]
            Stream::Tls(tls) if tls.session.is_truncated() => CloseReason::TlsTruncated,
            _ => CloseReason::PeerClosed,
        }
    }

    /// The most recent progress either way: bytes read or bytes written.
    pub(crate) fn last_progress(&self) -> Instant {
        self.last_input.max(self.last_write_progress)
    }
}

/// One `write(2)` of `first` then `second` (`writev(2)` if both hold
/// bytes). A short write means the send buffer is full, so `WRITABLE` drops
/// until the next writable edge and no second call is wasted on `EAGAIN`.
/// Inlined into the read loop's offered write (the echo's hot path), as it
/// was before the transport had two kinds (`instructions_per_message.sh`).
#[inline(always)]
pub(crate) fn write_nonblocking(
    stream: &mut Stream,
    flags: &mut Flags,
    first: &[u8],
    second: &[u8],
    stats: &mut Stats,
) -> io::Result<usize> {
    stats.write_calls += 1;
    let written = stream.write(first, second);
    match written {
        Ok(n) => {
            stats.bytes_out += n as u64;
            if n < first.len() + second.len() {
                flags.remove(Flags::WRITABLE);
            }
            Ok(n)
        }
        // A nonblocking socket is not interrupted by signals; should it ever
        // be, treat the socket as full and wait for the writable edge.
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {
            flags.remove(Flags::WRITABLE);
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

/// Through TLS, the write `write_nonblocking` makes on a plaintext socket:
/// `first` then `second` are encrypted together (as few records as their
/// length allows), then every queued record goes out in one `writev(2)`.
/// The plaintext is always taken whole; what the socket does not take
/// stays queued in the session, counted by `Stream::queued_tls`, and
/// `WRITABLE` drops until the next writable edge. Returns the ciphertext
/// bytes the socket took (progress, for the write timeout).
#[cfg(feature = "tls")]
#[cold]
pub(crate) fn write_tls(
    tls: &mut crate::transport::tls::TlsStream,
    flags: &mut Flags,
    first: &[u8],
    second: &[u8],
    stats: &mut Stats,
) -> io::Result<usize> {
    tls.session.send(first, second)?;
    if tls.session.queued_tls() == 0 {
        return Ok(0);
    }
    stats.write_calls += 1;
    let written = match tls.write_queued() {
        Ok(n) => n,
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => 0,
        Err(e) => return Err(e),
    };
    stats.bytes_out += written as u64;
    if tls.session.queued_tls() > 0 {
        flags.remove(Flags::WRITABLE);
    }
    Ok(written)
}
