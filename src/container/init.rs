//! `--init`: a small PID 1 in front of the container's command, as
//! Docker's `docker run --init` puts `docker-init` (tini) there.
//!
//! The first process of a PID namespace has two duties a program written
//! for an ordinary life does not expect. Orphans are re-parented to it,
//! and only its `wait(2)` takes their exit status away: a PID 1 that never
//! waits for children it did not make leaves them as zombies (state `Z`
//! in `/proc/PID/stat`), each holding a pid. And the kernel delivers it no
//! signal it has not set a handler for (`SIGTERM` from `stop` does
//! nothing to a `sleep` that is PID 1). An init does both: it runs the
//! command as its child, reaps every child that ends, passes on the
//! signals it gets, and exits with the command's status.
//!
//! glassbox binds the host's static `tini` read-only at
//! `/sbin/docker-init` in the container (its target resolved inside the
//! container's root, as every mount glassbox makes there) and runs
//! `/sbin/docker-init -- ENTRYPOINT CMD...`. Static, it runs in any image,
//! one without a libc too. Read `pid_namespaces(7)` ("The namespace init
//! process"), `wait(2)`, `signal(7)`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Where the init is bound in the container, as Docker puts it.
pub const TARGET: &str = "/sbin/docker-init";

/// The environment variable naming another init binary (as dockerd's
/// `--init-path`).
pub const PATH_ENV: &str = "GLASSBOX_INIT";

/// The static inits glassbox looks for: Debian's `tini-static` (package
/// `tini`), then Docker's own `docker-init`.
pub const CANDIDATES: &[&str] = &[
    "/usr/bin/tini-static",
    "/usr/bin/docker-init",
    "/usr/libexec/docker/docker-init",
];

/// The init binary on this host, or Docker's kind of error with what to
/// install.
pub fn binary() -> Result<PathBuf> {
    let given = std::env::var_os(PATH_ENV).map(PathBuf::from);
    find(given.as_deref(), CANDIDATES)
}

/// The init `given` (it must exist), else the first of `candidates` that
/// exists.
pub fn find(given: Option<&Path>, candidates: &[&str]) -> Result<PathBuf> {
    if let Some(p) = given {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!(
            "--init: the init binary {} ({PATH_ENV}) does not exist: give the path of a static tini, or unset {PATH_ENV} to use /usr/bin/tini-static",
            p.display()
        );
    }
    match candidates.iter().map(Path::new).find(|p| p.is_file()) {
        Some(p) => Ok(p.to_path_buf()),
        None => bail!(
            "--init needs a static init binary, and none is installed (looked for {}): install Debian's package tini (apt-get install tini, which has /usr/bin/tini-static), or set {PATH_ENV} to a static tini",
            candidates.join(", ")
        ),
    }
}

/// The container's command behind the init: `/sbin/docker-init --
/// PROGRAM ARGS...`.
pub fn argv(command: &[String]) -> Vec<String> {
    [TARGET.to_string(), "--".to_string()]
        .into_iter()
        .chain(command.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_runs_behind_the_init() {
        let cmd = vec!["sh".to_string(), "-c".to_string(), "echo hi".to_string()];
        assert_eq!(
            argv(&cmd),
            ["/sbin/docker-init", "--", "sh", "-c", "echo hi"]
        );
    }

    #[test]
    fn the_first_installed_init_is_used_and_a_missing_one_says_what_to_install() {
        let d = tempfile::tempdir().unwrap();
        let tini = d.path().join("tini-static");
        std::fs::write(&tini, b"").unwrap();
        let t = tini.to_str().unwrap();
        assert_eq!(find(None, &["/nonexistent/init", t]).unwrap(), tini);
        assert_eq!(find(Some(&tini), &[]).unwrap(), tini);
        let e = find(None, &["/nonexistent/init"]).unwrap_err().to_string();
        assert!(e.contains("apt-get install tini"), "{e}");
        let e = find(Some(Path::new("/nonexistent/x")), &[t])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/x") && e.contains(PATH_ENV), "{e}");
    }
}
