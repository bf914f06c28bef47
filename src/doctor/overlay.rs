//! overlayfs: a real test mount, the way every container root is made.
//!
//! In a scratch directory under the state root's run dir: a `lower` dir
//! with one file, an empty `upper` and `work`, mounted as an overlay on
//! `merged`. Writing a file through `merged` must land in `upper` and leave
//! `lower` alone (copy-up). Then unmount and remove it all. The mount is
//! recorded in the resource ledger before it is made (owned by this
//! process), so if doctor dies half way `glassbox system prune` finds it.
//! Read the kernel's `filesystems/overlayfs.rst`; by hand:
//! `mount -t overlay overlay -o lowerdir=L,upperdir=U,workdir=W M`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::{MntFlags, MsFlags};

use super::{Check, is_permission_error, planned};
use crate::host::{self, MOUNT_KIND, mount};
use crate::state::Root;
use crate::state::resources::{self, Owner, ResourceKind};
use crate::trace::{self, Action, Mechanism, Step};

const NAME: &str = "overlayfs";

/// The verdict on the test mount: done, failed (with the error chain), or
/// not attempted under `--dry-run`.
pub fn verdict(result: &Result<()>, dry_run: bool, dir: &Path) -> Check {
    if dry_run {
        return planned(NAME, &format!("mount a test overlay in {}", dir.display()));
    }
    match result {
        Ok(()) => Check::ok(
            NAME,
            "test mount works (copy-up to upperdir), unmounted and removed",
        ),
        Err(e) => {
            let text = format!("{e:#}");
            if crate::state::atomic::is_damaged_state(e) {
                // The test mount is recorded in the ledger first; a damaged
                // ledger stops it before overlayfs is even tried.
                return Check::fail(
                    NAME,
                    format!("test mount not tried: {text}"),
                    "the state file above is damaged, not overlayfs: move it aside (mv FILE FILE.bad) and run `glassbox doctor` again",
                );
            }
            let hint = if is_permission_error(e) {
                "run as root (mount(2) needs CAP_SYS_ADMIN)"
            } else if text.contains("ENODEV") || text.contains("No such device") {
                "load the module: modprobe overlay"
            } else {
                "check dmesg for overlayfs errors; the state dir's filesystem must support overlay upper dirs (not another overlay)"
            };
            Check::fail(NAME, format!("test mount failed: {text}"), hint)
        }
    }
}

/// Where the test mount is made.
pub fn scratch_dir(root: &Root) -> PathBuf {
    root.run
        .join(format!("doctor-overlay-{}", std::process::id()))
}

fn remove_dir_step(dir: &Path) -> Step {
    Step::new(
        Mechanism::Unionfs,
        Action::Filesystem,
        format!("remove {}", dir.display()),
    )
    .arg("path", dir.display())
    .shell(format!("rm -rf {}", dir.display()))
}

fn write_step(path: &Path, text: &str) -> Step {
    Step::new(
        Mechanism::Unionfs,
        Action::Filesystem,
        format!("write {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("echo {text} > {}", path.display()))
    .detail()
}

/// Make, check, unmount and remove the test overlay. Cleanup runs whatever
/// happened; the first error wins.
fn probe(root: &Root, dir: &Path) -> Result<()> {
    let (lower, upper, work, merged) = (
        dir.join("lower"),
        dir.join("upper"),
        dir.join("work"),
        dir.join("merged"),
    );
    let made = (|| -> Result<()> {
        root.ensure()?;
        for d in [&lower, &upper, &work, &merged] {
            host::mkdir(Mechanism::Unionfs, d)?;
        }
        let base = lower.join("from-lower");
        write_step(&base, "lower").run(|| {
            std::fs::write(&base, "lower\n").with_context(|| format!("write {}", base.display()))
        })?;
        let id = merged.display().to_string();
        let pending = resources::record(
            root,
            MOUNT_KIND.name(),
            &id,
            Owner::Process {
                pid: std::process::id(),
            },
        )?;
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            upper.display(),
            work.display()
        );
        mount::mount(
            Mechanism::Unionfs,
            "overlay",
            &merged,
            Some("overlay"),
            MsFlags::empty(),
            Some(&data),
            "A test mount proves the kernel has overlayfs and accepts this filesystem as upper dir.",
        )?;
        pending.commit()?;
        let checked = copy_up(&merged, &lower, &upper);
        let unmounted = mount::umount(
            Mechanism::Unionfs,
            &merged,
            MntFlags::empty(),
            "remove the test mount",
        );
        if unmounted.is_ok() {
            resources::forget(root, MOUNT_KIND.name(), &id)?;
        }
        checked.and(unmounted)
    })();
    let removed = remove_dir_step(dir).run(|| match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r.with_context(|| format!("remove {}", dir.display())),
    });
    made.and(removed)
}

/// Read through the overlay and write through it: the new file must show
/// up in upper, not in lower.
fn copy_up(merged: &Path, lower: &Path, upper: &Path) -> Result<()> {
    Step::new(
        Mechanism::Unionfs,
        Action::Filesystem,
        format!("write a file through {}", merged.display()),
    )
    .shell(format!(
        "cat {m}/from-lower && echo upper > {m}/new && ls {}",
        upper.display(),
        m = merged.display()
    ))
    .why("Writes to an overlay land in the upper dir; the lower dir stays as it was.")
    .run(|| {
        let seen = std::fs::read_to_string(merged.join("from-lower"))
            .context("read a lower file through the overlay")?;
        if seen != "lower\n" {
            bail!("the overlay shows {seen:?} instead of the lower file's content");
        }
        std::fs::write(merged.join("new"), "upper\n").context("write through the overlay")?;
        if !upper.join("new").exists() {
            bail!("a file written through the overlay did not land in upperdir");
        }
        if lower.join("new").exists() {
            bail!("a file written through the overlay landed in lowerdir");
        }
        Ok(())
    })
}

pub fn check(root: &Root) -> Check {
    let dir = scratch_dir(root);
    let dry = trace::dry_run();
    // Under --dry-run every step of the probe is only listed as planned.
    let result = probe(root, &dir);
    verdict(&result, dry, &dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn success_is_ok() {
        let c = verdict(&Ok(()), false, Path::new("/x"));
        assert_eq!(c.status, Status::Ok);
    }

    #[test]
    fn eperm_says_run_as_root() {
        let err = anyhow::Error::new(nix::errno::Errno::EPERM).context("mount(2) overlay on /x");
        let c = verdict(&Err(err), false, Path::new("/x"));
        assert_eq!(c.status, Status::Fail);
        assert!(c.hint.unwrap().contains("run as root"));
    }

    #[test]
    fn missing_filesystem_says_modprobe() {
        let err = anyhow::Error::new(nix::errno::Errno::ENODEV).context("mount(2) overlay on /x");
        let c = verdict(&Err(err), false, Path::new("/x"));
        assert!(c.hint.unwrap().contains("modprobe overlay"));
    }

    #[test]
    fn dry_run_is_planned_not_failed() {
        let c = verdict(&Ok(()), true, Path::new("/r/run/doctor-overlay-1"));
        assert_eq!(c.status, Status::Info);
        assert!(c.detail.contains("not run (--dry-run)"));
    }
}
