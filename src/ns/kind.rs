//! The eight kinds of Linux namespace, and what a process description asks
//! of each: a new one, an existing one joined by path, or the host's.
//!
//! Each kind wraps one piece of global state (hostname, pids, mounts, ...)
//! so that processes inside see their own copy. The names are those of
//! `/proc/PID/ns/NAME`; read `namespaces(7)`.

use std::path::PathBuf;

/// A kind of namespace, named as in `/proc/PID/ns/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NsType {
    Cgroup,
    Ipc,
    Mnt,
    Net,
    Pid,
    Time,
    User,
    Uts,
}

impl NsType {
    /// Every kind, in the order `lsns` sorts them.
    pub const ALL: [NsType; 8] = [
        NsType::Cgroup,
        NsType::Ipc,
        NsType::Mnt,
        NsType::Net,
        NsType::Pid,
        NsType::Time,
        NsType::User,
        NsType::Uts,
    ];

    /// The order in which `setns(2)` joins them: the user namespace first
    /// (it grants the capabilities the others need), the mount namespace
    /// last but one (joining it changes the root the other paths live in).
    pub const JOIN_ORDER: [NsType; 8] = [
        NsType::User,
        NsType::Cgroup,
        NsType::Ipc,
        NsType::Uts,
        NsType::Net,
        NsType::Pid,
        NsType::Time,
        NsType::Mnt,
    ];

    /// The file name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsType::Cgroup => "cgroup",
            NsType::Ipc => "ipc",
            NsType::Mnt => "mnt",
            NsType::Net => "net",
            NsType::Pid => "pid",
            NsType::Time => "time",
            NsType::User => "user",
            NsType::Uts => "uts",
        }
    }

    /// For `pid` and `time`, `/proc/PID/ns/` also has a `*_for_children`
    /// link: the namespace the process's next child will be born in.
    pub fn for_children_name(self) -> Option<&'static str> {
        match self {
            NsType::Pid => Some("pid_for_children"),
            NsType::Time => Some("time_for_children"),
            _ => None,
        }
    }

    /// The `CLONE_NEW*` flag of `clone(2)`, `unshare(2)` and `setns(2)`.
    pub fn clone_flag(self) -> u64 {
        (match self {
            NsType::Cgroup => libc::CLONE_NEWCGROUP,
            NsType::Ipc => libc::CLONE_NEWIPC,
            NsType::Mnt => libc::CLONE_NEWNS,
            NsType::Net => libc::CLONE_NEWNET,
            NsType::Pid => libc::CLONE_NEWPID,
            NsType::Time => libc::CLONE_NEWTIME,
            NsType::User => libc::CLONE_NEWUSER,
            NsType::Uts => libc::CLONE_NEWUTS,
        }) as u64
    }

    /// The flag's name, for traces.
    pub fn clone_flag_name(self) -> &'static str {
        match self {
            NsType::Cgroup => "CLONE_NEWCGROUP",
            NsType::Ipc => "CLONE_NEWIPC",
            NsType::Mnt => "CLONE_NEWNS",
            NsType::Net => "CLONE_NEWNET",
            NsType::Pid => "CLONE_NEWPID",
            NsType::Time => "CLONE_NEWTIME",
            NsType::User => "CLONE_NEWUSER",
            NsType::Uts => "CLONE_NEWUTS",
        }
    }

    /// The option of `unshare(1)` that makes one.
    pub fn unshare_opt(self) -> &'static str {
        match self {
            NsType::Cgroup => "--cgroup",
            NsType::Ipc => "--ipc",
            NsType::Mnt => "--mount",
            NsType::Net => "--net",
            NsType::Pid => "--pid",
            NsType::Time => "--time",
            NsType::User => "--user",
            NsType::Uts => "--uts",
        }
    }

    /// The short option of `nsenter(1)` that joins one.
    pub fn nsenter_opt(self) -> &'static str {
        match self {
            NsType::Cgroup => "-C",
            NsType::Ipc => "-i",
            NsType::Mnt => "-m",
            NsType::Net => "-n",
            NsType::Pid => "-p",
            NsType::Time => "-T",
            NsType::User => "-U",
            NsType::Uts => "-u",
        }
    }

    /// The long option of `nsenter(1)` that joins one by path.
    pub fn nsenter_long(self) -> &'static str {
        match self {
            NsType::Mnt => "--mount",
            _ => self.unshare_opt(),
        }
    }

    /// What the namespace isolates, in a few words.
    pub fn isolates(self) -> &'static str {
        match self {
            NsType::Cgroup => "the view of the cgroup tree",
            NsType::Ipc => "System V IPC objects and POSIX message queues",
            NsType::Mnt => "the list of mounts",
            NsType::Net => "network devices, addresses, routes, ports, firewall",
            NsType::Pid => "process ids",
            NsType::Time => "the boot-time and monotonic clocks",
            NsType::User => "user and group ids and capabilities",
            NsType::Uts => "the hostname and NIS domain name",
        }
    }

    /// Parse a name as `/proc/PID/ns/` spells it (or `mount`, as
    /// `unshare(1)` does).
    pub fn parse(s: &str) -> Option<NsType> {
        Some(match s {
            "cgroup" => NsType::Cgroup,
            "ipc" => NsType::Ipc,
            "mnt" | "mount" => NsType::Mnt,
            "net" => NsType::Net,
            "pid" => NsType::Pid,
            "time" => NsType::Time,
            "user" => NsType::User,
            "uts" => NsType::Uts,
            _ => return None,
        })
    }
}

