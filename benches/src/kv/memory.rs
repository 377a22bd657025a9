//! Memory per key and per element: a million small keys, or a list, a
//! hash or a set of a million elements, written into a fresh server; its
//! RSS growth per key or element, and the server's own `used_memory`
//! growth beside it (Redis's allocator's count, kv's counting allocator).

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use super::peers::{Binaries, Peer, Running};
use crate::procfs;

/// SETs written before their replies are read.
const BATCH: usize = 10_000;

/// Elements per command for the containers (one RPUSH, HSET or SADD).
const ELEMENTS_PER_COMMAND: usize = 1_000;

/// What is written: many keys, or one container of many elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `SET key:%012d xxx`.
    Keys,
    /// `RPUSH list element:%012d`.
    List,
    /// `HSET hash field:%012d xxx`.
    Hash,
    /// `SADD set member:%012d`.
    Set,
}

impl Shape {
    pub(crate) const ALL: [Shape; 4] = [Shape::Keys, Shape::List, Shape::Hash, Shape::Set];

    /// What one is called in the report.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Shape::Keys => "keys",
            Shape::List => "list elements",
            Shape::Hash => "hash fields",
            Shape::Set => "set members",
        }
    }

    /// What is written, for the report.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Shape::Keys => "SET key:%012d xxx",
            Shape::List => "RPUSH list element:%012d",
            Shape::Hash => "HSET hash field:%012d xxx",
            Shape::Set => "SADD set member:%012d",
        }
    }

    /// The commands writing elements `from..to`, and how many replies.
    fn commands(self, from: usize, to: usize, out: &mut Vec<u8>) -> usize {
        let bulk =
            |out: &mut Vec<u8>, text: &str| out.extend_from_slice(format!("${}\r\n{text}\r\n", text.len()).as_bytes());
        match self {
            Shape::Keys => {
                for key in from..to {
                    out.extend_from_slice(b"*3\r\n$3\r\nSET\r\n");
                    bulk(out, &format!("key:{key:012}"));
                    bulk(out, "xxx");
                }
                to - from
            }
            _ => {
                let mut replies = 0;
                for start in (from..to).step_by(ELEMENTS_PER_COMMAND) {
                    let end = (start + ELEMENTS_PER_COMMAND).min(to);
                    let per_element = if self == Shape::Hash { 2 } else { 1 };
                    out.extend_from_slice(format!("*{}\r\n", 2 + (end - start) * per_element).as_bytes());
                    let (command, key) = match self {
                        Shape::List => ("RPUSH", "list"),
                        Shape::Hash => ("HSET", "hash"),
                        _ => ("SADD", "set"),
                    };
                    bulk(out, command);
                    bulk(out, key);
                    for element in start..end {
                        match self {
                            Shape::List => bulk(out, &format!("element:{element:012}")),
                            Shape::Hash => {
                                bulk(out, &format!("field:{element:012}"));
                                bulk(out, "xxx");
                            }
                            _ => bulk(out, &format!("member:{element:012}")),
                        }
                    }
                    replies += 1;
                }
                replies
            }
        }
    }
}

/// What holding `keys` keys (or container elements) cost one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyMemory {
    pub(crate) peer: Peer,
    pub(crate) shape: Shape,
    pub(crate) keys: usize,
    /// VmRSS growth over the load, per key.
    pub(crate) rss_per_key: f64,
    /// `used_memory` growth (what the allocator says the server holds), per key.
    pub(crate) used_memory_per_key: Option<f64>,
}

/// Starts `peer`, writes `keys` keys `key:%012d` (redis-benchmark's key
/// shape for `-r`) with the value `xxx` (its default 3 bytes), or as many
/// elements into one container, and reads its memory before and after.
pub(crate) fn measure(
    peer: Peer,
    shape: Shape,
    binaries: &Binaries,
    cpu: Option<usize>,
    log: &Path,
    keys: usize,
) -> io::Result<KeyMemory> {
    let mut server = Running::start(peer, binaries, cpu, log)?;
    let mut stream = TcpStream::connect(("127.0.0.1", server.port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nodelay(true)?;
    let used = |stream: &mut TcpStream| (peer != Peer::MiniRedis).then(|| used_memory(stream)).transpose();
    let (rss_before, used_before) = (procfs::memory(server.pid())?.rss, used(&mut stream)?);
    let mut request = Vec::with_capacity(BATCH * 40);
    let mut reader = io::BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    for start in (0..keys).step_by(BATCH) {
        request.clear();
        let replies = shape.commands(start, (start + BATCH).min(keys), &mut request);
        stream.write_all(&request)?;
        for _ in 0..replies {
            line.clear();
            reader.read_line(&mut line)?;
            if !(line == "+OK\r\n" || line.starts_with(':')) {
                return Err(io::Error::other(format!("{} refused a write while loading: {line:?}", peer.name())));
            }
        }
    }
    drop(reader);
    let (rss_after, used_after) = (procfs::memory(server.pid())?.rss, used(&mut stream)?);
    if !server.is_running() {
        return Err(io::Error::other(format!("{} died while loading keys", peer.name())));
    }
    server.stop();
    let per_key = |before: u64, after: u64| (after as f64 - before as f64) / keys as f64;
    Ok(KeyMemory {
        peer,
        shape,
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
