//! Expiry as Redis does it: a key is gone for every read once its deadline
//! passes, and keys nobody reads are removed by the active cycle.

mod common;

use std::time::{Duration, Instant};

use common::{client, query, start};
use evloop_tests::wait_until;

#[test]
fn a_key_reads_as_missing_once_its_deadline_passes() {
    let server = start();
    let mut con = client(server.addr);
    let set_at = Instant::now();
    query::<String>(&mut con, &["SET", "short", "v", "PX", "150"]);
    let pttl: i64 = query(&mut con, &["PTTL", "short"]);
    assert!((1..=150).contains(&pttl), "PTTL {pttl} right after SET PX 150");
    wait_until("the key expires", || query::<Option<String>>(&mut con, &["GET", "short"]).is_none());
    // Deadlines are whole milliseconds, as in Redis: the SET's own time is
    // cut to its millisecond, so the key may go up to 1 ms before 150 ms.
    assert!(set_at.elapsed() >= Duration::from_millis(149), "expired before its deadline: {:?}", set_at.elapsed());
    assert_eq!(query::<i64>(&mut con, &["TTL", "short"]), -2);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "short"]), 0);
}

#[test]
fn keys_nobody_reads_are_removed_by_the_active_cycle() {
    let server = start();
    let mut con = client(server.addr);
    let mut pipe = redis::pipe();
    for i in 0..500 {
        pipe.cmd("SET").arg(format!("volatile:{i}")).arg("v").arg("PX").arg(50).ignore();
    }
    pipe.cmd("SET").arg("durable").arg("v").ignore();
    let () = pipe.query(&mut con).expect("the SETs");
    // DBSIZE counts keys without touching them: only the cycle can lower it.
    wait_until("the active cycle removes the 500 expired keys", || query::<i64>(&mut con, &["DBSIZE"]) == 1);
    let info: String = query(&mut con, &["INFO", "stats"]);
    assert!(info.contains("expired_keys:500\r\n"), "INFO counts them:\n{info}");
    assert_eq!(query::<String>(&mut con, &["GET", "durable"]), "v");
}

#[test]
fn persist_keeps_a_key_past_its_old_deadline() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["SET", "kept", "v", "PX", "100"]);
    query::<String>(&mut con, &["SET", "witness", "v", "PX", "100"]);
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "kept"]), 1);
    wait_until("the witness with the same deadline expires", || {
        query::<Option<String>>(&mut con, &["GET", "witness"]).is_none()
    });
    assert_eq!(query::<String>(&mut con, &["GET", "kept"]), "v");
    assert_eq!(query::<i64>(&mut con, &["TTL", "kept"]), -1);
}

#[test]
fn overwriting_with_set_clears_the_deadline() {
    let server = start();
    let mut con = client(server.addr);
    query::<String>(&mut con, &["SET", "k", "old", "PX", "100"]);
    query::<String>(&mut con, &["SET", "k", "new"]);
    query::<String>(&mut con, &["SET", "witness", "v", "PX", "100"]);
    wait_until("the witness expires", || query::<i64>(&mut con, &["EXISTS", "witness"]) == 0);
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "new");
}
