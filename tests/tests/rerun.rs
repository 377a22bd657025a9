//! `run` may be called again after it returns: nothing the first run left
//! behind (its shutdown deadline, a stop that raced its exit) reaches the
//! second.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use evloop::{CloseReason, Config, ConnId, Ctx, EventLoop, Handler, LoopHandle, Origin};
use evloop_tests::{connect, round_trip, test_config, TIMEOUT};

/// Echoes; on each close it stops the loop through a handle, as a
/// supervisor thread might at the same moment the loop exits.
struct Echo {
    handle: Option<LoopHandle<()>>,
}

impl Handler for Echo {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        data.len()
    }

    fn on_close(&mut self, _: &mut Ctx, _: ConnId, _: (), _: CloseReason) {
        if let Some(handle) = &self.handle {
            // The loop is still running here, so this stop is accepted; the
            // loop exits right after without reading it.
            let _ = handle.stop();
        }
    }
}

#[test]
fn a_second_run_is_served_despite_what_the_first_left_behind() {
    let shutdown_timeout = Duration::from_millis(200);
    let config = Config { shutdown_timeout, ..test_config() };
    // The second run's connection: outbound, to a peer the test plays
    // (the loop's listeners close when the first run stops).
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let mut el = EventLoop::new(config, Echo { handle: None }).unwrap();
        let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let handle = el.handle();
        el.handler_mut().handle = Some(handle.clone());
        addr_tx.send((addr, handle)).unwrap();
        // First run: a client is connected when it stops, so the stop
        // arms a shutdown deadline; the client's close stops the loop
        // again just as it exits.
        el.run().unwrap();
        el.handler_mut().handle = None;
        go_rx.recv_timeout(TIMEOUT).unwrap();
        el.connect(peer_addr).unwrap();
        el.run().unwrap();
    });
    let (addr, handle) = addr_rx.recv_timeout(TIMEOUT).unwrap();
    let mut client = connect(addr);
    assert_eq!(round_trip(&mut client, b"first run"), b"first run");
    handle.stop().unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    drop(client);
    go_tx.send(()).unwrap();

    peer.set_nonblocking(true).unwrap();
    let mut accepted = None;
    evloop_tests::wait_until("the second run connects out", || {
        accepted = peer.accept().ok();
        accepted.is_some()
    });
    let (mut conn, _) = accepted.unwrap();
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
    // Served well past the first run's shutdown deadline.
    let until = Instant::now() + shutdown_timeout * 3;
    let mut trips = 0;
    while Instant::now() < until {
        conn.write_all(b"second run").unwrap();
        let mut reply = [0; 10];
        conn.read_exact(&mut reply).unwrap_or_else(|e| panic!("round trip {trips} of the second run: {e}"));
        assert_eq!(&reply, b"second run");
        trips += 1;
        thread::sleep(Duration::from_millis(5));
    }
    assert!(!server.is_finished(), "the second run returned by itself");
    let stop_deadline = Instant::now() + TIMEOUT;
    while handle.stop().is_err() {
        assert!(Instant::now() < stop_deadline, "the second run is not running");
        thread::yield_now();
    }
    server.join().unwrap();
}
