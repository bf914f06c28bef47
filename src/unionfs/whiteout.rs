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
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::host::shell_quote;
use crate::trace::{Action, Mechanism, Step};

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

/// The traced `mknod PATH c 0 0` that deletes PATH in an overlay layer.
pub fn whiteout_step(path: &Path) -> Step {
    Step::new(
        Mechanism::Unionfs,
        Action::Filesystem,
        format!("whiteout {} (character device 0/0)", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("mknod {} c 0 0", shell_quote(&path.display().to_string())))
    .why("overlay reads a 0/0 character device in a layer as \"this name is deleted\" and hides it in every layer below")
    .man("mknod(2)")
}

/// The traced `setfattr -n trusted.overlay.opaque -v y DIR`.
pub fn opaque_step(dir: &Path) -> Step {
    Step::new(
        Mechanism::Unionfs,
        Action::Filesystem,
        format!("mark {} opaque", dir.display()),
    )
    .arg("path", dir.display())
    .arg("xattr", format!("{OPAQUE_XATTR}=y"))
    .shell(format!(
        "setfattr -n {OPAQUE_XATTR} -v y {}",
        shell_quote(&dir.display().to_string())
    ))
    .why("an opaque directory replaces the same directory of the layers below instead of merging with it")
    .man("setxattr(2)")
}

/// What the unpacker should do with one entry of an OCI layer tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unpack {
    /// An ordinary entry: extract it as it is.
    Extract,
    /// A whiteout or opaque marker, already written in overlay form.
    Converted,
}

/// Check that a path from a layer stays inside the layer (no `..`, not
/// absolute) and return it without any `./` prefix.
pub fn layer_relative(entry: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in entry.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => bail!(
                "layer entry {} leaves the layer (absolute or `..`): refusing to unpack it",
                entry.display()
            ),
        }
    }
    Ok(out)
}

/// Convert one entry of an OCI layer to overlay form inside `layer_dir`,
/// the image code's per-entry hook at unpack time: `DIR/.wh.NAME` becomes
/// the whiteout device `DIR/NAME`, `DIR/.wh..wh..opq` makes `DIR` opaque,
/// anything else is left for the caller to extract ([`Unpack::Extract`]).
pub fn oci_entry_to_overlay(layer_dir: &Path, entry: &Path) -> Result<Unpack> {
    let rel = layer_relative(entry)?;
    let Some(name) = rel.file_name() else {
        return Ok(Unpack::Extract);
    };
    let parent = layer_dir.join(rel.parent().unwrap_or(Path::new("")));
    if classify_oci_name(name) != OciEntry::Regular {
        no_symlink_between(layer_dir, &rel)?;
    }
    match classify_oci_name(name) {
        OciEntry::Regular => Ok(Unpack::Extract),
        OciEntry::Whiteout(target) => {
            if target.is_empty()
                || target == "."
                || target == ".."
                || target.as_bytes().contains(&b'/')
            {
                bail!(
                    "layer entry {} is a whiteout with no valid name",
                    entry.display()
                );
            }
            let path = parent.join(&target);
            whiteout_step(&path).detail().run(|| {
                std::fs::create_dir_all(&parent)
                    .with_context(|| format!("mkdir {}", parent.display()))?;
                // The same layer may have made the name too; the whiteout wins.
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path)?,
                    Ok(_) => std::fs::remove_file(&path)?,
                    Err(_) => {}
                }
                make_overlay_whiteout(&path)
            })?;
            Ok(Unpack::Converted)
        }
        OciEntry::Opaque => {
            opaque_step(&parent).detail().run(|| {
                std::fs::create_dir_all(&parent)
                    .with_context(|| format!("mkdir {}", parent.display()))?;
                make_overlay_opaque(&parent)
            })?;
            Ok(Unpack::Converted)
        }
    }
}

/// Refuse a marker whose parent directories pass through a symlink made by
/// an earlier entry (`a -> /etc`, then `a/.wh.passwd` would delete the
/// host's /etc/passwd).
fn no_symlink_between(layer_dir: &Path, rel: &Path) -> Result<()> {
    let mut cur = layer_dir.to_path_buf();
    if let Some(parent) = rel.parent() {
        for c in parent.components() {
            cur.push(c);
            if let Ok(m) = std::fs::symlink_metadata(&cur)
                && m.file_type().is_symlink()
            {
                bail!(
                    "layer entry {} goes through the symlink {}: refusing to follow it out of the layer",
                    rel.display(),
                    cur.display()
                );
            }
        }
    }
    Ok(())
}

