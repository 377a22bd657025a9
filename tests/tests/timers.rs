//! Timers: `Ctx::set_timer`, `Ctx::set_conn_timer`, `Ctx::cancel_timer`,
//! the order they fire in, the instant callbacks see, and a connection's
//! timers dying with it.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use evloop::{CloseReason, ConnId, Ctx, Handler, Origin, TimerId};
use evloop_tests::{connect, test_config, Server, TIMEOUT};
use rand::{Rng, SeedableRng};

/// Code run on the loop thread: sent as a message, or attached to a timer.
type Script = Box<dyn FnOnce(&mut Probe, &mut Ctx) + Send>;

/// What the probe reports, in the order the loop did it.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// `on_timer` with this key, at this `Ctx::now()`.
    Timer {
        key: u64,
        now: Instant,
    },
    /// `on_conn_timer` for this connection with this key.
    ConnTimer {
        id: ConnId,
        key: u64,
    },
    Open(ConnId),
    Close(ConnId, CloseReason),
    /// A value a script wanted the test to see.
    Value(&'static str, u64),
    /// The `Ctx::now()` a script saw.
    Now(Instant),
}

/// A handler whose behaviour the test scripts: messages are closures run on
/// the loop thread, and a closure may be attached to a timer key.
struct Probe {
    seen: Sender<Seen>,
    /// Runs (once) right after the timer with this key fires.
    after_firing: HashMap<u64, Script>,
    /// Ids of the timers scripts set, by key.
    ids: HashMap<u64, TimerId>,
    /// Runs in `on_open` for every connection.
    on_open: fn(&mut Probe, &mut Ctx, ConnId),
}

impl Probe {
    fn new(on_open: fn(&mut Probe, &mut Ctx, ConnId)) -> (Probe, Receiver<Seen>) {
        let (seen, rx) = mpsc::channel();
        (Probe { seen, after_firing: HashMap::new(), ids: HashMap::new(), on_open }, rx)
    }

    fn report(&self, seen: Seen) {
        let _ = self.seen.send(seen);
    }

    fn set_timer(&mut self, cx: &mut Ctx, after: Duration, key: u64) {
        let id = cx.set_timer(after, key);
        self.ids.insert(key, id);
    }

    fn fired(&mut self, cx: &mut Ctx, key: u64) {
        if let Some(script) = self.after_firing.remove(&key) {
            script(self, cx);
        }
    }
}

impl Handler for Probe {
    type Conn = ();
    type Message = Script;

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) {
        self.report(Seen::Open(id));
        (self.on_open)(self, cx, id);
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, _conn: (), reason: CloseReason) {
        self.report(Seen::Close(id, reason));
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: TimerId, key: u64) {
        self.report(Seen::Timer { key, now: cx.now() });
        self.fired(cx, key);
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), _timer: TimerId, key: u64) {
        self.report(Seen::ConnTimer { id, key });
        self.fired(cx, key);
    }

    fn on_message(&mut self, cx: &mut Ctx, script: Script) {
        script(self, cx);
    }
}

fn nothing_on_open(_: &mut Probe, _: &mut Ctx, _: ConnId) {}

fn start(on_open: fn(&mut Probe, &mut Ctx, ConnId)) -> (Server<Probe>, Receiver<Seen>) {
    let (probe, seen) = Probe::new(on_open);
    (Server::start(test_config(), probe), seen)
}

fn run_on_loop(server: &Server<Probe>, script: impl FnOnce(&mut Probe, &mut Ctx) + Send + 'static) {
    server.handle.send(Box::new(script)).map_err(|_| ()).expect("the loop is running");
}

#[track_caller]
fn next(seen: &Receiver<Seen>) -> Seen {
    seen.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("no event within {TIMEOUT:?}"))
}

