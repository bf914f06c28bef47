//! `exec`: one more process in a running container, as `docker exec` (and
//! `runc exec` under it) starts one. No new namespace, mount or cgroup is
//! made: the process joins what the container's init already has.
//!
//! - [`target`]: the container must be running: its record says so and
//!   its init is still that process (pid, start time, boot id). Its
//!   namespaces are named by `/proc/INIT/ns/*`; the user (`-u`, or the
//!   container's) is looked up in the container's own `/etc/passwd` and
//!   `/etc/group`; the environment is the container's with `-e` on top
//!   (Docker's order); the working directory is `-w` or the container's.
//! - [`launch`]: glassbox makes itself non-dumpable, joins the init's pid
//!   namespace for its next child (a pid namespace only applies to
//!   children), and starts the process with [`crate::ns::spawn`]: born in
//!   the container's pid namespace, placed in the container's cgroup
//!   before it runs a single instruction of its own, it joins the
//!   cgroup, ipc, uts, net and mount namespaces (`setns(2)`), keeps
//!   Docker's 14 capabilities, takes the user and execs.
//! - [`session`]: attached, glassbox is the process's parent and waits for
//!   it; its output comes through pipes of glassbox's own (never the
//!   caller's descriptors, which would reach into the container), or a
//!   terminal opened in the container's own devpts with `-t`.
//! - [`detach`] (`-d`): a helper process in a session of its own becomes
//!   the parent and waits, so the process outlives the command.
//!
//! The walls a joining process needs (the runc CVEs): it is non-dumpable
//! from birth, so the container's processes cannot open glassbox's own
//! binary through `/proc/PID/exe` while it joins (CVE-2019-5736); it
//! closes every descriptor it inherited before it resolves a path inside
//! (so `-w /proc/self/fd/N` cannot reach the host: CVE-2024-21626), and
//! its working directory must be inside the container's root.
//!
//! Read `setns(2)`, `nsenter(1)`, `pid_namespaces(7)`, `prctl(2)`.

pub mod detach;
pub mod launch;
pub mod session;
pub mod target;

use anyhow::Result;

use crate::state::Root;

/// What `exec` is asked to run, and how (Docker's flags, checked).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The container's name, id or unique id prefix.
    pub container: String,
    /// The command and its arguments.
    pub argv: Vec<String>,
    /// `-d`: run it in the background.
    pub detach: bool,
    /// `-i`: pass this command's stdin to it.
    pub interactive: bool,
    /// `-t`: give it a terminal.
    pub tty: bool,
    /// `-e` and `--env-file`, already `KEY=VALUE`.
    pub env: Vec<String>,
    /// `-w`: its working directory (absolute).
    pub workdir: Option<String>,
    /// `-u USER[:GROUP]`; `None`: the container's user.
    pub user: Option<String>,
}

/// How an exec ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `--dry-run`: the plan was listed.
    Planned,
    /// Attached: the process ended with this status (128+N for signal N).
    Exited(i32),
    /// `-d`: the process runs, its helper waits for it.
    Detached,
}

/// A refusal or a failed start, in Docker's words and with its exit code.
#[derive(Debug)]
pub struct ExecError {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExecError {}

impl ExecError {
    /// What Docker's daemon refuses (no such container, not running):
    /// `Error response from daemon: ...`, exit 1.
    pub fn daemon(message: impl std::fmt::Display) -> anyhow::Error {
        ExecError {
            code: 1,
            message: format!("Error response from daemon: {message}"),
        }
        .into()
    }

    /// The process could not be started: runc's words through Docker's,
    /// exit 127 when the command is not found, else 126. Detached, Docker
    /// reports it as the daemon's error, exit 1.
    pub fn start_failed(message: &str, code: u8, detached: bool) -> anyhow::Error {
        let oci = format!(
            "OCI runtime exec failed: exec failed: unable to start container process: {message}: unknown"
        );
        if detached {
            return ExecError::daemon(oci);
        }
        let code = if code == crate::ns::child::EXIT_NOT_FOUND {
            code
        } else {
            crate::ns::child::EXIT_CANNOT_INVOKE
        };
        ExecError { code, message: oci }.into()
    }

    /// A bad `-u` or `-w`: Docker's message as is, exit 126.
    pub fn cannot_invoke(message: impl std::fmt::Display) -> anyhow::Error {
        ExecError {
            code: crate::ns::child::EXIT_CANNOT_INVOKE,
            message: message.to_string(),
        }
        .into()
    }
}

/// The exit code and message of an exec that failed the way Docker's
/// does; `None` for glassbox's own errors (125).
pub fn docker_failure(e: &anyhow::Error) -> Option<(u8, String)> {
    e.chain()
        .find_map(|x| x.downcast_ref::<ExecError>())
        .map(|x| (x.code, x.message.clone()))
}

/// Run `req` in its container: attached, until the process ends (its
/// status); detached, until it runs.
pub fn exec(root: &Root, req: &Request) -> Result<Outcome> {
    if let Some(w) = &req.workdir
        && !w.starts_with('/')
    {
        return Err(ExecError::cannot_invoke(
            "OCI runtime exec failed: exec failed: Cwd must be an absolute path: unknown",
        ));
    }
    if req.argv.is_empty() {
        anyhow::bail!("no command given: say what to run after the container's name");
    }
    let target = target::find(root, &req.container)?;
    if !req.detach
        && req.interactive
        && req.tty
        && !std::io::IsTerminal::is_terminal(&std::io::stdin())
    {
        return Err(ExecError {
            code: 1,
            message: "the input device is not a TTY".into(),
        }
        .into());
    }
    let plan = target::plan(&target, req)?;
    if req.detach {
        detach::start(root, &target, plan)
    } else {
        session::run(root, &target, plan, req)
    }
}
