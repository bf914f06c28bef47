//! cgroups: limits on memory, CPU and process counts for a group of
//! processes, on cgroup v1, v2 and hybrid hosts. Read `cgroups(7)`.
//!
//! A cgroup is a directory in a cgroup filesystem; its limits are files
//! you write, its statistics files you read, and a process joins it when
//! its pid is written to `cgroup.procs`. On v1 every controller has its
//! own tree (`/sys/fs/cgroup/memory/...`, `/sys/fs/cgroup/cpu/...`), so a
//! group is one directory per tree; on v2 there is one tree and one
//! directory, and a parent hands controllers to its children through
//! `cgroup.subtree_control`. The [`Hierarchy`] trait hides that difference:
//! [`v1::V1`] and [`v2::V2`] implement it, and a [`Group`] holds one
//! hierarchy per mount that carries a controller glassbox uses (a hybrid
//! host gets v1 for the controllers v1 holds).
//!
//! Every glassbox group lives under `root.names().cgroup_parent` in every
//! tree, so two state roots never share a cgroup.

pub mod cpu;
pub mod cpuset;
pub mod detect;
pub mod freezer;
pub mod group;
pub mod human;
pub mod kill;
pub mod kind;
pub mod lifecycle;
pub mod memory;
pub mod name;
pub mod ops;
pub mod pids;
pub mod process;
pub mod recover;
pub mod spec;
pub mod usage;
pub mod v1;
pub mod v2;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Serialize, Serializer};

pub use group::{Group, Reach, Stats};
pub use kind::{CGROUP_KIND, KIND_NAME};
pub use name::validate_name;

/// Which cgroup version a hierarchy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// A limit that may be `max` (none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Max {
    #[default]
    Max,
    Value(u64),
}

impl From<Option<u64>> for Max {
    fn from(v: Option<u64>) -> Max {
        v.map(Max::Value).unwrap_or(Max::Max)
    }
}

impl fmt::Display for Max {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Max::Max => f.write_str("max"),
            Max::Value(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for Max {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Max::Max => s.serialize_str("max"),
            Max::Value(v) => s.serialize_u64(*v),
        }
    }
}

impl Max {
    /// Parse `max` or a number.
    pub fn parse(text: &str) -> Max {
        text.trim().parse().map(Max::Value).unwrap_or(Max::Max)
    }
}

/// One knob to set: a value for a file of the group, and the file that
/// holds the same knob in the other cgroup version (for `--explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub controller: &'static str,
    pub file: String,
    pub value: String,
    pub other: String,
    pub why: &'static str,
    /// The Docker flag and any conversion, e.g. `--cpu-shares 512 -> cpu.weight 59`.
    pub note: Option<String>,
}

