//! `commit`: a new image from a container's changes, as `docker commit`
//! makes one. The container is paused first (the cgroup freezer, see
//! [`super::pause`]) so that nothing writes to its layer while it is read;
//! its writable layer (overlay's `upperdir`) is written as an OCI layer
//! tar, overlay's whiteouts (0/0 character devices) and opaque directories
//! (`trusted.overlay.opaque=y`) turned into `.wh.NAME` and `.wh..wh..opq`
//! entries ([`crate::unionfs::whiteout::write_oci_tar`]); the tar is
//! compressed and stored as the top layer of an image whose lower layers
//! are the container's image's own, shared, not copied
//! ([`crate::image::commit`]). What the init layer provides (mount points
//! for /proc, /dev, /etc/hosts, ...) is below the container's layer, so it
//! never enters the image; what a bind mount shows lives on the host, not
//! in the layer. The container is thawed at the end, whatever happened.
//! Read `Documentation/filesystems/overlayfs.rst` and the OCI image
//! spec's layer.md.

use std::fs::File;
use std::io::{BufWriter, Write};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::state::{Container, Status};
use super::{pause, shim};
use crate::host::shell_quote;
use crate::image::add::LayerSource;
use crate::image::archive::TempDir;
use crate::image::commit::{Child, NewLayer, commit_image};
use crate::image::digest::{HashWriter, UNKNOWN};
use crate::image::reference::Reference;
use crate::image::store::Store;
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};
use crate::unionfs::whiteout::{
    LayerEntry, overlay_to_oci, without_mount_points, write_oci_entries,
};

/// `commit`'s options (Docker's flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `[REPOSITORY[:TAG]]`.
    pub reference: Option<String>,
    /// `-a`.
    pub author: String,
    /// `-m`.
    pub message: String,
    /// `-c`, each a Dockerfile instruction.
    pub changes: Vec<String>,
    /// `--pause` (Docker's default: true).
    pub pause: bool,
}

/// The tag a commit gives, checked as the Docker client checks it
/// (`invalid reference format`, no digest).
pub fn check_reference(reference: Option<&str>) -> Result<Vec<Reference>> {
    let Some(r) = reference.filter(|r| !r.is_empty()) else {
        return Ok(vec![]);
    };
    let parsed = Reference::parse(r)?;
    if parsed.digest.is_some() {
        bail!("refusing to create a tag with a digest reference");
    }
    Ok(vec![parsed])
}

/// The new image's `config`: the container's, without what glassbox puts
/// in every container's environment (`HOSTNAME`, `TERM` of a terminal),
/// with the `-c` changes applied. Pure.
pub fn image_config(c: &Container, changes: &[String]) -> Result<Value> {
    let mut cfg = c.config.clone();
    let hostname = format!("HOSTNAME={}", cfg.hostname);
    let tty = cfg.tty;
    cfg.env
        .retain(|e| *e != hostname && !(tty && e.as_str() == "TERM=xterm"));
    let mut v = serde_json::to_value(&cfg).context("serialize the container's config")?;
    for key in ["Cmd", "Entrypoint"] {
        if v[key].as_array().is_some_and(|a| a.is_empty()) {
            v[key] = Value::Null;
        }
    }
    crate::image::instructions::apply(&v, changes)
}

/// `commit CONTAINER [REF]`: the new image's id (`sha256:...`), or
/// `Done::Planned` under `--dry-run`. Bad input (a reference, a change)
/// is refused before anything is paused or written; a failure takes back
/// what the store got, and the container is thawed in every case.
pub fn commit(root: &Root, c: &Container, o: &Options) -> Result<Done<String>> {
    let tags = check_reference(o.reference.as_deref())?;
    let config = image_config(c, &o.changes)?;
    match c.state.status {
        Status::Removing => bail!(
            "You cannot commit container {} which is being removed",
            c.id
        ),
        Status::Dead => bail!("You cannot commit container {} which is Dead", c.id),
        _ => {}
    }
    let freeze = o.pause
        && shim::runs(c.state.status)
        && c.state.status != Status::Paused
        && !crate::trace::dry_run();
    if freeze {
        pause::pause(root, c).context("pause the container for the commit")?;
    }
    let made = build(root, c, o, config, tags);
    if freeze && let Err(e) = pause::unpause(root, c) {
        // It ended meanwhile, or someone unpaused it: nothing is frozen.
        crate::trace::warn(format!("unpause after the commit: {e:#}"));
    }
    let id = made?;
    if let Done::Ran(image) = &id {
        // Docker's commit event names the comment, the image and its tag.
        let tag = o
            .reference
            .as_deref()
            .and_then(|r| Reference::parse(r).ok().map(|r| r.familiar()));
        crate::events::record(
            root,
            crate::events::Event::container(c, "commit")
                .attr("comment", &o.message)
                .attr("imageID", image)
                .attr("imageRef", tag.unwrap_or_default()),
        );
    }
    Ok(id)
}

