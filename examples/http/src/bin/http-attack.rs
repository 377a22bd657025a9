//! Hostile HTTP clients against the http server, while well-behaved ones
//! time their requests: what each attacker gets, and what the others see.
//!
//! ```text
//! cargo run --release -p http --bin http-attack                 # every case, 5 s each
//! cargo run --release -p http --bin http-attack -- --seconds 10 # longer cases
//! ```
//!
//! The server runs in this process on its own loop thread, on 127.0.0.1:0,
//! with nginx's limits but short timeouts (2 s for the header, body and
//! send timeouts), so the timeouts fire within a case. Bystanders: 16
//! keep-alive connections, each doing `GET /` round trips back to back.
//! For each case it prints the attacker's outcome and the bystanders'
//! requests, worst and p99 round trip, and errors, as a Markdown table.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use evloop::EventLoop;
use http::{Http, Settings};

/// Hostile HTTP clients against the http server while bystanders time their requests.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds each case runs (the attacker may be done sooner).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Bystander connections.
    #[arg(long, default_value_t = 16)]
    bystanders: usize,
}

/// One hostile case: runs against the server at an address for about a
/// window, and says what it got.
type Attack = fn(SocketAddr, Duration) -> String;

/// The longest any single read or write of this tool may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> io::Result<()> {
    let args = Args::parse();
    let root = std::env::temp_dir().join(format!("evloop-http-attack-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    std::fs::write(root.join("index.html"), "<h1>hi</h1>\n")?;
    let _ = std::os::unix::fs::symlink("/etc/hostname", root.join("out"));
    let short = Duration::from_secs(2);
    let settings = Settings {
        root: Some(root.clone()),
        header_timeout: short,
        body_timeout: short,
        send_timeout: short,
        ..Settings::default()
    };
    let config = settings.loop_config();
    let handler = Http::new(settings)?;
    let mut el = EventLoop::new(config, handler)?;
    let addr = el.listen("127.0.0.1:0".parse().expect("a loopback address"))?;
    let handle = el.handle();
    let server = thread::spawn(move || el.run());
    let window = Duration::from_secs(args.seconds);
    println!("| Hostile client | What it got | Bystander requests | worst / p99 ms | bystander errors |");
    println!("|---|---|---:|---:|---:|");
    let cases: [(&str, Attack); 7] = [
        ("none (baseline)", |_, window| {
            thread::sleep(window);
            "-".into()
        }),
        ("200 heads, one byte a second each (slowloris)", slowloris),
        ("100 KiB of headers", |addr, _| oversize_head(addr, big_header())),
        ("10,000 headers", |addr, _| oversize_head(addr, many_headers())),
        ("a body that declares 10 GB, then stalls", declared_10_gb),
        ("10,000 pipelined requests, never reads", pipelined_never_reads),
        ("path escapes: `..`, `%2e%2e`, a symlink out", path_escapes),
    ];
    for (name, attack) in cases {
        let stop = Arc::new(AtomicBool::new(false));
        let bystanders: Vec<_> = (0..args.bystanders)
            .map(|_| {
                let stop = stop.clone();
                thread::spawn(move || bystander(addr, &stop))
            })
            .collect();
        let started = Instant::now();
        let outcome = attack(addr, window);
        // Bystanders run at least the window, so every case is measured alike.
        while started.elapsed() < window {
            thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        let mut rtts = Vec::new();
        let mut errors = 0;
        for bystander in bystanders {
            let (mut times, failed) = bystander.join().expect("a bystander thread panicked");
            rtts.append(&mut times);
            errors += failed;
        }
        rtts.sort();
        let ms = |d: Option<&Duration>| d.map_or(0.0, |d| d.as_secs_f64() * 1e3);
        let p99 = rtts.get(rtts.len().saturating_mul(99) / 100);
        println!("| {name} | {outcome} | {} | {:.1} / {:.1} | {errors} |", rtts.len(), ms(rtts.last()), ms(p99));
    }
    let _ = handle.stop();
    let _ = server.join();
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// `GET /` round trips on one keep-alive connection until `stop`; the
/// round trips and the failures (a failure reconnects).
fn bystander(addr: SocketAddr, stop: &AtomicBool) -> (Vec<Duration>, u64) {
    let mut times = Vec::new();
    let mut errors = 0;
    let mut connection = None;
    while !stop.load(Ordering::Relaxed) {
        let stream = match connection.take() {
            Some(stream) => stream,
            None => match connect(addr) {
                Ok(stream) => stream,
                Err(_) => {
                    errors += 1;
                    continue;
                }
            },
        };
        let started = Instant::now();
        match round_trip(stream) {
            Ok(stream) => {
                times.push(started.elapsed());
                connection = Some(stream);
            }
            Err(_) => errors += 1,
        }
    }
    (times, errors)
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn round_trip(mut stream: TcpStream) -> io::Result<TcpStream> {
    stream.write_all(b"GET / HTTP/1.1\r\nHost: bystander\r\n\r\n")?;
    let mut answer = Vec::with_capacity(160);
    let mut buf = [0; 512];
    while !answer.ends_with(b"Hello, World!") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        answer.extend_from_slice(&buf[..n]);
    }
    Ok(stream)
}

/// The status of the first response on `stream`, and whether the server
/// then closed the connection.
fn status_then_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break "then closed",
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(err) if err.kind() == io::ErrorKind::ConnectionReset => break "then reset",
            Err(_) => break "still open",
        }
    };
    let status = String::from_utf8_lossy(answer.get(9..12).unwrap_or(b"none")).into_owned();
    format!("{status}, {closed}")
}

