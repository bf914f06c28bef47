//! One-layer images made here: `image import` (a rootfs tarball or
//! directory, like `docker import`) and `image from-host` (binaries
//! already on this machine plus the shared libraries `ldd(1)` says they
//! need; for busybox, one symlink per applet), so a first container runs
//! with no registry at all.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::add::{LayerFile, LayerSource, NewImage, add_image, new_config};
use super::archive::{Stream, TempDir, copy_stream};
use super::digest::{HashReader, HashWriter, UNKNOWN};
use super::reference::Reference;
use super::store::Store;
use super::unpack::{Compression, decompressed};
use crate::host::shell_quote;
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};

/// What `image import` reads.
pub enum Source<'a> {
    /// A rootfs tarball (plain, gzip or zstd) or a directory.
    Path(&'a Path),
    /// A tarball on standard input (or any stream).
    Stream(&'a mut dyn Read),
}

/// The one layer of an image made here, and its diff id.
struct Layer {
    source: LayerSource,
    diff_id: String,
}

/// `image import SOURCE [REF]`: the new image id, or `Done::Planned`
/// under `--dry-run` (which reads the source but stores nothing).
pub fn import(
    root: &Root,
    source: Source,
    reference: Option<&str>,
    message: Option<&str>,
) -> Result<Done<String>> {
    let tags = reference
        .map(Reference::parse)
        .transpose()?
        .into_iter()
        .collect::<Vec<_>>();
    let (source, mut stream) = match source {
        Source::Path(p) => (Some(p), None),
        Source::Stream(r) => (None, Some(Stream::new(r)?)),
    };
    let store = Store::open(root)?;
    let work = TempDir::new(&store, "import")?;
    let (shown, layer) = match (source, stream.as_mut()) {
        (Some(p), _) if p.is_dir() => (p.display().to_string(), pack_dir(&work, p)?),
        (Some(p), _) => {
            if !p.is_file() {
                bail!("{}: no such file or directory", p.display());
            }
            (p.display().to_string(), file_layer(p)?)
        }
        (None, Some(r)) => ("-".to_string(), stream_layer(&store, &work, r)?),
        (None, None) => bail!("nothing to import"),
    };
    let config = new_config(
        &layer.diff_id,
        None,
        "glassbox image import",
        message.unwrap_or(&format!("Imported from {shown}")),
    );
    add_one_layer(&store, config, layer, tags)
}

fn add_one_layer(
    store: &Store,
    config: Vec<u8>,
    layer: Layer,
    tags: Vec<Reference>,
) -> Result<Done<String>> {
    add_image(
        store,
        NewImage {
            config,
            layers: vec![LayerFile {
                source: layer.source,
                media_type: None,
            }],
            manifest: None,
            tags,
            repo_digests: vec![],
        },
    )
}

/// A directory packed as a layer tar in the work directory. A plan packs
/// nothing: it hashes the tar the run would write, streamed (or, for a
/// directory an earlier planned step would have made, knows nothing).
fn pack_dir(work: &TempDir, dir: &Path) -> Result<Layer> {
    let out = work.0.join("layer.tar");
    let packed = Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("pack {} as a layer", dir.display()),
    )
    .arg("dir", dir.display())
    .shell(format!(
        "tar -cf layer.tar --numeric-owner --xattrs -C {} .",
        shell_quote(&dir.display().to_string())
    ))
    .apply(|| {
        let f = File::create(&out).with_context(|| format!("create {}", out.display()))?;
        let mut w = tar_dir(dir, BufWriter::new(f))?;
        w.flush().context("write the layer tar")
    })?;
    if packed.ran() {
        return file_layer(&out);
    }
    if !dir.is_dir() {
        return Ok(Layer {
            source: LayerSource::Unmade,
            diff_id: UNKNOWN.to_string(),
        });
    }
    let (_, digest, len) = tar_dir(dir, HashWriter::new(std::io::sink()))?.finish();
    Ok(Layer {
        source: LayerSource::Scanned {
            digest: digest.clone(),
            len,
            compression: Compression::None,
        },
        diff_id: digest,
    })
}

