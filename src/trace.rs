//! The tracing layer: the one way glassbox touches the kernel or the host.
//!
//! Every mount, cgroup file write, netlink message, firewall rule or process
//! launch is described first as a [`Step`], a plain value that records the
//! mechanism, the action, its arguments, the shell command a student could
//! type to do the same thing by hand, and one sentence of why. Running the
//! step, printing it at `-v`, writing it to `--trace-json` and listing it in a
//! `--dry-run` plan all read that same value, so what glassbox shows is
//! exactly what it does.
//!
//! Levels: `0` prints nothing but errors, `-v` prints steps, `-vv` adds the
//! low-level detail steps (every syscall). `--explain` adds the why and the
//! man page. Output goes to stderr: stdout belongs to the command.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use colored::Colorize;
use serde::Serialize;

/// The kernel mechanism a step belongs to; one per glassbox subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    Ns,
    Cgroup,
    Unionfs,
    Image,
    Net,
    Run,
    System,
}

impl Mechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Ns => "ns",
            Mechanism::Cgroup => "cgroup",
            Mechanism::Unionfs => "unionfs",
            Mechanism::Image => "image",
            Mechanism::Net => "net",
            Mechanism::Run => "run",
            Mechanism::System => "system",
        }
    }
}

/// What kind of thing a step does to the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// A system call (mount, unshare, setns, pivot_root, ...).
    Syscall,
    /// A write to a file, typically under /proc or /sys.
    FileWrite,
    /// A read of a kernel file, shown because its value teaches something.
    FileRead,
    /// Creating or removing a file or directory.
    Filesystem,
    /// A netlink message (link, address, route).
    Netlink,
    /// A firewall rule (nft or iptables).
    Firewall,
    /// Starting, signalling or waiting for a process.
    Process,
    /// Network I/O to a registry.
    Http,
    /// A change to glassbox's own state files.
    State,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Syscall => "syscall",
            Action::FileWrite => "write",
            Action::FileRead => "read",
            Action::Filesystem => "fs",
            Action::Netlink => "netlink",
            Action::Firewall => "firewall",
            Action::Process => "process",
            Action::Http => "http",
            Action::State => "state",
        }
    }
}

/// One thing glassbox does to the host, described before it is done.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub mechanism: Mechanism,
    pub action: Action,
    /// A short human summary: `mount overlay on /tmp/x`.
    pub summary: String,
    /// Named arguments, in the order they were given.
    pub args: Vec<(String, String)>,
    /// The shell command a student could type to do the same by hand.
    pub shell: Option<String>,
    /// One sentence of why (shown with `--explain`).
    pub why: Option<String>,
    /// The man page to read, e.g. `mount(2)`.
    pub man: Option<String>,
    /// Detail steps are shown only at `-vv`.
    pub detail: bool,
}

impl Step {
    pub fn new(mechanism: Mechanism, action: Action, summary: impl Into<String>) -> Self {
        Step {
            mechanism,
            action,
            summary: summary.into(),
            args: Vec::new(),
            shell: None,
            why: None,
            man: None,
            detail: false,
        }
    }

    pub fn arg(mut self, key: &str, value: impl ToString) -> Self {
        self.args.push((key.to_string(), value.to_string()));
        self
    }

    pub fn shell(mut self, shell: impl Into<String>) -> Self {
        self.shell = Some(shell.into());
        self
    }

    pub fn why(mut self, why: impl Into<String>) -> Self {
        self.why = Some(why.into());
        self
    }

    pub fn man(mut self, man: impl Into<String>) -> Self {
        self.man = Some(man.into());
        self
    }

    /// Mark the step as low-level detail, shown only at `-vv`.
    pub fn detail(mut self) -> Self {
        self.detail = true;
        self
    }

    /// Execute a step that changes the host. Under `--dry-run` it is only
    /// listed in the plan and `T::default()` is returned.
    pub fn run<T: Default>(self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        Ok(self.apply(f)?.value().unwrap_or_default())
    }

    /// Execute a step that changes the host, saying whether it ran or was
    /// only planned (`--dry-run`): the caller needs no `dry_run()` check of
    /// its own to tell a value from a plan.
    pub fn apply<T>(self, f: impl FnOnce() -> Result<T>) -> Result<Done<T>> {
        if config().dry_run {
            emit(&self, Outcome::Planned);
            return Ok(Done::Planned);
        }
        let summary = self.summary.clone();
        let result = self.execute(f);
        crash_point(&summary);
        result.map(Done::Ran)
    }