/// Events up to and including the firing of loop timer `last_key`.
#[track_caller]
fn events_until_timer(seen: &Receiver<Seen>, last_key: u64) -> Vec<Seen> {
    let mut events = Vec::new();
    loop {
        let event = next(seen);
        let done = matches!(event, Seen::Timer { key, .. } if key == last_key);
        events.push(event);
        if done {
            return events;
        }
    }
}

fn timer_keys(events: &[Seen]) -> Vec<u64> {
    events.iter().filter_map(|e| if let Seen::Timer { key, .. } = e { Some(*key) } else { None }).collect()
}

#[test]
fn timers_fire_in_deadline_order_then_in_the_order_they_were_set() {
    let (server, seen) = start(nothing_on_open);
    run_on_loop(&server, |probe, cx| {
        for (key, millis) in [(1, 40), (2, 10), (3, 25), (4, 10), (5, 0), (6, 25)] {
            probe.set_timer(cx, Duration::from_millis(millis), key);
        }
    });
    let fired = timer_keys(&events_until_timer(&seen, 1));
    assert_eq!(fired, vec![5, 2, 4, 3, 6, 1], "timers fired out of deadline order");
}

#[test]
fn a_timer_never_fires_before_its_deadline() {
    let (server, seen) = start(nothing_on_open);
    let delays = [(1, 5u64), (2, 30), (3, 80)];
    run_on_loop(&server, move |probe, cx| {
        let set_at = cx.now();
        for (key, millis) in delays {
            probe.set_timer(cx, Duration::from_millis(millis), key);
        }
        probe.report(Seen::Now(set_at));
    });
    let Seen::Now(set_at) = next(&seen) else { panic!("expected the instant the timers were set") };
    for event in events_until_timer(&seen, 3) {
        if let Seen::Timer { key, now } = event {
            let (_, millis) = delays.iter().find(|(k, _)| *k == key).expect("a timer the test set");
            let deadline = set_at + Duration::from_millis(*millis);
            assert!(now >= deadline, "timer {key} fired {:?} before its deadline", deadline - now);
        }
    }
}

#[test]
fn callbacks_of_one_turn_see_the_same_instant() {
    let (server, seen) = start(nothing_on_open);
    run_on_loop(&server, |probe, cx| {
        for key in 1..=3 {
            probe.set_timer(cx, Duration::from_millis(20), key);
        }
    });
    let instants: Vec<Instant> = events_until_timer(&seen, 3)
        .into_iter()
        .filter_map(|e| if let Seen::Timer { now, .. } = e { Some(now) } else { None })
        .collect();
    assert_eq!(instants.len(), 3);
    assert!(instants.iter().all(|now| *now == instants[0]), "one turn, yet callbacks saw {instants:?}");
}

#[test]
fn a_cancelled_timer_never_fires_and_cancelling_twice_is_a_no_op() {
    let (server, seen) = start(nothing_on_open);
    run_on_loop(&server, |probe, cx| {
        probe.set_timer(cx, Duration::from_millis(10), 1);
        probe.set_timer(cx, Duration::from_millis(10), 2);
        probe.set_timer(cx, Duration::from_millis(30), 3);
        let doomed = probe.ids[&2];
        probe.report(Seen::Value("first cancel", cx.cancel_timer(doomed) as u64));
        probe.report(Seen::Value("second cancel", cx.cancel_timer(doomed) as u64));
    });
    let events = events_until_timer(&seen, 3);
    assert_eq!(events[0], Seen::Value("first cancel", 1), "cancelling a pending timer returns true");
    assert_eq!(events[1], Seen::Value("second cancel", 0), "cancelling it again returns false");
    assert_eq!(timer_keys(&events), vec![1, 3], "the cancelled timer fired");
}

