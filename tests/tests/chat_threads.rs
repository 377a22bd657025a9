//! The chat on a group of loops (`chat --threads N`): one room across
//! the loops, every member hearing every line once and each sender's lines
//! in order, with nicks unique across the loops.

use std::io::Write;

use chat::{Chat, Settings};
use evloop::{CloseReason, Config, GroupBuilder, Spread};
use evloop_tests::chat::{everyone_talks, room, ChatClient as Client};
use evloop_tests::group::{accepted_per_loop, GroupServer};
use evloop_tests::test_config;

/// A chat on two loops, sharing connections as `spread` says, each loop's
/// queue for the others' lines `queue` long.
fn start(spread: Spread, queue: usize) -> GroupServer<Chat> {
    let settings = Settings::default();
    let config = Config { message_queue_capacity: queue, ..settings.loop_config(test_config()) };
    GroupServer::start(GroupBuilder::new(config).threads(2).spread(spread), Chat::group_factory(settings))
}

#[test]
fn two_hundred_clients_on_two_loops_get_every_other_clients_lines_once_and_in_order() {
    const CLIENTS: usize = 200;
    const LINES: usize = 20;
    // Queues far shorter than the 4,000 lines each loop relays: full
    // queues hold lines back, and they must still arrive once, in order.
    let server = start(Spread::ReusePort, 64);
    everyone_talks(server.addr, CLIENTS, LINES, |_| "\n");
    let exits = server.stop();
    let accepted = accepted_per_loop(&exits);
    assert!(accepted.iter().all(|&n| n > 0), "one loop served everyone: {accepted:?}");
    for exit in &exits {
        let chat = exit.handler.as_ref().expect("the loop ran");
        assert!(chat.is_empty(), "{} clients still on loop {} after shutdown", chat.len(), exit.index);
    }
}

#[test]
fn joins_renames_and_private_messages_reach_the_other_loop_in_order() {
    // Each new client goes to the loop with fewer: they alternate.
    let server = start(Spread::Acceptor, 64);
    let [mut alice, mut bob, mut carol, mut dave] = room(server.addr);
    alice.writer.write_all(b"/nick alice\nhi\n/nick ann\n/msg guest2 psst\nbye\n").unwrap();
    for other in [&mut bob, &mut carol, &mut dave] {
        other.expect("* guest1 is now alice");
        other.expect("alice: hi");
        other.expect("* alice is now ann");
        if other.nick == "guest2" {
            other.expect("ann (private): psst");
        }
        other.expect("ann: bye");
    }
    alice.expect("* guest1 is now alice");
    alice.expect("* alice is now ann");
    alice.expect("-> guest2: psst");
    let exits = server.stop();
    assert_eq!(accepted_per_loop(&exits), [2, 2], "the clients did not alternate between the loops");
}

#[test]
fn a_nick_is_unique_across_loops_and_who_lists_every_loop() {
    let server = start(Spread::Acceptor, 64);
    let [mut alice, mut bob, mut carol] = room(server.addr);
    alice.send("/nick Alice");
    for client in [&mut alice, &mut bob, &mut carol] {
        client.expect("* guest1 is now Alice");
    }
    // Bob is on the other loop.
    bob.send("/nick alice");
    bob.expect("ERR nick alice is taken");
    carol.send("/who");
    carol.expect("* online (3): Alice, guest2, guest3");
    alice.send("/quit");
    alice.expect("* bye");
    alice.expect_closed();
    drop(alice); // or the server lingers on its close at stop
    bob.expect("* Alice left (quit)");
    bob.send("/nick alice");
    bob.expect("* guest2 is now alice");
    carol.expect("* Alice left (quit)");
    carol.expect("* guest2 is now alice");
    let exits = server.stop();
    assert_eq!(accepted_per_loop(&exits), [2, 1], "the clients did not alternate between the loops");
}

#[test]
fn stopping_the_group_tells_every_client_on_every_loop_once() {
    let server = start(Spread::Acceptor, 64);
    let mut clients: [Client; 4] = room(server.addr);
    let exits = server.stop();
    for client in &mut clients {
        client.expect("* server shutting down");
        client.expect_closed();
    }
    assert_eq!(accepted_per_loop(&exits), [2, 2]);
    for exit in &exits {
        assert!(exit.result.is_ok(), "loop {} ended with {:?}", exit.index, exit.result);
        assert_eq!(exit.stats.closed(CloseReason::Shutdown), 2, "loop {} closed others", exit.index);
        assert!(exit.handler.as_ref().is_some_and(Chat::is_empty), "loop {} kept members", exit.index);
    }
}
