//! The memory a run's runtime holds, counted by the allocator QuickJS is given.
//!
//! QuickJS's own limit (`JS_SetMemoryLimit`) makes allocations fail deep inside the
//! engine, and some of its paths do not survive that (building an error's backtrace
//! after a failed allocation crashed the process in our tests). So the engine is given
//! an allocator that counts: the sandbox interrupts a run (an exception that needs no
//! large allocation) once it holds more than its limit, checked with the deadline,
//! and allocations fail only past twice the limit, which a run that is interrupted in
//! time never reaches.
//!
//! This is the crate's one `unsafe` code: the allocator trait QuickJS calls through is
//! unsafe by nature. Every call is passed on unchanged to rquickjs's own allocator over
//! Rust's global allocator; only the count is added.

#![allow(unsafe_code)]

use rquickjs::allocator::{Allocator, RustAllocator};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Rust's allocator for QuickJS, keeping `live` up to date and refusing allocations that
/// would take it past `hard_limit`.
pub(crate) struct CountingAllocator {
    inner: RustAllocator,
    pub(crate) live: Arc<AtomicUsize>,
    hard_limit: usize,
}

impl CountingAllocator {
    pub(crate) fn new(live: Arc<AtomicUsize>, hard_limit: usize) -> Self {
        Self { inner: RustAllocator, live, hard_limit }
    }

    fn admits(&self, more: usize) -> bool {
        self.live.load(Ordering::Relaxed).saturating_add(more) <= self.hard_limit
    }
}

// SAFETY: every method forwards to `RustAllocator`, which upholds the trait's contract;
// the pointers handed in were made by the same `RustAllocator` (this wrapper's), and
// `usable_size` is asked only of such pointers, before they are freed or moved.
unsafe impl Allocator for CountingAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.admits(size) {
            return std::ptr::null_mut();
        }
        let p = self.inner.alloc(size);
        if !p.is_null() {
            // SAFETY: `p` was just allocated by `RustAllocator`.
            self.live.fetch_add(unsafe { RustAllocator::usable_size(p) }, Ordering::Relaxed);
        }
        p
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        if !self.admits(count.saturating_mul(size)) {
            return std::ptr::null_mut();
        }
        let p = self.inner.calloc(count, size);
        if !p.is_null() {
            // SAFETY: as in `alloc`.
            self.live.fetch_add(unsafe { RustAllocator::usable_size(p) }, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if !ptr.is_null() {
            // SAFETY: the caller hands back a pointer this allocator made.
            self.live.fetch_sub(unsafe { RustAllocator::usable_size(ptr) }, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { self.inner.dealloc(ptr) }
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        // `RustAllocator` needs a block to resize: none is an allocation, nothing a free.
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        if new_size == 0 {
            // SAFETY: the caller hands in a pointer this allocator made.
            unsafe { self.dealloc(ptr) };
            return std::ptr::null_mut();
        }
        // SAFETY: the caller hands in a pointer this allocator made.
        let old = unsafe { RustAllocator::usable_size(ptr) };
        if new_size > old && !self.admits(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        let p = unsafe { self.inner.realloc(ptr, new_size) };
        if !p.is_null() {
            // SAFETY: `p` was just (re)allocated by `RustAllocator`.
            let new = unsafe { RustAllocator::usable_size(p) };
            if new >= old {
                self.live.fetch_add(new - old, Ordering::Relaxed);
            } else {
                self.live.fetch_sub(old - new, Ordering::Relaxed);
            }
        }
        p
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        // SAFETY: the caller hands in a pointer this allocator made.
        unsafe { RustAllocator::usable_size(ptr) }
    }
}
