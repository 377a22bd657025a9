//! Sends made during a callback are gathered: each connection that got
//! output is written once per turn, however many sends made it.

use std::io::{Read, Write};

use evloop::{ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, test_config, Server};

/// Answers every complete line with its own `send` of `+OK\r\n`: the
/// natural code for a pipelined request/response protocol.
struct OneReplyPerLine;

impl Handler for OneReplyPerLine {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        let mut consumed = 0;
        while let Some(end) = data[consumed..].iter().position(|&b| b == b'\n') {
            cx.send(id, b"+OK\r\n");
            consumed += end + 1;
        }
        consumed
    }
}

#[test]
fn sixteen_pipelined_requests_answered_with_sixteen_sends_cost_one_write() {
    const BATCHES: usize = 500;
    const DEPTH: usize = 16;
    let server = Server::start(test_config(), OneReplyPerLine);
    let mut client = connect(server.addr);
    let batch = b"GET\n".repeat(DEPTH);
    let mut replies = vec![0; b"+OK\r\n".len() * DEPTH];
    for _ in 0..BATCHES {
        client.write_all(&batch).unwrap();
        client.read_exact(&mut replies).expect("sixteen replies");
        assert_eq!(replies, b"+OK\r\n".repeat(DEPTH));
    }
    drop(client);
    let (_, stats) = server.stop();
    // A batch may now and then arrive in two reads; never one write per reply.
    let per_batch = stats.write_calls as f64 / BATCHES as f64;
    assert!(
        per_batch < 1.5,
        "{} writes for {BATCHES} batches of {DEPTH} replies: {per_batch:.2} per batch, want about 1",
        stats.write_calls
    );
}

/// Welcomes each client, then says whatever one client says to every
/// client three times, in three sends each.
struct ThriceToEveryone {
    members: Vec<ConnId>,
}

impl Handler for ThriceToEveryone {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) {
        self.members.push(id);
        cx.send(id, b"welcome\n");
    }

    fn on_data(&mut self, cx: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        for _ in 0..3 {
            for &member in &self.members {
                cx.send(member, data);
            }
        }
        data.len()
    }
}

#[test]
fn a_broadcast_of_several_sends_is_one_write_per_member() {
    const MEMBERS: usize = 50;
    let server = Server::start(test_config(), ThriceToEveryone { members: Vec::new() });
    let mut clients: Vec<_> = (0..MEMBERS).map(|_| connect(server.addr)).collect();
    for client in &mut clients {
        let mut welcome = [0; 8];
        client.read_exact(&mut welcome).expect("every member is welcomed");
    }
    clients[0].write_all(b"hi").unwrap();
    for client in &mut clients {
        let mut heard = [0; 6];
        client.read_exact(&mut heard).expect("every member hears the broadcast");
        assert_eq!(&heard, b"hihihi");
    }
    let (_, stats) = server.stop();
    assert_eq!(
        stats.write_calls,
        2 * MEMBERS as u64,
        "one write per member for its welcome and one for three sends of the broadcast"
    );
}