#[test]
fn timers_cancelled_from_inside_on_timer_never_fire() {
    let (server, seen) = start(nothing_on_open);
    run_on_loop(&server, |probe, cx| {
        // 1 and 2 fall due in the same turn; 1 fires first and cancels 2
        // (already due) and 3 (not yet due), and tries to cancel itself.
        probe.set_timer(cx, Duration::from_millis(10), 1);
        probe.set_timer(cx, Duration::from_millis(10), 2);
        probe.set_timer(cx, Duration::from_millis(20), 3);
        probe.set_timer(cx, Duration::from_millis(60), 4);
        probe.after_firing.insert(
            1,
            Box::new(|probe, cx| {
                let ids = probe.ids.clone();
                probe.report(Seen::Value("cancel due", cx.cancel_timer(ids[&2]) as u64));
                probe.report(Seen::Value("cancel later", cx.cancel_timer(ids[&3]) as u64));
                probe.report(Seen::Value("cancel itself", cx.cancel_timer(ids[&1]) as u64));
            }),
        );
    });
    let events = events_until_timer(&seen, 4);
    assert_eq!(timer_keys(&events), vec![1, 4], "a timer cancelled inside on_timer fired anyway: {events:?}");
    assert!(events.contains(&Seen::Value("cancel due", 1)), "{events:?}");
    assert!(events.contains(&Seen::Value("cancel later", 1)), "{events:?}");
    assert!(events.contains(&Seen::Value("cancel itself", 0)), "a firing timer is no longer pending: {events:?}");
}

#[test]
fn a_timer_set_for_now_inside_on_timer_fires_on_a_later_turn() {
    let (server, seen) = start(nothing_on_open);
    run_on_loop(&server, |probe, cx| {
        probe.set_timer(cx, Duration::ZERO, 1);
        probe.after_firing.insert(
            1,
            Box::new(|probe, cx| {
                probe.report(Seen::Value("polls at 1", cx.stats().poll_calls));
                probe.set_timer(cx, Duration::ZERO, 2);
                probe
                    .after_firing
                    .insert(2, Box::new(|probe, cx| probe.report(Seen::Value("polls at 2", cx.stats().poll_calls))));
            }),
        );
    });
    let mut polls = HashMap::new();
    for event in events_until_timer(&seen, 2).into_iter().chain([next(&seen)]) {
        if let Seen::Value(what, n) = event {
            polls.insert(what, n);
        }
    }
    assert!(
        polls["polls at 2"] > polls["polls at 1"],
        "a zero-delay timer set while timers fire must wait for the next turn: {polls:?}"
    );
}

#[test]
fn ten_thousand_timers_fire_in_deadline_order_and_cancelled_ones_never_do() {
    const TIMERS: u64 = 10_000;
    let (server, seen) = start(nothing_on_open);
    let (deadlines_tx, deadlines_rx) = mpsc::channel();
    run_on_loop(&server, move |probe, cx| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let mut deadlines = HashMap::new();
        for key in 1..=TIMERS {
            let after = Duration::from_millis(rng.gen_range(0..300));
            probe.set_timer(cx, after, key);
            deadlines.insert(key, cx.now() + after);
        }
        let mut failed_cancels = 0;
        for key in (1..=TIMERS).filter(|key| key % 3 == 0) {
            failed_cancels += u64::from(!cx.cancel_timer(probe.ids[&key]));
            deadlines.remove(&key);
        }
        probe.report(Seen::Value("failed cancels", failed_cancels));
        // Fires after every other timer: it ends the test.
        probe.set_timer(cx, Duration::from_millis(400), 0);
        deadlines_tx.send(deadlines).unwrap();
    });
    let deadlines = deadlines_rx.recv_timeout(TIMEOUT).expect("the timers were set");
    let events = events_until_timer(&seen, 0);
    assert_eq!(events[0], Seen::Value("failed cancels", 0), "every timer was pending when cancelled");
    let fired = timer_keys(&events);
    let fired = &fired[..fired.len() - 1];
    assert!(fired.iter().all(|key| key % 3 != 0), "a cancelled timer fired");
    assert_eq!(fired.len(), deadlines.len(), "every pending timer fires exactly once");
    for pair in fired.windows(2) {
        let (a, b) = (deadlines[&pair[0]], deadlines[&pair[1]]);
        assert!(a < b || (a == b && pair[0] < pair[1]), "timer {} fired before timer {}", pair[0], pair[1]);
    }
}

