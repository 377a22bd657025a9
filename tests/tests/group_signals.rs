//! `LoopGroup::stop_on_signals`: SIGTERM stops every loop gracefully and
//! `run` returns.
//!
//! Signals go to the whole process, so this test lives alone in its file
//! (its own test binary, its own process).

use std::sync::mpsc;
use std::thread;

use echo::Echo;
use evloop::{CloseReason, GroupBuilder};
use evloop_tests::{connect, read_to_end, round_trip, test_config, TIMEOUT};
use signal_hook::consts::SIGTERM;
use signal_hook::low_level::raise;

#[test]
fn sigterm_stops_every_loop_gracefully_and_run_returns() {
    let (ready_tx, ready_rx) = mpsc::channel();
    let group = thread::spawn(move || {
        let mut group = GroupBuilder::new(test_config()).threads(2).build(|_, _| Echo).unwrap();
        let addr = group.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        group.stop_on_signals().unwrap();
        ready_tx.send(addr).unwrap();
        group.run().unwrap()
    });
    let addr = ready_rx.recv_timeout(TIMEOUT).expect("the group started");
    let mut clients: Vec<_> = (0..40).map(|_| connect(addr)).collect();
    for client in &mut clients {
        assert_eq!(round_trip(client, b"before"), b"before");
    }

    raise(SIGTERM).unwrap();
    for client in &mut clients {
        assert_eq!(read_to_end(client).expect("a clean close"), b"", "the client sees a clean close");
    }
    let exits = group.join().expect("run returned");
    assert_eq!(exits.len(), 2);
    for exit in &exits {
        assert!(exit.result.is_ok(), "loop {}: {:?}", exit.index, exit.result);
        assert!(exit.stats.accepted > 0, "loop {} served some of the 40 clients", exit.index);
        assert_eq!(exit.stats.closed(CloseReason::Shutdown), exit.stats.accepted, "loop {}", exit.index);
    }
}
