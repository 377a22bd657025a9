//! Every limit and tunable of the loop, with safe defaults.

use std::time::Duration;

/// What the loop does when a callback panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanicPolicy {
    /// Log the panic at error level, close the connection the callback was
    /// about with [`CloseReason::Panic`](crate::CloseReason::Panic), and keep
    /// serving everyone else. A panic in a loop-wide callback (`on_timer`,
    /// `on_message`) is logged and the loop goes on.
    CloseConnection,
    /// Abort the process, as if the loop had no panic guard at all.
    Abort,
}

/// Limits and tunables for an [`EventLoop`](crate::EventLoop).
///
/// Every field has a safe default ([`Config::default`]); override the ones
/// you need with struct update syntax.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use evloop::Config;
///
/// let config = Config {
///     max_connections: 50_000,
///     idle_timeout: Some(Duration::from_secs(30)),
///     ..Config::default()
/// };
/// assert_eq!(config.listen_backlog, 4096);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen backlog passed to `listen(2)`. Default 4096: std's and mio's
    /// defaults (128 and 1024) let a burst of connects time out. The kernel
    /// caps it at `net.core.somaxconn`.
    pub listen_backlog: u32,
    /// Connections (inbound and outbound) open at once. At the limit the loop
    /// accepts each new connection and closes it at once, so the peer sees
    /// a prompt clean close (as Redis does at `maxclients`) instead of
    /// hanging in the kernel backlog; [`Stats::rejected`](crate::Stats::rejected)
    /// counts them, and [`Ctx::connect`](crate::Ctx::connect) fails. In a
    /// [`LoopGroup`](crate::LoopGroup) the limit is per loop, and loops
    /// sharing one listener ([`Spread::SharedListener`](crate::Spread::SharedListener))
    /// refuse only when every one of them is full. A
    /// connection counts from `on_open` (or the connect) to its
    /// `on_close`: a socket lingering after that (see
    /// [`linger_timeout`](Config::linger_timeout)) holds a descriptor but
    /// no slot under this limit. Keep it below the process's file
    /// descriptor limit (`ulimit -n`), with room for that one extra accept
    /// and the lingering sockets. Default 10,000.
    pub max_connections: usize,
    /// Inbound connections open at once from one IP address, refused past
    /// it like [`max_connections`](Config::max_connections) (with
    /// [`Refusal::MaxConnectionsPerIp`](crate::Refusal::MaxConnectionsPerIp)),
    /// so one host cannot take every slot. Counted as `max_connections`
    /// is: a connection the application has closed no longer counts, even
    /// while its socket lingers. Unix-domain peers have no address and are
    /// not counted. `None` (the default) means no limit: behind a proxy or
    /// NAT every client shares one address.
    pub max_connections_per_ip: Option<usize>,
    /// Set `TCP_NODELAY` on every connection (a request/response workload
    /// stalls on Nagle's algorithm otherwise). Default `true`.
    pub tcp_nodelay: bool,
    /// Size of the one loop-wide buffer every read goes into. Default 64 KiB.
    pub read_buffer_bytes: usize,
    /// Bytes read from one connection per turn before the others get theirs.
    /// A connection with more to read is served again on the next turn, so a
    /// client that floods cannot starve the rest. Default 256 KiB.
    pub read_budget_bytes: usize,
    /// Unconsumed input kept for one connection (what `on_data` did not
    /// consume). Past it the connection closes with
    /// [`CloseReason::InputLimit`](crate::CloseReason::InputLimit).
    /// Default 1 MiB.
    pub max_input_bytes: usize,
    /// Queued output above which reading from that connection pauses.
    /// Default 64 KiB.
    pub high_watermark: usize,
    /// Queued output below which a paused connection resumes reading and
    /// `on_drain` fires. Default 32 KiB.
    pub low_watermark: usize,
    /// Queued output past which the connection closes with
    /// [`CloseReason::OutputLimit`](crate::CloseReason::OutputLimit): a peer
    /// that never reads while the application keeps sending. Default 4 MiB.
    pub max_output_bytes: usize,
    /// A connection that makes no progress either way for this long (no
    /// byte read, no byte written) closes with
    /// [`CloseReason::IdleTimeout`](crate::CloseReason::IdleTimeout). Time
    /// with reading paused, by [`Ctx::pause_read`](crate::Ctx::pause_read)
    /// or by backpressure above [`high_watermark`](Config::high_watermark),
    /// does not count: a peer slow to read is
    /// [`write_timeout`](Config::write_timeout)'s to judge.
    ///
    /// Output the kernel has taken is progress the loop cannot see: one
    /// large send the kernel swallows whole (its buffers grow to megabytes)
    /// may still be on its way while the loop counts the time as idle. So
    /// the close is graceful when no output waits in the loop: FIN after
    /// the kernel's last byte, then the linger, and the peer gets every
    /// byte sent; a long download that keeps moving is never cut short
    /// (the connection may close under its tail, which still arrives).
    /// With output waiting in the loop (a peer that stopped reading) it
    /// closes with a reset. `None` disables it. Default 5 minutes.
    pub idle_timeout: Option<Duration>,
    /// A connection whose queued output makes no progress for this long (a
    /// peer that stopped reading) closes with
    /// [`CloseReason::WriteTimeout`](crate::CloseReason::WriteTimeout), with
    /// a reset; it closes within about 1.1 times this (see the probe in the
    /// crate docs' `# Backpressure`). `None` disables it. Default 30
    /// seconds.
    pub write_timeout: Option<Duration>,
    /// After a graceful close (output flushed, FIN sent) of a connection
    /// whose peer has not closed its side, how long the loop keeps reading
    /// and dropping the peer's input, waiting for its end of file, before it
    /// closes the socket. Without it, input arriving after the close would
    /// make the kernel reset the connection, and the peer would lose what
    /// it had not read yet. The FIN itself waits until the kernel has sent
    /// every byte written (a reset discards what it has not), for up to
    /// [`write_timeout`](Config::write_timeout) (or this, if longer; while
    /// the loop stops, [`shutdown_timeout`](Config::shutdown_timeout)
    /// bounds everything), so a peer that keeps sending while it reads
    /// still gets everything; this timeout counts from the FIN. `Duration::ZERO` closes at once.
    /// Default 2 seconds.
    pub linger_timeout: Duration,
    /// An outbound connect still pending after this long fails with
    /// `ErrorKind::TimedOut`. Default 10 seconds.
    pub connect_timeout: Duration,
    /// A TLS handshake (feature `tls`) not complete this long after the
    /// connection was accepted, or its TCP connect completed, is abandoned:
    /// an inbound one closes with
    /// [`CloseReason::TlsHandshakeTimeout`](crate::CloseReason::TlsHandshakeTimeout)
    /// without reaching the handler, an outbound one fails with
    /// `ErrorKind::TimedOut`. So a peer that opens connections and never
    /// finishes a handshake (or sends it a byte a second) holds a slot for
    /// this long at most. Default 10 seconds.
    pub tls_handshake_timeout: Duration,
    /// On stop, how long queued output may take to flush before every
    /// connection is closed regardless. Default 5 seconds.
    pub shutdown_timeout: Duration,
    /// After `accept` fails with EMFILE/ENFILE (out of file descriptors),
    /// wait this long before accepting again instead of spinning.
    /// Default 100 ms.
    pub accept_backoff: Duration,
    /// Readiness events taken from one `poll` call. Default 1024.
    pub events_capacity: usize,
    /// Messages from other threads waiting for the loop, past which
    /// [`LoopHandle::send`](crate::LoopHandle::send) fails with
    /// [`SendError::Full`](crate::SendError::Full) instead of letting a
    /// producer faster than the loop grow memory without bound. Allocated
    /// up front. Default 4096.
    pub message_queue_capacity: usize,
    /// What a panicking callback does. Default
    /// [`PanicPolicy::CloseConnection`].
    pub panic_policy: PanicPolicy,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen_backlog: 4096,
            max_connections: 10_000,
            max_connections_per_ip: None,
            tcp_nodelay: true,
            read_buffer_bytes: 64 * 1024,
            read_budget_bytes: 256 * 1024,
            max_input_bytes: 1024 * 1024,
            high_watermark: 64 * 1024,
            low_watermark: 32 * 1024,
            max_output_bytes: 4 * 1024 * 1024,
            idle_timeout: Some(Duration::from_secs(300)),
            write_timeout: Some(Duration::from_secs(30)),
            linger_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(5),
            accept_backoff: Duration::from_millis(100),
            events_capacity: 1024,
            message_queue_capacity: 4096,
            panic_policy: PanicPolicy::CloseConnection,
        }
    }
}

impl Config {
    /// Checks that the limits are consistent with each other.
    pub(crate) fn validate(&self) -> std::io::Result<()> {
        let invalid = |what: &str| Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string()));
        if self.read_buffer_bytes == 0 || self.read_budget_bytes == 0 {
            return invalid("read_buffer_bytes and read_budget_bytes must be positive");
        }
        if self.low_watermark > self.high_watermark || self.high_watermark > self.max_output_bytes {
            return invalid("need low_watermark <= high_watermark <= max_output_bytes");
        }
        if self.max_connections == 0 || self.max_connections > crate::event_loop::MAX_CONN_INDEX as usize {
            return invalid("max_connections must be between 1 and about 4 billion");
        }
        if self.max_connections_per_ip == Some(0) {
            return invalid("max_connections_per_ip must be positive (None for no limit)");
        }
        if self.events_capacity == 0 || self.message_queue_capacity == 0 {
            return invalid("events_capacity and message_queue_capacity must be positive");
        }
        Ok(())
    }
}
