//! A peer that sends faster than it reads: the server's queued output stays
//! near the high watermark (reading from that peer pauses), `on_drain`
//! fires as it falls below the low watermark, and every byte arrives.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use evloop::{CloseReason, Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, test_config, wait_until, Server};

/// Echoes, recording the most output it ever saw queued and each drain.
#[derive(Debug, Default)]
struct Gauge {
    max_queued: Arc<AtomicUsize>,
    drains: Arc<AtomicUsize>,
    closes: Arc<AtomicUsize>,
}

impl Handler for Gauge {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        assert!(cx.send(id, data), "under max_output_bytes a send never fails");
        self.max_queued.fetch_max(cx.queued_output(id).unwrap(), Ordering::Relaxed);
        data.len()
    }

    fn on_drain(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: &mut ()) {
        self.drains.fetch_add(1, Ordering::Relaxed);
    }

    fn on_close(&mut self, _cx: &mut Ctx, _id: ConnId, _conn: (), _reason: CloseReason) {
        self.closes.fetch_add(1, Ordering::Relaxed);
    }
}

fn pattern(offset: usize) -> u8 {
    (offset % 251) as u8
}

#[test]
fn reading_pauses_above_the_high_watermark_and_resumes_on_drain() {
    const TOTAL: usize = 32 * 1024 * 1024;
    let config = Config { high_watermark: 64 * 1024, low_watermark: 16 * 1024, ..test_config() };
    let (high_watermark, read_buffer) = (config.high_watermark, config.read_buffer_bytes);
    let gauge = Gauge::default();
    let (max_queued, drains, closes) = (gauge.max_queued.clone(), gauge.drains.clone(), gauge.closes.clone());
    let server = Server::start(config, gauge);

    let mut client = connect(server.addr);
    let mut writer = client.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let chunk: Vec<u8> = (0..TOTAL).map(pattern).collect();
        writer.write_all(&chunk).expect("the server reads everything in the end");
    });

    // Nobody reads yet: the server's queue passes the high watermark and
    // it stops reading, so the sender blocks instead of the queue growing.
    wait_until("the server queues past the high watermark", || max_queued.load(Ordering::Relaxed) > high_watermark);

    let mut echoed = vec![0; TOTAL];
    client.read_exact(&mut echoed).expect("every byte comes back");
    sender.join().unwrap();
    let first_wrong = echoed.iter().enumerate().position(|(i, &b)| b != pattern(i));
    assert_eq!(first_wrong, None, "echoed bytes match, in order");

    let most = max_queued.load(Ordering::Relaxed);
    assert!(most <= high_watermark + read_buffer, "queued {most} bytes: reading did not pause at the watermark");
    assert!(drains.load(Ordering::Relaxed) >= 1, "on_drain fired when the queue fell below the low watermark");
    assert_eq!(closes.load(Ordering::Relaxed), 0, "backpressure never closes the connection");
}
