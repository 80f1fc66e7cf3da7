//! Progress bars for the long phases (loading, running). They draw on
//! standard error only when it is a terminal, so piped and CI output stays
//! clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` items, labelled `message`.
pub fn bar(total: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{msg:>18} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A bar over a timed phase of `seconds`, moved by the caller each second.
pub fn timed(seconds: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(seconds);
    let style = ProgressStyle::with_template("{msg:>18} [{elapsed_precise}] {wide_bar} {pos}/{len} s")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar
}
