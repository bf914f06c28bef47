//! Unpacking one layer tarball into a directory, safely.
//!
//! A layer is a tar file (plain, gzip or zstd; detected by its magic bytes)
//! whose entries are paths relative to the container's `/`. Nothing in it
//! may land outside the layer directory: `..` components, absolute paths,
//! writes *through* a symlink (an entry whose parent is a symlink), hard
//! links to targets outside the layer and names longer than the kernel's
//! `NAME_MAX`/`PATH_MAX` are refused with an error naming the entry.
//! Ownership, modes (setuid and setgid too, applied after `lchown(2)`,
//! which clears them), extended attributes (`SCHILY.xattr.*` PAX records)
//! and modification times are kept. OCI whiteouts (`.wh.NAME`,
//! `.wh..wh..opq`) become overlay whiteouts through
//! [`crate::unionfs::whiteout`]. The caller unpacks into a fresh temporary
//! directory and renames it into place only on success. Read `tar(5)`,
//! the OCI image spec's `layer.md`, `lchown(2)`, `utimensat(2)`.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::digest::HashReader;
use super::space::{Meter, MeteredReader, Reserve, io_no_room};
use crate::unionfs::whiteout::{
    OciEntry, classify_oci_name, make_overlay_opaque, make_overlay_whiteout,
};

/// Longest file name component (`NAME_MAX`).
pub const NAME_MAX: usize = 255;
/// Longest path (`PATH_MAX` less the NUL).
pub const PATH_MAX: usize = 4095;

/// How a layer's bytes are compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn detect(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// What unpacking a layer found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar: the layer's diff id.
    pub diff_id: String,
    /// Bytes of the uncompressed tar.
    pub tar_size: u64,
    /// Bytes of regular file content (Docker's layer size).
    pub content_size: u64,
    pub entries: u64,
    pub compression: Option<&'static str>,
}

/// Wrap a (possibly compressed) layer stream in the right decompressor.
pub fn decompressed<'a, R: Read + 'a>(reader: R) -> Result<(Box<dyn Read + 'a>, Compression)> {
    let mut buf = BufReader::with_capacity(256 * 1024, reader);
    let head = buf
        .fill_buf()
        .context("read the first bytes of the layer")?;
    let c = Compression::detect(head);
    let r: Box<dyn Read> = match c {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buf)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buf).context("start zstd decompression")?,
        ),
        Compression::None => Box::new(buf),
    };
    Ok((r, c))
}

/// Unpack a layer stream into `dest` (an empty directory), stopping when
/// the free space of its filesystem falls below the reserve
/// ([`super::space`]). On error, the caller removes `dest`.
pub fn unpack_layer(reader: impl Read, dest: &Path) -> Result<Unpacked> {
    let (stream, compression) = decompressed(reader)?;
    let metered = MeteredReader {
        inner: stream,
        meter: Meter::new(Reserve::for_dir(dest)?),
    };
    let mut archive = tar::Archive::new(HashReader::new(metered));
    let mut out = Unpacked {
        compression: Some(compression.as_str()),
        ..Unpacked::default()
    };
    let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
    let entries = archive
        .entries()
        .with_context(|| format!("read the layer as a tar archive ({})", compression.as_str()))?;
    for entry in entries {
        // The tar crate quotes the bad header bytes in its message: keep
        // control characters (a terminal's escapes) out of ours.
        let entry = entry.map_err(|e| {
            if io_no_room(&e).is_some() {
                return e;
            }
            let text: String = e
                .to_string()
                .chars()
                .flat_map(|c| {
                    if c.is_control() {
                        c.escape_default().collect::<Vec<_>>()
                    } else {
                        vec![c]
                    }
                })
                .collect();
            std::io::Error::new(e.kind(), text)
        });
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) if io_no_room(&e).is_some() => {
                return Err(e).with_context(|| format!("unpack entry {}", out.entries + 1));
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "read the next tar entry after {} entries: the layer is truncated or corrupt",
                        out.entries
                    )
                });
            }
        };
        out.entries += 1;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = unpack_entry(&mut entry, dest, &mut dir_times)
            .with_context(|| format!("layer entry {name:?}"))?;
        out.content_size += size;
    }
    // Directory times last: creating children changed them.
    for (path, mtime) in dir_times.iter().rev() {
        set_mtime(path, *mtime)?;
    }
    let (diff_id, tar_size) = match archive.into_inner().finish() {
        Ok(done) => done,
        Err(e) if io_no_room(&e).is_some() => return Err(e.into()),
        Err(e) => {
            return Err(e).context("read the end of the layer: the layer is truncated or corrupt");
        }
    };
    out.diff_id = diff_id;
    out.tar_size = tar_size;
    Ok(out)
}

