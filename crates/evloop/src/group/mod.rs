//! `LoopGroup`: N shared-nothing event loops, one per thread, each with
//! its own poll, slab, timers and handler, serving one address together
//! (nginx's workers, Seastar's shards, h2o's threads).

mod acceptor;
mod exit;
mod peers;
mod spread;
mod supervisor;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::thread;

use log::{error, info};

pub use exit::{LoopError, LoopExit};
pub use peers::{GroupHandle, Peers};
pub use spread::Spread;

use self::acceptor::Acceptor;
use self::peers::Shared;
use self::supervisor::Supervisor;
use crate::event_loop::panic_message;
use crate::loop_handle::Inbox;
use crate::transport::unix;
use crate::{Config, Ctx, EventLoop, Handler, Stats};

/// Builds each loop's handler from the loop's index and its [`Peers`].
type Factory<H> = Box<dyn Fn(usize, Peers<<H as Handler>::Message>) -> H + Send + Sync>;

/// Runs first on each loop's thread, with the loop's index.
type ThreadStart = Box<dyn Fn(usize) + Send + Sync>;

/// Options for a [`LoopGroup`]: how many loops, how they share
/// connections, and a hook on each loop's thread.
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
/// let group = GroupBuilder::new(Config::default())
///     .threads(4)
///     .spread(Spread::ReusePort)
///     .on_thread_start(|index| log::info!("loop {index} starting"))
///     .build(|_index, _peers| Quiet)?;
/// assert_eq!(group.loops(), 4);
/// # Ok(())
/// # }
/// ```
pub struct GroupBuilder {
    config: Config,
    threads: Option<usize>,
    spread: Spread,
    on_thread_start: Option<ThreadStart>,
}

impl fmt::Debug for GroupBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupBuilder")
            .field("threads", &self.threads)
            .field("spread", &self.spread)
            .field("on_thread_start", &self.on_thread_start.is_some())
            .finish_non_exhaustive()
    }
}

impl GroupBuilder {
    /// Options with every loop configured by `config` (each loop's limits
    /// are its own: [`Config::max_connections`] is per loop), one loop per
    /// CPU this process may run on, and [`Spread::default`].
    pub fn new(config: Config) -> GroupBuilder {
        GroupBuilder { config, threads: None, spread: Spread::default(), on_thread_start: None }
    }

    /// How many loops (and threads). By default, the CPUs this process may
    /// run on (`std::thread::available_parallelism`, which follows the
    /// affinity mask and cgroup quota), or 1 if that is unknown.
    pub fn threads(mut self, threads: usize) -> GroupBuilder {
        self.threads = Some(threads);
        self
    }

    /// How the loops share the connections to the group's addresses.
    pub fn spread(mut self, spread: Spread) -> GroupBuilder {
        self.spread = spread;
        self
    }

    /// Runs `hook(index)` first thing on each loop's thread, before the
    /// factory builds that loop's handler: the place to pin loop `i` to
    /// CPU `i` (evloop has no unsafe code and no dependency for it; the
    /// `core_affinity` crate or `libc::sched_setaffinity` do it, and the
    /// guide's many-cores page shows how), set a thread priority, or name a tracing span.
    /// Memory the factory allocates is then first touched on that CPU.
    pub fn on_thread_start(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> GroupBuilder {
        self.on_thread_start = Some(Box::new(hook));
        self
    }

    /// Creates the group's loops (an epoll instance and a waker each); the
    /// factory runs later, on each loop's thread, when the group runs.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero threads or a `Config` whose limits
    /// contradict each other; otherwise what `epoll_create` or `eventfd`
    /// return.
    pub fn build<H, F>(self, factory: F) -> io::Result<LoopGroup<H>>
    where
        H: Handler + Send + 'static,
        F: Fn(usize, Peers<H::Message>) -> H + Send + Sync + 'static,
    {
        let threads = self.threads.unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));
        if threads == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a loop group needs at least one thread"));
        }
        let loops = (0..threads).map(|_| EventLoop::<H>::parts(self.config.clone())).collect::<io::Result<Vec<_>>>()?;
        let acceptor = match self.spread {
            Spread::Acceptor => Some(Acceptor::new(self.config.accept_backoff)?),
            _ => None,
        };
        let shared = Shared {
            handles: loops.iter().map(|(_, inbox)| inbox.handle()).collect(),
            acceptor: acceptor.as_ref().map(Acceptor::control),
        };
        Ok(LoopGroup {
            backlog: self.config.listen_backlog,
            loops,
            shared: Arc::new(shared),
            factory: Box::new(factory),
            on_thread_start: self.on_thread_start,
            spread: self.spread,
            acceptor,
            supervisor: Supervisor::new()?,
        })
    }
}

