//! `cp`: files between a container and the host, Docker's way.
//!
//! Docker's path rules (`docker container cp`), decided by [`rules::plan`]:
//! a file onto a missing path makes that file, onto a file replaces it,
//! into a directory keeps its name; a destination ending in `/` must be an
//! existing directory; a directory onto a missing path makes it, into a
//! directory keeps its name, and `DIR/.` copies what is in it; a
//! directory onto a file is an error, and so is a missing parent. A
//! symlink is copied as a symlink unless `-L` follows it; `-a` keeps
//! owners (else the files belong to whoever receives them: root).
//!
//! How it is done safely: the container's side is reached once (see
//! [`super::view`]) and every path in it is resolved with `openat2(2)`
//! `RESOLVE_IN_ROOT` from that root ([`resolve`]); the tree is read
//! ([`walk`]) and written ([`tree`]) through descriptors, or as a tar
//! stream ([`archive`]). A container that keeps swapping a path for a
//! symlink to `/etc/shadow` while the copy runs gets its own file copied,
//! or an error, never the host's (Docker's CVE-2018-15664).

pub mod archive;
pub mod resolve;
pub mod rules;
pub mod tree;
pub mod walk;

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::state;
use super::view::{self, Local, Purpose};
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};
use resolve::{Anchor, Kind};
pub use rules::{Dest, Plan, contents_only, plan, source_name};

/// The host's side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Here {
    /// A path on the host (made absolute by the caller).
    Path(PathBuf),
    /// `-`: a tar stream on stdin or stdout.
    Stream,
}

/// Which way the files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// `cp CONTAINER:SRC DEST`
    From { src: String, dest: Here },
    /// `cp SRC CONTAINER:DEST`
    To { src: Here, dest: String },
}

/// One `cp`.
#[derive(Debug, Clone)]
pub struct Request {
    /// The container as the user named it.
    pub container: String,
    pub direction: Direction,
    /// `-L`: follow a symlink at the end of SRC.
    pub follow: bool,
    /// `-a`: keep owners.
    pub archive: bool,
}

/// What a copy did: bytes of file content, and where it went (as
/// Docker's `Successfully copied 2.05kB to DEST` names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub dest: String,
}

/// Docker CLI's `ValidateOutputPath`: the directory a host output goes
/// in must exist, and the output must not be a device or a socket.
pub fn validate_output_path(path: &Path) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir
        && std::fs::metadata(dir).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    {
        return Err(Local(format!(
            "invalid output path: directory {:?} does not exist",
            dir.display().to_string()
        ))
        .into());
    }
    if let Ok(md) = std::fs::metadata(path)
        && !md.is_dir()
        && !md.is_file()
    {
        return Err(Local(format!(
            "invalid output path: {:?} must be a directory or a regular file",
            path.display().to_string()
        ))
        .into());
    }
    Ok(())
}

/// Docker's message for a path missing in the container.
fn not_found(path: &str, container: &str) -> anyhow::Error {
    anyhow::anyhow!("Could not find the file {path} in container {container}")
}

/// A failure on `side` about `path`: the daemon's words for the
/// container's side, the CLI's for the host's.
fn missing(anchor: &Anchor, path: &str, container: &str, e: std::io::Error) -> anyhow::Error {
    if anchor.confined {
        not_found(path, container)
    } else {
        Local(format!("lstat {path}: {}", strip_os(&e))).into()
    }
}

/// `No such file or directory (os error 2)` as Go prints it.
fn strip_os(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s,
    }
}

