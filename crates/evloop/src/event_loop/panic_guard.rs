//! Running application callbacks so that one panic does not take the loop down.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use log::error;

use crate::PanicPolicy;

/// Runs `callback`, catching a panic unless the policy is to abort.
/// Returns `None` if it panicked; the caller decides what that closes.
///
/// `AssertUnwindSafe` is sound here in the sense `catch_unwind` means: the
/// loop's own state is consistent at every callback boundary, and a handler
/// left half-updated by its own panic is the application's to judge (the
/// connection's state still reaches `on_close`).
#[inline(always)]
pub(crate) fn guard<R>(policy: PanicPolicy, callback_name: &str, callback: impl FnOnce() -> R) -> Option<R> {
    match panic::catch_unwind(AssertUnwindSafe(callback)) {
        Ok(result) => Some(result),
        Err(payload) => {
            panicked(policy, callback_name, payload);
            None
        }
    }
}

/// Logs a caught panic and aborts if the policy says so. Out of line, so
/// the callback's call site stays a plain call.
#[cold]
#[inline(never)]
fn panicked(policy: PanicPolicy, callback_name: &str, payload: Box<dyn Any + Send>) {
    error!("{callback_name} panicked: {}", panic_message(&payload));
    if policy == PanicPolicy::Abort {
        std::process::abort();
    }
}

/// The message a panic carried, if it was a string.
pub(crate) fn panic_message(payload: &Box<dyn Any + Send>) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "(non-string panic payload)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_result_when_nothing_panics() {
        assert_eq!(guard(PanicPolicy::CloseConnection, "test", || 7), Some(7));
    }

    #[test]
    fn catches_a_panic_and_returns_none() {
        let outcome = guard(PanicPolicy::CloseConnection, "test", || -> u8 { panic!("boom") });
        assert_eq!(outcome, None);
    }
}
