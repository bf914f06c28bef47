//! Privileges: is glassbox root, or does it hold the capabilities it needs?
//!
//! Since Linux 2.2 root's power is split into capabilities; what counts for
//! a syscall is the *effective* set of the calling thread (`CapEff` in
//! `/proc/self/status`). A container engine needs a handful of them:
//! mounting and making namespaces (`CAP_SYS_ADMIN`), making links and
//! firewall rules (`CAP_NET_ADMIN`), whiteout device nodes (`CAP_MKNOD`),
//! and so on. Read `capabilities(7)`; try `grep Cap /proc/self/status` and
//! `capsh --decode=...`.

use caps::{CapSet, Capability};

use super::Check;

/// The capabilities glassbox uses, and what for.
pub const NEEDED: &[(Capability, &str)] = &[
    (
        Capability::CAP_SYS_ADMIN,
        "mount(2), unshare(2), setns(2), pivot_root(2)",
    ),
    (
        Capability::CAP_NET_ADMIN,
        "links, addresses, firewall rules",
    ),
    (Capability::CAP_MKNOD, "overlay whiteouts and /dev nodes"),
    (
        Capability::CAP_SYS_CHROOT,
        "chroot(2) into a root filesystem",
    ),
    (Capability::CAP_SETUID, "switch to the container's user"),
    (Capability::CAP_SETGID, "switch to the container's group"),
    (Capability::CAP_CHOWN, "give image files their owners"),
    (Capability::CAP_DAC_OVERRIDE, "write state and cgroup files"),
    (
        Capability::CAP_FOWNER,
        "set modes and xattrs on image files",
    ),
    (Capability::CAP_KILL, "signal container processes"),
];

/// What was read from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub euid: u32,
    /// Canonical names (`CAP_SYS_ADMIN`) of the needed capabilities that
    /// are missing from the effective set; `Err` when it could not be read.
    pub missing: Result<Vec<String>, String>,
}

pub fn read() -> Reading {
    let euid = nix::unistd::geteuid().as_raw();
    let missing = caps::read(None, CapSet::Effective)
        .map(|eff| {
            NEEDED
                .iter()
                .filter(|(c, _)| !eff.contains(c))
                .map(|(c, _)| c.to_string())
                .collect()
        })
        .map_err(|e| e.to_string());
    Reading { euid, missing }
}

/// The verdict: every needed capability present, or a failure naming the
/// missing ones.
pub fn verdict(r: &Reading) -> Check {
    const NAME: &str = "privileges";
    let who = if r.euid == 0 {
        "root (uid 0)".to_string()
    } else {
        format!("not root (uid {})", r.euid)
    };
    match &r.missing {
        Err(e) => Check::fail(
            NAME,
            format!("{who}; could not read the capability sets: {e}"),
            "run as root: sudo glassbox doctor",
        ),
        Ok(missing) if missing.is_empty() => Check::ok(
            NAME,
            format!("{who} with all {} capabilities glassbox uses", NEEDED.len()),
        ),
        Ok(missing) => Check::fail(
            NAME,
            format!("{who}; missing {}", missing.join(", ")),
            "run as root (sudo glassbox ...): namespaces, mounts and links need these capabilities",
        ),
    }
}

pub fn check() -> Check {
    verdict(&read())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_with_all_caps_is_ok() {
        let c = verdict(&Reading {
            euid: 0,
            missing: Ok(vec![]),
        });
        assert_eq!(c.status, super::super::Status::Ok);
        assert!(c.detail.starts_with("root (uid 0)"), "{}", c.detail);
    }

    #[test]
    fn nobody_fails_naming_the_missing_capabilities() {
        let c = verdict(&Reading {
            euid: 65534,
            missing: Ok(vec!["CAP_SYS_ADMIN".into(), "CAP_NET_ADMIN".into()]),
        });
        assert_eq!(c.status, super::super::Status::Fail);
        assert_eq!(
            c.detail,
            "not root (uid 65534); missing CAP_SYS_ADMIN, CAP_NET_ADMIN"
        );
        assert!(c.hint.unwrap().contains("run as root"));
    }

    #[test]
    fn root_without_sys_admin_still_fails() {
        // e.g. inside a container started with --cap-drop SYS_ADMIN
        let c = verdict(&Reading {
            euid: 0,
            missing: Ok(vec!["CAP_SYS_ADMIN".into()]),
        });
        assert_eq!(c.status, super::super::Status::Fail);
    }

    #[test]
    fn capability_names_are_canonical() {
        assert_eq!(Capability::CAP_SYS_ADMIN.to_string(), "CAP_SYS_ADMIN");
    }
}
