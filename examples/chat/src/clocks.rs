//! The clocks the chat keeps per client: how long a line may take, how
//! long a client may stay silent, and when a client held back by flood
//! control is read again.

use std::time::Duration;

use evloop::{ConnId, Ctx};
use log::debug;

use crate::chat::{Client, IDLE_TIMER, LINE_TIMER, RESUME_TIMER};
use crate::intake::Throttle;
use crate::Chat;

impl Chat {
    /// `id` has had its share of this turn, with lines left: read no more
    /// of it until the next turn, when the loop offers those lines again.
    /// Without the pause, a client writing faster than its share would pile
    /// up unconsumed input in the loop until it closed for
    /// [`CloseReason::InputLimit`](evloop::CloseReason::InputLimit).
    pub(crate) fn wait_a_turn(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        cx.pause_read(id);
        if client.resume_timer.is_none() {
            client.resume_timer = cx.set_conn_timer(id, Duration::ZERO, RESUME_TIMER);
        }
    }

    /// `id` is over its line rate: stop reading it until its next line is
    /// due, or disconnect it if it has been over for too long.
    pub(crate) fn hold_back(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        let new_episode = !client.intake.is_held_back();
        match client.intake.throttle(cx.now()) {
            Throttle::Wait(wait) => {
                if new_episode {
                    debug!("{} {}: over its line rate, held back", self.nick(id), client.peer);
                }
                cx.pause_read(id);
                if client.resume_timer.is_none() {
                    client.resume_timer = cx.set_conn_timer(id, wait, RESUME_TIMER);
                }
            }
            Throttle::Disconnect => {
                let Some(flood) = self.settings.flood else { return };
                let over = flood.disconnect_after.unwrap_or_default().as_secs_f64();
                let last_words =
                    format!("ERR flooding: over {} lines a second for {over} s; disconnecting", flood.lines_per_sec);
                self.dismiss(cx, id, &mut client.leaving, "flooding", &last_words);
            }
        }
    }

    /// The idle timer fired: closes `id`, telling it why, if it has sent
    /// nothing for [`Settings::idle_timeout`], else re-arms for the rest.
    pub(crate) fn check_idle(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        let Some(idle) = self.settings.idle_timeout else { return };
        let quiet = cx.now().saturating_duration_since(client.last_input);
        if quiet >= idle {
            let last_words = format!("* idle for {} s, disconnecting", idle.as_secs_f64());
            self.dismiss(cx, id, &mut client.leaving, "idle timeout", &last_words);
        } else {
            cx.set_conn_timer(id, idle - quiet, IDLE_TIMER);
        }
    }

    /// The line timer fired: closes `id` if its line has taken too long,
    /// else re-arms for the rest of the time it has.
    pub(crate) fn check_line_timeout(&mut self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        client.line_timer = None;
        let (Some(timeout), Some(started)) = (self.settings.line_timeout, client.line_started) else { return };
        let waited = cx.now().saturating_duration_since(started);
        if waited >= timeout {
            let last_words = format!("ERR line not finished within {}s; closing", timeout.as_secs_f64());
            self.dismiss(cx, id, &mut client.leaving, "line timeout", &last_words);
        } else {
            client.line_timer = cx.set_conn_timer(id, timeout - waited, LINE_TIMER);
        }
    }

    /// After a batch of input: starts the clock on a line left unfinished,
    /// so it must end within [`Settings::line_timeout`].
    pub(crate) fn watch_unfinished_line(&self, cx: &mut Ctx, id: ConnId, client: &mut Client) {
        let Some(timeout) = self.settings.line_timeout else { return };
        if !client.decoder.is_mid_line() {
            client.line_started = None;
            return;
        }
        client.line_started.get_or_insert(cx.now());
        // One timer covers every line: when it fires it checks the line
        // then in progress and re-arms for its remainder.
        if client.line_timer.is_none() {
            client.line_timer = cx.set_conn_timer(id, timeout, LINE_TIMER);
        }
    }
}
