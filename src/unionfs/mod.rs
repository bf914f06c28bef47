//! overlayfs: a union of read-only lower layers and one writable upper
//! layer. Read the kernel's `Documentation/filesystems/overlayfs.rst`.

pub mod whiteout;
