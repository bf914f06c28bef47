//! glassbox's own state: are the data and run dirs writable, and is there
//! anything left on the host that no glassbox object owns?
//!
//! Writability is asked with `access(2)` (`W_OK`), which also says no on a
//! read-only filesystem; a dir that does not exist yet is fine when its
//! nearest existing parent is writable (glassbox creates it). Leftovers
//! come from the resource ledger ([`crate::state::resources::leftovers`]):
//! half-made resources, ones whose owner is gone, and objects carrying this
//! root's names that no command recorded. `glassbox system prune` removes
//! them. Read `access(2)`.

use std::path::{Path, PathBuf};

use crate::state::Root;
use crate::state::recover;
use crate::state::resources::{self, Leftover};

use super::Check;

/// What `access(2)` says about one state dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirState {
    Writable,
    /// Does not exist; glassbox would create it under this writable parent.
    Creatable(PathBuf),
    /// Not writable (or not creatable): the path that refused, and why.
    Refused(PathBuf, String),
}

pub fn read_dir_state(dir: &Path) -> DirState {
    use nix::unistd::{AccessFlags, access};
    if dir.exists() {
        if !dir.is_dir() {
            return DirState::Refused(dir.to_path_buf(), "not a directory".into());
        }
        return match access(dir, AccessFlags::W_OK | AccessFlags::X_OK) {
            Ok(()) => DirState::Writable,
            Err(e) => DirState::Refused(dir.to_path_buf(), e.desc().to_string()),
        };
    }
    let mut parent = dir.parent();
    while let Some(p) = parent {
        if p.exists() {
            return match access(p, AccessFlags::W_OK | AccessFlags::X_OK) {
                Ok(()) => DirState::Creatable(p.to_path_buf()),
                Err(e) => DirState::Refused(p.to_path_buf(), e.desc().to_string()),
            };
        }
        parent = p.parent();
    }
    DirState::Refused(dir.to_path_buf(), "no existing parent".into())
}

pub fn dirs_verdict(dirs: &[(&str, PathBuf, DirState)]) -> Check {
    const NAME: &str = "state dirs";
    let mut parts = Vec::new();
    let mut refused = Vec::new();
    for (role, path, state) in dirs {
        match state {
            DirState::Writable => parts.push(format!("{role} {} writable", path.display())),
            DirState::Creatable(_) => {
                parts.push(format!("{role} {} will be created", path.display()))
            }
            DirState::Refused(at, why) => refused.push(format!(
                "{role} {}: {} refuses writes ({why})",
                path.display(),
                at.display()
            )),
        }
    }
    if refused.is_empty() {
        Check::ok(NAME, parts.join(", "))
    } else {
        Check::fail(
            NAME,
            refused.join("; "),
            "run as root, or give a writable --root DIR",
        )
    }
}

/// The leftovers line: a warning listing them, with what to do.
pub fn leftovers_verdict(found: &anyhow::Result<Vec<Leftover>>) -> Check {
    const NAME: &str = "leftovers";
    match found {
        Ok(l) if l.is_empty() => Check::ok(NAME, "none: every recorded resource has an owner"),
        Ok(l) => Check::warn(
            NAME,
            l.iter()
                .map(|l| format!("{} {} ({})", l.kind, l.id, l.reason))
                .collect::<Vec<_>>()
                .join("; "),
            "remove them with `glassbox system prune`",
        ),
        Err(e) if crate::state::atomic::is_damaged_state(e) => Check::warn(
            NAME,
            format!("cannot read the resource ledger: {e:#}"),
            "move the damaged file aside (mv FILE FILE.bad) and run `glassbox doctor` again: what the file recorded then shows as not recorded by this root, for you to remove by hand",
        ),
        Err(e) => Check::warn(
            NAME,
            format!("cannot read the resource ledger: {e:#}"),
            "run as root, or point --root at your state",
        ),
    }
}

/// Leftovers of this root: what its mechanisms' recovery finds in its
/// state, and its ledger's orphans. Without a ledger (no glassbox command
/// has recorded anything here yet) nothing is created just to look (the
/// ledger's lock file comes with the ledger).
pub fn find_leftovers(root: &Root) -> anyhow::Result<Vec<Leftover>> {
    if resources::lock_path(root).exists() {
        return recover::leftovers(root, false);
    }
    let mut out = Vec::new();
    for area in recover::areas() {
        out.extend(area.find(root)?);
    }
    Ok(out)
}

