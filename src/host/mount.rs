//! Traced `mount(2)` and `umount2(2)`, and the `mount` resource kind that
//! lets `system prune` and `doctor` find mounts left under the state root.

use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::{MntFlags, MsFlags};

use crate::state::Root;
use crate::state::resources::ResourceKind;
use crate::trace::{Action, Mechanism, Step};

use super::mountinfo;

/// The step for `mount -t FSTYPE -o DATA SOURCE TARGET` (flags as options).
pub fn mount_step(
    mech: Mechanism,
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Step {
    let mut shell = String::from("mount");
    if let Some(t) = fstype {
        shell.push_str(&format!(" -t {t}"));
    }
    let mut opts: Vec<String> = flag_names(flags);
    if let Some(d) = data {
        opts.push(d.to_string());
    }
    let bind = flags.contains(MsFlags::MS_BIND);
    if flags.contains(MsFlags::MS_REMOUNT) {
        // A remount changes the flags of a mount already there.
        let mut opts = vec!["remount".to_string()];
        if bind {
            opts.push("bind".into());
        }
        opts.extend(
            flag_names(flags)
                .into_iter()
                .filter(|o| o != "remount" && o != "bind" && o != "rec"),
        );
        let ro = flags.contains(MsFlags::MS_RDONLY);
        return Step::new(
            mech,
            Action::Syscall,
            format!(
                "remount {}{}",
                target.display(),
                if ro { " read-only" } else { "" }
            ),
        )
        .arg("target", target.display())
        .arg("flags", format!("{:?}", flags))
        .shell(format!("mount -o {} {}", opts.join(","), target.display()))
        .man("mount(2)");
    }
    let propagation_only = flags.intersects(
        MsFlags::MS_PRIVATE | MsFlags::MS_SHARED | MsFlags::MS_SLAVE | MsFlags::MS_UNBINDABLE,
    ) && !bind;
    if propagation_only {
        let rec = if flags.contains(MsFlags::MS_REC) {
            "r"
        } else {
            ""
        };
        let kind = if flags.contains(MsFlags::MS_PRIVATE) {
            "private"
        } else if flags.contains(MsFlags::MS_SHARED) {
            "shared"
        } else if flags.contains(MsFlags::MS_SLAVE) {
            "slave"
        } else {
            "unbindable"
        };
        shell = format!("mount --make-{rec}{kind} {}", target.display());
    } else {
        if bind {
            shell.push_str(if flags.contains(MsFlags::MS_REC) {
                " --rbind"
            } else {
                " --bind"
            });
            opts.retain(|o| o != "bind" && o != "rec");
        }
        if !opts.is_empty() {
            shell.push_str(&format!(" -o {}", opts.join(",")));
        }
        shell.push_str(&format!(" {} {}", source, target.display()));
    }
    let summary = match fstype {
        Some(t) => format!("mount {t} on {}", target.display()),
        None if bind => format!("bind {} on {}", source, target.display()),
        None => format!("change mount {}", target.display()),
    };
    Step::new(mech, Action::Syscall, summary)
        .arg("source", source)
        .arg("target", target.display())
        .arg("fstype", fstype.unwrap_or(""))
        .arg("flags", format!("{:?}", flags))
        .arg("data", data.unwrap_or(""))
        .shell(shell)
        .man("mount(2)")
}

fn flag_names(flags: MsFlags) -> Vec<String> {
    let names = [
        (MsFlags::MS_RDONLY, "ro"),
        (MsFlags::MS_NOSUID, "nosuid"),
        (MsFlags::MS_NODEV, "nodev"),
        (MsFlags::MS_NOEXEC, "noexec"),
        (MsFlags::MS_REMOUNT, "remount"),
        (MsFlags::MS_BIND, "bind"),
        (MsFlags::MS_REC, "rec"),
        (MsFlags::MS_RELATIME, "relatime"),
    ];
    names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| n.to_string())
        .collect()
}

