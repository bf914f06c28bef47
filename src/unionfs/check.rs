//! Checks before an overlay mount, so a bad request fails with a sentence
//! that names the problem instead of the kernel's bare `EINVAL` (whose real
//! reason only reaches `dmesg`). Nothing here changes the host.
//!
//! The rules come from the kernel's `Documentation/filesystems/overlayfs.rst`:
//! every layer must exist; `workdir` must be an empty directory on the same
//! mount as `upperdir` (overlay prepares a file in work, then `rename(2)`s it
//! into upper, and rename cannot cross mounts), and neither may contain the
//! other; the upper filesystem must support trusted xattrs, `d_type` and
//! whiteouts, which overlay itself, FAT and NFS do not. Read `statx(2)` and
//! `statfs(2)`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::host::mountinfo::{self, MountEntry};

use super::options::MAX_LOWERS;

/// What was asked for, as typed.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Top layer first, as in overlay's `lowerdir`.
    pub lowers: Vec<PathBuf>,
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
    pub target: PathBuf,
}

/// The same request with every path made absolute and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub lowers: Vec<PathBuf>,
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
    pub target: PathBuf,
}

/// `statfs(2)` magic numbers of filesystems overlay cannot write to.
const OVERLAYFS_MAGIC: i64 = 0x794c_7630;
const MSDOS_MAGIC: i64 = 0x4d44;
const EXFAT_MAGIC: i64 = 0x2011_bab0;
const NFS_MAGIC: i64 = 0x6969;
const FUSE_MAGIC: i64 = 0x6573_5546;

/// Where a path lives: its mount (from mountinfo, via `statx` mount id).
#[derive(Debug, Clone)]
pub struct FsInfo {
    pub mount: Option<MountEntry>,
    pub mnt_id: u64,
    pub dev: u64,
    pub magic: i64,
    pub read_only: bool,
}

impl FsInfo {
    pub fn describe(&self) -> String {
        match &self.mount {
            Some(m) => format!("{} mounted at {}", m.fs_type, m.mount_point.display()),
            None => format!("filesystem 0x{:x}", self.magic),
        }
    }
}

fn cpath(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .with_context(|| format!("path {} contains a NUL byte", path.display()))
}

/// `statx(2)` for the mount id and device, `statfs(2)` for the fs type.
pub fn fs_info(path: &Path) -> Result<FsInfo> {
    let c = cpath(path)?;
    // SAFETY: a zeroed statx is a valid out-buffer for the kernel to fill.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: c is NUL-terminated and stx is a valid, writable statx.
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            0,
            libc::STATX_MNT_ID | libc::STATX_TYPE,
            &mut stx,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statx(2) {}", path.display()));
    }
    // SAFETY: a zeroed statfs is a valid out-buffer.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is NUL-terminated and sfs is a valid, writable statfs.
    if unsafe { libc::statfs(c.as_ptr(), &mut sfs) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statfs(2) {}", path.display()));
    }
    let mnt_id = stx.stx_mnt_id;
    let mount = mountinfo::read(None)?
        .into_iter()
        .find(|m| u64::from(m.id) == mnt_id);
    // SAFETY: a zeroed statvfs is a valid out-buffer.
    let mut svfs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is NUL-terminated and svfs is a valid, writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut svfs) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("statvfs(3) {}", path.display()));
    }
    let read_only = (svfs.f_flag & libc::ST_RDONLY) != 0;
    Ok(FsInfo {
        dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
        mount,
        mnt_id,
        magic: sfs.f_type as i64,
        read_only,
    })
}

/// Why overlay cannot use this filesystem as its upper layer, if it cannot.
pub fn upper_unsupported(info: &FsInfo) -> Option<&'static str> {
    if info.read_only {
        return Some("it is mounted read-only, and the upper layer is where every write goes");
    }
    match info.magic {
        OVERLAYFS_MAGIC => Some(
            "overlay cannot use another overlay as its upper layer: the upper must be a real filesystem that stores whiteouts (0/0 character devices) and trusted.overlay.* xattrs itself",
        ),
        MSDOS_MAGIC | EXFAT_MAGIC => Some(
            "FAT filesystems have no extended attributes, no device files and no d_type, all of which overlay's upper layer needs",
        ),
        NFS_MAGIC => Some(
            "overlay cannot use a network filesystem (whose entries revalidate remotely) as its upper layer",
        ),
        FUSE_MAGIC => Some(
            "FUSE filesystems usually lack the trusted xattrs and whiteouts overlay's upper layer needs",
        ),
        _ => None,
    }
}

