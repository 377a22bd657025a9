//! The chat server under bursts that cost every member something: many
//! connects at once, many renames in one write. Each member hears every
//! notice exactly once and in order, while others talk.

use std::io::Write;

use std::thread;

use chat::{Chat, Settings};
use evloop::{CloseReason, Config};
use evloop_tests::chat::{room, ChatClient as Client};
use evloop_tests::{connect, test_config, Server};

fn start(settings: Settings) -> Server<Chat> {
    Server::start(settings.loop_config(test_config()), Chat::new(settings))
}

/// `first..=last` as `* guestN joined` lines.
fn joins(first: usize, last: usize) -> Vec<String> {
    (first..=last).map(|n| format!("* guest{n} joined")).collect()
}

#[test]
fn a_burst_of_connects_is_announced_once_in_order_to_each_member_present() {
    const BURST: usize = 300;
    // The room's output in passes of a few members a turn, so the joins
    // come while passes are under way.
    let server = start(Settings { members_per_turn: 7, ..Settings::default() });
    let [mut alice, mut bob, mut carol] = room(server.addr);
    // All at once, and then idle: they read nothing until the end.
    let newcomers: Vec<_> = (0..BURST).map(|_| connect(server.addr)).collect();
    let said: Vec<String> = (0..20).map(|n| format!("line {n} while the room fills")).collect();
    for line in &said {
        alice.send(line);
    }
    let heard: Vec<String> = said.iter().map(|line| format!("guest1: {line}")).collect();
    let joined = joins(4, 3 + BURST);
    bob.expect_interleaved(&[&joined, &heard]);
    carol.expect_interleaved(&[&joined, &heard]);
    alice.expect_interleaved(&[&joined]);

    // Each newcomer heard the joins after its own, not those before. They
    // stay connected until the end, so nobody hears a leave.
    let mut checked = Vec::with_capacity(BURST);
    for (k, stream) in newcomers.into_iter().enumerate() {
        let number = 4 + k;
        let mut newcomer = Client::over(stream);
        assert_eq!(newcomer.nick, format!("guest{number}"), "guests are numbered in the order they connected");
        let later_joins = joins(number + 1, 3 + BURST);
        newcomer.send("/who");
        let who_prefix = format!("* online ({}): ", 3 + BURST);
        let mut joins_heard = 0;
        loop {
            let line = newcomer.line();
            if line.starts_with(&who_prefix) {
                break;
            }
            if line.starts_with("guest1: ") {
                assert!(heard.contains(&line), "{} got a line alice never said: {line:?}", newcomer.nick);
                continue;
            }
            assert_eq!(
                Some(&line),
                later_joins.get(joins_heard),
                "{} heard the joins out of order or twice",
                newcomer.nick
            );
            joins_heard += 1;
        }
        assert_eq!(joins_heard, later_joins.len(), "{} missed a join", newcomer.nick);
        checked.push(newcomer);
    }
    let (_, stats) = server.stop();
    assert_eq!(stats.accepted, 3 + BURST as u64, "every connect was accepted");
}

#[test]
fn a_burst_of_renames_in_one_write_reaches_everyone_in_order() {
    // Far past the lines handled per turn: the rest of the write waits for
    // later turns, and must come out whole and in order.
    const RENAMES: usize = 2000;
    // No flood control: the renames come as fast as the server takes them.
    let settings = Settings { flood: None, members_per_turn: 2, ..Settings::default() };
    assert!(RENAMES > 4 * settings.max_lines_per_turn, "the burst spans several turns");
    let server = start(settings);
    let [mut renamer, mut bob, mut carol] = room(server.addr);
    let burst: String = (0..RENAMES).map(|n| format!("/nick x{n}\n")).collect();
    renamer.writer.write_all(burst.as_bytes()).unwrap();
    let said: Vec<String> = (0..20).map(|n| format!("line {n} during the renames")).collect();
    for line in &said {
        carol.send(line);
    }
    let renames: Vec<String> = (0..RENAMES)
        .map(|n| if n == 0 { "* guest1 is now x0".to_string() } else { format!("* x{} is now x{n}", n - 1) })
        .collect();
    let heard: Vec<String> = said.iter().map(|line| format!("guest3: {line}")).collect();
    bob.expect_interleaved(&[&renames, &heard]);
    renamer.expect_interleaved(&[&renames, &heard]);
    carol.expect_interleaved(&[&renames]);
    bob.send("/who");
    bob.expect(&format!("* online (3): guest2, guest3, x{}", RENAMES - 1));
}

