//! How each loop of a group ended: what [`LoopGroup::run`](crate::LoopGroup::run) returns.

use std::fmt;
use std::io;

use crate::Stats;

/// How one loop of a [`LoopGroup`](crate::LoopGroup) ended, with its
/// handler and counters.
///
/// # Examples
///
/// ```
/// # use evloop::{Config, ConnId, Ctx, GroupBuilder, Handler, Origin};
/// # struct Quiet;
/// # impl Handler for Quiet {
/// #     type Conn = ();
/// #     type Message = ();
/// #     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
/// #     fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize { data.len() }
/// # }
/// # fn main() -> std::io::Result<()> {
/// let group = GroupBuilder::new(Config::default()).threads(2).build(|_, _| Quiet)?;
/// group.handle().stop().unwrap();
/// for exit in group.run()? {
///     println!("loop {}: {:?}, accepted {}", exit.index, exit.result, exit.stats.accepted);
///     assert!(exit.handler.is_some());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct LoopExit<H> {
    /// Which loop, from 0.
    pub index: usize,
    /// Its handler; `None` if building it panicked.
    pub handler: Option<H>,
    /// Its counters when it ended.
    pub stats: Stats,
    /// `Ok` after a graceful stop.
    pub result: Result<(), LoopError>,
}

/// Why a loop of a group did not end with a graceful stop. The other loops
/// were stopped gracefully when it happened.
///
/// # Examples
///
/// ```
/// use evloop::LoopError;
/// let error = LoopError::Panic("boom".into());
/// assert_eq!(error.to_string(), "the loop panicked: boom");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LoopError {
    /// `epoll_wait` failed, as [`EventLoop::run`](crate::EventLoop::run)
    /// reports it: every connection of that loop was closed with it.
    Poll(io::Error),
    /// A panic escaped the loop (the factory, the thread-start hook, or the
    /// loop itself; a panic in a callback is caught per
    /// [`Config::panic_policy`](crate::Config::panic_policy) and does not
    /// escape), with its message. The loop's connections were dropped
    /// without `on_close`.
    Panic(String),
}

impl fmt::Display for LoopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoopError::Poll(e) => write!(f, "the loop's poll failed: {e}"),
            LoopError::Panic(message) => write!(f, "the loop panicked: {message}"),
        }
    }
}

impl std::error::Error for LoopError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoopError::Poll(e) => Some(e),
            LoopError::Panic(_) => None,
        }
    }
}
