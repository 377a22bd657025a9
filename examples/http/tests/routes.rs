//! The routes through a real HTTP client (`ureq`): what curl and a browser see.

mod common;

use std::io::Read;

use common::{agent, pattern, start};

#[test]
fn root_answers_hello_world_as_plain_text() {
    let server = start();
    let response = agent().get(&format!("http://{}/", server.addr)).call().expect("GET /");
    assert_eq!(response.status(), 200);
    assert_eq!(response.header("content-type"), Some("text/plain"));
    assert_eq!(response.header("server"), Some("evloop"));
    let date = response.header("date").expect("a Date header").to_string();
    assert!(httpdate::parse_http_date(&date).is_ok(), "Date {date:?} is not an HTTP date");
    assert_eq!(response.into_string().unwrap(), "Hello, World!");
}

#[test]
fn json_answers_the_techempower_object() {
    let server = start();
    let response = agent().get(&format!("http://{}/json", server.addr)).call().expect("GET /json");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.into_string().unwrap(), r#"{"message":"Hello, World!"}"#);
}

#[test]
fn head_answers_the_get_headers_without_a_body() {
    let server = start();
    let response = agent().head(&format!("http://{}/json", server.addr)).call().expect("HEAD /json");
    assert_eq!(response.header("content-length"), Some("27"), "HEAD keeps GET's length");
    assert_eq!(response.into_string().unwrap(), "", "HEAD has no body");
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = start();
    let agent = agent();
    for path in ["/", "/json", "/", "/nope", "/json"] {
        let _ = agent.get(&format!("http://{}{path}", server.addr)).call();
    }
    let (handler, stats) = server.stop();
    assert_eq!(handler.requests(), 5, "every request answered");
    assert_eq!(stats.accepted, 1, "the client kept one connection for all five requests");
}

#[test]
fn unknown_path_is_404_and_wrong_method_405_with_allow() {
    let server = start();
    let agent = agent();
    match agent.get(&format!("http://{}/nope", server.addr)).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("GET /nope should be 404, got {other:?}"),
    }
    match agent.delete(&format!("http://{}/", server.addr)).call() {
        Err(ureq::Error::Status(405, response)) => assert_eq!(response.header("allow"), Some("GET, HEAD")),
        other => panic!("DELETE / should be 405, got {other:?}"),
    }
}

#[test]
fn echo_returns_the_body_it_was_sent() {
    let server = start();
    // ureq writes the whole body before it reads a byte of the answer,
    // while the echo streams the body back as it arrives: past what the
    // socket buffers hold, both sides would wait on each other. 256 KiB
    // fits; the multi-MiB echo, read while written, is in pipelining.rs.
    let body = pattern(256 * 1024);
    let response = agent().post(&format!("http://{}/echo", server.addr)).send_bytes(&body).expect("POST /echo");
    assert_eq!(response.header("content-length"), Some(body.len().to_string().as_str()));
    let mut echoed = Vec::new();
    response.into_reader().read_to_end(&mut echoed).unwrap();
    assert!(echoed == body, "the echo differs from what was sent ({} bytes back)", echoed.len());
}

#[test]
fn echo_of_a_chunked_body_comes_back_chunked() {
    let server = start();
    let body = pattern(200 * 1024);
    // ureq sends a body from a reader with chunked transfer coding.
    let response = agent()
        .post(&format!("http://{}/echo", server.addr))
        .send(std::io::Cursor::new(body.clone()))
        .expect("POST /echo chunked");
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    let mut echoed = Vec::new();
    response.into_reader().read_to_end(&mut echoed).unwrap();
    assert!(echoed == body, "the chunked echo differs ({} bytes back)", echoed.len());
}
