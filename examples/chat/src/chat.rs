//! The chat handler: a client's life from accept to close, and its input,
//! decoded into lines and taken as fast as its allowance lets.

use std::fmt;
use std::time::Instant;

use evloop::codec::LineDecoder;
use evloop::{AfterEof, CloseReason, ConnId, Ctx, Handler, Origin, PeerAddr, Peers, Refusal, TimerId};
use log::{debug, info};

use crate::intake::{has_line, Hold, Intake};
use crate::relay::{Links, RETRY_TIMER};
use crate::room::{Room, FLUSH_TIMER};
use crate::{Nicks, Relay, Settings};

/// What `/help` answers.
pub const HELP: &str = "* commands: /nick NAME, /who, /me ACTION, /msg NICK TEXT, /quit, /help; \
                        any other line is said to everyone (start it with // to say /...)";

/// What a client turned away at `--max-connections` reads before the close.
pub const SERVER_FULL: &str = "* server full, try again later\n";

/// What a client turned away at `--max-connections-per-ip` reads before the
/// close.
pub const TOO_MANY_FROM_YOU: &str = "* too many connections from your address\n";

/// The key of the connection timer that bounds how long a line may take.
pub(crate) const LINE_TIMER: u64 = 0;
/// The key of the connection timer that resumes reading a client held
/// back: for the rest of its turn, or by flood control.
pub(crate) const RESUME_TIMER: u64 = 1;
/// The key of the connection timer that checks a client is not idle.
pub(crate) const IDLE_TIMER: u64 = 2;

/// The chat room: every client connected is in it, on this loop or, in a
/// group of loops, on any.
#[derive(Debug)]
pub struct Chat {
    pub(crate) settings: Settings,
    pub(crate) room: Room,
}

/// What the chat keeps per connection.
#[derive(Debug)]
pub struct Client {
    /// Its address, for the log.
    pub(crate) peer: Peer,
    pub(crate) decoder: LineDecoder,
    /// How many of its lines the server takes now.
    pub(crate) intake: Intake,
    /// When it last sent anything: a stamp, checked when the idle timer
    /// fires, so input costs no timer work.
    pub(crate) last_input: Instant,
    /// When the line now arriving began, if one has begun.
    pub(crate) line_started: Option<Instant>,
    /// The timer that checks on `line_started`, while one is armed.
    pub(crate) line_timer: Option<TimerId>,
    /// The timer that resumes reading it after it was held back.
    pub(crate) resume_timer: Option<TimerId>,
    /// Why the server closed this client, to tell the others.
    pub(crate) leaving: Option<&'static str>,
}

/// A client's address as the log shows it, after its nick.
#[derive(Debug, Clone)]
pub(crate) struct Peer(Option<PeerAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(addr) => write!(f, "({addr})"),
            None => f.write_str("(address unknown)"),
        }
    }
}

impl Chat {
    /// An empty room, on one loop.
    pub fn new(settings: Settings) -> Chat {
        Chat { room: Room::new(settings.members_per_turn, Nicks::default(), None), settings }
    }

    /// One loop's part of a room spread over a group of loops: what is
    /// said here is relayed to the others through `peers`, and `nicks`
    /// (shared by every loop of the group) keeps the nicks unique.
    pub fn in_group(settings: Settings, peers: Peers<Relay>, nicks: Nicks) -> Chat {
        let room = Room::new(settings.members_per_turn, nicks, Some(Links::new(peers)));
        Chat { room, settings }
    }

    /// The factory for [`GroupBuilder::build`](evloop::GroupBuilder::build):
    /// every loop's `Chat` one room, with one [`Nicks`] between them.
    ///
    /// # Examples
    ///
    /// ```
    /// use evloop::GroupBuilder;
    /// use chat::{Chat, Settings};
    ///
    /// # fn main() -> std::io::Result<()> {
    /// let settings = Settings::default();
    /// let group = GroupBuilder::new(settings.loop_config(evloop::Config::default()))
    ///     .threads(2)
    ///     .build(Chat::group_factory(settings))?;
    /// # group.handle().stop().unwrap();
    /// # group.run()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn group_factory(settings: Settings) -> impl Fn(usize, Peers<Relay>) -> Chat + Send + Sync + 'static {
        let nicks = Nicks::default();
        move |_index, peers| Chat::in_group(settings.clone(), peers, nicks.clone())
    }

    /// How many clients are in the room, on this loop.
    pub fn len(&self) -> usize {
        self.room.len()
    }

    /// Whether the room is empty, on this loop.
    pub fn is_empty(&self) -> bool {
        self.room.len() == 0
    }

    /// Sends one line to `id` alone, after what the room told it before.
    pub(crate) fn reply(&mut self, cx: &mut Ctx, id: ConnId, text: &str) {
        self.room.tell(cx, id, &format!("{text}\n"));
    }

    /// Says goodbye to `id` with `last_words` and closes it; the room hears
    /// it left for `why`.
    pub(crate) fn dismiss(
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

    /// `id`'s nick, for the log.
    pub(crate) fn nick(&self, id: ConnId) -> &str {
        self.room.member(id).map_or("?", |member| member.nick.as_str())
    }
}

impl Handler for Chat {
    type Conn = Client;
    /// What the other loops' rooms say, in a group.
    type Message = Relay;

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) -> Client {
        if let Some(idle) = self.settings.idle_timeout {
            cx.set_conn_timer(id, idle, IDLE_TIMER);
        }
        let peer = Peer(cx.peer_addr(id));
        let nick = self.room.enter(id).to_string();
        info!("{nick} {peer} joined");
        let online = self.room.online();
        self.reply(cx, id, &format!("* welcome {nick}! {online} online; /help lists commands"));
        self.room.say(cx, id, &format!("* {nick} joined\n"));
        Client {
            peer,
            decoder: LineDecoder::with_max_line_bytes(self.settings.max_line_bytes),
            intake: Intake::new(self.settings.max_lines_per_turn, self.settings.flood.as_ref(), cx.now()),
            last_input: cx.now(),
            line_started: None,
            line_timer: None,
            resume_timer: None,
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
                match hold {
                    Hold::Throttled => self.hold_back(cx, id, client),
                    Hold::TurnOver => self.wait_a_turn(cx, id, client),
                }
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
            RESUME_TIMER => {
                client.resume_timer = None;
                // The loop offers the lines held back again, then reads on.
                cx.resume_read(id);
            }
            IDLE_TIMER => self.check_idle(cx, id, client),
            _ => self.check_line_timeout(cx, id, client),
        }
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: TimerId, key: u64) {
        match key {
            FLUSH_TIMER => self.room.flush(cx),
            RETRY_TIMER => self.room.retry_relay(cx),
            _ => {}
        }
    }

    fn on_message(&mut self, cx: &mut Ctx, relay: Relay) {
        self.room.hear(cx, relay);
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

    fn on_refused(&mut self, _peer: &PeerAddr, why: Refusal) -> &[u8] {
        match why {
            Refusal::MaxConnectionsPerIp => TOO_MANY_FROM_YOU.as_bytes(),
            // Refusal is non-exhaustive: whatever else, the server is full.
            _ => SERVER_FULL.as_bytes(),
        }
    }

    fn on_stop(&mut self, cx: &mut Ctx) {
        // Now, not at the end of the turn: every connection closes next.
        // Every loop stops, and says it to its own members.
        self.room.announce_here(cx, "* server shutting down\n");
        self.room.flush_all(cx);
    }
}
