//! Counters the loop keeps as it goes.

use crate::CloseReason;

/// What the loop has done since it was created: connections, bytes and
/// syscalls. Read it with [`EventLoop::stats`](crate::EventLoop::stats) or
/// [`Ctx::stats`](crate::Ctx::stats); it costs an increment per event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections accepted from listeners.
    pub accepted: u64,
    /// Connections accepted and closed at once because
    /// [`Config::max_connections`](crate::Config::max_connections) were open.
    pub rejected: u64,
    /// Outbound connects that completed.
    pub connected: u64,
    /// Outbound connects that failed.
    pub connect_failed: u64,
    /// Connections open now (inbound and outbound, pending connects excluded).
    pub open: u64,
    /// Connections closed, by [`CloseReason::counter_index`] order; read it
    /// with [`Stats::closed`].
    closed_by_reason: [u64; CloseReason::ALL.len()],
    /// Bytes read from sockets (through TLS: the plaintext the
    /// application was given).
    pub bytes_in: u64,
    /// Bytes written to sockets (through TLS: the records carrying the
    /// application's output).
    pub bytes_out: u64,
    /// `read(2)` calls, including the ones that found nothing (through
    /// TLS: reads of plaintext, each one `read(2)` of records or more, and
    /// handshake steps).
    pub read_calls: u64,
    /// `write(2)` calls, including the ones that found the socket full
    /// (through TLS: those carrying the application's output, not the
    /// handshake's or `close_notify`).
    pub write_calls: u64,
    /// `accept(2)` calls, including the last one of a burst that finds none.
    pub accept_calls: u64,
    /// `epoll_wait(2)` calls (loop turns).
    pub poll_calls: u64,
    /// Timers that fired, the loop's own included.
    pub timers_fired: u64,
    /// Messages delivered from other threads.
    pub messages: u64,
    /// TLS handshakes completed (inbound and outbound). Those that failed
    /// or timed out are counted by [`Stats::closed`] with
    /// [`CloseReason::TlsHandshakeFailed`] and
    /// [`CloseReason::TlsHandshakeTimeout`] (inbound) or in
    /// `connect_failed` (outbound).
    pub tls_handshakes: u64,
}

impl Stats {
    /// Connections closed for `reason` (every [`CloseReason::Error`] kind
    /// shares one count).
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::{CloseReason, Stats};
    /// assert_eq!(Stats::default().closed(CloseReason::IdleTimeout), 0);
    /// ```
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed_by_reason[reason.counter_index()]
    }

    /// Connections closed for any reason.
    pub fn closed_total(&self) -> u64 {
        self.closed_by_reason.iter().sum()
    }

    pub(crate) fn count_close(&mut self, reason: CloseReason) {
        self.closed_by_reason[reason.counter_index()] += 1;
        self.open -= 1;
    }

    /// Counts the close of a connection the application never saw (an
    /// inbound TLS handshake that did not complete): not an open one.
    #[cfg(feature = "tls")]
    pub(crate) fn count_unopened_close(&mut self, reason: CloseReason) {
        self.closed_by_reason[reason.counter_index()] += 1;
    }
}

impl std::fmt::Display for Stats {
    /// One line for the log: connections, bytes, syscalls, and every close
    /// reason that happened.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "accepted={} rejected={} connected={} connect_failed={} open={} bytes_in={} bytes_out={} reads={} writes={} accepts={} polls={}",
            self.accepted,
            self.rejected,
            self.connected,
            self.connect_failed,
            self.open,
            self.bytes_in,
            self.bytes_out,
            self.read_calls,
            self.write_calls,
            self.accept_calls,
            self.poll_calls
        )?;
        for reason in CloseReason::ALL {
            let count = self.closed(reason);
            if count > 0 {
                write!(f, " closed[{}]={count}", reason.as_str())?;
            }
        }
        Ok(())
    }
}
