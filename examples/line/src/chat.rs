//! The chat handler: each client's lines, decoded and acted on.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use evloop::codec::{LineDecoder, LineError};
use evloop::{AfterEof, CloseReason, ConnId, Ctx, Handler, Origin, Refusal, TimerId};
use log::{debug, info};

use crate::command::{has_control_chars, invisible_char, is_valid_nick, Command, MAX_NICK_CHARS};
use crate::intake::{has_line, Hold, Intake, Throttle};
use crate::room::{Room, Taken, FLUSH_TIMER};
use crate::Settings;

/// What `/help` answers.
pub const HELP: &str = "* commands: /nick NAME, /who, /me ACTION, /msg NICK TEXT, /quit, /help; \
                        any other line is said to everyone (start it with // to say /...)";

/// What a client turned away at `--max-connections` reads before the close.
pub const SERVER_FULL: &str = "* server full, try again later\n";

/// What a client turned away at `--max-connections-per-ip` reads before the
/// close.
pub const TOO_MANY_FROM_YOU: &str = "* too many connections from your address\n";

/// The key of the connection timer that bounds how long a line may take.
const LINE_TIMER: u64 = 0;
/// The key of the connection timer that resumes reading a client held
/// back by flood control.
const FLOOD_TIMER: u64 = 1;
/// The key of the connection timer that checks a client is not idle.
const IDLE_TIMER: u64 = 2;

/// The chat room: every client connected is in it.
#[derive(Debug)]
pub struct Chat {
    settings: Settings,
    room: Room,
}

/// What the chat keeps per connection.
#[derive(Debug)]
pub struct Client {
    /// Its address, for the log.
    peer: Peer,
    decoder: LineDecoder,
    /// How many of its lines the server takes now.
    intake: Intake,
    /// When it last sent anything: a stamp, checked when the idle timer
    /// fires, so input costs no timer work.
    last_input: Instant,
    /// When the line now arriving began, if one has begun.
    line_started: Option<Instant>,
    /// The timer that checks on `line_started`, while one is armed.
    line_timer: Option<TimerId>,
    /// The timer that resumes reading after flood control held it back.
    flood_timer: Option<TimerId>,
    /// Why the server closed this client, to tell the others.
    leaving: Option<&'static str>,
}

