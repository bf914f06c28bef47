//! Pinning: a namespace lives while a process is in it or something holds
//! it open. Bind-mounting `/proc/PID/ns/TYPE` onto a file keeps it alive
//! after the process exits (this is what `ip netns add` does), and the file
//! can be joined later with `setns(2)`.
//!
//! Pinning is a transaction ([`Pinning`]): the pin is recorded in the
//! resource ledger before its directory exists, each bind mount before it
//! is made, and the pin's record is marked complete only once CMD has
//! started. A failed start rolls the pin back; a crash leaves a half-made
//! pin that [`super::pin_state`] finds and rolls back. Before joining a
//! pin, [`pinned`] asks the kernel whether each file really is a namespace
//! of its kind: a pin unmounted behind glassbox's back is an empty file,
//! and joining nothing would run CMD in the host's namespace.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use nix::mount::MsFlags;
use nix::unistd::Pid;

use super::kind::NsType;
use super::pin_state::{self, FileState, MOUNT, PIN, Verdict, inspect_dir};
use crate::state::Root;
use crate::state::resources::{self, Owner, Pending};
use crate::trace::{self, Action, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// The kinds that can be pinned usefully. A pid namespace whose PID 1 has
/// exited can never receive a new process, so pinning it would only keep
/// a corpse.
pub fn pinnable(t: NsType) -> bool {
    t != NsType::Pid
}

/// `<run dir>/ns/NAME`: where the pins of NAME live.
pub fn dir(root: &Root, name: &str) -> Result<PathBuf> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        || name.starts_with('.')
    {
        bail!("invalid pin name {name:?}: use letters, digits, '-', '_' and '.'");
    }
    Ok(root.run.join("ns").join(name))
}

/// A pin being made by `ns run --pin NAME`. Dropped before [`Pinning::commit`]
/// (CMD did not start), it removes whatever it pinned.
pub struct Pinning {
    root: Root,
    name: String,
    dir: PathBuf,
    /// The new namespaces of the run, pid among them if asked for.
    types: Vec<NsType>,
    /// The ledger's record of the pin, pending until CMD starts.
    record: Option<Pending>,
    /// Something may have been made: roll back on drop.
    started: bool,
}

impl Pinning {
    /// Before CMD starts: check the name and the kinds, roll back a stale
    /// pin of NAME (left by a crash, or unmounted by hand), refuse a good
    /// one or one that another command is making.
    pub fn prepare(root: &Root, name: &str, types: &[NsType]) -> Result<Pinning> {
        let d = dir(root, name)?;
        if !types.iter().any(|t| pinnable(*t)) {
            bail!(
                "--pin {name} has nothing to pin: a pid namespace cannot be pinned (once its PID 1 exits no process can enter it again); add the kinds to keep, e.g. --net --uts"
            );
        }
        let st = inspect_dir(root, name, &d)?;
        match st.verdict() {
            Verdict::Absent => {}
            Verdict::Good => bail!(
                "namespaces are already pinned as {name:?}: remove them first with `glassbox ns unpin {name}`"
            ),
            Verdict::InProgress(pid) => bail!(
                "namespaces are being pinned as {name:?} right now by glassbox pid {pid}: wait until its command has started, or choose another name"
            ),
            Verdict::Stale(why) => {
                trace::say(M, format!("rolling back the earlier pin {name} ({why})"));
                pin_state::remove(root, &st)?;
            }
        }
        Ok(Pinning {
            root: root.clone(),
            name: name.to_string(),
            dir: d,
            types: types.to_vec(),
            record: None,
            started: false,
        })
    }

    /// Bind-mount each namespace of `pid` under the pin directory (once the
    /// child is ready; `None`: list the steps in a `--dry-run` plan). On an
    /// error, what was pinned is removed again.
    pub fn pin(&mut self, pid: Option<Pid>) -> Result<Vec<PathBuf>> {
        self.started = true;
        let made = self.make(pid);
        if made.is_err() {
            self.roll_back();
        }
        made
    }

