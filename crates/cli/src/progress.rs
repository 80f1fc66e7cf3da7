//! Progress shown on standard error while something long runs: an
//! indicatif spinner with the elapsed time (hidden when standard error is
//! not a terminal, as indicatif does), optionally only once the work has
//! taken longer than a moment, so quick statements print nothing extra.

use std::sync::mpsc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner that runs until dropped.
pub struct Spinner {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    /// Shows `message` with a spinner and the elapsed time from now on.
    pub fn now(message: &str) -> Spinner {
        Spinner::after(Duration::ZERO, message)
    }

    /// Shows `message` once `delay` has passed without the spinner being
    /// dropped.
    pub fn after(delay: Duration, message: &str) -> Spinner {
        let (stop, stopped) = mpsc::channel::<()>();
        let message = message.to_owned();
        let thread = std::thread::spawn(move || {
            if stopped.recv_timeout(delay) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
                bar.set_style(style);
            }
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
            let _ = stopped.recv();
            bar.finish_and_clear();
        });
        Spinner { stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
