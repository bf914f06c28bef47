//! Image archives in: `image load` of a `docker save` tarball or of an
//! OCI image layout.
//!
//! Docker's format has a `manifest.json` (`[{Config, RepoTags, Layers}]`,
//! paths inside the archive); since Docker 25 the same tarball is also an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`), and
//! the layer files are the uncompressed tars whose sha256 are the config's
//! diff ids. [`load`] reads that form (what [`super::save`] writes), the
//! older one with `<id>/layer.tar` files, and plain OCI layout archives.
//! The archive is unpacked with the same safe unpacker as layers (so it
//! stops before the disk fills, see [`super::space`]) into a temporary
//! directory, removed afterwards. Only its regular files are read
//! ([`super::member`]), and every member the archive names is checked
//! before the first image enters the store: a refused archive adds
//! nothing. Read the OCI image spec's `image-layout.md`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::add::{LayerFile, NewImage, add_image};
use super::digest::{hex_part, sha256_of};
use super::manifest::{Document, OCI_INDEX, Platform};
use super::member;
use super::reference::Reference;
use super::store::Store;
use super::unpack::unpack_layer;
use crate::state::Root;
use crate::trace::{Action, Mechanism, Step};

/// One entry of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DockerManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// A temporary directory in the store (`tmp/WHAT-PID-N`), removed when
/// dropped. One left by a process that died is swept by the next command
/// that opens the store, and named by `doctor` until then.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(store: &Store, what: &str) -> Result<TempDir> {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let p = store.dir.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        Step::new(
            Mechanism::Image,
            Action::Filesystem,
            format!("create work directory {}", p.display()),
        )
        .arg("path", p.display())
        .shell(format!("mkdir -p {}", p.display()))
        .why("work in progress stays in tmp/ under the store, named by its process, until it is complete")
        .detail()
        .run(|| {
            let base = store.dir.join("tmp");
            std::fs::create_dir_all(&base)
                .with_context(|| format!("mkdir {}", base.display()))?;
            std::fs::create_dir(&p).with_context(|| format!("mkdir {}", p.display()))
        })?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = crate::host::remove_dir_all(
            Mechanism::Image,
            &self.0,
            "the work directory is no longer needed",
        );
    }
}

/// One image of an archive, checked, ready to enter the store.
struct Planned {
    new: NewImage,
    tags: Vec<Reference>,
}

/// `image load`: the lines Docker prints (`Loaded image: busybox:latest`).
pub fn load(root: &Root, input: &Path) -> Result<Vec<String>> {
    let store = Store::open(root)?;
    let tmp = TempDir::new(&store, "load")?;
    Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("unpack archive {}", input.display()),
    )
    .arg("archive", input.display())
    .shell(format!(
        "tar -xf {} -C {}",
        input.display(),
        tmp.0.display()
    ))
    .run(|| {
        let f = File::open(input).with_context(|| format!("open {}", input.display()))?;
        unpack_layer(BufReader::new(f), &tmp.0)
            .with_context(|| format!("read archive {}", input.display()))
            .map(|_| ())
    })
    .map_err(|e| store.explain_no_room(e))?;
    let dir = &tmp.0;
    let planned = if member::exists(dir, "manifest.json") {
        plan_docker(dir)?
    } else if member::exists(dir, "index.json") {
        plan_oci_layout(dir)?
    } else {
        bail!(
            "{} is neither a docker save archive nor an OCI layout (no manifest.json or index.json)",
            input.display()
        );
    };
    let mut lines = Vec::new();
    for p in planned {
        let id = add_image(&store, p.new)?;
        loaded_lines(&mut lines, &id, &p.tags);
    }
    Ok(lines)
}

