//! A Redis-protocol key-value server on evloop: `redis-cli`,
//! `redis-benchmark` and the `redis` crate drive it as they drive Redis.
//!
//! Kept apart from `main.rs` so the integration tests serve the very same
//! handler the binary does.
//!
//! # Shape
//!
//! One [`Kv`] handler serves every connection, as one Redis process does:
//! requests are framed by [`RespDecoder`] (arrays of bulk strings and
//! inline commands, any number pipelined, split at any byte), each is
//! looked up in the command table ([`commands`]) and run against the
//! [`Store`], and its reply is built in one buffer and sent with one
//! [`Ctx::send`]. Between requests the handler checks
//! [`Ctx::is_writable`]: once a connection's queued output passes the high
//! watermark it stops and returns what it consumed, and the loop offers the
//! rest once the output drains, so a client pipelining far more replies
//! than fit in memory is still served in full.
//!
//! A timer (`hz`, 10 a second as in Redis) runs the active expiry cycle
//! and samples the counters `INFO` reports per second.
//!
//! # Limits, as Redis has them
//!
//! See [`Settings`]: `maxclients` (refused with
//! `-ERR max number of clients reached`), `proto-max-bulk-len`,
//! `client-query-buffer-limit`, the output limit for pub/sub clients, and
//! the idle `timeout`, off by default.

pub mod alloc;
pub mod bytes;
pub mod clients;
pub mod commands;
pub mod glob;
pub mod info;
pub mod pubsub;
pub mod reply;
pub mod store;
pub mod value;

use std::borrow::Cow;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use evloop::codec::{RespDecoder, DEFAULT_MAX_BULK_BYTES};
use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin, Refusal, TimerId};
use log::{debug, warn};
use slab::Slab;

pub use bytes::Bytes;
use clients::ClientInfo;
use commands::{Call, Session};
use info::Rates;
use pubsub::PubSub;
use reply::Out;
pub use store::Store;

/// Argument slots kept between requests; a larger vector, left by one
/// request of very many arguments, is given back.
const KEPT_ARGS: usize = 1024;

/// Reply buffer kept between requests; a larger one is given back.
const KEPT_REPLY_BYTES: usize = 64 * 1024;

/// Replies are gathered in the reply buffer and sent once it holds this
/// much, or once the read's requests are done: one `send` per read rather
/// than per request, while the output the watermark checks see lags by
/// at most this.
const SEND_REPLY_BYTES: usize = 16 * 1024;

/// Databases, as Redis's default `databases 16`.
pub const DATABASES: usize = 16;

/// The timer key of the periodic cron (expiry, rates).
const CRON_TIMER: u64 = 0;

/// Share of each cron period the active expiry cycle may take (Redis's
/// `ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC`, 25%).
const EXPIRE_CYCLE_SHARE: u32 = 4;

/// The server's limits and tunables, named after the Redis settings they
/// mirror; [`Settings::default`] has Redis's defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Clients connected at once (`maxclients`, 10,000); one more is
    /// answered `-ERR max number of clients reached` and closed. kv counts
    /// its clients itself, so `CONFIG SET maxclients` takes effect at
    /// once; the loop's [`Config::max_connections`], set from the value at
    /// start, stays a ceiling (refused the same way) it cannot raise.
    pub max_clients: usize,
    /// Close a client that sent nothing for this long (`timeout`); `None`,
    /// the default, never. Subscribers are spared, as in Redis. Checked by
    /// kv's cron, so `CONFIG SET timeout` takes effect at once.
    pub idle_timeout: Option<Duration>,
    /// The longest bulk string a request may carry (`proto-max-bulk-len`, 512 MiB).
    pub proto_max_bulk_len: usize,
    /// The most input one client may have buffered (`client-query-buffer-limit`, 1 GiB).
    pub client_query_buffer_limit: usize,
    /// Output queued for a normal client past which it is closed. Redis
    /// has no such limit; here it is 1 GiB, room for two of the largest
    /// values, since every resource has a bound.
    pub normal_output_limit: usize,
    /// Output queued for a subscribed client past which it is dropped
    /// (`client-output-buffer-limit pubsub`, hard limit 32 MiB): a
    /// subscriber that stops reading cannot hold the server's memory. As
    /// in Redis, the message that would pass it is not queued and the
    /// subscriber is closed gracefully: it reads what was queued, then EOF.
    pub pubsub_output_limit: usize,
    /// Cron runs per second (`hz`, 10): the active expiry cycle and rates.
    pub hz: u32,
    /// The port `INFO` reports (`tcp_port`).
    pub tcp_port: u16,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_clients: 10_000,
            idle_timeout: None,
            proto_max_bulk_len: DEFAULT_MAX_BULK_BYTES,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            normal_output_limit: 1024 * 1024 * 1024,
            pubsub_output_limit: 32 * 1024 * 1024,
            hz: 10,
            tcp_port: 6380,
        }
    }
}

