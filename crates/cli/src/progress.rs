//! Progress shown on standard error while something long runs: progress
//! bars where the total is known (the engine's backup, restore and
//! recovery phases), an indicatif spinner with the elapsed time where it
//! is not (a statement, a backup written by a server). Both are hidden
//! when standard error is not a terminal, and appear only once the work
//! has taken longer than a moment, so quick work prints nothing extra.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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

/// Progress bars for the phases of a backup, a restore or the recovery of
/// a data directory, one bar per phase with its total, rate and time
/// left. They appear only once the work has taken `delay` (quick opens
/// print nothing) and only on a terminal.
pub struct PhaseBars {
    delay: Duration,
    started: Instant,
    /// Finished bars stay on the screen (a record of a backup's phases) or
    /// are cleared (before the shell's banner).
    keep: bool,
    current: Mutex<Option<ProgressBar>>,
}

impl PhaseBars {
    /// Bars shown after `delay`; `keep` leaves finished ones on screen.
    pub fn new(delay: Duration, keep: bool) -> PhaseBars {
        PhaseBars { delay, started: Instant::now(), keep, current: Mutex::new(None) }
    }

    /// A handle the engine reports to.
    pub fn handle(self: &Arc<Self>) -> memdb_engine::ProgressHandle {
        memdb_engine::ProgressHandle::new(self.clone())
    }

    /// Ends the last phase's bar (call once the work succeeded; a bar
    /// left when the work fails is abandoned where it stopped).
    pub fn finish(&self) {
        if let Some(bar) = self.lock().take() {
            self.end(&bar);
        }
    }

    fn end(&self, bar: &ProgressBar) {
        set_active(None);
        if self.keep { bar.finish() } else { bar.finish_and_clear() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl memdb_engine::Progress for PhaseBars {
    fn phase(&self, name: &str, total: u64, unit: memdb_engine::ProgressUnit) {
        let mut current = self.lock();
        if let Some(bar) = current.take() {
            self.end(&bar);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let template = match unit {
            memdb_engine::ProgressUnit::Bytes => {
                "{msg:22} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}"
            }
            memdb_engine::ProgressUnit::Entries => {
                "{msg:22} [{bar:30}] {human_pos}/{human_len} rows in {elapsed}, eta {eta}"
            }
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name.to_owned());
        if total > 0 {
            reveal_after(&bar, self.started, self.delay);
        }
        set_active(Some(bar.clone()));
        *current = Some(bar);
    }

    fn advance(&self, done: u64) {
        if let Some(bar) = &*self.lock() {
            bar.set_position(done);
            if bar.length().is_some_and(|total| total > 0) {
                reveal_after(bar, self.started, self.delay);
            }
        }
    }
}

impl Drop for PhaseBars {
    fn drop(&mut self) {
        if let Some(bar) = self.lock().take() {
            set_active(None);
            bar.abandon();
        }
    }
}

/// Draws `bar` on standard error once `delay` has passed since `started`,
/// if standard error is a terminal.
fn reveal_after(bar: &ProgressBar, started: Instant, delay: Duration) {
    if bar.is_hidden() && started.elapsed() >= delay && std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
}

/// The bar on the screen, if any (a script's, or a phase's). Output and
/// log lines go around it ([`suspend`]); it is global because the
/// terminal it draws on is.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn set_active(bar: Option<ProgressBar>) {
    *ACTIVE_BAR.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = bar;
}

/// How long a script runs before its bar appears.
const SCRIPT_BAR_DELAY: Duration = Duration::from_millis(500);

/// A progress bar over the bytes of a script the shell runs (`-f FILE`,
/// piped input), COPY data included. It appears after half a second on a
/// terminal and is cleared when dropped.
pub struct ScriptBar {
    bar: ProgressBar,
    started: Instant,
}

impl ScriptBar {
    /// A bar for `name`, `total` bytes long, registered for [`suspend`].
    pub fn start(name: &str, total: u64) -> ScriptBar {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let template = "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(name.to_owned());
        set_active(Some(bar.clone()));
        ScriptBar { bar, started: Instant::now() }
    }

    /// `bytes` more of the script were read.
    pub fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        reveal_after(&self.bar, self.started, SCRIPT_BAR_DELAY);
    }
}

impl Drop for ScriptBar {
    fn drop(&mut self) {
        set_active(None);
        self.bar.finish_and_clear();
    }
}

/// Runs `print` (which writes to the terminal) with the active bar, if
/// one is drawn, taken off the screen, so output and bar do not garble
/// each other.
pub fn suspend<R>(print: impl FnOnce() -> R) -> R {
    let bar = ACTIVE_BAR.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    match bar {
        Some(bar) if !bar.is_hidden() => bar.suspend(print),
        _ => print(),
    }
}

/// Standard error for log lines, written around the active bar.
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspend(|| std::io::stderr().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        suspend(|| std::io::stderr().write_all(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