/// A tar path made safe: its normal components, or an error saying why not.
pub fn safe_relative(raw: &[u8]) -> Result<PathBuf> {
    if raw.is_empty() {
        bail!("empty path");
    }
    if raw.starts_with(b"/") {
        bail!("absolute path refused: layer entries must be relative to the layer's root");
    }
    if raw.len() > PATH_MAX {
        bail!(
            "path is {} bytes, longer than PATH_MAX ({PATH_MAX})",
            raw.len()
        );
    }
    let mut out = PathBuf::new();
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => bail!("`..` component refused: it would climb out of the layer"),
            c if c.len() > NAME_MAX => bail!(
                "name component is {} bytes, longer than NAME_MAX ({NAME_MAX})",
                c.len()
            ),
            c if c.contains(&0) => bail!("NUL byte in path"),
            c => out.push(OsStr::from_bytes(c)),
        }
    }
    Ok(out)
}

/// Check that every ancestor of `rel` under `dest` is a real directory
/// (creating missing ones), so nothing is written through a symlink.
fn prepare_parents(dest: &Path, rel: &Path) -> Result<()> {
    let mut cur = dest.to_path_buf();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for comp in parent.components() {
        cur.push(comp);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => bail!(
                "parent {} is a symlink: writing through it could land outside the layer",
                cur.strip_prefix(dest).unwrap_or(&cur).display()
            ),
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!(
                "parent {} is not a directory",
                cur.strip_prefix(dest).unwrap_or(&cur).display()
            ),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&cur).with_context(|| format!("mkdir {}", cur.display()))?;
            }
            Err(e) => return Err(e).with_context(|| format!("lstat {}", cur.display())),
        }
    }
    Ok(())
}

/// Remove whatever is at `path` (a file, a symlink, a directory tree).
fn remove_existing(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(path).with_context(|| format!("remove {}", path.display()))
        }
        Ok(_) => fs::remove_file(path).with_context(|| format!("remove {}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("lstat {}", path.display())),
    }
}

fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    dest: &Path,
    dir_times: &mut Vec<(PathBuf, i64)>,
) -> Result<u64> {
    use tar::EntryType as T;
    let kind = entry.header().entry_type();
    if matches!(
        kind,
        T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink
    ) {
        return Ok(0);
    }
    let rel = safe_relative(&entry.path_bytes())?;
    if rel.as_os_str().is_empty() {
        // The layer's root (`./`): nothing to create.
        return Ok(0);
    }
    prepare_parents(dest, &rel)?;
    let file_name = rel.file_name().unwrap_or_default().to_os_string();
    let parent = dest.join(rel.parent().unwrap_or(Path::new("")));
    match classify_oci_name(&file_name) {
        OciEntry::Opaque => {
            make_overlay_opaque(&parent)?;
            return Ok(0);
        }
        OciEntry::Whiteout(victim) => {
            if victim.is_empty()
                || victim == "."
                || victim == ".."
                || victim.as_bytes().contains(&b'/')
            {
                bail!("whiteout names no file");
            }
            let target = parent.join(&victim);
            remove_existing(&target)?;
            make_overlay_whiteout(&target)?;
            return Ok(0);
        }
        OciEntry::Regular => {}
    }
    let target = dest.join(&rel);
    let header = entry.header();
    let mode = header.mode().context("read the mode")? & 0o7777;
    // Some writers leave owner fields blank: that is root, as GNU tar reads it.
    let uid = header.uid().unwrap_or(0);
    let gid = header.gid().unwrap_or(0);
    let mtime = header.mtime().unwrap_or(0) as i64;
    let xattrs = read_xattrs(entry)?;
    let existing = fs::symlink_metadata(&target).ok();
    let mut size = 0;
    match kind {
        T::Directory => {
            match existing {
                Some(m) if m.is_dir() => {}
                Some(_) => {
                    remove_existing(&target)?;
                    fs::create_dir(&target)
                        .with_context(|| format!("mkdir {}", target.display()))?
                }
                None => fs::create_dir(&target)
                    .with_context(|| format!("mkdir {}", target.display()))?,
            }
            dir_times.push((target.clone(), mtime));
        }
        T::Regular | T::Continuous => {
            if existing.is_some() {
                remove_existing(&target)?;
            }
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&target)
                .with_context(|| format!("create {}", target.display()))?;
            size = match io::copy(entry, &mut f) {
                Ok(n) => n,
                Err(e) if io_no_room(&e).is_some() => {
                    return Err(e).with_context(|| format!("write {}", target.display()));
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "write {}: the layer is truncated or corrupt",
                            target.display()
                        )
                    });
                }
            };
        }
        T::Symlink => {
            let link = entry
                .link_name_bytes()
                .context("symlink without a target")?
                .into_owned();
            if existing.is_some() {
                remove_existing(&target)?;
            }
            std::os::unix::fs::symlink(OsString::from_vec(link), &target)
                .with_context(|| format!("symlink {}", target.display()))?;
        }
        T::Link => {
            let link = entry
                .link_name_bytes()
                .context("hard link without a target")?
                .into_owned();
            let link_rel = safe_relative(&link).with_context(|| {
                format!(
                    "hard link target {:?} is outside the layer",
                    String::from_utf8_lossy(&link)
                )
            })?;
            prepare_parents(dest, &link_rel)
                .with_context(|| format!("hard link target {}", link_rel.display()))?;
            let source = dest.join(&link_rel);
            match fs::symlink_metadata(&source) {
                Ok(m) if m.is_dir() => bail!("hard link to a directory {}", link_rel.display()),
                Ok(_) => {}
                Err(_) => bail!(
                    "hard link target {} is not in this layer (earlier in the archive)",
                    link_rel.display()
                ),
            }
            if source == target {
                return Ok(0);
            }
            if existing.is_some() {
                remove_existing(&target)?;
            }
            // linkat(2) without AT_SYMLINK_FOLLOW: links the entry itself.
            fs::hard_link(&source, &target)
                .with_context(|| format!("link {} to {}", target.display(), source.display()))?;
            return Ok(0);
        }
        T::Char | T::Block | T::Fifo => {
            if existing.is_some() {
                remove_existing(&target)?;
            }
            let (ftype, dev) = match kind {
                T::Char => (libc::S_IFCHR, device(entry)?),
                T::Block => (libc::S_IFBLK, device(entry)?),
                _ => (libc::S_IFIFO, 0),
            };
            let c = cstr(&target)?;
            // SAFETY: c is a valid NUL-terminated path.
            let rc = unsafe { libc::mknod(c.as_ptr(), ftype | 0o600, dev) };
            if rc != 0 {
                return Err(io::Error::last_os_error())
                    .with_context(|| format!("mknod(2) {}", target.display()));
            }
        }
        other => bail!("unsupported tar entry type {other:?}"),
    }
    let is_symlink = kind == T::Symlink;
    lchown(&target, uid, gid)?;
    for (key, value) in &xattrs {
        lsetxattr(&target, key, value)?;
    }
    if !is_symlink {
        fs::set_permissions(&target, fs::Permissions::from_mode(mode))
            .with_context(|| format!("chmod {:o} {}", mode, target.display()))?;
    }
    if kind != T::Directory {
        set_mtime(&target, mtime)?;
    }
    Ok(size)
}