/// Open the source: a symlink at its end followed with `-L` or a
/// trailing `/`.
fn open_source(
    anchor: &Anchor,
    src: &str,
    follow: bool,
    container: &str,
) -> Result<(std::os::fd::OwnedFd, resolve::Meta)> {
    let slash = src.ends_with('/') || src.ends_with("/.");
    let fd = anchor
        .open(Path::new(src), follow || slash)
        .map_err(|e| missing(anchor, src, container, e))?;
    let meta = resolve::fstat(&fd).with_context(|| anchor.what("fstat", Path::new(src)))?;
    if let Some(fs) = walk::kernel_fs(&fd) {
        bail!(
            "{src} is on {fs}, one of the kernel's own filesystems: cp copies files, not the kernel's state under /proc, /sys or /dev/pts (neither does Docker's); read it with exec instead"
        );
    }
    if slash && meta.kind != Kind::Dir {
        bail!("{src} is not a directory (the path ends with /)");
    }
    Ok((fd, meta))
}

/// What is at the destination, symlinks at its end followed (inside the
/// anchor); the path it names.
fn dest_state(anchor: &Anchor, dest: &str, container: &str, shown: &str) -> Result<(String, Dest)> {
    let followed = anchor.follow_links(Path::new(dest));
    let mut path = followed.display().to_string();
    if dest.ends_with('/') && !path.ends_with('/') {
        path.push('/');
    }
    match anchor.open(&followed, true) {
        Ok(fd) => match resolve::fstat(&fd)?.kind {
            Kind::Dir => Ok((path, Dest::Dir)),
            Kind::File if dest.ends_with('/') => Err(missing(
                anchor,
                dest,
                container,
                std::io::Error::from_raw_os_error(libc::ENOTDIR),
            )),
            Kind::File => Ok((path, Dest::File)),
            _ => Err(Local(format!(
                "destination \"{shown}\" must be a directory or a regular file"
            ))
            .into()),
        },
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok((path, Dest::Missing)),
        Err(e) => Err(missing(anchor, dest, container, e)),
    }
}

/// Copy `src` (opened in `from`) to `dest` in `to`, by Docker's rules;
/// `step` is the copy itself, taken once both ends are resolved.
fn copy_tree(
    from: &Anchor,
    src: &str,
    to: &Anchor,
    dest: &str,
    req: &Request,
    step: Step,
) -> Result<u64> {
    let shown = match &req.direction {
        Direction::To { dest, .. } => format!("{}:{dest}", req.container),
        _ => dest.to_string(),
    };
    let (fd, meta) = open_source(from, src, req.follow, &req.container)?;
    let (dest, state) = dest_state(to, dest, &req.container, &shown)?;
    let p = plan(meta.kind == Kind::Dir, &source_name(src), &dest, state)?;
    if let Err(e) = to.open_dir(&p.dir) {
        return Err(if to.confined {
            not_found(&p.dir.display().to_string(), &req.container)
        } else {
            Local(format!("stat {}: {}", p.dir.display(), strip_os(&e))).into()
        });
    }
    step.arg("into", p.dir.display())
        .arg("name", p.name.display())
        .run(|| {
            let mut sink = tree::TreeSink::new(to, &p.dir, req.archive);
            walk::walk(&fd, &p.name, &mut sink)?;
            Ok(sink.bytes)
        })
}

/// `cp CONTAINER:SRC -`: a tar stream of SRC on stdout.
fn copy_out_stream(from: &Anchor, src: &str, req: &Request, step: Step) -> Result<u64> {
    let (fd, _) = open_source(from, src, req.follow, &req.container)?;
    step.run(|| {
        let out = nix::unistd::dup(std::io::stdout()).context("dup(2) standard output")?;
        let mut sink = archive::TarSink::new(BufWriter::new(std::fs::File::from(out)));
        walk::walk(&fd, &source_name(src), &mut sink)?;
        let bytes = sink.bytes;
        sink.finish()?.flush().context("write standard output")?;
        Ok(bytes)
    })
}

