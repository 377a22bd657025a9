//! Input `on_data` leaves unconsumed is offered again without new bytes
//! while the handler makes progress on it, and when reading resumes; a
//! handler that consumed nothing is not called again until more arrives.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use evloop::{ConnId, Ctx, Handler, Origin, TimerId};
use evloop_tests::{connect, round_trip, test_config, Server, TIMEOUT};

/// Serves one line per call, echoing it, and stops there: the rest waits
/// in the loop's buffer. With `pause_after_first`, pauses reading after
/// the first line and resumes from a timer.
struct OneLinePerCall {
    pause_after_first: bool,
    calls: Sender<Vec<u8>>,
}

impl Handler for OneLinePerCall {
    type Conn = usize;
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) -> usize {
        0
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, lines: &mut usize, data: &[u8]) -> usize {
        let _ = self.calls.send(data.to_vec());
        let Some(end) = data.iter().position(|&b| b == b'\n') else { return 0 };
        cx.send(id, &data[..=end]);
        *lines += 1;
        if self.pause_after_first && *lines == 1 {
            cx.pause_read(id);
            cx.set_conn_timer(id, Duration::from_millis(20), 0);
        }
        end + 1
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, _: &mut usize, _: TimerId, _: u64) {
        cx.resume_read(id);
    }
}

fn start(pause_after_first: bool) -> (Server<OneLinePerCall>, mpsc::Receiver<Vec<u8>>) {
    let (calls, seen) = mpsc::channel();
    (Server::start(test_config(), OneLinePerCall { pause_after_first, calls }), seen)
}

#[test]
fn input_left_by_a_handler_that_made_progress_is_offered_again() {
    let (server, _calls) = start(false);
    let mut client = connect(server.addr);
    assert_eq!(round_trip(&mut client, b"a\nb\nc\n"), b"a\nb\nc\n", "every line of one write is served");
}

#[test]
fn resume_read_offers_input_already_buffered() {
    let (server, _calls) = start(true);
    let mut client = connect(server.addr);
    assert_eq!(
        round_trip(&mut client, b"first\nsecond\n"),
        b"first\nsecond\n",
        "the line buffered while paused is served once reading resumes"
    );
}

#[test]
fn a_handler_that_consumes_nothing_is_not_called_again_until_more_bytes_arrive() {
    let (server, calls) = start(false);
    let mut client = connect(server.addr);
    client.write_all(b"no newline yet").unwrap();
    assert_eq!(calls.recv_timeout(TIMEOUT).unwrap(), b"no newline yet");
    // Many turns pass: each round trip on another connection is at least one.
    let mut other = connect(server.addr);
    for _ in 0..50 {
        assert_eq!(round_trip(&mut other, b"ping\n"), b"ping\n");
    }
    let offered_again: Vec<_> = calls.try_iter().filter(|data| data.starts_with(b"no newline")).collect();
    assert!(offered_again.is_empty(), "the stalled input was offered again with nothing new: {offered_again:?}");
    client.write_all(b"\n").unwrap();
    let mut reply = vec![0; b"no newline yet\n".len()];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply, b"no newline yet\n", "more bytes offer it again, whole");
}

/// Serves `get N` lines with N bytes, produced as `is_writable` allows and
/// continued from `on_drain`; a request arriving during a download waits
/// unconsumed until the download is done, as an HTTP/1.1 server's
/// pipelined request behind a large reply does.
struct Downloads;

impl Handler for Downloads {
    /// Bytes of the current download still to send.
    type Conn = usize;
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) -> usize {
        0
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, left: &mut usize, data: &[u8]) -> usize {
        if *left > 0 {
            return 0; // busy: the request waits for the download to finish
        }
        let Some(end) = data.iter().position(|&b| b == b'\n') else { return 0 };
        let size = std::str::from_utf8(&data[..end]).ok().and_then(|line| line.strip_prefix("get "));
        *left = size.and_then(|n| n.parse().ok()).expect("a `get N` request");
        produce(cx, id, left);
        end + 1
    }

    fn on_drain(&mut self, cx: &mut Ctx, id: ConnId, left: &mut usize) {
        produce(cx, id, left);
    }
}

fn produce(cx: &mut Ctx, id: ConnId, left: &mut usize) {
    while *left > 0 && cx.is_writable(id) {
        let chunk = (*left).min(16 * 1024);
        cx.send(id, &vec![b'd'; chunk]);
        *left -= chunk;
    }
}

#[test]
fn input_waiting_behind_a_download_is_offered_again_once_on_drain_finishes_it() {
    for round in 0..5 {
        let server = Server::start(test_config(), Downloads);
        let mut client = connect(server.addr);
        client.write_all(b"get 4000000\nget 10\n").unwrap();
        let mut reply = vec![0; 4_000_010];
        client.read_exact(&mut reply).unwrap_or_else(|e| {
            panic!("round {round}: the request pipelined behind the download was never served: {e}")
        });
        assert!(reply.iter().all(|&b| b == b'd'), "round {round}: every byte of both replies");
        server.stop();
    }
}
