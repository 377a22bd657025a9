//! What is particular to Unix-domain sockets: connecting by path, the
//! socket file's life, limits that count addresses, and a group sharing
//! one socket. (The loop's contract over them is in `transports.rs`.)

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc;
use std::thread;

use evloop::{Config, ConnId, Ctx, EventLoop, GroupBuilder, Handler, Origin, PeerAddr, Spread};
use evloop_tests::transport::unix_socket_path;
use evloop_tests::{test_config, Recorder, Seen, Server, TIMEOUT};

#[test]
fn connect_unix_opens_an_outbound_connection_whose_peer_is_the_path() {
    let path = unix_socket_path("outbound");
    let listener = UnixListener::bind(&path).unwrap();
    let (recorder, events) = Recorder::new();
    let mut el = EventLoop::new(test_config(), recorder).unwrap();
    let id = el.connect_unix(&path).expect("start the connect");
    let handle = el.handle();
    let peer = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.write_all(b"ping").unwrap();
        let mut echo = [0; 4];
        stream.read_exact(&mut echo).unwrap();
        handle.stop().unwrap();
        echo
    });
    el.run().unwrap();
    assert_eq!(&peer.join().unwrap(), b"ping", "the loop's connection echoed over the Unix socket");
    assert_eq!(events.next(), Seen::Open(id, Origin::Outbound));
}

/// Reports the peer address `on_open` sees.
struct PeerOf(mpsc::Sender<Option<PeerAddr>>);

impl Handler for PeerOf {
    type Conn = ();
    type Message = ();
    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) {
        let _ = self.0.send(cx.peer_addr(id));
    }
    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn an_outbound_unix_peer_is_named_by_its_path() {
    let path = unix_socket_path("named");
    let _listener = UnixListener::bind(&path).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut el = EventLoop::new(test_config(), PeerOf(tx)).unwrap();
    el.connect_unix(&path).unwrap();
    let handle = el.handle();
    let waiting = thread::spawn(move || {
        let peer = rx.recv_timeout(TIMEOUT).expect("on_open");
        handle.stop().unwrap();
        peer
    });
    el.run().unwrap();
    let peer = waiting.join().unwrap().expect("a live connection has a peer");
    assert_eq!(peer.to_string(), format!("unix:{}", path.display()));
}

#[test]
fn connect_unix_to_a_missing_socket_fails_at_once_with_not_found() {
    let (recorder, _events) = Recorder::new();
    let mut el = EventLoop::new(test_config(), recorder).unwrap();
    let err = el.connect_unix(unix_socket_path("missing")).expect_err("no socket file there");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn connect_unix_to_a_socket_nobody_listens_on_is_refused() {
    let path = unix_socket_path("stale-target");
    drop(UnixListener::bind(&path).unwrap()); // the file stays, nobody accepts
    let (recorder, _events) = Recorder::new();
    let mut el = EventLoop::new(test_config(), recorder).unwrap();
    let err = el.connect_unix(&path).expect_err("nobody listens");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn a_socket_file_left_by_a_dead_server_is_replaced_and_removed_on_a_clean_stop() {
    let path = unix_socket_path("stale");
    drop(UnixListener::bind(&path).unwrap());
    let (recorder, _events) = Recorder::new();
    let mut el = EventLoop::new(test_config(), recorder).unwrap();
    el.listen_unix(&path).expect("the stale file is replaced");
    let client = UnixStream::connect(&path).expect("the new listener accepts");
    el.handle().stop().unwrap();
    el.run().unwrap();
    drop(client);
    assert!(!path.exists(), "a clean stop removes the socket file");
}

#[test]
fn a_path_a_live_loop_listens_on_is_refused_with_addr_in_use() {
    let (recorder, _events) = Recorder::new();
    let server = Server::start_over(evloop_tests::transport::Transport::Unix, test_config(), recorder);
    let path = server.unix_path.clone().unwrap();
    let (recorder, _events) = Recorder::new();
    let mut el = EventLoop::new(test_config(), recorder).unwrap();
    let err = el.listen_unix(&path).expect_err("the path is taken by a live server");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    let mut client = server.client();
    client.write_all(b"still there").unwrap();
    let mut echo = [0; 11];
    client.read_exact(&mut echo).expect("the live server keeps serving");
    server.stop();
    assert!(!path.exists(), "its file is removed when it stops");
}

#[test]
fn the_socket_file_gets_the_mode_asked_for() {
    use std::os::unix::fs::PermissionsExt;
    let path = unix_socket_path("mode");
    let (recorder, _events) = Recorder::new();
    let mut el = EventLoop::new(test_config(), recorder).unwrap();
    el.listen_unix_with_mode(&path, 0o700).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
}

#[test]
fn max_connections_per_ip_does_not_count_unix_peers() {
    let (recorder, events) = Recorder::new();
    let config = Config { max_connections_per_ip: Some(1), ..test_config() };
    let server = Server::start_over(evloop_tests::transport::Transport::Unix, config, recorder);
    let mut clients: Vec<_> = (0..3).map(|_| server.client()).collect();
    for client in &mut clients {
        client.write_all(b"hi").unwrap();
        let mut echo = [0; 2];
        client.read_exact(&mut echo).expect("each Unix-domain client is served");
    }
    let opened = events.drain().iter().filter(|seen| matches!(seen, Seen::Open(..))).count();
    assert_eq!(opened, 3, "three Unix-domain clients opened under a per-IP limit of 1");
    let (_, stats) = server.stop();
    assert_eq!(stats.rejected, 0, "none refused");
}

#[test]
fn a_group_serves_one_unix_socket_from_every_loop() {
    for spread in [Spread::ReusePort, Spread::SharedListener, Spread::Acceptor] {
        let path = unix_socket_path("group");
        let mut group =
            GroupBuilder::new(test_config()).threads(2).spread(spread).build(|_, _| Recorder::new().0).unwrap();
        group.listen_unix(&path, None).unwrap();
        let handle = group.handle();
        let client_path = path.clone();
        let clients = thread::spawn(move || {
            for _ in 0..20 {
                let mut stream = UnixStream::connect(&client_path).expect("connect to the group's socket");
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                stream.write_all(b"echo").unwrap();
                let mut reply = [0; 4];
                stream.read_exact(&mut reply).expect("an echo from one of the loops");
            }
            handle.stop().unwrap();
        });
        let exits = group.run().unwrap();
        clients.join().unwrap();
        let accepted: u64 = exits.iter().map(|exit| exit.stats.accepted).sum();
        assert_eq!(accepted, 20, "every connection served once ({spread:?})");
        assert!(!path.exists(), "the group's stop removes the socket file ({spread:?})");
    }
}
