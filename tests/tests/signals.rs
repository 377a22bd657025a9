//! `EventLoop::stop_on_signals`: SIGTERM (or SIGINT) stops the loop
//! gracefully, from inside the loop, with no extra thread.
//!
//! Signals go to the whole process, so this test lives alone in its file
//! (its own test binary, its own process).

use std::sync::mpsc;
use std::thread;

use evloop::{CloseReason, EventLoop};
use evloop_tests::{connect, read_to_end, round_trip, test_config, Events, Recorder, Seen, TIMEOUT};
use signal_hook::consts::SIGTERM;
use signal_hook::low_level::raise;

#[test]
fn sigterm_stops_the_loop_gracefully_and_run_returns() {
    let (recorder, events): (Recorder, Events) = Recorder::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    let server = thread::spawn(move || {
        let mut el = EventLoop::new(test_config(), recorder).unwrap();
        let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        el.stop_on_signals().unwrap();
        ready_tx.send(addr).unwrap();
        el.run().unwrap();
        el.stats().clone()
    });
    let addr = ready_rx.recv_timeout(TIMEOUT).unwrap();
    let mut client = connect(addr);
    assert_eq!(round_trip(&mut client, b"before"), b"before");
    let id = events.next_open();

    raise(SIGTERM).unwrap();
    assert_eq!(events.find("on_stop", |s| matches!(s, Seen::Stop)), Seen::Stop);
    assert_eq!(events.close_reason(id), CloseReason::Shutdown);
    assert_eq!(read_to_end(&mut client).unwrap(), b"", "the client sees a clean close");
    let stats = server.join().expect("run returned");
    assert_eq!(stats.closed(CloseReason::Shutdown), 1);
    // The listener is closed: a new connect is refused.
    assert!(std::net::TcpStream::connect(addr).is_err(), "the listener closed on stop");
}
