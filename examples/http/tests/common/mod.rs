//! What the http tests share: a server on its own loop thread, a `ureq`
//! agent, and a raw-socket client that reads responses byte-exactly, for
//! what a client library hides (pipelining, split writes, malformed heads).

#![allow(dead_code, unreachable_pub)] // each test file uses its own share

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use evloop::Config;
use evloop_tests::{Server, TIMEOUT};
use http::{Http, Settings};

/// An http server with `settings` and the loop `config`, on 127.0.0.1:0.
pub fn start_with_config(settings: Settings, config: Config) -> Server<Http> {
    let handler = Http::new(settings).expect("build the handler");
    Server::start(config, handler)
}

/// An http server with `settings`, on 127.0.0.1:0.
pub fn start_with(settings: Settings) -> Server<Http> {
    let config = settings.loop_config();
    start_with_config(settings, config)
}

/// An http server with nginx's defaults.
pub fn start() -> Server<Http> {
    start_with(Settings::default())
}

/// A `ureq` agent whose every wait is bounded.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().timeout(TIMEOUT).build()
}

/// A response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header fields, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, unchunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw connection that writes requests as given and reads responses
/// byte-exactly.
#[derive(Debug)]
pub struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    /// Connects to `addr`, every wait bounded by [`TIMEOUT`].
    #[track_caller]
    pub fn connect(addr: SocketAddr) -> Raw {
        Raw { reader: BufReader::new(evloop_tests::connect(addr)) }
    }

    /// The socket, to write on or shut down.
    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Writes `bytes` in one write.
    #[track_caller]
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream().write_all(bytes).expect("send to the server");
    }

    /// Reads one response to a request that was not `HEAD`.
    #[track_caller]
    pub fn response(&mut self) -> Response {
        self.read_response(false).unwrap_or_else(|err| panic!("no response: {err}"))
    }

    /// Reads one response to a `HEAD` (no body, whatever its length says).
    #[track_caller]
    pub fn head_response(&mut self) -> Response {
        self.read_response(true).unwrap_or_else(|err| panic!("no response: {err}"))
    }

    /// Reads one response, or the error that ended the stream first.
    pub fn read_response(&mut self, to_head: bool) -> io::Result<Response> {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0];
            if self.reader.read(&mut byte)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("end of file after {head:?}")));
            }
            head.push(byte[0]);
        }
        let text = String::from_utf8(head).expect("a response head is ASCII");
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap();
        let status = status_line.get(9..12).and_then(|code| code.parse().ok()).expect("a status code");
        let headers: Vec<(String, String)> = lines
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (name, value) = line.split_once(':').expect("a header line has a colon");
                (name.to_ascii_lowercase(), value.trim().to_string())
            })
            .collect();
        let mut response = Response { status, headers, body: Vec::new() };
        if to_head || status == 304 || status < 200 {
            return Ok(response);
        }
        if response.header("transfer-encoding") == Some("chunked") {
            response.body = self.read_chunked()?;
        } else if let Some(length) = response.header("content-length") {
            let length: usize = length.parse().expect("a numeric Content-Length");
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body)?;
            response.body = body;
        }
        Ok(response)
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "end of file inside a chunked body"));
            }
            let size = usize::from_str_radix(line.trim_end(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {line:?}")))?;
            if size == 0 {
                let mut end = String::new();
                self.reader.read_line(&mut end)?;
                assert_eq!(end, "\r\n", "the chunked body ends with an empty trailer section");
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            self.reader.read_exact(&mut body[start..])?;
            assert_eq!(&body[start + size..], b"\r\n", "a chunk's data ends with CRLF");
            body.truncate(start + size);
        }
    }

    /// Checks the server closed the connection: end of file (or a reset)
    /// with nothing more to read.
    #[track_caller]
    pub fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "bytes after the last response: {:?}", String::from_utf8_lossy(&rest)),
            Err(err) => assert!(
                matches!(err.kind(), io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted),
                "expected the server to close the connection, got {err}"
            ),
        }
    }

    /// Checks the connection is still open: another request is answered.
    #[track_caller]
    pub fn expect_open(&mut self) {
        self.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        let response = self.read_response(false).expect("the connection should still be open");
        assert_eq!(response.status, 200, "the request after should be answered");
    }
}

/// `GET path` with a Host header.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// A temporary directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh empty directory under the system's temp directory.
    pub fn new(label: &str) -> TempDir {
        let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("evloop-http-{label}-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `n` bytes of a pattern that shows any misplaced byte.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A deadline-bounded short pause between the slow client's reads (pacing,
/// not synchronisation).
pub const SLOW_READ_PAUSE: Duration = Duration::from_millis(1);