/// Unpack an OCI layer tar into `dir` in overlay form.
pub fn unpack_oci_layer(reader: impl Read, dir: &Path) -> Result<()> {
    Step::new(
        Mechanism::Unionfs,
        Action::Filesystem,
        format!("unpack layer into {} (whiteouts to overlay form)", dir.display()),
    )
    .arg("dir", dir.display())
    .shell(format!("tar -xpf LAYER.tar -C {}", shell_quote(&dir.display().to_string())))
    .why("a layer is a tar of changes; its .wh. names become the 0/0 devices and opaque xattrs overlay understands")
    .man("tar(1)")
    .run(|| {
        std::fs::create_dir_all(dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let mut archive = tar::Archive::new(reader);
        archive.set_preserve_permissions(true);
        archive.set_overwrite(true);
        archive.set_unpack_xattrs(false);
        for entry in archive.entries().context("read the layer tar")? {
            let mut entry = entry.context("read a layer tar entry")?;
            let path = entry.path().context("layer entry path")?.into_owned();
            if oci_entry_to_overlay(dir, &path)? == Unpack::Extract {
                entry
                    .unpack_in(dir)
                    .with_context(|| format!("extract {} into {}", path.display(), dir.display()))?;
            }
        }
        Ok(())
    })
}

/// One entry of a layer in OCI form, produced from an overlay upper dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Path inside the layer, OCI names (`etc/.wh.motd`).
    pub path: PathBuf,
    pub kind: LayerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerKind {
    Dir,
    /// A regular file, symlink, device or fifo, copied from upper.
    Copy(PathBuf),
    /// An empty `.wh.NAME` file: NAME is deleted.
    Whiteout,
    /// An empty `.wh..wh..opq` file: the directory is opaque.
    Opaque,
}

/// Walk an overlay upper directory and list it in OCI layer form, parents
/// before children, names sorted: whiteout devices become `.wh.NAME` and
/// opaque directories get a `.wh..wh..opq` entry. Reads only.
pub fn overlay_to_oci(upper: &Path) -> Result<Vec<LayerEntry>> {
    let mut out = Vec::new();
    walk_upper(upper, Path::new(""), &mut out)?;
    Ok(out)
}

/// The names in `dir`, sorted (so walks are deterministic).
pub(crate) fn sorted_names(dir: &Path) -> Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("list {}", dir.display()))?;
    names.sort();
    Ok(names)
}

fn walk_upper(dir: &Path, rel: &Path, out: &mut Vec<LayerEntry>) -> Result<()> {
    let names = match sorted_names(dir) {
        Err(e) if !rel.as_os_str().is_empty() && gone(&e) => return Ok(()),
        r => r?,
    };
    for name in names {
        let path = dir.join(&name);
        let meta = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            r => r.with_context(|| format!("lstat {}", path.display()))?,
        };
        if is_overlay_whiteout(&meta) {
            out.push(LayerEntry {
                path: rel.join(oci_whiteout_name(&name)),
                kind: LayerKind::Whiteout,
            });
        } else if meta.is_dir() {
            let sub = rel.join(&name);
            out.push(LayerEntry {
                path: sub.clone(),
                kind: LayerKind::Dir,
            });
            if is_overlay_opaque(&path) {
                out.push(LayerEntry {
                    path: sub.join(WH_OPAQUE),
                    kind: LayerKind::Opaque,
                });
            }
            walk_upper(&path, &sub, out)?;
        } else {
            out.push(LayerEntry {
                path: rel.join(&name),
                kind: LayerKind::Copy(path),
            });
        }
    }
    Ok(())
}

/// `entries` of `upper` without the `mount_points` (layer-relative) that
/// are nothing but mount points: an empty directory or an empty file the
/// runtime made to mount a volume, a bind or a tmpfs on. What was mounted
/// there is not the container's layer, and neither is its mount point.
pub fn without_mount_points(
    upper: &Path,
    entries: Vec<LayerEntry>,
    mount_points: &[PathBuf],
) -> Vec<LayerEntry> {
    entries
        .into_iter()
        .filter(|e| {
            if e.kind != LayerKind::Dir && !matches!(e.kind, LayerKind::Copy(_)) {
                return true;
            }
            if !mount_points.contains(&e.path) {
                return true;
            }
            let p = upper.join(&e.path);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    is_overlay_opaque(&p)
                        || std::fs::read_dir(&p).map_or(true, |mut d| d.next().is_some())
                }
                Ok(m) if m.is_file() => m.len() > 0,
                _ => true,
            }
        })
        .collect()
}

/// Write an overlay upper directory as an OCI layer tar (what `commit` and
/// `save` will use).
pub fn write_oci_tar(upper: &Path, writer: impl Write) -> Result<()> {
    write_oci_entries(upper, overlay_to_oci(upper)?, writer)
}