/// A client's address as the log shows it, after its nick.
#[derive(Debug, Clone, Copy)]
struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "({addr})"),
            None => f.write_str("(address unknown)"),
        }
    }
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
        Chat { settings, room: Room::default() }
    }

    /// How many clients are in the room.
    pub fn len(&self) -> usize {
        self.room.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.room.len() == 0
    }

    /// Sends one line to `id` alone, after what the room told it before.
    fn reply(&mut self, cx: &mut Ctx, id: ConnId, text: &str) {
        self.room.tell(cx, id, &format!("{text}\n"));
    }

    /// Says goodbye to `id` with `last_words` and closes it; the room hears
    /// it left for `why`.
    fn dismiss(
        &mut self,
        cx: &mut Ctx,
        id: ConnId,
        client_leaving: &mut Option<&'static str>,
        why: &'static str,
        last_words: &str,
    ) {
        self.reply(cx, id, last_words);
        *client_leaving = Some(why);
        cx.close(id);
    }

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
                self.reply(cx, id, &format!("ERR line too long (max {max_line_bytes} bytes)"));
                After::Stay
            }
            Err(LineError::InvalidUtf8 { .. }) => {
                self.reply(cx, id, "ERR line is not valid UTF-8");
                After::Stay
            }
        };
        if after == After::Quit {
            self.dismiss(cx, id, leaving, "quit", "* bye");
        }
    }

    fn on_line(&mut self, cx: &mut Ctx, id: ConnId, text: &str) -> After {
        if has_control_chars(text) {
            self.reply(cx, id, "ERR control characters are not allowed");
            return After::Stay;
        }
        // Commands included: a nick, a /msg or a /me must not hide text either.
        if let Some(c) = invisible_char(text) {
            let refusal = format!("ERR invisible or text-direction character U+{:04X} is not allowed", c as u32);
            self.reply(cx, id, &refusal);
            return After::Stay;
        }
        let Some(member) = self.room.member(id) else { return After::Stay };
        let nick = &member.nick;
        match Command::parse(text) {
            Command::Say(said) => {
                let line = format!("{nick}: {said}\n");
                self.room.say(cx, id, &line);
            }
            Command::Me(action) => {
                let line = format!("* {nick} {action}\n");
                self.room.say(cx, id, &line);
            }
            Command::Nick(new) => self.rename(cx, id, new),
            Command::Msg { to, text } => self.private_message(cx, id, to, text),
            Command::Who => {
                let nicks = self.room.nicks();
                let line = format!("* online ({}): {}", nicks.len(), nicks.join(", "));
                self.reply(cx, id, &line);
            }
            Command::Quit => return After::Quit,
            Command::Help => self.reply(cx, id, HELP),
            Command::Nothing => {}
            Command::Usage(usage) => self.reply(cx, id, &format!("ERR usage: {usage}")),
            Command::Unknown(name) => self.reply(cx, id, &format!("ERR unknown command /{name}; /help lists commands")),
        }
        After::Stay
    }

    /// `/msg TO TEXT` from `id`: to one client only, confirmed to the sender.
    fn private_message(&mut self, cx: &mut Ctx, id: ConnId, to: &str, text: &str) {
        let Some(target) = self.room.owner_of(to) else {
            return self.reply(cx, id, &format!("ERR no one here is called {to}"));
        };
        let (Some(from), Some(target_member)) = (self.room.member(id), self.room.member(target)) else { return };
        let private = format!("{} (private): {text}\n", from.nick);
        let confirmation = format!("-> {}: {text}", target_member.nick);
        self.room.tell(cx, target, &private);
        self.reply(cx, id, &confirmation);
    }

    /// `/nick NEW` from `id`.
    fn rename(&mut self, cx: &mut Ctx, id: ConnId, new: &str) {
        if !is_valid_nick(new) {
            let rule = format!("1-{MAX_NICK_CHARS} letters, digits, _ or -, starting with a letter");
            return self.reply(cx, id, &format!("ERR bad nick {new}: {rule}"));
        }
        match self.room.rename(id, new) {
            Ok(old) => {
                info!("{old} is now {new}");
                self.room.announce(cx, &format!("* {old} is now {new}\n"));
            }
            Err(Taken::ByAnother) => self.reply(cx, id, &format!("ERR nick {new} is taken")),
            Err(Taken::ByYou) => self.reply(cx, id, &format!("* you are already {new}")),
        }
    }

    /// `id` is over its line rate: stop reading it until its next line is
    /// due, or disconnect it if it has been over for too long.
    fn hold_back(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        let new_episode = !client.intake.is_held_back();
        match client.intake.throttle(cx.now()) {
            Throttle::Wait(wait) => {
                if new_episode {
                    debug!("{} {}: over its line rate, held back", self.nick(id), client.peer);
                }
                cx.pause_read(id);
                if client.flood_timer.is_none() {
                    client.flood_timer = cx.set_conn_timer(id, wait, FLOOD_TIMER);
                }
            }
            Throttle::Disconnect => {
                let Some(flood) = self.settings.flood else { return };
                let over = flood.disconnect_after.unwrap_or_default().as_secs_f64();
                let last_words =
                    format!("ERR flooding: over {} lines a second for {over} s; disconnecting", flood.lines_per_sec);
                self.dismiss(cx, id, &mut client.leaving, "flooding", &last_words);
            }
        }
    }

    /// `id`'s nick, for the log.
    fn nick(&self, id: ConnId) -> &str {
        self.room.member(id).map_or("?", |member| member.nick.as_str())
    }

    /// The idle timer fired: closes `id`, telling it why, if it has sent
    /// nothing for [`Settings::idle_timeout`], else re-arms for the rest.
    fn check_idle(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        let Some(idle) = self.settings.idle_timeout else { return };
        let quiet = cx.now().saturating_duration_since(client.last_input);
        if quiet >= idle {
            let last_words = format!("* idle for {} s, disconnecting", idle.as_secs_f64());
            self.dismiss(cx, id, &mut client.leaving, "idle timeout", &last_words);
        } else {
            cx.set_conn_timer(id, idle - quiet, IDLE_TIMER);
        }
    }

    /// The line timer fired: closes `id` if its line has taken too long,
    /// else re-arms for the rest of the time it has.
    fn check_line_timeout(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        client.line_timer = None;
        let (Some(timeout), Some(started)) = (self.settings.line_timeout, client.line_started) else { return };
        let waited = cx.now().saturating_duration_since(started);
        if waited >= timeout {
            let last_words = format!("ERR line not finished within {}s; closing", timeout.as_secs_f64());
            self.dismiss(cx, id, &mut client.leaving, "line timeout", &last_words);
        } else {
            client.line_timer = cx.set_conn_timer(id, timeout - waited, LINE_TIMER);
        }
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

impl Handler for Chat {
    type Conn = Client;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) -> Client {
        if let Some(idle) = self.settings.idle_timeout {
            cx.set_conn_timer(id, idle, IDLE_TIMER);
        }
        let peer = Peer(cx.peer_addr(id));
        let nick = self.room.enter(id).to_string();
        info!("{nick} {peer} joined");
        let online = self.room.len();
        self.reply(cx, id, &format!("* welcome {nick}! {online} online; /help lists commands"));
        self.room.say(cx, id, &format!("* {nick} joined\n"));
        Client {
            peer,
            decoder: LineDecoder::with_max_line_bytes(self.settings.max_line_bytes),
            intake: Intake::new(self.settings.max_lines_per_turn, self.settings.flood.as_ref(), cx.now()),
            last_input: cx.now(),
            line_started: None,
            line_timer: None,
            flood_timer: None,
            leaving: None,
        }
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client, data: &[u8]) -> usize {
        let now = cx.now();
        client.last_input = now;
        let mut lines = client.decoder.decode(data);
        client.intake.start_turn();
        let held_back = loop {
            // Hold back only a complete line: a partial one waits anyway.
            let hold = client.intake.holds_back(now).filter(|_| has_line(&data[lines.consumed()..]));
            if hold.is_some() {
                break hold;
            }
            let Some(line) = lines.next() else { break None };
            // Text costs what everyone has to read; an error, one line.
            client.intake.took(line.as_ref().map_or(0, |text| text.len()));
            self.on_decoded(cx, id, &mut client.leaving, line);
            if !cx.is_open(id) {
                // Quit, or over its output limit: the rest is moot.
                return data.len();
            }
        };
        let consumed = lines.consumed();
        match held_back {
            // Every complete line taken: what is left is a line under way.
            None => {
                client.intake.caught_up();
                self.watch_unfinished_line(cx, id, client);
            }
            Some(hold) => {
                // Complete lines wait on the server, not on the client: no
                // line is being slowly typed.
                client.line_started = None;
                if hold == Hold::Throttled {
                    self.hold_back(cx, id, client);
                }
                // Hold::TurnOver: lines were consumed, so the loop offers
                // the rest again on a later turn.
            }
        }
        consumed
    }

    fn on_eof(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client, unconsumed: &[u8]) -> AfterEof {
        // Lines left for a later turn have none now: they are all handled,
        // as far as the client's line rate allows; the rest are dropped.
        let mut lines = client.decoder.decode(unconsumed);
        while client.intake.holds_back(cx.now()) != Some(Hold::Throttled) || !has_line(&unconsumed[lines.consumed()..])
        {
            let Some(line) = lines.next() else { break };
            client.intake.took(line.as_ref().map_or(0, |text| text.len()));
            self.on_decoded(cx, id, &mut client.leaving, line);
            if !cx.is_open(id) {
                return AfterEof::Close;
            }
        }
        let rest = &unconsumed[lines.consumed()..];
        if has_line(rest) {
            debug!("{} {}: closed with lines over its line rate; dropped", self.nick(id), client.peer);
        } else if let Some(line) = client.decoder.decode_last(rest) {
            // `printf 'hi' | nc ...`: a last line without its newline still counts.
            self.on_decoded(cx, id, &mut client.leaving, line);
        }
        // What the room said this turn, before the connection closes.
        self.room.catch_up(cx, id);
        AfterEof::Close
    }

    fn on_conn_timer(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client, _timer: TimerId, key: u64) {
        match key {
            FLOOD_TIMER => {
                client.flood_timer = None;
                // The loop offers the lines held back again.
                cx.resume_read(id);
            }
            IDLE_TIMER => self.check_idle(cx, id, client),
            _ => self.check_line_timeout(cx, id, client),
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: TimerId, key: u64) {
        if key == FLUSH_TIMER {
            self.room.flush(cx);
        }
    }

    fn on_close(&mut self, cx: &mut Ctx, id: ConnId, client: Client, reason: CloseReason) {
        let Some(member) = self.room.remove(id) else { return };
        let (nick, peer) = (member.nick, client.peer);
        // Why, for the room; and whether it was the client's doing, for the log.
        let (why, own_doing) = match (client.leaving, reason) {
            // on_stop told everyone already.
            (_, CloseReason::Shutdown) => return,
            (Some(why), _) => (why.to_string(), why == "quit"),
            (None, CloseReason::PeerClosed) => (String::new(), true),
            (None, CloseReason::Reset) => (reason.to_string(), true),
            (None, CloseReason::OutputLimit) => ("too slow to read".to_string(), false),
            (None, reason) => (reason.to_string(), false),
        };
        let because = if why.is_empty() { String::new() } else { format!(" ({why})") };
        if own_doing {
            info!("{nick} {peer} left{because}");
        } else {
            info!("{nick} {peer} dropped: {why}");
        }
        self.room.announce(cx, &format!("* {nick} left{because}\n"));
    }

    fn on_refused(&mut self, _peer: SocketAddr, why: Refusal) -> &[u8] {
        match why {
            Refusal::MaxConnectionsPerIp => TOO_MANY_FROM_YOU.as_bytes(),
            // Refusal is non-exhaustive: whatever else, the server is full.
            _ => SERVER_FULL.as_bytes(),
        }
    }

    fn on_stop(&mut self, cx: &mut Ctx) {
        // Now, not at the end of the turn: every connection closes next.
        self.room.announce(cx, "* server shutting down\n");
        self.room.flush(cx);
    }
}
