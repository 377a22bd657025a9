//! kv over TLS, driven by the `redis` crate's rustls support
//! (`rediss://`), with and without client certificates.

use std::sync::Arc;

use evloop::tls::rustls::ServerConfig;
use evloop_tests::tls::TestPki;
use evloop_tests::{Server, TIMEOUT};
use kv::{Kv, Settings};

/// A kv server with Redis's defaults on a TLS listener only.
fn start_tls(config: Arc<ServerConfig>) -> Server<Kv> {
    let settings = Settings::default();
    Server::start_listening(settings.loop_config(), Kv::new(settings), move |el| {
        el.listen_tls("127.0.0.1:0".parse().unwrap(), config)
    })
}

/// A `redis` crate connection over TLS, trusting the test authority and
/// presenting `client` (certificate and key, PEM) if given.
fn tls_client(
    server: &Server<Kv>,
    pki: &TestPki,
    client: Option<(&str, &str)>,
) -> redis::RedisResult<redis::Connection> {
    let certificates = redis::TlsCertificates {
        client_tls: client.map(|(cert, key)| redis::ClientTlsConfig {
            client_cert: cert.as_bytes().to_vec(),
            client_key: key.as_bytes().to_vec(),
        }),
        root_cert: Some(pki.ca_pem.as_bytes().to_vec()),
    };
    // The certificate is for 127.0.0.1 as well as localhost.
    let url = format!("rediss://127.0.0.1:{}/", server.addr.port());
    let client = redis::Client::build_with_tls(url, certificates)?;
    let con = client.get_connection_with_timeout(TIMEOUT)?;
    con.set_read_timeout(Some(TIMEOUT))?;
    Ok(con)
}

#[test]
fn the_redis_crate_sets_and_gets_over_tls() {
    let pki = TestPki::new();
    let server = start_tls(pki.server_config());
    let mut con = tls_client(&server, &pki, None).expect("a TLS connection with the redis crate");
    let _: () = redis::cmd("SET").arg("greeting").arg("hello over TLS").query(&mut con).unwrap();
    let got: String = redis::cmd("GET").arg("greeting").query(&mut con).unwrap();
    assert_eq!(got, "hello over TLS");
}

#[test]
fn the_redis_crate_pipelines_a_thousand_commands_over_tls() {
    let pki = TestPki::new();
    let server = start_tls(pki.server_config());
    let mut con = tls_client(&server, &pki, None).expect("a TLS connection with the redis crate");
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("INCR").arg("counter").ignore();
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    pipe.cmd("GET").arg("counter");
    let (counter,): (u64,) = pipe.query(&mut con).unwrap();
    assert_eq!(counter, 1000, "every pipelined command ran, in order");
}

#[test]
fn mutual_tls_serves_a_client_with_a_certificate_and_refuses_one_without() {
    let pki = TestPki::new();
    let server = start_tls(pki.server_config_requiring_client_certs());
    let mut con = tls_client(&server, &pki, Some((&pki.client_cert_pem, &pki.client_key_pem)))
        .expect("a client with a certificate connects");
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let refused = tls_client(&server, &pki, None).and_then(|mut con| redis::cmd("PING").query::<String>(&mut con));
    assert!(refused.is_err(), "a client without a certificate must be refused: {refused:?}");
}
