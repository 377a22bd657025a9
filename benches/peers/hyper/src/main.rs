//! A hyper 1.x HTTP/1.1 server on a tokio current_thread runtime, answering
//! every request as `examples/http` answers `/` (and as the bench's nginx
//! config does): `200`, `Hello, World!`, with `Server`, `Date`,
//! `Content-Type` and `Content-Length`. The `--http` benchmark's hyper peer.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/hyper/Cargo.toml -- --listen 127.0.0.1:0
//! ```
//!
//! Prints `listening on ADDR` on stdout once bound. hyper writes `Date`
//! itself, from a value it caches per second, as nginx and evloop's http do;
//! `Content-Length` it derives from the full body. Pipelined requests are
//! answered in order, with `pipeline_flush` on (hyper's own option for that
//! workload: the responses to one read go out in one write).

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, SERVER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &[u8] = b"Hello, World!";

async fn hello(_request: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    let headers = response.headers_mut();
    headers.insert(SERVER, HeaderValue::from_static("hyper"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

fn listen_addr() -> SocketAddr {
    let mut args = std::env::args().skip(1);
    let mut addr: SocketAddr = "127.0.0.1:8081".parse().unwrap();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => addr = args.next().and_then(|a| a.parse().ok()).expect("--listen ADDR"),
            other => panic!("unknown argument {other:?}; usage: hyper_hello [--listen ADDR]"),
        }
    }
    addr
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(listen_addr()).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // EMFILE and the like: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .pipeline_flush(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}