/// The images of a `docker save` archive, every member checked.
fn plan_docker(dir: &Path) -> Result<Vec<Planned>> {
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&member::read(dir, "manifest.json")?)
            .context("manifest.json is not a docker save manifest")?;
    let originals = if member::exists(dir, "index.json") {
        oci_manifests(dir)?
    } else {
        BTreeMap::new()
    };
    let mut out = Vec::new();
    for e in entries {
        let config = member::read(dir, &e.config).context("read the image config")?;
        let id = sha256_of(&config);
        let layers = e
            .layers
            .iter()
            .map(|l| {
                Ok(LayerFile {
                    path: member::member(dir, l)?,
                    media_type: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tags = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<Vec<_>>>()?;
        let manifest = originals.get(&id).cloned();
        out.push(Planned {
            new: NewImage {
                config,
                layers,
                manifest,
                tags: tags.clone(),
                repo_digests: vec![],
            },
            tags,
        });
    }
    Ok(out)
}

fn loaded_lines(lines: &mut Vec<String>, id: &str, tags: &[Reference]) {
    if tags.is_empty() {
        lines.push(format!("Loaded image ID: {id}"));
    }
    for t in tags {
        lines.push(format!("Loaded image: {}", t.familiar()));
    }
}

/// The OCI manifests of a layout, by config digest (to keep the
/// originals). Blobs it lacks are skipped; blobs that are not regular
/// files refuse the archive.
fn oci_manifests(dir: &Path) -> Result<BTreeMap<String, (Vec<u8>, String)>> {
    let mut out = BTreeMap::new();
    let idx = member::read(dir, "index.json")?;
    let Ok(Document::Index(index)) = Document::parse(&idx, Some(OCI_INDEX)) else {
        return Ok(out);
    };
    for d in index.manifests {
        let name = blob_name(&d.digest)?;
        if !member::exists(dir, &name) {
            continue;
        }
        let bytes = member::read(dir, &name)?;
        if sha256_of(&bytes) != d.digest {
            continue;
        }
        if let Ok(Document::Manifest(m)) = Document::parse(&bytes, Some(&d.media_type)) {
            out.insert(m.config.digest.clone(), (bytes, d.media_type.clone()));
        }
    }
    Ok(out)
}

/// `blobs/sha256/<hex>` of a valid digest.
fn blob_name(digest: &str) -> Result<String> {
    super::reference::validate_digest(digest).map_err(|e| anyhow::anyhow!(e))?;
    Ok(format!("blobs/sha256/{}", hex_part(digest)))
}

/// Read a verified blob of an OCI layout.
fn layout_blob(dir: &Path, digest: &str) -> Result<Vec<u8>> {
    let name = blob_name(digest)?;
    let bytes = member::read(dir, &name).with_context(|| format!("the layout's blob {digest}"))?;
    if sha256_of(&bytes) != digest {
        bail!("blob {digest} of the layout is corrupt: refusing it");
    }
    Ok(bytes)
}

/// Every image an OCI layout's index.json names, every member checked.
fn plan_oci_layout(dir: &Path) -> Result<Vec<Planned>> {
    let idx = member::read(dir, "index.json")?;
    let Document::Index(index) = Document::parse(&idx, Some(OCI_INDEX))? else {
        bail!("index.json is not an image index");
    };
    let mut out = Vec::new();
    for d in &index.manifests {
        let annotations = d.annotations.clone().unwrap_or_default();
        let name = annotations
            .get("io.containerd.image.name")
            .or_else(|| annotations.get("org.opencontainers.image.ref.name"))
            .and_then(|n| Reference::parse(n).ok())
            .filter(|_r| {
                annotations.contains_key("io.containerd.image.name")
                    || annotations
                        .get("org.opencontainers.image.ref.name")
                        .is_some_and(|n| n.contains('/') || n.contains(':'))
            });
        let bytes = layout_blob(dir, &d.digest)?;
        let (mbytes, mt, m) = match Document::parse(&bytes, Some(&d.media_type))? {
            Document::Manifest(m) => (bytes, d.media_type.clone(), m),
            Document::Index(inner) => {
                let c = inner.choose(&Platform::host())?;
                let b = layout_blob(dir, &c.digest)?;
                match Document::parse(&b, Some(&c.media_type))? {
                    Document::Manifest(m) => (b, c.media_type.clone(), m),
                    Document::Index(_) => bail!("nested index {} is not supported", c.digest),
                }
            }
        };
        let config = layout_blob(dir, &m.config.digest)?;
        let layers = m
            .layers
            .iter()
            .map(|l| {
                super::manifest::check_layer_media_type(&l.media_type)?;
                Ok(LayerFile {
                    path: member::member(dir, &blob_name(&l.digest)?)?,
                    media_type: Some(l.media_type.clone()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tags: Vec<Reference> = name.into_iter().collect();
        out.push(Planned {
            new: NewImage {
                config,
                layers,
                manifest: Some((mbytes, mt)),
                tags: tags.clone(),
                repo_digests: vec![],
            },
            tags,
        });
    }
    Ok(out)
}
