//! A tokio + tokio-rustls echo server: the TLS peer a user would pick
//! instead of evloop's `echo --tls-cert`.
//!
//! ```text
//! cargo run --release -p bench --bin tokio_rustls_echo -- --listen 127.0.0.1:0
//! cargo run --release -p bench --bin tokio_rustls_echo -- --tls-cert cert.pem --tls-key key.pem
//! openssl s_client -connect 127.0.0.1:7878 -quiet
//! ```
//!
//! Written as tokio-rustls's own server example writes it: a task per
//! connection, the handshake (`TlsAcceptor::accept`) inside it, then the
//! same loop as `tokio_echo` (an 8 KiB buffer, `read` then `write_all`),
//! and `shutdown` at the end of file, which sends `close_notify`. The
//! current-thread runtime is the like-for-like peer of a single-threaded
//! event loop; `--runtime multi-thread` is there as for `tokio_echo`.
//! rustls runs on the same provider as evloop's (aws-lc-rs), so the two
//! servers differ in their event loops and buffers, not their crypto.
//!
//! Without `--tls-cert`/`--tls-key` it makes a self-signed certificate for
//! `localhost` at start. It prints `listening on ADDR` on stdout once bound.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Bytes read per `read`: the size `tokio::io::copy` uses.
const BUFFER_BYTES: usize = 8 * 1024;

/// Pause after a failed `accept` before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A handshake not done by then is dropped, as evloop's default
/// `tls_handshake_timeout` does.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which tokio scheduler runs the server.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Runtime {
    /// Everything on the thread that calls `block_on`.
    CurrentThread,
    /// The work-stealing pool, one worker per available CPU.
    MultiThread,
}

/// TLS echo server on tokio and tokio-rustls.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// The tokio scheduler to run on.
    #[arg(long, value_enum, default_value_t = Runtime::CurrentThread)]
    runtime: Runtime,
    /// Worker threads of the multi-thread runtime (default: one per available CPU).
    #[arg(long)]
    workers: Option<usize>,
    /// PEM file with the certificate chain, own certificate first (default:
    /// a self-signed certificate for `localhost`, made at start).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM file with the certificate's private key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let config = server_config(&args)?;
    let runtime = match args.runtime {
        Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        Runtime::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(workers) = args.workers {
                builder.worker_threads(workers);
            }
            builder.enable_all().build()?
        }
    };
    runtime.block_on(serve(args.listen, TlsAcceptor::from(config)))
}

/// The certificate from the files given, or a fresh self-signed one.
fn server_config(args: &Args) -> io::Result<Arc<ServerConfig>> {
    let (certs, key) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (evloop::tls::load_certs(cert)?, evloop::tls::load_private_key(key)?),
        _ => {
            let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
                .map_err(|e| io::Error::other(format!("making a self-signed certificate: {e}")))?;
            let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
            (vec![made.cert.der().clone()], key)
        }
    };
    evloop::tls::server_config(certs, key)
}

async fn serve(addr: SocketAddr, acceptor: TlsAcceptor) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    // On stdout, for scripts that started us on port 0.
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // As tokio_echo: log, pause, go on.
                eprintln!("accept: {err}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(err) = echo(acceptor, stream).await {
                if !matches!(
                    err.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
                ) {
                    eprintln!("connection: {err}");
                }
            }
        });
    }
}

/// Completes the handshake, then echoes until the peer closes its side.
async fn echo(acceptor: TlsAcceptor, stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut stream = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
    let mut buf = vec![0u8; BUFFER_BYTES];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            // Sends close_notify, then FIN.
            return stream.shutdown().await;
        }
        stream.write_all(&buf[..n]).await?;
    }
}
