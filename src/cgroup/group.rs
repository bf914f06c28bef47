//! A glassbox cgroup: one directory per hierarchy that carries a
//! controller glassbox uses, all named `<cgroup_parent>/<NAME>`.
//!
//! This is where the layout (v1, v2, hybrid) becomes a list of
//! [`Hierarchy`] values, where names are checked, and where limits are
//! applied, statistics gathered, processes added and the directories
//! removed, each file touched through the tracing layer (emptying a group
//! of its processes is [`super::kill`]).
//!
//! Which hierarchies a group spans is its [`Reach`]: a group made by
//! `cgroup create` has a directory where its limits' controllers live
//! (memory, cpu and cpuacct, cpuset, pids: one tree each on v1); a
//! container's group has one in every hierarchy glassbox knows, on v1 the
//! freezer, devices and blkio trees too, though no flag sets them, so that
//! the freezer can stop the whole group at once and every controller
//! accounts for the container. On v2 both are the one directory. A group
//! opened by name spans the trees of its limits plus every other tree where
//! its directory exists, so a container's group is found, filled, killed
//! and removed whole by the same code.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::cpu::CpuStat;
use super::detect::{self, Layout, Mode, Placement};
use super::memory::MemoryStat;
use super::name::validate_name;
use super::pids::PidsStat;
use super::spec::Limits;
use super::v1::V1;
use super::v2::V2;
use super::{Hierarchy, Made, read};
use crate::host;
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// The controllers a glassbox group uses, and the flags that need each.
pub const USED: &[(&str, &str)] = &[
    ("memory", "--memory/--memory-swap"),
    ("cpu", "--cpu-shares/--cpus"),
    ("cpuacct", "CPU usage accounting"),
    ("cpuset", "--cpuset-cpus"),
    ("pids", "--pids-limit"),
];

/// The v1 controllers a container's group also gets a directory for
/// ([`Reach::Every`]), and what each is for. cgroup v2 offers none of them
/// as a controller: freezing and killing are `cgroup.freeze` and
/// `cgroup.kill` of every group, devices are an eBPF program.
pub const CONTAINER: &[(&str, &str)] = &[
    (
        "freezer",
        "freezing the group: pause, and killing all of it at once",
    ),
    ("devices", "the container's device rules"),
    ("blkio", "block I/O accounting"),
];

/// Which hierarchies a new group gets a directory in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Those of the controllers its limits use ([`USED`]): `cgroup create`.
    Limits,
    /// Every hierarchy glassbox knows ([`USED`] and [`CONTAINER`]), even
    /// with no limit set: a container's group.
    Every,
}

/// Everything `cgroup stat` shows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub name: String,
    /// Each hierarchy's directory and version.
    pub paths: Vec<(String, PathBuf)>,
    pub procs: Vec<u32>,
    pub memory: Option<MemoryStat>,
    pub cpu: Option<CpuStat>,
    pub cpuset: Option<String>,
    pub pids: Option<PidsStat>,
}

/// The hierarchies of the limits' controllers on this layout
/// ([`Reach::Limits`]).
pub fn hierarchies(layout: &Layout) -> Vec<Box<dyn Hierarchy>> {
    reach(layout, Reach::Limits)
}

/// Every hierarchy glassbox knows on this layout ([`Reach::Every`]): where
/// a group of this root may have a directory.
pub fn every_hierarchy(layout: &Layout) -> Vec<Box<dyn Hierarchy>> {
    reach(layout, Reach::Every)
}