    fn make(&mut self, pid: Option<Pid>) -> Result<Vec<PathBuf>> {
        let pid = pid.map_or_else(|| "PID".to_string(), |p| p.to_string());
        self.root.ensure()?;
        self.record = Some(resources::record(
            &self.root,
            PIN,
            &self.dir.display().to_string(),
            Owner::Manual {
                command: format!("ns run --pin {}", self.name),
            },
        )?);
        crate::host::mkdir(M, &self.dir)?;
        if self.types.contains(&NsType::Pid) {
            trace::say(
                M,
                "pid: not pinned (once its PID 1 exits, no process can ever enter a pid namespace again)",
            );
        }
        let mut made = Vec::new();
        for t in self.types.iter().copied().filter(|t| pinnable(*t)) {
            let target = self.dir.join(t.proc_name());
            let source = format!("/proc/{pid}/ns/{}", t.proc_name());
            let pending = resources::record(
                &self.root,
                MOUNT,
                &target.display().to_string(),
                Owner::Manual {
                    command: format!("ns run --pin {}", self.name),
                },
            )?;
            create_mount_point(&target)?;
            crate::host::mount::mount(
                M,
                &source,
                &target,
                None,
                MsFlags::MS_BIND,
                None,
                "A bind mount of the namespace file holds a reference to the namespace, so it outlives its last process (ip netns does the same).",
            )?;
            pending.commit()?;
            made.push(target);
        }
        Ok(made)
    }

    /// CMD has started: the pin is complete and outlives this command.
    pub fn commit(mut self) -> Result<()> {
        self.started = false;
        match self.record.take() {
            Some(p) => p.commit(),
            None => Ok(()),
        }
    }

    fn roll_back(&mut self) {
        self.started = false;
        let undone = inspect_dir(&self.root, &self.name, &self.dir)
            .and_then(|st| pin_state::remove(&self.root, &st));
        if let Err(e) = undone {
            trace::warn(format!(
                "could not remove the pin {}: {e:#}; `glassbox ns unpin {}` or `glassbox system prune` will",
                self.name, self.name
            ));
        }
        // Its record was forgotten with the pin; nothing is left to drop.
        drop(self.record.take());
    }
}

impl Drop for Pinning {
    fn drop(&mut self) {
        if self.started {
            self.roll_back();
        }
    }
}

/// The empty file a namespace is bind-mounted onto.
fn create_mount_point(target: &std::path::Path) -> Result<()> {
    Step::new(
        M,
        Action::Filesystem,
        format!("create pin file {}", target.display()),
    )
    .arg("path", target.display())
    .shell(format!("touch {}", target.display()))
    .why("A namespace file can only be bind-mounted onto a file.")
    .detail()
    .run(|| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(target)
            .map(|_| ())
            .with_context(|| format!("create {}", target.display()))
    })
}

