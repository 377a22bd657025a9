//! The hostile peers, each a thread repeating its attack until the soak
//! ends: floods that never read, slowloris, resets mid-transfer, garbage,
//! connect/close churn and urgent data. What they get back is not checked;
//! what they do to the well-behaved clients and the servers is.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::Rng;

/// The longest one attack goes on: past the servers' default write (30 s)
/// and line (30 s) timeouts, so each has its chance to cut it off.
const LONGEST_ATTACK: Duration = Duration::from_secs(40);

/// How long a hostile peer blocks on one read or write, which bounds how
/// late it notices the end of the soak.
const STEP: Duration = Duration::from_millis(500);

/// One kind of hostile peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hostile {
    /// Sends without end (lines, for the chat) and never reads.
    Flood,
    /// A byte every half second, never a newline, never a read.
    Slowloris,
    /// Sends 256 KiB, reads a little, resets.
    ResetMidTransfer,
    /// Random bytes: NULs, bytes that are not UTF-8, long lines.
    Garbage,
    /// Connects and closes at once, half with a reset; a chat tourist reads
    /// the welcome and says hello first.
    Churn,
    /// Urgent (out-of-band) data between ordinary bytes.
    Urgent,
}

impl Hostile {
    /// Every kind, and how many peers of it attack each server.
    pub(crate) const ALL: [(Hostile, usize); 6] = [
        (Hostile::Flood, 2),
        (Hostile::Slowloris, 2),
        (Hostile::ResetMidTransfer, 1),
        (Hostile::Garbage, 1),
        (Hostile::Churn, 1),
        (Hostile::Urgent, 1),
    ];

    /// Short name for the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Hostile::Flood => "flood",
            Hostile::Slowloris => "slowloris",
            Hostile::ResetMidTransfer => "reset",
            Hostile::Garbage => "garbage",
            Hostile::Churn => "churn",
            Hostile::Urgent => "urgent",
        }
    }
}

/// Starts one peer of `kind` against `addr` (`chat`: the chat server) on its
/// own thread, attacking again and again until `until`; the thread returns
/// how many attacks it made. Errors end an attack, never the peer: the
/// servers are meant to cut these peers off.
pub(crate) fn start(kind: Hostile, addr: SocketAddr, chat: bool, seed: u64, until: Instant) -> JoinHandle<u64> {
    thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut attacks = 0;
        while Instant::now() < until {
            attacks += 1;
            let _ = attack(kind, addr, chat, &mut rng, until);
            let pause = if kind == Hostile::Churn { 50 } else { 200 };
            thread::sleep(Duration::from_millis(pause));
        }
        attacks
    })
}

fn attack(kind: Hostile, addr: SocketAddr, chat: bool, rng: &mut Rng, until: Instant) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(STEP))?;
    stream.set_write_timeout(Some(STEP))?;
    let end = until.min(Instant::now() + Duration::from_secs(5 + rng.below(LONGEST_ATTACK.as_secs() - 4)));
    match kind {
        Hostile::Flood => {
            let chunk = if chat {
                b"flood flood flood flood flood flood flood flood flood\n".repeat(1024)
            } else {
                vec![0xf1; 64 * 1024]
            };
            while Instant::now() < end {
                match stream.write(&chunk) {
                    Ok(_) => {}
                    Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(err) => return Err(err), // cut off
                }
            }
            reset(&stream)?;
        }
        Hostile::Slowloris => {
            while Instant::now() < end {
                stream.write_all(b"z")?;
                thread::sleep(STEP);
            }
        }
        Hostile::ResetMidTransfer => {
            let chunk = if chat { b"mid transfer\n".repeat(20_000) } else { vec![0x4d; 256 * 1024] };
            let _ = stream.write_all(&chunk);
            let _ = stream.read(&mut [0; 1024]);
            reset(&stream)?;
        }
        Hostile::Garbage => {
            let len = 1 + rng.below(64 * 1024) as usize;
            let mut garbage: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if rng.below(4) == 0 {
                garbage.extend(std::iter::repeat_n(0xff, 100_000)); // a line far past any limit
            }
            let _ = stream.write_all(&garbage);
            drain(&mut stream, Instant::now() + Duration::from_secs(1 + rng.below(3)));
            if rng.below(2) == 0 {
                reset(&stream)?;
            }
        }
        Hostile::Churn => {
            if chat && rng.below(2) == 0 {
                let _ = stream.read(&mut [0; 256]); // the welcome
                stream.write_all(b"hello, and goodbye\n")?;
            }
            if rng.below(2) == 0 {
                reset(&stream)?;
            }
        }
        Hostile::Urgent => {
            let (before, after): (&[u8], &[u8]) =
                if chat { (b"urgent ", b"data\n") } else { (b"0123456789", b"9876543210") };
            stream.write_all(before)?;
            SockRef::from(&stream).send_out_of_band(b"!")?;
            stream.write_all(after)?;
            drain(&mut stream, Instant::now() + Duration::from_secs(1));
        }
    }
    Ok(())
}

/// Makes the close a reset (linger 0), as a vanishing peer's is.
fn reset(stream: &TcpStream) -> io::Result<()> {
    SockRef::from(stream).set_linger(Some(Duration::ZERO))
}

/// Reads and drops what comes until `deadline` or the end of the stream.
fn drain(stream: &mut TcpStream, deadline: Instant) {
    let mut buf = [0; 16 * 1024];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}
