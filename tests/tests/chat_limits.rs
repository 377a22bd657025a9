//! The chat server under abuse: overlong lines, bytes that are not
//! UTF-8, a client that never reads, one that never finishes a line, one
//! that says nothing. Each is answered or dropped; everyone else goes on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use chat::{Chat, Settings};
use evloop::{CloseReason, Config};
use evloop_tests::chat::{room, ChatClient as Client};
use evloop_tests::{test_config, wait_until, Server, TIMEOUT};
use socket2::{Domain, Socket, Type};

fn start(settings: Settings, config: Config) -> Server<Chat> {
    Server::start(settings.loop_config(config), Chat::new(settings))
}

#[test]
fn an_overlong_line_gets_err_and_the_client_stays() {
    let settings = Settings { max_line_bytes: 64, ..Settings::default() };
    let server = start(settings, test_config());
    let [mut alice, mut bob] = room(server.addr);
    alice.writer.write_all(&[b'x'; 65]).unwrap();
    alice.writer.write_all(&[b'y'; 1000]).unwrap();
    alice.writer.write_all(b"\nfits\n").unwrap();
    alice.expect("ERR line too long (max 64 bytes)");
    bob.expect("guest1: fits");
    alice.send(&"z".repeat(64));
    bob.expect(&format!("guest1: {}", "z".repeat(64)));
}

#[test]
fn a_line_far_past_max_input_bytes_is_dropped_without_closing() {
    let settings = Settings { max_line_bytes: 1024, ..Settings::default() };
    let config = Config { max_input_bytes: 4096, ..test_config() };
    let server = start(settings, config);
    let [mut alice, mut bob] = room(server.addr);
    let mut writer = alice.writer.try_clone().unwrap();
    // 4 MiB with no newline: a thousand times what the loop may buffer.
    let flood = thread::spawn(move || {
        let chunk = vec![b'f'; 64 * 1024];
        for _ in 0..64 {
            writer.write_all(&chunk).expect("the server stopped reading the flood");
        }
        writer.write_all(b"\nafter the flood\n").unwrap();
    });
    alice.expect("ERR line too long (max 1024 bytes)");
    bob.expect("guest1: after the flood");
    flood.join().unwrap();
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::InputLimit), 0, "the overlong line closed a connection");
}

#[test]
fn invalid_utf8_gets_err_and_the_client_stays() {
    let server = start(Settings::default(), test_config());
    let [mut alice, mut bob] = room(server.addr);
    alice.writer.write_all(b"caf\xe9 latin-1\r\n\xff\xfe\xfd\nvalid caf\xc3\xa9\n").unwrap();
    alice.expect("ERR line is not valid UTF-8");
    alice.expect("ERR line is not valid UTF-8");
    bob.expect("guest1: valid café");
}

#[test]
fn a_client_that_never_reads_is_evicted_while_the_others_go_on() {
    const LINE_BYTES: usize = 1000;
    // Small enough to sit in the kernel's buffers while the listener is
    // not reading, so only the client that never reads passes the limit.
    const BATCH: usize = 16;
    let config =
        Config { max_output_bytes: 64 * 1024, high_watermark: 16 * 1024, low_watermark: 8 * 1024, ..test_config() };
    // The talker writes as fast as the listener reads: a flood, which is
    // not what this test is about.
    let settings = Settings { flood: None, ..Settings::default() };
    let server = start(settings, config);
    let [mut talker, mut listener] = room(server.addr);
    // A small receive window, so the kernel holds little for it.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut sluggard = Client::over(stream);
    talker.expect("* guest3 joined");
    listener.expect("* guest3 joined");

    let eviction = "* guest3 left (too slow to read)";
    let text = "c".repeat(LINE_BYTES);
    let batch = format!("{text}\n").repeat(BATCH);
    let mut evicted = false;
    let mut batches = 0;
    // Bounded: 64 MiB is far more than every buffer between us and the
    // server together.
    while !evicted {
        assert!(batches < 4096, "the client that never reads was never evicted");
        talker.writer.write_all(batch.as_bytes()).unwrap();
        batches += 1;
        let mut heard = 0;
        while heard < BATCH {
            let line = listener.line();
            if line == eviction {
                evicted = true;
            } else {
                assert_eq!(line, format!("guest1: {text}"), "the listener missed or garbled a line");
                heard += 1;
            }
        }
    }
    talker.expect(eviction);
    talker.send("still chatting");
    listener.expect("guest1: still chatting");

    // The sluggard gets what the kernel held for it, then the end.
    let mut drained = 0u64;
    let mut buf = vec![0; 64 * 1024];
    loop {
        match sluggard.reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n as u64,
        }
        assert!(drained < 64 * 1024 * 1024, "the evicted client is still being fed");
    }
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::OutputLimit), 1);
}

