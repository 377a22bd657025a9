//! Stopping on SIGINT and SIGTERM from inside the loop, with no extra
//! thread (the `signals` feature).
//!
//! A signal handler (signal-hook's, which is async-signal-safe) writes a
//! byte to a socket pair whose other end is registered with the loop's
//! poll like any socket, so the signal arrives as an ordinary event. Doing
//! it with a thread that waits for signals and calls [`LoopHandle::stop`]
//! works too, but makes the process multi-threaded, and glibc then pays
//! for thread-cancellation bookkeeping in every `read` and `write`
//! wrapper (`benches/scripts/instructions_per_message.sh` measures it).
//!
//! [`LoopHandle::stop`]: crate::LoopHandle::stop

use std::io;

use log::{info, warn};
use mio::Interest;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::token::SIGNALS_TOKEN;
use crate::ctx::RunState;
use crate::{CloseReason, EventLoop, Handler};

impl<H: Handler> EventLoop<H> {
    /// Stops the loop gracefully on SIGINT or SIGTERM, as
    /// [`Ctx::stop`](crate::Ctx::stop) does; a second such signal while it
    /// stops closes every connection at once. Call it once, before
    /// [`run`](EventLoop::run). Needs the `signals` feature.
    ///
    /// The signals are handled for the whole process from then on (their
    /// default action, terminating the process, no longer happens).
    ///
    /// # Errors
    ///
    /// What creating the socket pair or registering it returns (`EMFILE`
    /// as `Other`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// # use evloop::{Config, ConnId, Ctx, EventLoop, Handler, Origin};
    /// # struct Echo;
    /// # impl Handler for Echo {
    /// #     type Conn = ();
    /// #     type Message = ();
    /// #     fn on_open(&mut self, _: &mut Ctx, _: ConnId, _: Origin) {}
    /// #     fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _: &mut (), data: &[u8]) -> usize {
    /// #         cx.send(id, data);
    /// #         data.len()
    /// #     }
    /// # }
    /// # fn main() -> std::io::Result<()> {
    /// let mut el = EventLoop::new(Config::default(), Echo)?;
    /// el.listen("127.0.0.1:0".parse().unwrap())?;
    /// el.stop_on_signals()?; // Ctrl-C: stop accepting, flush, close, return
    /// # el.handle().stop().unwrap();
    /// el.run()
    /// # }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "signals")))]
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        if self.signals.is_some() {
            return Ok(());
        }
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        self.cx.poll.registry().register(&mut signals, SIGNALS_TOKEN, Interest::READABLE)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// The signal socket is readable: one or more signals arrived.
    pub(crate) fn on_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else { return };
        for signal in signals.pending() {
            if self.cx.run_state == RunState::Running {
                info!("signal {signal}: stopping");
                self.cx.stop();
            } else {
                warn!("signal {signal} while stopping: closing every connection now");
                self.close_all(CloseReason::Shutdown);
            }
        }
    }
}
