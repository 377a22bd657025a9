//! A small chat room on evloop: the example to copy first.
//!
//! It shows framing with `LineDecoder`, per-connection state kept by the
//! loop, a broadcast, two commands (`/nick NAME`, `/who`) and a limit.
//! `examples/chat` is the same idea hardened: read it once this one is clear.
//!
//! ```text
//! cargo run --release -p line     # listens on 127.0.0.1:7880
//! nc 127.0.0.1 7880               # in two terminals: what one types, the other reads
//! cargo run --release -p line -- --unix /tmp/line.sock   # also on a Unix socket: nc -U /tmp/line.sock
//! cargo run --release -p line -- --tls-cert cert.pem --tls-key key.pem   # and TLS on 127.0.0.1:7881
//! ```

use std::collections::BTreeMap;
use std::io;

use evloop::codec::LineDecoder;
use evloop::{CloseReason, Config, ConnId, Ctx, EventLoop, Handler, Origin};

/// The limit: a longer line is answered with an error and dropped; the
/// client stays. The decoder never buffers more than this per connection.
const MAX_LINE_BYTES: usize = 512;

/// The handler: the loop calls it for every connection, on one thread, so
/// the room is plain data with no lock.
#[derive(Default)]
struct Room {
    nicks: BTreeMap<ConnId, String>,
    guests: u64,
}

impl Room {
    /// Sends `text` to every member but `from`. `send` queues the bytes; the
    /// loop writes each connection once at the end of the turn.
    fn broadcast(&self, cx: &mut Ctx, from: ConnId, text: &str) {
        for &id in self.nicks.keys().filter(|&&id| id != from) {
            cx.send(id, text.as_bytes());
        }
    }

    /// One complete line from `id`: a command, or something to say.
    fn on_line(&mut self, cx: &mut Ctx, id: ConnId, line: &str) {
        let nick = self.nicks[&id].clone();
        let reply = match line.split_once(' ').unwrap_or((line, "")) {
            ("/nick", new) if !valid_nick(new) => "ERR a nick is 1-16 letters or digits, not guestN".to_string(),
            ("/nick", new) if self.nicks.values().any(|taken| taken == new) => format!("ERR {new} is taken"),
            ("/nick", new) => {
                self.broadcast(cx, id, &format!("* {nick} is now {new}\n"));
                self.nicks.insert(id, new.to_string());
                format!("* you are now {new}")
            }
            ("/who", _) => format!("* online: {}", self.nicks.values().cloned().collect::<Vec<_>>().join(", ")),
            _ if line.starts_with('/') => "ERR commands are /nick NAME and /who".to_string(),
            _ => return self.broadcast(cx, id, &format!("{nick}: {line}\n")),
        };
        cx.send(id, format!("{reply}\n").as_bytes());
    }
}

/// 1-16 ASCII letters or digits, and not `guestN` (the names given at join).
fn valid_nick(nick: &str) -> bool {
    (1..=16).contains(&nick.len()) && !nick.starts_with("guest") && nick.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Handler for Room {
    /// What the loop keeps beside each connection: its framing state.
    type Conn = LineDecoder;
    /// Messages from other threads: none here.
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) -> LineDecoder {
        self.guests += 1;
        let nick = format!("guest{}", self.guests);
        cx.send(id, format!("* welcome {nick}! /nick NAME to rename, /who to list\n").as_bytes());
        self.broadcast(cx, id, &format!("* {nick} joined\n"));
        self.nicks.insert(id, nick);
        LineDecoder::with_max_line_bytes(MAX_LINE_BYTES)
    }

    /// Returns how many bytes it used: the unfinished line at the end stays
    /// with the loop and comes back, with what arrives next, in `data`.
    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, decoder: &mut LineDecoder, data: &[u8]) -> usize {
        let mut lines = decoder.decode(data);
        for line in &mut lines {
            match line {
                Ok(line) => self.on_line(cx, id, line),
                // Too long, or not UTF-8: say so; the connection goes on.
                Err(err) => {
                    cx.send(id, format!("ERR {err}\n").as_bytes());
                }
            }
        }
        lines.consumed()
    }

    /// Fires once for every connection `on_open` saw, whatever closed it: the
    /// peer, or a limit (one that stops reading: 30 s without progress, or 4 MiB queued).
    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, _decoder: LineDecoder, reason: CloseReason) {
        if let Some(nick) = self.nicks.remove(&id) {
            self.broadcast(cx, id, &format!("* {nick} left ({reason})\n"));
        }
    }
}

/// The value after `flag` on the command line, if given.
fn arg(flag: &str) -> Option<String> {
    std::env::args().skip_while(|arg| arg != flag).nth(1)
}

fn main() -> io::Result<()> {
    // `--listen ADDR` listens elsewhere (the tests pass 127.0.0.1:0).
    let addr = arg("--listen").unwrap_or("127.0.0.1:7880".into()).parse().map_err(io::Error::other)?;
    let mut el = EventLoop::new(Config::default(), Room::default())?;
    println!("listening on {}", el.listen(addr)?);
    // `--unix PATH`: the same room on a Unix-domain socket too.
    if let Some(path) = arg("--unix") {
        el.listen_unix(&path)?;
        println!("listening on unix:{path}");
    }
    // `--tls-cert FILE --tls-key FILE`: the same room over TLS (`--tls-listen ADDR`).
    if let (Some(cert), Some(key)) = (arg("--tls-cert"), arg("--tls-key")) {
        let tls = evloop::tls::server_config(evloop::tls::load_certs(cert)?, evloop::tls::load_private_key(key)?)?;
        let addr = arg("--tls-listen").unwrap_or("127.0.0.1:7881".into()).parse().map_err(io::Error::other)?;
        println!("listening on tls:{}", el.listen_tls(addr, tls)?);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    el.stop_on_signals()?; // Ctrl-C, SIGTERM: flush, close everyone, return
    el.run()
}