impl std::fmt::Display for NsType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.proc_name())
    }
}

/// What a process description asks for one kind of namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NsMode {
    /// Stay in the parent's namespace (the host's).
    #[default]
    Host,
    /// Create a new one.
    New,
    /// Join an existing one, named by a `/proc/PID/ns/TYPE` link or a pin.
    Join(PathBuf),
}

/// The namespace plan of a process: one mode per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    modes: [NsMode; 8],
}

impl Namespaces {
    fn index(t: NsType) -> usize {
        NsType::ALL.iter().position(|x| *x == t).unwrap_or(0)
    }

    pub fn set(&mut self, t: NsType, mode: NsMode) -> &mut Self {
        self.modes[Self::index(t)] = mode;
        self
    }

    pub fn get(&self, t: NsType) -> &NsMode {
        &self.modes[Self::index(t)]
    }

    pub fn is_new(&self, t: NsType) -> bool {
        *self.get(t) == NsMode::New
    }

    /// The kinds to create, in `NsType::ALL` order.
    pub fn new_types(&self) -> Vec<NsType> {
        NsType::ALL
            .into_iter()
            .filter(|t| self.is_new(*t))
            .collect()
    }

    /// The kinds to join, with their paths, in the order `setns` joins them.
    pub fn joins(&self) -> Vec<(NsType, PathBuf)> {
        NsType::JOIN_ORDER
            .into_iter()
            .filter_map(|t| match self.get(t) {
                NsMode::Join(p) => Some((t, p.clone())),
                _ => None,
            })
            .collect()
    }

    /// The flags given to `clone3(2)`: every new kind except `time` (made
    /// by `unshare` before the clone so its clock offsets can be written
    /// while no process is inside yet) and `cgroup` (unshared by the child
    /// once the parent has placed it in its cgroups).
    pub fn clone_flags(&self) -> u64 {
        self.new_types()
            .into_iter()
            .filter(|t| !matches!(t, NsType::Time | NsType::Cgroup))
            .fold(0, |acc, t| acc | t.clone_flag())
    }

    /// `unshare --uts --pid --fork` for the new kinds.
    pub fn unshare_shell(&self) -> String {
        let mut s = String::from("unshare");
        for t in self.new_types() {
            s.push(' ');
            s.push_str(t.unshare_opt());
        }
        if self.is_new(NsType::Pid) || self.is_new(NsType::Time) {
            s.push_str(" --fork");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in NsType::ALL {
            assert_eq!(NsType::parse(t.proc_name()), Some(t));
        }
        assert_eq!(NsType::parse("mount"), Some(NsType::Mnt));
        assert_eq!(NsType::parse("bogus"), None);
    }

    #[test]
    fn clone_flags_leave_time_and_cgroup_for_later() {
        let mut ns = Namespaces::default();
        ns.set(NsType::Uts, NsMode::New)
            .set(NsType::Pid, NsMode::New)
            .set(NsType::Time, NsMode::New)
            .set(NsType::Cgroup, NsMode::New);
        let f = ns.clone_flags();
        assert_eq!(f, (libc::CLONE_NEWUTS | libc::CLONE_NEWPID) as u64);
        assert_eq!(
            ns.unshare_shell(),
            "unshare --cgroup --pid --time --uts --fork"
        );
    }

    #[test]
    fn joins_come_user_first_mnt_last() {
        let mut ns = Namespaces::default();
        ns.set(NsType::Mnt, NsMode::Join("/proc/9/ns/mnt".into()))
            .set(NsType::User, NsMode::Join("/proc/9/ns/user".into()))
            .set(NsType::Net, NsMode::Join("/proc/9/ns/net".into()));
        let order: Vec<NsType> = ns.joins().into_iter().map(|(t, _)| t).collect();
        assert_eq!(order, vec![NsType::User, NsType::Net, NsType::Mnt]);
    }
}
