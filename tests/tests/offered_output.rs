//! Output that is part of the input `on_data` was offered goes out straight
//! from that input, without a copy. These tests hold it to everything the
//! copying path promises: order with later sends, the FIN or reset of a
//! close asked for in the same callback, limits and watermarks counting it,
//! and the rest queued, in order, when the socket takes only part.

use std::io::{ErrorKind, Read, Write};
use std::sync::mpsc::{self, Sender};
use std::thread;
use std::time::Duration;

use evloop::{Config, ConnId, Ctx, Handler, Origin, TimerId};
use evloop_tests::{connect, connect_with_small_receive_buffer, read_to_end, test_config, Server};

/// What to do after sending the input back.
#[derive(Debug, Clone, Copy)]
enum Then {
    Nothing,
    Close,
    ShutdownWrite,
    Abort,
    /// Send `!` and then the first offered byte again (both copied, after).
    SendMore,
    /// Send `late` from a timer due at once: later in the same turn.
    SendLater,
    /// Echo in two sends: the first half (from the input), then the rest.
    SplitInTwo,
    /// Send it back but consume none of it.
    KeepAll,
}

struct SendBack {
    then: Then,
    /// What `queued_output` and `is_writable` said right after the send.
    seen: Sender<(Option<usize>, bool)>,
}

impl Handler for SendBack {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        if let Then::SplitInTwo = self.then {
            let half = data.len() / 2;
            assert!(cx.send(id, &data[..half]));
            assert!(cx.send(id, &data[half..]));
            return data.len();
        }
        assert!(cx.send(id, data));
        let _ = self.seen.send((cx.queued_output(id), cx.is_writable(id)));
        match self.then {
            Then::Nothing | Then::SplitInTwo => {}
            Then::KeepAll => return 0,
            Then::Close => assert!(cx.close(id)),
            Then::ShutdownWrite => assert!(cx.shutdown_write(id)),
            Then::Abort => assert!(cx.abort(id)),
            Then::SendMore => {
                assert!(cx.send(id, b"!"));
                assert!(cx.send(id, &data[..1]));
            }
            Then::SendLater => {
                cx.set_conn_timer(id, Duration::ZERO, 0);
            }
        }
        data.len()
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), _: TimerId, _: u64) {
        assert!(cx.send(id, b"late"));
    }
}

fn start(then: Then, config: Config) -> (Server<SendBack>, mpsc::Receiver<(Option<usize>, bool)>) {
    let (seen, seen_rx) = mpsc::channel();
    (Server::start(config, SendBack { then, seen }), seen_rx)
}

#[test]
fn what_was_sent_back_counts_as_queued_until_on_data_returns() {
    let config = Config { high_watermark: 4, low_watermark: 2, ..test_config() };
    let (server, seen) = start(Then::Nothing, config);
    let mut client = connect(server.addr);
    client.write_all(b"hello").unwrap();
    let mut reply = [0; 5];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hello");
    assert_eq!(seen.recv().unwrap(), (Some(5), false), "five bytes queued, above the high watermark of 4");
    server.stop();
}

#[test]
fn sends_after_it_follow_it_in_order() {
    let (server, _seen) = start(Then::SendMore, test_config());
    let mut client = connect(server.addr);
    client.write_all(b"hello").unwrap();
    let mut reply = [0; 7];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"hello!h");
    let (_, stats) = server.stop();
    assert_eq!(stats.write_calls, 1, "the input and what followed it in one write");
}

#[test]
fn output_later_in_the_same_turn_follows_it_in_order() {
    let (server, _seen) = start(Then::SendLater, test_config());
    let mut client = connect(server.addr);
    for _ in 0..50 {
        client.write_all(b"hello").unwrap();
        let mut reply = [0; 9];
        client.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"hellolate");
    }
    server.stop();
}

/// Sends `hello` to a fresh server that echoes it and then does `then`;
/// reads to the end of file, or the reset.
fn hello_then(then: Then, config: Config) -> std::io::Result<Vec<u8>> {
    let (server, _seen) = start(then, config);
    let mut client = connect(server.addr);
    client.write_all(b"hello").unwrap();
    let outcome = read_to_end(&mut client);
    server.stop();
    outcome
}

#[test]
fn close_in_the_same_callback_sends_it_then_end_of_file() {
    assert_eq!(hello_then(Then::Close, test_config()).unwrap(), b"hello");
}

#[test]
fn shutdown_write_in_the_same_callback_sends_it_then_end_of_file() {
    assert_eq!(hello_then(Then::ShutdownWrite, test_config()).unwrap(), b"hello");
}

#[test]
fn abort_in_the_same_callback_drops_it_and_resets() {
    let outcome = hello_then(Then::Abort, test_config());
    assert_eq!(outcome.map_err(|e| e.kind()), Err(ErrorKind::ConnectionReset), "nothing, then a reset");
}

#[test]
fn over_the_output_limit_it_closes_as_a_copied_send_would() {
    let config = Config { max_output_bytes: 4, high_watermark: 4, low_watermark: 2, ..test_config() };
    let outcome = hello_then(Then::Nothing, config);
    assert_eq!(outcome.map_err(|e| e.kind()), Err(ErrorKind::ConnectionReset), "an output-limit close resets");
}

#[test]
fn leaving_more_than_the_input_limit_drops_it_as_a_copied_send_would() {
    let config = Config { max_input_bytes: 4, ..test_config() };
    let (server, _seen) = start(Then::KeepAll, config);
    let mut client = connect(server.addr);
    client.write_all(b"hello").unwrap();
    let outcome = read_to_end(&mut client);
    assert_eq!(outcome.map_err(|e| e.kind()), Err(ErrorKind::ConnectionReset), "an input-limit close resets");
    let (_, stats) = server.stop();
    assert_eq!(stats.write_calls, 0, "the reply to input over the limit is dropped, not written");
}

#[test]
fn what_a_full_socket_does_not_take_is_queued_in_order() {
    const TOTAL: usize = 8 << 20;
    let (server, _seen) = start(Then::SplitInTwo, test_config());
    let mut client = connect_with_small_receive_buffer(server.addr);
    let mut writer = client.try_clone().unwrap();
    let sent: Vec<u8> = (0..TOTAL).map(|i| (i * 7 + i / 251) as u8).collect();
    let expected = sent.clone();
    let writing = thread::spawn(move || {
        // Far more than the socket buffers hold, so the server's writes
        // come up short and the rest queues behind them.
        writer.write_all(&sent).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let echoed = read_to_end(&mut client).unwrap();
    writing.join().unwrap();
    assert_eq!(echoed.len(), TOTAL);
    assert!(echoed == expected, "the echo arrives intact and in order");
    server.stop();
}
