//! Heap held per idle TLS session: what rustls keeps for a connection
//! after its handshake and an exchange, which is what an idle evloop TLS
//! connection holds beyond its plaintext record (evloop adds no buffer).
//!
//! ```text
//! cargo run --release -p bench --bin tls_idle_heap -- --sessions 2000
//! ```
//!
//! It runs `--sessions` handshakes in memory (server and client sessions
//! talking through byte vectors, no sockets), each followed by a 100-byte
//! request and its echo, and with `--bulk` a 40,000-byte request too; drops
//! the clients and keeps the server sessions, boxed as evloop boxes them.
//! The heap is measured with glibc's `mallinfo2` (bytes in use), which
//! counts AWS-LC's C allocations as well as Rust's. It prints the bytes per
//! idle server session, and `size_of::<ServerConnection>()`.

use std::io::{self, Read, Write};

use clap::Parser;
use evloop::tls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use evloop::tls::rustls::{ClientConnection, Connection, RootCertStore, ServerConnection};

/// Heap per idle rustls server session.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Server sessions to keep.
    #[arg(long, default_value_t = 2000)]
    sessions: usize,
    /// Also send 40,000 bytes client to server in each session (records
    /// of the largest size pass through rustls's buffers).
    #[arg(long)]
    bulk: bool,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).map_err(io::Error::other)?;
    let cert = made.cert.der().clone();
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let server_config = evloop::tls::server_config(vec![cert.clone()], key)?;
    let mut roots = RootCertStore::empty();
    roots.add(cert).map_err(io::Error::other)?;
    let client_config = evloop::tls::client_config(roots)?;
    let name = ServerName::try_from("localhost").map_err(io::Error::other)?;

    let mut kept: Vec<Box<Connection>> = Vec::with_capacity(args.sessions);
    let before = heap_in_use();
    for _ in 0..args.sessions {
        let mut server =
            Box::new(Connection::Server(ServerConnection::new(server_config.clone()).map_err(io::Error::other)?));
        server.set_buffer_limit(None);
        let mut client =
            Connection::Client(ClientConnection::new(client_config.clone(), name.clone()).map_err(io::Error::other)?);
        exchange(&mut client, &mut server, 100)?;
        if args.bulk {
            exchange(&mut client, &mut server, 40_000)?;
        }
        drop(client);
        // As `TlsSession::read_tls` does once the socket is drained: a read
        // that finds nothing lets rustls shrink its incoming buffer to 4 KiB.
        let _ = server.read_tls(&mut Empty);
        kept.push(server);
    }
    let after = heap_in_use();
    let per_session = after.saturating_sub(before) / args.sessions;
    println!(
        "{} idle server sessions: {per_session} B of heap each (size_of ServerConnection = {} B, included)",
        args.sessions,
        std::mem::size_of::<ServerConnection>()
    );
    drop(kept);
    Ok(())
}

/// The client sends `len` bytes, the server echoes them; each side takes
/// plaintext out after every read, as evloop's loop does.
fn exchange(client: &mut Connection, server: &mut Connection, len: usize) -> io::Result<()> {
    client.writer().write_all(&vec![7u8; len])?;
    let (at_server, _) = pump(client, server)?;
    server.writer().write_all(&at_server)?;
    let (_, at_client) = pump(client, server)?;
    if at_client.len() != len {
        return Err(io::Error::other(format!("echoed {} bytes of {len}", at_client.len())));
    }
    Ok(())
}

/// Moves records both ways until neither side has any to send (bounded);
/// returns the plaintext each side received: the server's, the client's.
fn pump(client: &mut Connection, server: &mut Connection) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let (mut at_server, mut at_client) = (Vec::new(), Vec::new());
    for _ in 0..64 {
        let moved = transfer(client, server, &mut at_server)? + transfer(server, client, &mut at_client)?;
        if moved == 0 {
            return Ok((at_server, at_client));
        }
    }
    Err(io::Error::other("the sessions kept talking after 64 rounds"))
}

/// Writes `from`'s records into `to`, taking plaintext out into
/// `plaintext` as it arrives; returns the bytes of records moved.
fn transfer(from: &mut Connection, to: &mut Connection, plaintext: &mut Vec<u8>) -> io::Result<usize> {
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire)?;
    }
    let mut rest = &wire[..];
    let mut buf = [0u8; 16 * 1024];
    while !rest.is_empty() {
        to.read_tls(&mut rest)?;
        to.process_new_packets().map_err(io::Error::other)?;
        loop {
            match to.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => plaintext.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(wire.len())
}

/// A socket with nothing to read.
struct Empty;

impl Read for Empty {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

/// Bytes the allocator has handed out and not taken back (glibc).
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 reads the allocator's counters; no pointers.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks
}