/// Write `entries` of an overlay upper directory (from [`overlay_to_oci`])
/// as an OCI layer tar.
pub fn write_oci_entries(upper: &Path, entries: Vec<LayerEntry>, writer: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(writer);
    b.follow_symlinks(false);
    for e in entries {
        match &e.kind {
            LayerKind::Dir => {
                let src = upper.join(&e.path);
                if let Err(err) = b.append_path_with_name(&src, &e.path) {
                    if !src.exists() {
                        continue;
                    }
                    return Err(err).with_context(|| format!("add {} to the tar", src.display()));
                }
            }
            LayerKind::Copy(src) => {
                // A name removed since the walk (a running container
                // committed with --pause=false) is left out.
                let meta = match std::fs::symlink_metadata(src) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    r => r.with_context(|| format!("lstat {}", src.display()))?,
                };
                match special_header(&meta) {
                    // A socket is made by a process, not kept in an image
                    // (Docker's layers leave them out too).
                    Special::Socket => {}
                    Special::No => {
                        if let Err(err) = b.append_path_with_name(src, &e.path) {
                            if std::fs::symlink_metadata(src).is_err() {
                                continue;
                            }
                            return Err(err)
                                .with_context(|| format!("add {} to the tar", e.path.display()));
                        }
                    }
                    Special::Header(mut h) => {
                        b.append_data(&mut h, &e.path, std::io::empty())
                            .with_context(|| format!("add {} to the tar", e.path.display()))?;
                    }
                }
            }
            LayerKind::Whiteout | LayerKind::Opaque => {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o644);
                h.set_mtime(0);
                b.append_data(&mut h, &e.path, std::io::empty())
                    .with_context(|| format!("add {} to the tar", e.path.display()))?;
            }
        }
    }
    b.into_inner().context("finish the tar")?;
    Ok(())
}

/// Was the error a name that is not there (any more)?
fn gone(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
    })
}

/// How a file that is neither a directory, a regular file nor a symlink
/// goes into a layer tar.
enum Special {
    /// An ordinary entry: the tar crate writes it from the file.
    No,
    /// A FIFO or a device: its header says all there is.
    Header(Box<tar::Header>),
    Socket,
}

fn special_header(meta: &std::fs::Metadata) -> Special {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let t = meta.file_type();
    let kind = if t.is_fifo() {
        tar::EntryType::Fifo
    } else if t.is_char_device() {
        tar::EntryType::Char
    } else if t.is_block_device() {
        tar::EntryType::Block
    } else if t.is_socket() {
        return Special::Socket;
    } else {
        return Special::No;
    };
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(0);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    let dev = meta.rdev();
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    // Only devices carry numbers; setting them cannot fail on a GNU header.
    let _ = h.set_device_major(major);
    let _ = h.set_device_minor(minor);
    Special::Header(Box::new(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_goes_into_the_layer_and_a_socket_does_not() {
        let d = tempfile::tempdir().unwrap();
        let upper = d.path().join("upper");
        std::fs::create_dir_all(&upper).unwrap();
        nix::unistd::mkfifo(
            &upper.join("pipe"),
            nix::sys::stat::Mode::from_bits_truncate(0o640),
        )
        .unwrap();
        let _sock = std::os::unix::net::UnixListener::bind(upper.join("sock")).unwrap();
        std::fs::write(upper.join("file"), b"x").unwrap();
        let mut tar = Vec::new();
        write_oci_tar(&upper, &mut tar).unwrap();
        let mut a = tar::Archive::new(&tar[..]);
        let got: Vec<(String, tar::EntryType)> = a
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("file".to_string(), tar::EntryType::Regular),
                ("pipe".to_string(), tar::EntryType::Fifo),
            ]
        );
    }

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

    #[test]
    fn layer_paths_stay_inside() {
        assert_eq!(
            layer_relative(Path::new("./etc/x")).unwrap(),
            Path::new("etc/x")
        );
        assert!(layer_relative(Path::new("../etc")).is_err());
        assert!(layer_relative(Path::new("/etc")).is_err());
        assert!(layer_relative(Path::new("a/../../b")).is_err());
    }

    #[test]
    fn ordinary_entries_are_left_to_extract() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(
            oci_entry_to_overlay(d.path(), Path::new("etc/motd")).unwrap(),
            Unpack::Extract
        );
        assert!(oci_entry_to_overlay(d.path(), Path::new("../.wh.x")).is_err());
        assert!(std::fs::read_dir(d.path()).unwrap().next().is_none());
    }

    #[test]
    fn markers_never_follow_a_symlink_out_of_the_layer() {
        let d = tempfile::tempdir().unwrap();
        let (layer, outside) = (d.path().join("layer"), d.path().join("outside"));
        std::fs::create_dir_all(&layer).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("passwd"), "keep").unwrap();
        std::os::unix::fs::symlink(&outside, layer.join("a")).unwrap();
        for entry in ["a/.wh.passwd", "a/.wh..wh..opq"] {
            let err = oci_entry_to_overlay(&layer, Path::new(entry)).unwrap_err();
            assert!(
                format!("{err:#}").contains("goes through the symlink"),
                "{err:#}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(outside.join("passwd")).unwrap(),
            "keep"
        );
    }
}
