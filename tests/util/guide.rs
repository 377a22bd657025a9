//! The guide's pages (`docs/guide/*.md`), compiled and run as doc tests
//! (`cargo test -p evloop-tests --doc`) so their code stays true. The
//! README's are compiled the same way by the `evloop` crate.

/// docs/guide/handler.md
#[doc = include_str!("../../docs/guide/handler.md")]
pub struct Handler;

/// docs/guide/framing.md
#[doc = include_str!("../../docs/guide/framing.md")]
pub struct Framing;

/// docs/guide/backpressure.md
#[doc = include_str!("../../docs/guide/backpressure.md")]
pub struct Backpressure;

/// docs/guide/closing.md
#[doc = include_str!("../../docs/guide/closing.md")]
pub struct Closing;

/// docs/guide/timers.md
#[doc = include_str!("../../docs/guide/timers.md")]
pub struct Timers;

/// docs/guide/many-cores.md
#[doc = include_str!("../../docs/guide/many-cores.md")]
pub struct ManyCores;

/// docs/guide/design.md
#[doc = include_str!("../../docs/guide/design.md")]
pub struct Design;

/// docs/guide/examples.md
#[doc = include_str!("../../docs/guide/examples.md")]
pub struct Examples;

/// docs/guide/benchmarking.md
#[doc = include_str!("../../docs/guide/benchmarking.md")]
pub struct Benchmarking;

/// docs/guide/unix-sockets.md
#[doc = include_str!("../../docs/guide/unix-sockets.md")]
pub struct UnixSockets;

/// docs/guide/tls.md
#[doc = include_str!("../../docs/guide/tls.md")]
pub struct Tls;
