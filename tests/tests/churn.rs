//! Connection churn, half of it ending in resets: afterwards the server's
//! descriptors and connection count are back where they started, and every
//! connection was opened and closed exactly once.

use std::collections::HashSet;
use std::fs;
use std::time::Duration;

use socket2::SockRef;

use evloop::CloseReason;
use evloop_tests::{connect, round_trip, test_config, wait_until, Recorder, Seen, Server};

fn open_descriptors() -> usize {
    fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn churn_with_resets_leaves_no_descriptor_or_slot_behind() {
    const CYCLES: usize = 5_000;
    let (recorder, events) = Recorder::new();
    let server = Server::start(test_config(), recorder);
    let mut warm = connect(server.addr);
    assert_eq!(round_trip(&mut warm, b"warm"), b"warm");
    drop(warm);
    wait_until("the warm-up connection closes", || events.drain().iter().any(|seen| matches!(seen, Seen::Close(..))));
    let before = open_descriptors();
    for cycle in 0..CYCLES {
        let mut client = connect(server.addr);
        assert_eq!(round_trip(&mut client, b"cycle"), b"cycle", "cycle {cycle}");
        if cycle % 2 == 0 {
            SockRef::from(&client).set_linger(Some(Duration::ZERO)).unwrap();
        }
    }
    let mut opened = HashSet::new();
    let mut closed = HashSet::new();
    let mut resets = 0;
    wait_until("every cycle's connection closes", || {
        for seen in events.drain() {
            match seen {
                Seen::Open(id, _) => assert!(opened.insert(id), "{id:?} opened twice: ids alias"),
                Seen::Close(id, reason) => {
                    assert!(closed.insert(id), "{id:?} closed twice");
                    resets += usize::from(reason == CloseReason::Reset);
                }
                _ => {}
            }
        }
        closed.len() == CYCLES
    });
    assert_eq!(opened, closed, "every connection opened was closed, once");
    assert!(resets > 0, "some cycles ended in resets");
    wait_until("the server's descriptors are back where they started", || open_descriptors() <= before);
    let (_, stats) = server.stop();
    assert_eq!(stats.open, 0, "no connection is left in the table");
    assert_eq!(stats.accepted, CYCLES as u64 + 1);
    assert_eq!(stats.closed_total(), CYCLES as u64 + 1);
}
