//! A chat client for tests of the chat server (examples/chat).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};

use crate::connect;

/// A chat client for tests: writes lines, reads lines, every read bounded
/// by the stream's timeout.
#[derive(Debug)]
pub struct ChatClient {
    /// The nick the server gave it in the welcome.
    pub nick: String,
    /// Reads the server's lines.
    pub reader: BufReader<TcpStream>,
    /// Writes to the server, raw.
    pub writer: TcpStream,
}

impl ChatClient {
    /// Joins over `stream` and reads the welcome, learning the nick.
    #[track_caller]
    pub fn over(stream: TcpStream) -> ChatClient {
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut client = ChatClient { nick: String::new(), reader, writer: stream };
        let welcome = client.line();
        let nick = welcome.strip_prefix("* welcome ").and_then(|rest| rest.split_once('!')).map(|(nick, _)| nick);
        client.nick = nick.unwrap_or_else(|| panic!("expected a welcome, got {welcome:?}")).to_string();
        client
    }

    /// Connects to `addr` and joins.
    #[track_caller]
    pub fn join(addr: SocketAddr) -> ChatClient {
        ChatClient::over(connect(addr))
    }

    /// Sends `line` with an LF.
    #[track_caller]
    pub fn send(&mut self, line: &str) {
        self.writer.write_all(format!("{line}\n").as_bytes()).expect("send a line");
    }

    /// The next line, without its `\n`; fails on end of file or timeout,
    /// and on a carriage return (the server sends bare LFs).
    #[track_caller]
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read a line from the server");
        assert!(n > 0, "the server closed the connection of {}", self.nick);
        let line = line.strip_suffix('\n').unwrap_or_else(|| panic!("unterminated line {line:?}"));
        assert!(!line.contains('\r'), "the server sent a carriage return: {line:?}");
        line.to_string()
    }

    /// Asserts the next line is `wanted`.
    #[track_caller]
    pub fn expect(&mut self, wanted: &str) {
        let line = self.line();
        assert_eq!(line, wanted, "{} expected another line", self.nick);
    }

    /// Reads lines until every line of every stream in `streams` has come,
    /// byte for byte, each stream's lines in their order, interleaved in
    /// any way: what several senders say at once. Any other line fails.
    #[track_caller]
    pub fn expect_interleaved(&mut self, streams: &[&[String]]) {
        let mut next = vec![0; streams.len()];
        let total: usize = streams.iter().map(|s| s.len()).sum();
        for _ in 0..total {
            let line = self.line();
            let from = (0..streams.len()).find(|&s| streams[s].get(next[s]) == Some(&line));
            let Some(from) = from else {
                let expected: Vec<_> = (0..streams.len()).filter_map(|s| streams[s].get(next[s])).collect();
                panic!("{} got {line:?}, expected one of {expected:?}", self.nick);
            };
            next[from] += 1;
        }
    }

    /// Reads lines until one is `wanted`, handing every other line to
    /// `aside`, which checks it (and fails the test if it is wrong).
    #[track_caller]
    pub fn expect_past(&mut self, wanted: &str, mut aside: impl FnMut(&str)) {
        loop {
            let line = self.line();
            if line == wanted {
                return;
            }
            aside(&line);
        }
    }

    /// Reads until it has heard `lines` numbered lines (`NICK says N`) from
    /// each of `others` other members, skipping notices, and fails unless
    /// each sender's lines came exactly once and in order.
    #[track_caller]
    pub fn hear_each_once_in_order(&mut self, others: usize, lines: usize) {
        let mut next_from: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut received = 0;
        while received < others * lines {
            let line = self.line();
            if line.starts_with("* ") {
                continue; // joins and leaves
            }
            let (sender, text) = line.split_once(": ").unwrap_or_else(|| panic!("not chat: {line:?}"));
            assert_ne!(sender, self.nick, "{} got its own line back", self.nick);
            let next = next_from.entry(sender.to_string()).or_insert(0);
            assert_eq!(
                text,
                format!("{sender} says {next}"),
                "{} got {sender}'s lines out of order, or twice",
                self.nick
            );
            *next += 1;
            received += 1;
        }
        assert_eq!(next_from.len(), others, "{} did not hear from everyone", self.nick);
        assert!(next_from.values().all(|&n| n == lines), "{} missed lines", self.nick);
    }

    /// Asserts the server closes the connection next: end of file, or a
    /// reset if bytes we sent were still unread in the server's socket when
    /// it closed (that is what `close(2)` does with them).
    #[track_caller]
    pub fn expect_closed(&mut self) {
        let mut rest = String::new();
        match self.reader.read_line(&mut rest) {
            Ok(n) => assert_eq!(n, 0, "expected the connection closed, got {rest:?}"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "expected the connection closed"),
        }
    }
}

