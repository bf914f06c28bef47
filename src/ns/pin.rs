//! Pinning: a namespace lives while a process is in it or something holds
//! it open. Bind-mounting `/proc/PID/ns/TYPE` onto a file keeps it alive
//! after the process exits (this is what `ip netns add` does), and the file
//! can be joined later with `setns(2)`. Each pin is a mount, recorded in
//! the resource ledger so `system prune` can remove it.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use nix::mount::{MntFlags, MsFlags};
use nix::unistd::Pid;

use super::kind::NsType;
use crate::state::Root;
use crate::state::resources::{self, Owner};
use crate::trace::{self, Mechanism};

const M: Mechanism = Mechanism::Ns;
/// Pins are recorded as mounts (`host::MOUNT_KIND`): that is what they are.
const MOUNT: &str = "mount";

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

/// Bind-mount each of `types` of process `pid` under the pin directory.
pub fn pin(root: &Root, name: &str, pid: Pid, types: &[NsType]) -> Result<Vec<PathBuf>> {
    let d = dir(root, name)?;
    if d.exists()
        && std::fs::read_dir(&d)
            .map(|mut r| r.next().is_some())
            .unwrap_or(false)
    {
        bail!(
            "namespaces are already pinned as {name:?}: remove them first with `glassbox ns unpin {name}`"
        );
    }
    root.ensure()?;
    crate::host::mkdir(M, &d)?;
    let mut made = Vec::new();
    if types.contains(&NsType::Pid) {
        trace::say(
            M,
            "pid: not pinned (once its PID 1 exits, no process can ever enter a pid namespace again)",
        );
    }
    for t in types.iter().copied().filter(|t| pinnable(*t)) {
        let target = d.join(t.proc_name());
        let source = format!("/proc/{pid}/ns/{}", t.proc_name());
        let pending = resources::record(
            root,
            MOUNT,
            &target.display().to_string(),
            Owner::Manual {
                command: format!("ns run --pin {name}"),
            },
        )?;
        std::fs::File::create(&target).with_context(|| format!("create {}", target.display()))?;
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

/// The pinned namespaces of NAME, in join order.
pub fn pinned(root: &Root, name: &str) -> Result<Vec<(NsType, PathBuf)>> {
    let d = dir(root, name)?;
    if !d.is_dir() {
        bail!(
            "no namespaces are pinned as {name:?} (nothing in {}): pin some with `glassbox ns run --pin {name} --net ... -- CMD`",
            d.display()
        );
    }
    let mut out: Vec<(NsType, PathBuf)> = NsType::JOIN_ORDER
        .into_iter()
        .map(|t| (t, d.join(t.proc_name())))
        .filter(|(_, p)| crate::host::mountinfo::is_mount_point(p).unwrap_or(false))
        .collect();
    out.dedup();
    if out.is_empty() {
        bail!("the pins in {} are empty (unmounted?)", d.display());
    }
    Ok(out)
}

/// Unmount the pins of NAME; the namespaces die once nothing else holds them.
pub fn unpin(root: &Root, name: &str) -> Result<usize> {
    let d = dir(root, name)?;
    if !d.is_dir() {
        bail!(
            "no namespaces are pinned as {name:?} (nothing in {}): nothing to unpin",
            d.display()
        );
    }
    let mut n = 0;
    for t in NsType::ALL {
        let p = d.join(t.proc_name());
        if !p.exists() {
            continue;
        }
        if crate::host::mountinfo::is_mount_point(&p)? {
            crate::host::mount::umount(
                M,
                &p,
                MntFlags::MNT_DETACH,
                "Unmounting the pin drops its reference: the namespace is freed when no process is left in it.",
            )?;
            n += 1;
        }
        resources::forget(root, MOUNT, &p.display().to_string())?;
        let _ = std::fs::remove_file(&p);
    }
    let _ = std::fs::remove_dir(&d);
    trace::say(M, format!("unpinned {n} namespaces of {name}"));
    Ok(n)
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
}
