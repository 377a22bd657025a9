//! The clients whose every byte is checked: echo clients that come and go,
//! and chat members that talk all through the soak.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::Rng;

/// How long a well-behaved client waits on one read or write before the
/// server is declared stuck.
const STUCK: Duration = Duration::from_secs(10);

/// Largest echo message: echo and reply fit in loopback's socket buffers,
/// so a blocking write-then-read cannot deadlock.
const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// Lines a chat member says per second, well under the chat server's
/// default flood limit of 10.
const CHAT_LINES_PER_SEC: u64 = 4;

/// What the well-behaved clients verified, and what went wrong.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Echo bytes sent and received back byte for byte.
    pub(crate) echo_bytes: AtomicU64,
    /// Echo connections opened.
    pub(crate) echo_connections: AtomicU64,
    /// Chat lines heard by a member, each once and in order.
    pub(crate) chat_lines_heard: AtomicU64,
    /// Chat lines said.
    pub(crate) chat_lines_said: AtomicU64,
    /// Everything a well-behaved client saw go wrong.
    pub(crate) failures: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, failure: String) {
        self.failures.lock().expect("no thread panics holding the tally").push(failure);
    }
}

/// Starts an echo client on its own thread: until `until`, it connects,
/// sends a random number of messages of random sizes, each checked byte for
/// byte when it comes back, and leaves at random: with a FIN, with a reset,
/// or with a reset right after a message it never reads back.
pub(crate) fn echo_client(addr: SocketAddr, seed: u64, until: Instant, tally: Arc<Tally>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut connection = 0u64;
        while Instant::now() < until {
            connection += 1;
            tally.echo_connections.fetch_add(1, Ordering::Relaxed);
            if let Err(err) = echo_session(addr, &mut rng, until, &tally) {
                tally.fail(format!("echo client {seed}, connection {connection}: {err}"));
                // One failure is enough to report; a broken server would
                // otherwise fill the list.
                return;
            }
        }
    })
}

fn echo_session(addr: SocketAddr, rng: &mut Rng, until: Instant, tally: &Tally) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, STUCK)?;
    stream.set_read_timeout(Some(STUCK))?;
    stream.set_write_timeout(Some(STUCK))?;
    let messages = 1 + rng.below(200);
    let mut reply = vec![0; MAX_MESSAGE_BYTES];
    for _ in 0..messages {
        if Instant::now() >= until {
            break;
        }
        let len = 1 + rng.below(MAX_MESSAGE_BYTES as u64) as usize;
        let message: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        stream.write_all(&message)?;
        let reply = &mut reply[..len];
        stream
            .read_exact(reply)
            .map_err(|err| io::Error::new(err.kind(), format!("reading a {len}-byte echo: {err}")))?;
        if let Some(at) = message.iter().zip(reply.iter()).position(|(sent, got)| sent != got) {
            return Err(io::Error::new(ErrorKind::InvalidData, format!("echo differs at byte {at} of {len}")));
        }
        tally.echo_bytes.fetch_add(len as u64, Ordering::Relaxed);
    }
    match rng.below(3) {
        0 => {
            stream.shutdown(Shutdown::Write)?;
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest)?;
            if !rest.is_empty() {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    format!("{} bytes after the last echo", rest.len()),
                ));
            }
        }
        1 => SockRef::from(&stream).set_linger(Some(Duration::ZERO))?,
        _ => {
            // A reset mid-transfer: a message out, its echo never read.
            stream.write_all(&[0x5a; 4096])?;
            SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
        }
    }
    Ok(())
}

/// A chat member: joined, its nick known.
#[derive(Debug)]
struct Member {
    nick: String,
    stream: TcpStream,
}

