//! The bytes the process holds from its allocator, for `INFO`'s
//! `used_memory`: the system allocator with a running count beside it,
//! and [`trim_if_freed`], which hands memory freed after a burst back to
//! the system.
//!
//! The binary installs it (`#[global_allocator]` in `main.rs`); a server
//! embedded elsewhere (the tests) does not, and then `INFO` says
//! `used_memory` is the resident size, which is what it can know.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);

/// The most [`ALLOCATED`] reached since the last trim.
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// Counts `size` more bytes held, and the high point.
fn grew(size: usize) {
    let now = ALLOCATED.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// The system allocator, counting what is allocated and not yet freed.
#[derive(Debug)]
pub struct Counting;

// SAFETY: every call is forwarded to `System` with the caller's own
// arguments, so `System`'s guarantees hold; the counter is only arithmetic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            ALLOCATED.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

/// Bytes allocated through [`Counting`] and not freed; 0 when it is not
/// the global allocator.
pub fn allocated() -> usize {
    ALLOCATED.load(Ordering::Relaxed)
}

/// How much the bytes held must fall, from their high point since the
/// last trim, before freed memory is handed back to the system: 16 MiB,
/// and at least half.
const TRIM_AFTER_FREEING: usize = 16 * 1024 * 1024;

/// Hands memory freed after a burst back to the system, as Redis's
/// jemalloc does by itself: glibc's malloc keeps freed memory resident
/// (100k channels subscribed and left kept ~45 MiB of RSS with 160 KiB
/// in use) until `malloc_trim`. The cron calls it; it trims only once the
/// bytes held fell by 16 MiB and by half from their high point since the
/// last trim (which [`Counting`] records), so a steady server never pays
/// for it. Whether it trimmed.
pub fn trim_if_freed() -> bool {
    let (now, peak) = (allocated(), PEAK.load(Ordering::Relaxed));
    if peak.saturating_sub(now) < TRIM_AFTER_FREEING || now > peak / 2 {
        return false;
    }
    PEAK.store(now, Ordering::Relaxed);
    trim()
}

/// glibc's `malloc_trim(0)`: returns free memory at the top of the heap
/// and in free pages inside it to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() -> bool {
    extern "C" {
        fn malloc_trim(pad: usize) -> std::os::raw::c_int;
    }
    // SAFETY: malloc_trim takes no pointer and only walks glibc's own
    // heap under its lock; any pad value is valid.
    unsafe { malloc_trim(0) == 1 }
}

/// Other C libraries: nothing to call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}
