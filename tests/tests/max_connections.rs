//! Past `Config::max_connections` a new peer is closed at once, cleanly,
//! and everyone already connected keeps being served.

use std::io::Write;

use evloop::{CloseReason, Config};
use evloop_tests::{connect, read_to_end, round_trip, test_config, Recorder, Seen, Server};

const LIMIT: usize = 10;

#[test]
fn connections_past_the_limit_get_a_clean_close_and_the_rest_are_served() {
    let (recorder, events) = Recorder::new();
    let server = Server::start(Config { max_connections: LIMIT, ..test_config() }, recorder);
    let mut admitted: Vec<_> = (0..LIMIT).map(|_| connect(server.addr)).collect();
    let ids: Vec<_> = admitted
        .iter_mut()
        .map(|client| {
            assert_eq!(round_trip(client, b"in"), b"in");
            events.next_open()
        })
        .collect();

    for _ in 0..3 {
        let mut turned_away = connect(server.addr);
        // The write may race the close; what matters is what the peer reads.
        let _ = turned_away.write_all(b"let me in");
        match read_to_end(&mut turned_away) {
            Ok(bytes) => assert!(bytes.is_empty(), "a rejected peer gets no data, only end of file"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "or a reset: {e}"),
        }
    }
    for client in &mut admitted {
        assert_eq!(round_trip(client, b"still here"), b"still here", "the admitted are still served");
    }

    // A freed slot admits the next peer.
    drop(admitted.remove(0));
    assert_eq!(events.next(), Seen::Eof(ids[0]));
    assert_eq!(events.next(), Seen::Close(ids[0], CloseReason::PeerClosed));
    let mut latecomer = connect(server.addr);
    assert_eq!(round_trip(&mut latecomer, b"my turn"), b"my turn");
    assert!(matches!(events.next(), Seen::Open(..)), "nothing else opened in between");

    drop(admitted);
    drop(latecomer);
    let (_, stats) = server.stop();
    assert_eq!(stats.rejected, 3);
    assert_eq!(stats.accepted, LIMIT as u64 + 1);
}

/// Answers every connection with nothing and every refusal with its reason.
struct Refuser;

impl evloop::Handler for Refuser {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut evloop::Ctx, _: evloop::ConnId, _: evloop::Origin) {}

    fn on_data(&mut self, cx: &mut evloop::Ctx, id: evloop::ConnId, _: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        data.len()
    }

    fn on_refused(&mut self, _peer: &evloop::PeerAddr, why: evloop::Refusal) -> &[u8] {
        match why {
            evloop::Refusal::MaxConnections => b"-ERR max number of clients reached\r\n",
            _ => b"-ERR too many connections from your address\r\n",
        }
    }
}

#[test]
fn refused_peer_reads_the_handlers_refusal_then_end_of_file() {
    let server = Server::start(Config { max_connections: 1, ..test_config() }, Refuser);
    let mut admitted = connect(server.addr);
    assert_eq!(round_trip(&mut admitted, b"hi"), b"hi");
    let mut turned_away = connect(server.addr);
    let said = read_to_end(&mut turned_away).expect("a refused peer that sent nothing gets a clean close");
    assert_eq!(said, b"-ERR max number of clients reached\r\n");
    assert_eq!(round_trip(&mut admitted, b"still"), b"still");
    let (_, stats) = server.stop();
    assert_eq!(stats.rejected, 1);
}

/// Connects from `source` (a loopback address of our choosing) to `addr`.
fn connect_from(source: &str, addr: std::net::SocketAddr) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let source: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&source.into()).expect("bind a loopback source address");
    socket.connect(&addr.into()).expect("connect to the test server");
    let stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(evloop_tests::TIMEOUT)).unwrap();
    stream
}

#[test]
fn one_address_past_max_connections_per_ip_is_refused_while_others_get_in() {
    let config = Config { max_connections_per_ip: Some(2), ..test_config() };
    let server = Server::start(config, Refuser);
    let mut first = [connect_from("127.0.0.2", server.addr), connect_from("127.0.0.2", server.addr)];
    for client in &mut first {
        assert_eq!(round_trip(client, b"in"), b"in");
    }
    let mut third = connect_from("127.0.0.2", server.addr);
    assert_eq!(
        read_to_end(&mut third).expect("a clean close"),
        b"-ERR too many connections from your address\r\n",
        "the third connection from one address is refused with the handler's reason"
    );
    let mut other_host = connect_from("127.0.0.3", server.addr);
    assert_eq!(round_trip(&mut other_host, b"other"), b"other", "another address is still admitted");

    // One of the first two leaves: its address may connect again.
    let [leaving, mut staying] = first;
    drop(leaving);
    evloop_tests::wait_until("the server counts the departure", || {
        let mut again = connect_from("127.0.0.2", server.addr);
        again.write_all(b"x").is_ok() && {
            let mut byte = [0; 1];
            std::io::Read::read(&mut again, &mut byte).is_ok_and(|n| n == 1 && byte == *b"x")
        }
    });
    assert_eq!(round_trip(&mut staying, b"stay"), b"stay");
    let (_, stats) = server.stop();
    assert!(stats.rejected >= 1, "the third connection was counted as rejected");
}
