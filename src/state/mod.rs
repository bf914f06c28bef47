//! glassbox's own state: where it lives, how it is locked, how it is written.
//!
//! Data lives in `/var/lib/glassbox` and runtime files in `/run/glassbox`, or
//! both under `--root DIR`. Every state file is written to a temporary file
//! and renamed over the old one (`rename(2)` is atomic), under an advisory
//! lock (`flock(2)` through `File::lock`), so two glassbox commands at once
//! never corrupt it. Every host resource glassbox creates is recorded in
//! [`resources`] before it is created, so cleanup can always find it.

pub mod atomic;
pub mod lock;
pub mod paths;
pub mod recover;
pub mod resources;

pub use atomic::{read_json, write_json};
pub use lock::StateLock;
pub use paths::{Names, Root};
