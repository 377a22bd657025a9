//! TLS over any byte stream: a rustls session between the loop and a
//! socket, stated operation by operation against the syscall it stands for.
//!
//! The loop reads ciphertext from the socket, takes plaintext out for
//! `on_data`, gathers the handler's plaintext sends, and writes every
//! pending record in one `write`. This file is the only place that knows
//! rustls; the socket is any `Read + Write` (a TCP or Unix stream), passed
//! to each call, so the session holds no socket of its own.
//!
//! # Buffers, and why the buffered API
//!
//! rustls's buffered `Connection` keeps, per session, a ciphertext buffer
//! for incoming records (4 KiB once a read has found the socket empty; up
//! to one record, 16 KiB + 325 B, while a record is incomplete), the
//! plaintext of records not read out yet, and records not written yet. The
//! loop takes plaintext out after every read, and writes pending records
//! every turn, so an idle session holds only the first (and its keys):
//! 7.7 KiB of heap per idle server session, the 1.2 KiB `ServerConnection`
//! itself included, after a handshake and an exchange, bulk or not, as
//! `benches/src/bin/tls_idle_heap.rs` measures it (without the shrink in
//! `read_tls` below, 35.8 KiB after a 40 kB request). rustls 0.23's unbuffered API would
//! save the 4 KiB incoming buffer but still copies each record's plaintext
//! into a buffer of its own (no in-place decryption yet), so it saves no
//! copy; the buffered API is kept until the idle figure says otherwise.
//! evloop itself adds no buffer to an idle TLS connection: plaintext is read
//! out into the loop-wide read buffer, and gathered sends live in the
//! connection's output buffer only until the turn's flush encrypts them.
//!
//! # Contract
//!
//! - [`read_tls`](TlsSession::read_tls) is one `read(2)` on the socket, of
//!   at most the room rustls offers (4 KiB past any incomplete record), and
//!   processes what it read. A read shorter than asked proves a stream
//!   socket drained (epoll(7)), as for plaintext; but the session may now
//!   hold plaintext the socket no longer shows, so the loop offers
//!   [`plaintext_len`](TlsSession::plaintext_len) before it sleeps.
//! - [`send`](TlsSession::send) encrypts plaintext at once into records of
//!   up to 16 KiB: the loop gathers a turn's sends and hands them over in
//!   one call, so many small replies become few records, not one each.
//! - [`write_tls`](TlsSession::write_tls) is one `writev(2)` of every
//!   pending record (rustls gathers up to 64 in one call): a short write is
//!   possible, and the rest waits in rustls for the writable edge.
//! - [`queued_tls`](TlsSession::queued_tls) is the ciphertext waiting, so
//!   watermarks can count both sides.
//! - A peer's `close_notify` is an end of file; an end of file without it
//!   is a truncation, which [`TlsRead::Eof`] tells apart.

use std::cell::Cell;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::Stream;

/// What one [`TlsSession::read_tls`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsRead {
    /// `bytes` of ciphertext were read and processed. `drained`: the read
    /// returned fewer bytes than it asked for, which on a stream socket
    /// proves it empty (epoll(7)) — though plaintext may be held.
    Data { bytes: usize, drained: bool },
    /// No more input: the peer sent `close_notify` (`clean`), or the socket
    /// reached its end of file without one (a truncation: an attacker, or a
    /// peer that crashed, cut the stream, and what came before may be
    /// incomplete).
    Eof { clean: bool },
}

/// One TLS session, server or client side, over a socket it does not own.
pub(crate) struct TlsSession {
    conn: Connection,
    /// rustls's own counts, kept in step after every call that can change
    /// them, so that reading one costs a load: ciphertext queued, not
    /// written yet; plaintext decrypted, not taken out yet.
    queued_tls: usize,
    plaintext: usize,
    /// The peer's `close_notify` has arrived.
    peer_closed: bool,
    /// The last `read`'s socket read was short or found nothing: the
    /// socket is drained (epoll(7)).
    socket_drained: bool,
    /// The end of input has been read: `close_notify`, or end of file.
    at_eof: bool,
    /// The socket's end of file came without `close_notify`.
    truncated: bool,
    /// An error `read` found after plaintext it returned first.
    failed: Option<io::Error>,
}

impl fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("server", &matches!(self.conn, Connection::Server(_)))
            .field("handshaking", &self.conn.is_handshaking())
            .field("queued_tls", &self.queued_tls)
            .finish_non_exhaustive()
    }
}

