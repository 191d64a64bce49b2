//! A per-thread counting global allocator: allocations made and bytes held
//! (allocated and not yet freed), per thread, so that tests running in
//! parallel in one binary do not see each other's.
//!
//! Not part of `support/mod.rs`: only the binaries that include this file with
//! `#[path = "support/heap.rs"] mod heap;` get the counting allocator.
#![allow(dead_code)] // each test binary uses a different subset of the helpers
#![allow(unreachable_pub)] // `pub` for the test files that include this one; not a library API

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct PerThread;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn note(allocated: bool, bytes: isize) {
    if allocated {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
    HELD.with(|h| h.set(h.get() + bytes));
}

#[allow(unsafe_code)] // a global allocator is unsafe code by definition; the one place tests have any
                      // SAFETY: every call is forwarded to `System` unchanged; the bookkeeping uses
                      // const-initialized thread locals without destructors, which never allocate.
unsafe impl GlobalAlloc for PerThread {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(true, layout.size() as isize);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(false, -(layout.size() as isize));
        System.dealloc(ptr, layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(true, layout.size() as isize);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(true, new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: PerThread = PerThread;

/// Allocations (including zeroed allocations and reallocations) this thread
/// has made so far.
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Bytes this thread holds: allocated (or grown by reallocation) and not yet
/// freed (or shrunk).
pub fn held() -> isize {
    HELD.with(Cell::get)
}

/// Allocations `f` makes on this thread.
pub fn allocations_in(f: impl FnOnce()) -> usize {
    let before = allocations();
    f();
    allocations() - before
}
