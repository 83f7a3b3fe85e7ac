//! Progress of long commands on stderr: on a terminal a spinner while the size of the work
//! is unknown (an import counting its file's records, a legacy store being listed) and a
//! bar once it is, plain lines every few seconds otherwise (logs, CI). Rates are whole
//! items per second.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often a plain progress line is printed.
const LINE_EVERY: Duration = Duration::from_secs(3);

pub enum Progress {
    Bar { bar: ProgressBar, what: &'static str, started: Instant, sized: bool },
    Lines { what: &'static str, started: Instant, last: Instant },
}

/// `1234/5000 records, 5678 records/s, 2 failed`: counts and a whole rate.
pub fn counts(what: &str, items: u64, of: Option<u64>, failed: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 { items as f64 / seconds } else { 0.0 };
    let of = of.map(|n| format!("/{n}")).unwrap_or_default();
    let mut out = format!("{items}{of} {what}, {rate:.0} {what}/s");
    if failed > 0 {
        out.push_str(&format!(", {failed} failed"));
    }
    out
}

impl Progress {
    /// A spinner (then a bar) when stderr is a terminal, plain lines otherwise.
    pub fn for_stderr(what: &'static str) -> Self {
        if std::io::stderr().is_terminal() {
            // No length yet: a spinner, not a bar drawn full at 0/0.
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message(format!("counting the {what}…"));
            bar.enable_steady_tick(Duration::from_millis(200));
            Progress::Bar { bar, what, started: Instant::now(), sized: false }
        } else {
            let now = Instant::now();
            Progress::Lines { what, started: now, last: now }
        }
    }

    /// `items` done of a total not known in advance, `failed` of them failed.
    pub fn items(&mut self, items: u64, failed: u64) {
        self.draw(None, items, failed);
    }

    /// `done` of `total` items (counted beforehand), `failed` of them failed.
    pub fn fraction(&mut self, done: u64, total: u64, failed: u64) {
        self.draw((total > 0).then_some((done.min(total), total)), done, failed);
    }

    fn draw(&mut self, done: Option<(u64, u64)>, items: u64, failed: u64) {
        match self {
            Progress::Bar { bar, what, started, sized } => {
                if let Some((position, length)) = done {
                    if !*sized {
                        let style = ProgressStyle::with_template(
                            "{spinner} {elapsed_precise} [{wide_bar}] {percent:>3}% {msg}, ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                        bar.set_style(style);
                        *sized = true;
                    }
                    bar.set_length(length);
                    bar.set_position(position);
                }
                let of = done.map(|(_, total)| total);
                bar.set_message(counts(what, items, of, failed, started.elapsed().as_secs_f64()));
            }
            Progress::Lines { what, started, last } => {
                if last.elapsed() < LINE_EVERY || done.is_some_and(|(p, l)| p >= l) {
                    return;
                }
                *last = Instant::now();
                let seconds = started.elapsed().as_secs_f64();
                let of = done.map(|(_, total)| total);
                let mut line = format!("{what}: {}", counts(what, items, of, failed, seconds));
                if let Some((position, length)) = done {
                    let percent = position as f64 * 100.0 / length as f64;
                    let rate = if seconds > 0.0 { position as f64 / seconds } else { 0.0 };
                    let eta = if rate > 0.0 { (length - position) as f64 / rate } else { 0.0 };
                    line.push_str(&format!(", {percent:.0}% done, ETA {eta:.0} s"));
                }
                eprintln!("{line}, {seconds:.0} s elapsed");
            }
        }
    }

    pub fn finish(&mut self) {
        if let Progress::Bar { bar, .. } = self {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::counts;

    #[test]
    fn rates_are_whole() {
        assert_eq!(counts("records", 1000, Some(3000), 0, 3.0), "1000/3000 records, 333 records/s");
        assert_eq!(counts("records", 10, None, 2, 0.0), "10 records, 0 records/s, 2 failed");
    }
}
