//! The loop's contract, tested once and run over each transport (TCP and
//! Unix-domain sockets): every guarantee of the TCP path holds over Unix
//! sockets too.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use evloop::{AfterEof, CloseReason, Config, ConnId, Ctx, Handler, Origin, PeerAddr};
use evloop_tests::transport::Transport;
use evloop_tests::{over_each_transport, test_config, Recorder, Seen, Server, TIMEOUT};

over_each_transport!(
    every_byte_is_echoed_in_order,
    a_half_close_is_an_end_of_file_and_the_reply_still_arrives,
    a_close_while_the_peer_still_sends_delivers_every_byte_then_end_of_file,
    output_past_the_high_watermark_pauses_until_the_peer_reads_then_on_drain_fires,
    unconsumed_input_is_offered_again_one_request_per_call,
    a_silent_peer_is_closed_by_the_idle_timeout,
    unconsumed_input_past_its_limit_closes_with_input_limit,
    output_past_its_limit_closes_with_output_limit,
    peer_addr_says_which_transport,
);

/// A pattern that shows any lost, repeated or reordered byte.
fn pattern(len: usize) -> Vec<u8> {
    pattern_at(0, len)
}

/// Bytes `start..start + len` of the pattern.
fn pattern_at(start: usize, len: usize) -> Vec<u8> {
    (start..start + len).map(|i| (i % 251) as u8).collect()
}

fn every_byte_is_echoed_in_order(transport: Transport) {
    let (recorder, _events) = Recorder::new();
    let server = Server::start_over(transport, test_config(), recorder);
    let mut client = server.client();
    let sent = pattern(4 << 20);
    let mut writer = client.try_clone();
    let to_send = sent.clone();
    let writing = thread::spawn(move || writer.write_all(&to_send).expect("send 4 MiB"));
    let mut echoed = vec![0; sent.len()];
    client.read_exact(&mut echoed).expect("read the echo of 4 MiB");
    writing.join().unwrap();
    assert!(echoed == sent, "the echo differs from what was sent ({transport:?})");
    server.stop();
}

fn a_half_close_is_an_end_of_file_and_the_reply_still_arrives(transport: Transport) {
    let (recorder, events) = Recorder::new();
    let server = Server::start_over(transport, test_config(), recorder);
    let mut client = server.client();
    client.write_all(b"last words").unwrap();
    client.shutdown_write();
    let id = events.next_open();
    assert_eq!(client.read_to_end_vec().expect("the reply, then end of file"), b"last words");
    events.find("on_eof", |seen| *seen == Seen::Eof(id));
    assert_eq!(events.close_reason(id), CloseReason::PeerClosed);
    server.stop();
}

/// Sends `reply_bytes` and closes as soon as the first input arrives.
struct ReplyThenClose {
    reply_bytes: usize,
}

impl Handler for ReplyThenClose {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        if cx.is_open(id) {
            cx.send(id, &pattern(self.reply_bytes));
            cx.close(id);
        }
        data.len()
    }
}

fn a_close_while_the_peer_still_sends_delivers_every_byte_then_end_of_file(transport: Transport) {
    let reply_bytes = 1 << 20;
    let server = Server::start_over(transport, test_config(), ReplyThenClose { reply_bytes });
    let mut client = server.client();
    client.write_all(b"go").unwrap();
    // Keep sending while the reply comes: input arriving after the close
    // must not cost the reply its tail.
    let mut writer = client.try_clone();
    let writing = thread::spawn(move || {
        for _ in 0..64 {
            if writer.write_all(&[b'x'; 1024]).is_err() {
                break;
            }
        }
    });
    let got = client.read_to_end_vec().expect("every byte of the reply, then end of file (no reset)");
    writing.join().unwrap();
    assert_eq!(got.len(), reply_bytes, "bytes of the reply received ({transport:?})");
    assert!(got == pattern(reply_bytes), "the reply arrived altered ({transport:?})");
    server.stop();
}

/// Sends `total` bytes, as much as `is_writable` allows per callback, the
/// rest from `on_drain`; reports how many drains it took.
struct Producer {
    total: usize,
    drains: mpsc::Sender<usize>,
}

impl Producer {
    fn produce(&mut self, cx: &mut Ctx, id: ConnId, sent: &mut usize) {
        while *sent < self.total && cx.is_writable(id) {
            let chunk = (self.total - *sent).min(16 * 1024);
            cx.send(id, &pattern_at(*sent, chunk));
            *sent += chunk;
        }
        if *sent == self.total {
            cx.close(id);
        }
    }
}

impl Handler for Producer {
    type Conn = usize;
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) -> usize {
        let mut sent = 0;
        self.produce(cx, id, &mut sent);
        sent
    }
    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut usize, data: &[u8]) -> usize {
        data.len()
    }
    fn on_drain(&mut self, cx: &mut Ctx, id: ConnId, sent: &mut usize) {
        let _ = self.drains.send(*sent);
        self.produce(cx, id, sent);
    }
}