/// `SCHILY.xattr.NAME` PAX records, minus overlay's own `trusted.overlay.*`
/// (a layer must not forge whiteouts or redirects by xattr).
fn read_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = entry.pax_extensions().context("read PAX headers")? {
        for ext in exts {
            let ext = ext.context("read a PAX record")?;
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.")
                && !name.starts_with("trusted.overlay.")
            {
                out.push((name.to_string(), ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(out)
}

fn device<R: Read>(entry: &tar::Entry<'_, R>) -> Result<libc::dev_t> {
    let h = entry.header();
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    Ok(libc::makedev(major, minor))
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .with_context(|| format!("path {} contains a NUL byte", p.display()))
}

fn lchown(path: &Path, uid: u64, gid: u64) -> Result<()> {
    let c = cstr(path)?;
    // SAFETY: c is a valid NUL-terminated path.
    let rc = unsafe { libc::lchown(c.as_ptr(), uid as libc::uid_t, gid as libc::gid_t) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        // Without root a layer can only be unpacked as ourselves.
        if err.raw_os_error() == Some(libc::EPERM) && !nix::unistd::geteuid().is_root() {
            return Ok(());
        }
        return Err(err).with_context(|| format!("lchown(2) {uid}:{gid} {}", path.display()));
    }
    Ok(())
}

fn lsetxattr(path: &Path, key: &str, value: &[u8]) -> Result<()> {
    let c = cstr(path)?;
    let k = CString::new(key).with_context(|| format!("xattr name {key:?} contains NUL"))?;
    // SAFETY: both strings are NUL-terminated; value is valid for its length.
    let rc = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("lsetxattr(2) {key} on {}", path.display()));
    }
    Ok(())
}

fn set_mtime(path: &Path, mtime: i64) -> Result<()> {
    let c = cstr(path)?;
    let t = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: c is NUL-terminated and times points to two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("utimensat(2) {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A tar built entry by entry, with raw names (no sanitizing).
    pub struct TarBuilder(tar::Builder<Vec<u8>>);

    impl TarBuilder {
        pub fn new() -> Self {
            TarBuilder(tar::Builder::new(Vec::new()))
        }
        fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(size);
            h.set_mtime(1_600_000_000);
            h.set_uid(0);
            h.set_gid(0);
            h
        }
        pub fn dir(mut self, name: &str) -> Self {
            let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
            self.0.append_data(&mut h, name, io::empty()).unwrap();
            self
        }
        pub fn file(mut self, name: &str, body: &[u8], mode: u32) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, mode, body.len() as u64);
            // append_data refuses `..`; write the name bytes ourselves.
            raw_name(&mut h, name);
            h.set_cksum();
            self.0.append(&h, body).unwrap();
            self
        }
        pub fn symlink(mut self, name: &str, target: &str) -> Self {
            let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
            raw_name(&mut h, name);
            h.set_link_name(target).unwrap();
            h.set_cksum();
            self.0.append(&h, io::empty()).unwrap();
            self
        }
        pub fn hardlink(mut self, name: &str, target: &str) -> Self {
            let mut h = Self::header(tar::EntryType::Link, 0o644, 0);
            raw_name(&mut h, name);
            raw_link(&mut h, target);
            h.set_cksum();
            self.0.append(&h, io::empty()).unwrap();
            self
        }
        pub fn long_file(mut self, name: &str) -> Self {
            let mut h = Self::header(tar::EntryType::Regular, 0o644, 0);
            self.0.append_data(&mut h, name, io::empty()).unwrap();
            self
        }
        pub fn build(self) -> Vec<u8> {
            self.0.into_inner().unwrap()
        }
    }

    fn raw_name(h: &mut tar::Header, name: &str) {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name = [0; 100];
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    }

    fn raw_link(h: &mut tar::Header, name: &str) {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.linkname = [0; 100];
        gnu.linkname[..name.len()].copy_from_slice(name.as_bytes());
    }

    fn refused(tar: Vec<u8>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let err = unpack_layer(&tar[..], dir.path()).unwrap_err();
        format!("{err:#}")
    }

    #[test]
    fn safe_relative_keeps_normal_paths() {
        assert_eq!(
            safe_relative(b"./etc/passwd").unwrap(),
            Path::new("etc/passwd")
        );
        assert_eq!(safe_relative(b"bin//sh").unwrap(), Path::new("bin/sh"));
        assert_eq!(safe_relative(b"./").unwrap(), Path::new(""));
        assert!(safe_relative(b"").is_err());
    }

    #[test]
    fn dot_dot_is_refused_naming_the_entry() {
        let e = refused(TarBuilder::new().file("../evil", b"x", 0o644).build());
        assert!(e.contains("\"../evil\"") && e.contains("`..`"), "{e}");
        let e = refused(
            TarBuilder::new()
                .dir("a/")
                .file("a/../../evil", b"x", 0o644)
                .build(),
        );
        assert!(e.contains("a/../../evil"), "{e}");
    }

    #[test]
    fn absolute_paths_are_refused() {
        let e = refused(TarBuilder::new().file("/etc/evil", b"x", 0o644).build());
        assert!(e.contains("\"/etc/evil\"") && e.contains("absolute"), "{e}");
    }

    #[test]
    fn writing_through_a_symlink_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new()
            .symlink("escape", outside.path().to_str().unwrap())
            .file("escape/pwned", b"x", 0o644)
            .build();
        let e = refused(tar);
        assert!(e.contains("escape/pwned") && e.contains("symlink"), "{e}");
        assert!(!outside.path().join("pwned").exists());
    }

    #[test]
    fn hardlinks_outside_are_refused() {
        let e = refused(TarBuilder::new().hardlink("shadow", "/etc/shadow").build());
        assert!(e.contains("\"shadow\"") && e.contains("outside"), "{e}");
        let e = refused(TarBuilder::new().hardlink("up", "../../etc/shadow").build());
        assert!(e.contains("outside"), "{e}");
        let e = refused(TarBuilder::new().hardlink("nothere", "missing").build());
        assert!(e.contains("not in this layer"), "{e}");
        let outside = tempfile::tempdir().unwrap();
        let e = refused(
            TarBuilder::new()
                .symlink("out", outside.path().to_str().unwrap())
                .hardlink("x", "out/secret")
                .build(),
        );
        assert!(e.contains("symlink"), "{e}");
    }

    #[test]
    fn over_long_names_are_refused() {
        let name = format!("{}/x", "a".repeat(300));
        let e = refused(TarBuilder::new().long_file(&name).build());
        assert!(e.contains("NAME_MAX"), "{e}");
        let deep = vec!["d".repeat(200); 25].join("/");
        let e = refused(TarBuilder::new().long_file(&deep).build());
        assert!(e.contains("PATH_MAX"), "{e}");
    }

    #[test]
    fn a_truncated_layer_is_an_error() {
        let mut tar = TarBuilder::new().file("big", &[7u8; 4096], 0o644).build();
        tar.truncate(1024);
        let e = refused(tar);
        assert!(e.contains("truncated or corrupt"), "{e}");
    }

    #[test]
    fn files_modes_and_compression_round_trip() {
        let tar = TarBuilder::new()
            .dir("bin/")
            .file("bin/tool", b"#!/bin/sh\n", 0o4755)
            .symlink("bin/alias", "/bin/tool")
            .hardlink("bin/again", "bin/tool")
            .build();
        let plain_id = crate::image::digest::sha256_of(&tar);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 1).unwrap();
        for (bytes, c) in [(&tar, "tar"), (&gz, "gzip"), (&zst, "zstd")] {
            let dir = tempfile::tempdir().unwrap();
            let u = unpack_layer(&bytes[..], dir.path()).unwrap();
            assert_eq!(u.diff_id, plain_id, "{c}");
            assert_eq!(u.compression, Some(c));
            assert_eq!(u.content_size, 10);
            let m = fs::metadata(dir.path().join("bin/tool")).unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_eq!(m.mode() & 0o7777, 0o4755, "{c}: setuid kept");
            assert_eq!(m.mtime(), 1_600_000_000);
            assert_eq!(m.nlink(), 2);
            assert_eq!(
                fs::read_link(dir.path().join("bin/alias")).unwrap(),
                Path::new("/bin/tool")
            );
            assert_eq!(
                fs::metadata(dir.path().join("bin")).unwrap().mtime(),
                1_600_000_000
            );
        }
    }
}
