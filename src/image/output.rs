//! Where `image save` writes, without ever replacing what is not a
//! regular file.
//!
//! `-o PATH` naming a regular file, or nothing yet, is written atomically:
//! into a temporary file beside it (`.NAME.tmp-PID-N`, made with
//! `O_EXCL`), fsynced and renamed over it (`rename(2)`), so a reader sees
//! the old archive or the new one; the new file keeps the old one's mode
//! and owner, and the temporary file is removed if anything fails. A
//! device, a FIFO or a terminal (`/dev/null`, a named pipe another program
//! reads, `/dev/stdout`) is opened for writing as it is, without
//! `O_CREAT` or `O_TRUNC`, and written in place: renaming over it would
//! turn `/dev/null` into a regular file. A symlink is never replaced: the
//! archive goes where it points, as the shell's `>` would send it (a
//! regular file there is replaced atomically in its own directory, a
//! device or FIFO is written in place); a symlink to nothing is refused,
//! and so is a directory. Read `rename(2)`, `open(2)` and `fifo(7)`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};

use super::member::kind;

/// An archive's destination, open for writing.
#[derive(Debug)]
pub struct Output {
    /// The path as the user gave it.
    pub shown: PathBuf,
    /// What it is (for the trace): `a new file`, `a FIFO`, ...
    pub what: String,
    atomic: Option<Atomic>,
}

#[derive(Debug)]
struct Atomic {
    tmp: PathBuf,
    dest: PathBuf,
    done: bool,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl Output {
    /// Open `path` for an archive (see the module's documentation).
    pub fn open(path: &Path) -> Result<(Output, File)> {
        let shown = path.to_path_buf();
        let md = match fs::symlink_metadata(path) {
            Ok(md) => Some(md),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("lstat {}", path.display())),
        };
        let Some(md) = md else {
            return Self::atomic(shown, path, None, "a new file".into());
        };
        let ft = md.file_type();
        if ft.is_file() {
            return Self::atomic(shown, path, Some(md), "a regular file".into());
        }
        if ft.is_dir() {
            bail!(
                "{} is a directory: give the archive's file name, e.g. {}/image.tar",
                path.display(),
                path.display()
            );
        }
        if !ft.is_symlink() {
            return Self::direct(shown, path, kind(&ft));
        }
        let link = fs::read_link(path).with_context(|| format!("readlink {}", path.display()))?;
        let target = match fs::metadata(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "{} is a symlink to {}, which does not exist: a symlink is never replaced; save to the target's path, or remove the link",
                path.display(),
                link.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("stat {}", path.display())),
        };
        let tt = target.file_type();
        if tt.is_dir() {
            bail!(
                "{} is a symlink to the directory {}: give the archive's file name",
                path.display(),
                link.display()
            );
        }
        if !tt.is_file() {
            return Self::direct(shown, path, &format!("a symlink to {}", kind(&tt)));
        }
        let real = fs::canonicalize(path)
            .with_context(|| format!("resolve the symlink {}", path.display()))?;
        let what = format!("a symlink to the regular file {}", real.display());
        Self::atomic(shown, &real, Some(target), what)
    }

    /// Standard output, written in place.
    pub fn stdout() -> Result<(Output, File)> {
        let fd = nix::unistd::dup(std::io::stdout()).context("dup(2) standard output")?;
        Ok((
            Output {
                shown: PathBuf::from("standard output"),
                what: "standard output".into(),
                atomic: None,
            },
            File::from(fd),
        ))
    }

    /// A temporary file beside `dest`, with the mode and owner of the file
    /// it will replace.
    fn atomic(
        shown: PathBuf,
        dest: &Path,
        old: Option<fs::Metadata>,
        what: String,
    ) -> Result<(Output, File)> {
        let name = dest
            .file_name()
            .with_context(|| format!("{} has no file name", dest.display()))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = dir.join(format!(
            ".{}.tmp-{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&tmp)
            .with_context(|| format!("create {}", tmp.display()))?;
        let out = Output {
            shown,
            what,
            atomic: Some(Atomic {
                tmp: tmp.clone(),
                dest: dest.to_path_buf(),
                done: false,
            }),
        };
        if let Some(old) = old {
            if old.uid() != nix::unistd::geteuid().as_raw()
                || old.gid() != nix::unistd::getegid().as_raw()
            {
                std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()))
                    .with_context(|| format!("fchown {}", tmp.display()))?;
            }
            file.set_permissions(fs::Permissions::from_mode(old.mode() & 0o777))
                .with_context(|| format!("fchmod {}", tmp.display()))?;
        }
        Ok((out, file))
    }

    /// A device, FIFO or terminal, opened as it is.
    fn direct(shown: PathBuf, path: &Path, what: &str) -> Result<(Output, File)> {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(path)
            .with_context(|| format!("open {} ({what}) for writing", path.display()))?;
        let md = file
            .metadata()
            .with_context(|| format!("fstat {}", path.display()))?;
        if md.file_type().is_file() {
            bail!(
                "{} became a regular file while it was opened: run the command again",
                path.display()
            );
        }
        Ok((
            Output {
                shown,
                what: what.to_string(),
                atomic: None,
            },
            file,
        ))
    }

    /// The archive is complete: flush it, and put a temporary file in
    /// place of the destination.
    pub fn finish(mut self, mut file: File) -> Result<()> {
        file.flush()
            .with_context(|| format!("write {}", self.shown.display()))?;
        let Some(a) = self.atomic.as_mut() else {
            return Ok(());
        };
        file.sync_all()
            .with_context(|| format!("fsync {}", a.tmp.display()))?;
        drop(file);
        // Never rename over something that became a non-regular file.
        if let Ok(md) = fs::symlink_metadata(&a.dest)
            && !md.file_type().is_file()
        {
            bail!(
                "{} is now {}: not replacing it",
                a.dest.display(),
                kind(&md.file_type())
            );
        }
        fs::rename(&a.tmp, &a.dest)
            .with_context(|| format!("rename {} to {}", a.tmp.display(), a.dest.display()))?;
        a.done = true;
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(a) = &self.atomic
            && !a.done
        {
            let _ = fs::remove_file(&a.tmp);
        }
    }
}
