//! Traced primitives every mechanism shares: write or read a kernel file,
//! make a directory, mount and unmount, read `/proc/self/mountinfo`.
//!
//! Each function builds the [`Step`] for what it does (with the shell line
//! a student would type) and runs it through the tracing layer; the caller
//! passes its mechanism and may add a why. Read `proc(5)` and `sysfs(5)`.

pub mod mount;
pub mod mountinfo;

use std::path::Path;

use anyhow::{Context, Result};

use crate::trace::{Action, Mechanism, Step};

pub use mount::{MOUNT_KIND, mount_step, umount_step};

/// The step that writes `value` to a kernel file.
pub fn write_file_step(mech: Mechanism, path: &Path, value: &str) -> Step {
    Step::new(
        mech,
        Action::FileWrite,
        format!("write {value:?} to {}", path.display()),
    )
    .arg("path", path.display())
    .arg("value", value)
    .shell(format!("echo {} > {}", shell_quote(value), path.display()))
}

/// Write `value` to `path` (one `write(2)`, as `echo` does).
pub fn write_file(mech: Mechanism, path: &Path, value: &str, why: &str) -> Result<()> {
    write_file_step(mech, path, value)
        .why(why)
        .run(|| std::fs::write(path, value).with_context(|| format!("write {}", path.display())))
}

/// Read a kernel file whose value is part of the lesson.
pub fn read_file(mech: Mechanism, path: &Path) -> Result<String> {
    Step::new(mech, Action::FileRead, format!("read {}", path.display()))
        .arg("path", path.display())
        .shell(format!("cat {}", path.display()))
        .detail()
        .observe(|| {
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
        })
}

/// The step of [`mkdir`].
pub fn mkdir_step(mech: Mechanism, path: &Path) -> Step {
    Step::new(
        mech,
        Action::Filesystem,
        format!("create directory {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("mkdir -p {}", path.display()))
    .detail()
}

/// `mkdir -p`.
pub fn mkdir(mech: Mechanism, path: &Path) -> Result<()> {
    mkdir_step(mech, path)
        .run(|| std::fs::create_dir_all(path).with_context(|| format!("mkdir {}", path.display())))
}

/// `rm -f PATH`: remove a file (or symlink); "already gone" is success.
pub fn remove_file(mech: Mechanism, path: &Path, why: &str) -> Result<()> {
    Step::new(
        mech,
        Action::Filesystem,
        format!("remove {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!(
        "rm -f {}",
        shell_quote(&path.display().to_string())
    ))
    .why(why)
    .man("unlink(2)")
    .detail()
    .run(|| match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("unlink {}", path.display()))
        }
        _ => Ok(()),
    })
}

/// `rm -rf DIR`: remove a directory and everything in it, without
/// following symlinks. Refused while anything is mounted on or below it
/// (removing through a mount would delete what the mount shows);
/// "already gone" is success.
pub fn remove_dir_all(mech: Mechanism, path: &Path, why: &str) -> Result<()> {
    if !crate::trace::dry_run()
        && let Some(m) = mountinfo::read(None)?
            .into_iter()
            .find(|m| m.mount_point.starts_with(path))
    {
        anyhow::bail!(
            "not removing {}: {} is mounted there; unmount it first",
            path.display(),
            m.mount_point.display()
        );
    }
    Step::new(
        mech,
        Action::Filesystem,
        format!("remove {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!(
        "rm -rf {}",
        shell_quote(&path.display().to_string())
    ))
    .why(why)
    .detail()
    .run(|| match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("remove directory {}", path.display()))
        }
        _ => Ok(()),
    })
}

/// Quote a word for a POSIX shell, only when it needs it.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&b));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("209715200"), "209715200");
        assert_eq!(shell_quote("max 100000"), "'max 100000'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn write_step_shows_echo() {
        let s = write_file_step(
            Mechanism::Cgroup,
            Path::new("/sys/x/cpu.max"),
            "50000 100000",
        );
        assert_eq!(s.shell.unwrap(), "echo '50000 100000' > /sys/x/cpu.max");
    }
}