#[test]
fn a_line_that_never_ends_is_cut_off_after_the_line_timeout() {
    let line_timeout = Duration::from_millis(300);
    let settings = Settings { line_timeout: Some(line_timeout), ..Settings::default() };
    let server = start(settings, test_config());
    let [mut slowloris, mut bob] = room(server.addr);
    let mut writer = slowloris.writer.try_clone().unwrap();
    let started = Instant::now();
    // One byte every 50 ms, never a newline: the pacing is the attack,
    // not a wait for a result. Stops when the server hangs up.
    let dripping = thread::spawn(move || {
        for _ in 0..400 {
            if writer.write_all(b"z").is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!("the server never cut off the line");
    });
    slowloris.expect("ERR line not finished within 0.3s; closing");
    slowloris.expect_closed();
    assert!(started.elapsed() >= line_timeout, "cut off before the line timeout");
    bob.expect("* guest1 left (line timeout)");
    dripping.join().unwrap();
}

#[test]
fn lines_slower_than_the_timer_but_each_within_the_timeout_are_fine() {
    // Generous margins: a stalled test thread must not look like a slow line.
    let line_timeout = Duration::from_millis(1500);
    let settings = Settings { line_timeout: Some(line_timeout), ..Settings::default() };
    let server = start(settings, test_config());
    let [mut alice, mut bob] = room(server.addr);
    // Four lines, each taking 500 ms, back to back: the timer armed for
    // the first fires while a later one is under way and must let it be.
    for word in ["one", "two", "three", "four"] {
        alice.writer.write_all(word.as_bytes()).unwrap();
        thread::sleep(Duration::from_millis(500));
        alice.writer.write_all(b"\n").unwrap();
        bob.expect(&format!("guest1: {word}"));
    }
    alice.send("/who");
    alice.expect("* online (2): guest1, guest2");
}

#[test]
fn an_idle_client_is_told_and_dropped_after_the_idle_timeout() {
    // Long enough that the talker, chatting all along, never looks idle
    // even on a loaded machine.
    let idle_timeout = Duration::from_secs(1);
    // The talker asks `/who` as fast as the test polls: a flood, which is
    // not what this test is about.
    let settings = Settings { idle_timeout: Some(idle_timeout), flood: None, ..Settings::default() };
    let server = start(settings, test_config());
    let started = Instant::now();
    let [mut idler, mut talker] = room(server.addr);
    // The talker keeps its own connection alive while it waits to hear.
    let mut heard_leave = false;
    wait_until("the idle client is dropped", || {
        talker.send("/who");
        loop {
            let line = talker.line();
            if line == "* guest1 left (idle timeout)" {
                heard_leave = true;
            }
            if line.starts_with("* online") {
                return heard_leave;
            }
        }
    });
    idler.expect("* idle for 1 s, disconnecting");
    idler.expect_closed();
    assert!(started.elapsed() >= idle_timeout, "dropped before the idle timeout");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::App), 1, "the chat closed it, not the loop");
}