/// The hierarchies a group of `reach` spans on this layout, v1 trees in
/// the order of their mount points, then the v2 tree.
pub fn reach(layout: &Layout, reach: Reach) -> Vec<Box<dyn Hierarchy>> {
    let extra: &[(&str, &str)] = match reach {
        Reach::Limits => &[],
        Reach::Every => CONTAINER,
    };
    let mut v1: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut v2: Option<(PathBuf, Vec<String>)> = None;
    for (c, _) in USED.iter().chain(extra) {
        match layout.controller(c) {
            Some(Placement::V1(m)) => v1.entry(m.clone()).or_default().push(c.to_string()),
            Some(Placement::V2(m)) => v2
                .get_or_insert_with(|| (m.clone(), Vec::new()))
                .1
                .push(c.to_string()),
            None => {}
        }
    }
    let mut out: Vec<Box<dyn Hierarchy>> = Vec::new();
    for (mount, controllers) in v1 {
        out.push(Box::new(V1 { mount, controllers }));
    }
    if let Some((mount, controllers)) = v2 {
        out.push(Box::new(V2 { mount, controllers }));
    }
    out
}

/// A write with the full path of its file.
pub type PlannedWrite = (PathBuf, super::Write);

/// A named glassbox cgroup.
pub struct Group {
    pub name: String,
    /// `<cgroup_parent>/<name>`, the path below each hierarchy's mount.
    pub rel: String,
    pub parent: String,
    pub layout: Layout,
    pub trees: Vec<Box<dyn Hierarchy>>,
}

impl Group {
    /// The group `name` of this state root (it may not exist yet).
    pub fn open(root: &Root, name: &str) -> Result<Group> {
        validate_name(name)?;
        let layout = detect::detect()?;
        Ok(Group::with_layout(root, name, layout))
    }

    /// The group `name` as it is on the host: the hierarchies of its
    /// limits, plus every other hierarchy where its directory exists (a
    /// container's group).
    pub fn with_layout(root: &Root, name: &str, layout: Layout) -> Group {
        let parent = root.names().cgroup_parent;
        Group::found(name, parent, layout)
    }

    /// The group `name`, to be made with `reach`.
    pub fn with_reach(root: &Root, name: &str, layout: Layout, reach: Reach) -> Group {
        let parent = root.names().cgroup_parent;
        let rel = format!("{parent}/{name}");
        Group {
            name: name.to_string(),
            rel,
            parent,
            trees: self::reach(&layout, reach),
            layout,
        }
    }

    fn found(name: &str, parent: String, layout: Layout) -> Group {
        let rel = format!("{parent}/{name}");
        let trees = every_hierarchy(&layout)
            .into_iter()
            .filter(|t| {
                t.controllers()
                    .iter()
                    .any(|c| USED.iter().any(|(u, _)| u == c))
                    || t.dir(&rel).is_dir()
            })
            .collect();
        Group {
            name: name.to_string(),
            rel,
            parent,
            trees,
            layout,
        }
    }

    /// `v1`, `v2`, or `v1+v2` when a hybrid host splits the group.
    pub fn versions(&self) -> String {
        let mut v: Vec<&str> = self.trees.iter().map(|t| t.version().as_str()).collect();
        v.dedup();
        v.join("+")
    }

    pub fn exists(&self) -> bool {
        self.trees.iter().any(|t| t.dir(&self.rel).is_dir())
    }

    pub fn dirs(&self) -> Vec<PathBuf> {
        self.trees.iter().map(|t| t.dir(&self.rel)).collect()
    }

    /// Fail, naming the controller and why, when a limit needs a
    /// controller this host does not offer.
    pub fn check_controllers(&self, limits: &Limits) -> Result<()> {
        if self.layout.mode == Mode::None {
            let flags: Vec<&str> = limits
                .controllers()
                .iter()
                .filter_map(|c| USED.iter().find(|(n, _)| n == c).map(|(_, f)| *f))
                .collect();
            let wanted = match limits.controllers().as_slice() {
                [] => "no controller is".to_string(),
                [one] => format!("the {one} controller is not available"),
                many => format!("the {} controllers are not available", many.join(", ")),
            };
            bail!(
                "{wanted} ({}): no cgroup filesystem is mounted (nothing of type cgroup or cgroup2 in \
                 /proc/self/mountinfo): mount one, e.g. `mount -t cgroup2 none /sys/fs/cgroup`",
                if flags.is_empty() {
                    "glassbox needs one".to_string()
                } else {
                    format!("needed by {}", flags.join(", "))
                }
            );
        }
        for c in limits.controllers() {
            if self.layout.controller(c).is_none() {
                let flag = USED
                    .iter()
                    .find(|(n, _)| *n == c)
                    .map(|(_, f)| *f)
                    .unwrap_or("");
                let v2 = match &self.layout.v2_mount {
                    Some(m) => format!(
                        "the v2 tree at {} does not list it in cgroup.controllers",
                        m.display()
                    ),
                    None => "there is no v2 tree".to_string(),
                };
                bail!(
                    "the {c} controller is not available on this host ({}: no v1 hierarchy is mounted with it and {v2}), \
                     so {flag} cannot be enforced; mount or enable the {c} controller, or leave out {flag}",
                    self.layout.mode.describe()
                );
            }
        }
        Ok(())
    }

