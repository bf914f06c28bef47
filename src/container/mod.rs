//! Containers: Docker's container lifecycle (create, start, kill, delete,
//! exec) composed from the mechanisms (`image`, `unionfs`, `cgroup`, `ns`,
//! `net`) through their library entry points and the one trace layer.
//! Shaped like youki's libcontainer: a typed record, one file per step.

pub mod env;
pub mod human;
pub mod id;
pub mod inspect;
pub mod logfile;
pub mod names;
pub mod protocol;
pub mod state;
pub mod user;
