//! Out of file descriptors, `accept` fails with `EMFILE` while the pending
//! connection stays in the backlog. The loop backs off (it does not spin on
//! the ever-readable listener), keeps serving the connections it has, and
//! accepts the waiting peers once descriptors free up.
//!
//! This test lowers the process's own descriptor limit, so it lives alone
//! in this file (its own test binary, its own process).

use std::collections::HashSet;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use evloop::{CloseReason, Config};
use evloop_tests::{round_trip, test_config, Recorder, Seen, Server, TIMEOUT};
use rlimit::Resource;
use socket2::{Domain, Socket, Type};

/// The descriptor numbers open in this process.
fn open_descriptors() -> HashSet<u64> {
    let entries: Vec<_> = fs::read_dir("/proc/self/fd").unwrap().map(|e| e.unwrap().path()).collect();
    // The directory's own descriptor is listed but closed by now: readlink
    // tells it apart.
    entries
        .iter()
        .filter(|p| fs::read_link(p).is_ok())
        .map(|p| p.file_name().unwrap().to_str().unwrap().parse().unwrap())
        .collect()
}

/// A soft limit leaving exactly `spare` descriptor numbers free.
fn limit_leaving(spare: usize) -> u64 {
    let open = open_descriptors();
    let mut free = 0;
    let mut number = 0;
    while free < spare {
        if !open.contains(&number) {
            free += 1;
        }
        number += 1;
    }
    number
}

/// Connects a socket made earlier: no new descriptor needed.
fn connect(socket: Socket, addr: SocketAddr) -> TcpStream {
    socket.connect(&addr.into()).expect("a loopback connect completes into the backlog");
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

#[test]
fn accept_backs_off_when_out_of_descriptors_and_recovers() {
    const CLIENTS: usize = 5;
    const SPARE: usize = 2;
    let (recorder, events) = Recorder::new();
    let config = Config { accept_backoff: Duration::from_millis(20), ..test_config() };
    let server = Server::start(config, recorder);

    // Client sockets first (a descriptor each), then the limit, then the
    // connects (which need none): only the server's accepts run short.
    let sockets: Vec<Socket> = (0..CLIENTS).map(|_| Socket::new(Domain::IPV4, Type::STREAM, None).unwrap()).collect();
    let (soft, hard) = Resource::NOFILE.get().unwrap();
    Resource::NOFILE.set(limit_leaving(SPARE), hard).unwrap();
    let mut clients: Vec<TcpStream> = sockets.into_iter().map(|socket| connect(socket, server.addr)).collect();

    let admitted: Vec<_> = (0..SPARE).map(|_| events.next_open()).collect();
    for client in &mut clients[..SPARE] {
        assert_eq!(round_trip(client, b"served"), b"served", "the accepted are served while accept fails");
    }

    // Freeing one descriptor admits exactly the next peer in the backlog,
    // and only after the close: nothing opened while the limit held.
    drop(clients.remove(0));
    assert_eq!(events.next(), Seen::Eof(admitted[0]));
    assert_eq!(events.next(), Seen::Close(admitted[0], CloseReason::PeerClosed));
    assert!(matches!(events.next(), Seen::Open(..)), "the next waiting peer is accepted");
    assert_eq!(round_trip(&mut clients[SPARE - 1], b"my turn"), b"my turn");

    // With the limit lifted, every waiting peer is accepted and served.
    Resource::NOFILE.set(soft, hard).unwrap();
    for client in &mut clients {
        assert_eq!(round_trip(client, b"all served"), b"all served");
    }
    drop(clients);
    let (_, stats) = server.stop();
    assert_eq!(stats.accepted, CLIENTS as u64);
}
