//! Stopping the loop while many clients are in the middle of slow
//! downloads: every byte the server queued arrives, then end of file, not
//! a reset.

use std::io::Read;
use std::thread;
use std::time::Duration;

use evloop::{Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect_with_small_receive_buffer, test_config, Server, TIMEOUT};

const CLIENTS: usize = 200;
const PAYLOAD: usize = 256 * 1024;

/// Queues the whole payload for each client as it opens, and reports
/// when every client has its payload queued.
struct Payload {
    opened: usize,
    all_queued: std::sync::mpsc::Sender<()>,
}

impl Handler for Payload {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) {
        let body: Vec<u8> = (0..PAYLOAD).map(|i| (i % 253) as u8).collect();
        assert!(cx.send(id, &body));
        self.opened += 1;
        if self.opened == CLIENTS {
            let _ = self.all_queued.send(());
        }
    }

    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn stop_while_clients_read_slowly_delivers_every_byte_then_end_of_file() {
    let (all_queued, queued) = std::sync::mpsc::channel();
    let config = Config { shutdown_timeout: TIMEOUT, ..test_config() };
    let server = Server::start(config, Payload { opened: 0, all_queued });
    let readers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut client = connect_with_small_receive_buffer(server.addr);
            thread::spawn(move || {
                let mut received = Vec::with_capacity(PAYLOAD);
                let mut buf = [0; 8 * 1024];
                loop {
                    match client.read(&mut buf) {
                        Ok(0) => return Ok(received),
                        Ok(n) => received.extend_from_slice(&buf[..n]),
                        Err(e) => return Err(e),
                    }
                    thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();
    queued.recv_timeout(TIMEOUT).expect("every client has its payload queued");
    let stopper = thread::spawn(move || server.stop());
    let expected: Vec<u8> = (0..PAYLOAD).map(|i| (i % 253) as u8).collect();
    for (i, reader) in readers.into_iter().enumerate() {
        let received = reader.join().unwrap().unwrap_or_else(|e| panic!("client {i} got {e}, not end of file"));
        assert!(received == expected, "client {i} got {} of {PAYLOAD} bytes, or wrong ones", received.len());
    }
    stopper.join().unwrap();
}
