//! Progress of long commands on stderr: a bar with rate and ETA on a terminal, a plain
//! line every few seconds otherwise (logs, CI).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often a plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(3);

pub enum Progress {
    Bar(ProgressBar),
    Lines { what: &'static str, started: Instant, last: Instant },
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn for_stderr(what: &'static str) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {human_pos}/{human_len} {msg} {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(200));
            Progress::Bar(bar)
        } else {
            let now = Instant::now();
            Progress::Lines { what, started: now, last: now }
        }
    }

    /// `done` of `total` items, `failed` of them failed.
    pub fn update(&mut self, done: u64, total: u64, failed: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.set_length(total);
                bar.set_position(done);
                if failed > 0 {
                    bar.set_message(format!("({failed} failed)"));
                }
            }
            Progress::Lines { what, started, last } => {
                if last.elapsed() < LINE_EVERY || done >= total {
                    return;
                }
                *last = Instant::now();
                let seconds = started.elapsed().as_secs_f64();
                let rate = if seconds > 0.0 { done as f64 / seconds } else { 0.0 };
                let eta = if rate > 0.0 { (total.saturating_sub(done)) as f64 / rate } else { 0.0 };
                let percent = if total > 0 { done as f64 * 100.0 / total as f64 } else { 100.0 };
                eprintln!(
                    "{what}: {done}/{total} ({percent:.1}%), {rate:.0}/s, ETA {eta:.0} s, {failed} failed, {seconds:.0} s elapsed"
                );
            }
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
