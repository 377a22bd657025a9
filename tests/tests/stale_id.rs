//! A `ConnId` outlives its connection harmlessly: once the connection has
//! closed, every `Ctx` method given the old id does nothing and says so,
//! even after a new connection took the same slab slot.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, round_trip, test_config, Server, TIMEOUT};

/// What `Ctx` answered when handed an id.
#[derive(Debug, PartialEq, Eq)]
struct Answers {
    send: bool,
    close: bool,
    abort: bool,
    shutdown_write: bool,
    pause_read: bool,
    resume_read: bool,
    set_conn_timer: bool,
    is_open: bool,
    queued_output: Option<usize>,
    peer_addr: bool,
}

impl Answers {
    /// What every method says about a closed connection's id.
    const STALE: Answers = Answers {
        send: false,
        close: false,
        abort: false,
        shutdown_write: false,
        pause_read: false,
        resume_read: false,
        set_conn_timer: false,
        is_open: false,
        queued_output: None,
        peer_addr: false,
    };

    /// Asks every id-taking method about `id`. The mutating ones go last
    /// so a live id would still answer the queries truthfully.
    fn probe(cx: &mut Ctx, id: ConnId) -> Answers {
        let is_open = cx.is_open(id);
        let queued_output = cx.queued_output(id);
        let peer_addr = cx.peer_addr(id).is_some();
        let set_conn_timer = cx.set_conn_timer(id, Duration::from_secs(3600), 0).is_some();
        let pause_read = cx.pause_read(id);
        let resume_read = cx.resume_read(id);
        let send = cx.send(id, b"from beyond");
        let shutdown_write = cx.shutdown_write(id);
        let close = cx.close(id);
        let abort = cx.abort(id);
        Answers {
            send,
            close,
            abort,
            shutdown_write,
            pause_read,
            resume_read,
            set_conn_timer,
            is_open,
            queued_output,
            peer_addr,
        }
    }
}

#[derive(Debug)]
enum Report {
    Opened(ConnId),
    Closed(ConnId, CloseReason),
    Probed(Answers),
}

/// Echoes, and on a message probes the id it was given.
#[derive(Debug)]
struct Prober {
    reports: Sender<Report>,
}

impl Handler for Prober {
    type Conn = ();
    type Message = ConnId;

    fn on_open(&mut self, _cx: &mut Ctx, id: ConnId, _origin: Origin) {
        self.reports.send(Report::Opened(id)).unwrap();
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        cx.send(id, data);
        data.len()
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        self.reports.send(Report::Closed(id, reason)).unwrap();
    }

    fn on_message(&mut self, cx: &mut Ctx, id: ConnId) {
        self.reports.send(Report::Probed(Answers::probe(cx, id))).unwrap();
    }
}

fn next(reports: &Receiver<Report>) -> Report {
    reports.recv_timeout(TIMEOUT).expect("the handler reported nothing")
}

fn start(config: Config) -> (Server<Prober>, Receiver<Report>) {
    let (reports, rx) = mpsc::channel();
    (Server::start(config, Prober { reports }), rx)
}

#[test]
fn an_id_whose_slot_was_reused_touches_nothing() {
    let (server, reports) = start(test_config());

    let mut first = connect(server.addr);
    assert_eq!(round_trip(&mut first, b"one"), b"one");
    let Report::Opened(old) = next(&reports) else { panic!("expected on_open") };
    drop(first);
    assert!(matches!(next(&reports), Report::Closed(id, CloseReason::PeerClosed) if id == old));

    let mut second = connect(server.addr);
    let Report::Opened(new) = next(&reports) else { panic!("expected on_open") };
    assert_eq!(new.index(), old.index(), "the slab reuses the freed slot");
    assert_ne!(new, old, "a reused slot gets a new generation");

    server.handle.send(old).unwrap();
    assert!(matches!(next(&reports), Report::Probed(answers) if answers == Answers::STALE));

    // The connection now in that slot heard nothing of it.
    assert_eq!(round_trip(&mut second, b"still mine"), b"still mine");
    server.handle.send(new).unwrap();
    let Report::Probed(live) = next(&reports) else { panic!("expected a probe") };
    assert!(live.is_open && live.peer_addr && live.send && live.set_conn_timer, "a live id works: {live:?}");
}

#[test]
fn events_for_a_connection_closed_earlier_in_the_same_batch_are_ignored() {
    // Every client writes before the loop wakes, so one poll batch holds an
    // event for each. The first one the handler sees aborts all the others:
    // their events later in that batch must not reach `on_data`.
    /// Connections `on_data` saw after they were aborted, and every close.
    type Verdict = (Vec<ConnId>, Vec<(ConnId, CloseReason)>);

    #[derive(Debug, Default)]
    struct Executioner {
        open: Vec<ConnId>,
        executed: Vec<ConnId>,
        data_after_close: Vec<ConnId>,
        closed: Vec<(ConnId, CloseReason)>,
        opened: Option<Sender<()>>,
        done: Option<Sender<Verdict>>,
    }

    impl Handler for Executioner {
        type Conn = ();
        type Message = ();

        fn on_open(&mut self, _cx: &mut Ctx, id: ConnId, _origin: Origin) {
            self.open.push(id);
            let _ = self.opened.as_ref().unwrap().send(());
        }

        fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
            if self.executed.contains(&id) {
                self.data_after_close.push(id);
            } else if self.executed.is_empty() {
                for &other in self.open.iter().filter(|&&other| other != id) {
                    assert!(cx.abort(other));
                    self.executed.push(other);
                }
                cx.send(id, b"survivor");
            }
            data.len()
        }

        fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
            self.closed.push((id, reason));
            if self.closed.len() == self.open.len() {
                let report = (std::mem::take(&mut self.data_after_close), std::mem::take(&mut self.closed));
                let _ = self.done.take().unwrap().send(report);
            }
        }
    }

    const CLIENTS: usize = 32;
    let (done, finished) = mpsc::channel();
    let (opened, opens) = mpsc::channel();
    let handler = Executioner { opened: Some(opened), done: Some(done), ..Executioner::default() };
    let server = Server::start(test_config(), handler);
    let mut clients: Vec<_> = (0..CLIENTS).map(|_| connect(server.addr)).collect();
    for _ in 0..CLIENTS {
        opens.recv_timeout(TIMEOUT).expect("every client is accepted before the burst");
    }
    for client in &mut clients {
        // The first write the loop sees aborts the others, with a reset: a
        // later write may find its connection reset already.
        let _ = std::io::Write::write_all(client, b"x");
    }
    drop(clients);
    let (data_after_close, closed) = finished.recv_timeout(TIMEOUT).expect("every connection closes");
    assert!(data_after_close.is_empty(), "on_data ran for closed connections: {data_after_close:?}");
    assert_eq!(closed.len(), CLIENTS);
    let app_closes = closed.iter().filter(|(_, reason)| *reason == CloseReason::App).count();
    assert_eq!(app_closes, CLIENTS - 1, "every connection but the first closes with App: {closed:?}");
}
