//! Progress bars on stderr (`indicatif`): one per transfer and a total. Hidden when stderr is not a
//! terminal, so logs and pipes get only the summary lines.

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one command.
pub struct Bars {
    multi: MultiProgress,
    pub total: ProgressBar,
}

impl Bars {
    /// A total bar of `total_bytes`, labelled `label`.
    pub fn new(label: &str, total_bytes: u64) -> Bars {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let total = multi.add(ProgressBar::new(total_bytes));
        total.set_style(style(
            "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ));
        total.set_prefix(label.to_string());
        Bars { multi, total }
    }

    /// A bar for one transfer of `len` bytes.
    pub fn transfer(&self, name: &str, len: u64) -> ProgressBar {
        let bar = self.multi.insert_before(&self.total, ProgressBar::new(len));
        bar.set_style(style("{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {msg}"));
        let short: String = name
            .chars()
            .rev()
            .take(12)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bar.set_prefix(short);
        bar
    }

    /// Prints a line on stdout, with the bars out of the way while it does.
    pub fn println(&self, line: &str) {
        self.multi.suspend(|| println!("{line}"));
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}
