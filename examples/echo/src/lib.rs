//! The echo handler: every byte a client sends comes back, in order.
//!
//! Kept apart from `main.rs` so the integration tests serve the very same
//! handler the binary does.

use evloop::{ConnId, Ctx, Handler, Origin};

/// Echoes everything back on the connection it came from.
#[derive(Debug, Default)]
pub struct Echo;

impl Handler for Echo {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut Ctx, _id: ConnId, _origin: Origin) {}

    fn on_data(&mut self, cx: &mut Ctx, id: ConnId, _conn: &mut (), data: &[u8]) -> usize {
        // Past the high watermark the loop stops reading from `id` until
        // the peer catches up, so echoing everything at once is safe.
        cx.send(id, data);
        data.len()
    }
}
