//! The benchmark's own servers, `tokio_echo` (both runtimes) and
//! `mio_echo`, over real loopback sockets: each says where it listens and
//! echoes every byte, a large write and many connections alike.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server process, killed when the test ends however it ends.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(binary: &str, args: &[&str]) -> Server {
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{binary} should start: {err}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped")).read_line(&mut line).expect("a first line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line should be `listening on ADDR`, was {line:?}"))
        .parse()
        .expect("a socket address");
    Server { child, addr }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("set a read timeout");
    stream
}

/// 1 MiB through one connection (more than the socket buffers hold, so the
/// server has to wait for the writable edge), then 50 connections at once.
fn check_echo(server: &Server) {
    let mut stream = connect(server.addr);
    let sent: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let writer = {
        let mut stream = stream.try_clone().expect("clone the stream");
        let sent = sent.clone();
        std::thread::spawn(move || stream.write_all(&sent).expect("write everything"))
    };
    let mut echoed = vec![0u8; sent.len()];
    stream.read_exact(&mut echoed).expect("read the whole echo");
    writer.join().expect("writer thread");
    assert!(echoed == sent, "the 1 MiB echo differs from what was sent");

    let mut streams: Vec<TcpStream> = (0..50).map(|_| connect(server.addr)).collect();
    for (index, stream) in streams.iter_mut().enumerate() {
        stream.write_all(format!("hello {index}\n").as_bytes()).expect("write");
    }
    for (index, stream) in streams.iter_mut().enumerate() {
        let expected = format!("hello {index}\n");
        let mut echoed = vec![0u8; expected.len()];
        stream.read_exact(&mut echoed).expect("read the echo");
        assert_eq!(echoed, expected.as_bytes(), "connection {index} got another connection's bytes");
    }
}

#[test]
fn mio_echo_echoes() {
    check_echo(&start(env!("CARGO_BIN_EXE_mio_echo"), &[]));
}

#[test]
fn tokio_echo_current_thread_echoes() {
    check_echo(&start(env!("CARGO_BIN_EXE_tokio_echo"), &["--runtime", "current-thread"]));
}

#[test]
fn tokio_echo_multi_thread_echoes() {
    check_echo(&start(env!("CARGO_BIN_EXE_tokio_echo"), &["--runtime", "multi-thread"]));
}
