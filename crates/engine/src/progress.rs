//! Progress of long operations — writing a backup, restoring one, and
//! recovering a data directory on open — reported to whoever started them,
//! so that a front end can draw a progress bar with a known total instead
//! of a spinner.
//!
//! An operation runs in phases (load the checkpoint, replay the log, write
//! the snapshot); each phase announces its total first, then how much of
//! it is done. Totals are exact for what is scanned: bytes of a checkpoint
//! file or of the log segments, row slots of the tables and key-value entries.

use std::fmt;
use std::sync::Arc;

/// What a phase's total counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressUnit {
    /// Bytes of a file read.
    Bytes,
    /// Table row slots (rows, and the gaps deleted rows left) and
    /// key-value entries scanned.
    Entries,
}

/// Receives the progress of a long operation. Calls come from the thread
/// doing the work, at most once per frame of a file or a few thousand
/// rows, so an implementation may take a lock but should not block.
pub trait Progress: Send + Sync {
    /// A phase starts: `name` says what it does, `total` how big it is.
    /// The previous phase, if any, is complete.
    fn phase(&self, name: &str, total: u64, unit: ProgressUnit);
    /// `done` of the current phase's total is complete (never more than
    /// the total, never less than the previous call's).
    fn advance(&self, done: u64);
}

/// An optional [`Progress`] receiver, cheap to clone and to call when
/// there is none (background checkpoints report to no one).
#[derive(Clone, Default)]
pub struct ProgressHandle(Option<Arc<dyn Progress>>);

impl ProgressHandle {
    /// Reports to `receiver`.
    pub fn new(receiver: Arc<dyn Progress>) -> ProgressHandle {
        ProgressHandle(Some(receiver))
    }

    /// Reports to no one.
    pub fn none() -> ProgressHandle {
        ProgressHandle(None)
    }

    pub(crate) fn phase(&self, name: &str, total: u64, unit: ProgressUnit) {
        if let Some(receiver) = &self.0 {
            receiver.phase(name, total, unit);
        }
    }

    pub(crate) fn advance(&self, done: u64) {
        if let Some(receiver) = &self.0 {
            receiver.advance(done);
        }
    }
}

impl fmt::Debug for ProgressHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "ProgressHandle(reporting)" } else { "ProgressHandle(none)" })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use parking_lot::Mutex;

    /// Records every call, to check the order and the totals.
    #[derive(Default)]
    pub(crate) struct Recorder {
        pub calls: Mutex<Vec<(String, u64, u64)>>,
    }

    impl Progress for Recorder {
        fn phase(&self, name: &str, total: u64, _unit: ProgressUnit) {
            self.calls.lock().push((name.to_owned(), total, 0));
        }
        fn advance(&self, done: u64) {
            if let Some(last) = self.calls.lock().last_mut() {
                assert!(done >= last.2, "progress went back from {} to {done}", last.2);
                assert!(done <= last.1, "progress {done} passed the total {}", last.1);
                last.2 = done;
            }
        }
    }

    #[test]
    fn a_handle_without_receiver_ignores_calls() {
        let handle = ProgressHandle::none();
        handle.phase("x", 10, ProgressUnit::Entries);
        handle.advance(5);
        assert_eq!(format!("{handle:?}"), "ProgressHandle(none)");
    }

    #[test]
    fn a_handle_forwards_to_its_receiver() {
        let recorder = Arc::new(Recorder::default());
        let handle = ProgressHandle::new(recorder.clone());
        handle.phase("load", 10, ProgressUnit::Bytes);
        handle.advance(4);
        handle.advance(10);
        assert_eq!(*recorder.calls.lock(), vec![("load".to_owned(), 10, 10)]);
    }
}
