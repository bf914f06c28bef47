//! Where a pin stands, asked of the kernel and the ledger, and how a pin
//! left by a crash (or changed behind glassbox's back) is put right.
//!
//! A pin is a directory `<run dir>/ns/NAME` holding one file per pinned
//! namespace, each a bind mount of `/proc/PID/ns/TYPE`. Its ledger record
//! (kind `pin`) is written before the directory exists and stays `pending`
//! until the pinning `ns run` has started its command; each bind mount
//! has a `mount` record of its own. So a pin is one of:
//! - absent (no directory, no record);
//! - being made by a live `ns run` (its record pending, its creator alive);
//! - good: recorded, complete, every file a namespace of its kind;
//! - stale: half-made by a command that died, holding no namespace, or
//!   with files that are no namespace any more (a pin unmounted by hand is
//!   an empty file: `statfs(2)` says it is not on `nsfs`).
//!
//! `doctor` names stale pins, `system prune` repairs them, and the next
//! `ns run --pin NAME` or `ns unpin NAME` rolls them back. Read
//! `ioctl_ns(2)` and `namespaces(7)`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use nix::mount::MntFlags;

use super::inode;
use super::kind::NsType;
use crate::state::Root;
use crate::state::recover::Recover;
use crate::state::resources::{self, Leftover, Phase, Resource, ResourceKind, pid_alive};
use crate::trace::Mechanism;

const M: Mechanism = Mechanism::Ns;
/// Pin files are recorded as mounts (`host::MOUNT_KIND`): that is what they are.
pub const MOUNT: &str = "mount";
/// The ledger kind of a whole pin; its id is the pin directory.
pub const PIN: &str = "pin";

/// What one pin file is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// A namespace of its kind: it can be joined.
    Pinned,
    /// A namespace of another kind is mounted there.
    WrongKind(NsType),
    /// No namespace at all: why, in words.
    NotNs(String),
}

/// A pin directory, what is in it, and the ledger's records of it.
#[derive(Debug, Clone)]
pub struct PinState {
    pub name: String,
    pub dir: PathBuf,
    pub dir_exists: bool,
    /// The ledger's record of the pin itself.
    pub record: Option<Resource>,
    /// The ledger's `mount` records under the directory.
    pub mounts: Vec<Resource>,
    /// Each namespace file in the directory, in join order.
    pub files: Vec<(NsType, PathBuf, FileState)>,
}

/// Where a pin stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No directory and no record.
    Absent,
    /// A live `ns run --pin` (this pid) is making it.
    InProgress(u32),
    /// Complete, and every file is a namespace of its kind.
    Good,
    /// Left by a crash or changed behind glassbox's back: why.
    Stale(String),
}

/// The ledger's records, without creating a ledger where none is.
fn ledger(root: &Root) -> Result<Vec<Resource>> {
    resources::list_if_any(root)
}

/// Ask the kernel what the file at `path` is (never following a symlink,
/// never blocking on a FIFO).
fn file_state(t: NsType, path: &Path) -> FileState {
    use std::os::fd::AsFd;
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let f = match opened {
        Ok(f) => f,
        Err(e) => return FileState::NotNs(format!("cannot open it ({e})")),
    };
    match inode::ns_type_of_fd(f.as_fd()) {
        Ok(Some(k)) if k == t => FileState::Pinned,
        Ok(Some(k)) => FileState::WrongKind(k),
        Ok(None) => FileState::NotNs(
            "it is a plain file, not a namespace (nsfs) file (unmounted behind glassbox's back?)"
                .into(),
        ),
        Err(e) => FileState::NotNs(format!("{e:#}")),
    }
}

