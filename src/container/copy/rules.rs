//! Docker's path rules for `cp` (`docker container cp`), as pure logic:
//! given what the source is and what is at the destination, where the
//! copy goes. No file is touched here; [`super`] resolves both ends
//! (with `openat2(2)` in the container) and then asks [`plan`].

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::resolve;

/// What is at the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Missing,
    Dir,
    File,
}

/// Where the copy goes: entries are made in `dir`, the top one named
/// `name` (`.`: what is in the source goes into `dir` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub dir: PathBuf,
    pub name: PathBuf,
}

/// `SRC/.`, or `/`: the contents, not the directory.
pub fn contents_only(src: &str) -> bool {
    src.ends_with("/.") || src == "." || src.chars().all(|c| c == '/')
}

/// The name the source keeps (`.` for its contents).
pub fn source_name(src: &str) -> PathBuf {
    if contents_only(src) {
        return PathBuf::from(".");
    }
    Path::new(src)
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Docker's rules: where a source (a directory or not, `DIR/.` or not,
/// named `name`) goes for a destination `dest` in state `state`.
pub fn plan(src_dir: bool, name: &Path, dest: &str, state: Dest) -> Result<Plan> {
    let path = Path::new(dest);
    let split = || resolve::split(path).with_context(|| format!("{dest} names no file"));
    match state {
        Dest::Dir => Ok(Plan {
            dir: path.to_path_buf(),
            name: name.to_path_buf(),
        }),
        Dest::File if src_dir => bail!(
            "cannot copy directory: the destination {dest} is a file (copy into a directory, or to a new path)"
        ),
        Dest::File => {
            let (dir, name) = split()?;
            Ok(Plan { dir, name })
        }
        Dest::Missing if !src_dir && dest.ends_with('/') => bail!(
            "no such directory: {dest} (a destination that ends in / must be an existing directory)"
        ),
        Dest::Missing => {
            let (dir, name) = split()?;
            Ok(Plan { dir, name })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src_dir: bool, src: &str, dest: &str, state: Dest) -> Result<(String, String)> {
        plan(src_dir, &source_name(src), dest, state)
            .map(|p| (p.dir.display().to_string(), p.name.display().to_string()))
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn a_file_goes_where_docker_puts_it() {
        assert_eq!(
            p(false, "/etc/passwd", "/tmp/out", Dest::Missing).unwrap(),
            pair("/tmp", "out")
        );
        assert_eq!(
            p(false, "/etc/passwd", "/tmp/out", Dest::File).unwrap(),
            pair("/tmp", "out")
        );
        assert_eq!(
            p(false, "/etc/passwd", "/tmp", Dest::Dir).unwrap(),
            pair("/tmp", "passwd")
        );
        let e = p(false, "/etc/passwd", "/tmp/nope/", Dest::Missing).unwrap_err();
        assert!(
            format!("{e}").starts_with("no such directory: /tmp/nope/"),
            "{e}"
        );
    }

    #[test]
    fn a_directory_goes_where_docker_puts_it() {
        assert_eq!(
            p(true, "/etc", "/tmp/new", Dest::Missing).unwrap(),
            pair("/tmp", "new")
        );
        assert_eq!(
            p(true, "/etc", "/tmp/new/", Dest::Missing).unwrap(),
            pair("/tmp", "new")
        );
        assert_eq!(
            p(true, "/etc", "/tmp", Dest::Dir).unwrap(),
            pair("/tmp", "etc")
        );
        assert_eq!(
            p(true, "/etc/", "/tmp", Dest::Dir).unwrap(),
            pair("/tmp", "etc")
        );
        assert_eq!(
            p(true, "/etc/.", "/tmp", Dest::Dir).unwrap(),
            pair("/tmp", ".")
        );
        assert_eq!(p(true, "/", "/tmp", Dest::Dir).unwrap(), pair("/tmp", "."));
        assert_eq!(
            p(true, "/etc/.", "/tmp/new", Dest::Missing).unwrap(),
            pair("/tmp", "new")
        );
        let e = p(true, "/etc", "/tmp/file", Dest::File).unwrap_err();
        assert!(format!("{e}").starts_with("cannot copy directory"), "{e}");
    }

    #[test]
    fn dot_and_slashes_mean_the_contents() {
        assert!(contents_only("/etc/."));
        assert!(contents_only("/"));
        assert!(contents_only("."));
        assert!(!contents_only("/etc/"));
        assert_eq!(source_name("/etc/"), PathBuf::from("etc"));
        assert_eq!(source_name("etc/hosts"), PathBuf::from("hosts"));
    }
}
