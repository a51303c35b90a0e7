//! The `timeslice` command line: argument parsing and printing only; the work is in the library.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    timeslice::memory::keep_freed_memory();
    cli::main()
}
