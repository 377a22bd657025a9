//! The idle timeout meets output the kernel still holds: one `send` the
//! kernel takes whole (large send buffers, autotuning) leaves the loop
//! nothing to write, so it sees no progress while the peer is still
//! reading it. `Config::idle_timeout` promises that a long download that
//! keeps moving is never cut: the peer gets every byte, then end of file.

use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use evloop::{Config, ConnId, Ctx, Handler, Origin};
use evloop_tests::{connect, test_config, Server};

const DOWNLOAD: usize = 1024 * 1024;

/// Sends the whole download in one `send` as the connection opens.
struct OneSend;

impl Handler for OneSend {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, cx: &mut Ctx, id: ConnId, _: Origin) {
        assert!(cx.send(id, &vec![b'd'; DOWNLOAD]), "the download is queued");
    }

    fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize {
        data.len()
    }
}

#[test]
fn a_download_the_kernel_holds_is_not_cut_by_the_idle_timeout() {
    let idle = Duration::from_millis(300);
    let server = Server::start(Config { idle_timeout: Some(idle), ..test_config() }, OneSend);
    let mut client = connect(server.addr);
    let started = Instant::now();
    let mut received = 0;
    let mut buf = vec![0u8; 16 * 1024];
    // Steady: 16 KiB every 20 ms, about 800 KB/s, so the 1 MiB takes
    // more than a second, several idle timeouts, with every pause far
    // shorter than one.
    while received < DOWNLOAD {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) => panic!("the download was cut after {received} of {DOWNLOAD} bytes: {e}"),
        }
        thread::sleep(Duration::from_millis(20));
    }
    assert!(started.elapsed() > 2 * idle, "the download must outlast the idle timeout to prove anything");
    assert_eq!(received, DOWNLOAD, "every byte of the download arrives");
}
