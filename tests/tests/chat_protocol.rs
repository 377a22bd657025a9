//! The chat server's protocol over loopback: who hears what, nicks,
//! commands, and many clients at once.

use std::io::Write;

use chat::{Chat, Settings, HELP};
use evloop_tests::chat::{everyone_talks, room, ChatClient as Client};
use evloop_tests::{test_config, Server};

fn start() -> Server<Chat> {
    let settings = Settings::default();
    Server::start(settings.loop_config(test_config()), Chat::new(settings))
}

#[test]
fn two_hundred_clients_get_every_other_clients_lines_once_and_in_order() {
    const CLIENTS: usize = 200;
    const LINES: usize = 20;
    let server = start();
    // Half end their lines with CRLF, as telnet does.
    everyone_talks(server.addr, CLIENTS, LINES, |i| if i % 2 == 0 { "\n" } else { "\r\n" });
    let (chat, _) = server.stop();
    assert!(chat.is_empty(), "{} clients still in the room after shutdown", chat.len());
}

#[test]
fn crlf_and_lf_clients_read_each_other_without_carriage_returns() {
    let server = start();
    let mut lf = Client::join(server.addr);
    let mut crlf = Client::join(server.addr);
    lf.expect(&format!("* {} joined", crlf.nick));
    crlf.writer.write_all(b"from telnet\r\n\r\n").unwrap();
    lf.send("from nc");
    lf.expect(&format!("{}: from telnet", crlf.nick));
    crlf.expect(&format!("{}: from nc", lf.nick));
}

#[test]
fn joins_get_a_welcome_and_a_unique_guest_nick_and_are_announced() {
    let server = start();
    let mut first = Client::join(server.addr);
    assert_eq!(first.nick, "guest1");
    let mut second = Client::join(server.addr);
    assert_eq!(second.nick, "guest2");
    first.expect("* guest2 joined");
    first.send("/nick guest3");
    first.expect("* guest1 is now guest3");
    second.expect("* guest1 is now guest3");
    let third = Client::join(server.addr);
    assert_eq!(third.nick, "guest4", "guest3 is taken, so the next default skips it");
    drop(third);
    first.expect("* guest4 joined");
    first.expect("* guest4 left");
}

#[test]
fn lines_go_to_everyone_else_as_nick_colon_text() {
    let server = start();
    let [mut alice, mut bob, mut carol] = room(server.addr);
    alice.send("hello, room");
    bob.expect("guest1: hello, room");
    carol.expect("guest1: hello, room");
    bob.send("//slash at the start");
    alice.expect("guest2: /slash at the start");
    alice.send("/me waves");
    bob.expect("* guest1 waves");
    carol.expect("guest2: /slash at the start");
    carol.expect("* guest1 waves");
}

#[test]
fn a_nick_change_is_announced_to_everyone_and_names_the_sender() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.send("/nick Alice");
    alice.expect("* guest1 is now Alice");
    bob.expect("* guest1 is now Alice");
    alice.send("hi");
    bob.expect("Alice: hi");
    alice.send("/nick Alice");
    alice.expect("* you are already Alice");
}

#[test]
fn bad_and_taken_nicks_are_refused_and_the_client_stays() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.send("/nick alice");
    alice.expect("* guest1 is now alice");
    bob.expect("* guest1 is now alice");
    for bad in ["9lives", "far_too_long_a_nick", "white space", "ünïcode", "_under"] {
        bob.send(&format!("/nick {bad}"));
        let refusal = bob.line();
        assert!(refusal.starts_with("ERR bad nick"), "{bad:?} was not refused: {refusal:?}");
    }
    bob.send("/nick ALICE");
    bob.expect("ERR nick ALICE is taken");
    bob.send("/nick");
    bob.expect("ERR usage: /nick NAME");
    bob.send("still guest2");
    alice.expect("guest2: still guest2");
}