/// A layer file as it is: its diff id is the sha256 of its tar, once
/// decompressed.
fn file_layer(path: &Path) -> Result<Layer> {
    let f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let (r, _) = decompressed(BufReader::new(f))?;
    let (diff_id, _) = HashReader::new(r)
        .finish()
        .with_context(|| format!("read {}: is it a (compressed) tar file?", path.display()))?;
    Ok(Layer {
        source: LayerSource::File(path.to_path_buf()),
        diff_id,
    })
}

/// A layer on a stream: copied into the work directory; a plan reads it
/// through once, hashing it as stored and as decompressed.
fn stream_layer(store: &Store, work: &TempDir, r: &mut Stream) -> Result<Layer> {
    let path = work.0.join("input");
    if copy_stream(store, r, &path)?.ran() {
        return file_layer(&path);
    }
    let mut raw = HashReader::new(BufReader::new(r));
    let mut head = Vec::new();
    (&mut raw)
        .take(4)
        .read_to_end(&mut head)
        .context("read standard input")?;
    let (plain, _) = decompressed(head.as_slice().chain(&mut raw))?;
    let (diff_id, _) = HashReader::new(plain)
        .finish()
        .context("read standard input: is it a (compressed) tar file?")?;
    let (digest, len) = raw.finish().context("read standard input")?;
    Ok(Layer {
        source: LayerSource::Scanned {
            digest,
            len,
            compression: Compression::detect(&head),
        },
        diff_id,
    })
}

/// Tar a directory tree (numeric owners, modes, mtimes; symlinks as links)
/// into `w`.
fn tar_dir<W: Write>(dir: &Path, w: W) -> Result<W> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    b.append_dir_all(".", dir)
        .with_context(|| format!("pack {}", dir.display()))?;
    b.into_inner().context("finish the layer tar")
}

/// Where `name` is: itself if it has a `/`, else found on `$PATH`.
pub fn which(name: &str) -> Result<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        if !p.is_file() {
            bail!("{name}: no such file");
        }
        return std::path::absolute(&p).with_context(|| format!("resolve {name}"));
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    for d in path.split(':') {
        let p = Path::new(d).join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("{name}: not found on PATH (install it, or give its path)")
}

/// The shared libraries (and the dynamic loader) `ldd` lists.
pub fn parse_ldd(out: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for line in out.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            v.push(PathBuf::from(p));
        }
    }
    v
}

fn ldd(bin: &Path) -> Result<Vec<PathBuf>> {
    Step::new(
        Mechanism::Image,
        Action::Process,
        format!("list the shared libraries of {}", bin.display()),
    )
    .shell(format!("ldd {}", bin.display()))
    .why("a dynamically linked binary needs its libraries and the loader at the same paths inside the image")
    .man("ldd(1)")
    .observe(|| {
        let out = Command::new("ldd")
            .arg(bin)
            .output()
            .context("run ldd (install libc-bin)")?;
        // A static binary makes ldd fail with "not a dynamic executable".
        Ok(parse_ldd(&String::from_utf8_lossy(&out.stdout)))
    })
}

/// One host binary to copy into the image, with what it needs.
struct HostBinary {
    /// Where it was found (`/usr/bin/busybox`): its path in the image.
    found: PathBuf,
    /// The file itself (symlinks resolved).
    real: PathBuf,
    /// Its shared libraries (path in the image, file on the host).
    libs: Vec<(PathBuf, PathBuf)>,
    /// For busybox: its applets (`busybox --list-full`).
    applets: Vec<String>,
}

/// Find a binary, its libraries and (busybox) its applets: reads only,
/// so a plan knows what the stage step will copy.
fn host_binary(name: &str) -> Result<HostBinary> {
    let found = which(name)?;
    let real = fs::canonicalize(&found).with_context(|| format!("resolve {}", found.display()))?;
    let libs = ldd(&real)?
        .into_iter()
        .map(|lib| (fs::canonicalize(&lib).unwrap_or(lib.clone()), lib))
        .map(|(real, lib)| (lib, real))
        .collect();
    let applets = if found.file_name().is_some_and(|n| n == "busybox") {
        busybox_applets(&real)?
    } else {
        Vec::new()
    };
    Ok(HostBinary {
        found,
        real,
        libs,
        applets,
    })
}

