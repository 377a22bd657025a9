//! The `client` binary end to end: run as a user would, against servers on
//! evloop loops in this process, over loopback.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use echo::Echo;
use evloop::{AfterEof, Config, ConnId, Ctx, EventLoop, Handler, LoopHandle, Origin};
use rlimit::Resource;
use socket2::{Domain, Socket, Type};

/// How long the binary may take before the test kills it and fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A server loop on its own thread, listening on 127.0.0.1:0; stopped when dropped.
struct Server<M: Send + 'static> {
    addr: SocketAddr,
    /// The Unix-domain socket it also listens on, if started with one.
    unix: Option<std::path::PathBuf>,
    handle: LoopHandle<M>,
    thread: Option<JoinHandle<()>>,
}

/// The servers' configuration: no timeouts to end a test early.
fn server_config() -> Config {
    Config { idle_timeout: None, write_timeout: None, ..Config::default() }
}

impl<M: Send + 'static> Server<M> {
    fn start<H: Handler<Message = M> + Send + 'static>(handler: H) -> Server<M> {
        Server::start_with(server_config(), handler)
    }

    fn start_with<H: Handler<Message = M> + Send + 'static>(config: Config, handler: H) -> Server<M> {
        Server::start_listening(config, handler, None)
    }

    /// Listens on a fresh Unix-domain socket too.
    fn start_unix<H: Handler<Message = M> + Send + 'static>(handler: H) -> Server<M> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("evloop-client-cli-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Server::start_listening(server_config(), handler, Some(dir.join("echo.sock")))
    }

    fn start_listening<H: Handler<Message = M> + Send + 'static>(
        config: Config,
        handler: H,
        unix: Option<std::path::PathBuf>,
    ) -> Server<M> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let path = unix.clone();
        let thread = thread::spawn(move || {
            let mut el = EventLoop::new(config, handler).expect("create the server loop");
            if let Some(path) = &path {
                el.listen_unix(path).expect("listen on a Unix-domain socket");
            }
            let addr = el.listen((Ipv4Addr::LOCALHOST, 0).into()).expect("listen on 127.0.0.1:0");
            ready_tx.send((addr, el.handle())).unwrap();
            el.run().expect("the server loop failed");
        });
        let (addr, handle) = ready_rx.recv_timeout(TIMEOUT).expect("the server did not start");
        Server { addr, unix, handle, thread: Some(thread) }
    }
}

impl<M: Send + 'static> Drop for Server<M> {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the binary did.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

/// Stdin for the binary: bytes, then either end of file or left open
/// until the binary exits by itself.
enum Stdin<'a> {
    Ends(&'a [u8]),
    StaysOpen(&'a [u8]),
}

/// Runs `client ARGS`, feeding it `stdin`, and waits (bounded) for it to exit.
#[track_caller]
fn run_client(args: &[&str], stdin: Stdin<'_>) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_client")), args, stdin)
}

/// As [`run_client`], with the client's open-file limits set to `soft` and
/// `hard` before it starts.
#[track_caller]
fn run_client_with_nofile(args: &[&str], soft: u64, hard: u64) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    // SAFETY: runs in the forked child before exec and makes one
    // setrlimit syscall on a stack value: no allocation, no locks,
    // async-signal-safe.
    unsafe {
        command.pre_exec(move || rlimit::setrlimit(Resource::NOFILE, soft, hard));
    }
    run(command, args, Stdin::StaysOpen(b""))
}

#[track_caller]
fn run(mut command: Command, args: &[&str], stdin: Stdin<'_>) -> Run {
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client binary");
    let stdout = reader_thread(child.stdout.take().unwrap());
    let stderr = reader_thread(child.stderr.take().unwrap());
    let mut input = child.stdin.take().unwrap();
    let (bytes, keep_open) = match stdin {
        Stdin::Ends(bytes) => (bytes, false),
        Stdin::StaysOpen(bytes) => (bytes, true),
    };
    let bytes = bytes.to_vec();
    let writer = thread::spawn(move || {
        // Fails only if the client exited early; its exit status tells why.
        let _ = input.write_all(&bytes);
        keep_open.then_some(input)
    });
    let status = wait_bounded(&mut child, args);
    drop(writer.join().unwrap());
    Run {
        status,
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
    }
}

