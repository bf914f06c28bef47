//! Start a command inside a group, wait for it, and tell an OOM kill
//! from any other death.
//!
//! This is the namespaces' process core ([`crate::ns::spawn`]) with no
//! namespace asked for and one hook: once the child exists and waits on
//! its handshake, the parent writes its pid into the group's
//! `cgroup.procs` (in every hierarchy), and only then lets it exec the
//! command, so not one instruction of the command runs outside the group.
//! Signals sent to glassbox are passed on to it as `ns run` does. When the
//! command dies of SIGKILL and the group's `oom_kill` counter went up
//! meanwhile, the OOM killer did it: status 137, as Docker reports
//! `OOMKilled`. Read `clone(2)`, `execve(2)`, `wait(2)`, `cgroups(7)`.

use anyhow::{Result, bail};
use nix::unistd::Pid;

use super::Group;
use crate::host;
use crate::ns::{self, Exit, Hooks, Outcome, Spec};
use crate::trace::Mechanism;

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub pid: u32,
    /// The shell-style status: the exit code, or 128 + signal.
    pub status: i32,
    pub signal: Option<i32>,
    /// The group's OOM killer struck while the command ran.
    pub oom_kills: u64,
    pub oom_killed: bool,
}

/// What `cgroup run` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// `--dry-run`: the plan was listed, nothing was started.
    Planned,
    /// The command ran and ended.
    Ended(Ended),
    /// The command never ran (not found: 127, cannot run: 126).
    NotStarted { message: String, code: u8 },
}

impl Ran {
    /// The exit code glassbox leaves with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Ran::Planned => 0,
            Ran::Ended(e) => e.status.clamp(0, 255) as u8,
            Ran::NotStarted { code, .. } => *code,
        }
    }
}

/// Decide how to report a finished command (pure).
pub fn classify(pid: u32, exit: Exit, oom_before: u64, oom_after: u64) -> Ended {
    let oom_kills = oom_after.saturating_sub(oom_before);
    let signal = match exit {
        Exit::Signal(s) => Some(s),
        Exit::Code(_) => None,
    };
    let oom_killed = signal == Some(libc::SIGKILL) && oom_kills > 0;
    Ended {
        pid,
        status: exit.status(),
        signal,
        oom_kills,
        oom_killed,
    }
}

/// Places the child in the group before it may exec.
struct IntoGroup<'a> {
    group: &'a Group,
    pid: Option<u32>,
}

const WHY_ADD: &str = "The child waits on its handshake until its pid is in cgroup.procs, so the command runs under the limits from its first instruction.";

impl Hooks for IntoGroup<'_> {
    fn created(&mut self, pid: Option<Pid>) -> Result<()> {
        match pid {
            Some(pid) => {
                let pid = pid.as_raw() as u32;
                self.pid = Some(pid);
                self.group.add(pid)
            }
            // The plan: the same writes, with the pid still unknown.
            None => {
                for dir in self.group.dirs() {
                    host::write_file_step(Mechanism::Cgroup, &dir.join("cgroup.procs"), "PID")
                        .why(WHY_ADD)
                        .run(|| Ok(()))?;
                }
                Ok(())
            }
        }
    }
}

/// Run `argv` inside `group` and wait for it, passing signals on.
pub fn run(group: &Group, argv: &[String]) -> Result<Ran> {
    if argv.is_empty() {
        bail!("no command given: `glassbox cgroup run NAME -- CMD [ARGS...]`");
    }
    let oom_before = group.oom_kills();
    let mut hooks = IntoGroup { group, pid: None };
    let outcome = ns::run(Spec::new(argv.to_vec()), &mut hooks)?;
    // The group's OOM count afterwards (a plan reads it too, as the run
    // it lists would).
    let oom_after = group.oom_kills();
    Ok(match outcome {
        Outcome::Planned => Ran::Planned,
        Outcome::NotStarted { message, code } => Ran::NotStarted { message, code },
        Outcome::Ran(exit) => Ran::Ended(classify(
            hooks.pid.unwrap_or(0),
            exit,
            oom_before,
            oom_after,
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigkill_with_an_oom_kill_is_oom() {
        let kill = Exit::Signal(libc::SIGKILL);
        let e = classify(7, kill, 0, 1);
        assert!(e.oom_killed);
        assert_eq!(e.status, 137);
        let e = classify(7, kill, 1, 1);
        assert!(!e.oom_killed, "a plain kill -9 is not an OOM kill");
        let e = classify(7, Exit::Code(1), 0, 1);
        assert!(!e.oom_killed, "a child was killed, the command survived");
        assert_eq!(e.oom_kills, 1);
        assert_eq!(classify(7, Exit::Code(0), 0, 0).status, 0);
    }

    #[test]
    fn exit_codes_are_dockers() {
        assert_eq!(Ran::Planned.exit_code(), 0);
        let not_found = Ran::NotStarted {
            message: "exec: \"x\": executable file not found in $PATH".into(),
            code: 127,
        };
        assert_eq!(not_found.exit_code(), 127);
        assert_eq!(Ran::Ended(classify(1, Exit::Code(3), 0, 0)).exit_code(), 3);
    }
}
