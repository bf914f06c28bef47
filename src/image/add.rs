//! Adding an image from local files (`load`, `import`, `from-host`): the
//! same store rules as a pull. Each layer file is checked against the
//! config's diff id while it is unpacked, stored as a blob under its own
//! sha256, and the image is recorded with a manifest (the original one if
//! there is one, else one written here, OCI style).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::digest::{UNKNOWN, chain_ids, sha256_of};
use super::manifest::{
    Descriptor, ImageConfig, Manifest, OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD,
    OCI_MANIFEST,
};
use super::reference::Reference;
use super::store::{Added, ImageRecord, LayerRecord, Store, now};
use super::unpack::Compression;
use crate::trace::Done;

/// A layer, compressed or not.
#[derive(Debug, Clone)]
pub struct LayerFile {
    pub source: LayerSource,
    /// Its media type if known (from a manifest), else from its bytes.
    pub media_type: Option<String>,
}

/// Where a layer's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSource {
    /// A file on disk: an archive's member, a tarball, a packed directory.
    File(PathBuf),
    /// A member of an archive that a `--dry-run` read without unpacking
    /// it: what the file would hash to.
    Scanned {
        digest: String,
        len: u64,
        compression: Compression,
    },
    /// Content a `--dry-run` did not make (the layer `image from-host`
    /// packs from files it stages): its digests are
    /// [`super::digest::UNKNOWN`].
    Unmade,
    /// A layer the store has already, blob and unpacked directory (a
    /// parent image's layer under a committed one): shared, never copied.
    Stored { digest: String, len: u64 },
}

impl LayerSource {
    /// sha256, length and compression of the layer's bytes.
    fn hashed(&self) -> Result<(String, u64, Compression)> {
        match self {
            LayerSource::File(p) => hash_file(p),
            LayerSource::Scanned {
                digest,
                len,
                compression,
            } => Ok((digest.clone(), *len, *compression)),
            LayerSource::Unmade => Ok((UNKNOWN.to_string(), 0, Compression::None)),
            LayerSource::Stored { digest, len } => Ok((digest.clone(), *len, Compression::None)),
        }
    }

    /// The file to read when the layer is stored (only a run stores it).
    fn path(&self) -> Result<&Path> {
        match self {
            LayerSource::File(p) => Ok(p),
            LayerSource::Stored { digest, .. } => {
                bail!("layer {digest} of the parent image is no longer in the store")
            }
            _ => {
                bail!("the layer's bytes were never made: only a --dry-run plan goes without them")
            }
        }
    }
}

/// Everything needed to add one image.
pub struct NewImage {
    pub config: Vec<u8>,
    pub layers: Vec<LayerFile>,
    /// The original manifest bytes and media type, kept if given.
    pub manifest: Option<(Vec<u8>, String)>,
    pub tags: Vec<Reference>,
    pub repo_digests: Vec<String>,
}

impl NewImage {
    /// Are all its bytes there (not a plan of content it did not make)?
    fn known(&self) -> bool {
        self.layers.iter().all(|l| l.source != LayerSource::Unmade)
    }

    /// The image id: the config's digest, unknown with its layer.
    pub fn id(&self) -> String {
        if self.known() {
            sha256_of(&self.config)
        } else {
            UNKNOWN.to_string()
        }
    }
}

/// Add an image to the store; returns its id (the config digest), or
/// `Done::Planned` when `images.json` was only planned (`--dry-run`). An
/// image the store has whole already only gets the new tags. If adding it
/// fails, what it had stored is taken back ([`Store::undo`]).
pub fn add_image(store: &Store, new: NewImage) -> Result<Done<String>> {
    let gc = store.gc_shared()?;
    let added = Added::default();
    match add(store, new, &added) {
        Ok(id) => Ok(id),
        Err(e) => {
            drop(gc);
            Err(store.undo(&added, e))
        }
    }
}

