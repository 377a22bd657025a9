//! A client pipelining requests whose replies add up to far more than
//! `max_output_bytes` gets every reply, while the server's output for it
//! stays near the high watermark: the handler stops at `is_writable`, the
//! loop reads no more and offers the rest once the output drains.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Sender};

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, test_config, Server, TIMEOUT};

/// Answers every `g\n` with a 16 KiB value, as a key-value server answers
/// GET, stopping while the connection is not writable.
struct Getter {
    value: Vec<u8>,
    most_queued: usize,
    closed: Sender<CloseReason>,
}

impl Handler for Getter {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        let mut consumed = 0;
        while data.len() - consumed >= 2 && cx.is_writable(id) {
            assert_eq!(&data[consumed..consumed + 2], b"g\n");
            cx.send(id, &self.value);
            consumed += 2;
            self.most_queued = self.most_queued.max(cx.queued_output(id).unwrap_or(0));
        }
        consumed
    }

    fn on_close(&mut self, _: &mut Ctx, _: ConnId, _: (), reason: CloseReason) {
        let _ = self.closed.send(reason);
    }
}

#[test]
fn pipelined_replies_far_past_max_output_bytes_are_all_delivered() {
    const REQUESTS: usize = 2_500;
    const VALUE: usize = 16 * 1024;
    let config = Config { max_output_bytes: 4 * 1024 * 1024, ..test_config() };
    let high_watermark = config.high_watermark;
    let value: Vec<u8> = (0..VALUE).map(|i| (i % 251) as u8).collect();
    let (closed, reasons) = mpsc::channel();
    let server = Server::start(config, Getter { value: value.clone(), most_queued: 0, closed });
    let mut client = connect(server.addr);
    client.write_all(&b"g\n".repeat(REQUESTS)).unwrap();
    let mut reply = vec![0; VALUE];
    for i in 0..REQUESTS {
        client.read_exact(&mut reply).unwrap_or_else(|e| panic!("reply {i} of {REQUESTS}: {e}"));
        assert!(reply == value, "reply {i} is the value");
    }
    drop(client);
    assert_eq!(reasons.recv_timeout(TIMEOUT).unwrap(), CloseReason::PeerClosed, "served, then closed by the peer");
    let (getter, _) = server.stop();
    assert!(
        getter.most_queued <= high_watermark + VALUE,
        "{} bytes queued at most: more than the high watermark plus one reply",
        getter.most_queued
    );
}
