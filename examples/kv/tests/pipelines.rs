//! Deep pipelines and large values: every reply comes back, in order, and
//! a client reading its replies slowly is paced rather than dropped.

mod common;

use std::io::{Read, Write};
use std::thread;

use common::{client, query, resp, start};
use evloop_tests::connect;

#[test]
fn a_pipeline_of_10000_commands_is_answered_in_order() {
    let server = start();
    let mut con = client(server.addr);
    let mut pipe = redis::pipe();
    for i in 0..5_000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
        pipe.cmd("INCR").arg("counter");
    }
    let counts: Vec<i64> = pipe.query(&mut con).expect("the pipeline's replies");
    assert_eq!(counts, (1..=5_000).collect::<Vec<i64>>(), "every INCR answered, in order");
    let mut pipe = redis::pipe();
    for i in 0..10_000 {
        pipe.cmd("GET").arg(format!("key:{}", i % 5_000));
    }
    let values: Vec<i64> = pipe.query(&mut con).expect("10,000 GETs");
    assert!(values.iter().enumerate().all(|(i, &v)| v == (i % 5_000) as i64), "each GET got its own key's value");
}

fn round_trip_value(len: usize) {
    let server = start();
    let mut con = client(server.addr);
    let value: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let _: () = redis::cmd("SET").arg("big").arg(&value).query(&mut con).expect("SET of a large value");
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "big"]), len as i64);
    let got: Vec<u8> = redis::cmd("GET").arg("big").query(&mut con).expect("GET of a large value");
    assert!(got == value, "the {len}-byte value came back changed");
}

#[test]
fn a_1_mib_value_round_trips() {
    round_trip_value(1024 * 1024);
}

#[test]
fn a_64_mib_value_round_trips_past_the_default_input_limit() {
    round_trip_value(64 * 1024 * 1024);
}

/// Sets `k` to `value_len` bytes, then writes `gets` GETs of it at once
/// from one thread while this one reads every reply and checks it.
fn pipelined_gets_all_answered(gets: usize, value_len: usize) {
    let server = start();
    let mut stream = connect(server.addr);
    let value = vec![b'v'; value_len];
    stream.write_all(&resp(&[b"SET", b"k", &value])).unwrap();
    let mut ok = [0; 5];
    stream.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");

    let requests = resp(&[b"GET", b"k"]).repeat(gets);
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || writer.write_all(&requests).expect("send every GET"));
    let reply = [format!("${value_len}\r\n").as_bytes(), &value, b"\r\n"].concat();
    let mut got = vec![0; reply.len()];
    for i in 0..gets {
        stream.read_exact(&mut got).unwrap_or_else(|err| panic!("reply {i} of {gets} did not come: {err}"));
        assert!(got == reply, "reply {i} is not the value");
    }
    sender.join().unwrap();
}

/// 2,500 GETs of a 16 KiB value, written at once: 41 MB of replies, ten
/// times the loop's default output limit. The handler stops taking
/// requests while the output is above the high watermark, and the loop
/// offers the rest once it drains, so all are answered and the output
/// queued never nears the limit.
#[test]
fn pipelined_gets_far_past_the_output_limit_are_all_answered() {
    pipelined_gets_all_answered(2_500, 16 * 1024);
}

/// 60,000 pipelined GETs: 1.2 MB of requests, more than the default
/// input limit, and 62 MB of replies. While the replies back up the
/// handler leaves requests unconsumed; they are a backlog to serve, not an
/// oversized request, and the connection must not be closed for them.
#[test]
fn a_pipelined_backlog_larger_than_the_input_limit_is_served() {
    const GETS: usize = 60_000;
    assert!(resp(&[b"GET", b"k"]).len() * GETS > evloop::Config::default().max_input_bytes);
    pipelined_gets_all_answered(GETS, 1024);
}