    /// Execute a step that only looks at the host (reads a file, lists
    /// links). It runs under `--dry-run` too, so a plan can depend on it.
    pub fn observe<T>(self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.execute(f)
    }

    /// [`Step::observe`] for a read whose result belongs in the step's
    /// line: `show` amends the step (its summary, an argument) with what
    /// `f` read, after `f` ran inside the step's timing and before the step
    /// is reported. A failed read is reported as the step was built.
    pub fn observe_shown<T>(
        self,
        f: impl FnOnce() -> Result<T>,
        show: impl FnOnce(Step, &T) -> Step,
    ) -> Result<T> {
        let start = Instant::now();
        let result = f();
        let elapsed = start.elapsed();
        let step = match &result {
            Ok(v) => show(self, v),
            Err(_) => self,
        };
        step.report(result, elapsed)
    }

    /// A look at the host that only root may take (the namespaces of
    /// another user's process, a state file under a root-only directory).
    /// It runs like [`Step::observe`]; but under `--dry-run`, when the
    /// right to look is missing, the plan lists the step as needing root
    /// instead of failing, and [`Done::Planned`] is returned: a plan made
    /// without root shows every step and fails on none.
    pub fn observe_or_plan<T>(mut self, f: impl FnOnce() -> Result<T>) -> Result<Done<T>> {
        if !config().dry_run {
            return self.observe(f).map(Done::Ran);
        }
        let start = Instant::now();
        match f() {
            Ok(v) => {
                emit(&self, Outcome::Ok(start.elapsed()));
                Ok(Done::Ran(v))
            }
            Err(e) if is_permission_denied(&e) => {
                self.summary = format!("{} (needs root: not read in this plan)", self.summary);
                emit(&self, Outcome::Planned);
                Ok(Done::Planned)
            }
            Err(e) => {
                emit(&self, Outcome::Failed(start.elapsed(), format!("{e:#}")));
                let what = self.what_failed();
                Err(e.context(what))
            }
        }
    }

    fn execute<T>(self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let start = Instant::now();
        let result = f();
        let elapsed = start.elapsed();
        self.report(result, elapsed)
    }

    /// Emit the step with its outcome; a failure gets the step as context.
    fn report<T>(self, result: Result<T>, elapsed: Duration) -> Result<T> {
        match &result {
            Ok(_) => emit(&self, Outcome::Ok(elapsed)),
            Err(e) => emit(&self, Outcome::Failed(elapsed, format!("{e:#}"))),
        }
        let what = self.what_failed();
        result.with_context(|| what)
    }

    /// The context attached to an error: the step, and how to repeat it.
    fn what_failed(&self) -> String {
        match &self.shell {
            Some(shell) => format!("{} (as `{}`)", self.summary, shell),
            None => self.summary.clone(),
        }
    }
}

/// Was `err` caused by a missing permission (`EACCES`, `EPERM`)?
fn is_permission_denied(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
            || e.downcast_ref::<nix::errno::Errno>()
                .is_some_and(|n| matches!(n, nix::errno::Errno::EPERM | nix::errno::Errno::EACCES))
    })
}

/// What [`Step::apply`] did: ran the step (with its value), or only
/// listed it in a `--dry-run` plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done<T> {
    Ran(T),
    Planned,
}

impl<T> Done<T> {
    pub fn ran(&self) -> bool {
        matches!(self, Done::Ran(_))
    }

    /// The step's value, if it ran.
    pub fn value(self) -> Option<T> {
        match self {
            Done::Ran(v) => Some(v),
            Done::Planned => None,
        }
    }
}

/// What happened to a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok(Duration),
    Failed(Duration, String),
    /// Listed by `--dry-run`, not executed.
    Planned,
}

/// How the tracing layer prints; set once from the global flags.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// 0: quiet, 1: steps (`-v`), 2: every syscall (`-vv`).
    pub verbosity: u8,
    pub explain: bool,
    pub dry_run: bool,
    pub color: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();
static JSON: Mutex<Option<File>> = Mutex::new(None);

