//! A connect storm past `max_connections`: every connect completes (none
//! times out), those past the limit get the handler's refusal and a clean
//! close, and those admitted are served.

use std::io::Read;
use std::net::TcpStream;

use evloop::{Config, ConnId, Ctx, Handler, Origin, Refusal};
use evloop_tests::{round_trip, test_config, Server, TIMEOUT};

const LIMIT: usize = 3_000;
const STORM: usize = 6_000;

/// Echoes; refuses politely.
struct Polite;

impl Handler for Polite {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        data.len()
    }

    fn on_refused(&mut self, _: &evloop::PeerAddr, _: Refusal) -> &[u8] {
        b"full\n"
    }
}

#[test]
fn a_storm_past_the_limit_is_refused_cleanly_and_the_admitted_are_served() {
    let server = Server::start(Config { max_connections: LIMIT, ..test_config() }, Polite);
    let mut clients: Vec<TcpStream> = (0..STORM)
        .map(|i| {
            let stream = TcpStream::connect(server.addr).unwrap_or_else(|e| panic!("connect {i} of the storm: {e}"));
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            stream
        })
        .collect();
    let mut admitted = 0;
    let mut refused = 0;
    for (i, client) in clients.iter_mut().enumerate() {
        if i < LIMIT {
            // The first LIMIT connects were accepted first: the kernel's
            // backlog is first in, first out.
            assert_eq!(round_trip(client, b"in?"), b"in?", "client {i} is served");
            admitted += 1;
        } else {
            let mut said = Vec::new();
            client.read_to_end(&mut said).unwrap_or_else(|e| panic!("client {i} is refused cleanly: {e}"));
            assert_eq!(said, b"full\n", "client {i} is told why");
            refused += 1;
        }
    }
    assert_eq!((admitted, refused), (LIMIT, STORM - LIMIT));
    drop(clients);
    let (_, stats) = server.stop();
    assert_eq!(stats.rejected, (STORM - LIMIT) as u64);
}