/// Run `mount(2)` as a traced step.
pub fn mount(
    mech: Mechanism,
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    why: &str,
) -> Result<()> {
    mount_step(mech, source, target, fstype, flags, data)
        .why(why)
        .run(|| {
            nix::mount::mount(Some(source), target, fstype, flags, data)
                .with_context(|| format!("mount(2) {source} on {}", target.display()))
        })
}

/// The step for `umount2(2)`.
pub fn umount_step(mech: Mechanism, target: &Path, flags: MntFlags) -> Step {
    let lazy = flags.contains(MntFlags::MNT_DETACH);
    Step::new(
        mech,
        Action::Syscall,
        format!("unmount {}", target.display()),
    )
    .arg("target", target.display())
    .arg("flags", format!("{:?}", flags))
    .shell(format!(
        "umount{} {}",
        if lazy { " -l" } else { "" },
        target.display()
    ))
    .man("umount(2)")
}

/// Run `umount2(2)` as a traced step.
pub fn umount(mech: Mechanism, target: &Path, flags: MntFlags, why: &str) -> Result<()> {
    umount_step(mech, target, flags).why(why).run(|| {
        nix::mount::umount2(target, flags)
            .with_context(|| format!("umount2(2) {}", target.display()))
    })
}

/// The state roots and their parents: a filesystem of their own there
/// (`mount -t tmpfs t R`, a disk at `/var/lib/glassbox`) holds glassbox's
/// state and is never glassbox's to unmount.
pub fn protected(root: &Root, path: &Path) -> bool {
    root.data.starts_with(path) || root.run.starts_with(path)
}

/// Mounts glassbox made: the id is the mount point.
pub struct MountKind;
pub static MOUNT_KIND: MountKind = MountKind;

impl ResourceKind for MountKind {
    fn name(&self) -> &'static str {
        "mount"
    }

    fn exists(&self, _root: &Root, id: &str) -> bool {
        mountinfo::is_mount_point(Path::new(id)).unwrap_or(false)
    }

    fn remove(&self, root: &Root, id: &str) -> Result<()> {
        if protected(root, Path::new(id)) {
            anyhow::bail!(
                "not unmounting {id}: it is the state root or one of its parents, which glassbox never unmounts"
            );
        }
        // Unmount every mount stacked on the point, top first. A dry run
        // plans one unmount: nothing changes, so looping would never end.
        loop {
            umount(
                Mechanism::System,
                Path::new(id),
                MntFlags::MNT_DETACH,
                "remove a mount that no glassbox object owns any more",
            )?;
            if crate::trace::dry_run() || !mountinfo::is_mount_point(Path::new(id))? {
                return Ok(());
            }
        }
    }

    fn scan(&self, root: &Root) -> Vec<String> {
        let Ok(mounts) = mountinfo::read(None) else {
            return Vec::new();
        };
        let mut out: Vec<String> = mounts
            .iter()
            .filter(|m| {
                (m.mount_point.starts_with(&root.data) || m.mount_point.starts_with(&root.run))
                    && !protected(root, &m.mount_point)
            })
            .map(|m| m.mount_point.display().to_string())
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines_match_mount8() {
        let cases = [
            (
                "proc",
                "/proc",
                Some("proc"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                "mount -t proc -o nosuid,nodev,noexec proc /proc",
            ),
            (
                "/r",
                "/r",
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                "mount --rbind /r /r",
            ),
            (
                "none",
                "/",
                None,
                MsFlags::MS_PRIVATE | MsFlags::MS_REC,
                "mount --make-rprivate /",
            ),
            (
                "none",
                "/proc/sys",
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID,
                "mount -o remount,bind,ro,nosuid /proc/sys",
            ),
        ];
        for (source, target, fstype, flags, shell) in cases {
            let s = mount_step(
                Mechanism::Ns,
                source,
                Path::new(target),
                fstype,
                flags,
                None,
            );
            assert_eq!(s.shell.unwrap(), shell);
        }
    }
}