    /// Make the group's directories in every hierarchy. The first
    /// hierarchy's `mkdir` decides: EEXIST there is [`Made::Existed`] and
    /// nothing is touched; otherwise the group is this command's, and the
    /// other hierarchies follow (a directory already there is taken into
    /// the group). If one of them fails, the directories of the group are
    /// removed again before the error is returned; parents are left to
    /// the caller, which knows which of them it made.
    pub fn create(&self) -> Result<Made> {
        let Some((first, rest)) = self.trees.split_first() else {
            bail!(
                "no cgroup hierarchy on this host carries memory, cpu, cpuset or pids: nothing to create the group in"
            );
        };
        if first.create(&self.rel)? == Made::Existed {
            let dir = first.dir(&self.rel);
            if !dir.is_dir() {
                bail!(
                    "cannot create cgroup {:?}: {} is a file the kernel made (an interface file of the parent cgroup), not a group; choose another name",
                    self.name,
                    dir.display()
                );
            }
            return Ok(Made::Existed);
        }
        for t in rest {
            if let Err(e) = t.create(&self.rel) {
                return Err(match self.remove_dirs() {
                    Ok(()) => e,
                    Err(r) => e.context(format!(
                        "and removing the half-made cgroup {:?} failed too: {r:#}",
                        self.name
                    )),
                });
            }
        }
        Ok(Made::New)
    }

    /// Plan the writes for `limits` in every hierarchy: (path, write)
    /// pairs. `fresh`: the group was just made (or is planned), so its
    /// knobs hold the kernel's defaults and none is read first.
    pub fn plan(&self, limits: &Limits, fresh: bool) -> Result<(Vec<PlannedWrite>, Vec<String>)> {
        let mut out = Vec::new();
        let mut warnings = Vec::new();
        for t in &self.trees {
            let (w, warn) = t.plan(&self.rel, limits, fresh)?;
            out.extend(w.into_iter().map(|w| (t.dir(&self.rel).join(&w.file), w)));
            for x in warn {
                if !warnings.contains(&x) {
                    warnings.push(x);
                }
            }
        }
        Ok((out, warnings))
    }

    /// Apply limits; each write is one traced step naming the file on
    /// both versions. `fresh` as for [`Group::plan`]. Returns warnings
    /// about what cannot be enforced here (no swap accounting).
    pub fn apply(&self, limits: &Limits, fresh: bool) -> Result<Vec<String>> {
        let (writes, warnings) = self.plan(limits, fresh)?;
        for (path, w) in writes {
            let other = if self
                .trees
                .iter()
                .any(|t| t.version() == super::Version::V2 && path.starts_with(t.mount()))
            {
                format!("v2 {} · v1 {}", w.file, w.other)
            } else {
                format!("v1 {} · v2 {}", w.file, w.other)
            };
            let mut step = host::write_file_step(Mechanism::Cgroup, &path, &w.value)
                .arg("controller", w.controller)
                .arg("knob", &other)
                .why(format!("{} ({other})", w.why))
                .man("cgroups(7)");
            if let Some(note) = &w.note {
                step.summary = format!("{note}: {}", step.summary);
                step = step.arg("flag", note);
            }
            step.run(|| {
                std::fs::write(&path, &w.value).with_context(|| {
                    format!(
                        "write {:?} to {} (the kernel refused the value)",
                        w.value,
                        path.display()
                    )
                })
            })?;
        }
        Ok(warnings)
    }