#[test]
fn msg_reaches_only_its_target_and_is_confirmed() {
    let server = start();
    let [mut alice, mut bob, mut carol] = room(server.addr);
    alice.send("/msg GUEST2 just between us");
    bob.expect("guest1 (private): just between us");
    alice.expect("-> guest2: just between us");
    alice.send("/msg nobody hello?");
    alice.expect("ERR no one here is called nobody");
    alice.send("/msg guest2");
    alice.expect("ERR usage: /msg NICK TEXT");
    alice.send("for everyone");
    // Carol's next line is the public one: the private line never came.
    carol.expect("guest1: for everyone");
    bob.expect("guest1: for everyone");
}

#[test]
fn a_private_message_stays_in_order_with_what_came_before() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.writer.write_all(b"one\n/msg guest2 two\nthree\n").unwrap();
    bob.expect("guest1: one");
    bob.expect("guest1 (private): two");
    bob.expect("guest1: three");
}

#[test]
fn renames_and_lines_in_one_write_arrive_in_the_order_they_happened() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.writer.write_all(b"/nick alice\nhi\n/nick ann\n/msg guest2 psst\nbye\n").unwrap();
    bob.expect("* guest1 is now alice");
    bob.expect("alice: hi");
    bob.expect("* alice is now ann");
    bob.expect("ann (private): psst");
    bob.expect("ann: bye");
    alice.expect("* guest1 is now alice");
    alice.expect("* alice is now ann");
    alice.expect("-> guest2: psst");
}

#[test]
fn who_help_and_unknown_commands_answer_the_asker_only() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    bob.send("/nick bob");
    bob.expect("* guest2 is now bob");
    alice.expect("* guest2 is now bob");
    alice.send("/who");
    alice.expect("* online (2): bob, guest1");
    alice.send("/help");
    alice.expect(HELP);
    alice.send("/dance now");
    alice.expect("ERR unknown command /dance; /help lists commands");
    alice.send("/me");
    alice.expect("ERR usage: /me ACTION");
    alice.send("still here");
    bob.expect("guest1: still here");
}

#[test]
fn control_characters_are_refused() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.send("\x1b[2Jcleared your screen");
    alice.expect("ERR control characters are not allowed");
    alice.send("tabs\tare fine");
    bob.expect("guest1: tabs\tare fine");
}

#[test]
fn invisible_and_text_direction_characters_are_refused_in_lines_and_commands() {
    // 69 lines as fast as the server answers them: over the default flood
    // rate, which is not what this test is about.
    let settings = Settings { flood: None, ..Settings::default() };
    let server = Server::start(settings.loop_config(test_config()), Chat::new(settings));
    let [mut alice, mut bob] = room(server.addr);
    let refused = [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        '\u{200E}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}',
    ];
    for c in refused {
        let error = format!("ERR invisible or text-direction character U+{:04X} is not allowed", c as u32);
        for line in [format!("evil{c}txt.exe"), format!("/me hides{c}"), format!("/msg guest2 a{c}b")] {
            alice.send(&line);
            alice.expect(&error);
        }
        alice.send(&format!("/nick ali{c}ce"));
        alice.expect(&error);
    }
    alice.send("right-to-left script is fine: שלום");
    // Bob's next line: nothing refused reached him.
    bob.expect("guest1: right-to-left script is fine: שלום");
    bob.send("/who");
    bob.expect("* online (2): guest1, guest2");
}

#[test]
fn quit_says_bye_closes_and_is_announced() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.writer.write_all(b"last words\n/quit\nnever said\n").unwrap();
    alice.expect("* bye");
    alice.expect_closed();
    bob.expect("guest1: last words");
    bob.expect("* guest1 left (quit)");
    bob.send("/who");
    bob.expect("* online (1): guest2");
}

#[test]
fn stopping_the_server_tells_every_client() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    let (chat, stats) = server.stop();
    alice.expect("* server shutting down");
    alice.expect_closed();
    bob.expect("* server shutting down");
    bob.expect_closed();
    assert!(chat.is_empty());
    assert_eq!(stats.closed(evloop::CloseReason::Shutdown), 2);
}

#[test]
fn a_last_line_without_its_newline_is_delivered_at_end_of_file() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    bob.writer.write_all(b"first\nlast, unterminated").unwrap();
    bob.writer.shutdown(std::net::Shutdown::Write).unwrap();
    alice.expect("guest2: first");
    alice.expect("guest2: last, unterminated");
    alice.expect("* guest2 left");
}
