//! One-layer images made here: `image import` (a rootfs tarball or
//! directory, like `docker import`) and `image from-host` (binaries
//! already on this machine plus the shared libraries `ldd(1)` says they
//! need; for busybox, one symlink per applet), so a first container runs
//! with no registry at all.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::add::{LayerFile, NewImage, add_image, new_config};
use super::archive::TempDir;
use super::digest::HashReader;
use super::reference::Reference;
use super::store::Store;
use super::unpack::decompressed;
use crate::host::shell_quote;
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// `image import SOURCE [REF]`: returns the new image id.
pub fn import(
    root: &Root,
    source: &Path,
    reference: Option<&str>,
    message: Option<&str>,
    cmd: Option<Vec<String>>,
) -> Result<String> {
    let tags = reference
        .map(Reference::parse)
        .transpose()?
        .into_iter()
        .collect::<Vec<_>>();
    let store = Store::open(root)?;
    let work = TempDir::new(&store, "import")?;
    let layer = if source.is_dir() {
        let out = work.0.join("layer.tar");
        Step::new(
            Mechanism::Image,
            Action::Filesystem,
            format!("pack {} as a layer", source.display()),
        )
        .shell(format!(
            "tar -cf layer.tar --numeric-owner --xattrs -C {} .",
            shell_quote(&source.display().to_string())
        ))
        .run(|| tar_dir(source, &out))?;
        out
    } else {
        if !source.is_file() {
            bail!("{}: no such file or directory", source.display());
        }
        source.to_path_buf()
    };
    let f = File::open(&layer).with_context(|| format!("open {}", layer.display()))?;
    let (r, _) = decompressed(BufReader::new(f))?;
    let (diff_id, _) = HashReader::new(r)
        .finish()
        .with_context(|| format!("read {}: is it a (compressed) tar file?", layer.display()))?;
    let config = new_config(
        &diff_id,
        cmd,
        "glassbox image import",
        message.unwrap_or(&format!("Imported from {}", source.display())),
    );
    add_image(
        &store,
        NewImage {
            config,
            layers: vec![LayerFile {
                path: layer,
                media_type: None,
            }],
            manifest: None,
            tags,
            repo_digests: vec![],
        },
    )
}

/// Tar a directory tree (numeric owners, modes, mtimes; symlinks as links).
fn tar_dir(dir: &Path, out: &Path) -> Result<()> {
    let f = File::create(out).with_context(|| format!("create {}", out.display()))?;
    let mut b = tar::Builder::new(BufWriter::new(f));
    b.follow_symlinks(false);
    b.mode(tar::HeaderMode::Complete);
    b.append_dir_all(".", dir)
        .with_context(|| format!("pack {}", dir.display()))?;
    let mut w = b.into_inner().context("finish the layer tar")?;
    w.flush().context("write the layer tar")?;
    Ok(())
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

/// `image from-host BIN... --tag NAME`: returns the new image id.
pub fn from_host(root: &Root, bins: &[String], tag: &str) -> Result<String> {
    if bins.is_empty() {
        bail!("name at least one binary, e.g. busybox");
    }
    Reference::parse(tag)?;
    let store = Store::open(root)?;
    let work = TempDir::new(&store, "from-host")?;
    let stage = work.0.join("rootfs");
    let mut cmd: Option<Vec<String>> = None;
    Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("stage a rootfs from host binaries {}", bins.join(" ")),
    )
    .arg("dir", stage.display())
    .why("an image is only a directory tree plus metadata: host binaries and their libraries make a working one")
    .run(|| {
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
        for b in bins {
            let host = which(b)?;
            let real = fs::canonicalize(&host)
                .with_context(|| format!("resolve {}", host.display()))?;
            // Keep the name it was found under (/usr/bin/busybox).
            let inside = copy_file_as(&stage, &real, &host)?;
            for lib in ldd(&real)? {
                let real_lib = fs::canonicalize(&lib).unwrap_or(lib.clone());
                copy_file_as(&stage, &real_lib, &lib)?;
            }
            let name = host.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if name == "busybox" {
                busybox_applets(&stage, &real, &inside)?;
                cmd.get_or_insert_with(|| vec!["sh".into()]);
            } else {
                cmd.get_or_insert_with(|| vec![format!("/{}", inside.display())]);
            }
        }
        Ok(())
    })?;
    import(
        root,
        &stage,
        Some(tag),
        Some(&format!("built from host binaries: {}", bins.join(" "))),
        cmd,
    )
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

/// One symlink per busybox applet, at the path `busybox --list-full` gives.
fn busybox_applets(stage: &Path, real: &Path, inside: &Path) -> Result<()> {
    let out = Command::new(real)
        .arg("--list-full")
        .output()
        .with_context(|| format!("run {} --list-full", real.display()))?;
    let target = Path::new("/").join(inside);
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "linuxrc" || applet.contains("..") {
            continue;
        }
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
