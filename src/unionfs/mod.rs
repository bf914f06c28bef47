//! overlayfs: a union of read-only lower layers and one writable upper
//! layer, the filesystem every container's root is made of.
//!
//! The lower layers are image layers, shared by every image that has them;
//! the upper layer is the container's own. Reads come from the topmost
//! layer that has a name; the first write to a lower file copies it up;
//! a deletion leaves a whiteout in upper; a directory removed and made again
//! becomes opaque. Read the kernel's `Documentation/filesystems/overlayfs.rst`
//! and `mount(2)`.
//!
//! - [`options`]: the option text and short paths for tall stacks (pure)
//! - [`check`]: the rules checked before mounting
//! - [`stack`]: mount, unmount; [`newapi`]: `fsconfig(2)` path
//! - [`records`]: which overlays this root made; recovery of their records
//! - [`whiteout`]: OCI whiteouts to overlay form and back
//! - [`diff`]: what an upper layer changed
//! - [`demo`]: the guided lab run

pub mod check;
pub mod demo;
pub mod diff;
pub mod newapi;
pub mod options;
pub mod records;
pub mod stack;
pub mod whiteout;