pub fn dirs_check(root: &Root) -> Check {
    dirs_verdict(&[
        ("data", root.data.clone(), read_dir_state(&root.data)),
        ("run", root.run.clone(), read_dir_state(&root.run)),
    ])
}

/// Are the roots and the content parents closed to other users?
pub fn modes_verdict(loose: &[(PathBuf, String)]) -> Check {
    const NAME: &str = "state modes";
    if loose.is_empty() {
        return Check::ok(
            NAME,
            "the roots, layers/ and containers/ are root's alone (0700)",
        );
    }
    Check::warn(
        NAME,
        format!(
            "other users can reach image content (setuid files, capabilities, device nodes) through {}",
            loose
                .iter()
                .map(|(d, why)| format!("{} ({why})", d.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "run any glassbox command as root (it tightens them to 0700), or chmod 700 them",
    )
}

pub fn modes_check(root: &Root) -> Check {
    modes_verdict(&root.loose_dirs())
}

pub fn leftovers_check(root: &Root) -> Check {
    leftovers_verdict(&find_leftovers(root))
}

/// Kernel objects that carry this root's names but that it never
/// recorded: named, never pruned.
pub fn unrecorded_verdict(found: &[Leftover]) -> Check {
    const NAME: &str = "not recorded";
    if found.is_empty() {
        return Check::ok(
            NAME,
            "nothing on the host carries this root's names unrecorded",
        );
    }
    Check::warn(
        NAME,
        found
            .iter()
            .map(|l| format!("{} {}", l.kind, l.id))
            .collect::<Vec<_>>()
            .join("; "),
        "these carry this root's names but are not in its ledger, so `glassbox system prune` leaves them: if nobody (another glassbox root, a person) uses them, remove them by hand",
    )
}

pub fn unrecorded_check(root: &Root) -> Check {
    match resources::unrecorded(root) {
        Ok(found) => unrecorded_verdict(&found),
        Err(e) => Check::warn(
            "not recorded",
            format!("cannot read the resource ledger: {e:#}"),
            "run as root, or point --root at your state",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn writable_and_creatable_are_ok() {
        let c = dirs_verdict(&[
            ("data", "/var/lib/glassbox".into(), DirState::Writable),
            (
                "run",
                "/run/glassbox".into(),
                DirState::Creatable("/run".into()),
            ),
        ]);
        assert_eq!(c.status, Status::Ok);
        assert_eq!(
            c.detail,
            "data /var/lib/glassbox writable, run /run/glassbox will be created"
        );
    }

    #[test]
    fn refused_dir_fails() {
        let c = dirs_verdict(&[(
            "data",
            "/var/lib/glassbox".into(),
            DirState::Refused("/var/lib".into(), "Permission denied".into()),
        )]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("/var/lib refuses writes"));
    }

    #[test]
    fn real_dirs_are_read() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read_dir_state(d.path()), DirState::Writable);
        assert_eq!(
            read_dir_state(&d.path().join("a/b")),
            DirState::Creatable(d.path().to_path_buf())
        );
    }

    #[test]
    fn leftovers_warn_and_say_prune() {
        let found = Ok(vec![Leftover {
            kind: "mount".into(),
            id: "/r/x".into(),
            reason: "half-made: its creator (pid 7) died before finishing".into(),
        }]);
        let c = leftovers_verdict(&found);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(
            c.detail,
            "mount /r/x (half-made: its creator (pid 7) died before finishing)"
        );
        assert!(c.hint.unwrap().contains("glassbox system prune"));
        assert_eq!(leftovers_verdict(&Ok(vec![])).status, Status::Ok);
    }

    #[test]
    fn unrecorded_objects_are_named_and_said_to_be_left_alone() {
        let c = unrecorded_verdict(&[Leftover {
            kind: "link".into(),
            id: "gbabc1230".into(),
            reason: resources::NOT_RECORDED.into(),
        }]);
        assert_eq!(c.status, Status::Warn);
        assert_eq!(c.detail, "link gbabc1230");
        assert!(c.hint.unwrap().contains("prune` leaves them"));
        assert_eq!(unrecorded_verdict(&[]).status, Status::Ok);
    }

    #[test]
    fn loose_modes_warn_with_the_paths() {
        let c = modes_verdict(&[("/r".into(), "mode 0755".into())]);
        assert_eq!(c.status, Status::Warn);
        assert!(c.detail.contains("/r (mode 0755)"), "{}", c.detail);
        assert_eq!(modes_verdict(&[]).status, Status::Ok);
    }
}
