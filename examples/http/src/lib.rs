//! An HTTP/1.1 server on evloop that `curl`, `wrk` and `ab` drive.
//!
//! Kept apart from `main.rs` so the integration tests serve the very same
//! handler the binary does.
//!
//! # Shape
//!
//! One [`Http`] handler serves every connection of a loop. Each offer of
//! input is parsed in place by `httparse` ([`request`]): the head is never
//! copied, and what a request leaves unparsed (half a head, the next
//! pipelined request) stays in the loop's input buffer for the next offer.
//! Responses are built in one reusable buffer and sent with one
//! [`Ctx::send`] each, so sixteen pipelined requests cost one `write(2)`.
//! Between requests the handler checks [`Ctx::is_writable`] and stops once
//! a connection's queued output passes the high watermark; the loop offers
//! the rest when it drains, so a client pipelining far more than memory
//! holds is answered in order and in full.
//!
//! Routes ([`Http`]): `/` (`Hello, World!`), `/json` (a small JSON
//! object), `POST /echo` (the body back, streamed as it arrives) and, with
//! [`Settings::root`], `/static/...`: files streamed from
//! [`Handler::on_drain`], a piece whenever the queued output falls below
//! the low watermark, so a download of any size holds about a high
//! watermark of the server's memory.
//!
//! # Limits and timeouts, as nginx has them
//!
//! See [`Settings`]: the head (431 past 32 KiB or 100 fields; 414 for a
//! target past 8 KiB), the body (413 past 1 MiB), `client_header_timeout`,
//! `client_body_timeout`, `keepalive_timeout` and `send_timeout`. A request
//! the server cannot frame (400, 413, 414, 431, 501, 505) is answered and
//! the connection closed; 404, 405, 416 and the rest keep it.

pub mod body;
pub mod date;
pub mod files;
pub mod request;
pub mod response;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use evloop::{AfterEof, CloseReason, Config, ConnId, Ctx, Handler, Origin, TimerId};
use log::debug;
use serde::Serialize;

use body::{BodyDecoder, Step};
use date::DateCache;
use files::RangeAnswer;
use request::{BodyKind, HeadLimits, Method, Parsed, Request};
use response::{write_head, Framing, Persist, Status};

/// The body of `/`.
const HELLO: &[u8] = b"Hello, World!";

/// Bytes of a file read per piece of a download.
const FILE_PIECE_BYTES: usize = 64 * 1024;

/// The server's limits and tunables, named after the nginx directives they
/// mirror; [`Settings::default`] has nginx's defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Serve the files under this directory at `/static/` (nginx's `root`);
    /// `None` (the default) serves none.
    pub root: Option<PathBuf>,
    /// The largest request body (`client_max_body_size`, 1 MiB); past it, 413.
    pub max_body_bytes: u64,
    /// The largest request head (`large_client_header_buffers 4 8k`: 32 KiB);
    /// past it, 431.
    pub max_head_bytes: usize,
    /// The longest request target (one of those buffers, 8 KiB); past it, 414.
    pub max_uri_bytes: usize,
    /// A request head must arrive whole within this of its first byte
    /// (`client_header_timeout`, 60 s): a slowloris client is closed. A
    /// connection that sends nothing at all is the keep-alive timeout's.
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long is cut
    /// (`client_body_timeout`, 60 s).
    pub body_timeout: Duration,
    /// A connection idle this long, between requests or before its first,
    /// is closed (`keepalive_timeout`, 75 s): the loop's idle timeout, so an
    /// idle connection costs no timer of the handler's. Zero answers every
    /// request with `Connection: close`, as nginx's `keepalive_timeout 0`
    /// does.
    pub keepalive_timeout: Duration,
    /// A response the client stops reading for this long is cut
    /// (`send_timeout`, 60 s): the loop's write timeout.
    pub send_timeout: Duration,
    /// Connections open at once (per loop).
    pub max_connections: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            root: None,
            max_body_bytes: 1024 * 1024,
            max_head_bytes: 32 * 1024,
            max_uri_bytes: 8 * 1024,
            header_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(75),
            send_timeout: Duration::from_secs(60),
            max_connections: Config::default().max_connections,
        }
    }
}

