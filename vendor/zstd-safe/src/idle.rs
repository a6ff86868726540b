//! Contexts kept after use, per thread, for the next `create` (Strata's
//! patch to zstd-safe; see `vendor/README.md` in Strata).
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
//! larger than [`LARGEST`] is kept, and all threads' idle contexts together
//! hold at most [`BUDGET`] bytes; anything over is freed as before. A
//! thread's idle contexts are freed when the thread ends.

use core::cell::RefCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::thread_local;
use std::vec::Vec;

/// Bytes that idle contexts of all threads may hold together.
const BUDGET: usize = 64 << 20;

/// A context holding more than this (say, after a large window or a long
/// stream) is freed rather than kept.
const LARGEST: usize = 4 << 20;

/// Bytes held by idle contexts now, over all threads.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// One kind of context: how to free it.
pub(crate) trait Kind {
    /// Frees a context zstd created.
    ///
    /// # Safety
    /// `ptr` came from zstd's create function for this kind, and is not
    /// used afterwards.
    unsafe fn free(ptr: NonNull<Self>);
}

impl Kind for zstd_sys::ZSTD_CCtx {
    unsafe fn free(ptr: NonNull<Self>) {
        zstd_sys::ZSTD_freeCCtx(ptr.as_ptr());
    }
}

impl Kind for zstd_sys::ZSTD_DCtx {
    unsafe fn free(ptr: NonNull<Self>) {
        zstd_sys::ZSTD_freeDCtx(ptr.as_ptr());
    }
}

/// A thread's idle contexts of one kind, with the bytes each holds.
struct Shelf<K: Kind>(Vec<(NonNull<K>, usize)>);

impl<K: Kind> Drop for Shelf<K> {
    fn drop(&mut self) {
        for (ptr, bytes) in self.0.drain(..) {
            HELD.fetch_sub(bytes, Ordering::Relaxed);
            // Safety: a shelved context is owned by the shelf alone.
            unsafe { K::free(ptr) };
        }
    }
}

thread_local! {
    static CCTX: RefCell<Shelf<zstd_sys::ZSTD_CCtx>> = const { RefCell::new(Shelf(Vec::new())) };
    static DCTX: RefCell<Shelf<zstd_sys::ZSTD_DCtx>> = const { RefCell::new(Shelf(Vec::new())) };
}

fn take<K: Kind>(
    shelf: &'static std::thread::LocalKey<RefCell<Shelf<K>>>,
) -> Option<NonNull<K>> {
    let (ptr, bytes) = shelf
        .try_with(|s| s.try_borrow_mut().ok()?.0.pop())
        .ok()
        .flatten()?;
    HELD.fetch_sub(bytes, Ordering::Relaxed);
    Some(ptr)
}

/// Keeps `ptr` for reuse, or hands it back when it is too large, the budget
/// is spent, or the thread is ending.
fn keep<K: Kind>(
    shelf: &'static std::thread::LocalKey<RefCell<Shelf<K>>>,
    ptr: NonNull<K>,
    bytes: usize,
) -> Result<(), NonNull<K>> {
    if bytes > LARGEST
        || HELD
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                (held + bytes <= BUDGET).then_some(held + bytes)
            })
            .is_err()
    {
        return Err(ptr);
    }
    let kept = shelf
        .try_with(|s| match s.try_borrow_mut() {
            Ok(mut s) => {
                s.0.push((ptr, bytes));
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false);
    if kept {
        Ok(())
    } else {
        HELD.fetch_sub(bytes, Ordering::Relaxed);
        Err(ptr)
    }
}

/// An idle compression context of this thread, reset to its initial state.
pub(crate) fn take_cctx() -> Option<NonNull<zstd_sys::ZSTD_CCtx>> {
    take(&CCTX)
}

/// An idle decompression context of this thread, reset to its initial state.
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
        match keep(&CCTX, ptr, bytes) {
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
        match keep(&DCTX, ptr, bytes) {
            Ok(()) => return,
            Err(ptr) => zstd_sys::ZSTD_freeDCtx(ptr.as_ptr()),
        };
    } else {
        zstd_sys::ZSTD_freeDCtx(ptr.as_ptr());
    }
}
