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

/// One kind of context, and what the shelf needs of it.
pub(crate) trait Kind: Sized + 'static {
    /// Where idle contexts of this kind wait.
    fn shelf() -> &'static Mutex<Shelf<Self>>;
    /// Bytes idle contexts of this kind may hold together.
    const BUDGET: usize;
    /// `ZSTD_*_reset` to the initial session and parameters; false if it
    /// failed.
    unsafe fn reset(ptr: NonNull<Self>) -> bool;
    /// `ZSTD_sizeof_*`.
    unsafe fn size(ptr: NonNull<Self>) -> usize;
    /// `ZSTD_free*`.
    unsafe fn free(ptr: NonNull<Self>);
}

const SESSION_AND_PARAMETERS: zstd_sys::ZSTD_ResetDirective =
    zstd_sys::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters;

impl Kind for zstd_sys::ZSTD_CCtx {
    fn shelf() -> &'static Mutex<Shelf<Self>> {
        &CCTX
    }
    const BUDGET: usize = CCTX_BUDGET;
    unsafe fn reset(ptr: NonNull<Self>) -> bool {
        zstd_sys::ZSTD_isError(zstd_sys::ZSTD_CCtx_reset(
            ptr.as_ptr(),
            SESSION_AND_PARAMETERS,
        )) == 0
    }
    unsafe fn size(ptr: NonNull<Self>) -> usize {
        zstd_sys::ZSTD_sizeof_CCtx(ptr.as_ptr())
    }
    unsafe fn free(ptr: NonNull<Self>) {
        zstd_sys::ZSTD_freeCCtx(ptr.as_ptr());
    }
}

impl Kind for zstd_sys::ZSTD_DCtx {
    fn shelf() -> &'static Mutex<Shelf<Self>> {
        &DCTX
    }
    const BUDGET: usize = DCTX_BUDGET;
    unsafe fn reset(ptr: NonNull<Self>) -> bool {
        zstd_sys::ZSTD_isError(zstd_sys::ZSTD_DCtx_reset(
            ptr.as_ptr(),
            SESSION_AND_PARAMETERS,
        )) == 0
    }
    unsafe fn size(ptr: NonNull<Self>) -> usize {
        zstd_sys::ZSTD_sizeof_DCtx(ptr.as_ptr())
    }
    unsafe fn free(ptr: NonNull<Self>) {
        zstd_sys::ZSTD_freeDCtx(ptr.as_ptr());
    }
}

/// Idle contexts of one kind, most recently used last, and the bytes they
/// hold.
pub(crate) struct Shelf<K> {
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

/// An idle context of this kind, reset to its initial state.
pub(crate) fn take<K: Kind>() -> Option<NonNull<K>> {
    let mut shelf = K::shelf().lock().ok()?;
    let (ptr, bytes) = shelf.idle.pop()?;
    shelf.held -= bytes;
    Some(ptr)
}

/// Resets a context that is done with and keeps it; frees it if the reset
/// fails, it is too large, or the budget is spent.
///
/// # Safety
/// `ptr` is a context from zstd's create function for its kind that nothing
/// else uses, whose last call did not fail, and (for compression) that
/// never had worker threads or a thread pool.
pub(crate) unsafe fn put<K: Kind>(ptr: NonNull<K>) {
    if K::reset(ptr) {
        let bytes = K::size(ptr);
        if bytes <= LARGEST {
            if let Ok(mut shelf) = K::shelf().lock() {
                if shelf.held + bytes <= K::BUDGET {
                    shelf.held += bytes;
                    shelf.idle.push((ptr, bytes));
                    return;
                }
            }
        }
    }
    K::free(ptr);
}
