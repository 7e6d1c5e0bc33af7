//! Progress bars on stderr for uploads and downloads of a few megabytes or more: bytes,
//! rate and ETA, one bar per file (bytes and rate for a table streamed as it is encoded,
//! whose length is known only at its end). Only when stderr is a terminal and `--quiet` is not given,
//! so piped and scripted runs print nothing extra.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, OnceLock};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use natsbridge::fetch::{Progress, ProgressFn};

/// Transfers smaller than this get no bar.
const MIN_BYTES: u64 = 4 << 20;

static ENABLED: OnceLock<bool> = OnceLock::new();

/// Decides once, from `--quiet` and whether stderr is a terminal.
pub(crate) fn init(quiet: bool) {
    let _ = ENABLED.set(!quiet && std::io::stderr().is_terminal());
}

/// The callback the runtime reports transfers to, when bars are wanted.
pub(crate) fn reporter() -> Option<ProgressFn> {
    if !ENABLED.get().copied().unwrap_or(false) {
        return None;
    }
    let bars = Bars { multi: MultiProgress::new(), open: Mutex::new(HashMap::new()) };
    let bars = Arc::new(bars);
    Some(ProgressFn(Arc::new(move |name: &str, p: Progress| bars.report(name, p))))
}

struct Bars {
    multi: MultiProgress,
    open: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn report(&self, name: &str, p: Progress) {
        if p.total.unwrap_or(p.done) < MIN_BYTES {
            return;
        }
        let mut open = self.open.lock().expect("progress lock");
        let bar = open.entry(name.to_owned()).or_insert_with(|| {
            // A table streamed while it is encoded has no length until its end: bytes and
            // rate, no bar.
            let (bar, template) = match p.total {
                Some(total) => (
                    ProgressBar::new(total),
                    "{msg:20!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                ),
                None => (ProgressBar::no_length(), "{msg:20!} {spinner} {bytes} {bytes_per_sec}"),
            };
            let bar = self.multi.add(bar);
            bar.set_style(
                ProgressStyle::with_template(template).expect("a valid template").progress_chars("=> "),
            );
            bar.set_message(name.to_owned());
            bar
        });
        bar.set_position(p.done);
        if p.total.is_some_and(|t| p.done >= t) {
            bar.finish();
        }
    }
}
