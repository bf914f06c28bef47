//! A small tmpfs of its own under a test's state root (a full disk made
//! to order), unmounted when dropped. Read `tmpfs(5)`.

use std::path::{Path, PathBuf};

/// A mounted tmpfs; lazily unmounted (`umount2(MNT_DETACH)`) on drop.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mount a tmpfs of `size` (`64m`) on `path`, mode 0700.
    pub fn mount(path: &Path, size: &str) -> Tmpfs {
        use nix::mount::{MsFlags, mount};
        std::fs::create_dir_all(path).unwrap();
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(format!("size={size},mode=0700").as_str()),
        )
        .unwrap_or_else(|e| {
            panic!(
                "mount -t tmpfs -o size={size} tmpfs {}: {e}",
                path.display()
            )
        });
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Bytes an ordinary write may still use (`df`'s Avail).
    pub fn avail(&self) -> u64 {
        let st = nix::sys::statvfs::statvfs(&self.path).unwrap();
        st.blocks_available() as u64 * st.fragment_size() as u64
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}
