//! Docker's copy-up: the first time an empty volume is mounted over a
//! path the image has content at, that content is copied into the
//! volume, owners and modes kept (`cp -a`), so `-v data:/var/lib/app`
//! starts with what the image put there. A volume with anything in it is
//! never filled again, so what containers wrote stays; `nocopy` turns it
//! off. The image's path is resolved inside the container's root
//! (`openat2(2)` with `RESOLVE_IN_ROOT`), so a symlink in the image cannot
//! make glassbox copy a host directory. Read `cp(1)` (`-a`), `chown(2)`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use crate::ns::inroot::{self, Make};
use crate::trace::{Action, Mechanism, Step};

/// Is `dir` empty (or missing)?
pub fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Fill volume `name`'s empty `data` from `rootfs` at `dest` (a path as
/// the container sees it); nothing when the volume has data already or
/// the image has no directory there.
pub fn fill(rootfs: &Path, dest: &str, name: &str, data: &Path) -> Result<()> {
    if !is_empty(data) {
        crate::trace::say(
            Mechanism::Run,
            format!("volume {name} has data already: no copy from the image's {dest}"),
        );
        return Ok(());
    }
    let Ok(src) = inroot::open(rootfs, Path::new(dest), Make::Nothing) else {
        return Ok(());
    };
    let from = inroot::fd_path(&src);
    // The descriptor's own stat (an lstat of /proc/self/fd/N shows the
    // magic link, not the directory).
    let Ok(st) = nix::sys::stat::fstat(&src) else {
        return Ok(());
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return Ok(());
    }
    let top = Owner {
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode & 0o7777,
        symlink: false,
    };
    let shown = rootfs.join(dest.trim_start_matches('/'));
    Step::new(
        Mechanism::Run,
        Action::Filesystem,
        format!("copy the image's {dest} into the new volume {name}"),
    )
    .arg("from", shown.display())
    .arg("to", data.display())
    .shell(format!("cp -a {}/. {}/", shown.display(), data.display()))
    .why("Docker fills an empty volume from the image's content at the mount point (copy-up), keeping owners and modes, so the program finds the files it was built with; once the volume has data it is never filled again.")
    .man("cp(1)")
    .run(|| copy_tree(&from, data, &top))
}

/// Whose a copied file is, and its mode.
struct Owner {
    uid: u32,
    gid: u32,
    mode: u32,
    symlink: bool,
}

impl From<&std::fs::Metadata> for Owner {
    fn from(m: &std::fs::Metadata) -> Owner {
        Owner {
            uid: m.uid(),
            gid: m.gid(),
            mode: m.mode() & 0o7777,
            symlink: m.file_type().is_symlink(),
        }
    }
}

/// Copy the tree at `from` into the existing directory `to`: directories,
/// files and symlinks with their owners and modes (devices, sockets and
/// FIFOs are left out); `to` takes `top` (`from`'s owner and mode).
fn copy_tree(from: &Path, to: &Path, top: &Owner) -> Result<()> {
    for e in
        std::fs::read_dir(from).with_context(|| format!("read directory {}", from.display()))?
    {
        let e = e.with_context(|| format!("read directory {}", from.display()))?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let meta =
            std::fs::symlink_metadata(&src).with_context(|| format!("stat {}", src.display()))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&dst).with_context(|| format!("mkdir {}", dst.display()))?;
            copy_tree(&src, &dst, &Owner::from(&meta))?;
            continue;
        } else if kind.is_symlink() {
            let target =
                std::fs::read_link(&src).with_context(|| format!("readlink {}", src.display()))?;
            std::os::unix::fs::symlink(&target, &dst)
                .with_context(|| format!("symlink {}", dst.display()))?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copy {} to {}", src.display(), dst.display()))?;
        } else {
            continue;
        }
        own(&dst, &Owner::from(&meta))?;
    }
    own(to, top)
}

/// Give `path` the owner and (unless a symlink) the mode of `o`.
fn own(path: &Path, o: &Owner) -> Result<()> {
    std::os::unix::fs::lchown(path, Some(o.uid), Some(o.gid))
        .with_context(|| format!("lchown {}", path.display()))?;
    if !o.symlink {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(o.mode))
            .with_context(|| format!("chmod {}", path.display()))?;
    }
    Ok(())
}
