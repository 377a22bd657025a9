//! Clients turned away at the chat server's connection limits read why,
//! then the end of the stream; the room never hears of them and goes on.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};

use chat::{Chat, Settings, SERVER_FULL, TOO_MANY_FROM_YOU};
use evloop::Config;
use evloop_tests::chat::{room, ChatClient as Client};
use evloop_tests::{connect, test_config, Server, TIMEOUT};
use socket2::{Domain, Socket, Type};

fn start(config: Config) -> Server<Chat> {
    let settings = Settings::default();
    Server::start(settings.loop_config(config), Chat::new(settings))
}

/// Everything the server sends on `stream` until it closes.
#[track_caller]
fn read_all(mut stream: TcpStream) -> String {
    let mut said = String::new();
    stream.read_to_string(&mut said).expect("the server's words, then the end");
    said
}

/// Connects to `server` from `source` (a loopback address of 127/8).
#[track_caller]
fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&source.into()).expect("bind a loopback source address");
    socket.connect(&server.into()).expect("connect to the test server");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

#[test]
fn a_client_past_max_connections_is_told_the_server_is_full_then_closed() {
    let server = start(Config { max_connections: 2, ..test_config() });
    let [mut alice, mut bob] = room(server.addr);
    assert_eq!(read_all(connect(server.addr)), SERVER_FULL);
    alice.send("still two of us");
    bob.expect("guest1: still two of us");
    drop(bob);
    alice.expect("* guest2 left");
    let carol = Client::join(server.addr);
    assert_eq!(carol.nick, "guest3", "a slot freed, and the one turned away never joined");
    alice.expect("* guest3 joined");
}

#[test]
fn a_client_past_max_connections_per_ip_is_told_so_while_other_addresses_get_in() {
    let server = start(Config { max_connections_per_ip: Some(2), ..test_config() });
    let [mut alice, mut bob] = room(server.addr);
    assert_eq!(read_all(connect_from("127.0.0.1", server.addr)), TOO_MANY_FROM_YOU);
    let carol = Client::over(connect_from("127.0.0.2", server.addr));
    assert_eq!(carol.nick, "guest3", "another address gets in");
    alice.expect("* guest3 joined");
    bob.expect("* guest3 joined");
}