fn output_past_the_high_watermark_pauses_until_the_peer_reads_then_on_drain_fires(transport: Transport) {
    let total = 8 << 20;
    let (drains, drained) = mpsc::channel();
    let config = Config { max_output_bytes: 256 * 1024, ..test_config() };
    let server = Server::start_over(transport, config, Producer { total, drains });
    let mut client = server.client();
    let got = client.read_to_end_vec().expect("the whole download, then end of file");
    assert_eq!(got.len(), total, "bytes downloaded ({transport:?})");
    assert!(got == pattern(total), "the download arrived altered ({transport:?})");
    let drains = drained.try_iter().count();
    assert!(drains >= 8, "8 MiB through a 256 KiB output limit needs many drains, got {drains} ({transport:?})");
    server.stop();
}

/// Answers one line per call with its length, and consumes only that line.
struct OneLinePerCall;

impl Handler for OneLinePerCall {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        match data.iter().position(|&b| b == b'\n') {
            Some(end) => {
                cx.send(id, format!("{}\n", end).as_bytes());
                end + 1
            }
            None => 0,
        }
    }
}

fn unconsumed_input_is_offered_again_one_request_per_call(transport: Transport) {
    let server = Server::start_over(transport, test_config(), OneLinePerCall);
    let mut client = server.client();
    let requests: String = (0..200).map(|i| format!("{}\n", "x".repeat(i % 17))).collect();
    client.write_all(requests.as_bytes()).unwrap();
    let expected: String = (0..200).map(|i| format!("{}\n", i % 17)).collect();
    let mut replies = vec![0; expected.len()];
    client.read_exact(&mut replies).expect("one reply per pipelined request, with no new input");
    assert_eq!(String::from_utf8(replies).unwrap(), expected, "({transport:?})");
    server.stop();
}

fn a_silent_peer_is_closed_by_the_idle_timeout(transport: Transport) {
    let (recorder, events) = Recorder::new();
    let config = Config { idle_timeout: Some(Duration::from_millis(200)), ..test_config() };
    let server = Server::start_over(transport, config, recorder);
    let mut client = server.client();
    let id = events.next_open();
    assert_eq!(events.close_reason(id), CloseReason::IdleTimeout, "({transport:?})");
    let mut byte = [0];
    assert!(matches!(client.read(&mut byte), Ok(0) | Err(_)), "the connection is gone ({transport:?})");
    server.stop();
}

/// Consumes nothing: every byte stays unconsumed.
struct Hoarder(mpsc::Sender<CloseReason>);

impl Handler for Hoarder {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), _: &[u8]) -> usize {
        0
    }
    fn on_close(&mut self, _: &mut Ctx, _: ConnId, _: (), reason: CloseReason) {
        let _ = self.0.send(reason);
    }
}

fn unconsumed_input_past_its_limit_closes_with_input_limit(transport: Transport) {
    let (closed, reasons) = mpsc::channel();
    let config = Config { max_input_bytes: 4096, ..test_config() };
    let server = Server::start_over(transport, config, Hoarder(closed));
    let mut client = server.client();
    // The server may close before taking all of it: a failed write is fine.
    let _ = client.write_all(&[b'x'; 64 * 1024]);
    let reason = reasons.recv_timeout(TIMEOUT).expect("the hoarding connection closes");
    assert_eq!(reason, CloseReason::InputLimit, "({transport:?})");
    server.stop();
}

/// Sends far more than the output limit in one callback.
struct Flood(mpsc::Sender<CloseReason>);

impl Handler for Flood {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) {
        for _ in 0..64 {
            if !cx.send(id, &[0; 64 * 1024]) {
                break;
            }
        }
    }
    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        data.len()
    }
    fn on_close(&mut self, _: &mut Ctx, _: ConnId, _: (), reason: CloseReason) {
        let _ = self.0.send(reason);
    }
}

fn output_past_its_limit_closes_with_output_limit(transport: Transport) {
    let (closed, reasons) = mpsc::channel();
    let config = Config { max_output_bytes: 512 * 1024, ..test_config() };
    let server = Server::start_over(transport, config, Flood(closed));
    let _client = server.client();
    let reason = reasons.recv_timeout(TIMEOUT).expect("the flooded connection closes");
    assert_eq!(reason, CloseReason::OutputLimit, "({transport:?})");
    server.stop();
}

/// Reports each connection's peer address and credentials.
struct WhoIsThere(mpsc::Sender<(Option<PeerAddr>, Option<evloop::PeerCredentials>)>);

impl Handler for WhoIsThere {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) {
        let _ = self.0.send((cx.peer_addr(id), cx.peer_credentials(id)));
    }
    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        data.len()
    }
    fn on_eof(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), _: &[u8]) -> AfterEof {
        AfterEof::Close
    }
}

fn peer_addr_says_which_transport(transport: Transport) {
    let (seen, opened) = mpsc::channel();
    let server = Server::start_over(transport, test_config(), WhoIsThere(seen));
    let _client = server.client();
    let (peer, credentials) = opened.recv_timeout(TIMEOUT).expect("on_open");
    match transport {
        Transport::Tcp => {
            let peer = peer.expect("a peer address");
            assert!(peer.ip().is_some_and(|ip| ip.is_loopback()), "a TCP peer on loopback, got {peer}");
            assert_eq!(credentials, None, "TCP has no peer credentials");
        }
        Transport::Unix => {
            assert_eq!(peer, Some(PeerAddr::Unix(None)), "an accepted Unix-domain client is unnamed");
            let credentials = credentials.expect("a Unix-domain peer's credentials");
            assert_eq!(credentials.pid, std::process::id() as i32, "the connecting process is this one");
        }
    }
    server.stop();
}