fn conn_timer_in_10ms(probe: &mut Probe, cx: &mut Ctx, id: ConnId) {
    let timer = cx.set_conn_timer(id, Duration::from_millis(10), 7);
    probe.report(Seen::Value("conn timer set", timer.is_some() as u64));
}

#[test]
fn a_connection_timer_reaches_on_conn_timer_with_its_connection() {
    let (server, seen) = start(conn_timer_in_10ms);
    let _client = connect(server.addr);
    let Seen::Open(id) = next(&seen) else { panic!("expected on_open first") };
    assert_eq!(next(&seen), Seen::Value("conn timer set", 1), "set_conn_timer on an open connection");
    assert_eq!(next(&seen), Seen::ConnTimer { id, key: 7 });
}

/// Sets a connection timer due at once and a loop timer right behind it,
/// then closes the connection in the same callback: the connection timer
/// would fire in this very turn, before the loop timer, were it not
/// cancelled by the close.
fn conn_timer_then_abort(probe: &mut Probe, cx: &mut Ctx, id: ConnId) {
    cx.set_conn_timer(id, Duration::ZERO, 7).expect("the connection is open");
    probe.set_timer(cx, Duration::ZERO, 99);
    cx.abort(id);
}

#[test]
fn a_closed_connections_timers_never_fire() {
    let (server, seen) = start(conn_timer_then_abort);
    let _client = connect(server.addr);
    let events = events_until_timer(&seen, 99);
    let Seen::Open(id) = events[0] else { panic!("expected on_open first, got {events:?}") };
    assert_eq!(events.len(), 3, "expected open, close, loop timer; got {events:?}");
    assert_eq!(events[1], Seen::Close(id, CloseReason::App), "the connection closes, its timer unfired");
}

/// Two connection timers due in the same turn; the first closes the
/// connection, so the second must not fire.
fn two_conn_timers_the_first_closes(probe: &mut Probe, cx: &mut Ctx, id: ConnId) {
    cx.set_conn_timer(id, Duration::from_millis(10), 1).expect("the connection is open");
    cx.set_conn_timer(id, Duration::from_millis(10), 2).expect("the connection is open");
    probe.set_timer(cx, Duration::from_millis(10), 99);
    probe.after_firing.insert(
        1,
        Box::new(move |_, cx| {
            cx.abort(id);
        }),
    );
}

#[test]
fn a_connection_closed_by_its_own_timer_loses_its_other_due_timers() {
    let (server, seen) = start(two_conn_timers_the_first_closes);
    let _client = connect(server.addr);
    let events = events_until_timer(&seen, 99);
    let Seen::Open(id) = events[0] else { panic!("expected on_open first, got {events:?}") };
    assert_eq!(
        events[1..3],
        [Seen::ConnTimer { id, key: 1 }, Seen::Close(id, CloseReason::App)],
        "the first timer fires and closes the connection"
    );
    assert_eq!(events.len(), 4, "nothing but the loop timer after on_close: {events:?}");
}

fn conn_timer_in_50ms(_: &mut Probe, cx: &mut Ctx, id: ConnId) {
    cx.set_conn_timer(id, Duration::from_millis(50), 7).expect("the connection is open");
}

