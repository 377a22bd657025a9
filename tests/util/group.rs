//! A [`LoopGroup`](evloop::LoopGroup) serving on its own thread, for the group tests.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use evloop::{GroupBuilder, GroupHandle, Handler, LoopExit};

use crate::TIMEOUT;

/// A loop group running on its own thread, listening on 127.0.0.1:0.
#[derive(Debug)]
pub struct GroupServer<H: Handler> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its handle, to stop it or send its loops messages.
    pub handle: GroupHandle<H::Message>,
    thread: Option<JoinHandle<Vec<LoopExit<H>>>>,
}

impl<H> GroupServer<H>
where
    H: Handler + Send + 'static,
{
    /// Builds the group from `builder` and `factory`, listens on an
    /// ephemeral loopback port and runs it.
    pub fn start<F>(builder: GroupBuilder, factory: F) -> GroupServer<H>
    where
        F: Fn(usize, evloop::Peers<H::Message>) -> H + Send + Sync + 'static,
    {
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = thread::spawn(move || {
            let mut group = builder.build(factory).expect("build the loop group");
            let addr = group.listen("127.0.0.1:0".parse().unwrap()).expect("listen on 127.0.0.1:0");
            ready_tx.send((addr, group.handle())).unwrap();
            group.run().expect("run the loop group")
        });
        let (addr, handle) = ready_rx.recv_timeout(TIMEOUT).expect("the group did not start");
        GroupServer { addr, handle, thread: Some(thread) }
    }

    /// Stops every loop gracefully and returns how each ended.
    pub fn stop(mut self) -> Vec<LoopExit<H>> {
        let _ = self.handle.stop();
        self.join()
    }

    /// Waits (bounded) for a group that stops by itself.
    pub fn join(&mut self) -> Vec<LoopExit<H>> {
        let thread = self.thread.take().expect("joined twice");
        let deadline = Instant::now() + TIMEOUT;
        while !thread.is_finished() {
            assert!(Instant::now() < deadline, "the loop group did not exit within {TIMEOUT:?}");
            thread::park_timeout(Duration::from_millis(5));
        }
        thread.join().expect("the loop group's thread panicked")
    }
}

impl<H: Handler> Drop for GroupServer<H> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.handle.stop();
        }
    }
}

/// Connections each loop accepted (or adopted), in loop order.
pub fn accepted_per_loop<H>(exits: &[LoopExit<H>]) -> Vec<u64> {
    exits.iter().map(|exit| exit.stats.accepted).collect()
}
