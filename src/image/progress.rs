//! Pull progress in Docker's words: one line per layer (`Pulling fs
//! layer`, `Downloading [==>   ] 1.2MB/3.4MB`, `Verifying Checksum`,
//! `Download complete`, `Extracting`, `Pull complete`, `Already exists`).
//! On a terminal these are live bars (indicatif, drawn without a
//! background thread); piped, each state change is one plain line, as
//! Docker prints it to a non-terminal.

use std::io::{IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The display for one pull.
pub struct Progress {
    multi: Option<MultiProgress>,
    quiet: bool,
    stderr: bool,
}

/// Write one line to stdout or stderr.
fn out_line(stderr: bool, text: &str) {
    if stderr {
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    } else {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

impl Progress {
    /// `stderr`: draw there (as `run` does when it pulls), not on stdout.
    pub fn new(quiet: bool, stderr: bool) -> Progress {
        let tty = if stderr {
            std::io::stderr().is_terminal()
        } else {
            std::io::stdout().is_terminal()
        };
        let multi = (!quiet && tty).then(|| {
            MultiProgress::with_draw_target(if stderr {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::stdout()
            })
        });
        Progress {
            multi,
            quiet,
            stderr,
        }
    }

    /// A line of text above the bars.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => out_line(self.stderr, text),
        }
    }

    pub fn layer(&self, id: &str) -> LayerBar {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(0));
            b.set_style(status_style());
            b.set_prefix(id.to_string());
            b
        });
        let l = LayerBar {
            bar,
            id: id.to_string(),
            quiet: self.quiet,
            stderr: self.stderr,
        };
        l.status("Pulling fs layer");
        l
    }
}

fn status_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg} [{bar:50}] {decimal_bytes}/{decimal_total_bytes}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// One layer's line.
pub struct LayerBar {
    bar: Option<ProgressBar>,
    id: String,
    quiet: bool,
    stderr: bool,
}

impl LayerBar {
    /// A new state: the whole line on a terminal, a new line when piped.
    pub fn status(&self, text: &str) {
        match &self.bar {
            Some(b) => {
                b.set_style(status_style());
                b.set_message(text.to_string());
            }
            None if !self.quiet => out_line(self.stderr, &format!("{}: {text}", self.id)),
            None => {}
        }
    }

    /// Start a byte-counting phase (`Downloading`, `Extracting`).
    pub fn bytes(&self, text: &str, total: u64) {
        match &self.bar {
            Some(b) => {
                b.set_style(bytes_style());
                b.set_length(total);
                b.set_position(0);
                b.set_message(text.to_string());
            }
            None => self.status(text),
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// The last state; the bar stays on screen.
    pub fn done(&self, text: &str) {
        self.status(text);
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}
