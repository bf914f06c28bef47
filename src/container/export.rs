//! `export`: a container's whole filesystem as one tar stream, as Docker
//! exports it: the files of its layers (the image's, with its writable
//! layer on top), without its volumes and bind mounts, and with `/proc`
//! and `/sys` as the empty directories they are in the layers. The
//! layers are mounted as a read-only overlay (the writable layer as the
//! top lower layer, no upper) in a private mount namespace of a
//! short-lived child (see [`super::view`]), so a running container's
//! mounts are never in the view, and nothing is left mounted on the host.
//! Read `overlayfs` (Documentation/filesystems/overlayfs.rst), `tar(5)`.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

use super::copy::{archive::TarSink, walk};
use super::state;
use super::view::{self, Purpose};
use crate::image::output::Output;
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// Write the filesystem of container `name` to `out` (a file, written
/// atomically beside it) or to stdout; the bytes of file content.
pub fn export(root: &Root, name: &str, out: Option<&Path>) -> Result<u64> {
    let c = state::find(root, name)?;
    let shown = match out {
        Some(p) => p.display().to_string(),
        None => "standard output".to_string(),
    };
    let lowers: Vec<String> = std::iter::once(&c.rootfs.upper)
        .chain(c.rootfs.lower.iter())
        .map(|p| p.display().to_string())
        .collect();
    Step::new(
        Mechanism::Run,
        Action::Filesystem,
        format!("export {} to {shown}", c.name),
    )
    .arg("container", &c.id)
    .arg("output", &shown)
    .shell(format!(
        "unshare --mount sh -c 'mount -t overlay overlay -o ro,lowerdir={} {m} && tar -C {m} -cf - .'{}",
        lowers.join(":"),
        out.map(|p| format!(" > {}", p.display())).unwrap_or_default(),
        m = c.rootfs.merged.display()
    ))
    .why("the container's layers, its writable layer on top, mounted read-only where only this command sees them: its own files, without its volumes, bind mounts, /proc or /sys; a regular file is written beside the destination and renamed over it, so a failed export leaves nothing")
    .man("tar(5)")
    .run(|| {
        let (output, file) = match out {
            Some(p) => Output::open(p)?,
            None => Output::stdout()?,
        };
        let mine = file.try_clone().context("dup(2) the output")?;
        let bytes = view::with_root(root, &c, Purpose::Export, |anchor| {
            let top = anchor
                .open_dir(Path::new("/"))
                .with_context(|| anchor.what("open", Path::new("/")))?;
            let mut sink = TarSink::new(BufWriter::new(mine));
            sink.dot = false;
            walk::walk(&top, Path::new("."), &mut sink)?;
            let bytes = sink.bytes;
            sink.finish()?
                .flush()
                .with_context(|| format!("write {shown}"))?;
            Ok(bytes)
        })?;
        output.finish(file)?;
        Ok(bytes)
    })
}
