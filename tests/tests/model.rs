//! A model-based property test of the loop's contract: random sequences of
//! opening, sending, pausing, resuming and closing from the server's side,
//! and closing or resetting from the peer's, against a model of what each
//! peer must read back. Ids never alias, `on_close` fires exactly once per
//! connection, and no byte is lost, duplicated or reordered.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use proptest::prelude::*;
use socket2::SockRef;

use evloop::{CloseReason, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, test_config, Server, TIMEOUT};

/// What the server does to the connection opened `n`-th.
#[derive(Debug, Clone, Copy)]
enum Control {
    Pause(usize),
    Resume(usize),
    Close(usize),
}

/// What the handler reports.
#[derive(Debug)]
// The fields are read only through `Debug`, in assertion messages.
#[allow(dead_code)]
enum Report {
    Opened,
    Done,
    Closed(ConnId),
}

/// An echo server the test steers through messages.
struct Steered {
    opened: Vec<ConnId>,
    reports: Sender<Report>,
}

impl Handler for Steered {
    type Conn = ();
    type Message = Control;

    fn on_open(&mut self, _: &mut Ctx, id: ConnId, _: Origin) {
        self.opened.push(id);
        let _ = self.reports.send(Report::Opened);
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        data.len()
    }

    fn on_message(&mut self, cx: &mut Ctx, control: Control) {
        match control {
            Control::Pause(n) => cx.pause_read(self.opened[n]),
            Control::Resume(n) => cx.resume_read(self.opened[n]),
            Control::Close(n) => cx.close(self.opened[n]),
        };
        let _ = self.reports.send(Report::Done);
    }

    fn on_close(&mut self, _: &mut Ctx, id: ConnId, _: (), _: CloseReason) {
        let _ = self.reports.send(Report::Closed(id));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Open,
    Send(usize, Vec<u8>),
    Pause(usize),
    Resume(usize),
    ServerClose(usize),
    PeerClose(usize),
    PeerReset(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Open),
        6 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..3000)).prop_map(|(n, b)| Op::Send(n, b)),
        1 => any::<usize>().prop_map(Op::Pause),
        2 => any::<usize>().prop_map(Op::Resume),
        1 => any::<usize>().prop_map(Op::ServerClose),
        1 => any::<usize>().prop_map(Op::PeerClose),
        1 => any::<usize>().prop_map(Op::PeerReset),
    ]
}

/// The model's view of one client.
struct Client {
    stream: TcpStream,
    paused: bool,
    /// Sent while paused: echoed once reading resumes.
    unechoed: Vec<u8>,
}

/// Waits for the handler's report of `control`, collecting the others.
fn await_done(reports: &Receiver<Report>, seen: &mut Vec<Report>) {
    loop {
        match reports.recv_timeout(TIMEOUT).expect("the server reports") {
            Report::Done => return,
            other => seen.push(other),
        }
    }
}

fn read_exactly(stream: &mut TcpStream, expected: &[u8]) {
    let mut echoed = vec![0; expected.len()];
    stream.read_exact(&mut echoed).expect("the echo arrives");
    assert!(echoed == expected, "the echo differs from what was sent");
}

fn run(ops: &[Op]) {
    let (reports_tx, reports) = mpsc::channel();
    let server = Server::start(test_config(), Steered { opened: Vec::new(), reports: reports_tx });
    let mut clients: Vec<Option<Client>> = Vec::new();
    let mut seen = Vec::new();
    let live = |clients: &Vec<Option<Client>>, n: usize| -> Option<usize> {
        let alive: Vec<usize> = (0..clients.len()).filter(|&i| clients[i].is_some()).collect();
        (!alive.is_empty()).then(|| alive[n % alive.len()])
    };
    for op in ops {
        match op.clone() {
            Op::Open => {
                let stream = connect(server.addr);
                // Opened in connect order: the n-th connect is the n-th open.
                loop {
                    match reports.recv_timeout(TIMEOUT).expect("the open is reported") {
                        Report::Opened => break,
                        other => seen.push(other),
                    }
                }
                clients.push(Some(Client { stream, paused: false, unechoed: Vec::new() }));
            }
            Op::Send(n, bytes) => {
                let Some(i) = live(&clients, n) else { continue };
                let client = clients[i].as_mut().unwrap();
                client.stream.write_all(&bytes).unwrap();
                if client.paused {
                    client.unechoed.extend_from_slice(&bytes);
                } else {
                    read_exactly(&mut client.stream, &bytes);
                }
            }
            Op::Pause(n) => {
                let Some(i) = live(&clients, n) else { continue };
                server.handle.send(Control::Pause(i)).unwrap();
                await_done(&reports, &mut seen);
                clients[i].as_mut().unwrap().paused = true;
            }
            Op::Resume(n) => {
                let Some(i) = live(&clients, n) else { continue };
                server.handle.send(Control::Resume(i)).unwrap();
                await_done(&reports, &mut seen);
                let client = clients[i].as_mut().unwrap();
                client.paused = false;
                let pending = std::mem::take(&mut client.unechoed);
                read_exactly(&mut client.stream, &pending);
            }
            Op::ServerClose(n) => {
                let Some(i) = live(&clients, n) else { continue };
                server.handle.send(Control::Close(i)).unwrap();
                await_done(&reports, &mut seen);
                let mut client = clients[i].take().unwrap();
                // Input sent while paused is never read: nothing of it comes
                // back, and the close is still a clean end of file.
                let mut rest = Vec::new();
                client.stream.read_to_end(&mut rest).expect("a graceful close ends in end of file");
                assert!(rest.is_empty(), "nothing was pending, yet {} bytes came", rest.len());
            }
            Op::PeerClose(n) => {
                let Some(i) = live(&clients, n) else { continue };
                let mut client = clients[i].take().unwrap();
                client.stream.shutdown(Shutdown::Write).unwrap();
                if client.paused {
                    // Resume so the server reads to the end of file.
                    server.handle.send(Control::Resume(i)).unwrap();
                    await_done(&reports, &mut seen);
                }
                let mut rest = Vec::new();
                client.stream.read_to_end(&mut rest).expect("end of file after the echo");
                assert!(rest == client.unechoed, "what was pending is echoed before the end of file");
            }
            Op::PeerReset(n) => {
                let Some(i) = live(&clients, n) else { continue };
                let client = clients[i].take().unwrap();
                SockRef::from(&client.stream).set_linger(Some(Duration::ZERO)).unwrap();
            }
        }
    }
    let opened = clients.len();
    drop(clients);
    let (steered, stats) = server.stop();
    seen.extend(reports.try_iter());
    let ids: HashSet<ConnId> = steered.opened.iter().copied().collect();
    assert_eq!(ids.len(), opened, "ids never alias");
    let mut closed = HashSet::new();
    for report in &seen {
        if let Report::Closed(id) = report {
            assert!(ids.contains(id), "{id:?} closed without opening");
            assert!(closed.insert(*id), "{id:?} closed twice");
        }
    }
    assert_eq!(closed.len(), opened, "every connection closed exactly once");
    assert_eq!(stats.open, 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_loop_keeps_its_contract_under_any_sequence(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }
}