fn add(store: &Store, new: NewImage, added: &Added) -> Result<Done<String>> {
    let config = ImageConfig::parse(&new.config)?;
    if config.rootfs.diff_ids.len() != new.layers.len() {
        bail!(
            "the image has {} layer files but its config lists {} diff ids",
            new.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    let id = new.id();
    let whole = store.read_images()?.value().is_some_and(|images| {
        images
            .images
            .get(&id)
            .is_some_and(|r| r.layers.iter().all(|l| store.has_layer(&l.chain_id)))
    });
    let record = if whole {
        None
    } else {
        Some(store_content(store, &new, &config, &id, added)?)
    };
    let _l = store.lock_images()?;
    let mut images = store.read_images()?.value().unwrap_or_default();
    if let Some(mut rec) = record {
        if let Some(old) = images.images.remove(&id) {
            rec.repo_digests = old.repo_digests;
        }
        images.images.insert(id.clone(), rec);
    }
    if let Some(rec) = images.images.get_mut(&id) {
        for d in new.repo_digests {
            if !rec.repo_digests.contains(&d) {
                rec.repo_digests.push(d);
            }
        }
    }
    for t in &new.tags {
        if let Some(full) = t.tagged() {
            images.tags.insert(full, id.clone());
        }
    }
    Ok(match store.save_images(&images)? {
        Done::Ran(()) => Done::Ran(id),
        Done::Planned => Done::Planned,
    })
}

/// Unpack the layers the store lacks, store their blobs, the config and
/// the manifest; the image's record.
fn store_content(
    store: &Store,
    new: &NewImage,
    config: &ImageConfig,
    id: &str,
    added: &Added,
) -> Result<ImageRecord> {
    let chains = chain_ids(&config.rootfs.diff_ids);
    let mut records = Vec::new();
    let mut descriptors = Vec::new();
    let mut size = 0;
    for (i, lf) in new.layers.iter().enumerate() {
        let (digest, len, compression) = lf.source.hashed()?;
        let media_type = lf.media_type.clone().unwrap_or_else(|| {
            match compression {
                Compression::Gzip => OCI_LAYER_GZIP,
                Compression::Zstd => OCI_LAYER_ZSTD,
                Compression::None => OCI_LAYER,
            }
            .to_string()
        });
        {
            let _l = store.lock_layer(&chains[i])?;
            if store.has_layer(&chains[i]) {
                size += store.layer_size(&chains[i])?;
            } else {
                let open = || {
                    let p = lf.source.path()?;
                    let f = File::open(p).with_context(|| format!("open layer {}", p.display()))?;
                    Ok(BufReader::new(f))
                };
                if let Done::Ran(u) =
                    store.unpack_layer(&chains[i], &config.rootfs.diff_ids[i], open)?
                {
                    added.layer(&chains[i]);
                    size += u.content_size;
                }
            }
        }
        let path = match &lf.source {
            LayerSource::File(p) => p.clone(),
            _ => PathBuf::new(),
        };
        store.put_file_blob(&path, &digest, len, added)?;
        records.push(LayerRecord {
            digest: digest.clone(),
            media_type: media_type.clone(),
            size: len,
            diff_id: config.rootfs.diff_ids[i].clone(),
            chain_id: chains[i].clone(),
        });
        descriptors.push(Descriptor {
            media_type,
            digest,
            size: len,
            platform: None,
            annotations: None,
        });
    }
    store.put_blob_as(&new.config, id, added)?;
    let (manifest_bytes, manifest_mt) = match &new.manifest {
        Some(m) => m.clone(),
        None => {
            let m = Manifest {
                schema_version: 2,
                media_type: Some(OCI_MANIFEST.to_string()),
                config: Descriptor {
                    media_type: OCI_CONFIG.to_string(),
                    digest: id.to_string(),
                    size: new.config.len() as u64,
                    platform: None,
                    annotations: None,
                },
                layers: descriptors,
                annotations: None,
            };
            (serde_json::to_vec(&m)?, OCI_MANIFEST.to_string())
        }
    };
    let manifest_digest = if new.known() {
        sha256_of(&manifest_bytes)
    } else {
        UNKNOWN.to_string()
    };
    store.put_blob_as(&manifest_bytes, &manifest_digest, added)?;
    Ok(ImageRecord::new(
        id,
        &manifest_digest,
        manifest_mt,
        records,
        size,
    ))
}

/// sha256, length and compression of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64, Compression)> {
    let mut f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut head = [0u8; 4];
    let n = f.read(&mut head).unwrap_or(0);
    let c = Compression::detect(&head[..n]);
    let f = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let (d, len) = super::digest::HashReader::new(BufReader::new(f))
        .finish()
        .with_context(|| format!("read {}", path.display()))?;
    Ok((d, len, c))
}

/// An image config for a single-layer image made here.
pub fn new_config(
    diff_id: &str,
    cmd: Option<Vec<String>>,
    created_by: &str,
    comment: &str,
) -> Vec<u8> {
    let created = crate::clock::rfc3339(now() as i64);
    let p = super::manifest::Platform::host();
    let mut cfg = serde_json::json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    });
    if let Some(c) = cmd {
        cfg["Cmd"] = serde_json::json!(c);
    }
    let v = serde_json::json!({
        "architecture": p.architecture,
        "os": p.os,
        "created": created,
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": created_by, "comment": comment}],
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

/// The digest a config would have (its id), for messages.
pub fn config_id(config: &[u8]) -> String {
    sha256_of(config)
}
