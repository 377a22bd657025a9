//! Peers that vanish (reset) while the server is writing to them close only
//! their own connection; the loop serves everyone else.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use evloop::{CloseReason, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, round_trip, test_config, Events, Recorder, Server};
use socket2::SockRef;

/// Echoes; `s` starts an endless stream of output, refilled on every drain.
#[derive(Debug)]
struct Streamer {
    recorder: Recorder,
}

const BLOCK: [u8; 16 * 1024] = [b's'; 16 * 1024];

fn refill(cx: &mut Ctx, id: ConnId) {
    while cx.queued_output(id).is_some_and(|queued| queued <= cx.config().high_watermark) {
        if !cx.send(id, &BLOCK) {
            return;
        }
    }
}

impl Handler for Streamer {
    type Conn = ();
    type Message = u64;

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) {
        self.recorder.on_open(cx, id, origin)
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut (), data: &[u8]) -> usize {
        if data == b"s" {
            refill(cx, id);
            data.len()
        } else {
            self.recorder.on_data(cx, id, conn, data)
        }
    }

    fn on_drain(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut ()) {
        refill(cx, id);
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, conn: (), reason: CloseReason) {
        self.recorder.on_close(cx, id, conn, reason)
    }
}

fn vanish(stream: TcpStream) {
    SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
}

#[test]
fn peers_that_reset_mid_write_close_alone() {
    const VANISHING: usize = 20;
    let (recorder, events): (Recorder, Events) = Recorder::new();
    let server = Server::start(test_config(), Streamer { recorder });
    let mut bystander = connect(server.addr);
    events.next_open();

    for _ in 0..VANISHING {
        let mut peer = connect(server.addr);
        let id = events.next_open();
        peer.write_all(b"s").unwrap();
        let mut some = [0; 4096];
        peer.read_exact(&mut some).expect("the stream starts");
        vanish(peer);
        let reason = events.close_reason(id);
        assert!(
            matches!(reason, CloseReason::Reset | CloseReason::PeerClosed),
            "a vanished peer closes as reset (or, if its FIN was read first, peer closed): {reason}"
        );
        assert_eq!(round_trip(&mut bystander, b"still served"), b"still served");
    }
    let (_, stats) = server.stop();
    assert!(stats.closed(CloseReason::Reset) >= 1, "at least one write met the reset: {stats}");
}

/// Pauses reading on every connection as it opens, and never resumes.
struct NeverReads {
    recorder: Recorder,
}

impl Handler for NeverReads {
    type Conn = ();
    type Message = u64;

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) {
        cx.pause_read(id);
        self.recorder.on_open(cx, id, origin)
    }

    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, conn: (), reason: CloseReason) {
        self.recorder.on_close(cx, id, conn, reason)
    }
}

#[test]
fn a_reset_is_noticed_while_reading_is_paused() {
    let (recorder, events) = Recorder::new();
    let server = Server::start(test_config(), NeverReads { recorder });
    let mut client = connect(server.addr);
    let id = events.next_open();
    client.write_all(b"unread").unwrap();
    vanish(client);
    assert_eq!(events.close_reason(id), CloseReason::Reset, "the reset closes the paused connection at once");
}
