//! `LoopHandle`: messages from other threads reach `on_message` on the loop
//! thread, all of them and in each sender's order; a burst costs few
//! wake-ups; and a loop that has exited answers with an error.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Barrier};
use std::thread;

use evloop::{Config, ConnId, Ctx, EventLoop, Exited, Handler, LoopHandle, Origin, SendError};
use evloop_tests::{test_config, Server, TIMEOUT};

/// A message tagged with its sender and its place in that sender's order.
#[derive(Debug, Clone, Copy)]
struct Tagged {
    sender: usize,
    sequence: u64,
}

/// Checks that each sender's messages arrive in order and counts them.
struct InOrder {
    next_sequence: Vec<u64>,
    received: u64,
    out_of_order: u64,
    expected: u64,
    done: Sender<(u64, u64)>,
}

impl Handler for InOrder {
    type Conn = ();
    type Message = Tagged;

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_message(&mut self, _cx: &mut Ctx, message: Tagged) {
        let next = &mut self.next_sequence[message.sender];
        if message.sequence != *next {
            self.out_of_order += 1;
        }
        *next = message.sequence + 1;
        self.received += 1;
        if self.received == self.expected {
            let _ = self.done.send((self.received, self.out_of_order));
        }
    }
}

#[test]
fn messages_from_eight_threads_all_arrive_in_each_senders_order() {
    const THREADS: usize = 8;
    const PER_THREAD: u64 = 10_000;
    let (done, finished) = mpsc::channel();
    let handler = InOrder {
        next_sequence: vec![0; THREADS],
        received: 0,
        out_of_order: 0,
        expected: THREADS as u64 * PER_THREAD,
        done,
    };
    let server = Server::start(test_config(), handler);
    let start = Arc::new(Barrier::new(THREADS));
    let senders: Vec<_> = (0..THREADS)
        .map(|sender| {
            let handle = server.handle.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                for sequence in 0..PER_THREAD {
                    send_retrying_while_full(&handle, Tagged { sender, sequence });
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("a sender thread panicked");
    }
    let (received, out_of_order) = finished.recv_timeout(TIMEOUT).expect("not every message arrived");
    assert_eq!(received, THREADS as u64 * PER_THREAD);
    assert_eq!(out_of_order, 0, "messages from one thread arrived out of order");
    let (handler, stats) = server.stop();
    assert_eq!(handler.received, THREADS as u64 * PER_THREAD, "messages arrived after the count was reached");
    assert_eq!(stats.messages, THREADS as u64 * PER_THREAD);
}

/// Holds the loop inside the first message until the test has sent the
/// rest, so they all land between two turns; reports `poll_calls` at the
/// first message and at the last.
struct Gate {
    held: Sender<()>,
    release: Receiver<()>,
    expected: u64,
    received: u64,
    polls: Sender<u64>,
}

impl Handler for Gate {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_message(&mut self, cx: &mut Ctx, _message: ()) {
        self.received += 1;
        if self.received == 1 {
            let _ = self.polls.send(cx.stats().poll_calls);
            let _ = self.held.send(());
            self.release.recv_timeout(TIMEOUT).expect("the test released the loop");
        }
        if self.received == self.expected {
            let _ = self.polls.send(cx.stats().poll_calls);
        }
    }
}

/// Holds the loop inside a first message while `burst` more are sent, so
/// they all land between two turns, then returns how many turns the loop
/// took to deliver them.
fn turns_to_deliver_a_held_burst(burst: u64) -> u64 {
    let (held_tx, held) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let (polls_tx, polls) = mpsc::channel();
    let gate = Gate { held: held_tx, release: release_rx, expected: burst + 1, received: 0, polls: polls_tx };
    let config = Config { message_queue_capacity: burst as usize + 1, ..test_config() };
    let server = Server::start(config, gate);
    server.handle.send(()).expect("the loop is running");
    held.recv_timeout(TIMEOUT).expect("the loop took the first message");
    for _ in 0..burst {
        server.handle.send(()).expect("the queue has room for the burst");
    }
    release.send(()).unwrap();
    let first = polls.recv_timeout(TIMEOUT).expect("poll count at the first message");
    let last = polls.recv_timeout(TIMEOUT).expect("every message arrived");
    last - first
}

#[test]
fn a_burst_of_sends_between_two_turns_costs_few_wake_ups() {
    const BURST: u64 = 10_000;
    // The loop serves a bounded batch of messages per turn, so a burst
    // takes a turn per batch plus the one wake-up; not a turn per message.
    let turns = turns_to_deliver_a_held_burst(BURST);
    assert!(turns <= 20, "{BURST} messages sent between two turns took {turns} turns");
}

/// Sends `message`, waiting while the loop's queue is full: what a producer
/// that must not drop messages does.
#[track_caller]
fn send_retrying_while_full<M: Send>(handle: &LoopHandle<M>, mut message: M) {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        match handle.send(message) {
            Ok(()) => return,
            Err(SendError::Full(back)) => {
                assert!(std::time::Instant::now() < deadline, "the loop's queue stayed full for {TIMEOUT:?}");
                message = back;
                thread::yield_now();
            }
            Err(SendError::Exited(_)) => panic!("the loop exited"),
        }
    }
}

#[test]
fn a_full_message_queue_hands_the_message_back() {
    let (held_tx, held) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let (polls_tx, _polls) = mpsc::channel();
    let gate = Gate { held: held_tx, release: release_rx, expected: 4, received: 0, polls: polls_tx };
    let server = Server::start(Config { message_queue_capacity: 2, ..test_config() }, gate);
    server.handle.send(()).expect("the loop is running");
    held.recv_timeout(TIMEOUT).expect("the loop took the first message");
    // The loop is held inside the first message: the queue fills.
    server.handle.send(()).expect("room for two");
    server.handle.send(()).expect("room for two");
    assert_eq!(server.handle.send(()), Err(SendError::Full(())), "the third waiting message does not fit");
    release.send(()).unwrap();
    send_retrying_while_full(&server.handle, ());
    let (handler, stats) = server.stop();
    assert_eq!(handler.received, 4, "every message accepted was delivered");
    assert_eq!(stats.messages, 4);
}

#[test]
fn at_most_the_message_cap_is_delivered_per_turn() {
    const BURST: u64 = 20_000;
    // 1,024 per turn: the burst needs at least 19 turns beyond the first.
    let turns = turns_to_deliver_a_held_burst(BURST);
    assert!(turns >= BURST / 1024, "{BURST} messages were delivered in {turns} turns: more than 1,024 in one");
}

/// Answers nothing; for loops that only need to exist.
struct Quiet;

impl Handler for Quiet {
    type Conn = ();
    type Message = u32;

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn send_and_stop_after_the_loop_exited_return_errors() {
    let mut el = EventLoop::new(Config::default(), Quiet).expect("create the event loop");
    let handle = el.handle();
    let from_another_thread = handle.clone();
    thread::spawn(move || from_another_thread.stop().expect("the loop has not exited yet"))
        .join()
        .expect("the stopping thread panicked");
    el.run().expect("the loop runs and stops");
    // Returned from run, not yet dropped.
    assert_eq!(handle.send(7), Err(SendError::Exited(7)), "send after run returned hands the message back");
    assert_eq!(handle.stop(), Err(Exited(())), "stop after run returned");
    drop(el);
    assert_eq!(handle.send(8), Err(SendError::Exited(8)), "send after the loop was dropped");
    assert_eq!(handle.stop(), Err(Exited(())), "stop after the loop was dropped");
}

#[test]
fn send_to_a_loop_dropped_without_running_returns_an_error() {
    let el = EventLoop::new(Config::default(), Quiet).expect("create the event loop");
    let handle = el.handle();
    drop(el);
    assert_eq!(handle.send(1), Err(SendError::Exited(1)));
    assert_eq!(handle.stop(), Err(Exited(())));
}

/// Stops the loop on the first message, after recording it.
struct StopOnMessage(Vec<u32>);

impl Handler for StopOnMessage {
    type Conn = ();
    type Message = u32;

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }

    fn on_message(&mut self, cx: &mut Ctx, message: u32) {
        self.0.push(message);
        cx.stop();
    }
}

#[test]
fn messages_sent_before_run_are_delivered_once_it_runs() {
    let mut el = EventLoop::new(Config::default(), StopOnMessage(Vec::new())).expect("create the event loop");
    el.handle().send(42).expect("a loop not yet run accepts messages");
    el.run().expect("the loop runs until the message stops it");
    assert_eq!(el.handler().0, vec![42]);
}

#[test]
fn loop_handle_is_send_sync_and_clone() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<LoopHandle<Tagged>>();
    assert_send_sync_clone::<LoopHandle<String>>();
}