fn existing_dir(role: &str, path: &Path, hint: &str) -> Result<PathBuf> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{role} {} does not exist: {hint}", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("stat {role} {}", path.display())),
    };
    if !meta.is_dir() {
        bail!("{role} {} is not a directory: {hint}", path.display());
    }
    std::fs::canonicalize(path).with_context(|| format!("resolve {role} {}", path.display()))
}

/// Check a request; every error says what is wrong and what to do.
pub fn check(req: &Request) -> Result<Checked> {
    if req.lowers.is_empty() {
        bail!("give at least one lower layer with --lower DIR[:DIR...]");
    }
    if req.lowers.len() > MAX_LOWERS {
        bail!(
            "{} lower layers is more than overlay's limit of {MAX_LOWERS} (OVL_MAX_STACK): flatten some layers first",
            req.lowers.len()
        );
    }
    let mut lowers = Vec::with_capacity(req.lowers.len());
    for l in &req.lowers {
        lowers.push(existing_dir(
            "lower layer",
            l,
            "every --lower must be an existing directory",
        )?);
    }
    let (upper, work) = match (&req.upper, &req.work) {
        (None, None) => (None, None),
        (Some(_), None) => {
            bail!(
                "--upper needs --work: overlay prepares each change in an empty work directory on the upper's filesystem"
            )
        }
        (None, Some(_)) => bail!("--work needs --upper (without both the stack is read-only)"),
        (Some(u), Some(w)) => (
            Some(existing_dir(
                "upper directory",
                u,
                "create it with mkdir -p",
            )?),
            Some(existing_dir(
                "work directory",
                w,
                "create it with mkdir -p",
            )?),
        ),
    };
    if upper.is_none() && lowers.len() < 2 {
        bail!(
            "a read-only stack (no --upper) needs at least 2 lower layers, and only 1 was given: add another --lower, or give --upper and --work to make it writable"
        );
    }
    for dir in upper.iter().chain(work.iter()) {
        if let Some(l) = lowers
            .iter()
            .find(|l| dir.starts_with(l) || l.starts_with(dir))
        {
            bail!(
                "{} is also lower layer {} (or inside it): overlay refuses overlapping layers; give upper and work their own directories outside every lower",
                dir.display(),
                l.display()
            );
        }
    }
    let target = existing_dir(
        "mount point",
        &req.target,
        "create the directory to mount on with mkdir -p",
    )?;
    if let Some(why) = target_clash(&target, &lowers, upper.as_deref(), work.as_deref()) {
        bail!(why);
    }
    if let Some(m) = mountinfo::read(None)?
        .iter()
        .rev()
        .find(|m| m.mount_point == target)
    {
        bail!(
            "{} is already a mount point ({} from {}): unmount it first or choose another directory",
            target.display(),
            m.fs_type,
            m.source
        );
    }
    if let (Some(u), Some(w)) = (&upper, &work) {
        if u == w {
            bail!(
                "upper and work are the same directory {}: give work its own empty directory next to upper",
                u.display()
            );
        }
        if w.starts_with(u) {
            bail!(
                "work directory {} is inside upper directory {}: overlay needs them to be separate directories (e.g. siblings) on the same filesystem",
                w.display(),
                u.display()
            );
        }
        if u.starts_with(w) {
            bail!(
                "upper directory {} is inside work directory {}: overlay needs them to be separate directories (e.g. siblings) on the same filesystem",
                u.display(),
                w.display()
            );
        }
        // Two stacks writing the same upper or work directory corrupt each
        // other; the kernel only warns ("accessing files from both mounts
        // will result in undefined behavior").
        for m in mountinfo::read(None)?
            .iter()
            .filter(|m| m.fs_type == "overlay")
        {
            let shown = super::options::parse_shown(&m.super_options);
            for (mine, role) in [(u, "upper"), (w, "work")] {
                let mine_s = mine.display().to_string();
                if shown.upper.as_deref() == Some(mine_s.as_str())
                    || shown.work.as_deref() == Some(mine_s.as_str())
                {
                    bail!(
                        "{role} directory {} is already in use by the overlay mounted at {}: two stacks writing one directory corrupt each other; unmount that one first (glassbox unionfs umount {}) or give new, empty upper and work directories",
                        mine.display(),
                        m.mount_point.display(),
                        m.mount_point.display()
                    );
                }
            }
        }
        let ui = fs_info(u)?;
        let wi = fs_info(w)?;
        if let Some(why) = upper_unsupported(&ui) {
            bail!(
                "upper directory {} is on {}, which overlay cannot use as an upper layer: {why}; put upper and work on ext4, xfs, btrfs or tmpfs",
                u.display(),
                ui.describe()
            );
        }
        if ui.dev != wi.dev || ui.mnt_id != wi.mnt_id {
            bail!(
                "upper {} ({}) and work {} ({}) are on different filesystems or mounts: overlay moves each prepared file from work into upper with rename(2), which cannot cross mounts; put work next to upper",
                u.display(),
                ui.describe(),
                w.display(),
                wi.describe()
            );
        }
        let not_empty = std::fs::read_dir(w)
            .with_context(|| format!("list work directory {}", w.display()))?
            .filter_map(|e| e.ok())
            .any(|e| e.file_name() != "work" && e.file_name() != "index");
        if not_empty {
            bail!(
                "work directory {} is not empty: overlay needs an empty work directory (it keeps only work/ and index/ there)",
                w.display()
            );
        }
    }
    Ok(Checked {
        lowers,
        upper,
        work,
        target,
    })
}