impl TlsSession {
    /// A server session: it waits for the client's hello.
    ///
    /// # Errors
    ///
    /// What rustls returns for a config it cannot serve (no usable protocol
    /// version or cipher suite), as `InvalidInput`.
    pub(crate) fn server(config: Arc<ServerConfig>) -> io::Result<TlsSession> {
        let conn = ServerConnection::new(config).map_err(invalid_input)?;
        Ok(TlsSession::new(Connection::Server(conn)))
    }

    /// A client session for `server_name` (sent as SNI, and the name the
    /// server's certificate must bear); its hello is queued at once.
    ///
    /// # Errors
    ///
    /// As [`server`](TlsSession::server).
    pub(crate) fn client(config: Arc<ClientConfig>, server_name: ServerName<'static>) -> io::Result<TlsSession> {
        let conn = ClientConnection::new(config, server_name).map_err(invalid_input)?;
        Ok(TlsSession::new(Connection::Client(conn)))
    }

    fn new(mut conn: Connection) -> TlsSession {
        // The loop bounds output itself (watermarks, `max_output_bytes`), so
        // rustls takes every send whole instead of a part of it.
        conn.set_buffer_limit(None);
        let mut session = TlsSession {
            conn,
            queued_tls: 0,
            plaintext: 0,
            peer_closed: false,
            socket_drained: false,
            at_eof: false,
            truncated: false,
            failed: None,
        };
        session.refresh_counts();
        session
    }

    /// Whether the handshake is still under way: the application has not
    /// seen this connection yet.
    #[inline]
    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// One `read(2)` of ciphertext from `socket`, processed at once:
    /// handshake messages answered (the answer waits in
    /// [`queued_tls`](TlsSession::queued_tls)), records decrypted into
    /// plaintext held for [`read_plaintext`](TlsSession::read_plaintext).
    /// Once `close_notify` has arrived nothing more is read: every further
    /// call is `Eof { clean: true }` without a syscall.
    ///
    /// Take the plaintext out ([`read_plaintext`](TlsSession::read_plaintext))
    /// before the next call: rustls refuses to read while it holds more
    /// than 16 KiB.
    ///
    /// # Errors
    ///
    /// The socket's errors as `read(2)` gives them (`WouldBlock` when it is
    /// empty); a TLS protocol error (a bad record, a failed handshake, a
    /// fatal alert from the peer) as `InvalidData` carrying rustls's error.
    /// After a protocol error an alert for the peer may be queued: write it
    /// before closing.
    pub(crate) fn read_tls(&mut self, socket: &mut impl Read) -> io::Result<TlsRead> {
        if self.peer_closed {
            return Ok(TlsRead::Eof { clean: true });
        }
        let mut reading = Measured { socket, asked: 0 };
        let bytes = self.conn.read_tls(&mut reading)?;
        let asked = reading.asked;
        if bytes == 0 {
            return Ok(TlsRead::Eof { clean: false });
        }
        let drained = bytes < asked;
        if drained {
            // rustls sizes its incoming buffer before each read, and only
            // then gives back what a large record made it take (up to
            // 16 KiB + 325 B more than the 4 KiB it keeps). A read of
            // nothing does that now, without a syscall, so a connection
            // that goes idle after a bulk transfer holds 4 KiB, not 20.
            let _ = self.conn.read_tls(&mut NothingYet);
        }
        match self.conn.process_new_packets() {
            Ok(state) => {
                self.take_counts(&state);
                Ok(TlsRead::Data { bytes, drained })
            }
            Err(e) => {
                self.refresh_counts();
                Err(io::Error::new(io::ErrorKind::InvalidData, e))
            }
        }
    }

