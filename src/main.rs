//! The `timeslice` command line: argument parsing and printing only; the work is in the library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // Printing into a closed pipe (`timeslice probe rig | head -1`) ends the process quietly,
    // as for any Unix tool, instead of a panic from `println!`.
    // SAFETY: restoring a signal's default disposition at startup, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    timeslice::memory::keep_freed_memory();
    cli::main()
}