/// Why the mount point cannot be where it is, if it cannot: it must be
/// apart from every layer. The kernel takes a mount point that is a layer,
/// lies inside one or holds one, but the stack then hides its own layer
/// (mounted on or above it), or shows up inside it (mounted below it:
/// whatever reads the layer by path, `unionfs diff` among them, then reads
/// the merged stack as part of the layer), and writes through the stack
/// can land in a directory overlay is still using as a layer.
pub fn target_clash(
    target: &Path,
    lowers: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
) -> Option<String> {
    let t = target.display();
    let fix = "mount the stack on an empty directory of its own outside every layer, e.g. `merged` beside them";
    let layers = lowers
        .iter()
        .map(|l| ("lower layer", l.as_path()))
        .chain(upper.map(|u| ("upper directory", u)))
        .chain(work.map(|w| ("work directory", w)));
    for (role, l) in layers {
        let l_ = l.display();
        if l == target {
            return Some(format!(
                "mount point {t} is also the {role}: the stack would be mounted over its own layer and hide it; {fix}"
            ));
        }
        if l.starts_with(target) {
            return Some(format!(
                "{role} {l_} is inside mount point {t}: the stack would hide its own layer; {fix}"
            ));
        }
        if target.starts_with(l) {
            return Some(format!(
                "mount point {t} is inside the {role} {l_}: the merged stack would show up inside its own layer, and anything reading that layer by path (unionfs diff, a copy) would read the stack too; {fix}"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_missing_lower() {
        let d = tempfile::tempdir().unwrap();
        let req = Request {
            lowers: vec![d.path().join("nope")],
            target: d.path().to_path_buf(),
            ..Default::default()
        };
        let err = format!("{:#}", check(&req).unwrap_err());
        assert!(
            err.contains("lower layer") && err.contains("nope") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn work_inside_upper_is_refused() {
        let d = tempfile::tempdir().unwrap();
        for s in ["l", "u", "u/w", "m"] {
            std::fs::create_dir(d.path().join(s)).unwrap();
        }
        let req = Request {
            lowers: vec![d.path().join("l")],
            upper: Some(d.path().join("u")),
            work: Some(d.path().join("u/w")),
            target: d.path().join("m"),
        };
        let err = format!("{:#}", check(&req).unwrap_err());
        assert!(err.contains("is inside upper directory"), "{err}");
    }

    #[test]
    fn the_mount_point_must_be_apart_from_every_layer() {
        let p = |s: &str| PathBuf::from(s);
        let lowers = [p("/s/l1"), p("/s/l2")];
        let (u, w) = (p("/s/u"), p("/s/w"));
        let clash = |t: &str| target_clash(&p(t), &lowers, Some(&u), Some(&w));
        assert_eq!(clash("/s/merged"), None);
        let on = clash("/s/l2").unwrap();
        assert!(on.contains("is also the lower layer"), "{on}");
        let above = clash("/s").unwrap();
        assert!(
            above.contains("lower layer /s/l1 is inside mount point /s"),
            "{above}"
        );
        let below = clash("/s/l1/m").unwrap();
        assert!(below.contains("is inside the lower layer /s/l1"), "{below}");
        let in_upper = clash("/s/u/m").unwrap();
        assert!(
            in_upper.contains("inside the upper directory /s/u"),
            "{in_upper}"
        );
        assert!(clash("/s/w").unwrap().contains("also the work directory"));
        // A name that only starts like a layer's is no clash.
        assert_eq!(clash("/s/l10"), None);
    }

    #[test]
    fn overlay_and_fat_are_no_upper() {
        let info = |magic| FsInfo {
            mount: None,
            mnt_id: 1,
            dev: 1,
            magic,
            read_only: false,
        };
        assert!(upper_unsupported(&info(OVERLAYFS_MAGIC)).is_some());
        assert!(upper_unsupported(&info(MSDOS_MAGIC)).is_some());
        assert!(upper_unsupported(&info(0xEF53)).is_none()); // ext4
        assert!(upper_unsupported(&info(0x0102_1994)).is_none()); // tmpfs
    }
}
