//! Progress reporting. Library code never prints; long work reports through this trait and
//! the CLI renders it with indicatif (hidden when stderr is not a terminal, or with --quiet).

pub trait Progress: Sync {
    /// A stage with `total` units of work begins.
    fn begin(&self, _stage: &str, _total: u64) {}
    /// `n` more units are done.
    fn advance(&self, _n: u64) {}
    /// The current stage is done.
    fn end(&self) {}
    /// Something the user should know before trusting the result (one line, with what to
    /// do); the work goes on.
    fn warn(&self, _message: &str) {}
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