/// N independent event loops, one per thread, serving the same addresses:
/// each has its own poll, connections, timers and handler, and nothing on
/// the data path is shared between them (no locks, no atomics per
/// message). The application's state is per loop; loops that need each
/// other talk through bounded queues ([`Peers`]).
///
/// Build it with a [`GroupBuilder`] (or [`LoopGroup::new`] for the
/// defaults), [`listen`](LoopGroup::listen), then [`run`](LoopGroup::run):
/// `run` blocks until every loop has stopped, and returns each loop's
/// handler and [`Stats`]. The first loop to stop, for whatever reason
/// ([`Ctx::stop`], a failed poll, a panic that escaped it), stops every
/// other loop gracefully; so do [`GroupHandle::stop`] and, with the
/// `signals` feature, SIGINT and SIGTERM.
///
/// # Examples
///
/// ```
/// use evloop::{Config, ConnId, Ctx, GroupBuilder, Handler, Origin};
/// use std::io::{Read, Write};
///
/// struct Echo;
/// impl Handler for Echo {
///     type Conn = ();
///     type Message = ();
///     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
///     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
///         cx.send(id, data);
///         data.len()
///     }
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let mut group = GroupBuilder::new(Config::default()).threads(2).build(|_index, _peers| Echo)?;
/// let addr = group.listen("127.0.0.1:0".parse().unwrap())?;
/// let handle = group.handle();
/// let client = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
///     let mut stream = std::net::TcpStream::connect(addr)?;
///     stream.write_all(b"ping")?;
///     let mut reply = [0; 4];
///     stream.read_exact(&mut reply)?;
///     handle.stop().expect("the group is running");
///     Ok(reply.to_vec())
/// });
/// let exits = group.run()?;
/// assert_eq!(client.join().unwrap()?, b"ping");
/// assert_eq!(exits.iter().map(|exit| exit.stats.accepted).sum::<u64>(), 1);
/// # Ok(())
/// # }
/// ```
pub struct LoopGroup<H: Handler> {
    loops: Vec<(Ctx, Inbox<H::Message>)>,
    shared: Arc<Shared<H::Message>>,
    factory: Factory<H>,
    on_thread_start: Option<ThreadStart>,
    spread: Spread,
    backlog: u32,
    acceptor: Option<Acceptor>,
    supervisor: Supervisor,
}

impl<H: Handler> fmt::Debug for LoopGroup<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopGroup")
            .field("loops", &self.loops.len())
            .field("spread", &self.spread)
            .finish_non_exhaustive()
    }
}