impl Write {
    pub fn new(
        controller: &'static str,
        file: &str,
        value: String,
        other: &str,
        why: &'static str,
    ) -> Write {
        Write {
            controller,
            file: file.into(),
            value,
            other: other.into(),
            why,
            note: None,
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Write {
        self.note = Some(note.into());
        self
    }
}

/// What the `mkdir` of a group's own directory found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// This command made it.
    New,
    /// Something was there already (EEXIST): another command's group,
    /// or a file of the kernel's.
    Existed,
}

/// One mounted cgroup tree as glassbox drives it: v1 (one tree per
/// controller or group of controllers) or v2 (one tree for all).
pub trait Hierarchy {
    fn version(&self) -> Version;
    /// Where the tree is mounted (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup`).
    fn mount(&self) -> &Path;
    /// The controllers glassbox uses through this tree.
    fn controllers(&self) -> &[String];
    /// The group's directory in this tree.
    fn dir(&self, rel: &str) -> PathBuf {
        self.mount().join(rel)
    }
    fn holds(&self, controller: &str) -> bool {
        self.controllers().iter().any(|c| c == controller)
    }
    /// Make the group's directory, and its parents, ready for its
    /// controllers (v1: copy the cpuset; v2: enable the controllers in
    /// each parent's `cgroup.subtree_control`). Parents that exist are
    /// used as they are; the group's own directory is made by one `mkdir`
    /// whose EEXIST is the answer [`Made::Existed`] (nothing else is
    /// touched then).
    fn create(&self, rel: &str) -> Result<Made>;
    /// The writes that apply `limits` through this tree's controllers,
    /// plus warnings about what cannot be enforced. `fresh`: the group was
    /// just made (or is planned to be), so its knobs hold the kernel's
    /// defaults and none needs reading first.
    fn plan(
        &self,
        rel: &str,
        limits: &spec::Limits,
        fresh: bool,
    ) -> Result<(Vec<Write>, Vec<String>)>;
    /// Fill in the statistics this tree's controllers report.
    fn read_stats(&self, rel: &str, stats: &mut Stats) -> Result<()>;
    /// Whether swap is accounted (and so can be limited) in this tree.
    fn swap_accounting(&self, rel: &str) -> bool;
}

/// Read a file of a cgroup as a trimmed string (traced at -vv, the read
/// timed by its step, the value shown once read).
pub(crate) fn read(path: &Path) -> Result<String> {
    use anyhow::Context;
    crate::trace::Step::new(
        crate::trace::Mechanism::Cgroup,
        crate::trace::Action::FileRead,
        format!("read {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("cat {}", path.display()))
    .detail()
    .observe_shown(
        || std::fs::read_to_string(path).with_context(|| format!("read {}", path.display())),
        |mut step, text| {
            let shown = text.trim().replace('\n', "; ");
            step.summary = format!("{} = {shown}", step.summary);
            step.arg("value", shown)
        },
    )
    .map(|t| t.trim().to_string())
}

/// Read a number, if the file exists and holds one.
pub(crate) fn read_u64(path: &Path) -> Option<u64> {
    if !path.exists() {
        return None;
    }
    read(path).ok()?.parse().ok()
}

/// Read a file of a cgroup, if it exists and can be read.
pub(crate) fn read_if_exists(path: &Path) -> Option<String> {
    if path.exists() { read(path).ok() } else { None }
}

/// The writes of every controller `h` holds, in a fixed order (memory,
/// cpu, cpuset, pids), plus the memory controller's warnings. `memsw` is
/// the group's current v1 `memory.memsw.limit_in_bytes`, asked only when
/// the memory controller is there.
pub(crate) fn controller_writes<H: Hierarchy + ?Sized>(
    h: &H,
    rel: &str,
    l: &spec::Limits,
    memsw: impl FnOnce() -> Option<u64>,
) -> (Vec<Write>, Vec<String>) {
    let v = h.version();
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    if h.holds("memory") {
        let (w, warn) = memory::writes(v, l, h.swap_accounting(rel), memsw());
        out.extend(w);
        warnings.extend(warn);
    }
    if h.holds("cpu") {
        out.extend(cpu::writes(v, l));
    }
    if h.holds("cpuset") {
        out.extend(cpuset::writes(v, l));
    }
    if h.holds("pids") {
        out.extend(pids::writes(v, l));
    }
    (out, warnings)
}

/// `mkdir` of a cgroup directory: the kernel fills it with interface files.
pub(crate) fn mkdir(dir: &Path) -> Result<()> {
    use anyhow::Context;
    crate::trace::Step::new(
        crate::trace::Mechanism::Cgroup,
        crate::trace::Action::Filesystem,
        format!("create cgroup {}", dir.display()),
    )
    .arg("path", dir.display())
    .shell(format!("mkdir {}", dir.display()))
    .why("A cgroup is a directory: mkdir makes one, and the kernel fills it with its controllers' files.")
    .man("cgroups(7)")
    .run(|| std::fs::create_dir(dir).with_context(|| format!("mkdir {}", dir.display())))
}

/// Did a step fail because the path already existed (EEXIST)?
pub(crate) fn is_eexist(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists)
    })
}

/// Make one parent directory of a group (`lab` of `lab/a`, or glassbox's
/// own parent), unless it is there. `Ok(true)` when this call made it (or,
/// under `--dry-run`, plans to). EEXIST here is no error: parents are
/// shared by every group below them.
pub(crate) fn mkdir_parent(dir: &Path) -> Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    match mkdir(dir) {
        Ok(()) => Ok(true),
        Err(e) if is_eexist(&e) && dir.is_dir() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Make a group's own directory: `Made::Existed` on EEXIST, which decides
/// between two commands that create the same group at once.
pub(crate) fn mkdir_group(dir: &Path) -> Result<Made> {
    match mkdir(dir) {
        Ok(()) => Ok(Made::New),
        Err(e) if is_eexist(&e) => Ok(Made::Existed),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `read` used to read the file first and only then run an empty
    /// observe step, which timed nothing: a read that takes 200 ms was
    /// reported as taking none.
    #[test]
    fn a_read_step_times_the_read_and_shows_the_value() {
        use nix::sys::stat::Mode;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("slow");
        nix::unistd::mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR).unwrap();
        let json = dir.path().join("trace.jsonl");
        crate::trace::init(crate::trace::Config::default(), Some(&json)).unwrap();
        // Opening a FIFO to read waits for its writer.
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(200));
                std::fs::write(&fifo, "42\n").unwrap();
            })
        };
        assert_eq!(read(&fifo).unwrap(), "42");
        writer.join().unwrap();
        let text = std::fs::read_to_string(&json).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(&*fifo.to_string_lossy()))
            .unwrap_or_else(|| panic!("no step for the read in {text}"));
        let step: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(step["action"], "file-read");
        assert_eq!(
            step["summary"],
            format!("read {} = 42", fifo.display()).as_str()
        );
        assert_eq!(step["args"]["value"], "42");
        let us = step["duration_us"].as_u64().unwrap();
        assert!(us >= 150_000, "the read step took {us} µs");
    }
}
