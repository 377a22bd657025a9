//! The chat handler: a line protocol on evloop, the framework's first real
//! user.
//!
//! Kept apart from `main.rs` so the integration tests and the fan-out
//! measurement serve the very same handler the binary does.
//!
//! # Protocol
//!
//! Every line goes both ways as UTF-8 ending in `\n` (clients may send
//! `\r\n`). A line is said to everyone else as `nick: text`; lines starting
//! with `/` are commands ([`Command`]). Notices from the server start with
//! `* `, errors with `ERR `; an error never disconnects.
//!
//! # Broadcast
//!
//! The room is a map from [`ConnId`] to nick, kept in the handler; a
//! broadcast builds its line once and sends the same bytes to every peer
//! through [`Ctx::send`]. What one client says within one `on_data` (often
//! many lines, when it types fast or pastes) is collected and sent to each
//! peer as one write. Everyone hears a sender's lines exactly once and in
//! the order sent, private messages and nick changes included.

mod command;
mod options;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use evloop::codec::{LineDecoder, LineError, DEFAULT_MAX_LINE_BYTES};
use evloop::{AfterEof, CloseReason, Config, ConnId, Ctx, Handler, Origin, TimerId};

pub use command::{has_control_chars, is_valid_nick, Command, MAX_NICK_CHARS};
pub use options::{ServerOptions, DEFAULT_MAX_OUTPUT_BYTES};

/// What `/help` answers.
pub const HELP: &str = "* commands: /nick NAME, /who, /me ACTION, /msg NICK TEXT, /quit, /help; \
                        any other line is said to everyone (start it with // to say /...)";

/// The key of the connection timer that bounds how long a line may take.
const LINE_TIMER: u64 = 0;

/// The chat's own limits, beside the loop's [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The longest line a client may send, in bytes, not counting its
    /// ending. A longer one is answered with `ERR` and dropped.
    pub max_line_bytes: usize,
    /// How long a line may take from its first byte to its newline. The
    /// loop's idle timeout counts from the last input, so without this a
    /// client sending a byte every few seconds and never a newline (a
    /// slowloris) would hold its slot forever. `None` disables it.
    pub line_timeout: Option<Duration>,
}

impl Default for Settings {
    /// Lines up to 8 KiB, arriving within 30 seconds.
    fn default() -> Settings {
        Settings { max_line_bytes: DEFAULT_MAX_LINE_BYTES, line_timeout: Some(Duration::from_secs(30)) }
    }
}

impl Settings {
    /// `base` with room for a whole line of input: the loop must keep an
    /// unfinished line of `max_line_bytes` (and its `\r`) without closing
    /// the connection for [`CloseReason::InputLimit`].
    pub fn loop_config(&self, base: Config) -> Config {
        let needed = LineDecoder::with_max_line_bytes(self.max_line_bytes).max_buffered_bytes();
        Config { max_input_bytes: base.max_input_bytes.max(needed), ..base }
    }
}

/// The chat room: every client connected is in it.
#[derive(Debug)]
pub struct Chat {
    settings: Settings,
    /// Everyone in the room, by connection, with their nick.
    members: HashMap<ConnId, String>,
    /// Nicks in use, lowercased, so `Alice` and `alice` cannot both exist.
    nick_owners: HashMap<String, ConnId>,
    /// The number of the next default nick, `guestN`.
    next_guest: u64,
    /// What the client being served said, for everyone else: collected
    /// over one `on_data` and sent as one write per peer, not one per line.
    outbox: String,
}

/// What the chat keeps per connection.
#[derive(Debug)]
pub struct Client {
    decoder: LineDecoder,
    /// When the line now arriving began, if one has begun.
    line_started: Option<Instant>,
    /// The timer that checks on `line_started`, while one is armed.
    line_timer: Option<TimerId>,
    /// Why the server closed this client, to tell the others.
    leaving: Option<&'static str>,
}

/// Whether a client stays after a line.
#[derive(Debug, PartialEq, Eq)]
enum After {
    Stay,
    Quit,
}

impl Chat {
    /// An empty room.
    pub fn new(settings: Settings) -> Chat {
        Chat { settings, members: HashMap::new(), nick_owners: HashMap::new(), next_guest: 1, outbox: String::new() }
    }