/// Two well-behaved clients taking turns saying a numbered line, each
/// reading the other's byte for byte: the side of a test that must go on
/// undisturbed while a hostile peer does its worst.
#[derive(Debug)]
pub struct Conversation {
    /// The two, in the order they speak.
    pub clients: [ChatClient; 2],
    rounds: usize,
}

impl Conversation {
    /// `first` and `second` will take turns, `first` first.
    pub fn new(first: ChatClient, second: ChatClient) -> Conversation {
        Conversation { clients: [first, second], rounds: 0 }
    }

    /// Rounds so far.
    pub fn rounds(&self) -> usize {
        self.rounds
    }

    /// One round: one client says `round N`, and the other reads until it
    /// has exactly `NICK: round N`, handing every line before it to `aside`
    /// with its own index (0 or 1), to check.
    #[track_caller]
    pub fn round(&mut self, mut aside: impl FnMut(usize, &str)) {
        let speaker = self.rounds % 2;
        let listener = 1 - speaker;
        let said = format!("round {}", self.rounds);
        self.clients[speaker].send(&said);
        let wanted = format!("{}: {said}", self.clients[speaker].nick);
        self.clients[listener].expect_past(&wanted, |line| aside(listener, line));
        self.rounds += 1;
    }
}

/// Joins `N` clients to a fresh chat server, one after another, each
/// earlier client reading the join notice of every later one; each
/// client's next line is then whatever the test makes happen. A fresh room
/// numbers its guests from 1, so client `k` (from 1) is `guest{k}`.
#[track_caller]
pub fn room<const N: usize>(addr: SocketAddr) -> [ChatClient; N] {
    let mut clients: Vec<ChatClient> = Vec::with_capacity(N);
    for k in 1..=N {
        let newcomer = ChatClient::join(addr);
        assert_eq!(newcomer.nick, format!("guest{k}"), "a fresh room numbers its guests from 1");
        for earlier in &mut clients {
            earlier.expect(&format!("* guest{k} joined"));
        }
        clients.push(newcomer);
    }
    clients.try_into().expect("N clients joined")
}

/// `clients` members join the room at `addr`, each on its own thread; once
/// all are in, each says `lines` numbered lines (`NICK says N`), one write a
/// line, ending them as `ending(i)` says for member `i`, and checks it hears
/// every other member's lines once and in order. Fails if any member does.
pub fn everyone_talks(addr: SocketAddr, clients: usize, lines: usize, ending: fn(usize) -> &'static str) {
    let all_joined = std::sync::Arc::new(std::sync::Barrier::new(clients));
    let members: Vec<_> = (0..clients)
        .map(|i| {
            let all_joined = std::sync::Arc::clone(&all_joined);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let mut me = ChatClient::join(addr);
                    // Every welcome read means every member is in the room.
                    all_joined.wait();
                    for n in 0..lines {
                        me.writer
                            .write_all(format!("{} says {n}{}", me.nick, ending(i)).as_bytes())
                            .expect("send a line");
                    }
                    me.hear_each_once_in_order(clients - 1, lines);
                })
                .expect("spawn a member thread")
        })
        .collect();
    for member in members {
        member.join().expect("a member failed");
    }
}
