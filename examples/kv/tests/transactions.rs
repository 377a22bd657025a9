//! MULTI, EXEC and DISCARD through the `redis` crate and raw sockets,
//! with Redis 7's replies (diffed against redis-server 7.0).

mod common;

use common::{client, error_of, exchange, query, resp, start};
use evloop_tests::connect;

#[test]
fn exec_runs_the_queue_and_replies_every_reply() {
    let server = start();
    let mut con = client(server.addr);
    let (set, incr, get): (String, i64, String) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("a")
        .arg("1")
        .cmd("INCR")
        .arg("a")
        .cmd("GET")
        .arg("a")
        .query(&mut con)
        .expect("MULTI ... EXEC");
    assert_eq!((set.as_str(), incr, get.as_str()), ("OK", 2, "2"));
}

#[test]
fn a_command_failing_inside_exec_is_one_of_the_replies() {
    let server = start();
    let mut stream = connect(server.addr);
    exchange(&mut stream, &resp(&[b"MULTI"]), b"+OK\r\n");
    exchange(&mut stream, &resp(&[b"SET", b"a", b"1"]), b"+QUEUED\r\n");
    exchange(&mut stream, &resp(&[b"LPUSH", b"a", b"x"]), b"+QUEUED\r\n");
    exchange(&mut stream, &resp(&[b"INCR", b"a"]), b"+QUEUED\r\n");
    exchange(
        &mut stream,
        &resp(&[b"EXEC"]),
        b"*3\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n",
    );
}

#[test]
fn commands_are_queued_and_answered_queued() {
    let server = start();
    let mut stream = connect(server.addr);
    exchange(&mut stream, &resp(&[b"MULTI"]), b"+OK\r\n");
    exchange(&mut stream, &resp(&[b"SET", b"k", b"v"]), b"+QUEUED\r\n");
    exchange(&mut stream, &resp(&[b"GET", b"k"]), b"+QUEUED\r\n");
    exchange(&mut stream, &resp(&[b"EXEC"]), b"*2\r\n+OK\r\n$1\r\nv\r\n");
    exchange(&mut stream, &resp(&[b"EXEC"]), b"-ERR EXEC without MULTI\r\n");
}

#[test]
fn an_error_while_queuing_aborts_the_transaction() {
    let server = start();
    let mut stream = connect(server.addr);
    exchange(&mut stream, &resp(&[b"MULTI"]), b"+OK\r\n");
    exchange(&mut stream, &resp(&[b"SET", b"k"]), b"-ERR wrong number of arguments for 'set' command\r\n");
    exchange(&mut stream, &resp(&[b"SET", b"k", b"v"]), b"+QUEUED\r\n");
    exchange(&mut stream, &resp(&[b"EXEC"]), b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    exchange(&mut stream, &resp(&[b"EXISTS", b"k"]), b":0\r\n");
}

#[test]
fn discard_drops_the_queue_and_multi_does_not_nest() {
    let server = start();
    let mut con = client(server.addr);
    assert_eq!(error_of(&mut con, &["DISCARD"]), "ERR DISCARD without MULTI");
    let mut stream = connect(server.addr);
    exchange(&mut stream, &resp(&[b"MULTI"]), b"+OK\r\n");
    exchange(&mut stream, &resp(&[b"MULTI"]), b"-ERR MULTI calls can not be nested\r\n");
    exchange(&mut stream, &resp(&[b"SET", b"k", b"v"]), b"+QUEUED\r\n");
    exchange(&mut stream, &resp(&[b"DISCARD"]), b"+OK\r\n");
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 0, "nothing queued ran");
}
