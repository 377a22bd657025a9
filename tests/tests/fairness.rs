//! One connection sending nonstop cannot starve the others: the read
//! budget per connection per turn hands the loop to everyone in turn.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use evloop::{ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, round_trip, test_config, wait_until, Server, TIMEOUT};

/// Swallows everything from a connection whose first byte is `F`, echoes
/// everything else.
#[derive(Debug, Default)]
struct SinkOrEcho {
    swallowed: Arc<AtomicU64>,
}

impl Handler for SinkOrEcho {
    /// Whether this connection is the flooder, once its first byte says.
    type Conn = Option<bool>;
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> Option<bool> {
        None
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, flooder: &mut Option<bool>, data: &[u8]) -> usize {
        if *flooder.get_or_insert(data[0] == b'F') {
            self.swallowed.fetch_add(data.len() as u64, Ordering::Relaxed);
        } else {
            cx.send(id, data);
        }
        data.len()
    }
}

#[test]
fn a_flooding_client_does_not_starve_round_trips_on_another() {
    const ROUND_TRIPS: usize = 1000;
    let handler = SinkOrEcho::default();
    let swallowed = handler.swallowed.clone();
    let server = Server::start(test_config(), handler);

    let stop = Arc::new(AtomicBool::new(false));
    let mut flood = connect(server.addr);
    let flooding = {
        let stop = stop.clone();
        thread::spawn(move || {
            let block = vec![b'F'; 256 * 1024];
            let deadline = Instant::now() + TIMEOUT;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                flood.write_all(&block).expect("the server keeps reading the flood");
            }
        })
    };
    wait_until("the flood reaches the server", || swallowed.load(Ordering::Relaxed) > 1024 * 1024);

    let mut client = connect(server.addr);
    let before = swallowed.load(Ordering::Relaxed);
    for i in 0..ROUND_TRIPS {
        let message = format!("round trip {i}");
        assert_eq!(round_trip(&mut client, message.as_bytes()), message.as_bytes());
    }
    let during = swallowed.load(Ordering::Relaxed) - before;
    assert!(!flooding.is_finished(), "the flood went on for the whole test");
    stop.store(true, Ordering::Relaxed);
    flooding.join().unwrap();
    assert!(during > 0, "the flood was being served at the same time");
}