fn reader_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        let _ = pipe.read_to_end(&mut all);
        all
    })
}

#[track_caller]
fn wait_bounded(child: &mut Child, args: &[&str]) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`client {}` did not exit within {TIMEOUT:?}", args.join(" "));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> SocketAddr {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap()
}

/// Sends a greeting to each client and closes, whatever the client does.
struct Greeter;

impl Handler for Greeter {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _origin: Origin) {
        cx.send(id, b"welcome\n");
        cx.close(id);
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        data.len()
    }
}

/// Says nothing until the client half-closes, then answers with what it
/// received and closes: only a client that sends FIN and keeps reading
/// sees the answer.
struct AnswersAfterEof;

impl Handler for AnswersAfterEof {
    type Conn = Vec<u8>;
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> Vec<u8> {
        Vec::new()
    }

    fn on_data(&mut self, _cx: &mut Ctx, _id: ConnId, received: &mut Vec<u8>, data: &[u8]) -> usize {
        received.extend_from_slice(data);
        data.len()
    }

    fn on_eof(&mut self, cx: &mut Ctx, id: ConnId, received: &mut Vec<u8>, _unconsumed: &[u8]) -> AfterEof {
        let mut answer = b"after your EOF: ".to_vec();
        answer.extend_from_slice(received);
        cx.send(id, &answer);
        cx.close(id);
        AfterEof::KeepWriting
    }
}

/// Echoes, except that the 1000th byte of every connection comes back wrong.
struct CorruptingEcho;

impl Handler for CorruptingEcho {
    /// Bytes echoed so far.
    type Conn = usize;
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) -> usize {
        0
    }

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, echoed: &mut usize, data: &[u8]) -> usize {
        let mut reply = data.to_vec();
        if let Some(byte) = 999usize.checked_sub(*echoed).and_then(|at| reply.get_mut(at)) {
            *byte ^= 0x20;
        }
        *echoed += data.len();
        cx.send(id, &reply);
        data.len()
    }
}

#[test]
fn stdin_goes_to_the_server_and_its_echo_to_stdout() {
    let server = Server::start(Echo);
    let input: Vec<u8> = (0..2000).flat_map(|n| format!("line {n}\n").into_bytes()).collect();
    let run = run_client(&[&server.addr.to_string()], Stdin::Ends(&input));
    assert!(run.status.success(), "exit {:?}, stderr: {}", run.status, run.stderr);
    assert_eq!(run.stdout.len(), input.len(), "bytes echoed to stdout");
    assert!(run.stdout == input, "stdout differs from what stdin sent");
    assert_eq!(run.stderr, "");
}

#[test]
fn what_the_server_sends_reaches_stdout_and_its_close_exits_zero() {
    let server = Server::start(Greeter);
    // Stdin stays open: only the server's close can end the client.
    let run = run_client(&[&server.addr.to_string()], Stdin::StaysOpen(b""));
    assert!(run.status.success(), "exit {:?}, stderr: {}", run.status, run.stderr);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "welcome\n");
}

#[test]
fn stdin_eof_half_closes_and_the_client_still_reads_the_reply() {
    let server = Server::start(AnswersAfterEof);
    let run = run_client(&[&server.addr.to_string()], Stdin::Ends(b"abc\ndef\n"));
    assert!(run.status.success(), "exit {:?}, stderr: {}", run.status, run.stderr);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "after your EOF: abc\ndef\n");
}

#[test]
fn empty_stdin_still_half_closes() {
    let server = Server::start(AnswersAfterEof);
    let run = run_client(&[&server.addr.to_string()], Stdin::Ends(b""));
    assert!(run.status.success(), "exit {:?}, stderr: {}", run.status, run.stderr);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "after your EOF: ");
}

#[test]
fn refused_connect_prints_one_line_and_exits_non_zero() {
    let addr = closed_port();
    let run = run_client(&[&addr.to_string()], Stdin::StaysOpen(b""));
    assert!(!run.status.success(), "a refused connect must fail");
    assert_eq!(run.stderr, format!("connection refused: {addr}\n"));
    assert!(run.stdout.is_empty());
}

