//! Contexts kept after use for the next `create` (Strata's patch to
//! zstd-safe; see `vendor/README.md` in Strata).
//!
//! zstd asks the CPU for its features (three `cpuid` instructions) every
//! time it creates a compression or decompression context. In a virtual
//! machine each `cpuid` traps to the hypervisor: 4.4 µs each on the machine
//! Strata is benchmarked on. Parquet creates a compression *and* a
//! decompression context for every column chunk it reads or writes, so a
//! lake of a few thousand day partitions spent a tenth of its CPU there.
//! A context taken from here costs a vector pop instead.
//!
//! Only contexts that are as good as new go back: never poisoned by an
//! error, never given worker threads, and reset to their initial session
//! and parameters (which also drops any dictionary or prefix, loaded or
//! referenced). They differ from a fresh context only in the memory zstd
//! already allocated for them. That memory is bounded: no idle context
//! larger than [`LARGEST`] is kept, and idle contexts hold at most
//! [`CCTX_BUDGET`] and [`DCTX_BUDGET`] bytes; anything over is freed as
//! before.
//!
//! One shelf for the process, not one per thread: Parquet's readers and
//! writers run as tasks that move between threads, and a context is often
//! dropped on another thread than the one that next creates one: with
//! per-thread shelves a quarter of the contexts were still new. A lock
//! costs far less than a `cpuid`.

use core::ptr::NonNull;
use std::sync::Mutex;
use std::vec::Vec;

/// Bytes idle compression contexts may hold together: enough for the
/// contexts of one Parquet file writer of a few dozen columns (about
/// 1.4 MiB each once used at level 3) to come back for the next file.
/// Measured at 1M sales (debug builds): with 64 MiB for each kind, 7,239
/// compression and 6,093 decompression contexts were still created and
/// peak RSS was about 170 MB above no reuse at all; with these budgets,
/// 12,302 and 14,782 (of 60,776 each without reuse), about 100 MB above.
const CCTX_BUDGET: usize = 24 << 20;

/// Bytes idle decompression contexts may hold together (about 100 to 200
/// KiB each).
const DCTX_BUDGET: usize = 8 << 20;

/// A context holding more than this (say, after a large window or a long
/// stream) is freed rather than kept.
const LARGEST: usize = 4 << 20;

/// Idle contexts of one kind, most recently used last, and the bytes they
/// hold.
struct Shelf<K> {
    idle: Vec<(NonNull<K>, usize)>,
    held: usize,
}

// Safety: a shelved context is owned by the shelf alone, and zstd contexts
// may move between threads (zstd-safe's `CCtx` and `DCtx` are `Send`).
unsafe impl<K> Send for Shelf<K> {}

static CCTX: Mutex<Shelf<zstd_sys::ZSTD_CCtx>> = Mutex::new(Shelf {
    idle: Vec::new(),
    held: 0,
});
static DCTX: Mutex<Shelf<zstd_sys::ZSTD_DCtx>> = Mutex::new(Shelf {
    idle: Vec::new(),
    held: 0,
});

fn take<K>(shelf: &Mutex<Shelf<K>>) -> Option<NonNull<K>> {
    let mut shelf = shelf.lock().ok()?;
    let (ptr, bytes) = shelf.idle.pop()?;
    shelf.held -= bytes;
    Some(ptr)
}

/// Keeps `ptr` for reuse, or hands it back when it is too large or the
/// budget is spent.
fn keep<K>(
    shelf: &Mutex<Shelf<K>>,
    budget: usize,
    ptr: NonNull<K>,
    bytes: usize,
) -> Result<(), NonNull<K>> {
    if bytes > LARGEST {
        return Err(ptr);
    }
    let mut shelf = match shelf.lock() {
        Ok(shelf) => shelf,
        Err(_) => return Err(ptr),
    };
    if shelf.held + bytes > budget {
        return Err(ptr);
    }
    shelf.held += bytes;
    shelf.idle.push((ptr, bytes));
    Ok(())
}

/// An idle compression context, reset to its initial state.
pub(crate) fn take_cctx() -> Option<NonNull<zstd_sys::ZSTD_CCtx>> {
    take(&CCTX)
}

/// An idle decompression context, reset to its initial state.
pub(crate) fn take_dctx() -> Option<NonNull<zstd_sys::ZSTD_DCtx>> {
    take(&DCTX)
}

/// Resets a compression context that is done with, and keeps it; frees it
/// if that fails or it cannot be kept.
///
/// # Safety
/// `ptr` is a context from `ZSTD_createCCtx` that nothing else uses, that
/// never had worker threads or a thread pool, and whose last call did not
/// fail.
pub(crate) unsafe fn put_cctx(ptr: NonNull<zstd_sys::ZSTD_CCtx>) {
    let reset = zstd_sys::ZSTD_CCtx_reset(
        ptr.as_ptr(),
        zstd_sys::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters,
    );
    if zstd_sys::ZSTD_isError(reset) == 0 {
        let bytes = zstd_sys::ZSTD_sizeof_CCtx(ptr.as_ptr());
        match keep(&CCTX, CCTX_BUDGET, ptr, bytes) {
            Ok(()) => return,
            Err(ptr) => zstd_sys::ZSTD_freeCCtx(ptr.as_ptr()),
        };
    } else {
        zstd_sys::ZSTD_freeCCtx(ptr.as_ptr());
    }
}

/// Resets a decompression context that is done with, and keeps it; frees it
/// if that fails or it cannot be kept.
///
/// # Safety
/// `ptr` is a context from `ZSTD_createDCtx` that nothing else uses, and
/// whose last call did not fail.
pub(crate) unsafe fn put_dctx(ptr: NonNull<zstd_sys::ZSTD_DCtx>) {
    let reset = zstd_sys::ZSTD_DCtx_reset(
        ptr.as_ptr(),
        zstd_sys::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters,
    );
    if zstd_sys::ZSTD_isError(reset) == 0 {
        let bytes = zstd_sys::ZSTD_sizeof_DCtx(ptr.as_ptr());
        match keep(&DCTX, DCTX_BUDGET, ptr, bytes) {
            Ok(()) => return,
            Err(ptr) => zstd_sys::ZSTD_freeDCtx(ptr.as_ptr()),
        };
    } else {
        zstd_sys::ZSTD_freeDCtx(ptr.as_ptr());
    }
}
