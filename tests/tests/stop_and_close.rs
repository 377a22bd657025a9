//! Stopping the loop meets an application's close: the close the
//! application asks for in `on_stop` keeps `Ctx::close`'s promise (the
//! peer gets every byte, then end of file, even if it sends more after
//! the close), as it does while the loop runs. Only the loop's own
//! shutdown closes may skip the linger where the peer shows no input.

use std::io::Write;
use std::sync::mpsc::{self, Receiver, Sender};

use evloop::{CloseReason, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, read_to_end, test_config, Server, TIMEOUT};

const REPLY: usize = 512 * 1024;

/// Keeps every connection; on the first byte from one (while running) or
/// in `on_stop` (for all), sends it `REPLY` bytes and closes it. Reports
/// each `on_close`.
struct ReplyAndClose {
    open: Vec<ConnId>,
    opened: Sender<ConnId>,
    closed: Sender<(ConnId, CloseReason)>,
}

impl ReplyAndClose {
    fn reply_and_close(cx: &mut Ctx, id: ConnId) {
        assert!(cx.send(id, &vec![b'r'; REPLY]), "the reply is queued");
        assert!(cx.close(id), "the close is taken");
    }
}

impl Handler for ReplyAndClose {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, id: ConnId, _: Origin) {
        self.open.push(id);
        let _ = self.opened.send(id);
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        if cx.is_open(id) {
            ReplyAndClose::reply_and_close(cx, id);
        }
        data.len()
    }

    fn on_stop(&mut self, cx: &mut Ctx) {
        for id in std::mem::take(&mut self.open) {
            if cx.is_open(id) {
                ReplyAndClose::reply_and_close(cx, id);
            }
        }
    }

    fn on_close(&mut self, _: &mut Ctx, id: ConnId, _: (), reason: CloseReason) {
        self.open.retain(|&open| open != id);
        let _ = self.closed.send((id, reason));
    }
}

struct Started {
    server: Server<ReplyAndClose>,
    on_open: Receiver<ConnId>,
    on_close: Receiver<(ConnId, CloseReason)>,
}

fn start() -> Started {
    let (opened, on_open) = mpsc::channel();
    let (closed, on_close) = mpsc::channel();
    let server = Server::start(test_config(), ReplyAndClose { open: Vec::new(), opened, closed });
    Started { server, on_open, on_close }
}

/// The peer of a closed connection sends one byte after `on_close`, then
/// reads: it must get the whole reply and then end of file.
#[track_caller]
fn expect_whole_reply_despite_a_byte_after_the_close(
    client: &mut std::net::TcpStream,
    on_close: &Receiver<(ConnId, CloseReason)>,
) {
    let (_, reason) = on_close.recv_timeout(TIMEOUT).expect("on_close within the timeout");
    assert_eq!(reason, CloseReason::App, "the application's close keeps its reason");
    client.write_all(b"x").expect("one byte after the close");
    let reply = read_to_end(client).unwrap_or_else(|e| panic!("the reply then end of file, not {e}"));
    assert_eq!(reply.len(), REPLY, "every byte of the reply arrives");
}

#[test]
fn an_applications_close_while_running_delivers_every_byte_then_end_of_file() {
    let Started { server, on_close, .. } = start();
    let mut client = connect(server.addr);
    client.write_all(b"go").unwrap();
    expect_whole_reply_despite_a_byte_after_the_close(&mut client, &on_close);
    drop(server);
}

#[test]
fn an_applications_close_in_on_stop_lingers_and_delivers_every_byte_then_end_of_file() {
    let Started { server, on_open, on_close } = start();
    let mut client = connect(server.addr);
    on_open.recv_timeout(TIMEOUT).expect("the connection opens");
    let stopper = std::thread::spawn(move || server.stop());
    expect_whole_reply_despite_a_byte_after_the_close(&mut client, &on_close);
    drop(client); // its end of file ends the linger
    stopper.join().expect("the loop stops");
}
