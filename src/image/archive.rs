//! Image archives: `docker save` tarballs and OCI image layouts.
//!
//! Docker's format has a `manifest.json` (`[{Config, RepoTags, Layers}]`,
//! paths inside the archive); since Docker 25 the same tarball is also an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`), and
//! the layer files are the uncompressed tars whose sha256 are the config's
//! diff ids. [`save`] writes that combined form (what Docker 25 to 28
//! write, and what `docker load` and `skopeo` read); [`load`] reads it,
//! the older form with `<id>/layer.tar` files, and plain OCI layout
//! archives. The archive is unpacked with the same safe unpacker as
//! layers, into a temporary directory removed afterwards.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::add::{LayerFile, NewImage, add_image};
use super::digest::{HashWriter, hex_part, sha256_of};
use super::manifest::{Document, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, Platform};
use super::reference::Reference;
use super::store::Store;
use super::unpack::{decompressed, safe_relative, unpack_layer};
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

/// A temporary directory in the store, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(store: &Store, what: &str) -> Result<TempDir> {
        let base = store.dir.join("tmp");
        fs::create_dir_all(&base).with_context(|| format!("mkdir {}", base.display()))?;
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let p = base.join(format!(
            "{what}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        fs::create_dir(&p).with_context(|| format!("mkdir {}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A path from the archive's JSON, kept inside the archive's directory.
fn inside(dir: &Path, p: &str) -> Result<PathBuf> {
    let rel = safe_relative(p.as_bytes()).with_context(|| format!("archive path {p:?}"))?;
    let full = dir.join(rel);
    if !full.is_file() {
        bail!(
            "the archive names {p:?} but does not contain it: the archive is truncated or incomplete"
        );
    }
    Ok(full)
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
    })?;
    let dir = &tmp.0;
    let mut lines = Vec::new();
    if dir.join("manifest.json").is_file() {
        let entries: Vec<DockerManifestEntry> = serde_json::from_slice(
            &fs::read(dir.join("manifest.json")).context("read manifest.json")?,
        )
        .context("manifest.json is not a docker save manifest")?;
        let originals = oci_manifests(dir).unwrap_or_default();
        for e in entries {
            let config = fs::read(inside(dir, &e.config)?).context("read the image config")?;
            let id = sha256_of(&config);
            let layers = e
                .layers
                .iter()
                .map(|l| {
                    Ok(LayerFile {
                        path: inside(dir, l)?,
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
            add_image(
                &store,
                NewImage {
                    config,
                    layers,
                    manifest,
                    tags: tags.clone(),
                    repo_digests: vec![],
                },
            )?;
            loaded_lines(&mut lines, &id, &tags);
        }
    } else if dir.join("index.json").is_file() {
        for (id, tags) in load_oci_layout(&store, dir)? {
            loaded_lines(&mut lines, &id, &tags);
        }
    } else {
        bail!(
            "{} is neither a docker save archive nor an OCI layout (no manifest.json or index.json)",
            input.display()
        );
    }
    Ok(lines)
}

fn loaded_lines(lines: &mut Vec<String>, id: &str, tags: &[Reference]) {
    if tags.is_empty() {
        lines.push(format!("Loaded image ID: {id}"));
    }
    for t in tags {
        lines.push(format!("Loaded image: {}", t.familiar()));
    }
}

/// The OCI manifests of a layout, by config digest (to keep the originals).
fn oci_manifests(dir: &Path) -> Result<BTreeMap<String, (Vec<u8>, String)>> {
    let mut out = BTreeMap::new();
    let idx = fs::read(dir.join("index.json"))?;
    let Document::Index(index) = Document::parse(&idx, Some(OCI_INDEX))? else {
        return Ok(out);
    };
    for d in index.manifests {
        let Ok(bytes) = fs::read(blob_in(dir, &d.digest)?) else {
            continue;
        };
        if sha256_of(&bytes) != d.digest {
            continue;
        }
        if let Ok(Document::Manifest(m)) = Document::parse(&bytes, Some(&d.media_type)) {
            out.insert(m.config.digest.clone(), (bytes, d.media_type.clone()));
        }
    }
    Ok(out)
}

fn blob_in(dir: &Path, digest: &str) -> Result<PathBuf> {
    super::reference::validate_digest(digest).map_err(|e| anyhow::anyhow!(e))?;
    Ok(dir.join("blobs/sha256").join(hex_part(digest)))
}

/// Read a verified blob of an OCI layout.
fn layout_blob(dir: &Path, digest: &str) -> Result<Vec<u8>> {
    let p = blob_in(dir, digest)?;
    let bytes = fs::read(&p).with_context(|| format!("the layout has no blob {digest}"))?;
    if sha256_of(&bytes) != digest {
        bail!("blob {digest} of the layout is corrupt: refusing it");
    }
    Ok(bytes)
}

/// Load every image an OCI layout's index.json names.
fn load_oci_layout(store: &Store, dir: &Path) -> Result<Vec<(String, Vec<Reference>)>> {
    let idx = fs::read(dir.join("index.json")).context("read index.json")?;
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
                    path: blob_in(dir, &l.digest)?,
                    media_type: Some(l.media_type.clone()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tags: Vec<Reference> = name.into_iter().collect();
        let id = add_image(
            store,
            NewImage {
                config,
                layers,
                manifest: Some((mbytes, mt)),
                tags: tags.clone(),
                repo_digests: vec![],
            },
        )?;
        out.push((id, tags));
    }
    Ok(out)
}

/// `image save`: write the images (and the tags given) to `out`.
pub fn save(root: &Root, refs: &[String], out: &Path) -> Result<()> {
    let store = Store::open(root)?;
    let images = store.images()?;
    // Image id -> the tags asked for.
    let mut wanted: BTreeMap<String, Vec<Reference>> = BTreeMap::new();
    for r in refs {
        let id = images.resolve(r)?;
        let tags = wanted.entry(id.clone()).or_default();
        if let Ok(parsed) = Reference::parse(r)
            && parsed.digest.is_none()
            && parsed
                .tagged()
                .is_some_and(|t| images.tags.get(&t) == Some(&id))
        {
            tags.push(parsed);
        }
    }
    let tmp_out = out.with_file_name(format!(
        ".{}.tmp-{}",
        out.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let step = Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("write archive {}", out.display()),
    )
    .arg("images", refs.join(" "))
    .why("a docker save archive is also an OCI image layout: manifest.json for docker load, index.json and blobs/ for OCI tools");
    let result = step.run(|| {
        let work = TempDir::new(&store, "save")?;
        let f = File::create(&tmp_out).with_context(|| format!("create {}", tmp_out.display()))?;
        let mut tar = tar::Builder::new(BufWriter::new(f));
        tar.mode(tar::HeaderMode::Deterministic);
        let mut written = std::collections::BTreeSet::new();
        let mut docker_manifest = Vec::new();
        let mut index_entries = Vec::new();
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            tar.append_data(&mut h, dir, io::empty())?;
        }
        let mut add_blob = |tar: &mut tar::Builder<BufWriter<File>>,
                            digest: &str,
                            path: &Path|
         -> Result<String> {
            let name = format!("blobs/sha256/{}", hex_part(digest));
            if written.insert(name.clone()) {
                let mut f = File::open(path).with_context(|| format!("open {}", path.display()))?;
                tar.append_file(&name, &mut f)
                    .with_context(|| format!("add {name} to the archive"))?;
            }
            Ok(name)
        };
        for (id, tags) in &wanted {
            let rec = &images.images[id];
            let config_path = store.blob_path(id);
            let config_name = add_blob(&mut tar, id, &config_path)?;
            let mut layer_names = Vec::new();
            let mut layer_descs = Vec::new();
            for l in &rec.layers {
                // The uncompressed tar: its digest is the diff id.
                let plain = work.0.join(hex_part(&l.diff_id));
                let size = if plain.exists() {
                    fs::metadata(&plain)?.len()
                } else {
                    let blob = File::open(store.blob_path(&l.digest)).with_context(|| {
                        format!(
                            "the store has no blob {} for layer {}",
                            l.digest, l.chain_id
                        )
                    })?;
                    let (mut r, _) = decompressed(BufReader::new(blob))?;
                    let mut w = HashWriter::new(BufWriter::new(File::create(&plain)?));
                    io::copy(&mut r, &mut w).context("decompress the layer")?;
                    let (mut bw, digest, n) = w.finish();
                    bw.flush()?;
                    if digest != l.diff_id {
                        bail!(
                            "stored layer {} decompresses to {digest}, not its diff id {}",
                            l.digest,
                            l.diff_id
                        );
                    }
                    n
                };
                layer_names.push(add_blob(&mut tar, &l.diff_id, &plain)?);
                layer_descs.push(serde_json::json!({
                    "mediaType": OCI_LAYER, "digest": l.diff_id, "size": size,
                }));
            }
            let config_size = fs::metadata(&config_path)?.len();
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": id, "size": config_size},
                "layers": layer_descs,
            });
            let mbytes = serde_json::to_vec(&manifest)?;
            let mdigest = sha256_of(&mbytes);
            let mpath = work.0.join(format!("manifest-{}", hex_part(&mdigest)));
            fs::write(&mpath, &mbytes)?;
            add_blob(&mut tar, &mdigest, &mpath)?;
            let repo_tags: Vec<String> = tags.iter().map(|t| t.familiar()).collect();
            if tags.is_empty() {
                index_entries.push(serde_json::json!({
                    "mediaType": OCI_MANIFEST, "digest": mdigest, "size": mbytes.len(),
                }));
            }
            for t in tags {
                index_entries.push(serde_json::json!({
                    "mediaType": OCI_MANIFEST, "digest": mdigest, "size": mbytes.len(),
                    "annotations": {
                        "io.containerd.image.name": t.to_string(),
                        "org.opencontainers.image.ref.name": t.tag.clone().unwrap_or_default(),
                    },
                }));
            }
            docker_manifest.push(DockerManifestEntry {
                config: config_name,
                repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
                layers: layer_names,
            });
        }
        let small =
            |tar: &mut tar::Builder<BufWriter<File>>, name: &str, bytes: &[u8]| -> Result<()> {
                let mut h = tar::Header::new_ustar();
                h.set_mode(0o644);
                h.set_size(bytes.len() as u64);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                tar.append_data(&mut h, name, bytes)
                    .with_context(|| format!("add {name} to the archive"))
            };
        small(
            &mut tar,
            "index.json",
            &serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries,
            }))?,
        )?;
        small(
            &mut tar,
            "manifest.json",
            &serde_json::to_vec(&docker_manifest)?,
        )?;
        small(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let mut w = tar.into_inner().context("finish the archive")?;
        w.flush().context("write the archive")?;
        w.get_ref().sync_all().context("fsync the archive")?;
        fs::rename(&tmp_out, out)
            .with_context(|| format!("rename {} to {}", tmp_out.display(), out.display()))?;
        Ok(())
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp_out);
    }
    result
}
