//! `exec -d`: the process must outlive this command, yet something must
//! be its parent, reap it, and (with `-t`) read its terminal. The design:
//! glassbox forks a small helper that detaches as a shim does (a session
//! of its own, `/` as its directory, stdin and stdout on `/dev/null`,
//! nothing else it inherited kept), starts the process exactly as an
//! attached exec does, tells this command "started" (or why not) over a
//! pipe, and then waits for the process (draining its terminal), and
//! exits with it. The command returns as soon as the process runs.
//!
//! Why not ask the container's shim to start it: the shim would have to
//! join the container's pid namespace itself, track a second kind of
//! child and its terminal, and the protocol would grow a request that
//! older shims do not know; a helper needs none of that, and the process
//! ends with the container either way (the kernel kills every process of
//! a pid namespace whose init exits). The helper is never in the
//! container's cgroup, so it counts against none of its limits. Read
//! `fork(2)`, `setsid(2)`.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use anyhow::{Context, Result, anyhow};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};

use super::target::{Plan, Target};
use super::{ExecError, Outcome, launch};
use crate::container::stdio::{dev_null, pipe};
use crate::ns::process::Child;
use crate::ns::spec::Stdio;
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};

/// What the helper tells the command, one JSON line.
#[derive(Debug, Serialize, Deserialize)]
enum Report {
    Started,
    /// Docker's exit code when the failure has one (else glassbox's 125).
    Failed {
        code: Option<u8>,
        message: String,
    },
}

fn helper_step() -> Step {
    Step::new(
        Mechanism::Run,
        Action::Process,
        "start a detached helper to be the process's parent",
    )
    .shell("setsid glassbox exec ... &")
    .why("The process must outlive this command: a helper in a session of its own starts it, is its parent and waits for it, so nothing is left to reap it when glassbox returns.")
    .man("setsid(2)")
}

/// Start the process of `plan` in the background; return once it runs.
pub fn start(root: &Root, target: &Target, plan: Plan) -> Result<Outcome> {
    let mut spec = plan.spec;
    spec.stdio = Stdio::Fds {
        stdin: dev_null()?,
        stdout: dev_null()?,
        stderr: dev_null()?,
    };
    if crate::trace::dry_run() {
        helper_step().run(|| Ok(()))?;
        return match launch::spawn(root, target, spec, (0, 0), true)? {
            Done::Planned => Ok(Outcome::Planned),
            Done::Ran(_) => Err(anyhow!("a --dry-run started a process")),
        };
    }
    let (report_r, report_w) = pipe()?;
    // The helper waits for this pipe to close, so its steps come after
    // this command's step that started it (in the trace as in the plan).
    let (go_r, go_w) = pipe()?;
    let mut spec = Some(spec);
    let mut report_w = Some(report_w);
    let mut go_r = Some(go_r);
    let go_w_raw = go_w.as_raw_fd();
    helper_step().run(|| {
        // SAFETY: glassbox is single-threaded here (no thread has been
        // started); the child never returns into this step: helper() ends
        // with _exit.
        match unsafe { nix::unistd::fork() }.context("fork(2) the helper")? {
            nix::unistd::ForkResult::Child => {
                // SAFETY: the helper's copy of the command's end of the
                // pipe; its OwnedFd is never dropped here (helper() ends
                // with _exit).
                unsafe { libc::close(go_w_raw) };
                match (report_w.take(), spec.take(), go_r.take()) {
                    (Some(w), Some(s), Some(go)) => helper(root, target, s, w, go),
                    // SAFETY: _exit ends the forked helper at once.
                    _ => unsafe { libc::_exit(125) },
                }
            }
            nix::unistd::ForkResult::Parent { .. } => Ok(()),
        }
    })?;
    drop(go_w);
    drop(go_r);
    drop(report_w);
    drop(spec);
    let mut text = String::new();
    std::fs::File::from(report_r)
        .read_to_string(&mut text)
        .context("read the detached helper's report")?;
    match serde_json::from_str::<Report>(text.trim()) {
        Ok(Report::Started) => Ok(Outcome::Detached),
        Ok(Report::Failed {
            code: Some(code),
            message,
        }) => Err(ExecError { code, message }.into()),
        Ok(Report::Failed {
            code: None,
            message,
        }) => Err(anyhow!(message)),
        Err(_) => Err(anyhow!(
            "the detached helper of the exec died before it said whether the process started"
        )),
    }
}

