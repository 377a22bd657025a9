//! Chunked request bodies over raw sockets: extensions, trailers, any split,
//! and what a malformed or oversize one does.

mod common;

use common::{start, start_with, Raw};
use http::Settings;

const HEAD: &[u8] = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn chunk_extensions_and_trailers_are_accepted_and_skipped() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    raw.send(&[HEAD, b"3;name=value\r\nabc\r\n2;x\r\nde\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n"].concat());
    let response = raw.response();
    assert_eq!(response.body, b"abcde", "the body without the framing");
    raw.expect_open();
}

#[test]
fn chunked_body_split_at_every_byte_decodes_the_same() {
    let server = start();
    let request = [HEAD, b"5\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n"].concat();
    for split in 1..request.len() {
        let mut raw = Raw::connect(server.addr);
        raw.send(&request[..split]);
        raw.send(&request[split..]);
        assert_eq!(raw.response().body, b"hello0123456789", "split at byte {split}");
    }
}

#[test]
fn zero_length_chunked_body_echoes_nothing() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    raw.send(&[HEAD, b"0\r\n\r\n"].concat());
    let response = raw.response();
    assert_eq!((response.status, response.body.len()), (200, 0));
    raw.expect_open();
}

#[test]
fn malformed_chunk_size_cuts_the_echo_short_with_a_reset_or_close() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    raw.send(&[HEAD, b"zz\r\nhello\r\n0\r\n\r\n"].concat());
    // The 200 head went out before the body: the response is cut, never
    // completed as if the body were whole.
    let outcome = raw.read_response(false);
    assert!(outcome.is_err(), "a malformed body produced a whole response: {outcome:?}");
}

#[test]
fn chunked_body_past_the_limit_is_cut() {
    let server = start_with(Settings { max_body_bytes: 8, ..Settings::default() });
    let mut raw = Raw::connect(server.addr);
    raw.send(&[HEAD, b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"].concat());
    assert!(raw.read_response(false).is_err(), "an echo past max_body_bytes must not complete");
}

#[test]
fn chunked_body_to_a_404_is_dropped_and_the_connection_kept() {
    let server = start();
    let mut raw = Raw::connect(server.addr);
    raw.send(b"POST /nope HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n");
    assert_eq!(raw.response().status, 404);
    raw.expect_open();
}
