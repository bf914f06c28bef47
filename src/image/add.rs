//! Adding an image from local files (`load`, `import`, `from-host`): the
//! same store rules as a pull. Each layer file is checked against the
//! config's diff id while it is unpacked, stored as a blob under its own
//! sha256, and the image is recorded with a manifest (the original one if
//! there is one, else one written here, OCI style).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::digest::{chain_ids, sha256_of};
use super::manifest::{
    Descriptor, ImageConfig, Manifest, OCI_CONFIG, OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD,
    OCI_MANIFEST,
};
use super::reference::Reference;
use super::store::{Added, ImageRecord, LayerRecord, Store, now};
use super::unpack::Compression;

/// A layer file on disk, compressed or not.
#[derive(Debug, Clone)]
pub struct LayerFile {
    pub path: PathBuf,
    /// Its media type if known (from a manifest), else from its bytes.
    pub media_type: Option<String>,
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

/// Add an image to the store; returns its id (the config digest). An
/// image the store has whole already only gets the new tags. If adding it
/// fails, what it had stored is taken back ([`Store::undo`]).
pub fn add_image(store: &Store, new: NewImage) -> Result<String> {
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

fn add(store: &Store, new: NewImage, added: &Added) -> Result<String> {
    let config = ImageConfig::parse(&new.config)?;
    if config.rootfs.diff_ids.len() != new.layers.len() {
        bail!(
            "the image has {} layer files but its config lists {} diff ids",
            new.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    let id = sha256_of(&new.config);
    let whole = store
        .images()?
        .images
        .get(&id)
        .is_some_and(|r| r.layers.iter().all(|l| store.has_layer(&l.chain_id)));
    let record = if whole {
        None
    } else {
        Some(store_content(store, &new, &config, &id, added)?)
    };
    let _l = store.lock_images()?;
    let mut images = store.images()?;
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
    store.save_images(&images)?;
    Ok(id)
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
        let (digest, len, compression) = hash_file(&lf.path)?;
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
            if !store.has_layer(&chains[i]) {
                let f = File::open(&lf.path)
                    .with_context(|| format!("open layer {}", lf.path.display()))?;
                store.unpack_layer(&chains[i], &config.rootfs.diff_ids[i], BufReader::new(f))?;
                added.layer(&chains[i]);
            }
        }
        {
            let _b = store.lock_blob(&digest)?;
            if !store.has_blob(&digest) {
                let mut w = store.blob_writer()?;
                let mut f = File::open(&lf.path)
                    .with_context(|| format!("open layer {}", lf.path.display()))?;
                std::io::copy(&mut f, &mut w).context("copy the layer into the store")?;
                w.commit(Some(&digest), Some(len))?;
                added.blob(&digest);
            }
        }
        size += store.layer_meta(&chains[i])?.map(|m| m.size).unwrap_or(0);
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
    store.put_blob(&new.config, Some(id), added)?;
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
    let manifest_digest = store.put_blob(&manifest_bytes, None, added)?;
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
