//! Stdin on a helper thread, handed to the loop through its `LoopHandle`.
//!
//! Reading stdin blocks, and the loop must never block on input, so a
//! thread reads it and sends each chunk as a message; `on_message` runs it
//! on the loop thread. The thread reads a chunk only with a credit from the
//! loop, so stdin cannot outrun the socket: nothing is read before the loop
//! grants the first credits (once connected), and at most
//! [`CREDITS_IN_FLIGHT`] chunks wait in the channel at a time.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;

use evloop::LoopHandle;

/// Bytes read from stdin in one go (a terminal hands over one line).
pub(crate) const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks the reader may have sent that the loop has not yet passed on.
pub(crate) const CREDITS_IN_FLIGHT: usize = 4;

/// What the stdin thread tells the loop.
#[derive(Debug)]
pub(crate) enum Input {
    /// Bytes read from stdin, to send to the server.
    Data(Vec<u8>),
    /// Stdin is at end of file: nothing more will come.
    Eof,
    /// Reading stdin failed; nothing more will come.
    Failed(io::Error),
}

/// The loop's end of the credit channel: each credit lets the reader read
/// one more chunk.
#[derive(Debug)]
pub(crate) struct Credits(Sender<()>);

impl Credits {
    /// Lets the reader read `count` more chunks.
    pub(crate) fn grant(&self, count: usize) {
        for _ in 0..count {
            // Only fails once the reader has stopped (stdin ended): nothing to do.
            let _ = self.0.send(());
        }
    }
}

/// The reader's end of the credit channel, until the thread starts.
#[derive(Debug)]
pub(crate) struct CreditWait(Receiver<()>);

/// A credit channel with no credits granted yet.
pub(crate) fn credits() -> (Credits, CreditWait) {
    let (tx, rx) = mpsc::channel();
    (Credits(tx), CreditWait(rx))
}

/// Starts the thread that feeds stdin to the loop behind `handle`.
///
/// # Errors
///
/// If the thread cannot be spawned.
pub(crate) fn spawn(wait: CreditWait, handle: LoopHandle<Input>) -> io::Result<()> {
    thread::Builder::new().name("stdin".into()).spawn(move || feed(io::stdin(), &wait.0, &handle))?;
    Ok(())
}

/// Reads `input` a chunk per credit until it ends, the loop exits, or the
/// credit channel closes (the loop's handler is gone).
fn feed(mut input: impl Read, credits: &Receiver<()>, handle: &LoopHandle<Input>) {
    let mut buf = vec![0; CHUNK_BYTES];
    while credits.recv().is_ok() {
        let message = match read_retrying(&mut input, &mut buf) {
            Ok(0) => Input::Eof,
            Ok(n) => Input::Data(buf[..n].to_vec()),
            Err(e) => Input::Failed(e),
        };
        let last = !matches!(message, Input::Data(_));
        if handle.send(message).is_err() || last {
            return;
        }
    }
}

/// One `read`, retried if a signal (Ctrl-C's handler) interrupts it.
fn read_retrying(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}