impl Settings {
    /// The loop's [`Config`] for these settings: the keep-alive timeout is
    /// the loop's idle timeout (no byte either way for that long; time
    /// with reading paused, as during a download, does not count), the
    /// send timeout its write timeout. The header and body timeouts are the
    /// handler's: bytes that trickle in keep a connection from being idle.
    pub fn loop_config(&self) -> Config {
        let defaults = Config::default();
        Config {
            max_connections: self.max_connections,
            idle_timeout: (!self.keepalive_timeout.is_zero()).then_some(self.keepalive_timeout),
            write_timeout: (!self.send_timeout.is_zero()).then_some(self.send_timeout),
            // Room for a whole head past the limit in one offer, so the
            // handler answers 431 before the loop's input limit closes it.
            max_input_bytes: defaults.max_input_bytes.max(2 * self.max_head_bytes + defaults.read_buffer_bytes),
            ..defaults
        }
    }
}

/// What a connection is doing.
#[derive(Debug)]
enum Phase {
    /// Between requests, nothing of the next one here yet.
    Idle,
    /// Part of a request head has arrived.
    Head,
    /// Reading a request body: echoing it back or dropping it.
    Body { decoder: BodyDecoder, echo: Echo },
    /// Sending a file, a piece each time the output drains.
    Sending { file: File, remaining: u64 },
}

/// What happens to the bytes of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    /// Dropped: the answer went out already.
    Discard,
    /// Sent back as they are (the response has their `Content-Length`).
    Plain,
    /// Sent back as chunks.
    Chunked,
}

/// One connection's state, kept by the loop beside it.
#[derive(Debug)]
pub struct Conn {
    phase: Phase,
    /// Whether to keep the connection after the request in progress.
    persist: Persist,
    /// When the phase's wait began: the head began, the body last moved.
    since: Instant,
    /// Requests answered.
    served: u32,
    /// The header or body timeout's timer and when it fires, armed when a
    /// head or a body starts arriving, re-armed lazily from `since` when it
    /// fires early. An idle connection has none (the loop's idle timeout
    /// judges it), so it costs no timer.
    timer: Option<(TimerId, Instant)>,
    /// The connection is closing: nothing more is read or answered.
    done: bool,
    /// The peer has half-closed: close once the response in progress is out.
    peer_eof: bool,
}

/// TechEmpower's JSON test object.
#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// The HTTP handler for one loop.
#[derive(Debug)]
pub struct Http {
    settings: Settings,
    /// `settings.root`, canonical, so a resolved path can be checked against it.
    root: Option<PathBuf>,
    limits: HeadLimits,
    date: DateCache,
    /// The response being built.
    out: Vec<u8>,
    /// A response body being built (the JSON).
    body: Vec<u8>,
    /// A piece of a file being sent.
    piece: Vec<u8>,
    requests: u64,
}

impl Http {
    /// A handler serving with `settings`.
    ///
    /// # Errors
    ///
    /// The error of canonicalizing [`Settings::root`] (`NotFound` when the
    /// directory does not exist).
    pub fn new(settings: Settings) -> std::io::Result<Http> {
        let root = settings.root.as_ref().map(|root| root.canonicalize()).transpose()?;
        let limits = HeadLimits { max_head_bytes: settings.max_head_bytes, max_uri_bytes: settings.max_uri_bytes };
        Ok(Http {
            settings,
            root,
            limits,
            date: DateCache::new(Instant::now()),
            out: Vec::with_capacity(1024),
            body: Vec::with_capacity(64),
            piece: Vec::new(),
            requests: 0,
        })
    }

    /// Requests answered so far, on this loop.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Parses and answers what `data` holds, in order, until it runs out,
    /// the output backs up (unless `at_eof`: the last input of a
    /// half-closed connection is answered regardless) or the connection
    /// closes. Returns the bytes consumed.
    fn serve(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, data: &[u8], at_eof: bool) -> usize {
        let mut used = 0;
        while !conn.done {
            match conn.phase {
                Phase::Sending { .. } => break,
                Phase::Body { .. } => {
                    used += self.read_body(cx, id, conn, &data[used..], at_eof);
                    if matches!(conn.phase, Phase::Body { .. }) {
                        break;
                    }
                }
                Phase::Idle | Phase::Head => {
                    let rest = &data[used..];
                    if rest.is_empty() || (!at_eof && !cx.is_writable(id)) {
                        break;
                    }
                    match request::parse(rest, &self.limits) {
                        Parsed::Partial => {
                            if matches!(conn.phase, Phase::Idle) {
                                conn.phase = Phase::Head;
                                conn.since = cx.now();
                                self.arm_timer(cx, id, conn);
                            }
                            break;
                        }
                        Parsed::Reject(status) => {
                            debug!("connection {id}: {} to a malformed or oversize head", status.code());
                            conn.persist = Persist::Close;
                            self.error(cx, id, conn, status, Method::Get, b"");
                            self.finish_request(cx, id, conn);
                        }
                        Parsed::Request(request, len) => {
                            used += len;
                            self.answer(cx, id, conn, &request);
                        }
                    }
                }
            }
        }
        if conn.done {
            data.len()
        } else {
            used
        }
    }

