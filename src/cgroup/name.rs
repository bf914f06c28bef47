//! Names of glassbox cgroups.
//!
//! A cgroup is a directory in a cgroup filesystem, and it shares that
//! directory with the files the kernel puts there: v1's `tasks`,
//! `notify_on_release` and `release_agent`, and every `cgroup.*` and
//! `<controller>.*` interface file (`memory.max`, `cpu.shares`, ...). A
//! group named like one of those files is no group at all: `mkdir` fails
//! with EEXIST, or (worse) a check that "the path exists" takes the file
//! for the group. So each part of a name must be a plain path component
//! that can never be such a file: it starts with a letter or a digit, holds
//! only letters, digits, `-`, `_`, `.` and `@`, is at most `NAME_MAX`
//! (255) bytes, and is neither a dot-less v1 interface file nor of the
//! form `<controller>.<anything>` for any controller Linux has (v1 and v2
//! names). Docker-like names (`web`, `web-1`, `my.app`) are fine; parts
//! separated by `/` nest groups (`lab/a`). The kernel has the last word:
//! a name that still meets a file there is refused when `mkdir` says
//! EEXIST on something that is not a directory. Read `cgroups(7)`.

use anyhow::{Result, bail};

/// The longest file name the kernel takes (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// The longest whole name (well below `PATH_MAX` once the mount point
/// and glassbox's parent are in front).
pub const MAX_LEN: usize = 1024;

/// The interface files v1 puts in every cgroup directory that carry no
/// controller prefix.
pub const V1_CORE_FILES: &[&str] = &["tasks", "notify_on_release", "release_agent"];

/// The prefix of every other interface file: the cgroup core (`cgroup.`)
/// and each controller, under its v1 and its v2 name (`blkio`/`io`), plus
/// the pressure files (`irq.pressure`) and the debug controller.
pub const FILE_PREFIXES: &[&str] = &[
    "cgroup",
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "io",
    "blkio",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "irq",
    "dmem",
    "debug",
];

/// Check a group name; the error names the rule that failed and what to do.
pub fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() {
        bail!("cgroup name is empty: give a name such as lab or lab/a");
    }
    if name.len() > MAX_LEN {
        bail!(
            "cgroup name is too long ({} bytes): a name may have at most {MAX_LEN} bytes",
            name.len()
        );
    }
    if name.starts_with('/') {
        bail!(
            "cgroup name {name:?} is absolute: give a name relative to glassbox's own cgroup, such as lab/a"
        );
    }
    for part in name.split('/') {
        validate_part(name, part)?;
    }
    Ok(())
}

fn validate_part(name: &str, part: &str) -> Result<()> {
    if part.is_empty() {
        bail!("cgroup name {name:?} has an empty part: no leading, trailing or double slashes");
    }
    if part == ".." || part == "." {
        bail!(
            "cgroup name {name:?} contains {part:?}: a name may not leave or point into glassbox's own cgroup"
        );
    }
    if part.len() > NAME_MAX {
        bail!(
            "cgroup name {name:?} has a part of {} bytes: each part is a directory name, at most {NAME_MAX} bytes (NAME_MAX)",
            part.len()
        );
    }
    if !part
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    {
        bail!(
            "cgroup name {name:?} has a character other than letters, digits, '-', '_', '.', '@' and '/'"
        );
    }
    if !part.as_bytes()[0].is_ascii_alphanumeric() {
        bail!(
            "cgroup name {name:?}: the part {part:?} must start with a letter or a digit (as a Docker name does)"
        );
    }
    if V1_CORE_FILES.contains(&part) {
        bail!(
            "cgroup name {name:?} is the name of a cgroup interface file ({part}, which cgroup v1 puts in every group): choose another name"
        );
    }
    if let Some((prefix, _)) = part.split_once('.')
        && FILE_PREFIXES.contains(&prefix)
    {
        bail!(
            "cgroup name {name:?} looks like a cgroup interface file ({part}: the kernel names the files of the {prefix} {} {prefix}.*): choose another name",
            if prefix == "cgroup" {
                "core"
            } else {
                "controller"
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_like_and_nested_names_are_fine() {
        for ok in [
            "lab",
            "lab/a",
            "web-1",
            "a.b",
            "x_y",
            "my.app",
            "web.1",
            "0",
            "Tasks",
            "memory",
            "cpu",
            "lab@1",
            "cgroupx",
            "memoryhog.1",
        ] {
            validate_name(ok).unwrap();
        }
        validate_name(&"a".repeat(NAME_MAX)).unwrap();
    }

    #[test]
    fn what_could_be_a_file_or_leave_the_parent_is_refused() {
        let long = "a".repeat(NAME_MAX + 1);
        let nested_long = format!("lab/{long}");
        let too_long = ["abcdefgh"; 200].join("/");
        for (bad, why) in [
            ("", "empty"),
            ("/", "absolute"),
            ("/sys/fs/cgroup/x", "absolute"),
            (".", "contains \".\""),
            ("..", "contains \"..\""),
            ("../x", "\"..\""),
            ("lab/../x", "\"..\""),
            ("lab/.", "\".\""),
            ("lab//a", "empty part"),
            ("lab/", "empty part"),
            ("a b", "character"),
            ("a\nb", "character"),
            ("a%d", "character"),
            ("é", "character"),
            ("-x", "start with a letter or a digit"),
            (".hidden", "start with a letter or a digit"),
            ("_x", "start with a letter or a digit"),
            ("tasks", "interface file (tasks"),
            ("lab/tasks", "interface file (tasks"),
            ("notify_on_release", "interface file"),
            ("release_agent", "interface file"),
            ("cgroup.procs", "interface file (cgroup.procs"),
            ("cgroup.anything", "interface file"),
            ("memory.max", "interface file (memory.max"),
            ("memory.limit_in_bytes", "interface file"),
            ("cpu.shares", "interface file"),
            ("cpuset.cpus", "interface file"),
            ("pids.max", "interface file"),
            ("io.weight", "interface file"),
            ("blkio.weight", "interface file"),
            ("devices.allow", "interface file"),
            ("freezer.state", "interface file"),
            ("net_cls.classid", "interface file"),
            ("hugetlb.2MB.limit_in_bytes", "interface file"),
            ("irq.pressure", "interface file"),
            ("lab/memory.high", "interface file"),
            (&long, "at most 255 bytes"),
            (&nested_long, "at most 255 bytes"),
            (&too_long, "too long"),
        ] {
            let e = validate_name(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