/// `cp - CONTAINER:DIR`: a tar stream from stdin, unpacked into DIR.
fn copy_in_stream(to: &Anchor, dest: &str, req: &Request, step: Step) -> Result<u64> {
    let shown = format!("{}:{dest}", req.container);
    let (dest, state) = dest_state(to, dest, &req.container, &shown)?;
    if state != Dest::Dir {
        return Err(Local(format!("destination \"{shown}\" must be a directory")).into());
    }
    step.run(|| {
        let input = nix::unistd::dup(std::io::stdin()).context("dup(2) standard input")?;
        let mut sink = tree::TreeSink::new(to, Path::new(&dest), req.archive);
        archive::extract(BufReader::new(std::fs::File::from(input)), &mut sink)?;
        Ok(sink.bytes)
    })
}

/// The shell line a student could type for the same copy (by path, the
/// way that is *not* safe against a container that swaps paths).
fn shell(c: &state::Container, req: &Request) -> String {
    let root = if view::running(c) {
        format!("/proc/{}/root", c.state.pid)
    } else {
        c.rootfs.merged.display().to_string()
    };
    let inside = |p: &str| format!("{root}/{}", p.trim_start_matches('/'));
    let here = |h: &Here| match h {
        Here::Path(p) => p.display().to_string(),
        Here::Stream => "-".into(),
    };
    match &req.direction {
        Direction::From {
            src,
            dest: Here::Stream,
        } => format!(
            "tar -C {} -cf - {}",
            inside(&format!("{src}/..")),
            source_name(src).display()
        ),
        Direction::From { src, dest } => format!("cp -a {} {}", inside(src), here(dest)),
        Direction::To {
            src: Here::Stream,
            dest,
        } => format!("tar -C {} -xf -", inside(dest)),
        Direction::To { src, dest } => format!("cp -a {} {}", here(src), inside(dest)),
    }
}

/// Run one `cp`.
pub fn copy(root: &Root, req: &Request) -> Result<Copied> {
    if let Direction::From {
        dest: Here::Path(p),
        ..
    } = &req.direction
    {
        validate_output_path(p)?;
    }
    let c = state::find(root, &req.container)?;
    let (summary, dest_shown) = match &req.direction {
        Direction::From { src, dest } => {
            let d = match dest {
                Here::Path(p) => p.display().to_string(),
                Here::Stream => "standard output".into(),
            };
            (format!("copy {}:{src} to {d}", req.container), d)
        }
        Direction::To { src, dest } => {
            let s = match src {
                Here::Path(p) => p.display().to_string(),
                Here::Stream => "standard input".into(),
            };
            (
                format!("copy {s} to {}:{dest}", req.container),
                format!("{}:{dest}", req.container),
            )
        }
    };
    let step = Step::new(Mechanism::Run, Action::Filesystem, summary)
        .arg("container", &c.id)
        .arg("resolve", "openat2(RESOLVE_IN_ROOT)")
        .shell(shell(&c, req))
        .why("every path inside the container is resolved by openat2(2) with RESOLVE_IN_ROOT from the container's own / and every file is made or read through a descriptor with O_NOFOLLOW: a symlink the container swaps in while the copy runs leads back into the container, never to a host file (docker cp's CVE-2018-15664 was that race, on paths resolved first and used later)")
        .man("openat2(2)");
    let bytes = view::with_root(root, &c, Purpose::Copy, |ctr| {
        let host = Anchor::host()?;
        match &req.direction {
            Direction::From {
                src,
                dest: Here::Stream,
            } => copy_out_stream(ctr, src, req, step),
            Direction::From {
                src,
                dest: Here::Path(p),
            } => copy_tree(ctr, src, &host, &p.display().to_string(), req, step),
            Direction::To {
                src: Here::Stream,
                dest,
            } => copy_in_stream(ctr, dest, req, step),
            Direction::To {
                src: Here::Path(p),
                dest,
            } => copy_tree(&host, &p.display().to_string(), ctr, dest, req, step),
        }
    })?;
    Ok(Copied {
        bytes,
        dest: dest_shown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_go_prints_them() {
        let e = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(strip_os(&e), "no such file or directory");
    }
}