impl Settings {
    /// The loop's [`Config`] for these settings: connections and output
    /// limit as set, no idle timeout (kv's cron enforces `timeout`), no
    /// write timeout (Redis has none; the output limits bound a client
    /// that stops reading).
    pub fn loop_config(&self) -> Config {
        let defaults = Config::default();
        Config {
            max_connections: self.max_clients,
            idle_timeout: None,
            write_timeout: None,
            max_output_bytes: self.normal_output_limit.max(defaults.high_watermark),
            ..defaults
        }
    }

    fn cron_period(&self) -> Duration {
        Duration::from_secs(1) / self.hz.clamp(1, 500)
    }
}

/// Everything a command may touch: the databases, the channels, the
/// clients, the counters.
#[derive(Debug)]
pub struct Server {
    /// The keyspace: sixteen databases, `SELECT` picks one.
    pub dbs: Vec<Store>,
    /// Who is connected.
    pub clients: Slab<ClientInfo>,
    /// Channels and patterns with their subscribers.
    pub pubsub: PubSub,
    /// Limits and tunables.
    pub settings: Settings,
    /// Commands run since start.
    pub commands_processed: u64,
    /// Write commands run since start: what `INFO` reports as changes
    /// not saved, kv saving nothing.
    pub writes: u64,
    /// Per-second rates sampled by the cron, for `INFO`.
    pub rates: Rates,
    /// When the server started, on the loop's clock and the wall clock.
    started: (Instant, i64),
    next_client_id: u64,
    /// xorshift64 state, for `SPOP`.
    rng: u64,
}

impl Server {
    /// Unix milliseconds at the loop's `now`: the wall clock read once at
    /// start, advanced by the monotonic one, so expiry never jumps.
    pub fn unix_ms(&self, now: Instant) -> i64 {
        let (at, unix_ms) = self.started;
        unix_ms + now.saturating_duration_since(at).as_millis() as i64
    }

    /// How long the server has run.
    pub fn uptime(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started.0)
    }

    /// When it started, in Unix seconds.
    pub fn started_unix_secs(&self) -> i64 {
        self.started.1 / 1000
    }

    /// A pseudo-random number (xorshift64), for `SPOP`.
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Keys stored in every database.
    pub fn key_count(&self) -> usize {
        self.dbs.iter().map(Store::len).sum()
    }
}

/// What the server keeps per connection.
#[derive(Debug)]
pub struct Client {
    decoder: RespDecoder,
    session: Session,
    /// The input limit in force for this connection.
    input_limit: usize,
    /// Refused at `maxclients`: not registered, never served.
    refused: bool,
}