/// `image from-host BIN... --tag NAME`: the new image id, or
/// `Done::Planned` under `--dry-run` (which finds the binaries, their
/// libraries and applets, and plans the rest: the layer's digests are
/// known only once a real run has staged and packed it).
pub fn from_host(root: &Root, bins: &[String], tag: &str) -> Result<Done<String>> {
    if bins.is_empty() {
        bail!("name at least one binary, e.g. busybox");
    }
    let tags = vec![Reference::parse(tag)?];
    let found = bins
        .iter()
        .map(|b| host_binary(b))
        .collect::<Result<Vec<_>>>()?;
    let mut cmd: Option<Vec<String>> = None;
    for b in &found {
        let inside = b.found.strip_prefix("/").unwrap_or(&b.found);
        if b.applets.is_empty() {
            cmd.get_or_insert_with(|| vec![format!("/{}", inside.display())]);
        } else {
            cmd.get_or_insert_with(|| vec!["sh".into()]);
        }
    }
    let store = Store::open(root)?;
    let work = TempDir::new(&store, "from-host")?;
    let stage = work.0.join("rootfs");
    Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("stage a rootfs from host binaries {}", bins.join(" ")),
    )
    .arg("dir", stage.display())
    .why("an image is only a directory tree plus metadata: host binaries and their libraries make a working one")
    .apply(|| stage_rootfs(&stage, &found))?;
    let layer = pack_dir(&work, &stage)?;
    let config = new_config(
        &layer.diff_id,
        cmd,
        "glassbox image import",
        &format!("built from host binaries: {}", bins.join(" ")),
    );
    add_one_layer(&store, config, layer, tags)
}

/// Make the image's tree in `stage`: a minimal /etc, the binaries at the
/// paths they were found under, their libraries, busybox's applet links.
fn stage_rootfs(stage: &Path, found: &[HostBinary]) -> Result<()> {
    for d in ["etc", "tmp", "proc", "sys", "dev", "root", "bin", "usr/bin"] {
        fs::create_dir_all(stage.join(d))?;
    }
    fs::set_permissions(stage.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::set_permissions(stage.join("root"), fs::Permissions::from_mode(0o700))?;
    fs::write(
        stage.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(stage.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    for b in found {
        // Keep the name it was found under (/usr/bin/busybox).
        let inside = copy_file_as(stage, &b.real, &b.found)?;
        for (lib, real_lib) in &b.libs {
            copy_file_as(stage, real_lib, lib)?;
        }
        link_applets(stage, &b.applets, &inside)?;
    }
    Ok(())
}

/// Copy `real` (a host file) to the image path `as_path`; returns the
/// path inside the image.
fn copy_file_as(stage: &Path, real: &Path, as_path: &Path) -> Result<PathBuf> {
    let rel = as_path.strip_prefix("/").unwrap_or(as_path).to_path_buf();
    let dest = stage.join(&rel);
    if fs::symlink_metadata(&dest).is_err() {
        if let Some(p) = dest.parent() {
            fs::create_dir_all(p).with_context(|| format!("mkdir {}", p.display()))?;
        }
        fs::copy(real, &dest)
            .with_context(|| format!("copy {} to {}", real.display(), dest.display()))?;
    }
    Ok(rel)
}

/// The paths of busybox's applets (`busybox --list-full`).
fn busybox_applets(real: &Path) -> Result<Vec<String>> {
    Step::new(
        Mechanism::Image,
        Action::Process,
        format!("list the applets of {}", real.display()),
    )
    .shell(format!("{} --list-full", real.display()))
    .why("busybox is one binary that acts as the command it is called as: each applet is a symlink to it")
    .man("busybox(1)")
    .observe(|| {
        let out = Command::new(real)
            .arg("--list-full")
            .output()
            .with_context(|| format!("run {} --list-full", real.display()))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty() && a != "linuxrc" && !a.contains(".."))
            .collect())
    })
}

/// One symlink per applet to `inside` (the binary's path in the image).
fn link_applets(stage: &Path, applets: &[String], inside: &Path) -> Result<()> {
    let target = Path::new("/").join(inside);
    for applet in applets {
        let link = stage.join(applet);
        if link.exists() || fs::symlink_metadata(&link).is_ok() {
            continue;
        }
        if let Some(p) = link.parent() {
            fs::create_dir_all(p)?;
        }
        std::os::unix::fs::symlink(&target, &link)
            .with_context(|| format!("symlink {}", link.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_parses() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n\
                   \tlibgone.so => not found\n";
        assert_eq!(
            parse_ldd(out),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
    }
}
