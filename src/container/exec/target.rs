//! The container an exec goes into and the process it gets there: its
//! record (the container must be running, its init still that process),
//! the init's namespaces by `/proc/INIT/ns/*`, the user from the
//! container's own `/etc/passwd` and `/etc/group`, Docker's environment
//! and working directory, Docker's capabilities. A `--dry-run` made
//! without the right to read the record (another user than root) plans
//! with the init named `PID`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::{ExecError, Request};
use crate::container::state::{self, Container};
use crate::container::user::{self, ExecUser};
use crate::container::{env, settle, shim, start};
use crate::ns::inode;
use crate::ns::kind::{Namespaces, NsMode, NsType};
use crate::ns::spec::{Container as Walls, Spec};
use crate::ns::walls::DOCKER_CAPS;
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};

const M: Mechanism = Mechanism::Run;

/// The namespaces a process in a container shares with its init, joined
/// in this order (the mount namespace last: after it, paths are the
/// container's).
pub const JOINED: [NsType; 6] = [
    NsType::Pid,
    NsType::Cgroup,
    NsType::Ipc,
    NsType::Uts,
    NsType::Net,
    NsType::Mnt,
];

/// A running container as far as this command can know it.
pub struct Target {
    /// What the user named it.
    pub key: String,
    /// Its record, settled; `None` in a plan made without the right to
    /// read it.
    pub rec: Option<Container>,
}

impl Target {
    /// The init's pid, if known.
    pub fn pid(&self) -> Option<u32> {
        self.rec.as_ref().map(|r| r.state.pid)
    }

    /// `/proc/INIT`, or `/proc/PID` in a plan that does not know it.
    pub fn proc_dir(&self) -> PathBuf {
        match self.pid() {
            Some(pid) => PathBuf::from(format!("/proc/{pid}")),
            None => PathBuf::from(inode::PLANNED_PROC),
        }
    }

    /// The namespace file of kind `t` of the init.
    pub fn ns_path(&self, t: NsType) -> PathBuf {
        match self.pid() {
            Some(pid) => inode::ns_path(Some(pid), t),
            None => inode::planned_ns_path(t),
        }
    }

    /// The container's id (`ID` when not known).
    pub fn id(&self) -> &str {
        self.rec.as_ref().map_or("ID", |r| r.id.as_str())
    }
}

/// Find the container `key` and check that it runs: Docker's refusals
/// (`No such container`, `container ID is not running`) otherwise.
pub fn find(root: &Root, key: &str) -> Result<Target> {
    let dir = state::dir(root);
    let read = Step::new(M, Action::FileRead, format!("read the record of container {key}"))
        .arg("path", dir.display())
        .shell(format!("cat {}/ID/config.json", dir.display()))
        .why("The record names the container's init (pid, start time, boot id), its cgroup, user, environment and working directory: all an exec needs.")
        .detail()
        .observe_or_plan(|| {
            // Only root may list a root's containers: a plan by another
            // user says so instead of "no such container".
            if let Err(e) = std::fs::read_dir(&dir)
                && e.kind() == std::io::ErrorKind::PermissionDenied
            {
                return Err(e).with_context(|| format!("list {}", dir.display()));
            }
            Ok(state::find(root, key))
        })?;
    let rec = match read {
        Done::Planned => {
            return Ok(Target {
                key: key.to_string(),
                rec: None,
            });
        }
        Done::Ran(found) => found.map_err(ExecError::daemon)?,
    };
    let rec = settle::settle(root, &rec)?;
    if !shim::runs(rec.state.status) || !init_alive(&rec)? {
        return Err(not_running(&rec));
    }
    if rec.state.status == state::Status::Paused {
        // Docker's refusal: a process joining a frozen group would freeze too.
        return Err(ExecError::daemon(format!(
            "Container {key} is paused, unpause the container before exec"
        )));
    }
    Ok(Target {
        key: key.to_string(),
        rec: Some(rec),
    })
}

/// Docker's refusal of an exec into a container that does not run.
pub fn not_running(rec: &Container) -> anyhow::Error {
    ExecError::daemon(format!("container {} is not running", rec.id))
}

/// Is the recorded init still that process (same pid, start time, boot)?
/// A traced look at `/proc/PID/stat`.
pub fn init_alive(rec: &Container) -> Result<bool> {
    let pid = rec.state.pid;
    Step::new(
        M,
        Action::FileRead,
        format!("check that process {pid} is still the container's init"),
    )
    .arg("pid", pid)
    .arg("start_time", rec.state.pid_start)
    .shell(format!("cut -d' ' -f22 /proc/{pid}/stat"))
    .why("A pid can be reused once its process is gone: the start time in /proc/PID/stat (field 22) and the boot id tell the container's init from a stranger with the same number.")
    .man("proc(5)")
    .detail()
    .observe(|| Ok(state::init_alive(&rec.state)))
}