/// The helper's whole life, in the forked child; never returns.
fn helper(
    root: &Root,
    target: &Target,
    spec: crate::ns::spec::Spec,
    report: OwnedFd,
    go: OwnedFd,
) -> ! {
    // SAFETY: setting SIGPIPE's disposition, in this single-threaded
    // process: a command that died must not take the helper (and with it
    // the process) along when the report finds nobody to read it. The
    // process's own signals are reset before it execs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // Wait until the command has traced the step that started us (or died).
    let mut byte = [0u8; 1];
    let _ = nix::unistd::read(&go, &mut byte);
    drop(go);
    let mut report = std::fs::File::from(report);
    let mut keep = vec![report.as_raw_fd()];
    if let Stdio::Fds {
        stdin,
        stdout,
        stderr,
    } = &spec.stdio
    {
        keep.extend([stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()]);
    }
    let _ = detach(&keep);
    let said = match launch::spawn(root, target, spec, (0, 0), true) {
        Ok(Done::Ran(child)) => Ok(child),
        Ok(Done::Planned) => Err(Report::Failed {
            code: None,
            message: "the process was only planned".into(),
        }),
        Err(e) => Err(match super::docker_failure(&e) {
            Some((code, message)) => Report::Failed {
                code: Some(code),
                message,
            },
            None => Report::Failed {
                code: None,
                message: format!("{e:#}"),
            },
        }),
    };
    let (line, child) = match said {
        Ok(child) => (Report::Started, Some(child)),
        Err(r) => (r, None),
    };
    let _ = writeln!(
        report,
        "{}",
        serde_json::to_string(&line).unwrap_or_default()
    );
    drop(report);
    let code = match child {
        Some(mut child) => {
            quiet_stderr();
            follow(&mut child);
            0
        }
        None => 1,
    };
    // SAFETY: _exit ends the helper without running the command's exit
    // handlers (it is a fork of the command).
    unsafe { libc::_exit(code) }
}

/// Detach as a shim does: a session of its own, `/`, stdin and stdout on
/// `/dev/null`, every other inherited descriptor but `keep` closed
/// (stderr stays until the report is sent, for `-v`).
fn detach(keep: &[i32]) -> Result<()> {
    nix::unistd::setsid().context("setsid(2)")?;
    std::env::set_current_dir("/").context("chdir /")?;
    let null = dev_null()?;
    for n in [0, 1] {
        // SAFETY: dup2 of /dev/null onto our own stdin and stdout.
        unsafe { libc::dup2(null.as_raw_fd(), n) };
    }
    drop(null);
    let mut keep = keep.to_vec();
    keep.extend(crate::trace::json_fd());
    crate::ns::child::close_all_but(&keep)
}

fn quiet_stderr() {
    if let Ok(null) = dev_null() {
        // SAFETY: dup2 of /dev/null onto our own stderr.
        unsafe { libc::dup2(null.as_raw_fd(), 2) };
    }
}

/// Wait for the process, reading (and dropping) what it writes to its
/// terminal, so that it never blocks on a full one.
fn follow(child: &mut Child) {
    let mut console = child.take_console();
    loop {
        let (done, output) = {
            let mut fds = vec![PollFd::new(child.pidfd(), PollFlags::POLLIN)];
            if let Some(m) = &console {
                fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            }
            if let Err(e) = nix::poll::poll(&mut fds, PollTimeout::NONE)
                && e != nix::errno::Errno::EINTR
            {
                break;
            }
            let any = |f: &PollFd| f.any().unwrap_or(false);
            (any(&fds[0]), fds.get(1).is_some_and(any))
        };
        if output && let Some(m) = &console {
            let mut buf = [0u8; 4096];
            if !matches!(nix::unistd::read(m, &mut buf), Ok(n) if n > 0) {
                // Its last user is gone (EIO): nothing more to read.
                console = None;
            }
        }
        if done {
            break;
        }
    }
    let _ = child.wait();
}