/// The environment variable that makes glassbox die (SIGKILL) right after
/// its k-th change to the host, counted from 1: the crash-point tests run a
/// command once for every k to prove each crash is recoverable.
pub const CRASH_AFTER_STEP_ENV: &str = "GLASSBOX_CRASH_AFTER_STEP";

/// `(k, pid)`: die after the k-th changing step of process `pid` (the
/// command itself, not a child forked from it).
static CRASH_AFTER: OnceLock<Option<(u64, u32)>> = OnceLock::new();
static STEPS_RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Count a step that changed (or tried to change) the host, and die here if
/// this is the crash point the environment asks for.
fn crash_point(summary: &str) {
    let Some(Some((k, pid))) = CRASH_AFTER.get() else {
        return;
    };
    if std::process::id() != *pid {
        return;
    }
    let n = STEPS_RUN.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if n == *k {
        let _ = writeln!(
            std::io::stderr(),
            "glassbox: {CRASH_AFTER_STEP_ENV}={k}: killed after step {n} ({summary})"
        );
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, so the
        // process ends here as if the power had gone.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// Configure the layer for this process. Call once, before any step.
pub fn init(config: Config, json_path: Option<&Path>) -> Result<()> {
    colored::control::set_override(config.color);
    if let Some(path) = json_path {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("open trace file {}", path.display()))?;
        *JSON.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
    }
    // A second init (tests) keeps the first configuration.
    let _ = CONFIG.set(config);
    let _ = CRASH_AFTER.set(
        std::env::var(CRASH_AFTER_STEP_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|k| *k > 0)
            .map(|k| (k, std::process::id())),
    );
    Ok(())
}

/// The descriptor of the `--trace-json` file, if one is open: a process
/// that closes what it inherited (a container's child) keeps it, so its
/// steps are still recorded.
pub fn json_fd() -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    JSON.lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|f| f.as_raw_fd())
}

pub fn config() -> &'static Config {
    static DEFAULT: OnceLock<Config> = OnceLock::new();
    CONFIG
        .get()
        .unwrap_or_else(|| DEFAULT.get_or_init(Config::default))
}

pub fn dry_run() -> bool {
    config().dry_run
}

/// Decide whether stderr output should be colored: `--no-color` and
/// `NO_COLOR` (https://no-color.org) turn it off, and so does a non-tty.
pub fn want_color(no_color_flag: bool) -> bool {
    let env_says_no = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color_flag && !env_says_no && std::io::stderr().is_terminal()
}

fn emit(step: &Step, outcome: Outcome) {
    let cfg = config();
    write_json(step, &outcome, cfg.dry_run);
    let shown = match outcome {
        Outcome::Failed(..) | Outcome::Planned => !step.detail || cfg.verbosity >= 2,
        Outcome::Ok(_) => cfg.verbosity >= 2 || (cfg.verbosity == 1 && !step.detail),
    };
    if shown {
        let text = render(step, &outcome, cfg.explain);
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
    }
}

fn write_json(step: &Step, outcome: &Outcome, dry_run: bool) {
    let mut guard = JSON.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(file) = guard.as_mut() {
        let mut line = json_line(step, outcome, dry_run).to_string();
        line.push('\n');
        // One write per line so lines from a parent and its child, both
        // appending to the same file, never interleave.
        let _ = file.write_all(line.as_bytes());
    }
}

/// The JSON object written for a step with `--trace-json`.
pub fn json_line(step: &Step, outcome: &Outcome, dry_run: bool) -> serde_json::Value {
    let args: serde_json::Map<String, serde_json::Value> = step
        .args
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    let (result, error, duration_us) = match outcome {
        Outcome::Ok(d) => ("ok", None, Some(d.as_micros() as u64)),
        Outcome::Failed(d, e) => ("error", Some(e.clone()), Some(d.as_micros() as u64)),
        Outcome::Planned => ("planned", None, None),
    };
    serde_json::json!({
        "mechanism": step.mechanism,
        "action": step.action,
        "summary": step.summary,
        "args": args,
        "shell": step.shell,
        "why": step.why,
        "man": step.man,
        "detail": step.detail,
        "result": result,
        "error": error,
        "duration_us": duration_us,
        "dry_run": dry_run,
        "pid": std::process::id(),
    })
}

/// Width of the mechanism and action columns, so every line aligns.
const MECH_WIDTH: usize = 7;
const ACTION_WIDTH: usize = 8;
const SUMMARY_WIDTH: usize = 56;