    /// How many clients are in the room.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The first `guestN` nobody has taken.
    fn guest_nick(&mut self) -> String {
        loop {
            let nick = format!("guest{}", self.next_guest);
            self.next_guest += 1;
            if !self.nick_owners.contains_key(&nick) {
                return nick;
            }
        }
    }

    /// Sends `line` to everyone in the room but `except`: built once, the
    /// same bytes for every peer.
    fn broadcast(&self, cx: &mut Ctx, except: Option<ConnId>, line: &str) {
        for &peer in self.members.keys() {
            if Some(peer) != except {
                // A peer over its output limit is closed by `send`, and
                // its `on_close` tells the room; the rest go on.
                cx.send(peer, line.as_bytes());
            }
        }
    }

    /// Sends what `from` said to everyone else: the same bytes to each.
    fn flush_outbox(&mut self, cx: &mut Ctx, from: ConnId) {
        if !self.outbox.is_empty() {
            self.broadcast(cx, Some(from), &self.outbox);
            self.outbox.clear();
        }
    }

    /// Handles one complete line of text from `id`.
    /// Acts on one line from the decoder: a command, chat, or an `ERR`.
    fn on_decoded(
        &mut self,
        cx: &mut Ctx,
        id: ConnId,
        leaving: &mut Option<&'static str>,
        line: Result<&str, LineError<'_>>,
    ) {
        let after = match line {
            Ok(text) => self.on_line(cx, id, text),
            Err(LineError::TooLong { max_line_bytes }) => {
                reply(cx, id, &format!("ERR line too long (max {max_line_bytes} bytes)"));
                After::Stay
            }
            Err(LineError::InvalidUtf8 { .. }) => {
                reply(cx, id, "ERR line is not valid UTF-8");
                After::Stay
            }
        };
        if after == After::Quit {
            *leaving = Some("quit");
            cx.close(id);
        }
    }

    fn on_line(&mut self, cx: &mut Ctx, id: ConnId, text: &str) -> After {
        if has_control_chars(text) {
            reply(cx, id, "ERR control characters are not allowed");
            return After::Stay;
        }
        let Some(nick) = self.members.get(&id) else { return After::Stay };
        // Writing to a String cannot fail.
        match Command::parse(text) {
            Command::Say(said) => _ = writeln!(self.outbox, "{nick}: {said}"),
            Command::Me(action) => _ = writeln!(self.outbox, "* {nick} {action}"),
            // What reaches others another way goes after what they were
            // told so far.
            Command::Nick(new) => {
                self.flush_outbox(cx, id);
                self.rename(cx, id, new);
            }
            Command::Msg { to, text } => {
                self.flush_outbox(cx, id);
                self.private_message(cx, id, to, text);
            }
            Command::Who => {
                let mut nicks: Vec<&str> = self.members.values().map(String::as_str).collect();
                nicks.sort_unstable();
                reply(cx, id, &format!("* online ({}): {}", nicks.len(), nicks.join(", ")));
            }
            Command::Quit => {
                reply(cx, id, "* bye");
                return After::Quit;
            }
            Command::Help => reply(cx, id, HELP),
            Command::Nothing => {}
            Command::Usage(usage) => reply(cx, id, &format!("ERR usage: {usage}")),
            Command::Unknown(name) => reply(cx, id, &format!("ERR unknown command /{name}; /help lists commands")),
        }
        After::Stay
    }

    /// `/msg TO TEXT` from `id`: to one client only, confirmed to the sender.
    fn private_message(&self, cx: &mut Ctx, id: ConnId, to: &str, text: &str) {
        let Some(nick) = self.members.get(&id) else { return };
        let Some(&target) = self.nick_owners.get(&to.to_ascii_lowercase()) else {
            return reply(cx, id, &format!("ERR no one here is called {to}"));
        };
        cx.send(target, format!("{nick} (private): {text}\n").as_bytes());
        reply(cx, id, &format!("-> {}: {text}", self.members[&target]));
    }

