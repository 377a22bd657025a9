//! The thread that runs a group (the caller of `LoopGroup::run`) waits
//! here: for loops to exit, and, with the `signals` feature, for SIGINT or
//! SIGTERM. The first loop to exit, for whatever reason, or the first
//! signal, stops every loop; `run` returns when all have exited.

use std::io;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use log::{error, info};
use mio::{Events, Poll, Token, Waker};

use super::peers::Shared;

/// Loop threads ring it as they exit.
const WAKER: Token = Token(0);
/// SIGINT and SIGTERM, with the `signals` feature.
#[cfg(feature = "signals")]
const SIGNALS: Token = Token(1);

/// What the supervising thread waits on.
pub(crate) struct Supervisor {
    poll: Poll,
    waker: Arc<Waker>,
    #[cfg(feature = "signals")]
    signals: Option<signal_hook_mio::v1_0::Signals>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").finish_non_exhaustive()
    }
}

impl Supervisor {
    pub(crate) fn new() -> io::Result<Supervisor> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Supervisor {
            poll,
            waker,
            #[cfg(feature = "signals")]
            signals: None,
        })
    }

    /// What a loop thread rings when it exits.
    pub(crate) fn waker(&self) -> Arc<Waker> {
        Arc::clone(&self.waker)
    }

    /// Makes SIGINT and SIGTERM stop the group.
    #[cfg(feature = "signals")]
    pub(crate) fn stop_on_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        if self.signals.is_none() {
            let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM])?;
            self.poll.registry().register(&mut signals, SIGNALS, mio::Interest::READABLE)?;
            self.signals = Some(signals);
        }
        Ok(())
    }

    /// Waits until `loops` loops have reported on `exited`, stopping every
    /// loop at the first exit or signal.
    pub(crate) fn supervise<M: Send>(&mut self, loops: usize, exited: &Receiver<usize>, shared: &Shared<M>) {
        let mut events = Events::with_capacity(8);
        let mut gone = 0;
        let mut stopping = false;
        while gone < loops {
            match self.poll.poll(&mut events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Nothing left to wait with: stop everything and wait
                    // on the channel alone.
                    error!("loop group: supervisor poll failed, stopping every loop: {e}");
                    let _ = shared.stop_all();
                    for _ in gone..loops {
                        let _ = exited.recv();
                    }
                    return;
                }
            }
            #[cfg(feature = "signals")]
            if events.iter().any(|event| event.token() == SIGNALS) {
                self.take_signals(&mut stopping, shared);
            }
            while let Ok(index) = exited.try_recv() {
                gone += 1;
                if !stopping {
                    info!("loop {index} exited: stopping the other loops");
                    stopping = true;
                    let _ = shared.stop_all();
                }
            }
        }
    }

    #[cfg(feature = "signals")]
    fn take_signals<M: Send>(&mut self, stopping: &mut bool, shared: &Shared<M>) {
        let Some(signals) = self.signals.as_mut() else { return };
        for signal in signals.pending() {
            if *stopping {
                log::warn!("signal {signal} while stopping: the loops are already flushing (Config::shutdown_timeout bounds it)");
            } else {
                info!("signal {signal}: stopping every loop");
                *stopping = true;
                let _ = shared.stop_all();
            }
        }
    }
}