/// Render a step for a human: an aligned line with the result, then the
/// shell equivalent, then (with `--explain`) why and where to read more.
pub fn render(step: &Step, outcome: &Outcome, explain: bool) -> String {
    let mut out = String::new();
    let mech = format!("{:<MECH_WIDTH$}", step.mechanism.as_str());
    let action = format!("{:<ACTION_WIDTH$}", step.action.as_str());
    let summary = format!("{:<SUMMARY_WIDTH$}", step.summary);
    let result = match outcome {
        Outcome::Ok(d) => format!("{} {}", "ok".green(), format_duration(*d).dimmed()),
        Outcome::Failed(_, _) => "FAILED".red().bold().to_string(),
        Outcome::Planned => "planned".yellow().to_string(),
    };
    let _ = writeln!(
        out,
        "{} {} {} {}",
        mech.cyan().bold(),
        action.blue(),
        summary,
        result
    );
    let indent = " ".repeat(MECH_WIDTH + ACTION_WIDTH + 2);
    if let Some(shell) = &step.shell {
        let _ = writeln!(out, "{indent}{} {}", "$".dimmed(), shell.dimmed());
    }
    if let Outcome::Failed(_, err) = outcome {
        let _ = writeln!(out, "{indent}{} {}", "error:".red(), err);
    }
    if explain {
        if let Some(why) = &step.why {
            let _ = writeln!(out, "{indent}{} {}", "why:".magenta(), why);
        }
        if let Some(man) = &step.man {
            let _ = writeln!(out, "{indent}{} man {}", "read:".magenta(), man);
        }
    }
    out
}

fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{:.1}ms", us as f64 / 1000.0)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// A line of the command's own commentary on stderr (not a step): shown at
/// every verbosity, since it is part of the lesson, e.g. the namespace
/// inodes before and after.
pub fn say(mechanism: Mechanism, text: impl AsRef<str>) {
    let mech = format!("{:<MECH_WIDTH$}", mechanism.as_str());
    let mut err = std::io::stderr().lock();
    for line in text.as_ref().lines() {
        let _ = writeln!(err, "{} {}", mech.cyan().bold(), line);
    }
}

/// A warning on stderr: something the user should know but not fatal.
pub fn warn(text: impl AsRef<str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{} {}", "warning:".yellow().bold(), text.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Step {
        Step::new(
            Mechanism::Cgroup,
            Action::FileWrite,
            "set memory limit of lab to 200M",
        )
        .arg("path", "/sys/fs/cgroup/lab/memory.max")
        .arg("value", "209715200")
        .shell("echo 209715200 > /sys/fs/cgroup/lab/memory.max")
        .why("The kernel reclaims and then OOM-kills when the group passes memory.max.")
        .man("cgroups(7)")
    }

    #[test]
    fn human_line_is_aligned_and_plain_without_color() {
        colored::control::set_override(false);
        let text = render(&sample(), &Outcome::Ok(Duration::from_micros(42)), false);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn explain_adds_why_and_man_page() {
        colored::control::set_override(false);
        let text = render(&sample(), &Outcome::Ok(Duration::from_micros(1500)), true);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn dry_run_plan_marks_steps_planned() {
        colored::control::set_override(false);
        let text = render(&sample(), &Outcome::Planned, false);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn failed_step_shows_the_error() {
        colored::control::set_override(false);
        let text = render(
            &sample(),
            &Outcome::Failed(Duration::ZERO, "Permission denied (os error 13)".into()),
            false,
        );
        assert!(text.contains("FAILED"));
        assert!(text.contains("error: Permission denied"));
    }

    #[test]
    fn json_line_carries_every_field() {
        let mut v = json_line(&sample(), &Outcome::Ok(Duration::from_micros(7)), false);
        v["pid"] = serde_json::json!("[pid]");
        insta::assert_json_snapshot!(v);
    }

    #[test]
    fn error_context_names_the_step_and_shell() {
        let err = sample()
            .execute::<()>(|| Err(anyhow::anyhow!("EACCES")))
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.starts_with("set memory limit of lab to 200M (as `echo 209715200"));
        assert!(text.ends_with("EACCES"));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(Duration::from_micros(12)), "12µs");
        assert_eq!(format_duration(Duration::from_micros(2500)), "2.5ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.50s");
    }
}
