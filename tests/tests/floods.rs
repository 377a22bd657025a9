//! Peers that send for ever and never read: reading from each pauses once
//! its echo backs up, its memory stays near the high watermark, the write
//! timeout closes it near its setting, and everyone else is served
//! throughout.

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, connect_with_small_receive_buffer, round_trip, test_config, Server, TIMEOUT};

/// Echoes, noting the most output ever queued for one connection, and
/// reports each close.
struct WatchfulEcho {
    most_queued: usize,
    closed: Sender<(ConnId, CloseReason)>,
}

impl Handler for WatchfulEcho {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        self.most_queued = self.most_queued.max(cx.queued_output(id).unwrap_or(0));
        data.len()
    }

    fn on_close(&mut self, _: &mut Ctx, id: ConnId, _: (), reason: CloseReason) {
        let _ = self.closed.send((id, reason));
    }
}

/// Writes to every flooder until each is reset or `until`, never reading;
/// returns how many were reset and when the last one was.
fn flood(flooders: &mut [TcpStream], until: Instant) -> (usize, Instant) {
    let block = [b'f'; 16 * 1024];
    let mut reset = vec![false; flooders.len()];
    let mut last_reset = Instant::now();
    while reset.contains(&false) && Instant::now() < until {
        for (i, flooder) in flooders.iter_mut().enumerate() {
            if reset[i] {
                continue;
            }
            match flooder.write(&block) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => {
                    reset[i] = true;
                    last_reset = Instant::now();
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    (reset.iter().filter(|&&r| r).count(), last_reset)
}

fn flooded_server(flooders: usize) {
    let write_timeout = Duration::from_millis(1_000);
    let config = Config { write_timeout: Some(write_timeout), ..test_config() };
    let high_watermark = config.high_watermark;
    let read_buffer = config.read_buffer_bytes;
    let (closed, reasons) = mpsc::channel();
    let server = Server::start(config, WatchfulEcho { most_queued: 0, closed });
    let mut bystander = connect(server.addr);
    let mut streams: Vec<TcpStream> = (0..flooders)
        .map(|_| {
            let stream = connect_with_small_receive_buffer(server.addr);
            stream.set_nonblocking(true).unwrap();
            stream
        })
        .collect();
    let started = Instant::now();
    // Flood from this thread in bursts, checking the bystander in between.
    let until = started + TIMEOUT;
    let mut resets = 0;
    let mut last_reset = started;
    while resets < flooders && Instant::now() < until {
        let (now_reset, at) = flood(&mut streams, Instant::now() + Duration::from_millis(100));
        if now_reset > resets {
            last_reset = at;
        }
        resets = now_reset;
        assert_eq!(round_trip(&mut bystander, b"still served?"), b"still served?", "the bystander is served");
    }
    assert_eq!(resets, flooders, "every flooder is cut off");
    let mut write_timeouts = 0;
    for _ in 0..flooders {
        let (_, reason) = reasons.recv_timeout(TIMEOUT).expect("a close for every flooder");
        assert_eq!(reason, CloseReason::WriteTimeout, "a flooder that never reads ends by the write timeout");
        write_timeouts += 1;
    }
    assert_eq!(write_timeouts, flooders);
    assert!(
        last_reset - started < write_timeout * 3,
        "the last flooder was cut {:?} after the flood began, for a {write_timeout:?} write timeout",
        last_reset - started
    );
    assert_eq!(round_trip(&mut bystander, b"after"), b"after");
    let (echo, _) = server.stop();
    // Figures for docs/reliability.md (`--nocapture` shows them).
    eprintln!(
        "{flooders} flooder(s): last cut off {:?} after the flood began ({write_timeout:?} write timeout); \
         most output queued for one: {} bytes",
        last_reset - started,
        echo.most_queued
    );
    assert!(
        echo.most_queued <= high_watermark + read_buffer,
        "{} bytes queued for one connection: more than the high watermark plus one read",
        echo.most_queued
    );
}

#[test]
fn a_peer_that_sends_for_ever_and_never_reads_is_paused_bounded_and_cut_off() {
    flooded_server(1);
}

#[test]
fn fifty_such_peers_at_once_are_each_cut_off_and_the_rest_served() {
    flooded_server(50);
}