/// The key-value server: the handler to put on an evloop.
///
/// # Examples
///
/// ```
/// use kv::{Kv, Settings};
///
/// # fn main() -> std::io::Result<()> {
/// let settings = Settings::default();
/// let mut el = evloop::EventLoop::new(settings.loop_config(), Kv::new(settings))?;
/// let addr = el.listen("127.0.0.1:0".parse().unwrap())?;
/// println!("redis-cli -p {}", addr.port());
/// # el.handle().stop().unwrap();
/// el.run()
/// # }
/// ```
#[derive(Debug)]
pub struct Kv {
    server: Server,
    /// The reply being built (one command's).
    reply: Vec<u8>,
    /// The arguments of the request being run, its allocation reused.
    argv: Vec<Cow<'static, [u8]>>,
    cron: Option<TimerId>,
}

impl Kv {
    /// A server with an empty store.
    pub fn new(settings: Settings) -> Kv {
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        Kv {
            server: Server {
                dbs: (0..DATABASES).map(|_| Store::new()).collect(),
                clients: Slab::new(),
                pubsub: PubSub::default(),
                settings,
                commands_processed: 0,
                writes: 0,
                rates: Rates::default(),
                started: (Instant::now(), unix_ms),
                next_client_id: 1,
                rng: (unix_ms as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            },
            reply: Vec::new(),
            argv: Vec::new(),
            cron: None,
        }
    }

    /// The state commands act on.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Bytes the reusable buffers (argument slots, the reply) hold between
    /// requests: bounded, however large one request or reply was.
    pub fn scratch_bytes(&self) -> usize {
        self.argv.capacity() * std::mem::size_of::<Cow<'static, [u8]>>() + self.reply.capacity()
    }
}

/// Empties `argv` and hands its allocation over for arguments that borrow
/// from another input: the element type only changes lifetime, so the
/// collect reuses the allocation in place.
fn recycle<'b>(mut argv: Vec<Cow<'_, [u8]>>) -> Vec<Cow<'b, [u8]>> {
    argv.clear();
    argv.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}

impl Kv {
    /// Redis's `clientsCronHandleTimeout`: closes each client that sent
    /// nothing for `timeout`, subscribers spared.
    fn close_idle_clients(&mut self, cx: &mut Ctx) {
        let Some(timeout) = self.server.settings.idle_timeout else { return };
        let now = cx.now();
        for (_, info) in &self.server.clients {
            if !info.is_subscriber() && now.saturating_duration_since(info.last_interaction) > timeout {
                debug!("client {} ({}) closed: idle for over {timeout:?} (timeout)", info.id, info.conn);
                cx.close(info.conn);
            }
        }
    }
}

