//! Peers that hold on to the chat server without doing their share: one
//! that sends a byte now and then and never a newline (a slowloris), and
//! members that never read. Each is dropped, told why where it can still
//! hear, while two well-behaved clients talk and read every line in order.

use std::collections::HashSet;
use std::io::Write;
use std::thread;
use std::time::Duration;

use chat::{Chat, Settings};
use evloop::{CloseReason, Config};
use evloop_tests::chat::{room, ChatClient as Client, Conversation};
use evloop_tests::{connect_with_small_receive_buffer, test_config, Server};

fn start(settings: Settings, config: Config) -> Server<Chat> {
    Server::start(settings.loop_config(config), Chat::new(settings))
}

/// The pause between two lines a person types: pacing, not a wait for a
/// result.
const TYPING: Duration = Duration::from_millis(100);

#[test]
fn a_slowloris_is_cut_off_and_told_why_while_others_talk() {
    let settings = Settings { line_timeout: Some(Duration::from_millis(300)), ..Settings::default() };
    let server = start(settings, test_config());
    let [alice, bob, mut loris] = room(server.addr);
    let mut writer = loris.writer.try_clone().unwrap();
    // A byte every 20 ms, never a newline: the pacing is the attack, not a
    // wait for a result. Stops when the server hangs up.
    let dripping = thread::spawn(move || {
        for _ in 0..1000 {
            if writer.write_all(b"z").is_err() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let mut talk = Conversation::new(alice, bob);
    let mut heard_leave = [false; 2];
    while !(heard_leave[0] && heard_leave[1]) {
        assert!(talk.rounds() < 200, "the slowloris was never cut off");
        talk.round(|reader, line| {
            assert_eq!(line, "* guest3 left (line timeout)", "reader {reader} got a line nobody said");
            assert!(!heard_leave[reader], "reader {reader} heard the slowloris leave twice");
            heard_leave[reader] = true;
        });
        thread::sleep(TYPING);
    }
    loris.expect_past("ERR line not finished within 0.3s; closing", |line| {
        assert!(line.starts_with("guest1: round ") || line.starts_with("guest2: round "), "loris got {line:?}");
    });
    loris.expect_closed();
    assert!(dripping.join().unwrap(), "the server never hung up on the slowloris");
}

#[test]
fn members_that_never_read_are_each_dropped_while_readers_get_every_line_in_order() {
    const SILENT: usize = 10;
    const BATCH: usize = 16;
    let config =
        Config { max_output_bytes: 64 * 1024, high_watermark: 16 * 1024, low_watermark: 8 * 1024, ..test_config() };
    // The talker writes as fast as the readers read: a flood, which is not
    // what this test is about.
    let settings = Settings { flood: None, ..Settings::default() };
    let server = start(settings, config);
    let [mut talker, mut alice, mut bob] = room(server.addr);
    let mut silent = Vec::new();
    for k in 0..SILENT {
        // A small receive window, so the kernel holds little for them.
        silent.push(Client::over(connect_with_small_receive_buffer(server.addr)));
        let joined = format!("* guest{} joined", 4 + k);
        for reader in [&mut talker, &mut alice, &mut bob] {
            reader.expect(&joined);
        }
    }
    let leaves: Vec<String> = (0..SILENT).map(|k| format!("* guest{} left (too slow to read)", 4 + k)).collect();
    // Who passes the output limit first is up to the kernel's buffers: the
    // leaves come in any order, each once.
    let mut left = [HashSet::new(), HashSet::new()];
    let mut next_line = 0usize;
    // Bounded: 4,096 batches of 16 KB is far more than every buffer between
    // the server and the silent members together.
    for batch in 0.. {
        if left.iter().all(|left| left.len() == SILENT) {
            break;
        }
        assert!(batch < 4096, "the members that never read were never all dropped");
        let lines: Vec<String> =
            (next_line..next_line + BATCH).map(|n| format!("{n:06} {}", "c".repeat(993))).collect();
        next_line += BATCH;
        talker.writer.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
        for (reader, left) in [&mut alice, &mut bob].into_iter().zip(&mut left) {
            let nick = reader.nick.clone();
            for line in &lines {
                reader.expect_past(&format!("guest1: {line}"), |notice| {
                    assert!(leaves.iter().any(|leave| leave == notice), "{nick} got {notice:?}");
                    assert!(left.insert(notice.to_string()), "{nick} heard {notice:?} twice");
                });
            }
        }
    }
    let mut talker_heard = HashSet::new();
    for _ in 0..SILENT {
        let notice = talker.line();
        assert!(leaves.contains(&notice), "the talker got {notice:?}");
        assert!(talker_heard.insert(notice), "the talker heard a leave twice");
    }
    talker.send("still here");
    alice.expect("guest1: still here");
    bob.expect("guest1: still here");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::OutputLimit), SILENT as u64, "exactly the silent members were dropped");
}