/// The pinned namespaces of NAME to join, in join order: those of `only`
/// (every pinned kind when empty). Each must be a namespace file of its
/// kind, as the kernel says; anything else is refused, naming the pin and
/// what to do, so CMD never runs in the host's namespace by mistake.
pub fn pinned(root: &Root, name: &str, only: &[NsType]) -> Result<Vec<(NsType, PathBuf)>> {
    let d = dir(root, name)?;
    let Some(st) = read_pin(root, name, &d)? else {
        // A plan made without the right to read the pin: the files it
        // would join, of the kinds asked for (every pinnable one with none).
        return Ok(NsType::JOIN_ORDER
            .into_iter()
            .filter(|t| pinnable(*t) && (only.is_empty() || only.contains(t)))
            .map(|t| (t, d.join(t.proc_name())))
            .collect());
    };
    if !st.dir_exists {
        bail!(
            "no namespaces are pinned as {name:?} (nothing in {}): pin some with `glassbox ns run --pin {name} --net ... -- CMD`",
            d.display()
        );
    }
    let again = format!(
        "remove it with `glassbox ns unpin {name}` and pin again with `glassbox ns run --pin {name} ...`"
    );
    if let Some(r) = &st.record
        && r.phase == resources::Phase::Pending
    {
        match st.verdict() {
            Verdict::InProgress(pid) => bail!(
                "the pin {name} is still being made by glassbox pid {pid}: wait until its command has started"
            ),
            _ => bail!(
                "the pin {name} is half-made (the `ns run --pin {name}` that made it, pid {}, died before its command started): {again}",
                r.creator
            ),
        }
    }
    let kinds = st.kinds();
    if kinds.is_empty() {
        bail!(
            "the pin {name} ({}) holds no namespace: {again}",
            d.display()
        );
    }
    let list = |ks: &[NsType]| {
        ks.iter()
            .map(|k| k.proc_name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(t) = only.iter().find(|t| !kinds.contains(t)) {
        let why = if pinnable(*t) {
            String::new()
        } else {
            " (a pid namespace is never pinned)".to_string()
        };
        bail!(
            "the pin {name} holds no {t} namespace{why}: it pins only {}; ask for those, or unpin it (`glassbox ns unpin {name}`) and pin again with --{t} too",
            list(&kinds)
        );
    }
    let mut out = Vec::new();
    for (t, p, s) in &st.files {
        if !only.is_empty() && !only.contains(t) {
            continue;
        }
        match s {
            FileState::Pinned => out.push((*t, p.clone())),
            FileState::WrongKind(k) => bail!(
                "the {t} pin of {name} ({}) holds a {k} namespace, not a {t} one: something else was mounted there; {again}",
                p.display()
            ),
            FileState::NotNs(why) => bail!(
                "the {t} pin of {name} ({}) is no namespace file any more: {why}; its {t} namespace may be gone, so joining it is refused; {again}",
                p.display()
            ),
        }
    }
    Ok(out)
}

/// Look at the pin NAME in `d` (a detail step). Under `--dry-run` without
/// the right to read this root's run directory or ledger (not root), the
/// plan lists the read as needing root and `None` is returned.
fn read_pin(root: &Root, name: &str, d: &std::path::Path) -> Result<Option<pin_state::PinState>> {
    let read = Step::new(M, Action::FileRead, format!("read the pin {name}"))
        .arg("path", d.display())
        .shell(format!("ls -l {}", d.display()))
        .why("A pin's record and the kind of each of its files (asked of the kernel) say whether it is whole.")
        .detail()
        .observe_or_plan(|| {
            for p in [d.to_path_buf(), crate::state::resources::lock_path(root)] {
                p.try_exists()
                    .with_context(|| format!("stat {}", p.display()))?;
            }
            inspect_dir(root, name, d)
        })?;
    Ok(read.value())
}

/// Unmount the pins of NAME (the namespaces die once nothing else holds
/// them), and roll back a half-made or damaged pin just the same.
pub fn unpin(root: &Root, name: &str) -> Result<usize> {
    let d = dir(root, name)?;
    let Some(st) = read_pin(root, name, &d)? else {
        // A plan made without the right to read the pin: nothing more can
        // be said of what removing it takes.
        return Ok(0);
    };
    match st.verdict() {
        Verdict::Absent => bail!(
            "no namespaces are pinned as {name:?} (nothing in {}): nothing to unpin",
            d.display()
        ),
        Verdict::InProgress(pid) => bail!(
            "the pin {name} is being made right now by glassbox pid {pid}: stop that command, or wait until its command has started, then unpin"
        ),
        _ => {}
    }
    pin_state::remove(root, &st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn names_are_checked() {
        let root = Root::new(Some(Path::new("/tmp/x"))).unwrap();
        assert!(dir(&root, "lab-1").is_ok());
        assert!(dir(&root, "../etc").is_err());
        assert!(dir(&root, "").is_err());
        assert!(!pinnable(NsType::Pid));
    }

    #[test]
    fn a_pin_of_nothing_pinnable_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(Some(d.path())).unwrap();
        let err = Pinning::prepare(&root, "p", &[NsType::Pid])
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("nothing to pin") && err.contains("--net"),
            "{err}"
        );
        let err = Pinning::prepare(&root, "p", &[]).err().unwrap().to_string();
        assert!(err.contains("nothing to pin"), "{err}");
    }
}
