//! The cpuset controller: which CPUs (and memory nodes) the group may run on.
//!
//! v1 `cpuset.cpus` and `cpuset.mems` start empty in a new group, and a
//! task cannot join until both are set, so glassbox copies the parent's
//! values first. v2 `cpuset.cpus` empty means "the parent's". Read
//! `cpuset(7)`.

use super::spec::Limits;
use super::{Version, Write};

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
