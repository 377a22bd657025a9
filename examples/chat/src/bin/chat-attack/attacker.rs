//! The hostile clients: each runs on threads of its own, blocking, and
//! reads whatever the server sends it so that only its input is the attack.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What an attack left running: connections to hold until the measurement
/// ends, and threads to join.
pub(crate) struct Running {
    held: Vec<TcpStream>,
    threads: Vec<JoinHandle<io::Result<()>>>,
    /// A line summing up what the attacker did.
    pub(crate) summary: String,
}

impl Running {
    /// Closes what the attack holds and waits for its threads.
    pub(crate) fn finish(self) -> io::Result<()> {
        for stream in &self.held {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        drop(self.held);
        for thread in self.threads {
            thread.join().expect("an attacker thread panicked")?;
        }
        Ok(())
    }
}

/// Reads and drops everything the server sends on `stream` until it closes.
fn drain(stream: &TcpStream) -> io::Result<JoinHandle<io::Result<()>>> {
    let mut reader = stream.try_clone()?;
    Ok(thread::spawn(move || {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }))
}

/// The nick the n-th rename of the nick flood takes.
pub(crate) fn renamed(n: usize) -> String {
    format!("x{n}")
}

/// One client writes `renames` `/nick` lines in a single write.
pub(crate) fn nick_flood(server: SocketAddr, renames: usize) -> io::Result<Running> {
    let mut stream = TcpStream::connect(server)?;
    stream.set_nodelay(true)?;
    let drainer = drain(&stream)?;
    let burst: String = (0..renames).map(|n| format!("/nick {}\n", renamed(n))).collect();
    stream.write_all(burst.as_bytes())?;
    let summary = format!("{renames} /nick lines in one {:.1} KB write", burst.len() as f64 / 1000.0);
    Ok(Running { held: vec![stream], threads: vec![drainer], summary })
}

/// `connects` connections opened as fast as the kernel takes them, then
/// left idle: they never write and never read.
pub(crate) fn connect_burst(server: SocketAddr, connects: usize) -> io::Result<Running> {
    let started = Instant::now();
    let held = (0..connects).map(|_| TcpStream::connect(server)).collect::<io::Result<Vec<_>>>()?;
    let summary = format!("{connects} idle connections opened in {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
    Ok(Running { held, threads: Vec::new(), summary })
}

/// The line the spammer ends with, once its time is up.
pub(crate) const SPAM_END: &str = "spam end";

/// One client, nick `spammer`, writes numbered lines as fast as the server
/// takes them for `duration`, then [`SPAM_END`] (given up to `max_wait`
/// to go through).
pub(crate) fn line_flood(server: SocketAddr, duration: Duration, max_wait: Duration) -> io::Result<Running> {
    let mut stream = TcpStream::connect(server)?;
    stream.set_nodelay(true)?;
    stream.write_all(b"/nick spammer\n")?;
    let drainer = drain(&stream)?;
    let held = stream.try_clone()?;
    // A short write timeout, so the writer notices the end of its time
    // even while the server holds its input back.
    stream.set_write_timeout(Some(Duration::from_millis(100)))?;
    let writer = thread::spawn(move || {
        let started = Instant::now();
        let mut next = 0u64;
        let mut pending: Vec<u8> = Vec::new();
        let mut ending = false;
        loop {
            if pending.is_empty() {
                if ending {
                    return Ok(());
                }
                if started.elapsed() < duration {
                    for _ in 0..1000 {
                        pending.extend_from_slice(format!("spam {next}\n").as_bytes());
                        next += 1;
                    }
                } else {
                    pending.extend_from_slice(format!("{SPAM_END}\n").as_bytes());
                    ending = true;
                }
            }
            if started.elapsed() > duration + max_wait {
                return Ok(());
            }
            match stream.write(&pending) {
                Ok(n) => _ = pending.drain(..n),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                // Disconnected for flooding: the attack is over.
                Err(_) => return Ok(()),
            }
        }
    });
    let summary = format!("one client writing lines as fast as it can for {} s", duration.as_secs_f64());
    Ok(Running { held: vec![held], threads: vec![drainer, writer], summary })
}
