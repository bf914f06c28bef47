//! Containers: Docker's container lifecycle (create, start, kill, delete,
//! exec) composed from the mechanisms (`image`, `unionfs`, `cgroup`, `ns`,
//! `net`) through their library entry points and the one trace layer.
//! Shaped like youki's libcontainer: a typed record ([`state`]), one file
//! per step ([`create`], [`start`], [`kill`], [`delete`]), and a shim per
//! running container ([`shim`]) that the CLI talks to ([`client`]).

pub mod attach;
pub mod cgroup;
pub mod changes;
pub mod client;
pub mod commit;
pub mod config;
pub mod copy;
pub mod create;
pub mod delete;
pub mod detach_keys;
pub mod disk_usage;
pub mod env;
pub mod etc;
pub mod exec;
pub mod export;
pub mod human;
pub mod id;
pub mod init;
pub mod inspect;
pub mod kill;
pub mod launch;
pub mod list;
pub mod logfile;
pub mod logs;
pub mod mount_spec;
pub mod mounts;
pub mod names;
pub mod network;
pub mod pause;
pub mod plan;
pub mod port;
pub mod protocol;
pub mod prune;
pub mod recover;
pub mod rename;
pub mod settle;
pub mod shim;
pub mod since;
pub mod size;
pub mod slim;
pub mod start;
pub mod state;
pub mod stats;
pub mod stats_screen;
pub mod stdio;
pub mod teardown;
pub mod tmpfs_spec;
pub mod top;
pub mod update;
pub mod user;
pub mod view;
