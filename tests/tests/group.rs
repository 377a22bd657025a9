//! `LoopGroup`: connections spread over every loop whichever the spread,
//! echo stays intact across loops, a stop closes every loop's clients
//! gracefully, and a panic that escapes one loop stops the others.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use echo::Echo;
use evloop::{CloseReason, ConnId, Ctx, GroupBuilder, Handler, LoopError, Origin, Spread};
use evloop_tests::group::{accepted_per_loop, GroupServer};
use evloop_tests::{connect, read_to_end, round_trip, test_config, TIMEOUT};

fn two_loops(spread: Spread) -> GroupBuilder {
    GroupBuilder::new(test_config()).threads(2).spread(spread)
}

/// Opens `count` connections at once, each proven served by a round trip.
fn connect_served(addr: std::net::SocketAddr, count: usize) -> Vec<TcpStream> {
    (0..count)
        .map(|i| {
            let mut stream = connect(addr);
            let ping = format!("{i}\n");
            assert_eq!(round_trip(&mut stream, ping.as_bytes()), ping.as_bytes(), "connection {i}'s echo");
            stream
        })
        .collect()
}

#[track_caller]
fn assert_both_loops_served(spread: Spread, accepted: &[u64], total: u64) {
    assert_eq!(accepted.iter().sum::<u64>(), total, "{spread:?}: every connection was accepted once");
    assert!(accepted.iter().all(|&n| n > 0), "{spread:?}: a loop got no connection: {accepted:?}");
}

#[test]
fn reuse_port_spreads_connections_over_both_loops() {
    let server = GroupServer::start(two_loops(Spread::ReusePort), |_, _| Echo);
    let clients = connect_served(server.addr, 200);
    drop(clients);
    let accepted = accepted_per_loop(&server.stop());
    assert_both_loops_served(Spread::ReusePort, &accepted, 200);
    // The kernel's hash: 200 connections land 100 ± 7 (binomial σ); 60 is
    // five σ off.
    assert!(accepted.iter().all(|&n| n >= 60), "uneven beyond chance: {accepted:?}");
}

#[test]
fn acceptor_hands_connections_to_the_least_loaded_loop() {
    let server = GroupServer::start(two_loops(Spread::Acceptor), |_, _| Echo);
    let clients = connect_served(server.addr, 200);
    drop(clients);
    let accepted = accepted_per_loop(&server.stop());
    assert_both_loops_served(Spread::Acceptor, &accepted, 200);
    // Every connection stays open, so "fewest open" alternates.
    assert!(accepted.iter().all(|&n| n >= 90), "the acceptor did not balance: {accepted:?}");
}

#[test]
fn a_shared_listener_is_served_by_both_loops() {
    let server = GroupServer::start(two_loops(Spread::SharedListener), |_, _| Echo);
    let clients = connect_served(server.addr, 200);
    drop(clients);
    let accepted = accepted_per_loop(&server.stop());
    assert_both_loops_served(Spread::SharedListener, &accepted, 200);
}