#[test]
fn pending_connect_times_out_and_says_so() {
    // A listener with backlog 0 that never accepts: once its accept queue
    // is full, Linux drops further SYNs, so a connect stays pending (see
    // tests/tests/connect.rs for why this holds). Fill it until a short
    // blocking connect times out.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    while queued.len() < 16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => queued.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    assert!(queued.len() < 16, "the backlog never filled");

    let run = run_client(&["--connect-timeout-secs", "1", &addr.to_string()], Stdin::StaysOpen(b""));
    assert!(!run.status.success(), "a timed-out connect must fail");
    assert_eq!(run.stderr, format!("connection timed out after 1 s: {addr}\n"));
}

#[test]
fn with_unix_stdin_goes_over_a_unix_socket_and_its_echo_to_stdout() {
    let server = Server::start_unix(Echo);
    let path = server.unix.as_ref().unwrap().to_str().unwrap().to_string();
    let input: Vec<u8> = (0..500).flat_map(|n| format!("line {n}\n").into_bytes()).collect();
    let run = run_client(&["--unix", &path], Stdin::Ends(&input));
    assert!(run.status.success(), "exit {:?}, stderr: {}", run.status, run.stderr);
    assert!(run.stdout == input, "stdout differs from what stdin sent over the Unix socket");
}

#[test]
fn load_mode_runs_over_a_unix_socket() {
    let server = Server::start_unix(Echo);
    let path = server.unix.as_ref().unwrap().to_str().unwrap().to_string();
    let args = ["--connections", "20", "--messages", "20", "--size", "100", "--unix", &path];
    let run = run_client(&args, Stdin::StaysOpen(b""));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr: {}", run.status, run.stderr);
    assert!(stdout.contains(&format!("against unix:{path}")), "the report names the socket:\n{stdout}");
    assert!(stdout.contains("verify:   40000 echoed bytes checked, all intact"), "report:\n{stdout}");
}

#[test]
fn a_missing_unix_socket_prints_one_line_and_exits_non_zero() {
    let path = std::env::temp_dir().join(format!("evloop-client-cli-missing-{}.sock", std::process::id()));
    let run = run_client(&["--unix", path.to_str().unwrap()], Stdin::StaysOpen(b""));
    assert!(!run.status.success(), "a missing socket fails");
    let expected = format!("cannot connect to unix:{}: ", path.display());
    assert!(run.stderr.starts_with(&expected) && run.stderr.lines().count() == 1, "stderr: {:?}", run.stderr);
}

#[test]
fn load_mode_echoes_and_verifies_every_byte_and_reports_figures() {
    let server = Server::start(Echo);
    let args = ["--connections", "100", "--messages", "20", "--size", "700", &server.addr.to_string()];
    let run = run_client(&args, Stdin::StaysOpen(b""));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr: {}", run.status, run.stderr);
    for expected in [
        "connect:  100/100 connected in ",
        "echo:     2000 messages of 700 B in ",
        "messages/s, ",
        "MiB/s",
        "p50 ",
        "p90 ",
        "p99 ",
        "p99.9 ",
        "max ",
        "verify:   1400000 echoed bytes checked, all intact",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in the report:\n{stdout}");
    }
}

#[test]
fn load_mode_fails_on_a_corrupted_echo() {
    let server = Server::start(CorruptingEcho);
    let args = ["--connections", "4", "--messages", "10", "--size", "300", &server.addr.to_string()];
    let run = run_client(&args, Stdin::StaysOpen(b""));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(!run.status.success(), "a corrupted echo must fail the run:\n{stdout}");
    assert!(stdout.contains("FAILED:   4 echoed bytes were wrong"), "report:\n{stdout}");
    assert!(stdout.contains("message 3 byte 99"), "the first mismatch is the 1000th byte:\n{stdout}");
}

