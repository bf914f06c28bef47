//! `glassbox doctor`: can this machine run containers, and did glassbox
//! leave anything behind?
//!
//! Each file here is one group of checks, split in two halves: a *reading*
//! of the host (uname, `/proc/self/ns`, `/proc/self/mountinfo`, a test
//! overlay mount, a test bridge over netlink, `nft list tables`, ...) and a
//! pure *verdict* that turns the reading into a [`Check`]: ok, warn, fail
//! or info, with what to do about a warning or a failure. The verdicts are
//! unit-tested with fixed readings; the readings are what a student could
//! do by hand (every one that touches the host is a traced step, so `-v`
//! shows the shell line).
//!
//! A failure is something that stops containers from working: not root, no
//! overlayfs, no usable memory or cpu controller, no netlink, no firewall
//! tool. Read `capabilities(7)`, `namespaces(7)`, `cgroups(7)`,
//! `overlayfs` in the kernel docs, `rtnetlink(7)`, `nft(8)`.

pub mod cgroups;
pub mod firewall;
pub mod kernel;
pub mod links;
pub mod namespaces;
pub mod overlay;
pub mod privileges;
pub mod report;
pub mod state;

use serde::Serialize;

use crate::state::Root;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something is worth knowing or fixing.
    Warn,
    /// Containers will not work until this is fixed.
    Fail,
    /// A fact about the host, neither good nor bad.
    Info,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Info => "info",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short name: `privileges`, `ns net`, `cgroup memory`, ...
    pub check: String,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do (for warn and fail).
    pub hint: Option<String>,
}

impl Check {
    pub fn ok(check: &str, detail: impl Into<String>) -> Check {
        Check::new(check, Status::Ok, detail, None)
    }

    pub fn info(check: &str, detail: impl Into<String>) -> Check {
        Check::new(check, Status::Info, detail, None)
    }

    pub fn warn(check: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check::new(check, Status::Warn, detail, Some(hint.into()))
    }

    pub fn fail(check: &str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check::new(check, Status::Fail, detail, Some(hint.into()))
    }

    fn new(check: &str, status: Status, detail: impl Into<String>, hint: Option<String>) -> Check {
        Check {
            check: check.to_string(),
            status,
            detail: detail.into(),
            hint,
        }
    }
}

/// What a check that changes the host says under `--dry-run`.
pub fn planned(check: &str, what: &str) -> Check {
    Check::info(check, format!("not run (--dry-run): would {what}"))
}

/// Run every check, in the order they are printed. Under `--dry-run` the
/// checks that would change the host (test mount, test links) are only
/// planned; the read-only ones still run.
pub fn run_all(root: &Root) -> Vec<Check> {
    // Look at the state dirs before the overlay test creates them.
    let dirs = state::dirs_check(root);
    let modes = state::modes_check(root);
    let mut checks = vec![privileges::check(), kernel::check()];
    checks.extend(namespaces::checks());
    checks.extend(cgroups::checks());
    checks.push(overlay::check(root));
    checks.extend(links::checks(root));
    checks.extend(firewall::checks());
    checks.push(firewall::ip_forward());
    checks.push(dirs);
    checks.push(modes);
    checks.push(state::leftovers_check(root));
    checks.push(state::unrecorded_check(root));
    checks
}

/// Did any check fail? (`glassbox doctor` exits 1 then.)
pub fn any_failed(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Fail)
}

/// Is this error a permission problem (EPERM or EACCES anywhere in the chain)?
pub fn is_permission_error(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
            || e.downcast_ref::<nix::errno::Errno>()
                .is_some_and(|n| matches!(n, nix::errno::Errno::EPERM | nix::errno::Errno::EACCES))
    })
}