impl<H> LoopGroup<H>
where
    H: Handler + Send + 'static,
{
    /// A group with the default options (one loop per available CPU,
    /// [`Spread::default`]); see [`GroupBuilder::build`].
    ///
    /// # Errors
    ///
    /// As [`GroupBuilder::build`].
    pub fn new<F>(config: Config, factory: F) -> io::Result<LoopGroup<H>>
    where
        F: Fn(usize, Peers<H::Message>) -> H + Send + Sync + 'static,
    {
        GroupBuilder::new(config).build(factory)
    }

    /// How many loops the group has.
    pub fn loops(&self) -> usize {
        self.loops.len()
    }

    /// How the loops share connections.
    pub fn spread(&self) -> Spread {
        self.spread
    }

    /// Listens on `addr` for every loop and returns the address bound (the
    /// real port when `addr` asks for port 0); how the loops share it is
    /// the group's [`Spread`]. May be called several times before `run`;
    /// the `n`th address's connections reach `on_open` as
    /// [`Origin::Inbound`](crate::Origin::Inbound)` { listener: n }` on
    /// every loop.
    ///
    /// # Errors
    ///
    /// As [`EventLoop::listen`]. After an error the loops may disagree on
    /// listener indices: drop the group rather than go on.
    pub fn listen(&mut self, addr: SocketAddr) -> io::Result<SocketAddr> {
        self.spread.listen(addr, self.backlog, &mut self.loops, self.acceptor.as_mut())
    }

    /// Listens on `addr` for every loop as [`listen`](LoopGroup::listen)
    /// does, speaking TLS with `config` as [`EventLoop::listen_tls`] does
    /// for one loop: whichever loop serves a connection runs its handshake
    /// and calls `on_open` once it has completed.
    ///
    /// # Errors
    ///
    /// As [`listen`](LoopGroup::listen).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn listen_tls(&mut self, addr: SocketAddr, config: Arc<rustls::ServerConfig>) -> io::Result<SocketAddr> {
        let acceptor_slot = match self.acceptor.as_ref() {
            Some(acceptor) if self.spread == Spread::Acceptor => Some(acceptor.len()),
            _ => None,
        };
        let local = self.listen(addr)?;
        for (cx, _) in self.loops.iter_mut() {
            match acceptor_slot {
                Some(slot) => cx.listeners.set_adopted_tls(slot, Arc::clone(&config)),
                None => cx.listeners.set_tls(Arc::clone(&config)),
            }
        }
        Ok(local)
    }

    /// Listens on a Unix-domain socket at `path` for every loop, as
    /// [`EventLoop::listen_unix`] does for one (stale files replaced, live
    /// ones refused, the file removed once the group stops), with `mode`
    /// as the file's permissions if given. The loops share the one socket
    /// as under [`Spread::SharedListener`] (or the acceptor takes it, under
    /// [`Spread::Acceptor`]): `SO_REUSEPORT` does not spread Unix-domain
    /// connections.
    ///
    /// # Errors
    ///
    /// As [`EventLoop::listen_unix`].
    pub fn listen_unix(&mut self, path: impl AsRef<Path>, mode: Option<u32>) -> io::Result<()> {
        let listener = crate::transport::Listener::Unix(unix::bind(path.as_ref(), self.backlog, mode)?);
        let acceptor = if self.spread == Spread::Acceptor { self.acceptor.as_mut() } else { None };
        Spread::share(listener, &mut self.loops, acceptor)?;
        info!("loop group of {} listening on unix:{}", self.loops.len(), path.as_ref().display());
        Ok(())
    }

    /// A handle to stop the group or send its loops messages, from any
    /// thread, before or while it runs.
    pub fn handle(&self) -> GroupHandle<H::Message> {
        GroupHandle { shared: Arc::clone(&self.shared) }
    }

    /// Stops every loop gracefully on SIGINT or SIGTERM, watched by the
    /// thread that calls [`run`](LoopGroup::run) (which only waits). Call
    /// it before `run`. Needs the `signals` feature. The signals are
    /// handled for the whole process from then on.
    ///
    /// # Errors
    ///
    /// What creating the signal pipe or registering it returns.
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
    /// let mut group = GroupBuilder::new(Config::default()).threads(2).build(|_, _| Quiet)?;
    /// group.listen("127.0.0.1:0".parse().unwrap())?;
    /// group.stop_on_signals()?; // Ctrl-C: every loop stops accepting, flushes, closes
    /// # group.handle().stop().unwrap();
    /// group.run()?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "signals")]
    #[cfg_attr(docsrs, doc(cfg(feature = "signals")))]
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        self.supervisor.stop_on_signals()
    }

    /// Runs every loop on a thread of its own (named `evloop-INDEX`) until
    /// the group stops, and returns how each loop ended, in index order.
    /// On each thread the [thread-start hook](GroupBuilder::on_thread_start)
    /// runs, then the factory builds the loop's handler, then the loop
    /// runs as [`EventLoop::run`] does. The calling thread waits (for the
    /// loops, and for signals if asked).
    ///
    /// A panic that escapes a loop (a callback's panic does not, under
    /// [`PanicPolicy::CloseConnection`](crate::PanicPolicy::CloseConnection))
    /// is logged and reported in that loop's [`LoopExit::result`]; the
    /// other loops stop gracefully.
    ///
    /// # Errors
    ///
    /// What spawning a thread returns (the loops already started are
    /// stopped and joined first). How each loop ended is in its
    /// [`LoopExit`], not here.
    pub fn run(self) -> io::Result<Vec<LoopExit<H>>> {
        let LoopGroup { loops, shared, factory, on_thread_start, acceptor, mut supervisor, .. } = self;
        let count = loops.len();
        let (exited_tx, exited_rx) = mpsc::channel();
        info!("loop group running {count} loops");
        let exits = thread::scope(|scope| {
            let mut threads = Vec::with_capacity(count);
            for (index, (cx, inbox)) in loops.into_iter().enumerate() {
                let peers = Peers::new(index, Arc::clone(&shared));
                let (exited_tx, waker) = (exited_tx.clone(), supervisor.waker());
                let (factory, on_thread_start) = (&factory, on_thread_start.as_ref());
                let spawned = thread::Builder::new().name(format!("evloop-{index}")).spawn_scoped(scope, move || {
                    let exit = run_loop(index, cx, inbox, peers, factory, on_thread_start);
                    let _ = exited_tx.send(index);
                    // Fails only if the eventfd counter is full: awake then.
                    let _ = waker.wake();
                    exit
                });
                match spawned {
                    Ok(thread) => threads.push(thread),
                    Err(e) => {
                        error!("loop group: spawning loop {index}'s thread failed: {e}");
                        let _ = shared.stop_all();
                        for thread in threads {
                            let _ = thread.join();
                        }
                        return Err(e);
                    }
                }
            }
            let acceptor = acceptor.map(|acceptor| {
                let handles = &shared.handles;
                thread::Builder::new().name("evloop-acceptor".into()).spawn_scoped(scope, move || acceptor.run(handles))
            });
            if let Some(Err(e)) = &acceptor {
                error!("loop group: spawning the acceptor failed, stopping: {e}");
                let _ = shared.stop_all();
            }
            supervisor.supervise(count, &exited_rx, &shared);
            if let Some(Ok(acceptor)) = acceptor {
                let _ = shared.stop_all();
                if acceptor.join().is_err() {
                    error!("loop group: the acceptor panicked");
                }
            }
            let exits = threads.into_iter().map(|thread| thread.join().expect("run_loop catches every panic"));
            Ok(exits.collect::<Vec<_>>())
        })?;
        info!("loop group stopped");
        Ok(exits)
    }
}

