//! glassbox: a container engine you can see through.
//!
//! One module per kernel mechanism, each a library with a thin command on
//! top (`src/cmd/`); every touch of the kernel goes through [`trace`].

pub mod cgroup;
pub mod cli;
pub mod clock;
pub mod cmd;
pub mod container;
pub mod doctor;
pub mod events;
pub mod host;
pub mod image;
pub mod net;
pub mod ns;
pub mod registry;
pub mod state;
pub mod template;
pub mod trace;
pub mod unionfs;
pub mod volume;
