//! What one hostile client does to everyone else in the chat: each attack
//! runs against the real chat handler on loopback, in a room of members
//! that read everything, while well-behaved bystanders time their round
//! trips through the server.
//!
//! ```text
//! cargo run --release -p chat --bin chat-attack                            # every attack, room of 500
//! cargo run --release -p chat --bin chat-attack -- --attack nick-flood     # one of them
//! cargo run --release -p chat --bin chat-attack -- --flood-lines-per-sec 0 # any `chat` option, as `chat` takes it
//! ```
//!
//! - `nick-flood`: one client writes `--renames` `/nick` lines in one write.
//! - `connect-burst`: `--connects` connections at once, that then never
//!   read or write.
//! - `line-flood`: one client writes lines as fast as the server takes
//!   them for `--flood-secs`.
//!
//! Each attack gets a fresh server, in-process, with the options `chat`
//! would run with. Its members are outbound connections on an evloop loop
//! of the tool's own; each bystander is a blocking client that sends itself
//! `/msg NICK probe N` every `--probe-ms` and waits for the server's
//! `-> NICK: probe N`, reading whatever the room says on the way. The
//! measurement runs from a second before the attack until every member has
//! seen its last effect (or was dropped), plus a second.

mod attacker;
mod bystander;
mod room;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use chat::{Chat, Relay, ServerOptions};
use clap::{Parser, ValueEnum};
use evloop::{EventLoop, LoopHandle};

use crate::attacker::{renamed, Running, SPAM_END};
use crate::bystander::{microsecond_histogram, Bystander};
use crate::room::{IsEnd, Progress, Room};

/// Runs attacks on the chat server and measures how other clients fare.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Which attack (repeat for several); all of them by default.
    #[arg(long, value_enum)]
    attack: Vec<Attack>,
    /// Members of the room: clients that read everything and say nothing.
    #[arg(long, default_value_t = 500)]
    members: usize,
    /// Clients timing their round trips, besides the members; their probes are spread evenly over --probe-ms.
    #[arg(long, default_value_t = 16)]
    bystanders: usize,
    /// Pause between one bystander's probes, in milliseconds (8 a second stays under the default flood rate).
    #[arg(long, default_value_t = 125)]
    probe_ms: u64,
    /// `/nick` lines in the nick flood's one write.
    #[arg(long, default_value_t = 7000)]
    renames: usize,
    /// Connections in the connect burst.
    #[arg(long, default_value_t = 3000)]
    connects: usize,
    /// How long the line flood writes, in seconds.
    #[arg(long, default_value_t = 20)]
    flood_secs: u64,
    /// Give up on an attack's end after this many seconds.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
    #[command(flatten)]
    server: ServerOptions,
}

/// An attack the tool can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Attack {
    NickFlood,
    ConnectBurst,
    LineFlood,
}

/// Starts the chat in-process on 127.0.0.1:0, on its own thread.
fn start_server(options: &ServerOptions) -> std::io::Result<(SocketAddr, LoopHandle<Relay>, thread::JoinHandle<()>)> {
    let mut el = EventLoop::new(options.config(), Chat::new(options.settings()))?;
    let addr = el.listen("127.0.0.1:0".parse().expect("a valid address"))?;
    let handle = el.handle();
    let thread = thread::spawn(move || el.run().expect("the chat server failed"));
    Ok((addr, handle, thread))
}

/// The line that tells a member the attack has had its last effect.
fn end_of(attack: Attack, args: &Args) -> IsEnd {
    // Members are guest1..; the bystanders come next, then the attackers.
    let first_attacker = args.members + args.bystanders + 1;
    match attack {
        Attack::NickFlood => {
            let last = format!(" is now {}", renamed(args.renames - 1));
            let guest = format!("* guest{first_attacker} left");
            Box::new(move |line| {
                line.ends_with(&last) || line.starts_with(&guest) || (line.starts_with("* x") && line.contains(" left"))
            })
        }
        Attack::ConnectBurst => {
            let last = format!("* guest{} joined", first_attacker + args.connects - 1);
            Box::new(move |line| line == last)
        }
        Attack::LineFlood => {
            let last = format!("spammer: {SPAM_END}");
            Box::new(move |line| line == last || line.starts_with("* spammer left"))
        }
    }
}