    /// `/nick NEW` from `id`.
    fn rename(&mut self, cx: &mut Ctx, id: ConnId, new: &str) {
        if !is_valid_nick(new) {
            let rule = format!("1-{MAX_NICK_CHARS} letters, digits, _ or -, starting with a letter");
            return reply(cx, id, &format!("ERR bad nick {new}: {rule}"));
        }
        let key = new.to_ascii_lowercase();
        if self.nick_owners.get(&key).is_some_and(|&owner| owner != id) {
            return reply(cx, id, &format!("ERR nick {new} is taken"));
        }
        let Some(old) = self.members.insert(id, new.to_string()) else { return };
        if old == new {
            return reply(cx, id, &format!("* you are already {new}"));
        }
        self.nick_owners.remove(&old.to_ascii_lowercase());
        self.nick_owners.insert(key, id);
        self.broadcast(cx, None, &format!("* {old} is now {new}\n"));
    }

    /// After a batch of input: starts the clock on a line left unfinished,
    /// so it must end within [`Settings::line_timeout`].
    fn watch_unfinished_line(&self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        let Some(timeout) = self.settings.line_timeout else { return };
        if !client.decoder.is_mid_line() {
            client.line_started = None;
            return;
        }
        client.line_started.get_or_insert(cx.now());
        // One timer covers every line: when it fires it checks the line
        // then in progress and re-arms for its remainder.
        if client.line_timer.is_none() {
            client.line_timer = cx.set_conn_timer(id, timeout, LINE_TIMER);
        }
    }
}

/// Sends one line to `id` alone.
fn reply(cx: &mut Ctx, id: ConnId, text: &str) {
    cx.send(id, format!("{text}\n").as_bytes());
}

impl Handler for Chat {
    type Conn = Client;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) -> Client {
        let nick = self.guest_nick();
        let online = self.members.len() + 1;
        reply(cx, id, &format!("* welcome {nick}! {online} online; /help lists commands"));
        self.broadcast(cx, None, &format!("* {nick} joined\n"));
        self.nick_owners.insert(nick.clone(), id);
        self.members.insert(id, nick);
        Client {
            decoder: LineDecoder::with_max_line_bytes(self.settings.max_line_bytes),
            line_started: None,
            line_timer: None,
            leaving: None,
        }
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client, data: &[u8]) -> usize {
        let mut lines = client.decoder.decode(data);
        let mut consumed = None;
        for line in &mut lines {
            self.on_decoded(cx, id, &mut client.leaving, line);
            if !cx.is_open(id) {
                // Quit, or over its output limit: the rest is moot.
                consumed = Some(data.len());
                break;
            }
        }
        let consumed = consumed.unwrap_or_else(|| lines.consumed());
        self.flush_outbox(cx, id);
        if cx.is_open(id) {
            self.watch_unfinished_line(cx, id, client);
        }
        consumed
    }

    fn on_eof(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client, unconsumed: &[u8]) -> AfterEof {
        // `printf 'hi' | nc ...`: a last line without its newline still counts.
        if let Some(line) = client.decoder.decode_last(unconsumed) {
            self.on_decoded(cx, id, &mut client.leaving, line);
            self.flush_outbox(cx, id);
        }
        AfterEof::Close
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client, _timer: TimerId, _key: u64) {
        client.line_timer = None;
        let (Some(timeout), Some(started)) = (self.settings.line_timeout, client.line_started) else { return };
        let waited = cx.now().saturating_duration_since(started);
        if waited >= timeout {
            reply(cx, id, &format!("ERR line not finished within {}s; closing", timeout.as_secs_f64()));
            client.leaving = Some("line timeout");
            cx.close(id);
        } else {
            client.line_timer = cx.set_conn_timer(id, timeout - waited, LINE_TIMER);
        }
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, client: Client, reason: CloseReason) {
        let Some(nick) = self.members.remove(&id) else { return };
        self.nick_owners.remove(&nick.to_ascii_lowercase());
        let why = match (client.leaving, reason) {
            // on_stop told everyone already.
            (_, CloseReason::Shutdown) => return,
            (Some(why), _) => why.to_string(),
            (None, CloseReason::PeerClosed) => String::new(),
            (None, CloseReason::OutputLimit) => "too slow to read".to_string(),
            (None, reason) => reason.to_string(),
        };
        let line = if why.is_empty() { format!("* {nick} left\n") } else { format!("* {nick} left ({why})\n") };
        self.broadcast(cx, None, &line);
    }

    fn on_stop(&mut self, cx: &mut Ctx) {
        self.broadcast(cx, None, "* server shutting down\n");
    }
}