    /// Pids of the processes in the group (union over hierarchies).
    pub fn procs(&self) -> Result<Vec<u32>> {
        let mut pids = Vec::new();
        for t in &self.trees {
            let p = t.dir(&self.rel).join("cgroup.procs");
            if !p.exists() {
                continue;
            }
            for line in read(&p)?.lines() {
                if let Ok(pid) = line.trim().parse::<u32>()
                    && !pids.contains(&pid)
                {
                    pids.push(pid);
                }
            }
        }
        pids.sort();
        Ok(pids)
    }

    /// Move a process into the group, in every hierarchy.
    pub fn add(&self, pid: u32) -> Result<()> {
        for t in &self.trees {
            let p = t.dir(&self.rel).join("cgroup.procs");
            host::write_file(
                Mechanism::Cgroup,
                &p,
                &pid.to_string(),
                "A process joins a cgroup when its pid is written to cgroup.procs; its children are born there.",
            )
            .with_context(|| format!("move process {pid} into cgroup {}", self.name))?;
        }
        Ok(())
    }

    /// Everything `cgroup stat` shows.
    pub fn stats(&self) -> Result<Stats> {
        if !self.exists() {
            bail!(
                "no cgroup named {:?}: create it with `glassbox cgroup create {}`",
                self.name,
                self.name
            );
        }
        let mut s = Stats {
            name: self.name.clone(),
            paths: self
                .trees
                .iter()
                .map(|t| {
                    (
                        format!("{} ({})", t.version().as_str(), t.controllers().join(",")),
                        t.dir(&self.rel),
                    )
                })
                .collect(),
            procs: self.procs()?,
            ..Stats::default()
        };
        for t in &self.trees {
            if t.dir(&self.rel).is_dir() {
                t.read_stats(&self.rel, &mut s)?;
            }
        }
        Ok(s)
    }

    /// The OOM kill counter (0 when there is no memory controller).
    pub fn oom_kills(&self) -> u64 {
        self.stats()
            .ok()
            .and_then(|s| s.memory)
            .map(|m| m.oom_kill)
            .unwrap_or(0)
    }

