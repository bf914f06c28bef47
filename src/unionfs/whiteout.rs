//! Whiteouts: how a layer says "this file is deleted" or "this directory
//! replaces, not merges with, the one below".
//!
//! Two spellings of the same idea. OCI image layers (tar files) use names:
//! `.wh.NAME` deletes NAME, and `.wh..wh..opq` in a directory makes it
//! opaque. overlayfs uses filesystem objects: a character device with
//! device number 0/0 named NAME deletes NAME, and the extended attribute
//! `trusted.overlay.opaque=y` on a directory makes it opaque. Unpacking an
//! image converts the first into the second; exporting a container's
//! upper layer converts back. Read the kernel's
//! `Documentation/filesystems/overlayfs.rst` and the OCI image spec's
//! layer.md.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Prefix of an OCI whiteout file name.
pub const WH_PREFIX: &str = ".wh.";
/// Name of the OCI opaque-directory marker.
pub const WH_OPAQUE: &str = ".wh..wh..opq";
/// The xattr overlayfs reads to treat a directory as opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What a file name in an OCI layer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciEntry {
    /// An ordinary file, kept as is.
    Regular,
    /// `.wh.NAME`: NAME (in the same directory) is deleted.
    Whiteout(OsString),
    /// `.wh..wh..opq`: the directory holding it is opaque.
    Opaque,
}

/// Classify the last component of a path in an OCI layer.
pub fn classify_oci_name(name: &OsStr) -> OciEntry {
    let bytes = name.as_bytes();
    if bytes == WH_OPAQUE.as_bytes() {
        OciEntry::Opaque
    } else if let Some(rest) = bytes.strip_prefix(WH_PREFIX.as_bytes()) {
        OciEntry::Whiteout(OsStr::from_bytes(rest).to_os_string())
    } else {
        OciEntry::Regular
    }
}

/// The OCI name for deleting `name`.
pub fn oci_whiteout_name(name: &OsStr) -> OsString {
    let mut s = OsString::from(WH_PREFIX);
    s.push(name);
    s
}

/// Is this file an overlay whiteout (a character device 0/0)?
pub fn is_overlay_whiteout(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Does this directory carry overlay's opaque xattr?
pub fn is_overlay_opaque(dir: &Path) -> bool {
    let mut buf = [0u8; 4];
    let c_path = match std::ffi::CString::new(dir.as_os_str().as_bytes()) {
        Ok(p) => p,
        Err(_) => return false,
    };
    let c_name = std::ffi::CString::new(OPAQUE_XATTR).expect("constant has no NUL");
    // SAFETY: both strings are NUL-terminated and buf is valid for its length.
    let n = unsafe {
        libc::lgetxattr(
            c_path.as_ptr(),
            c_name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

/// Make `path` an overlay whiteout: `mknod PATH c 0 0`.
pub fn make_overlay_whiteout(path: &Path) -> Result<()> {
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .with_context(|| format!("mknod(2) whiteout {} c 0 0", path.display()))
}

/// Mark `dir` opaque: `setfattr -n trusted.overlay.opaque -v y DIR`.
pub fn make_overlay_opaque(dir: &Path) -> Result<()> {
    let c_path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .with_context(|| format!("path {} contains a NUL byte", dir.display()))?;
    let c_name = std::ffi::CString::new(OPAQUE_XATTR).expect("constant has no NUL");
    // SAFETY: both strings are NUL-terminated; the value is 1 valid byte.
    let rc =
        unsafe { libc::lsetxattr(c_path.as_ptr(), c_name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| {
            format!(
                "setxattr(2) {OPAQUE_XATTR}=y on {} (needs root and a filesystem with trusted xattrs)",
                dir.display()
            )
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_oci_names() {
        assert_eq!(classify_oci_name(OsStr::new("etc")), OciEntry::Regular);
        assert_eq!(
            classify_oci_name(OsStr::new(".wh.motd")),
            OciEntry::Whiteout("motd".into())
        );
        assert_eq!(
            classify_oci_name(OsStr::new(".wh..wh..opq")),
            OciEntry::Opaque
        );
        assert_eq!(classify_oci_name(OsStr::new(".whx")), OciEntry::Regular);
        assert_eq!(oci_whiteout_name(OsStr::new("motd")), ".wh.motd");
    }
}
