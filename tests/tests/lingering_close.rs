//! A graceful close delivers every byte sent and then end of file, even to
//! a peer that is still sending; an abortive close resets, so a peer never
//! takes a truncated stream for a complete one.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::mpsc;
use std::thread;

use evloop::{Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, connect_with_small_receive_buffer, read_to_end, test_config, Server};

const REPLY: usize = 1024 * 1024;

/// Answers the first line with 1 MiB, then closes (gracefully, or with
/// `abort`); whatever follows the line stays unread.
struct ReplyThenClose {
    abort: bool,
}

impl Handler for ReplyThenClose {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        let Some(end) = data.iter().position(|&b| b == b'\n') else { return 0 };
        if !cx.is_open(id) {
            return data.len();
        }
        cx.send(id, &vec![b'r'; REPLY]);
        if self.abort {
            cx.abort(id);
        } else {
            cx.close(id);
        }
        end + 1
    }
}

#[test]
fn a_closed_connection_delivers_every_byte_then_end_of_file_despite_input_after_the_close() {
    let server = Server::start(test_config(), ReplyThenClose { abort: false });
    // A small window keeps most of the reply in flight when the server
    // closes; the byte sent once the reply has begun reaches a socket the
    // server has closed (or is lingering on).
    let mut client = connect_with_small_receive_buffer(server.addr);
    client.write_all(b"request\n").unwrap();
    let mut first = [0; 1];
    client.read_exact(&mut first).unwrap();
    client.write_all(b"x").unwrap();
    let rest = read_to_end(&mut client).expect("end of file, not a reset");
    assert_eq!(1 + rest.len(), REPLY, "every byte of the reply arrives");
}

#[test]
fn a_peer_still_sending_after_the_close_gets_every_byte_then_end_of_file() {
    let server = Server::start(test_config(), ReplyThenClose { abort: false });
    let client = connect_with_small_receive_buffer(server.addr);
    let mut writer = client.try_clone().unwrap();
    let (stop, stopped) = mpsc::channel::<()>();
    let chatter = thread::spawn(move || {
        writer.write_all(b"request\n").unwrap();
        // Keeps sending while the reply is read, until told to stop or the
        // server's socket is gone.
        while stopped.try_recv().is_err() {
            if writer.write_all(&[b'.'; 512]).is_err() {
                return;
            }
            thread::yield_now();
        }
        let _ = writer.shutdown(Shutdown::Write);
    });
    let mut client = client;
    let reply = read_to_end(&mut client).expect("end of file, not a reset");
    assert_eq!(reply.len(), REPLY, "every byte of the reply arrives");
    stop.send(()).unwrap();
    chatter.join().unwrap();
}

#[test]
fn abort_resets_the_peer_instead_of_ending_the_stream() {
    let server = Server::start(test_config(), ReplyThenClose { abort: true });
    let mut client = connect_with_small_receive_buffer(server.addr);
    client.write_all(b"request\n").unwrap();
    let mut all = Vec::new();
    let outcome = client.read_to_end(&mut all);
    assert_eq!(
        outcome.map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionReset),
        "an aborted stream ends in a reset (after {} bytes), never a clean end of file",
        all.len()
    );
}

/// Consumes nothing: every byte counts against the input limit.
struct Hoarder;

impl Handler for Hoarder {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), _: &[u8]) -> usize {
        0
    }
}

#[test]
fn a_connection_closed_for_its_input_limit_is_reset() {
    let server = Server::start(Config { max_input_bytes: 64, ..test_config() }, Hoarder);
    let mut client = connect(server.addr);
    client.write_all(&[b'x'; 1024]).unwrap();
    let mut byte = [0; 1];
    let outcome = client.read(&mut byte);
    assert_eq!(outcome.map_err(|e| e.kind()), Err(ErrorKind::ConnectionReset), "a limit close is a reset");
    let mut other = connect(server.addr);
    other.write_all(b"small").unwrap();
    other.set_read_timeout(Some(std::time::Duration::from_millis(50))).unwrap();
    assert_eq!(
        other.read(&mut byte).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "a connection within its limit stays open"
    );
}
