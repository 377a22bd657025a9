//! `on_close` fires exactly once per connection, with the reason it ended.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, read_to_end, round_trip, test_config, Events, Recorder, Seen, Server};
use socket2::SockRef;

/// Echoes, and acts on one-byte commands: `c` closes after flushing "bye",
/// `f` floods the peer with output, `h` holds input unconsumed.
#[derive(Debug)]
struct Scripted {
    recorder: Recorder,
}

impl Handler for Scripted {
    type Conn = ();
    type Message = u64;

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, origin: Origin) {
        self.recorder.on_open(cx, id, origin)
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, conn: &mut (), data: &[u8]) -> usize {
        match data.first() {
            Some(b'c') => {
                cx.send(id, b"bye");
                cx.close(id);
                data.len()
            }
            Some(b'f') => {
                let block = vec![b'x'; 64 * 1024];
                while cx.send(id, &block) {}
                data.len()
            }
            Some(b'h') => 0,
            _ => self.recorder.on_data(cx, id, conn, data),
        }
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, conn: (), reason: CloseReason) {
        self.recorder.on_close(cx, id, conn, reason)
    }
}

fn start(config: Config) -> (Server<Scripted>, Events) {
    let (recorder, events) = Recorder::new();
    (Server::start(config, Scripted { recorder }), events)
}

/// Sends RST instead of FIN on close.
fn reset(stream: TcpStream) {
    SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
}

#[test]
fn peer_close_is_reported_as_peer_closed() {
    let (server, events) = start(test_config());
    let mut client = connect(server.addr);
    assert_eq!(round_trip(&mut client, b"yo"), b"yo");
    let id = events.next_open();
    drop(client);
    assert_eq!(events.close_reason(id), CloseReason::PeerClosed);
}

#[test]
fn peer_reset_is_reported_as_reset() {
    let (server, events) = start(test_config());
    let mut client = connect(server.addr);
    assert_eq!(round_trip(&mut client, b"yo"), b"yo");
    let id = events.next_open();
    reset(client);
    assert_eq!(events.close_reason(id), CloseReason::Reset);
}

#[test]
fn app_close_flushes_output_then_closes_with_app() {
    let (server, events) = start(test_config());
    let mut client = connect(server.addr);
    client.write_all(b"c").unwrap();
    assert_eq!(read_to_end(&mut client).expect("a clean close"), b"bye");
    assert_eq!(events.close_reason(events.next_open()), CloseReason::App);
}

#[test]
fn output_past_the_hard_limit_closes_with_output_limit() {
    let config = Config { max_output_bytes: 1024 * 1024, ..test_config() };
    let (server, events) = start(config);
    let mut flooded = connect(server.addr);
    flooded.write_all(b"f").unwrap();
    let id = events.next_open();
    assert_eq!(events.close_reason(id), CloseReason::OutputLimit);

    let mut other = connect(server.addr);
    assert_eq!(round_trip(&mut other, b"still here"), b"still here", "others are still served");
    // The flooded peer gets what was sent before the limit, then the close.
    let mut sink = Vec::new();
    let outcome = flooded.read_to_end(&mut sink);
    assert!(outcome.is_ok() || outcome.unwrap_err().kind() == ErrorKind::ConnectionReset);
}

#[test]
fn input_left_unconsumed_past_the_limit_closes_with_input_limit() {
    let config = Config { max_input_bytes: 64 * 1024, ..test_config() };
    let (server, events) = start(config);
    let mut hoarder = connect(server.addr);
    let id = events.next_open();
    let block = [b'h'; 16 * 1024];
    // The server closes after 64 KiB; the writes after that may fail.
    for _ in 0..16 {
        if hoarder.write_all(&block).is_err() {
            break;
        }
    }
    assert_eq!(events.close_reason(id), CloseReason::InputLimit);
    let mut other = connect(server.addr);
    assert_eq!(round_trip(&mut other, b"ok"), b"ok", "others are still served");
}

#[test]
fn on_close_fires_exactly_once_for_every_connection_opened() {
    let (server, events) = start(test_config());
    let mut clients: Vec<TcpStream> = (0..50).map(|_| connect(server.addr)).collect();
    for client in &mut clients {
        assert_eq!(round_trip(client, b"x"), b"x");
    }
    for (i, client) in clients.into_iter().enumerate() {
        if i % 2 == 0 {
            reset(client);
        } else {
            drop(client);
        }
    }
    let (_, stats) = server.stop();
    let seen = events.drain();
    let opened: Vec<ConnId> =
        seen.iter().filter_map(|s| if let Seen::Open(id, _) = s { Some(*id) } else { None }).collect();
    assert_eq!(opened.len(), 50);
    for id in opened {
        let closes = seen.iter().filter(|s| matches!(s, Seen::Close(closed, _) if *closed == id)).count();
        assert_eq!(closes, 1, "{id} closed {closes} times");
    }
    assert_eq!(stats.closed_total(), 50);
    assert_eq!(stats.open, 0);
}

/// Keeps everything until it holds a whole "frame": a first line saying
/// how many bytes follow. Raises its own input limit for a frame it
/// accepts (`big` frames only when `raise` is set).
struct Framed {
    raise: bool,
    closed: std::sync::mpsc::Sender<CloseReason>,
}

impl Handler for Framed {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        let Some(end) = data.iter().position(|&b| b == b'\n') else { return 0 };
        let length: usize = std::str::from_utf8(&data[..end]).unwrap().parse().unwrap();
        if self.raise {
            cx.set_max_input_bytes(id, end + 1 + length);
        }
        if data.len() < end + 1 + length {
            return 0;
        }
        cx.send(id, b"got it\n");
        end + 1 + length
    }

    fn on_close(&mut self, _: &mut Ctx, _: ConnId, _: (), reason: CloseReason) {
        let _ = self.closed.send(reason);
    }
}

#[test]
fn a_connection_may_raise_its_own_input_limit_for_a_large_frame() {
    let frame = |n: usize| [format!("{n}\n").into_bytes(), vec![b'v'; n]].concat();
    let config = Config { max_input_bytes: 1024, ..test_config() };
    let (closed, reasons) = std::sync::mpsc::channel();
    let raising = Server::start(config.clone(), Framed { raise: true, closed });
    let mut client = connect(raising.addr);
    assert_eq!(round_trip_exact(&mut client, &frame(200_000), 7), b"got it\n", "a raised limit admits the frame");
    drop(client);
    assert_eq!(reasons.recv_timeout(evloop_tests::TIMEOUT).unwrap(), CloseReason::PeerClosed);

    let (closed, reasons) = std::sync::mpsc::channel();
    let keeping = Server::start(config, Framed { raise: false, closed });
    let mut client = connect(keeping.addr);
    let _ = client.write_all(&frame(200_000));
    assert_eq!(reasons.recv_timeout(evloop_tests::TIMEOUT).unwrap(), CloseReason::InputLimit, "others keep the limit");
}

/// Sends `message`, reads back `reply_len` bytes.
fn round_trip_exact(stream: &mut TcpStream, message: &[u8], reply_len: usize) -> Vec<u8> {
    stream.write_all(message).unwrap();
    let mut reply = vec![0; reply_len];
    stream.read_exact(&mut reply).unwrap();
    reply
}
