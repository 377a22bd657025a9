//! A peer that sends the chat server garbage: binary noise, bytes that are
//! not UTF-8, NULs, a mebibyte without a newline, ten thousand lines in one
//! write. Each bad line gets its `ERR`, the sender stays connected, and two
//! well-behaved clients talking meanwhile read every line byte for byte.

use std::io::Write;
use std::thread;

use chat::{Chat, Settings};
use evloop_tests::chat::{room, Conversation};
use evloop_tests::{test_config, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A server without flood control: the garbage comes as fast as the
/// server reads it (flood control has tests of its own).
fn start() -> Server<Chat> {
    let settings = Settings { flood: None, ..Settings::default() };
    Server::start(settings.loop_config(test_config()), Chat::new(settings))
}

/// A conversation's reader must hear nothing from the garbage sender.
#[track_caller]
fn nothing_else(reader: usize, line: &str) {
    panic!("reader {reader} got {line:?}, which nobody well-behaved said");
}

#[test]
fn binary_noise_gets_an_err_per_line_and_everyone_goes_on() {
    let server = start();
    let [alice, bob, mut noisy] = room(server.addr);
    let mut talk = Conversation::new(alice, bob);
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for _ in 0..8 {
        // Random bytes, none a newline, each line with a byte no UTF-8 text
        // holds: every line is noise, whatever the draw.
        let lines = 40;
        let mut noise = Vec::new();
        for _ in 0..lines {
            let mut line: Vec<u8> = (0..rng.gen_range(0..2000)).map(|_| rng.gen()).filter(|&b| b != b'\n').collect();
            let at = rng.gen_range(0..=line.len());
            line.insert(at, 0xff);
            noise.extend_from_slice(&line);
            noise.push(b'\n');
        }
        noisy.writer.write_all(&noise).unwrap();
        talk.round(nothing_else);
        for _ in 0..lines {
            noisy.expect_past("ERR line is not valid UTF-8", |line| {
                assert!(line.starts_with("guest1: round ") || line.starts_with("guest2: round "), "noisy got {line:?}")
            });
        }
    }
    noisy.send("still here");
    talk.round(|reader, line| assert_eq!(line, "guest3: still here", "reader {reader}"));
}

#[test]
fn nuls_and_bytes_that_are_not_utf8_are_answered_line_by_line() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    let lines: [(&[u8], &str); 8] = [
        (b"\0", "ERR control characters are not allowed"),
        (b"hello\0world", "ERR control characters are not allowed"),
        (b"caf\xe9 in latin-1", "ERR line is not valid UTF-8"),
        (b"\xc3\x28 bad continuation", "ERR line is not valid UTF-8"),
        (b"\xed\xa0\x80 a surrogate", "ERR line is not valid UTF-8"),
        (b"\xf4\x90\x80\x80 past U+10FFFF", "ERR line is not valid UTF-8"),
        (b"\xc0\xaf overlong slash", "ERR line is not valid UTF-8"),
        ("\u{feff}a byte order mark".as_bytes(), "ERR invisible or text-direction character U+FEFF is not allowed"),
    ];
    let mut all = Vec::new();
    for (line, _) in &lines {
        all.extend_from_slice(line);
        all.push(b'\n');
    }
    all.extend_from_slice(b"valid after all that\n");
    alice.writer.write_all(&all).unwrap();
    for (_, err) in &lines {
        alice.expect(err);
    }
    bob.expect("guest1: valid after all that");
}

#[test]
fn a_mebibyte_without_a_newline_is_answered_and_everyone_goes_on() {
    let server = start();
    let [alice, bob, mut flooder] = room(server.addr);
    let mut writer = flooder.writer.try_clone().unwrap();
    let flood = thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..16 {
            writer.write_all(&chunk).expect("the server stopped reading the overlong line");
        }
        writer.write_all(b"\nafter a mebibyte\n").unwrap();
    });
    let mut talk = Conversation::new(alice, bob);
    let mut heard = [false; 2];
    while !(heard[0] && heard[1]) {
        assert!(talk.rounds() < 10_000, "the line after the mebibyte never came");
        talk.round(|reader, line| {
            assert_eq!(line, "guest3: after a mebibyte", "reader {reader} got a line nobody said");
            heard[reader] = true;
        });
    }
    flood.join().unwrap();
    flooder.expect_past("ERR line too long (max 8192 bytes)", |line| {
        assert!(line.starts_with("guest1: round ") || line.starts_with("guest2: round "), "flooder got {line:?}");
    });
}

#[test]
fn ten_thousand_lines_in_one_write_are_each_answered_in_order_while_others_talk() {
    const LINES: usize = 10_000;
    let server = start();
    let [alice, bob, mut garbler] = room(server.addr);
    let burst: String = (0..LINES).map(|n| format!("/bogus{n}\n")).collect();
    let mut writer = garbler.writer.try_clone().unwrap();
    let writing = thread::spawn(move || writer.write_all(burst.as_bytes()).unwrap());
    // The garbler reads its answers as they come, on a thread of its own:
    // 10,000 of them are more than its output limit.
    let answers = thread::spawn(move || {
        for n in 0..LINES {
            garbler.expect_past(&format!("ERR unknown command /bogus{n}; /help lists commands"), |line| {
                assert!(line.starts_with("guest1: round ") || line.starts_with("guest2: round "), "got {line:?}")
            });
        }
        garbler
    });
    let mut talk = Conversation::new(alice, bob);
    for _ in 0..20 {
        talk.round(nothing_else);
    }
    writing.join().unwrap();
    let mut garbler = answers.join().expect("the garbler missed an answer");
    garbler.send("/who");
    garbler.expect_past("* online (3): guest1, guest2, guest3", |_| {});
}