    /// Answers one request whose head has been read.
    fn answer(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, request: &Request<'_>) {
        self.requests += 1;
        conn.persist = request.persist;
        if self.settings.keepalive_timeout.is_zero() {
            conn.persist = Persist::Close;
        }
        let path = request.path;
        let method = request.method;
        let has_body = request.body != BodyKind::None;
        if let BodyKind::Length(length) = request.body {
            if length > self.settings.max_body_bytes {
                conn.persist = Persist::Close;
                self.error(cx, id, conn, Status::ContentTooLarge, method, b"");
                return self.finish_request(cx, id, conn);
            }
        }
        if path == b"/echo" && method == Method::Post {
            return self.start_echo(cx, id, conn, request);
        }
        let is_static = self.root.is_some() && path.starts_with(b"/static/");
        // A body the route does not want is read and dropped after the
        // answer, except where the client waits for 100 (it would be told
        // to send a body only to have it dropped) or a file follows the
        // answer: there the connection closes instead.
        if has_body && (request.expect_continue || is_static) {
            conn.persist = Persist::Close;
        }
        match path {
            b"/" => self.fixed(cx, id, conn, method, "text/plain", HELLO),
            b"/json" => {
                self.body.clear();
                let message = Message { message: "Hello, World!" };
                serde_json::to_writer(&mut self.body, &message).expect("a struct of one string serializes");
                let body = std::mem::take(&mut self.body);
                self.fixed(cx, id, conn, method, "application/json", &body);
                self.body = body;
            }
            b"/echo" => self.error(cx, id, conn, Status::MethodNotAllowed, method, b"Allow: POST\r\n"),
            _ if is_static => self.static_file(cx, id, conn, request),
            _ => self.error(cx, id, conn, Status::NotFound, method, b""),
        }
        if matches!(conn.phase, Phase::Sending { .. }) || conn.done {
            return;
        }
        match request.body {
            BodyKind::Length(length) if conn.persist != Persist::Close => {
                self.begin_body(cx, id, conn, BodyDecoder::length(length), Echo::Discard)
            }
            BodyKind::Chunked if conn.persist != Persist::Close => {
                self.begin_body(cx, id, conn, BodyDecoder::chunked(self.settings.max_body_bytes), Echo::Discard)
            }
            _ => self.finish_request(cx, id, conn),
        }
    }

    /// A fixed body for `GET` and `HEAD`; 405 for other methods.
    fn fixed(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, method: Method, content_type: &str, body: &[u8]) {
        if !matches!(method, Method::Get | Method::Head) {
            return self.error(cx, id, conn, Status::MethodNotAllowed, method, b"Allow: GET, HEAD\r\n");
        }
        self.out.clear();
        let date = self.date.get(cx.now());
        let framing = Framing::Length(body.len() as u64);
        write_head(&mut self.out, Status::Ok, date, Some(content_type), framing, b"", conn.persist);
        if method == Method::Get {
            self.out.extend_from_slice(body);
        }
        cx.send(id, &self.out);
    }

    /// An error answer: the reason phrase as a text body (none for `HEAD`),
    /// with `extra` header lines.
    fn error(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, status: Status, method: Method, extra: &[u8]) {
        let text = status.error_body();
        self.out.clear();
        let date = self.date.get(cx.now());
        let framing = Framing::Length(text.len() as u64 + 1);
        write_head(&mut self.out, status, date, Some("text/plain"), framing, extra, conn.persist);
        if method != Method::Head {
            self.out.extend_from_slice(text);
            self.out.push(b'\n');
        }
        cx.send(id, &self.out);
    }