    /// The pids in the group and in every group below it, in every
    /// hierarchy (each `cgroup.procs` read as a traced step).
    pub fn subtree_procs(&self) -> Result<Vec<u32>> {
        let mut pids = self.procs()?;
        for child in self.descendants() {
            for pid in self.other(&child).procs()? {
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
        pids.sort();
        Ok(pids)
    }

    /// Child groups (names relative to this state root), deepest first.
    pub fn descendants(&self) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.trees {
            walk(&t.dir(&self.rel), &self.name, &mut out);
        }
        out.sort_by_key(|n| std::cmp::Reverse(n.matches('/').count()));
        out.dedup();
        out
    }

    /// Another group of the same root and layout (a child found below
    /// this one); its name is not checked, since it is already there.
    pub fn other(&self, name: &str) -> Group {
        Group::found(name, self.parent.clone(), self.layout.clone())
    }

    /// Kill every process in the group and in its children
    /// ([`Group::kill`]), then remove their directories, and glassbox's
    /// parent if no group is left in it. "Already gone" is success.
    pub fn destroy(&self) -> Result<()> {
        self.kill()?;
        self.remove_dirs()
    }

    /// Remove the group's directories (children first) and, when it is
    /// empty, the glassbox parent. "Already gone" is success.
    pub fn remove_dirs(&self) -> Result<()> {
        let mut errors = Vec::new();
        // What this command removed, or plans to remove under --dry-run
        // (where the directories stay): glassbox's parent is empty without them.
        let mut gone = Vec::new();
        for t in &self.trees {
            let mut dirs: Vec<PathBuf> = Vec::new();
            let base = t.dir(&self.rel);
            let mut children = Vec::new();
            walk(&base, "", &mut children);
            children.sort_by_key(|n| std::cmp::Reverse(n.matches('/').count()));
            for c in children {
                dirs.push(base.join(c.trim_start_matches('/')));
            }
            dirs.push(base);
            for d in dirs {
                if !d.exists() {
                    continue;
                }
                match rmdir(&d) {
                    Ok(()) => gone.push(d),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
        }
        // glassbox's own parent goes with its last group.
        if let Err(e) = self.remove_parent_without(&gone) {
            errors.push(format!("{e:#}"));
        }
        if !errors.is_empty() {
            bail!("{}", errors.join("; "));
        }
        Ok(())
    }

    /// Remove glassbox's parent cgroup of this root from every hierarchy
    /// where no group is left in it.
    pub fn remove_parent_if_empty(&self) -> Result<()> {
        self.remove_parent_without(&[])
    }

    /// [`Group::remove_parent_if_empty`], counting the directories in
    /// `gone` as removed already.
    fn remove_parent_without(&self, gone: &[PathBuf]) -> Result<()> {
        let mut errors = Vec::new();
        for t in every_hierarchy(&self.layout) {
            let p = t.dir(&self.parent);
            if p.is_dir()
                && !child_dirs(&p).iter().any(|c| !gone.contains(c))
                && let Err(e) = rmdir(&p)
            {
                errors.push(format!("{e:#}"));
            }
        }
        if !errors.is_empty() {
            bail!("{}", errors.join("; "));
        }
        Ok(())
    }
}

pub(crate) fn rmdir(d: &std::path::Path) -> Result<()> {
    Step::new(Mechanism::Cgroup, Action::Filesystem, format!("remove cgroup {}", d.display()))
        .arg("path", d.display())
        .shell(format!("rmdir {}", d.display()))
        .why("Removing the directory removes the cgroup; the kernel refuses while a process or a child group is left.")
        .run(|| match std::fs::remove_dir(d) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("rmdir {}", d.display())),
        })
}

pub(crate) fn has_child_dir(p: &std::path::Path) -> bool {
    !child_dirs(p).is_empty()
}

/// The directories directly below `p` (the child groups).
fn child_dirs(p: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Collect child directories of `dir` as `prefix/child` names.
fn walk(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let name = format!("{prefix}/{}", e.file_name().to_string_lossy());
            walk(&e.path(), &name, out);
            out.push(name);
        }
    }
}

/// Every group of this state root (names relative to the root's parent
/// cgroup), sorted, parents before children.
pub fn list(root: &Root, layout: &Layout) -> Vec<String> {
    let parent = root.names().cgroup_parent;
    let mut out = Vec::new();
    for t in every_hierarchy(layout) {
        walk(&t.dir(&parent), "", &mut out);
    }
    let mut out: Vec<String> = out
        .into_iter()
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::mountinfo;

    const HYBRID: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_uses_v1_for_what_v1_holds() {
        let l = detect::layout_from(&mountinfo::parse(HYBRID), |_| Some("hugetlb\n".into()));
        let t = hierarchies(&l);
        assert!(t.iter().all(|t| t.version() == super::super::Version::V1));
        assert_eq!(t.len(), 4);
        let root = Root::new(Some(std::path::Path::new("/tmp/x"))).unwrap();
        let g = Group::with_layout(&root, "lab", l);
        assert_eq!(g.versions(), "v1");
        let limits = Limits {
            cpuset_cpus: Some("0".into()),
            ..Limits::default()
        };
        let e = g.check_controllers(&limits).unwrap_err().to_string();
        assert!(e.contains("cpuset controller is not available"), "{e}");
        assert!(e.contains("--cpuset-cpus"), "{e}");
    }

    #[test]
    fn unified_is_one_v2_tree() {
        let mi = "30 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let l = detect::layout_from(&mountinfo::parse(mi), |_| {
            Some("cpuset cpu io memory pids\n".into())
        });
        let t = hierarchies(&l);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].controllers(), ["memory", "cpu", "cpuset", "pids"]);
    }
}