/// Joins `count` members to the chat server at `addr` and starts them: each
/// says `soak N` (N from 0) every quarter second until `until`, and reads
/// on its own thread, checking that every other member's lines come
/// exactly once and in order. After `until` each reader waits (at most
/// `settle`) for the last line of every other member, then leaves.
pub(crate) fn chat_members(
    addr: SocketAddr,
    count: usize,
    until: Instant,
    settle: Duration,
    tally: Arc<Tally>,
) -> io::Result<Vec<JoinHandle<()>>> {
    let mut members = Vec::with_capacity(count);
    for _ in 0..count {
        members.push(join(addr)?);
    }
    let nicks: Arc<Vec<String>> = Arc::new(members.iter().map(|m| m.nick.clone()).collect());
    let said: Arc<Vec<AtomicU64>> = Arc::new((0..count).map(|_| AtomicU64::new(0)).collect());
    let done = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (index, member) in members.iter().enumerate() {
        let reader = BufReader::new(member.stream.try_clone()?);
        let (nicks, said, done, tally) = (nicks.clone(), said.clone(), done.clone(), tally.clone());
        threads.push(thread::spawn(move || {
            let stream = reader.get_ref().try_clone();
            if let Err(err) = listen(reader, index, &nicks, &said, &done, settle, &tally) {
                tally.fail(format!("chat member {}: {err}", nicks[index]));
            }
            // Leave now, whatever the talking thread still holds.
            if let Ok(stream) = stream {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }));
    }
    threads.push(thread::spawn(move || {
        let period = Duration::from_millis(1000 / CHAT_LINES_PER_SEC);
        let mut next = Instant::now();
        let mut writers = members;
        'talk: for n in 0u64.. {
            if Instant::now() >= until {
                break;
            }
            for (index, member) in writers.iter_mut().enumerate() {
                if let Err(err) = member.stream.write_all(format!("soak {n}\n").as_bytes()) {
                    tally.fail(format!("chat member {} could not say line {n}: {err}", member.nick));
                    break 'talk;
                }
                said[index].store(n + 1, Ordering::SeqCst);
                tally.chat_lines_said.fetch_add(1, Ordering::Relaxed);
            }
            next += period;
            thread::sleep(next.saturating_duration_since(Instant::now()));
        }
        done.store(true, Ordering::SeqCst);
        // Each reader shuts its member's connection down when it is done.
        drop(writers);
    }));
    Ok(threads)
}

fn join(addr: SocketAddr) -> io::Result<Member> {
    let stream = TcpStream::connect_timeout(&addr, STUCK)?;
    stream.set_read_timeout(Some(STUCK))?;
    stream.set_write_timeout(Some(STUCK))?;
    let mut welcome = String::new();
    BufReader::new(stream.try_clone()?).take(4096).read_line(&mut welcome)?;
    let nick = welcome.strip_prefix("* welcome ").and_then(|rest| rest.split_once('!')).map(|(nick, _)| nick);
    let nick =
        nick.ok_or_else(|| io::Error::new(ErrorKind::InvalidData, format!("expected a welcome, got {welcome:?}")))?;
    Ok(Member { nick: nick.to_string(), stream })
}

/// Member `me` reads until every other member's last line has come once the
/// talking is `done`; any line of theirs out of order is a failure, and so
/// is an `ERR` addressed to `me` or being disconnected.
fn listen(
    mut reader: BufReader<TcpStream>,
    me: usize,
    nicks: &[String],
    said: &[AtomicU64],
    done: &AtomicBool,
    settle: Duration,
    tally: &Tally,
) -> io::Result<()> {
    reader.get_ref().set_read_timeout(Some(Duration::from_millis(500)))?;
    let prefixes: Vec<String> = nicks.iter().map(|nick| format!("{nick}: ")).collect();
    let mut heard = vec![0u64; nicks.len()];
    let mut line = Vec::new();
    let mut last_heard = Instant::now();
    let mut settle_deadline = None;
    loop {
        let all_heard = (0..nicks.len()).all(|s| s == me || heard[s] == said[s].load(Ordering::SeqCst));
        if done.load(Ordering::SeqCst) {
            let deadline = *settle_deadline.get_or_insert_with(|| Instant::now() + settle);
            if all_heard {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!("missing lines: heard {heard:?}, said {said:?}"),
                ));
            }
        } else if !all_heard && last_heard.elapsed() > STUCK {
            return Err(io::Error::new(ErrorKind::TimedOut, format!("heard nothing new for {STUCK:?}: {heard:?}")));
        }
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Err(io::Error::new(ErrorKind::UnexpectedEof, "disconnected by the server")),
            Ok(_) if line.ends_with(b"\n") => {}
            Ok(_) => continue,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(err) => return Err(err),
        }
        let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
        line.clear();
        if text.starts_with("ERR ") {
            return Err(io::Error::other(format!("told {text:?}")));
        }
        let Some((from, rest)) =
            prefixes.iter().enumerate().find_map(|(s, p)| Some((s, text.strip_prefix(p.as_str())?)))
        else {
            continue; // the hostile peers' lines and notices
        };
        let wanted = format!("soak {}", heard[from]);
        if from == me || rest != wanted {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("heard {text:?}, wanted {}{wanted}", prefixes[from]),
            ));
        }
        heard[from] += 1;
        last_heard = Instant::now();
        tally.chat_lines_heard.fetch_add(1, Ordering::Relaxed);
    }
}
