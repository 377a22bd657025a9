//! How a group's loops share the connections to one address, and the
//! listening sockets each way needs.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use log::info;

use super::acceptor::Acceptor;
use crate::event_loop::SharedRoom;
use crate::loop_handle::Inbox;
use crate::transport::{tcp, Listener};
use crate::Ctx;

/// How the loops of a [`LoopGroup`](crate::LoopGroup) share the
/// connections to its addresses.
///
/// Measured on 2 loops (BENCHMARKS.md's "Loop groups" has the figures
/// and the commands): all three spread 10,000 connections within 5% of
/// even while the loops are equally free, at 21,000-26,000 connects/s on
/// a 2-CPU machine; they differ while one loop is busy. Then the shared
/// listener alone sends new connections to the free loop; the other two
/// give the busy loop its half, which waits until it is free.
///
/// # Examples
///
/// ```
/// # use evloop::{Config, ConnId, Ctx, Handler, Origin};
/// # struct Quiet;
/// # impl Handler for Quiet {
/// #     type Conn = ();
/// #     type Message = ();
/// #     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
/// #     fn on_data(&mut self, _: &mut Ctx, _: ConnId, _: &mut (), data: &[u8]) -> usize { data.len() }
/// # }
/// use evloop::{GroupBuilder, Spread};
///
/// # fn main() -> std::io::Result<()> {
/// // One loop runs a slow job now and then: let the free loops take the new connections.
/// let group = GroupBuilder::new(Config::default()).spread(Spread::SharedListener).build(|_, _| Quiet)?;
/// assert_eq!(group.spread(), Spread::SharedListener);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Spread {
    /// A listening socket per loop, all bound to the address with
    /// `SO_REUSEPORT`: the kernel hashes each connection's addresses and
    /// ports to pick one (nginx's `reuseport`). No thread is woken for a
    /// connection it does not get, accepts run in parallel, and nothing is
    /// shared. A loop that is busy still gets its share: those connections
    /// wait in its backlog until it is free. Closing a loop's socket (on
    /// stop) resets the connections still in its backlog. Linux lets only
    /// the same user bind the port again.
    #[default]
    ReusePort,
    /// One listening socket that every loop polls and accepts from. Load
    /// follows capacity: a loop busy in a callback does not accept, so the
    /// free ones take the new connections; so does a loop at
    /// [`Config::max_connections`](crate::Config::max_connections), which
    /// leaves the backlog to a sibling with room (and accepts again once a
    /// slot frees): a connection is refused only when every loop is full. The cost is the thundering
    /// herd: every new connection wakes every idle loop, and all but one
    /// find nothing to accept (mio offers no `EPOLLEXCLUSIVE`).
    SharedListener,
    /// One extra thread accepts every connection and hands it to the loop
    /// with the fewest (open, plus handed over and not yet taken) through
    /// that loop's queue: exactly even by count. A loop that is stopping
    /// (draining after [`Ctx::stop`](crate::Ctx::stop)) gets none. It
    /// balances connections, not CPU: a busy loop's untaken connections
    /// count against it, but while the others' connections stay open it
    /// is still handed its share. The price is a thread, a hand-off per
    /// connection, and one thread's accept rate for all.
    Acceptor,
}

impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Spread::ReusePort => "SO_REUSEPORT listener per loop",
            Spread::SharedListener => "one listener shared by every loop",
            Spread::Acceptor => "acceptor thread handing connections to the least-loaded loop",
        })
    }
}

impl Spread {
    /// Listens on `addr` for every loop of a group, this way.
    pub(super) fn listen<M>(
        self,
        addr: SocketAddr,
        backlog: u32,
        loops: &mut [(Ctx, Inbox<M>)],
        acceptor: Option<&mut Acceptor>,
    ) -> io::Result<SocketAddr> {
        let first = tcp::bind(addr, backlog, self == Spread::ReusePort)?;
        let local = first.local_addr()?;
        if self == Spread::ReusePort {
            // Bind them all before registering any, so a bind error
            // leaves no loop with a listener the others lack.
            let mut sockets = vec![first];
            for _ in 1..loops.len() {
                sockets.push(tcp::bind(local, backlog, true)?);
            }
            for ((cx, _), socket) in loops.iter_mut().zip(sockets) {
                cx.add_listener(Listener::Tcp(socket))?;
            }
        } else {
            Spread::share(Listener::Tcp(first), loops, acceptor)?;
        }
        info!("loop group of {} listening on {local}: {self}", loops.len());
        Ok(local)
    }

    /// Serves one listening socket on every loop: handed to the acceptor
    /// under [`Spread::Acceptor`], else one socket (one file description,
    /// one backlog) with a descriptor of it in each loop's epoll, as
    /// [`Spread::SharedListener`] does. A Unix-domain socket is always
    /// served this way: `SO_REUSEPORT` does not spread those.
    pub(super) fn share<M>(
        listener: Listener,
        loops: &mut [(Ctx, Inbox<M>)],
        acceptor: Option<&mut Acceptor>,
    ) -> io::Result<()> {
        if let Some(acceptor) = acceptor {
            return acceptor.add(listener);
        }
        let room = Arc::new(SharedRoom::new(loops.len()));
        for (cx, _) in loops.iter_mut() {
            cx.add_shared_listener(listener.try_clone()?, Arc::clone(&room))?;
        }
        Ok(())
    }
}
