//! Per-connection I/O state: the socket, its buffers, and what it waits for.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use slab::Slab;

use crate::buffer::Buffer;
use crate::{CloseReason, ConnId, Origin, Stats, TimerId};

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// An outbound connect is in flight; `on_open` has not fired.
    Connecting,
    /// Open: `on_open` fired, so `on_close` will.
    Open,
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opened {
    pub(crate) origin: Origin,
    pub(crate) peer: SocketAddr,
    pub(crate) now: Instant,
    pub(crate) max_input_bytes: usize,
    pub(crate) max_output_bytes: usize,
}

/// One connection's I/O state. The application's state lives beside it,
/// at the same slab index, in the event loop.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) generation: u32,
    pub(crate) phase: Phase,
    /// Accepted from which listener, or connected out.
    pub(crate) origin: Origin,
    /// The peer's address, kept so logs and `Ctx::peer_addr` need no
    /// syscall, and so it is still known after a reset.
    pub(crate) peer: SocketAddr,
    /// This connection's [`Config::max_input_bytes`](crate::Config::max_input_bytes),
    /// which the application may change for it.
    pub(crate) max_input_bytes: usize,
    /// This connection's [`Config::max_output_bytes`](crate::Config::max_output_bytes).
    pub(crate) max_output_bytes: usize,
    pub(crate) closing: Closing,
    /// Input `on_data` left unconsumed.
    pub(crate) input: Buffer,
    /// Output the socket has not taken yet.
    pub(crate) output: Buffer,
    /// Readiness seen and not yet drained (edge-triggered: no second edge
    /// comes until we read to `WouldBlock` or a short read).
    pub(crate) readable: bool,
    /// The peer's FIN or an error was signalled; read until end of file
    /// even after a short read, or the EOF would never be seen.
    pub(crate) read_to_end: bool,
    /// The socket took the last write whole; false until a writable edge.
    pub(crate) writable: bool,
    /// End of file read from the peer.
    pub(crate) read_closed: bool,
    /// `shutdown_write` asked for: send FIN once output is flushed.
    pub(crate) shutdown_pending: bool,
    /// FIN sent.
    pub(crate) write_closed: bool,
    /// The application paused reading.
    pub(crate) paused_by_app: bool,
    /// Queued output passed the high watermark.
    pub(crate) paused_by_output: bool,
    /// Already waiting on the ready list.
    pub(crate) on_ready_list: bool,
    pub(crate) last_input: Instant,
    pub(crate) last_write_progress: Instant,
    /// The idle check, or while connecting, the connect timeout.
    pub(crate) deadline_timer: Option<TimerId>,
    pub(crate) write_timer: Option<TimerId>,
    /// Timers the application set for this connection, cancelled on close.
    pub(crate) app_timers: Vec<TimerId>,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, generation: u32, phase: Phase, opened: Opened) -> Conn {
        let Opened { origin, peer, now, max_input_bytes, max_output_bytes } = opened;
        Conn {
            stream,
            generation,
            phase,
            origin,
            peer,
            max_input_bytes,
            max_output_bytes,
            closing: Closing::No,
            input: Buffer::default(),
            output: Buffer::default(),
            readable: false,
            read_to_end: false,
            writable: phase == Phase::Open,
            read_closed: false,
            shutdown_pending: false,
            write_closed: false,
            paused_by_app: false,
            paused_by_output: false,
            on_ready_list: false,
            last_input: now,
            last_write_progress: now,
            deadline_timer: None,
            write_timer: None,
            app_timers: Vec::new(),
        }
    }

    /// Whether reading should go on now.
    pub(crate) fn wants_read(&self) -> bool {
        self.phase == Phase::Open
            && self.closing == Closing::No
            && !self.read_closed
            && !self.paused_by_app
            && !self.paused_by_output
    }

    /// Whether `send` may still add output.
    pub(crate) fn accepts_output(&self) -> bool {
        self.closing == Closing::No && !self.shutdown_pending && !self.write_closed
    }

    /// Writes as much of `data` as the socket takes without blocking and
    /// returns how much that was.
    pub(crate) fn write_some(&mut self, data: &[u8], stats: &mut Stats, now: Instant) -> io::Result<usize> {
        if !self.writable {
            return Ok(0);
        }
        let n = write_nonblocking(&mut self.stream, &mut self.writable, data, stats)?;
        if n > 0 {
            self.last_write_progress = now;
        }
        Ok(n)
    }

    /// Writes queued output until the socket is full or the queue is empty.
    pub(crate) fn flush(&mut self, stats: &mut Stats, now: Instant) -> io::Result<()> {
        while self.writable && !self.output.is_empty() {
            let n = write_nonblocking(&mut self.stream, &mut self.writable, self.output.as_slice(), stats)?;
            if n > 0 {
                self.last_write_progress = now;
            }
            self.output.consume(n);
        }
        Ok(())
    }
}

/// The connection `id` names, if it is still in its slot. A free function
/// over the slab alone, so callers can borrow the loop's other fields
/// (stats, timers) beside it.
pub(crate) fn lookup(conns: &mut Slab<Conn>, id: ConnId) -> Option<&mut Conn> {
    conns.get_mut(id.index() as usize).filter(|c| c.generation == id.generation())
}

/// One `write(2)`. A short write means the send buffer is full, so
/// `writable` drops until the next writable edge and no second call is
/// wasted on `EAGAIN`.
fn write_nonblocking(stream: &mut TcpStream, writable: &mut bool, data: &[u8], stats: &mut Stats) -> io::Result<usize> {
    stats.write_calls += 1;
    match stream.write(data) {
        Ok(n) => {
            stats.bytes_out += n as u64;
            if n < data.len() {
                *writable = false;
            }
            Ok(n)
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            *writable = false;
            Ok(0)
        }
        // A nonblocking socket is not interrupted by signals; should it ever
        // be, treat the socket as full and wait for the writable edge.
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            *writable = false;
            Ok(0)
        }
        Err(e) => Err(e),
    }
}
