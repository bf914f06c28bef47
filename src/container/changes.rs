//! `diff`: what a container changed in its filesystem, as `docker diff`
//! lists it (`A` added, `C` changed, `D` deleted). Everything the
//! container wrote is in its own overlay layer (`upperdir`); the lower
//! layers (the init layer, then the image's) only tell added from changed
//! ([`crate::unionfs::diff`], the same reading as `glassbox unionfs diff`).
//! So the init layer's mount points (/proc, /dev, /etc/hosts, ...) are
//! never listed, and neither is what a bind mount shows, which lives on
//! the host; the mount point a bind needed made in the container's layer
//! is, as with Docker (runc makes it there too). A directory removed and
//! made again (opaque, hiding everything below it) is listed as Docker's
//! overlay driver lists it: `D` for the directory, then what it holds now,
//! where `unionfs diff` names each hidden entry instead. Reads only. Read
//! `Documentation/filesystems/overlayfs.rst`.

use anyhow::Result;

use super::state::Container;
use crate::host::shell_quote;
use crate::trace::{Action, Mechanism, Step};
use crate::unionfs::diff::{Change, diff};

/// The changes of container `c`, sorted by path.
pub fn changes(c: &Container) -> Result<Vec<Change>> {
    let upper = &c.rootfs.upper;
    let lowers: Vec<String> = c
        .rootfs
        .lower
        .iter()
        .map(|l| l.display().to_string())
        .collect();
    Step::new(
        Mechanism::Unionfs,
        Action::FileRead,
        format!("read the changes in {}", upper.display()),
    )
    .arg("upper", upper.display())
    .arg("lower", lowers.join(":"))
    .shell(format!(
        "find {} -mindepth 1   # a 0/0 character device is a deleted name",
        shell_quote(&upper.display().to_string())
    ))
    .why("a container's writes all land in its own overlay layer: reading it, and looking the names up below, is the whole diff")
    .man("overlayfs(5)")
    .observe(|| diff(upper, &c.rootfs.lower))
    .map(as_docker)
}

/// Docker's reading of an opaque directory that hides a lower one: the
/// directory deleted (`D`) and made again (what it holds follows), not
/// each hidden name. Pure.
pub fn as_docker(changes: Vec<Change>) -> Vec<Change> {
    let opaque: Vec<String> = changes
        .iter()
        .filter(|c| c.opaque)
        .map(|c| format!("{}/", c.path))
        .collect();
    changes
        .into_iter()
        .filter(|c| {
            // A hidden lower name, listed by the unionfs reading.
            !(c.change == "D"
                && opaque.iter().any(|dir| {
                    c.path
                        .strip_prefix(dir.as_str())
                        .is_some_and(|rest| !rest.contains('/'))
                }))
        })
        .map(|mut c| {
            if c.opaque {
                c.opaque = false;
                c.kind = 2;
                c.change = "D".into();
            }
            c
        })
        .collect()
}

/// The `docker diff` line: `C /etc`.
pub fn line(ch: &Change) -> String {
    format!("{} {}", ch.change, ch.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(change: &str, path: &str, opaque: bool) -> Change {
        Change {
            path: path.into(),
            kind: match change {
                "A" => 1,
                "D" => 2,
                _ => 0,
            },
            change: change.into(),
            opaque,
        }
    }

    #[test]
    fn an_opaque_directory_reads_as_dockers_deleted_and_made_again() {
        let unionfs = vec![
            ch("C", "/usr", false),
            ch("C", "/usr/bin", true),
            ch("D", "/usr/bin/awk", false),
            ch("A", "/usr/bin/only", false),
            ch("D", "/usr/bin2", false),
            ch("D", "/usr/group", false),
        ];
        let lines: Vec<String> = as_docker(unionfs).iter().map(line).collect();
        assert_eq!(
            lines,
            [
                "C /usr",
                "D /usr/bin",
                "A /usr/bin/only",
                "D /usr/bin2",
                "D /usr/group"
            ]
        );
    }
}