#[test]
fn lines_sent_before_end_of_file_are_all_handled_past_one_turns_share() {
    let settings = Settings { flood: None, ..Settings::default() };
    let lines = 3 * settings.max_lines_per_turn;
    let server = start(settings);
    let [mut alice, mut bob] = room(server.addr);
    let paste: String = (0..lines).map(|n| format!("pasted {n}\n")).collect();
    alice.writer.write_all(paste.as_bytes()).unwrap();
    alice.writer.shutdown(std::net::Shutdown::Write).unwrap();
    for n in 0..lines {
        bob.expect(&format!("guest1: pasted {n}"));
    }
    bob.expect("* guest1 left");
}

#[test]
fn a_room_bigger_than_members_per_turn_hears_every_line_once_and_in_order() {
    const MEMBERS: usize = 30;
    const TALKERS: usize = 5;
    const LINES: usize = 20;
    let server = start(Settings { members_per_turn: 4, ..Settings::default() });
    let mut members: Vec<Client> = Vec::new();
    for k in 1..=MEMBERS {
        let newcomer = Client::join(server.addr);
        for earlier in &mut members {
            earlier.expect(&format!("* guest{k} joined"));
        }
        members.push(newcomer);
    }
    // The talkers write their lines in one go each, so passes overlap.
    let said: Vec<Vec<String>> =
        (0..TALKERS).map(|t| (0..LINES).map(|n| format!("guest{}: line {n}", t + 1)).collect()).collect();
    for (t, talker) in members.iter_mut().take(TALKERS).enumerate() {
        let lines: String = (0..LINES).map(|n| format!("line {n}\n")).collect();
        talker.writer.write_all(lines.as_bytes()).unwrap();
        assert_eq!(talker.nick, format!("guest{}", t + 1));
    }
    for (k, member) in members.iter_mut().enumerate() {
        let others: Vec<&[String]> =
            said.iter().enumerate().filter(|&(t, _)| t != k).map(|(_, lines)| lines.as_slice()).collect();
        member.expect_interleaved(&others);
        member.send("/who");
        let who = member.line();
        assert!(who.starts_with(&format!("* online ({MEMBERS}): ")), "{} heard more: {who:?}", member.nick);
    }
}

#[test]
fn a_client_writing_faster_than_its_share_is_slowed_not_closed() {
    // Eight times what the loop may keep unconsumed for one client: the
    // server must stop reading while it works through its share.
    const LINES: usize = 50_000;
    let settings = Settings { flood: None, ..Settings::default() };
    let config = Config { max_input_bytes: 64 * 1024, ..test_config() };
    let server = Server::start(settings.loop_config(config), Chat::new(settings));
    let [mut alice, mut bob] = room(server.addr);
    let mut writer = alice.writer.try_clone().unwrap();
    let writing = thread::spawn(move || {
        let all: String = (0..LINES).map(|n| format!("l{n:07}\n")).collect();
        writer.write_all(all.as_bytes()).expect("the server closed the fast writer");
    });
    for n in 0..LINES {
        bob.expect(&format!("guest1: l{n:07}"));
    }
    writing.join().unwrap();
    alice.send("/who");
    alice.expect("* online (2): guest1, guest2");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::InputLimit), 0, "the fast writer piled up input");
}