    /// Like `read(2)` on a plaintext socket, into `buf`: plaintext the
    /// session holds first (no syscall), then ciphertext read from
    /// `socket` and decrypted, until `buf` is full or the socket is
    /// drained. `Ok(0)` is the end of input: the peer's `close_notify`, or
    /// the socket's end of file without one
    /// ([`is_truncated`](TlsSession::is_truncated) tells which).
    ///
    /// Unlike a plaintext socket's, a read shorter than `buf` does not by
    /// itself prove the input drained; [`drained`](TlsSession::drained)
    /// says whether it is.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when nothing is held and the socket has nothing more;
    /// otherwise as [`read_tls`](TlsSession::read_tls). An error that comes
    /// after some plaintext is returned by the next call, after that
    /// plaintext.
    pub(crate) fn read(&mut self, socket: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        self.socket_drained = false;
        let mut filled = self.read_plaintext(buf);
        while filled < buf.len() && !self.at_eof {
            // Nothing is held now (`buf` had room for all of it), so rustls
            // will take more ciphertext.
            match self.read_tls(socket) {
                Ok(TlsRead::Data { drained, .. }) => {
                    filled += self.read_plaintext(&mut buf[filled..]);
                    if self.peer_closed {
                        // close_notify ends the input, whether or not the
                        // FIN follows: no edge will say so again.
                        self.at_eof = true;
                    } else if drained {
                        self.socket_drained = true;
                        break;
                    }
                }
                Ok(TlsRead::Eof { clean }) => {
                    self.truncated = !clean;
                    self.at_eof = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.socket_drained = true;
                    break;
                }
                Err(e) => {
                    if filled == 0 {
                        return Err(e);
                    }
                    self.failed = Some(e);
                    break;
                }
            }
        }
        if filled == 0 && !self.at_eof {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(filled)
    }

    /// Whether the last [`read`](TlsSession::read) left nothing to take:
    /// its socket read was short (which proves a stream socket drained,
    /// epoll(7)), no plaintext is held, and no end of input or error waits
    /// to be reported.
    #[inline]
    pub(crate) fn drained(&self) -> bool {
        self.socket_drained && self.plaintext == 0 && !self.at_eof && self.failed.is_none()
    }

    /// Whether the input ended with the socket's end of file and no
    /// `close_notify`: the stream may have been cut short.
    #[inline]
    pub(crate) fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Plaintext decrypted and not yet taken out.
    #[cfg(test)]
    pub(crate) fn plaintext_len(&self) -> usize {
        self.plaintext
    }

    /// Copies held plaintext into `buf`, oldest first, as much as fits;
    /// returns how much (0 if none is held).
    pub(crate) fn read_plaintext(&mut self, buf: &mut [u8]) -> usize {
        let mut reader = self.conn.reader();
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => filled += n,
            }
        }
        self.plaintext -= filled.min(self.plaintext);
        filled
    }

    /// Encrypts `first` then `second` (either may be empty) as application
    /// data, in as few records as their length allows (up to 16 KiB of
    /// plaintext each), queued for [`write_tls`](TlsSession::write_tls).
    /// During the handshake rustls keeps the plaintext and encrypts it when
    /// the handshake completes.
    ///
    /// # Errors
    ///
    /// `InvalidData` if the session has failed, or if it must be closed
    /// because its record counter is spent (2^64 records).
    pub(crate) fn send(&mut self, first: &[u8], second: &[u8]) -> io::Result<()> {
        let total = first.len() + second.len();
        let mut done = 0;
        while done < total {
            let slices = if done < first.len() {
                [IoSlice::new(&first[done..]), IoSlice::new(second)]
            } else {
                [IoSlice::new(&second[done - first.len()..]), IoSlice::new(&[])]
            };
            let n = self.conn.writer().write_vectored(&slices)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        self.refresh_counts();
        if done < total {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the TLS session refused application data"));
        }
        Ok(())
    }

    /// Ciphertext waiting to be written: handshake messages, records,
    /// alerts.
    #[inline]
    pub(crate) fn queued_tls(&self) -> usize {
        self.queued_tls
    }

    /// Like `writev(2)`: one write to `socket` of every pending record, in
    /// order. Returns the bytes written; a short write is possible, and the
    /// rest stays queued. Nothing queued writes nothing and returns 0
    /// without a syscall.
    ///
    /// # Errors
    ///
    /// The socket's, as `writev(2)` gives them (`WouldBlock` when full).
    pub(crate) fn write_tls(&mut self, socket: &mut impl Write) -> io::Result<usize> {
        if self.queued_tls == 0 {
            return Ok(0);
        }
        let written = self.conn.write_tls(socket);
        if let Ok(n) = written {
            self.queued_tls -= n.min(self.queued_tls);
            if self.queued_tls == 0 && self.conn.wants_write() {
                // A failed session counts its alert as 1 (see
                // `refresh_counts`): ask again rather than lose it.
                self.refresh_counts();
            }
        }
        written
    }

    /// Queues a `close_notify` alert: the peer learns the stream ended
    /// here, and was not cut. Write it, then send the FIN.
    pub(crate) fn send_close_notify(&mut self) {
        self.conn.send_close_notify();
        self.refresh_counts();
    }

    /// Queues `close_notify` and writes what is queued, once, best effort:
    /// what precedes a FIN on a graceful close. A full socket keeps the
    /// rest (the FIN then cuts it, as it would cut plaintext left unsent).
    pub(crate) fn close_notify(&mut self, socket: &mut impl Write) {
        if !self.conn.is_handshaking() {
            self.send_close_notify();
        }
        let _ = self.write_tls(socket);
    }

    /// Whether the peer's `close_notify` has arrived.
    #[cfg(test)]
    pub(crate) fn peer_sent_close_notify(&self) -> bool {
        self.peer_closed
    }

    /// What the handshake negotiated, for the application.
    pub(crate) fn info(&self) -> crate::tls::TlsInfo<'_> {
        let server_name = match &self.conn {
            Connection::Server(server) => server.server_name(),
            Connection::Client(_) => None,
        };
        crate::tls::TlsInfo {
            truncated: self.truncated,
            server_name,
            alpn_protocol: self.conn.alpn_protocol(),
            protocol_version: self.conn.protocol_version(),
            cipher_suite: self.conn.negotiated_cipher_suite().map(|suite| suite.suite()),
            peer_certificates: self.conn.peer_certificates().unwrap_or(&[]),
        }
    }

    /// Reads rustls's counts again (`process_new_packets` with nothing new
    /// to process only reports them).
    fn refresh_counts(&mut self) {
        match self.conn.process_new_packets() {
            Ok(state) => self.take_counts(&state),
            // A failed session still sends its alert; rustls then reports
            // only whether anything waits.
            Err(_) => {
                self.queued_tls = usize::from(self.conn.wants_write());
                self.plaintext = 0;
            }
        }
    }

    fn take_counts(&mut self, state: &rustls::IoState) {
        self.queued_tls = state.tls_bytes_to_write();
        self.plaintext = state.plaintext_bytes_to_read();
        self.peer_closed = state.peer_has_closed();
    }
}

