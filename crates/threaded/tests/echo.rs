//! The `threaded` binary over real loopback sockets: it says where it
//! listens and echoes every byte, on many connections at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server process, killed when the test ends however it ends.
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

fn start() -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_threaded"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the threaded binary starts");
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

#[test]
fn echoes_bytes_back_in_order() {
    let server = start();
    let mut stream = connect(server.addr);
    let sent: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut stream = stream.try_clone().expect("clone the stream");
        let sent = sent.clone();
        std::thread::spawn(move || stream.write_all(&sent).expect("write everything"))
    };
    let mut echoed = vec![0u8; sent.len()];
    stream.read_exact(&mut echoed).expect("read the whole echo");
    writer.join().expect("writer thread");
    assert!(echoed == sent, "the echo differs from what was sent");
}

#[test]
fn serves_many_connections_at_once() {
    let server = start();
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