fn build(
    root: &Root,
    c: &Container,
    o: &Options,
    config: Value,
    tags: Vec<Reference>,
) -> Result<Done<String>> {
    let store = Store::open(root)?;
    let work = TempDir::new(&store, "commit")?;
    let upper = &c.rootfs.upper;
    let entries = Step::new(
        Mechanism::Unionfs,
        Action::FileRead,
        format!("read the container's layer {}", upper.display()),
    )
    .arg("upper", upper.display())
    .shell(format!(
        "find {} -mindepth 1 | head",
        shell_quote(&upper.display().to_string())
    ))
    .detail()
    .observe(|| {
        Ok(without_mount_points(
            upper,
            overlay_to_oci(upper)?,
            &mount_points(c),
        ))
    })?;
    let layer = if entries.is_empty() {
        crate::trace::say(
            Mechanism::Image,
            "the container changed nothing: the image gets no new layer (an empty_layer history entry, as Docker's)",
        );
        None
    } else {
        Some(pack(&work, upper, entries)?)
    };
    let mut created_by = c.config.cmd.clone();
    if created_by.is_empty() {
        created_by.push(c.path.clone());
        created_by.extend(c.args.iter().cloned());
    }
    commit_image(
        &store,
        Child {
            parent: c.image.clone(),
            layer,
            config,
            author: o.author.clone(),
            comment: o.message.clone(),
            created_by: created_by.join(" "),
            container: c.id.clone(),
            tags,
        },
    )
}

/// Where `c` mounts volumes, binds and tmpfs, relative to its root: the
/// mount points its layer holds are left out of the commit.
fn mount_points(c: &Container) -> Vec<std::path::PathBuf> {
    super::mounts::points(c)
        .iter()
        .map(|m| std::path::PathBuf::from(m.destination.trim_start_matches('/')))
        .collect()
}

/// Tar the upper directory (whiteouts in OCI form) and gzip it, in the
/// work directory; the layer file and its diff id.
fn pack(work: &TempDir, upper: &std::path::Path, entries: Vec<LayerEntry>) -> Result<NewLayer> {
    let tar = work.0.join("layer.tar");
    let gz = work.0.join("layer.tar.gz");
    let shown = shell_quote(&upper.display().to_string());
    let diff_id = Step::new(
        Mechanism::Unionfs,
        Action::Filesystem,
        format!("tar the container's layer {} as an OCI layer", upper.display()),
    )
    .arg("upper", upper.display())
    .arg("out", tar.display())
    .shell(format!(
        "tar -cpf {} --numeric-owner --xattrs -C {shown} .   # each 0/0 device as .wh.NAME, each opaque directory with .wh..wh..opq",
        tar.display()
    ))
    .why("an image layer is a tar of changes; overlay's whiteouts (0/0 character devices) and opaque xattrs become the .wh. names every OCI tool reads")
    .man("tar(5)")
    .apply(|| {
        let f = File::create(&tar).with_context(|| format!("create {}", tar.display()))?;
        let mut w = HashWriter::new(BufWriter::new(f));
        write_oci_entries(upper, entries, &mut w)?;
        w.flush().with_context(|| format!("write {}", tar.display()))?;
        let (_, diff_id, _) = w.finish();
        Ok(diff_id)
    })?;
    let Done::Ran(diff_id) = diff_id else {
        return Ok(NewLayer {
            source: LayerSource::Unmade,
            diff_id: UNKNOWN.to_string(),
        });
    };
    Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("compress {}", tar.display()),
    )
    .arg("in", tar.display())
    .arg("out", gz.display())
    .shell(format!("gzip -n {}", tar.display()))
    .why("layers travel compressed (tar+gzip); the diff id stays the sha256 of the tar itself")
    .man("gzip(1)")
    .run(|| {
        let mut input = File::open(&tar).with_context(|| format!("open {}", tar.display()))?;
        let out = File::create(&gz).with_context(|| format!("create {}", gz.display()))?;
        let mut enc =
            flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::fast());
        std::io::copy(&mut input, &mut enc)
            .with_context(|| format!("compress {}", tar.display()))?;
        enc.finish()
            .and_then(|mut w| w.flush())
            .with_context(|| format!("write {}", gz.display()))?;
        std::fs::remove_file(&tar).with_context(|| format!("remove {}", tar.display()))
    })?;
    Ok(NewLayer {
        source: LayerSource::File(gz),
        diff_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_checked_as_dockers_client_does() {
        assert!(check_reference(None).unwrap().is_empty());
        assert_eq!(check_reference(Some("mine:2")).unwrap().len(), 1);
        let e = format!("{:#}", check_reference(Some("Bad:Tag")).unwrap_err());
        assert!(e.starts_with("invalid reference format"), "{e}");
        let digest = format!("a@sha256:{}", "0".repeat(64));
        assert_eq!(
            check_reference(Some(&digest)).unwrap_err().to_string(),
            "refusing to create a tag with a digest reference"
        );
    }

    #[test]
    fn the_image_config_is_the_containers_without_glassboxs_own_env() {
        let mut c = Container::default();
        c.config.hostname = "abc".into();
        c.config.tty = true;
        c.config.env = vec![
            "PATH=/bin".into(),
            "HOSTNAME=abc".into(),
            "TERM=xterm".into(),
            "A=1".into(),
        ];
        c.config.cmd = vec!["sh".into()];
        let v = image_config(&c, &["ENV B=2".into()]).unwrap();
        assert_eq!(v["Env"], serde_json::json!(["PATH=/bin", "A=1", "B=2"]));
        assert_eq!(v["Cmd"], serde_json::json!(["sh"]));
        assert_eq!(v["Entrypoint"], Value::Null);
        let e = image_config(&c, &["FOO bar".into()]).unwrap_err();
        assert_eq!(e.to_string(), "foo is not a valid change command");
    }
}