/// A TLS session over its socket: the [`Stream::Tls`] variant, boxed there
/// so that a plaintext connection's record stays small.
#[derive(Debug)]
pub(crate) struct TlsStream {
    /// The TCP or Unix-domain socket the records travel on.
    pub(crate) socket: Stream,
    pub(crate) session: TlsSession,
    /// Closing was made abortive (`reset_on_close`): no `close_notify`
    /// on drop. A cell, as the loop asks for the reset through `&self`.
    reset: Cell<bool>,
    /// `close_notify` was sent (before a FIN).
    notified: bool,
    /// The listener an inbound connection came from, for its `on_open`.
    pub(crate) listener: usize,
}

/// Where a handshake is after [`TlsStream::handshake`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// Done: the application may see the connection.
    Done,
    /// Waiting for the peer (a readable edge) or for room in the socket
    /// (a writable edge).
    InProgress,
}

impl TlsStream {
    pub(crate) fn new(socket: Stream, session: TlsSession) -> TlsStream {
        TlsStream { socket, session, reset: Cell::new(false), notified: false, listener: 0 }
    }

    /// Moves the handshake on: reads and processes what the socket has
    /// (until it is drained or the handshake is done, so application data
    /// behind the last handshake message stays in the socket or the
    /// session for the loop's read), then writes the answer, once.
    ///
    /// # Errors
    ///
    /// The socket's (not `WouldBlock`); `InvalidData` carrying rustls's
    /// error for a failed handshake (its alert is written first, best
    /// effort); `UnexpectedEof` if the peer closed mid-handshake.
    pub(crate) fn handshake(&mut self) -> io::Result<Handshake> {
        while self.session.is_handshaking() {
            match self.session.read_tls(&mut Raw::new(&mut self.socket)) {
                Ok(TlsRead::Data { drained: false, .. }) => {}
                Ok(TlsRead::Data { drained: true, .. }) => break,
                Ok(TlsRead::Eof { .. }) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the peer closed during the handshake"));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    let _ = self.write_queued();
                    return Err(e);
                }
            }
        }
        match self.write_queued() {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
        Ok(if self.session.is_handshaking() { Handshake::InProgress } else { Handshake::Done })
    }