/// Look at the pin in `dir` (named `name`).
pub fn inspect_dir(root: &Root, name: &str, dir: &Path) -> Result<PinState> {
    let id = dir.display().to_string();
    let all = ledger(root)?;
    let record = all.iter().find(|r| r.kind == PIN && r.id == id).cloned();
    let mounts = all
        .into_iter()
        .filter(|r| r.kind == MOUNT && Path::new(&r.id).parent() == Some(dir))
        .collect();
    let dir_exists = dir.is_dir();
    let files = if dir_exists {
        NsType::JOIN_ORDER
            .into_iter()
            .map(|t| (t, dir.join(t.proc_name())))
            .filter(|(_, p)| std::fs::symlink_metadata(p).is_ok())
            .map(|(t, p)| {
                let s = file_state(t, &p);
                (t, p, s)
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(PinState {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        dir_exists,
        record,
        mounts,
        files,
    })
}

impl PinState {
    pub fn verdict(&self) -> Verdict {
        if let Some(r) = &self.record
            && r.phase == Phase::Pending
        {
            if pid_alive(r.creator) {
                return Verdict::InProgress(r.creator);
            }
            return Verdict::Stale(format!(
                "half-made: the `ns run --pin {}` that made it (pid {}) died before its command started",
                self.name, r.creator
            ));
        }
        if !self.dir_exists {
            return match &self.record {
                None => Verdict::Absent,
                Some(_) => Verdict::Stale("recorded, but its directory is gone".into()),
            };
        }
        if self.files.is_empty() {
            return Verdict::Stale("its directory holds no namespace".into());
        }
        let broken: Vec<String> = self
            .files
            .iter()
            .filter_map(|(t, _, s)| match s {
                FileState::Pinned => None,
                FileState::WrongKind(k) => Some(format!("{t} holds a {k} namespace")),
                FileState::NotNs(why) => Some(format!("{t} is no namespace: {why}")),
            })
            .collect();
        if !broken.is_empty() {
            return Verdict::Stale(broken.join("; "));
        }
        Verdict::Good
    }

    /// The kinds with a file in the directory, in join order.
    pub fn kinds(&self) -> Vec<NsType> {
        self.files.iter().map(|(t, _, _)| *t).collect()
    }

    fn recorded_mount(&self, p: &Path) -> bool {
        let id = p.display().to_string();
        self.mounts.iter().any(|r| r.id == id)
    }
}

/// Unmount and remove one pin file, and drop its record. Returns whether
/// a namespace was unmounted.
fn remove_file(root: &Root, st: &PinState, p: &Path) -> Result<bool> {
    remove_file_noting(root, st, p, &mut Vec::new())
}

/// [`remove_file`], adding the id of a record it dropped to `forgotten`.
fn remove_file_noting(
    root: &Root,
    st: &PinState,
    p: &Path,
    forgotten: &mut Vec<String>,
) -> Result<bool> {
    let mut unmounted = false;
    if crate::host::mountinfo::is_mount_point(p)? {
        if !st.recorded_mount(p) && !matches!(file_state_any(p), Some(true)) {
            bail!(
                "{} is mounted, but this root did not record that mount: unmount it by hand (`umount {}`) if nobody uses it, then run `glassbox ns unpin {}`",
                p.display(),
                p.display(),
                st.name
            );
        }
        crate::host::mount::umount(
            M,
            p,
            MntFlags::MNT_DETACH,
            "Unmounting the pin drops its reference: the namespace is freed when no process is left in it.",
        )?;
        unmounted = true;
    }
    if st.recorded_mount(p) {
        resources::forget(root, MOUNT, &p.display().to_string())?;
        forgotten.push(p.display().to_string());
    }
    crate::host::remove_file(M, p, "The file was only a mount point for the namespace.")?;
    Ok(unmounted)
}

/// Is the file at `p` a namespace file of any kind (`None`: cannot tell)?
fn file_state_any(p: &Path) -> Option<bool> {
    inode::ns_type_of(p).ok().map(|k| k.is_some())
}

/// Remove the whole pin: unmount its namespaces, remove its files and
/// directory, then drop its records (the pin's own last, so a crash half
/// way still leaves it recorded). "Already gone" is success. Returns how
/// many namespaces were unmounted.
pub fn remove(root: &Root, st: &PinState) -> Result<usize> {
    let mut n = 0;
    let mut forgotten = Vec::new();
    if st.dir_exists {
        for t in NsType::ALL {
            let p = st.dir.join(t.proc_name());
            if std::fs::symlink_metadata(&p).is_ok() {
                n += usize::from(remove_file_noting(root, st, &p, &mut forgotten)?);
            }
        }
        crate::host::remove_dir_all(
            M,
            &st.dir,
            "Every namespace of the pin is unmounted; its directory holds nothing more.",
        )?;
    }
    for r in &st.mounts {
        if !forgotten.contains(&r.id) && !Path::new(&r.id).exists() {
            resources::forget(root, MOUNT, &r.id)?;
        }
    }
    if st.record.is_some() {
        resources::forget(root, PIN, &st.dir.display().to_string())?;
    }
    Ok(n)
}

/// Is this stale pin complete apart from some files that are no
/// namespace any more (unmounted by hand)? Then only those are repaired,
/// since the others may be in use.
fn partly_broken(st: &PinState) -> bool {
    st.record.as_ref().is_none_or(|r| r.phase == Phase::Live)
        && st.files.iter().any(|(_, _, s)| *s == FileState::Pinned)
}

/// Remove the given files of a pin if they are no namespace any more;
/// the whole pin if none is left.
fn remove_broken(root: &Root, st: &PinState, only: Option<&Path>) -> Result<()> {
    for (_, p, s) in &st.files {
        if *s != FileState::Pinned && only.is_none_or(|o| o == p) {
            remove_file(root, st, p)?;
        }
    }
    let after = inspect_dir(root, &st.name, &st.dir)?;
    if after.files.is_empty() {
        remove(root, &after)?;
    }
    Ok(())
}

/// The pin directory named by a ledger id or a leftover (the directory, or
/// one file in it), checked to be one of this root's pins: its name, the
/// directory, and the file if one was named.
fn pin_dir(root: &Root, id: &str) -> Result<(String, PathBuf, Option<PathBuf>)> {
    let p = PathBuf::from(id);
    let parent = root.run.join("ns");
    let (dir, file) = if p.parent() == Some(parent.as_path()) {
        (p, None)
    } else if p.parent().and_then(Path::parent) == Some(parent.as_path())
        && p.file_name()
            .and_then(|n| n.to_str())
            .and_then(NsType::parse)
            .is_some()
    {
        (
            p.parent().map(Path::to_path_buf).unwrap_or_default(),
            Some(p),
        )
    } else {
        bail!(
            "{id} is not a pin of this root (pins live in {})",
            parent.display()
        )
    };
    match dir.file_name().and_then(|n| n.to_str()) {
        Some(name) => Ok((name.to_string(), dir.clone(), file)),
        None => bail!("{id} is not a pin of this root"),
    }
}

/// A pin as a resource of the ledger: `system prune --all` removes the
/// pins made by hand, `system prune` the half-made ones.
pub struct PinKind;
pub static PIN_KIND: PinKind = PinKind;

impl ResourceKind for PinKind {
    fn name(&self) -> &'static str {
        PIN
    }

    fn exists(&self, _root: &Root, id: &str) -> bool {
        Path::new(id).is_dir()
    }

    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        let (name, dir, _) = pin_dir(root, id)?;
        remove(root, &inspect_dir(root, &name, &dir)?).map(|_| ())
    }

    /// Pin directories are this root's own state, not objects other roots
    /// or people could own: the [`Recover`] area reports the stale ones.
    fn scan(&self, _root: &Root) -> Vec<String> {
        Vec::new()
    }
}

/// Stale pins as leftovers of a root's state.
pub struct Pins;
pub static PINS: Pins = Pins;

impl Recover for Pins {
    fn area(&self) -> &'static str {
        "ns"
    }

    fn find(&self, root: &Root) -> Result<Vec<Leftover>> {
        let Ok(entries) = std::fs::read_dir(root.run.join("ns")) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let st = inspect_dir(root, &name, &e.path())?;
            let Verdict::Stale(reason) = st.verdict() else {
                continue;
            };
            if partly_broken(&st) {
                for (t, p, s) in &st.files {
                    let why = match s {
                        FileState::Pinned => continue,
                        FileState::WrongKind(k) => format!("holds a {k} namespace, not a {t} one"),
                        FileState::NotNs(why) => format!("no namespace any more: {why}"),
                    };
                    out.push(Leftover {
                        kind: PIN.into(),
                        id: p.display().to_string(),
                        reason: format!("the {t} pin of {name} is {why}"),
                    });
                }
            } else {
                out.push(Leftover {
                    kind: PIN.into(),
                    id: e.path().display().to_string(),
                    reason,
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// A half-made pin is rolled back whole; of a complete one only the
    /// files that are no namespace any more are removed (the others may be
    /// in use), and the pin with them if none is left.
    fn repair(&self, root: &Root, l: &Leftover) -> Result<()> {
        let (name, dir, file) = pin_dir(root, &l.id)?;
        let st = inspect_dir(root, &name, &dir)?;
        if !matches!(st.verdict(), Verdict::Stale(_)) {
            return Ok(());
        }
        if partly_broken(&st) {
            remove_broken(root, &st, file.as_deref())
        } else {
            remove(root, &st).map(|_| ())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::resources::Owner;

    fn state(record: Option<(Phase, u32)>, files: Vec<FileState>) -> PinState {
        let dir = PathBuf::from("/r/run/ns/p");
        PinState {
            name: "p".into(),
            dir_exists: true,
            record: record.map(|(phase, creator)| Resource {
                kind: PIN.into(),
                id: dir.display().to_string(),
                owner: Owner::Manual {
                    command: "ns run --pin p".into(),
                },
                phase,
                creator,
            }),
            mounts: Vec::new(),
            files: files
                .into_iter()
                .zip([NsType::Net, NsType::Uts])
                .map(|(s, t)| (t, dir.join(t.proc_name()), s))
                .collect(),
            dir,
        }
    }

    #[test]
    fn verdicts() {
        let dead = u32::MAX - 1;
        let me = std::process::id();
        let ok = FileState::Pinned;
        let gone = FileState::NotNs("a plain file".into());
        assert_eq!(
            state(Some((Phase::Live, dead)), vec![ok.clone(), ok.clone()]).verdict(),
            Verdict::Good
        );
        assert_eq!(
            state(Some((Phase::Pending, me)), vec![]).verdict(),
            Verdict::InProgress(me)
        );
        let half = state(Some((Phase::Pending, dead)), vec![ok.clone()]).verdict();
        assert!(
            matches!(&half, Verdict::Stale(w) if w.contains("half-made")),
            "{half:?}"
        );
        let broken = state(Some((Phase::Live, dead)), vec![gone, ok]).verdict();
        assert!(
            matches!(&broken, Verdict::Stale(w) if w.starts_with("net is no namespace")),
            "{broken:?}"
        );
        let empty = state(None, vec![]).verdict();
        assert!(matches!(empty, Verdict::Stale(_)), "{empty:?}");
        let mut absent = state(None, vec![]);
        absent.dir_exists = false;
        assert_eq!(absent.verdict(), Verdict::Absent);
    }

    #[test]
    fn only_this_roots_pin_directories_are_touched() {
        let root = Root::new(Some(Path::new("/tmp/x"))).unwrap();
        let (name, dir, file) = pin_dir(&root, "/tmp/x/run/ns/lab").unwrap();
        assert_eq!((name.as_str(), file), ("lab", None));
        assert_eq!(dir, Path::new("/tmp/x/run/ns/lab"));
        let (_, dir, file) = pin_dir(&root, "/tmp/x/run/ns/lab/net").unwrap();
        assert_eq!(dir, Path::new("/tmp/x/run/ns/lab"));
        assert_eq!(file.unwrap(), Path::new("/tmp/x/run/ns/lab/net"));
        assert!(pin_dir(&root, "/tmp/x/run").is_err());
        assert!(pin_dir(&root, "/etc/ns/lab").is_err());
        assert!(pin_dir(&root, "/tmp/x/run/ns/lab/passwd").is_err());
        assert!(pin_dir(&root, "/tmp/x/run/ns/lab/net/x").is_err());
    }
}
