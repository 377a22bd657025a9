//! Urgent data (MSG_OOB, what telnet's interrupt key sends) stops a read
//! short at the urgent mark; the loop must not take that short read for a
//! drained socket, or the ordinary bytes behind the mark would wait until
//! the peer sends again.

use std::io::Read;
use std::net::TcpStream;

use socket2::SockRef;

use evloop::Config;
use evloop_tests::{connect, test_config, Recorder, Server};

#[test]
fn ordinary_bytes_after_urgent_data_are_all_read() {
    const CLIENTS: usize = 20;
    let (recorder, _events) = Recorder::new();
    let server = Server::start(Config { ..test_config() }, recorder);
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(server.addr)).collect();
    for client in &clients {
        let socket = SockRef::from(client);
        socket.send(b"0123456789").unwrap();
        socket.send_out_of_band(b"!").unwrap();
        socket.send(b"abcdefghij").unwrap();
    }
    for (i, client) in clients.iter_mut().enumerate() {
        // The urgent byte is not part of the ordinary stream: twenty bytes
        // come back, the last ten only if the loop read past the mark.
        let mut echoed = [0; 20];
        client.read_exact(&mut echoed).unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert_eq!(&echoed, b"0123456789abcdefghij", "client {i}");
    }
}