#[test]
fn load_mode_fails_when_connects_are_refused() {
    let addr = closed_port();
    let run = run_client(&["--connections", "5", &addr.to_string()], Stdin::StaysOpen(b""));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(!run.status.success(), "refused connects must fail the run:\n{stdout}");
    assert!(stdout.contains(&format!("FAILED:   5 connects: connection refused: {addr}")), "report:\n{stdout}");
    assert!(stdout.contains("connect:  0/5 connected"), "report:\n{stdout}");
}

#[test]
fn a_host_name_is_resolved_and_reaches_the_server() {
    let server = Server::start(Echo);
    let target = format!("localhost:{}", server.addr.port());
    let run = run_client(&[&target], Stdin::Ends(b"by name\n"));
    assert!(run.status.success(), "`client {target}`: exit {:?}, stderr: {}", run.status, run.stderr);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "by name\n");
}

#[test]
fn load_mode_takes_a_host_name_too() {
    let server = Server::start(Echo);
    let target = format!("localhost:{}", server.addr.port());
    let run = run_client(&["--connections", "3", "--messages", "5", &target], Stdin::StaysOpen(b""));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr: {}", run.status, run.stderr);
    assert!(stdout.contains(&format!("against {}", server.addr)), "the report names the resolved address:\n{stdout}");
}

#[test]
fn a_bad_port_is_rejected_before_connecting() {
    let run = run_client(&["localhost:notaport"], Stdin::StaysOpen(b""));
    assert!(!run.status.success(), "a bad port must fail");
    assert!(
        run.stderr.contains("cannot resolve \"localhost:notaport\": invalid port value"),
        "stderr should name the input and the problem: {}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn connections_past_the_servers_limit_are_reported_as_refused() {
    // What `echo --max-connections 5` runs: past 5 open connections evloop
    // accepts and closes at once.
    let config = Config { max_connections: 5, ..server_config() };
    let server = Server::start_with(config, Echo);
    let args = ["--connections", "8", "--messages", "100", &server.addr.to_string()];
    let run = run_client(&args, Stdin::StaysOpen(b""));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(!run.status.success(), "refused connections must fail the run:\n{stdout}");
    assert!(stdout.contains("connect:  5/8 connected in "), "5 served:\n{stdout}");
    assert!(
        stdout.contains("; 3 refused by the server (closed before any reply: at its connection limit?)\n"),
        "3 refused, said once on the connect line:\n{stdout}"
    );
    assert!(stdout.contains("echo:     500 messages"), "the 5 served ones echo everything:\n{stdout}");
    assert!(!stdout.contains("closed before echoing"), "a refusal is not a lost connection:\n{stdout}");
}

#[test]
fn load_mode_raises_its_soft_open_file_limit_to_the_hard_one() {
    let server = Server::start(Echo);
    // 100 connections do not fit in 32 descriptors, but do in 1024.
    let args = ["--connections", "100", "--messages", "5", &server.addr.to_string()];
    let run = run_client_with_nofile(&args, 32, 1024);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr: {}", run.status, run.stderr);
    assert!(stdout.contains("connect:  100/100 connected"), "report:\n{stdout}");
}

#[test]
fn running_out_of_descriptors_says_how_far_it_got_and_how_to_raise_the_limit() {
    let server = Server::start(Echo);
    let run = run_client_with_nofile(&["--connections", "100", &server.addr.to_string()], 64, 64);
    assert!(!run.status.success(), "too few descriptors must fail the run");
    let opened: usize = run
        .stderr
        .strip_prefix("client: out of file descriptors: opened ")
        .and_then(|rest| rest.split_once(" of 100 connections with this process limited to 64 open files; "))
        .and_then(|(opened, _)| opened.parse().ok())
        .unwrap_or_else(|| panic!("stderr should say how many of 100 opened under the limit of 64: {}", run.stderr));
    assert!((40..64).contains(&opened), "{opened} connections opened under a limit of 64 files");
    let needed = 100 + 64 - opened;
    assert!(run.stderr.contains(&format!("`ulimit -n {needed}`")), "stderr should say how to raise it: {}", run.stderr);
    assert!(run.stdout.is_empty(), "no load ran, so no report: {}", String::from_utf8_lossy(&run.stdout));
}
