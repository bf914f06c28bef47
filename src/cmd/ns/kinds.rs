//! The namespace kinds as `glassbox ns` options name them: one flag per
//! kind (`ns run`, `ns enter`) and the values of `ns ls --type`.

use crate::ns::NsType;

/// A kind of namespace, as `--type` names it (`/proc/PID/ns/NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NsTypeArg {
    /// The view of the cgroup tree
    Cgroup,
    /// System V IPC and POSIX message queues
    Ipc,
    /// Mounts
    Mnt,
    /// Network devices, addresses, routes
    Net,
    /// Process ids
    Pid,
    /// The boot-time and monotonic clocks
    Time,
    /// User and group ids
    User,
    /// Hostname and domain name
    Uts,
}

impl From<NsTypeArg> for NsType {
    /// The variants are in `NsType::ALL`'s order (a test checks it).
    fn from(a: NsTypeArg) -> NsType {
        NsType::ALL[a as usize]
    }
}

/// Which kinds of namespace a command names, one flag per kind.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Kinds {
    /// Process ids (CMD is PID 1)
    #[arg(long)]
    pub pid: bool,
    /// Hostname and domain name
    #[arg(long)]
    pub uts: bool,
    /// System V IPC and POSIX message queues
    #[arg(long)]
    pub ipc: bool,
    /// Network devices, addresses, routes
    #[arg(long)]
    pub net: bool,
    /// Mounts
    #[arg(long)]
    pub mnt: bool,
    /// User and group ids
    #[arg(long)]
    pub user: bool,
    /// The view of the cgroup tree
    #[arg(long)]
    pub cgroup: bool,
    /// The boot-time and monotonic clocks
    #[arg(long)]
    pub time: bool,
    /// Every kind
    #[arg(long)]
    pub all: bool,
}

impl Kinds {
    /// The kinds named, in the order `lsns` lists them (all with --all).
    pub fn types(&self) -> Vec<NsType> {
        let on = [
            self.cgroup,
            self.ipc,
            self.mnt,
            self.net,
            self.pid,
            self.time,
            self.user,
            self.uts,
        ];
        let kinds = NsType::ALL.into_iter().zip(on);
        kinds
            .filter(|(_, b)| *b || self.all)
            .map(|(t, _)| t)
            .collect()
    }
}
