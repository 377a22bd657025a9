//! Flood control in the chat server: a client over its line rate is slowed
//! down and then disconnected, while readers reading at a person's pace stay
//! and get every line in order, byte for byte.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use chat::{Chat, FloodLimit, Settings};
use evloop::CloseReason;
use evloop_tests::chat::{room, Conversation};
use evloop_tests::{test_config, Server};

fn start(flood: FloodLimit) -> Server<Chat> {
    let settings = Settings { flood: Some(flood), ..Settings::default() };
    Server::start(settings.loop_config(test_config()), Chat::new(settings))
}

/// The pause between two lines a person types: pacing, not a wait for a
/// result.
const TYPING: Duration = Duration::from_millis(100);

/// What one reader heard of the spammer (`guest3`) so far.
#[derive(Debug, Default)]
struct Heard {
    spam: u64,
    left: bool,
}

impl Heard {
    /// Checks a line from the spammer, or its leave, is the next one due.
    #[track_caller]
    fn check(&mut self, reader: usize, line: &str) {
        if line == "* guest3 left (flooding)" {
            assert!(!self.left, "reader {reader} heard the spammer leave twice");
            self.left = true;
            return;
        }
        let Some(number) = line.strip_prefix("guest3: spam ") else { panic!("reader {reader} got {line:?}") };
        assert!(!self.left, "reader {reader} heard the spammer after it left");
        assert_eq!(number, self.spam.to_string(), "reader {reader} missed or reordered the spammer's lines");
        self.spam += 1;
    }
}

#[test]
fn a_spammer_is_slowed_then_disconnected_while_readers_stay_and_get_its_lines_in_order() {
    let flood = FloodLimit { lines_per_sec: 20.0, burst: 10, disconnect_after: Some(Duration::from_secs(1)) };
    let server = start(flood);
    let [alice, bob, mut spammer] = room(server.addr);
    let started = Instant::now();
    let mut writer = spammer.writer.try_clone().unwrap();
    let spamming = thread::spawn(move || {
        let mut written = 0u64;
        // Bounded: far more than the server takes before it disconnects.
        while written < 10_000_000 {
            let chunk: String = (written..written + 1000).map(|n| format!("spam {n}\n")).collect();
            if writer.write_all(chunk.as_bytes()).is_err() {
                break; // disconnected
            }
            written += 1000;
        }
        written
    });

    // Alice and Bob take turns saying a line while the flood goes on, and
    // read everything in between.
    let mut talk = Conversation::new(alice, bob);
    let mut heard = [Heard::default(), Heard::default()];
    while !(heard[0].left && heard[1].left) {
        assert!(talk.rounds() < 300, "the spammer was never disconnected");
        talk.round(|reader, line| heard[reader].check(reader, line));
        thread::sleep(TYPING);
    }
    let elapsed = started.elapsed();
    let written = spamming.join().unwrap();

    assert_eq!(heard[0].spam, heard[1].spam, "both readers got the same spam");
    let let_through = heard[0].spam;
    assert!(let_through >= u64::from(flood.burst), "the burst went through: {let_through} lines");
    let allowed = f64::from(flood.burst) + flood.lines_per_sec * elapsed.as_secs_f64() + 1.0;
    assert!(let_through as f64 <= allowed, "{let_through} spam lines in {elapsed:?}: over the rate");
    assert!(written > let_through, "the spammer was slowed: {written} lines written, {let_through} taken");
    loop {
        let line = spammer.line();
        if line == "ERR flooding: over 20 lines a second for 1 s; disconnecting" {
            break;
        }
        assert!(line.starts_with("guest1: round ") || line.starts_with("guest2: round "), "the spammer got {line:?}");
    }
    spammer.expect_closed();
    let [mut alice, mut bob] = talk.clients;
    alice.send("still here");
    bob.expect("guest1: still here");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::OutputLimit), 0, "a reader was dropped as too slow");
    assert_eq!(stats.closed(CloseReason::App), 1, "only the spammer was disconnected");
}

#[test]
fn a_client_within_its_rate_is_never_held_back_or_disconnected() {
    let flood = FloodLimit { lines_per_sec: 20.0, burst: 10, disconnect_after: Some(Duration::from_secs(1)) };
    let server = start(flood);
    let [mut alice, mut bob] = room(server.addr);
    let burst: String = (0..10).map(|n| format!("burst {n}\n")).collect();
    alice.writer.write_all(burst.as_bytes()).unwrap();
    for n in 0..10 {
        bob.expect(&format!("guest1: burst {n}"));
    }
    // Then half the rate for longer than `disconnect_after`.
    for n in 0..25 {
        thread::sleep(TYPING);
        alice.send(&format!("paced {n}"));
        bob.expect(&format!("guest1: paced {n}"));
    }
    alice.send("/who");
    alice.expect("* online (2): guest1, guest2");
}

#[test]
fn a_paste_past_the_burst_is_delivered_whole_at_the_rate() {
    let flood = FloodLimit { lines_per_sec: 50.0, burst: 10, disconnect_after: Some(Duration::from_secs(10)) };
    let server = start(flood);
    let [mut alice, mut bob] = room(server.addr);
    let paste: String = (0..60).map(|n| format!("pasted {n}\n")).collect();
    // One write: all of it reaches the server at once, and waits there.
    alice.writer.write_all(paste.as_bytes()).unwrap();
    for n in 0..60 {
        bob.expect(&format!("guest1: pasted {n}"));
    }
    alice.send("/who");
    alice.expect("* online (2): guest1, guest2");
}
