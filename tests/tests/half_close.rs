//! Half-close in both directions: a peer's FIN reaches `on_eof`, and the
//! handler may keep writing; `shutdown_write` sends the server's FIN while
//! reading goes on.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::mpsc::{self, Receiver, Sender};

use evloop::{AfterEof, CloseReason, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, read_to_end, round_trip, test_config, Recorder, Seen, Server, TIMEOUT};

#[derive(Debug, PartialEq, Eq)]
enum Note {
    Eof,
    Data(Vec<u8>),
    /// What `send` answered right after `shutdown_write`.
    SendAfterShutdown(bool),
    Closed(CloseReason),
}

/// Echoes; keeps writing after the peer's FIN; `q` half-closes our side;
/// a message is sent to the connection and followed by our FIN.
#[derive(Debug)]
struct HalfCloser {
    notes: Sender<Note>,
    peer: Option<ConnId>,
}

impl Handler for HalfCloser {
    type Conn = ();
    type Message = Vec<u8>;

    fn on_open(&mut self, _cx: &mut Ctx, id: ConnId, _origin: Origin) {
        self.peer = Some(id);
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        if data == b"q" {
            assert!(cx.shutdown_write(id));
            self.notes.send(Note::SendAfterShutdown(cx.send(id, b"too late"))).unwrap();
        } else if !cx.send(id, data) {
            // Our write side is shut: report instead of echoing.
            self.notes.send(Note::Data(data.to_vec())).unwrap();
        }
        data.len()
    }

    fn on_eof(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), _unconsumed: &[u8]) -> AfterEof {
        self.notes.send(Note::Eof).unwrap();
        AfterEof::KeepWriting
    }

    fn on_close(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: (), reason: CloseReason) {
        self.notes.send(Note::Closed(reason)).unwrap();
    }

    fn on_message(&mut self, cx: &mut Ctx, message: Vec<u8>) {
        let id = self.peer.expect("a connection is open");
        assert!(cx.send(id, &message));
        assert!(cx.shutdown_write(id));
    }
}

fn start() -> (Server<HalfCloser>, Receiver<Note>) {
    let (notes, rx) = mpsc::channel();
    (Server::start(test_config(), HalfCloser { notes, peer: None }), rx)
}

fn next(notes: &Receiver<Note>) -> Note {
    notes.recv_timeout(TIMEOUT).expect("the handler reported nothing")
}

#[test]
fn by_default_the_server_flushes_then_closes_after_the_peers_fin() {
    let (recorder, events) = Recorder::new();
    let server = Server::start(test_config(), recorder);
    let mut client = connect(server.addr);
    let id = events.next_open();
    let message = vec![7u8; 256 * 1024];
    client.write_all(&message).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut client).unwrap(), message, "every byte echoed before the close");
    // 256 KiB echoed passes the high watermark, so `on_drain` may come first.
    assert_eq!(events.find("on_eof", |seen| matches!(seen, Seen::Eof(_))), Seen::Eof(id));
    assert_eq!(events.close_reason(id), CloseReason::PeerClosed);
}

#[test]
fn a_handler_may_keep_writing_after_the_peers_fin() {
    let (server, notes) = start();
    let mut client = connect(server.addr);
    assert_eq!(round_trip(&mut client, b"question"), b"question");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(next(&notes), Note::Eof);

    server.handle.send(b"the answer, after your FIN".to_vec()).unwrap();
    assert_eq!(read_to_end(&mut client).unwrap(), b"the answer, after your FIN");
    assert_eq!(next(&notes), Note::Closed(CloseReason::PeerClosed), "both sides shut: closed");
}

#[test]
fn shutdown_write_sends_fin_and_reading_goes_on() {
    let (server, notes) = start();
    let mut client = connect(server.addr);
    client.write_all(b"q").unwrap();
    assert_eq!(next(&notes), Note::SendAfterShutdown(false), "no output after shutdown_write");
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).unwrap(), 0, "the client sees our FIN");

    client.write_all(b"still listening?").unwrap();
    assert_eq!(next(&notes), Note::Data(b"still listening?".to_vec()));
    drop(client);
    assert_eq!(next(&notes), Note::Eof);
    assert_eq!(next(&notes), Note::Closed(CloseReason::PeerClosed));
}

#[test]
fn on_eof_hands_over_the_input_on_data_left_unconsumed() {
    /// Consumes nothing until end of file, then reports what it was left.
    #[derive(Debug)]
    struct Hoarder(Sender<Vec<u8>>);

    impl Handler for Hoarder {
        type Conn = ();
        type Message = ();

        fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

        fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
            data.len().saturating_sub(3) // keep the last three bytes back
        }

        fn on_eof(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), unconsumed: &[u8]) -> AfterEof {
            self.0.send(unconsumed.to_vec()).unwrap();
            AfterEof::Close
        }
    }

    let (tx, rx) = mpsc::channel();
    let server = Server::start(test_config(), Hoarder(tx));
    let mut client = connect(server.addr);
    client.write_all(b"all but the tail").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), b"ail");
    assert_eq!(read_to_end(&mut client).unwrap(), b"", "then a clean close");
}

/// `q` half-closes our side; input that begins with `a` aborts.
struct AbortAfterHalfClose;

impl Handler for AbortAfterHalfClose {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        match data {
            b"q" => assert!(cx.shutdown_write(id)),
            [b'a', ..] => assert!(cx.abort(id)),
            _ => {}
        }
        data.len()
    }
}

#[test]
fn abort_after_shutdown_write_resets_but_cannot_take_back_the_end_of_file_already_sent() {
    let server = Server::start(test_config(), AbortAfterHalfClose);
    let mut client = connect(server.addr);
    client.write_all(b"q").unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(client.read(&mut byte).expect("end of file"), 0, "the FIN of shutdown_write arrives first");
    client.write_all(b"a").unwrap();
    // The reset makes the peer's next send fail (ECONNRESET, then EPIPE);
    // until it arrives each byte is read and ignored.
    evloop_tests::wait_until("the abort's reset reaches the peer", || client.write(b"x").is_err());
}
