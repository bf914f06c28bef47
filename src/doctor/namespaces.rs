//! Namespaces: does the kernel offer each type, and may glassbox make one?
//!
//! A process's namespaces are the symlinks in `/proc/self/ns/` (one per
//! type the kernel was built with). Their presence says the kernel knows
//! the type; a real `unshare(2)` in a forked child says this process may
//! make a new one. The child exits at once, so its namespace vanishes with
//! it: nothing on the host changes. Read `namespaces(7)` and `unshare(2)`;
//! by hand: `ls -l /proc/self/ns` and `unshare --net true`.

use std::path::Path;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::ForkResult;

use super::Check;
use crate::trace::{Action, Mechanism, Step};

/// Each namespace type: its `/proc/self/ns` name, its clone flag, the
/// `unshare(1)` option, and whether containers cannot do without it.
pub const TYPES: &[(&str, libc::c_int, &str, bool)] = &[
    ("mnt", libc::CLONE_NEWNS, "--mount", true),
    ("uts", libc::CLONE_NEWUTS, "--uts", true),
    ("ipc", libc::CLONE_NEWIPC, "--ipc", true),
    ("pid", libc::CLONE_NEWPID, "--pid", true),
    ("net", libc::CLONE_NEWNET, "--net", true),
    ("user", libc::CLONE_NEWUSER, "--user", false),
    ("cgroup", libc::CLONE_NEWCGROUP, "--cgroup", false),
    ("time", libc::CLONE_NEWTIME, "--time", false),
];

/// What was found for one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub name: String,
    pub required: bool,
    /// `/proc/self/ns/<name>` exists.
    pub present: bool,
    /// The result of `unshare(2)` in a forked child: `Ok` or the errno.
    pub unshare: Result<(), nix::errno::Errno>,
}

pub fn verdict(r: &Reading) -> Check {
    let name = format!("ns {}", r.name);
    let missing = |detail: String, hint: &str| {
        if r.required {
            Check::fail(&name, detail, hint)
        } else {
            Check::warn(&name, detail, hint)
        }
    };
    match (&r.present, &r.unshare) {
        (false, _) => missing(
            format!(
                "/proc/self/ns/{} is missing: the kernel has no {} namespaces",
                r.name, r.name
            ),
            "boot a kernel built with this namespace type (CONFIG_*_NS)",
        ),
        (true, Ok(())) => Check::ok(&name, "supported; unshare(2) works"),
        (true, Err(e @ (nix::errno::Errno::EPERM | nix::errno::Errno::EACCES))) => missing(
            format!("supported, but unshare(2) was refused: {e}"),
            "run as root (needs CAP_SYS_ADMIN)",
        ),
        (true, Err(nix::errno::Errno::ENOSPC)) => missing(
            "supported, but the namespace limit is reached (ENOSPC)".into(),
            "raise /proc/sys/user/max_*_namespaces",
        ),
        (true, Err(e)) => missing(
            format!("supported, but unshare(2) failed: {e}"),
            "check dmesg and /proc/sys/user/max_*_namespaces",
        ),
    }
}

/// `unshare(flag)` in a forked child that exits right away.
fn try_unshare(flag: libc::c_int) -> Result<(), nix::errno::Errno> {
    // SAFETY: glassbox doctor is single-threaded when it runs this; the
    // child only calls the async-signal-safe unshare(2) and _exit(2).
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            // SAFETY: plain syscalls in the child, no allocation.
            let code = unsafe {
                if libc::unshare(flag) == 0 {
                    0
                } else {
                    *libc::__errno_location()
                }
            };
            // SAFETY: leave the child without running the parent's destructors.
            unsafe { libc::_exit(code.clamp(0, 255)) }
        }
        ForkResult::Parent { child } => match waitpid(child, None)? {
            WaitStatus::Exited(_, 0) => Ok(()),
            WaitStatus::Exited(_, code) => Err(nix::errno::Errno::from_raw(code)),
            _ => Err(nix::errno::Errno::ECHILD),
        },
    }
}

pub fn read() -> Vec<Reading> {
    TYPES
        .iter()
        .map(|&(name, flag, opt, required)| {
            let present = Path::new("/proc/self/ns").join(name).exists();
            let unshare = Step::new(
                Mechanism::Ns,
                Action::Syscall,
                format!("unshare a {name} namespace in a throwaway child"),
            )
            .arg("flag", format!("{flag:#x}"))
            .shell(format!("unshare {opt} true"))
            .why("Making a namespace in a child that exits at once proves it works and changes nothing.")
            .man("unshare(2)")
            .detail()
            .observe(|| Ok(try_unshare(flag)))
            .unwrap_or(Err(nix::errno::Errno::ECHILD));
            Reading {
                name: name.to_string(),
                required,
                present,
                unshare,
            }
        })
        .collect()
}

pub fn checks() -> Vec<Check> {
    read().iter().map(verdict).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;
    use nix::errno::Errno;

    fn r(name: &str, required: bool, present: bool, unshare: Result<(), Errno>) -> Reading {
        Reading {
            name: name.into(),
            required,
            present,
            unshare,
        }
    }

    #[test]
    fn present_and_unshareable_is_ok() {
        let c = verdict(&r("net", true, true, Ok(())));
        assert_eq!((c.check.as_str(), c.status), ("ns net", Status::Ok));
    }

    #[test]
    fn refused_unshare_names_the_privilege() {
        let c = verdict(&r("mnt", true, true, Err(Errno::EPERM)));
        assert_eq!(c.status, Status::Fail);
        assert!(c.hint.unwrap().contains("CAP_SYS_ADMIN"));
    }

    #[test]
    fn missing_optional_type_is_a_warning() {
        assert_eq!(
            verdict(&r("time", false, false, Err(Errno::EINVAL))).status,
            Status::Warn
        );
        assert_eq!(
            verdict(&r("pid", true, false, Err(Errno::EINVAL))).status,
            Status::Fail
        );
    }
}
