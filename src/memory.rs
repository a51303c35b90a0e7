//! Process-wide allocator tuning.
//!
//! The flow engine and view synthesis allocate megabyte-sized planes per pyramid level, per
//! camera pair and per view, and free them again milliseconds later. glibc serves blocks above
//! its mmap threshold with `mmap` and returns them with `munmap`, so every reuse page-faults the
//! memory back in, zero-filled by the kernel: measured on 1080p flow, that made the variational
//! refinement of the finest level take 9-15 ms instead of 6 ms, alternating from call to call.
//! Raising the threshold (and the trim threshold) keeps freed blocks in the heap for reuse.
//! Peak memory is unchanged; the process simply does not give memory back between calls.

/// Keeps freed buffers of up to 32 MiB (glibc's largest mmap threshold on 64-bit systems) in
/// the heap. Call once at start-up (the command line and the benchmarks do); a no-op where
/// the C library is not glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters, under glibc's own locks.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