#[test]
fn thousand_clients_on_two_loops_get_their_own_bytes_back() {
    const CLIENTS: usize = 1000;
    const THREADS: usize = 4;
    let server = GroupServer::start(GroupBuilder::new(test_config()).threads(2), |_, _| Echo);
    let addr = server.addr;
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            thread::spawn(move || {
                let ids: Vec<usize> = (worker..CLIENTS).step_by(THREADS).collect();
                let mut streams: Vec<TcpStream> = ids.iter().map(|_| connect(addr)).collect();
                let payload = |id: usize| -> Vec<u8> { (0..2048).map(|i| (id * 31 + i * 7) as u8).collect() };
                for (&id, stream) in ids.iter().zip(&mut streams) {
                    stream.write_all(&payload(id)).expect("send the payload");
                }
                for (&id, stream) in ids.iter().zip(&mut streams) {
                    let mut echoed = vec![0; 2048];
                    stream.read_exact(&mut echoed).expect("read the echo");
                    assert!(echoed == payload(id), "client {id} got bytes other than its own");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a client thread failed");
    }
    let exits = server.stop();
    let accepted = accepted_per_loop(&exits);
    assert_both_loops_served(Spread::ReusePort, &accepted, CLIENTS as u64);
    let echoed: u64 = exits.iter().map(|exit| exit.stats.bytes_out).sum();
    assert_eq!(echoed, CLIENTS as u64 * 2048, "every byte came back once");
}

#[test]
fn stop_closes_every_loops_clients_gracefully() {
    let server = GroupServer::start(two_loops(Spread::ReusePort), |_, _| Echo);
    let mut clients = connect_served(server.addr, 40);
    let handle = server.handle.clone();
    let stopper = thread::spawn(move || handle.stop());
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(read_to_end(client).expect("a clean end of file"), b"", "client {i}: a clean close");
    }
    stopper.join().unwrap().expect("the group was running");
    let exits = GroupServer::stop(server);
    for exit in &exits {
        assert!(exit.result.is_ok(), "loop {} did not stop gracefully: {:?}", exit.index, exit.result);
        assert!(exit.handler.is_some(), "loop {}'s handler comes back", exit.index);
        assert_eq!(exit.stats.closed(CloseReason::Shutdown), exit.stats.accepted, "loop {}", exit.index);
    }
    assert_both_loops_served(Spread::ReusePort, &accepted_per_loop(&exits), 40);
}

/// Stops its loop when a client connects: a loop that ends for its own
/// reasons ends the group.
#[derive(Debug)]
struct StopOnOpen;

impl Handler for StopOnOpen {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, _id: ConnId, _origin: Origin) {
        cx.stop();
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn a_loop_that_stops_itself_stops_the_whole_group() {
    let mut server = GroupServer::start(two_loops(Spread::SharedListener), |_, _| StopOnOpen);
    let mut client = connect(server.addr);
    assert_eq!(read_to_end(&mut client).expect("a clean close"), b"");
    let exits = server.join();
    assert!(exits.iter().all(|exit| exit.result.is_ok()), "both stopped gracefully: {exits:?}");
}

#[test]
fn a_panic_escaping_one_loop_stops_the_others_gracefully() {
    // Loop 1's factory waits for the word, then panics; meanwhile loop 0
    // serves the client alone (on the shared listener, loop 1 never accepts).
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let go_rx = Mutex::new(go_rx);
    let server = GroupServer::start(two_loops(Spread::SharedListener), move |index, _| {
        if index == 1 {
            let _ = go_rx.lock().unwrap().recv_timeout(TIMEOUT);
            panic!("loop 1 cannot start");
        }
        Echo
    });
    let mut client = connect(server.addr);
    assert_eq!(round_trip(&mut client, b"served"), b"served", "loop 0 serves");
    go_tx.send(()).unwrap();
    assert_eq!(read_to_end(&mut client).expect("a clean close from loop 0"), b"");
    let mut server = server;
    let exits = server.join();
    match &exits[1].result {
        Err(LoopError::Panic(message)) => assert!(message.contains("cannot start"), "the message: {message}"),
        other => panic!("loop 1 should report its panic, got {other:?}"),
    }
    assert!(exits[1].handler.is_none(), "loop 1 never had a handler");
    assert!(exits[0].result.is_ok(), "loop 0 stopped gracefully: {:?}", exits[0].result);
    assert_eq!(exits[0].stats.closed(CloseReason::Shutdown), 1, "loop 0's client closed by the stop");
}

#[test]
fn thread_start_hook_runs_on_each_loops_thread_before_its_factory() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (hook_seen, factory_seen) = (Arc::clone(&seen), Arc::clone(&seen));
    let builder = GroupBuilder::new(test_config()).threads(3).on_thread_start(move |index| {
        hook_seen.lock().unwrap().push(("hook", index, thread::current().name().map(str::to_owned)));
    });
    let server = GroupServer::start(builder, move |index, peers| {
        assert_eq!(peers.index(), index);
        assert_eq!(peers.loops(), 3);
        factory_seen.lock().unwrap().push(("factory", index, thread::current().name().map(str::to_owned)));
        Echo
    });
    server.stop();
    let seen = seen.lock().unwrap();
    for index in 0..3 {
        let name = Some(format!("evloop-{index}"));
        let hook = seen.iter().position(|s| *s == ("hook", index, name.clone()));
        let factory = seen.iter().position(|s| *s == ("factory", index, name.clone()));
        assert!(hook.is_some() && factory.is_some(), "loop {index}: both ran on its thread: {seen:?}");
        assert!(hook < factory, "loop {index}: the hook ran first: {seen:?}");
    }
}
