//! An idle loop sleeps in `epoll_wait` until its next deadline: with a
//! thousand quiet connections (each holding an idle-timeout timer) it does
//! not spin.

use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use evloop::{Config, ConnId, Ctx, Handler, Origin, TimerId};
use evloop_tests::{connect, wait_until, Server, TIMEOUT};

const CONNECTIONS: usize = 1000;
const WINDOW: Duration = Duration::from_secs(1);

/// Counts connections and, asked by a message, measures the `epoll_wait`
/// calls made over [`WINDOW`] with a timer of its own.
struct PollCounter {
    opened: usize,
    polls_at_start: u64,
    report: Sender<Report>,
}

#[derive(Debug)]
enum Report {
    Opened(usize),
    PollsInWindow(u64),
}

impl Handler for PollCounter {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {
        self.opened += 1;
        let _ = self.report.send(Report::Opened(self.opened));
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_message(&mut self, cx: &mut Ctx, _start: ()) {
        self.polls_at_start = cx.stats().poll_calls;
        cx.set_timer(WINDOW, 0);
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: TimerId, _key: u64) {
        let _ = self.report.send(Report::PollsInWindow(cx.stats().poll_calls - self.polls_at_start));
    }
}

#[test]
fn an_idle_loop_with_a_thousand_connections_sleeps_until_its_next_deadline() {
    let (report, reports) = mpsc::channel();
    // The default idle timeout (5 minutes) stays on: a thousand timers are
    // pending, and the loop must sleep until the earliest, not poll them.
    let config = Config { idle_timeout: Some(Duration::from_secs(300)), ..Config::default() };
    let server = Server::start(config, PollCounter { opened: 0, polls_at_start: 0, report });
    let clients: Vec<_> = (0..CONNECTIONS).map(|_| connect(server.addr)).collect();
    let mut opened = 0;
    wait_until("every connection is open", || {
        while let Ok(Report::Opened(n)) = reports.try_recv() {
            opened = n;
        }
        opened == CONNECTIONS
    });

    server.handle.send(()).expect("the loop is running");
    let polls = match reports.recv_timeout(WINDOW + TIMEOUT) {
        Ok(Report::PollsInWindow(polls)) => polls,
        other => panic!("expected the poll count, got {other:?}"),
    };
    // One wake-up for the timer itself; a little slack for a stray event.
    assert!(polls <= 3, "{CONNECTIONS} idle connections, yet the loop polled {polls} times in {WINDOW:?}");
    drop(clients);
}
