//! Memory per key: a million small keys written into a fresh server, its
//! RSS growth per key, and Redis's own `used_memory` growth beside it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use super::peers::{Binaries, Peer, Running};
use crate::procfs;

/// SETs written before their replies are read.
const BATCH: usize = 10_000;

/// What holding `keys` keys cost one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyMemory {
    pub(crate) peer: Peer,
    pub(crate) keys: usize,
    /// VmRSS growth over the load, per key.
    pub(crate) rss_per_key: f64,
    /// Redis's `used_memory` growth (what its allocator says it holds), per key.
    pub(crate) used_memory_per_key: Option<f64>,
}

/// Starts `peer`, writes `keys` keys `key:%012d` (redis-benchmark's key
/// shape for `-r`) with the value `xxx` (its default 3 bytes), and reads
/// its memory before and after.
pub(crate) fn measure(
    peer: Peer,
    binaries: &Binaries,
    cpu: Option<usize>,
    log: &Path,
    keys: usize,
) -> io::Result<KeyMemory> {
    let mut server = Running::start(peer, binaries, cpu, log)?;
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let used = |stream: &mut TcpStream| (peer == Peer::Redis).then(|| used_memory(stream)).transpose();
    let (rss_before, used_before) = (procfs::memory(server.pid())?.rss, used(&mut stream)?);
    let mut request = Vec::with_capacity(BATCH * 40);
    let mut replies = vec![0; BATCH * 5];
    for start in (0..keys).step_by(BATCH) {
        let count = BATCH.min(keys - start);
        request.clear();
        for key in start..start + count {
            request.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n$16\r\nkey:{key:012}\r\n$3\r\nxxx\r\n").as_bytes());
        }
        stream.write_all(&request)?;
        stream.read_exact(&mut replies[..count * 5])?;
        if replies[..count * 5].chunks(5).any(|reply| reply != b"+OK\r\n") {
            return Err(io::Error::other(format!("{} refused a SET while loading keys", peer.name())));
        }
    }
    let (rss_after, used_after) = (procfs::memory(server.pid())?.rss, used(&mut stream)?);
    if !server.is_running() {
        return Err(io::Error::other(format!("{} died while loading keys", peer.name())));
    }
    server.stop();
    let per_key = |before: u64, after: u64| (after as f64 - before as f64) / keys as f64;
    Ok(KeyMemory {
        peer,
        keys,
        rss_per_key: per_key(rss_before, rss_after),
        used_memory_per_key: used_before.zip(used_after).map(|(before, after)| per_key(before, after)),
    })
}

/// `used_memory` from `INFO memory`.
fn used_memory(stream: &mut TcpStream) -> io::Result<u64> {
    stream.write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")?;
    // A bulk string: `$LEN\r\n`, LEN bytes, `\r\n`.
    let mut header = Vec::new();
    let mut byte = [0];
    while !header.ends_with(b"\r\n") {
        stream.read_exact(&mut byte)?;
        header.push(byte[0]);
    }
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .ok()
        .and_then(|len| len.parse().ok())
        .ok_or_else(|| io::Error::other("INFO did not answer a bulk string"))?;
    let mut body = vec![0; len + 2];
    stream.read_exact(&mut body)?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| io::Error::other("INFO memory has no used_memory"))
}
