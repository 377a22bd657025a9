//! `mini_redis_server`, the kv scenario's tokio peer, over a real loopback
//! socket: it says where it listens and answers SET and GET.

use std::io::{Read, Write};

use evloop_tests::connect;
use evloop_tests::process::ServerProcess;

#[test]
fn mini_redis_server_answers_set_and_get() {
    let server = ServerProcess::start(env!("CARGO_BIN_EXE_mini_redis_server"), &[]);
    let mut stream = connect(server.addr);
    stream.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nhi\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n").unwrap();
    let expected = b"+OK\r\n$2\r\nhi\r\n";
    let mut reply = vec![0; expected.len()];
    stream.read_exact(&mut reply).expect("replies to SET and GET");
    assert_eq!(reply, expected);
}