/// One loop's thread: the hook, the factory, the loop; a panic out of any
/// of them is caught and reported.
fn run_loop<H: Handler>(
    index: usize,
    cx: Ctx,
    inbox: Inbox<H::Message>,
    peers: Peers<H::Message>,
    factory: &Factory<H>,
    on_thread_start: Option<&ThreadStart>,
) -> LoopExit<H> {
    let built = panic::catch_unwind(AssertUnwindSafe(|| {
        if let Some(hook) = on_thread_start {
            hook(index);
        }
        factory(index, peers)
    }));
    let handler = match built {
        Ok(handler) => handler,
        Err(payload) => {
            let message = panic_message(&payload).to_string();
            error!("loop {index}: building its handler panicked: {message}");
            return LoopExit { index, handler: None, stats: Stats::default(), result: Err(LoopError::Panic(message)) };
        }
    };
    let mut el = EventLoop::from_parts(cx, inbox, handler);
    let result = match panic::catch_unwind(AssertUnwindSafe(|| el.run())) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(LoopError::Poll(e)),
        Err(payload) => {
            let message = panic_message(&payload).to_string();
            error!("loop {index} panicked: {message}");
            Err(LoopError::Panic(message))
        }
    };
    let stats = el.stats().clone();
    LoopExit { index, handler: Some(el.into_handler()), stats, result }
}