fn slowloris(addr: SocketAddr, window: Duration) -> String {
    let started = Instant::now();
    let mut open: Vec<TcpStream> = (0..200)
        .filter_map(|_| connect(addr).ok())
        .filter_map(|mut stream| stream.write_all(b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ").ok().map(|_| stream))
        .collect();
    for stream in &open {
        let _ = stream.set_nonblocking(true);
    }
    let mut closed_at = None;
    while started.elapsed() < window && !open.is_empty() {
        thread::sleep(Duration::from_secs(1));
        open.retain_mut(|stream| {
            let mut probe = [0; 64];
            let closed = match stream.read(&mut probe) {
                Ok(0) => true,
                Ok(_) => false,
                Err(err) => err.kind() != io::ErrorKind::WouldBlock,
            };
            !closed && stream.write_all(b"s").is_ok()
        });
        if open.is_empty() {
            closed_at = Some(started.elapsed());
        }
    }
    match closed_at {
        Some(at) => format!("all 200 closed by the header timeout (2 s here) within {:.1} s", at.as_secs_f64()),
        None => format!("{} of 200 still open after {:.0} s", open.len(), window.as_secs_f64()),
    }
}

fn big_header() -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: big\r\nX-Big: {}\r\n\r\n", "b".repeat(100 * 1024)).into_bytes()
}

fn many_headers() -> Vec<u8> {
    let headers: String = (0..10_000).map(|i| format!("X-{i}: y\r\n")).collect();
    format!("GET / HTTP/1.1\r\nHost: many\r\n{headers}\r\n").into_bytes()
}

fn oversize_head(addr: SocketAddr, request: Vec<u8>) -> String {
    let Ok(mut stream) = connect(addr) else { return "could not connect".into() };
    let mut writer = stream.try_clone().expect("clone a socket");
    // The server answers at 32 KiB and closes: the rest of the write may fail.
    let sender = thread::spawn(move || writer.write_all(&request));
    let outcome = status_then_closed(&mut stream);
    let _ = sender.join();
    outcome
}

fn declared_10_gb(addr: SocketAddr, _window: Duration) -> String {
    let Ok(mut stream) = connect(addr) else { return "could not connect".into() };
    let _ = stream.write_all(b"POST /echo HTTP/1.1\r\nHost: big\r\nContent-Length: 10000000000\r\n\r\nfirst bytes");
    let declared = status_then_closed(&mut stream);
    // Within the limit, then stalled: the body timeout.
    let Ok(mut stream) = connect(addr) else { return declared };
    let started = Instant::now();
    let _ = stream.write_all(b"POST /echo HTTP/1.1\r\nHost: stall\r\nContent-Length: 1000\r\n\r\nten bytes.");
    let stalled = status_then_closed(&mut stream);
    format!(
        "10 GB declared: {declared}; 1,000 declared, 10 sent: {stalled} after {:.1} s (body timeout, 2 s here)",
        started.elapsed().as_secs_f64()
    )
}

/// A connection whose 4 KiB receive buffer is set before connecting, so
/// the window is small from the start.
fn connect_small_window(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.set_recv_buffer_size(4096)?;
    socket.connect(&addr.into())?;
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

fn pipelined_never_reads(addr: SocketAddr, window: Duration) -> String {
    const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: pipe\r\n\r\n";
    // 10,000: written, not read for half the window, then read.
    let Ok(mut stream) = connect_small_window(addr) else { return "could not connect".into() };
    let mut writer = stream.try_clone().expect("clone a socket");
    let sender = thread::spawn(move || writer.write_all(&REQUEST.repeat(10_000)));
    thread::sleep(window / 2);
    let mut answered = 0;
    let mut tail: Vec<u8> = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    while answered < 10_000 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                answered += tail.windows(13).filter(|w| *w == b"Hello, World!").count();
                let keep = tail.len().min(12);
                tail.drain(..tail.len() - keep);
            }
        }
    }
    let _ = sender.join();
    // 200,000 (25 MB of answers, more than the socket buffers hold): never read.
    let Ok(stream) = connect_small_window(addr) else { return "could not connect".into() };
    let mut writer = stream.try_clone().expect("clone a socket");
    let started = Instant::now();
    let sender = thread::spawn(move || writer.write_all(&REQUEST.repeat(200_000)).map(|()| Instant::now()));
    let outcome = match sender.join().expect("the writer thread") {
        Ok(_) => "200,000: all written, not cut".to_string(),
        Err(err) => format!(
            "200,000 (25 MB of answers): the server stops reading at its high watermark; reset by the send \
             timeout (2 s here) {:.1} s after the first write ({})",
            started.elapsed().as_secs_f64(),
            err.kind()
        ),
    };
    drop(stream);
    format!("10,000: all answered into the socket buffers, {answered} read afterwards; {outcome}")
}

fn path_escapes(addr: SocketAddr, _window: Duration) -> String {
    let statuses: Vec<String> = ["/static/../Cargo.toml", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/out"]
        .iter()
        .map(|path| {
            let Ok(mut stream) = connect(addr) else { return "no connection".into() };
            let _ = stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
            format!("`{path}` {}", status_then_closed(&mut stream))
        })
        .collect();
    statuses.join("; ")
}