#[test]
fn no_connection_timer_fires_after_on_close_when_the_peer_leaves() {
    let (server, seen) = start(conn_timer_in_50ms);
    let client = connect(server.addr);
    let Seen::Open(id) = next(&seen) else { panic!("expected on_open first") };
    drop(client);
    loop {
        match next(&seen) {
            Seen::Close(closed, reason) if closed == id => {
                assert_eq!(reason, CloseReason::PeerClosed);
                break;
            }
            // Fine before on_close, on a slow machine.
            Seen::ConnTimer { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // The connection timer was due 50 ms after open; wait well past it.
    run_on_loop(&server, |probe, cx| probe.set_timer(cx, Duration::from_millis(150), 99));
    let after_close = events_until_timer(&seen, 99);
    assert_eq!(after_close.len(), 1, "a timer of a closed connection fired: {after_close:?}");
}

#[test]
fn a_stale_connection_gets_no_timer_and_its_old_timers_do_not_cancel() {
    let (server, seen) = start(|probe, cx, id| {
        let timer = cx.set_conn_timer(id, Duration::from_secs(60), 7).expect("the connection is open");
        probe.ids.insert(7, timer);
        cx.abort(id);
    });
    let _client = connect(server.addr);
    let Seen::Open(id) = next(&seen) else { panic!("expected on_open first") };
    assert_eq!(next(&seen), Seen::Close(id, CloseReason::App));
    run_on_loop(&server, move |probe, cx| {
        let timer = probe.ids[&7];
        probe.report(Seen::Value("set on stale id", cx.set_conn_timer(id, Duration::ZERO, 8).is_some() as u64));
        probe.report(Seen::Value("cancel after close", cx.cancel_timer(timer) as u64));
    });
    assert_eq!(next(&seen), Seen::Value("set on stale id", 0), "set_conn_timer on a closed connection");
    assert_eq!(next(&seen), Seen::Value("cancel after close", 0), "its timer died with it");
}

#[test]
fn a_timer_set_for_duration_max_is_pending_and_never_fires() {
    let (server, seen) = start(nothing_on_open);
    run_on_loop(&server, |probe, cx| {
        probe.set_timer(cx, Duration::MAX, 1);
        probe.set_timer(cx, Duration::from_millis(10), 2);
    });
    assert_eq!(timer_keys(&events_until_timer(&seen, 2)), vec![2], "the far timer fired, or setting it panicked");
}

/// Sets `count` timers on each connection as it opens, all due at once,
/// cancels every other one, and reports the keys that fire.
struct ManyTimers {
    count: u64,
    fired: Sender<u64>,
    cancelled_ok: Sender<bool>,
}

impl Handler for ManyTimers {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) {
        let timers: Vec<TimerId> =
            (0..self.count).map(|key| cx.set_conn_timer(id, Duration::from_millis(20), key).unwrap()).collect();
        // Cancel in an order that moves entries around in the connection's
        // list: from the front, so each cancel swaps the last one in.
        for timer in timers.iter().step_by(2) {
            let _ = self.cancelled_ok.send(cx.cancel_timer(*timer));
        }
        for timer in timers.iter().step_by(2) {
            let _ = self.cancelled_ok.send(!cx.cancel_timer(*timer));
        }
    }

    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_conn_timer(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), _: TimerId, key: u64) {
        let _ = self.fired.send(key);
    }
}

#[test]
fn cancelling_some_of_many_connection_timers_leaves_exactly_the_rest() {
    const COUNT: u64 = 1_000;
    let (fired, fires) = mpsc::channel();
    let (cancelled_ok, cancels) = mpsc::channel();
    let server = Server::start(test_config(), ManyTimers { count: COUNT, fired, cancelled_ok });
    let _client = connect(server.addr);
    let mut keys: Vec<u64> = (0..COUNT / 2).map(|_| fires.recv_timeout(TIMEOUT).expect("a timer fires")).collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..COUNT).filter(|key| key % 2 == 1).collect::<Vec<_>>(), "exactly the uncancelled fire");
    assert!(cancels.try_iter().all(|ok| ok), "each cancel succeeds once and only once");
    assert!(fires.recv_timeout(Duration::from_millis(50)).is_err(), "no cancelled timer fires");
}
