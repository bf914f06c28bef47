//! One file per subcommand: its arguments and an `execute` that calls the
//! mechanism's library and prints the result. No kernel work happens here.

pub mod cgroup;
pub mod completions;
pub mod container;
pub mod doctor;
pub mod events;
pub mod image;
pub mod net;
pub mod ns;
pub mod system;
pub mod unionfs;
pub mod volume;

use crate::state::Root;

/// What every subcommand gets: the state root and the global options.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub root: Root,
    pub global: crate::cli::Global,
}