/// Waits for the room's next report, up to `limit`.
fn next(progress: &Receiver<Progress>, limit: Duration) -> Option<Progress> {
    progress.recv_timeout(limit).ok()
}

fn run(attack: Attack, args: &Args) -> std::io::Result<()> {
    let (addr, server, server_thread) = start_server(&args.server)?;
    let (progress_tx, progress) = mpsc::channel();
    let room = Room::connect(addr, args.members, end_of(attack, args), progress_tx)?;
    match next(&progress, Duration::from_secs(60)) {
        Some(Progress::AllWelcomed) => {}
        Some(Progress::Dropped(why)) => return Err(std::io::Error::other(why)),
        _ => return Err(std::io::Error::other("the room did not fill within 60 s")),
    }
    let mut dropped = Vec::new();

    let stop = Arc::new(AtomicBool::new(false));
    let joined = Arc::new(Barrier::new(args.bystanders + 1));
    let interval = Duration::from_millis(args.probe_ms);
    let bystanders = (0..args.bystanders)
        .map(|k| {
            let offset = interval * k as u32 / args.bystanders as u32;
            Bystander::start(addr, format!("by{k}"), (offset, interval), Arc::clone(&joined), Arc::clone(&stop))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    joined.wait();
    thread::sleep(Duration::from_secs(1)); // a second of round trips before the attack

    let started = Instant::now();
    let attack_run: Running = match attack {
        Attack::NickFlood => attacker::nick_flood(addr, args.renames)?,
        Attack::ConnectBurst => attacker::connect_burst(addr, args.connects)?,
        Attack::LineFlood => attacker::line_flood(addr, Duration::from_secs(args.flood_secs), Duration::from_secs(60))?,
    };
    let deadline = started + Duration::from_secs(args.max_secs);
    let finished = loop {
        match next(&progress, deadline.saturating_duration_since(Instant::now())) {
            Some(Progress::Done(at)) => break Some(at),
            Some(Progress::Dropped(why)) => dropped.push(why),
            Some(Progress::AllWelcomed) => {}
            None => break None,
        }
    };
    thread::sleep(Duration::from_secs(1)); // and a second after
    stop.store(true, Ordering::Relaxed);
    let mut round_trips = microsecond_histogram();
    let mut bystander_errors = Vec::new();
    for bystander in bystanders {
        let (histogram, ended) = bystander.finish();
        round_trips.add(histogram).expect("histograms with the same bounds");
        if let Err(e) = ended {
            bystander_errors.push(e.to_string());
        }
    }
    dropped.extend(progress.try_iter().filter_map(|p| if let Progress::Dropped(why) = p { Some(why) } else { None }));

    println!(
        "{attack:?}: {} into a room of {} members and {} bystanders",
        attack_run.summary, args.members, args.bystanders
    );
    match finished {
        Some(at) => println!(
            "  every member had the attack's last effect (or was dropped) after {:.2} s",
            (at - started).as_secs_f64()
        ),
        None => println!("  not over after {} s", args.max_secs),
    }
    println!(
        "  members dropped: {}{}",
        dropped.len(),
        dropped.first().map(|d| format!(" (first: {d})")).unwrap_or_default()
    );
    let ms = |micros: u64| micros as f64 / 1000.0;
    println!(
        "  bystander round trips: {} probes, p50 {:.2} ms, p99 {:.2} ms, worst {:.2} ms",
        round_trips.len(),
        ms(round_trips.value_at_quantile(0.5)),
        ms(round_trips.value_at_quantile(0.99)),
        ms(round_trips.max())
    );
    if let Some(first) = bystander_errors.first() {
        println!("  bystanders dropped: {} (first: {first})", bystander_errors.len());
    }

    // The server first, so it does not tell the room about every leave.
    let _ = server.stop();
    server_thread.join().expect("the chat server panicked");
    let spam_lines = room.stop()?;
    if attack == Attack::LineFlood {
        println!("  spammer lines delivered: {spam_lines} in all, {} per member", spam_lines / args.members as u64);
    }
    attack_run.finish()
}

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    let attacks = if args.attack.is_empty() {
        vec![Attack::NickFlood, Attack::ConnectBurst, Attack::LineFlood]
    } else {
        args.attack.clone()
    };
    for attack in attacks {
        run(attack, &args)?;
    }
    Ok(())
}
