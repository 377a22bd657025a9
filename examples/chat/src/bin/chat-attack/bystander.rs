//! A well-behaved client that times round trips through the server while
//! an attack goes on: it sends itself a private message and waits for the
//! server's confirmation, reading everything else the room says on the way.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// How long one read may block before the bystander gives up: longer than
/// any stall worth measuring.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Round trips in microseconds, up to an hour.
pub(crate) fn microsecond_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// A bystander joined to the room, probing on its own thread.
pub(crate) struct Bystander {
    thread: JoinHandle<(Histogram<u64>, io::Result<()>)>,
}

/// A connection reading the server's lines.
struct Session {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
}

impl Session {
    fn connect(server: SocketAddr) -> io::Result<Session> {
        let stream = TcpStream::connect(server)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        Ok(Session { reader: BufReader::new(stream.try_clone()?), writer: stream, line: String::new() })
    }

    /// Reads lines until one equals `wanted`.
    fn read_until(&mut self, wanted: &str) -> io::Result<()> {
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                return Err(io::Error::other(format!("closed by the server while waiting for {wanted:?}")));
            }
            let line = self.line.trim_end_matches('\n');
            if line == wanted {
                return Ok(());
            }
            if line.starts_with("ERR") {
                return Err(io::Error::other(format!("the server said {line:?} while we waited for {wanted:?}")));
            }
        }
    }
}

impl Bystander {
    /// Joins as `nick` and, once every bystander has (`joined`) and a
    /// further `offset` has passed, sends one probe every `interval` until
    /// `stop` is set. Bystanders given offsets spread over one interval
    /// keep a probe in flight most of the time, so a stall of the server
    /// is measured, not missed.
    pub(crate) fn start(
        server: SocketAddr,
        nick: String,
        (offset, interval): (Duration, Duration),
        joined: Arc<Barrier>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Bystander> {
        let mut session = Session::connect(server)?;
        let thread = thread::spawn(move || {
            let renamed = session.rename(&nick);
            joined.wait();
            thread::sleep(offset);
            let mut round_trips = microsecond_histogram();
            let probing = renamed.and_then(|()| session.probe(&nick, interval, &stop, &mut round_trips));
            (round_trips, probing)
        });
        Ok(Bystander { thread })
    }

    /// The round trips it measured, and the error that ended it early, if one did.
    pub(crate) fn finish(self) -> (Histogram<u64>, io::Result<()>) {
        self.thread.join().expect("a bystander panicked")
    }
}

impl Session {
    /// Sends a probe every `interval` and records its round trip, until
    /// `stop` is set.
    fn probe(
        &mut self,
        nick: &str,
        interval: Duration,
        stop: &AtomicBool,
        round_trips: &mut Histogram<u64>,
    ) -> io::Result<()> {
        let mut probe = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let sent = Instant::now();
            self.writer.write_all(format!("/msg {nick} probe {probe}\n").as_bytes())?;
            self.read_until(&format!("-> {nick}: probe {probe}"))?;
            round_trips.saturating_record(sent.elapsed().as_micros().max(1) as u64);
            probe += 1;
            // Pacing, not a wait for readiness: a person types a line at
            // a time, and staying under the server's flood rate keeps
            // the bystander from being throttled itself.
            thread::sleep(interval);
        }
        Ok(())
    }

    /// Reads the welcome and takes `nick`.
    fn rename(&mut self, nick: &str) -> io::Result<()> {
        self.line.clear();
        self.reader.read_line(&mut self.line)?;
        let welcome = self.line.trim_end();
        let Some(guest) = welcome.strip_prefix("* welcome ").and_then(|rest| rest.split_once('!')).map(|(n, _)| n)
        else {
            return Err(io::Error::other(format!("expected a welcome, got {welcome:?}")));
        };
        let renamed = format!("* {guest} is now {nick}");
        self.writer.write_all(format!("/nick {nick}\n").as_bytes())?;
        self.read_until(&renamed)
    }
}