impl Handler for Kv {
    type Conn = Client;
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) -> Client {
        if self.cron.is_none() {
            // The first callback with a `Ctx`; the cron runs from then on.
            self.cron = Some(cx.set_timer(self.server.settings.cron_period(), CRON_TIMER));
        }
        let client_id = self.server.next_client_id;
        self.server.next_client_id += 1;
        let decoder = RespDecoder::with_max_bulk_bytes(self.server.settings.proto_max_bulk_len);
        let input_limit = cx.config().max_input_bytes;
        if self.server.clients.len() >= self.server.settings.max_clients {
            // As Redis's acceptCommonHandler: the error, then the close.
            debug!("{id}: refused, {} clients connected (maxclients)", self.server.clients.len());
            cx.send(id, b"-ERR max number of clients reached\r\n");
            cx.close(id);
            return Client { decoder, session: Session::new(client_id, usize::MAX), input_limit, refused: true };
        }
        let addr = cx.peer_addr(id);
        debug!("{id}: client {client_id} from {addr:?}");
        let slot = self.server.clients.insert(ClientInfo::new(client_id, id, addr, cx.now()));
        let output_limit = self.server.settings.normal_output_limit.max(cx.config().high_watermark);
        if output_limit != cx.config().max_output_bytes {
            cx.set_max_output_bytes(id, output_limit); // changed by CONFIG SET since start
        }
        Client { decoder, session: Session::new(client_id, slot), input_limit, refused: false }
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client, data: &[u8]) -> usize {
        let Client { decoder, session, input_limit, refused } = client;
        if *refused {
            return data.len();
        }
        let now = self.server.unix_ms(cx.now());
        let mut argv = recycle(std::mem::take(&mut self.argv));
        let mut requests = decoder.decode(data);
        let mut consumed = None;
        // Between requests, not only per read: a pipeline whose replies
        // pass the high watermark waits for them to drain, unconsumed.
        while cx.is_writable(id) {
            let Some(request) = requests.next_args(&mut argv) else { break };
            let out = Out::new(cx, id, &mut self.reply);
            match request {
                Ok(()) => {
                    commands::execute(&mut self.server, Call { out, session: &mut *session, args: &argv, now });
                }
                Err(error) => {
                    // As Redis: the error, then close once it is written.
                    debug!("{id}: protocol error: {error}");
                    let mut out = out;
                    out.error(&format!("ERR {error}"));
                    out.flush();
                    cx.close(id);
                }
            }
            if !cx.is_open(id) {
                consumed = Some(data.len()); // QUIT or an error: the rest is moot
                break;
            }
            if self.reply.len() >= SEND_REPLY_BYTES {
                cx.send(id, &self.reply);
                self.reply.clear();
            }
        }
        if !self.reply.is_empty() {
            cx.send(id, &self.reply);
            self.reply.clear();
        }
        let consumed = consumed.unwrap_or_else(|| requests.consumed());
        if argv.capacity() > KEPT_ARGS {
            // A request of very many arguments: give the room back.
            argv = Vec::new();
        }
        self.argv = recycle(argv);
        if let Some(info) = self.server.clients.get_mut(session.slot) {
            info.sync(session, cx.now());
        }
        if self.reply.capacity() > KEPT_REPLY_BYTES {
            self.reply = Vec::new();
        }
        // A request too large for the default input limit raises this
        // connection's, up to the query buffer limit, and only for as long
        // as it is in progress.
        let wanted = decoder
            .needed_input_bytes()
            .clamp(cx.config().max_input_bytes, self.server.settings.client_query_buffer_limit);
        if wanted != *input_limit {
            cx.set_max_input_bytes(id, wanted);
            *input_limit = wanted;
        }
        consumed
    }

    fn on_close(&mut self, _cx: &mut Ctx, id: ConnId, client: Client, reason: CloseReason) {
        if client.refused {
            return;
        }
        let session = client.session;
        self.server.clients.try_remove(session.slot);
        if self.server.clients.capacity() > 1024 && self.server.clients.len() * 4 <= self.server.clients.capacity() {
            self.server.clients.shrink_to_fit();
        }
        if reason == CloseReason::OutputLimit {
            // Redis: "scheduled to be closed ASAP for overcoming of output
            // buffer limits".
            let kind = if session.is_subscriber() { "pubsub" } else { "normal" };
            warn!("client {} ({id}) dropped: over the {kind} client output buffer limit", session.client_id);
        } else {
            debug!("client {} ({id}) closed: {reason}", session.client_id);
        }
        self.server.pubsub.forget(id, &session);
    }

    fn on_timer(&mut self, cx: &mut Ctx, _timer: TimerId, key: u64) {
        if key != CRON_TIMER {
            return;
        }
        let period = self.server.settings.cron_period();
        let now = self.server.unix_ms(cx.now());
        let budget = period / EXPIRE_CYCLE_SHARE / DATABASES as u32;
        for db in &mut self.server.dbs {
            db.expire_cycle(now, budget);
        }
        self.close_idle_clients(cx);
        if alloc::trim_if_freed() {
            debug!("freed memory handed back to the system");
        }
        let commands = self.server.commands_processed;
        self.server.rates.sample(cx.now(), commands, cx.stats());
        self.cron = Some(cx.set_timer(period, CRON_TIMER));
    }

    fn on_refused(&mut self, _peer: &evloop::PeerAddr, why: Refusal) -> &[u8] {
        match why {
            Refusal::MaxConnections => b"-ERR max number of clients reached\r\n",
            _ => b"",
        }
    }
}