    /// `POST /echo`: the response head now, then the body as it arrives.
    fn start_echo(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, request: &Request<'_>) {
        let (framing, decoder, echo) = match request.body {
            BodyKind::None => (Framing::Length(0), None, Echo::Plain),
            BodyKind::Length(length) => (Framing::Length(length), Some(BodyDecoder::length(length)), Echo::Plain),
            BodyKind::Chunked => {
                (Framing::Chunked, Some(BodyDecoder::chunked(self.settings.max_body_bytes)), Echo::Chunked)
            }
        };
        self.out.clear();
        if request.expect_continue && decoder.is_some() {
            self.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let date = self.date.get(cx.now());
        write_head(&mut self.out, Status::Ok, date, Some("application/octet-stream"), framing, b"", conn.persist);
        cx.send(id, &self.out);
        match decoder {
            Some(decoder) => self.begin_body(cx, id, conn, decoder, echo),
            None => self.finish_request(cx, id, conn),
        }
    }

    fn begin_body(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, decoder: BodyDecoder, echo: Echo) {
        conn.phase = Phase::Body { decoder, echo };
        conn.since = cx.now();
        self.arm_timer(cx, id, conn);
    }

    /// Decodes what it can of the body at the front of `input`, echoing
    /// or dropping it; returns the bytes consumed.
    fn read_body(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, input: &[u8], at_eof: bool) -> usize {
        let Phase::Body { decoder, echo } = &mut conn.phase else { return 0 };
        let echo = *echo;
        let mut used = 0;
        let mut finished = false;
        loop {
            if echo != Echo::Discard && !at_eof && !cx.is_writable(id) {
                break;
            }
            match decoder.step(&input[used..]) {
                Step::Data(data) => {
                    used += data.len();
                    match echo {
                        Echo::Discard => {}
                        Echo::Plain => {
                            cx.send(id, data);
                        }
                        Echo::Chunked => {
                            self.out.clear();
                            response::write_chunk_head(&mut self.out, data.len());
                            cx.send(id, &self.out);
                            cx.send(id, data);
                            cx.send(id, b"\r\n");
                        }
                    }
                }
                Step::Framing(n) => used += n,
                Step::Done(n) => {
                    used += n;
                    if echo == Echo::Chunked {
                        cx.send(id, b"0\r\n\r\n");
                    }
                    finished = true;
                    break;
                }
                Step::NeedMore => break,
                Step::Error(status) => {
                    // The answer, or its head, is out already: nothing more
                    // can be said. A response cut short must not look whole.
                    debug!(
                        "connection {id}: request body refused ({}) after {} bytes",
                        status.code(),
                        decoder.received()
                    );
                    if echo == Echo::Discard {
                        cx.close(id);
                    } else {
                        cx.abort(id);
                    }
                    conn.done = true;
                    return input.len();
                }
            }
        }
        if used > 0 {
            conn.since = cx.now();
        }
        if finished {
            self.finish_request(cx, id, conn);
        }
        used
    }

    /// `GET`/`HEAD /static/...`.
    fn static_file(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, request: &Request<'_>) {
        let method = request.method;
        if !matches!(method, Method::Get | Method::Head) {
            return self.error(cx, id, conn, Status::MethodNotAllowed, method, b"Allow: GET, HEAD\r\n");
        }
        let root = self.root.as_deref().expect("static routes only with a root");
        let found = match files::open(root, &request.path[b"/static/".len()..]) {
            Ok(found) => found,
            Err(status) => {
                if status == Status::BadRequest {
                    conn.persist = Persist::Close;
                }
                return self.error(cx, id, conn, status, method, b"");
            }
        };
        let mut extra = Vec::with_capacity(96);
        if let Some(modified) = found.modified {
            extra.extend_from_slice(b"Last-Modified: ");
            extra.extend_from_slice(httpdate::fmt_http_date(modified).as_bytes());
            extra.extend_from_slice(b"\r\n");
        }
        extra.extend_from_slice(b"Accept-Ranges: bytes\r\n");
        let date = self.date.get(cx.now());
        self.out.clear();
        if files::not_modified(found.modified, request.if_modified_since) {
            write_head(&mut self.out, Status::NotModified, date, None, Framing::None, &extra, conn.persist);
            cx.send(id, &self.out);
            return;
        }
        let len = found.len;
        let (status, start, count) = match files::range(request.range, len) {
            RangeAnswer::Whole => (Status::Ok, 0, len),
            RangeAnswer::Part { start, end } => {
                extra.extend_from_slice(format!("Content-Range: bytes {start}-{end}/{len}\r\n").as_bytes());
                (Status::PartialContent, start, end - start + 1)
            }
            RangeAnswer::Unsatisfiable => {
                let extra = format!("Content-Range: bytes */{len}\r\n");
                return self.error(cx, id, conn, Status::RangeNotSatisfiable, method, extra.as_bytes());
            }
        };
        let framing = Framing::Length(count);
        write_head(&mut self.out, status, date, Some(found.content_type), framing, &extra, conn.persist);
        cx.send(id, &self.out);
        if method == Method::Head || count == 0 {
            return;
        }
        let mut file = found.file;
        if start > 0 && file.seek(SeekFrom::Start(start)).is_err() {
            cx.abort(id);
            conn.done = true;
            return;
        }
        conn.phase = Phase::Sending { file, remaining: count };
        // Requests pipelined behind a download wait, unread, until it is
        // done (finish_request resumes): their answers must follow it, and
        // input read meanwhile would only grow the buffer.
        cx.pause_read(id);
        self.pump(cx, id, conn);
    }

    /// Sends pieces of the file in progress until the output passes the
    /// high watermark or the file is done; `on_drain` calls it again.
    fn pump(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn) {
        let Phase::Sending { file, remaining } = &mut conn.phase else { return };
        if self.piece.len() < FILE_PIECE_BYTES {
            self.piece.resize(FILE_PIECE_BYTES, 0);
        }
        while *remaining > 0 && cx.is_writable(id) {
            let want = (*remaining).min(FILE_PIECE_BYTES as u64) as usize;
            match file.read(&mut self.piece[..want]) {
                Ok(n) if n > 0 && cx.send(id, &self.piece[..n]) => *remaining -= n as u64,
                outcome => {
                    // The file shrank, failed, or the connection is gone: a
                    // body shorter than its Content-Length must not look whole.
                    debug!("connection {id}: download cut with {remaining} bytes to go ({outcome:?})");
                    cx.abort(id);
                    conn.done = true;
                    return;
                }
            }
        }
        if *remaining == 0 {
            self.finish_request(cx, id, conn);
        }
    }

    /// The response to the request in progress is all queued: close if it
    /// said so, else wait for the next request.
    fn finish_request(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn) {
        conn.served = conn.served.saturating_add(1);
        if matches!(std::mem::replace(&mut conn.phase, Phase::Idle), Phase::Sending { .. }) {
            // A download ends in `on_drain`, outside `on_data`: resuming is
            // what offers the loop's buffered input (the next pipelined
            // request) again, even if an offer during the download was
            // declined.
            cx.resume_read(id);
        }
        if conn.persist == Persist::Close || conn.peer_eof {
            cx.close(id);
            conn.done = true;
        } else {
            conn.since = cx.now();
        }
    }

    /// When the connection's current wait times out, if it can.
    fn deadline(&self, conn: &Conn) -> Option<Instant> {
        let settings = &self.settings;
        let timeout = match conn.phase {
            Phase::Head => settings.header_timeout,
            Phase::Body { .. } => settings.body_timeout,
            // The loop's idle timeout judges an idle connection, its write
            // timeout a download.
            Phase::Idle | Phase::Sending { .. } => return None,
        };
        Some(conn.since + timeout)
    }

    /// Makes sure the connection's timer fires no later than its current
    /// deadline; a timer already due sooner is kept (it re-arms itself).
    fn arm_timer(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn) {
        let Some(deadline) = self.deadline(conn) else { return };
        if let Some((timer, at)) = conn.timer {
            if at <= deadline {
                return;
            }
            cx.cancel_timer(timer);
        }
        let after = deadline.saturating_duration_since(cx.now());
        conn.timer = cx.set_conn_timer(id, after, 0).map(|timer| (timer, deadline));
    }
}

impl Handler for Http {
    type Conn = Conn;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, _id: ConnId, _origin: Origin) -> Conn {
        Conn {
            phase: Phase::Idle,
            persist: Persist::KeepAlive,
            since: cx.now(),
            served: 0,
            timer: None,
            done: false,
            peer_eof: false,
        }
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, data: &[u8]) -> usize {
        self.serve(cx, id, conn, data, false)
    }

    fn on_drain(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn) {
        // The loop offers any pipelined input again after this.
        self.pump(cx, id, conn);
    }

    fn on_eof(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, unconsumed: &[u8]) -> AfterEof {
        conn.peer_eof = true;
        if !conn.done {
            self.serve(cx, id, conn, unconsumed, true);
        }
        if !conn.done && matches!(conn.phase, Phase::Sending { .. }) {
            // A client may half-close and still read its download.
            AfterEof::KeepWriting
        } else {
            AfterEof::Close
        }
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut Conn, _timer: TimerId, _key: u64) {
        conn.timer = None;
        if conn.done {
            return;
        }
        match self.deadline(conn) {
            Some(deadline) if deadline <= cx.now() => {
                let wait = if matches!(conn.phase, Phase::Body { .. }) { "body" } else { "header" };
                debug!("connection {id}: {wait} timeout");
                cx.close(id);
                conn.done = true;
            }
            Some(_) => self.arm_timer(cx, id, conn),
            // Idle or sending: the loop's timeouts judge it now.
            None => {}
        }
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, conn: Conn, reason: CloseReason) {
        debug!("connection {id} closed after {} requests: {reason:?}", conn.served);
    }
}
