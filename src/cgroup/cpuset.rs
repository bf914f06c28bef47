//! The cpuset controller: which CPUs (and memory nodes) the group may run on.
//!
//! v1 `cpuset.cpus` and `cpuset.mems` start empty in a new group, and a
//! task cannot join until both are set, so glassbox copies the parent's
//! values first. v2 `cpuset.cpus` empty means "the parent's". Read
//! `cpuset(7)`.

use std::path::Path;

use anyhow::{Context, Result};

use super::spec::Limits;
use super::{Version, Write};
use crate::trace::{Action, Mechanism, Step};

const WHY: &str =
    "The scheduler runs the group's tasks only on these CPUs (Docker's --cpuset-cpus).";

pub fn writes(v: Version, l: &Limits) -> Vec<Write> {
    let Some(cpus) = &l.cpuset_cpus else {
        return Vec::new();
    };
    let _ = v;
    let other = "cpuset.cpus";
    vec![
        Write::new("cpuset", "cpuset.cpus", cpus.clone(), other, WHY)
            .note(format!("--cpuset-cpus {cpus}")),
    ]
}

/// Copy a v1 parent's `cpuset.cpus` or `cpuset.mems` (`from`) into a new
/// group (`to`), as `cat FROM > TO` does. One step: under `--dry-run` the
/// parent may itself be only planned, so its value is read when the copy
/// is made, never before.
pub(crate) fn inherit(from: &Path, to: &Path) -> Result<()> {
    Step::new(
        Mechanism::Cgroup,
        Action::FileWrite,
        format!("copy {} to {}", from.display(), to.display()),
    )
    .arg("from", from.display())
    .arg("path", to.display())
    .shell(format!("cat {} > {}", from.display(), to.display()))
    .why("A new v1 cpuset is empty and accepts no task until it gets CPUs and memory nodes: copy the parent's.")
    .man("cpuset(7)")
    .run(|| {
        let value = std::fs::read_to_string(from)
            .with_context(|| format!("read {}", from.display()))?;
        std::fs::write(to, value.trim())
            .with_context(|| format!("write {:?} to {}", value.trim(), to.display()))
    })
}