    /// Like `read(2)` of plaintext: [`TlsSession::read`] on this socket.
    /// Out of line: the plaintext transports' read stays small.
    #[inline(never)]
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.session.read(&mut Raw::new(&mut self.socket), buf)
    }

    /// Like `writev(2)` of every record queued: [`TlsSession::write_tls`]
    /// on this socket, until the socket is full (a short write) or nothing
    /// is left. rustls gathers at most 64 records (1 MiB) per `writev`, so
    /// this is one syscall unless more than that is queued. Returns the
    /// bytes written; `WouldBlock` if the socket took none.
    pub(crate) fn write_queued(&mut self) -> io::Result<usize> {
        let mut total = 0;
        while self.session.queued_tls() > 0 {
            let mut raw = Raw { stream: &mut self.socket, short: false };
            match self.session.write_tls(&mut raw) {
                Ok(n) => {
                    total += n;
                    if raw.short || n == 0 {
                        break;
                    }
                }
                Err(e) if total > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// `close_notify`, written with whatever is queued before it, then
    /// the socket's `shutdown(SHUT_WR)`: the end of a graceful close, or a
    /// half-close.
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        self.notify_close();
        self.socket.shutdown_write()
    }

    /// Makes closing abortive: a reset, and no `close_notify`.
    pub(crate) fn reset_on_close(&self) -> io::Result<()> {
        self.reset.set(true);
        self.socket.reset_on_close()
    }

    fn notify_close(&mut self) {
        if !self.notified {
            self.notified = true;
            self.session.close_notify(&mut Raw::new(&mut self.socket));
        }
    }
}

impl Drop for TlsStream {
    /// A graceful close that did not half-close first (the peer had
    /// already closed, or the loop is stopping) still tells the peer the
    /// stream is complete: `close_notify` before the socket's FIN. After a
    /// failed handshake, the alert saying why goes out instead.
    fn drop(&mut self) {
        if self.reset.get() {
            return;
        }
        if self.session.is_handshaking() {
            let _ = self.write_queued();
        } else {
            self.notify_close();
        }
    }
}

/// A plaintext socket as rustls reads and writes it, noting whether a
/// write was short (the socket is full).
struct Raw<'a> {
    stream: &'a mut Stream,
    short: bool,
}

impl<'a> Raw<'a> {
    fn new(stream: &'a mut Stream) -> Raw<'a> {
        Raw { stream, short: false }
    }
}

impl Read for Raw<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for Raw<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.stream.write(buf, &[])?;
        self.short |= n < buf.len();
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = self.stream.write_vectored(bufs)?;
        self.short |= n < bufs.iter().map(|buf| buf.len()).sum::<usize>();
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket under rustls's `read_tls`, remembering how much it was asked
/// for, so that a short read can prove the socket drained.
struct Measured<'a, S> {
    socket: &'a mut S,
    asked: usize,
}

impl<S: Read> Read for Measured<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.asked = buf.len();
        self.socket.read(buf)
    }
}

/// A socket with nothing to read yet (`WouldBlock`, which unlike an end of
/// file leaves rustls's state alone).
struct NothingYet;

impl Read for NothingYet {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

fn invalid_input(error: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
    use rustls::{ClientConfig, RootCertStore, ServerConfig};

    use super::{TlsRead, TlsSession};
    use crate::tls;

    /// A self-signed certificate for `localhost`, made for the test.
    fn certificate() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let made =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("rcgen makes a certificate");
        let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
        (made.cert.der().clone(), key.into())
    }

    fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
        let (cert, key) = certificate();
        let server = tls::server_config(vec![cert.clone()], key).expect("server config");
        let mut roots = RootCertStore::empty();
        roots.add(cert).expect("the certificate is a trust anchor");
        (server, tls::client_config(roots).expect("client config"))
    }

    /// One side: a session over its end of a nonblocking socket pair.
    struct Side {
        session: TlsSession,
        socket: UnixStream,
        plaintext: Vec<u8>,
        eof: Option<bool>,
        error: Option<io::Error>,
    }

    impl Side {
        fn new(session: TlsSession, socket: UnixStream) -> Side {
            socket.set_nonblocking(true).expect("nonblocking");
            Side { session, socket, plaintext: Vec::new(), eof: None, error: None }
        }

        /// Writes what is queued, reads what arrived; true if anything moved.
        fn step(&mut self) -> bool {
            let mut moved = false;
            while self.session.queued_tls() > 0 {
                match self.session.write_tls(&mut self.socket) {
                    Ok(n) => moved |= n > 0,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("write_tls failed: {e}"),
                }
            }
            while self.eof.is_none() && self.error.is_none() {
                match self.session.read_tls(&mut self.socket) {
                    Ok(TlsRead::Data { .. }) => moved = true,
                    Ok(TlsRead::Eof { clean }) => {
                        self.eof = Some(clean);
                        moved = true;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        self.error = Some(e);
                        moved = true;
                    }
                }
                let mut buf = [0; 4096];
                loop {
                    let n = self.session.read_plaintext(&mut buf);
                    if n == 0 {
                        break;
                    }
                    self.plaintext.extend_from_slice(&buf[..n]);
                }
            }
            moved
        }
    }

    /// Steps both sides until neither moves (bounded).
    fn settle(a: &mut Side, b: &mut Side) {
        for _ in 0..1000 {
            let moved = a.step() | b.step();
            if !moved {
                return;
            }
        }
        panic!("the two sessions kept exchanging bytes after 1000 rounds");
    }

    fn pair_with(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> (Side, Side) {
        let (s, c) = UnixStream::pair().expect("socketpair");
        let server = TlsSession::server(server).expect("server session");
        let name = ServerName::try_from("localhost").expect("a valid name");
        let client = TlsSession::client(client, name).expect("client session");
        (Side::new(server, s), Side::new(client, c))
    }

    fn connected_pair() -> (Side, Side) {
        let (server, client) = configs();
        let (mut s, mut c) = pair_with(server, client);
        settle(&mut s, &mut c);
        assert!(!s.session.is_handshaking() && !c.session.is_handshaking(), "the handshake did not complete");
        (s, c)
    }

    #[test]
    fn handshake_completes_and_data_flows_both_ways() {
        let (mut s, mut c) = connected_pair();
        c.session.send(b"hello ", b"server").unwrap();
        settle(&mut s, &mut c);
        assert_eq!(s.plaintext, b"hello server", "the server did not get the client's plaintext");
        s.session.send(b"hello client", b"").unwrap();
        settle(&mut s, &mut c);
        assert_eq!(c.plaintext, b"hello client", "the client did not get the server's plaintext");
    }

    #[test]
    fn a_client_hello_is_queued_before_any_read() {
        let (server, client) = configs();
        let (s, c) = pair_with(server, client);
        assert!(c.session.queued_tls() > 0, "a new client session has its hello queued");
        assert_eq!(s.session.queued_tls(), 0, "a new server session has nothing to say before the hello");
        assert!(s.session.is_handshaking() && c.session.is_handshaking());
    }

    #[test]
    fn one_send_of_many_small_replies_is_one_record() {
        let (mut s, _c) = connected_pair();
        let replies: Vec<u8> = (0..100).flat_map(|i: u8| [b'+', b'O', b'K', i, b'\r', b'\n']).collect();
        s.session.send(&replies, b"").unwrap();
        let mut wire = Vec::new();
        s.session.write_tls(&mut wire).unwrap();
        // TLS 1.3 record: 5-byte header, then the plaintext, its content type
        // byte and a 16-byte tag.
        assert_eq!(wire.len(), 5 + replies.len() + 1 + 16, "600 bytes of replies should make exactly one record");
        assert_eq!(s.session.queued_tls(), 0, "everything queued was written");
    }

    #[test]
    fn queued_tls_counts_ciphertext_until_written() {
        let (mut s, _c) = connected_pair();
        assert_eq!(s.session.queued_tls(), 0, "an idle session has nothing queued");
        s.session.send(&[7; 40_000], b"").unwrap();
        let queued = s.session.queued_tls();
        assert!(queued > 40_000, "40,000 bytes of plaintext queue more ciphertext than that, not {queued}");
        let mut partial = Limited { taken: Vec::new(), room: 1000 };
        let n = s.session.write_tls(&mut partial).unwrap();
        assert_eq!(s.session.queued_tls(), queued - n, "a short write leaves the rest counted");
    }

    #[test]
    fn close_notify_is_a_clean_end_of_file() {
        let (mut s, mut c) = connected_pair();
        c.session.send(b"last words", b"").unwrap();
        c.session.send_close_notify();
        settle(&mut s, &mut c);
        assert_eq!(s.plaintext, b"last words", "data before close_notify arrives");
        assert_eq!(s.eof, Some(true), "close_notify reads as a clean end of file");
        assert!(s.session.peer_sent_close_notify());
    }

    #[test]
    fn end_of_file_without_close_notify_is_a_truncation() {
        let (mut s, mut c) = connected_pair();
        c.session.send(b"partial", b"").unwrap();
        settle(&mut s, &mut c);
        c.socket.shutdown(std::net::Shutdown::Write).unwrap();
        settle(&mut s, &mut c);
        assert_eq!(s.plaintext, b"partial");
        assert_eq!(s.eof, Some(false), "an end of file without close_notify must read as truncated");
        assert!(!s.session.peer_sent_close_notify());
    }

    #[test]
    fn garbage_instead_of_a_hello_is_an_invalid_data_error_with_an_alert_queued() {
        let (server, _) = configs();
        let (s, mut raw) = UnixStream::pair().unwrap();
        let mut s = Side::new(TlsSession::server(server).unwrap(), s);
        raw.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        s.step();
        let error = s.error.take().expect("garbage must fail the handshake");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "a protocol error is InvalidData: {error}");
        assert!(s.session.queued_tls() > 0, "an alert waits to tell the peer why");
    }

    #[test]
    fn a_short_read_of_the_socket_says_drained() {
        let (mut s, mut c) = connected_pair();
        c.session.send(b"ping", b"").unwrap();
        c.step();
        let read = s.session.read_tls(&mut s.socket).unwrap();
        assert!(matches!(read, TlsRead::Data { drained: true, .. }), "one small record is a short read: {read:?}");
        assert_eq!(s.session.plaintext_len(), 4, "the record's plaintext is held");
        let mut buf = [0; 2];
        assert_eq!(s.session.read_plaintext(&mut buf), 2);
        assert_eq!(s.session.plaintext_len(), 2, "what did not fit stays held, counted");
    }

    #[test]
    fn info_reports_sni_alpn_version_and_suite() {
        let (cert, key) = certificate();
        let mut server = (*tls::server_config(vec![cert.clone()], key).unwrap()).clone();
        server.alpn_protocols = vec![b"h2".to_vec(), b"redis".to_vec()];
        let mut roots = RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let mut client = (*tls::client_config(roots).unwrap()).clone();
        client.alpn_protocols = vec![b"redis".to_vec()];
        let (mut s, mut c) = pair_with(Arc::new(server), Arc::new(client));
        settle(&mut s, &mut c);
        let info = s.session.info();
        assert_eq!(info.server_name(), Some("localhost"), "the client's SNI");
        assert_eq!(info.alpn_protocol(), Some(&b"redis"[..]), "the one protocol both offered");
        assert_eq!(info.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
        assert!(info.cipher_suite().is_some());
        assert!(info.peer_certificates().is_empty(), "no client certificate was asked for");
        assert_eq!(c.session.info().peer_certificates(), &[cert], "the client sees the server's certificate");
    }

    /// A server that requires client certificates, trusting `cert` (which
    /// the client may present, signed by `key`), and a client config with
    /// or without it.
    fn mutual_configs(with_client_cert: bool) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
        let (cert, key) = certificate();
        let mut roots = RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let server = tls::server_config_with_client_auth(vec![cert.clone()], key.clone_key(), roots.clone()).unwrap();
        let builder = ClientConfig::builder_with_provider(tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let client = match with_client_cert {
            true => builder.with_client_auth_cert(vec![cert], key).unwrap(),
            false => builder.with_no_client_auth(),
        };
        (server, Arc::new(client))
    }

    #[test]
    fn mutual_tls_accepts_a_trusted_client_certificate() {
        let (server, client) = mutual_configs(true);
        let (mut s, mut c) = pair_with(server, client);
        settle(&mut s, &mut c);
        assert!(s.error.is_none(), "the server refused a trusted client: {:?}", s.error);
        assert!(!s.session.is_handshaking(), "the handshake did not complete");
        assert_eq!(s.session.info().peer_certificates().len(), 1, "the server sees the client's certificate");
    }

    #[test]
    fn mutual_tls_refuses_a_client_without_a_certificate() {
        let (server, client) = mutual_configs(false);
        let (mut s, mut c) = pair_with(server, client);
        for _ in 0..100 {
            if !(s.step() | c.step()) {
                break;
            }
        }
        let error = s.error.as_ref().expect("a client without a certificate must fail the handshake");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "a refused handshake is InvalidData: {error}");
    }

    /// A writer that takes at most `room` bytes, then is full.
    struct Limited {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Limited {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room - self.taken.len());
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