/// Everything the process gets but its stdio.
pub struct Plan {
    pub spec: Spec,
}

/// The process `req` asks for in `target`: joined namespaces, user,
/// environment, working directory, capabilities. Its stdio is the
/// caller's to set.
pub fn plan(target: &Target, req: &Request) -> Result<Plan> {
    let rec = target.rec.as_ref();
    let user_spec = req
        .user
        .clone()
        .or_else(|| rec.map(|r| r.config.user.clone()))
        .unwrap_or_default();
    let who = who(target, &user_spec)?;
    let mut ns = Namespaces::default();
    for t in JOINED {
        ns.set(t, NsMode::Join(target.ns_path(t)));
    }
    let env = env::with_home(
        match rec {
            Some(r) => env::compose(&r.config.env, &req.env, &r.config.hostname, req.tty),
            None => env::compose(&[], &req.env, "", req.tty),
        },
        who.as_ref().map_or("/root", |w| w.home.as_str()),
    );
    let cwd = req
        .workdir
        .clone()
        .or_else(|| rec.map(|r| r.config.working_dir.clone()))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    let spec = Spec {
        namespaces: ns,
        env: Some(crate::container::env::pairs(&env)),
        cwd: Some(PathBuf::from(cwd)),
        user: who.as_ref().map(|w| (w.uid, w.gid)),
        argv: req.argv.clone(),
        container: Some(Walls {
            keep_caps: Some(DOCKER_CAPS.to_vec()),
            groups: who.map(groups).unwrap_or_default(),
            console: req.tty,
            ..Walls::default()
        }),
        ..Spec::default()
    };
    Ok(Plan { spec })
}

/// The user `spec` (`""`: root) in the container's own `/etc/passwd` and
/// `/etc/group`, read through the init's root so that the container's
/// mounts and symlinks count, never the host's files. `None` in a plan
/// that cannot read them and is given a name.
fn who(target: &Target, spec: &str) -> Result<Option<ExecUser>> {
    let root = target.proc_dir().join("root");
    if target.rec.is_none() {
        // A plan without the container: only a number needs no lookup.
        let found = user::resolve(spec, "", "").ok();
        if found.is_none() {
            crate::trace::say(
                M,
                format!(
                    "the user {spec} is looked up in the container's /etc/passwd when exec runs (not in this plan)"
                ),
            );
        }
        return Ok(found);
    }
    let (passwd, group) = Step::new(
        M,
        Action::FileRead,
        "read the container's /etc/passwd and /etc/group",
    )
    .arg("root", root.display())
    .shell(format!(
        "cat {0}/etc/passwd {0}/etc/group",
        root.display()
    ))
    .why("A user name means what the container's own files say, never the host's: they are read inside the init's root (openat2 RESOLVE_IN_ROOT), its mounts and symlinks included.")
    .man("passwd(5)")
    .detail()
    .observe(|| Ok((read(&root, "/etc/passwd"), read(&root, "/etc/group"))))?;
    user::resolve(spec, &passwd, &group)
        .map(Some)
        .map_err(ExecError::cannot_invoke)
}

/// The process's groups as Docker gives them: the primary group, then
/// every group of the container's `/etc/group` that lists the user.
fn groups(who: ExecUser) -> Vec<u32> {
    let mut out = vec![who.gid];
    for g in who.groups {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

fn read(root: &Path, path: &str) -> String {
    start::read_in_root(root, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_namespace_is_joined_last_and_the_pid_one_first() {
        assert_eq!(JOINED.first(), Some(&NsType::Pid));
        assert_eq!(JOINED.last(), Some(&NsType::Mnt));
        assert!(!JOINED.contains(&NsType::User));
    }

    #[test]
    fn a_plan_without_the_record_names_the_init_pid() {
        let t = Target {
            key: "web".into(),
            rec: None,
        };
        assert_eq!(t.ns_path(NsType::Net), PathBuf::from("/proc/PID/ns/net"));
        assert_eq!(t.id(), "ID");
        let req = Request {
            container: "web".into(),
            argv: vec!["id".into()],
            user: Some("1000:1000".into()),
            env: vec!["A=1".into()],
            ..Request::default()
        };
        let p = plan(&t, &req).unwrap();
        assert_eq!(p.spec.user, Some((1000, 1000)));
        assert_eq!(p.spec.cwd, Some(PathBuf::from("/")));
        let env = p.spec.env.unwrap();
        assert!(env.contains(&("A".into(), "1".into())), "{env:?}");
        let walls = p.spec.container.unwrap();
        assert_eq!(walls.keep_caps.unwrap().len(), 14);
        assert!(
            walls.masked_paths.is_empty(),
            "the mounts are the container's"
        );
        assert_eq!(
            walls.groups,
            vec![1000],
            "the primary group, as Docker adds it"
        );
    }
}
