//! The image store under the state root.
//!
//! ```text
//! blobs/sha256/<hex>        manifests, configs, compressed layers (verified)
//! layers/<chain-hex>/diff/  one layer unpacked, shared by every image with it
//! layers/<chain-hex>/layer.json
//! images.json               image records and the tags pointing at them
//! locks/                    one lock file per blob and per layer
//! ```
//!
//! A blob is written to a temporary file while its sha256 is computed and
//! renamed to its address only when the digest matches, so no partial or
//! wrong blob is ever visible. A layer is unpacked into a temporary
//! directory and renamed to `layers/<chain id>` when complete. Per-blob
//! and per-layer locks (`flock(2)`) let two pulls that share layers run at
//! once: the second waits, then finds the layer there. Pulls hold the
//! store's `gc` lock shared; removing images takes it exclusively, so a
//! garbage collection never deletes a blob a pull has just written.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::digest::{HashWriter, hex_part, sha256_of};
use super::reference::{Reference, validate_digest};
use super::unpack::{Unpacked, unpack_layer};
use crate::state::{Root, StateLock, read_json, write_json};
use crate::trace::{Action, Mechanism, Step};

/// One layer of an image, as recorded in `images.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    /// Digest of the blob as distributed (compressed), if we have it.
    pub digest: String,
    pub media_type: String,
    /// Compressed size in bytes.
    pub size: u64,
    /// Digest of the uncompressed tar.
    pub diff_id: String,
    /// Address of the stack up to and including this layer.
    pub chain_id: String,
}

/// One image: its config digest is its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub id: String,
    /// The manifest stored for it (pulled or synthesized).
    pub manifest_digest: String,
    pub manifest_media_type: String,
    /// `docker.io/library/busybox@sha256:...` for each registry it came from.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    pub layers: Vec<LayerRecord>,
    /// Sum of the layers' unpacked content (Docker's SIZE).
    pub size: u64,
    /// Unix seconds when it entered the store.
    pub added: u64,
}

impl ImageRecord {
    /// A record for an image entering the store now, not yet known by any
    /// registry digest.
    pub fn new(
        id: &str,
        manifest_digest: &str,
        manifest_media_type: String,
        layers: Vec<LayerRecord>,
        size: u64,
    ) -> ImageRecord {
        ImageRecord {
            id: id.to_string(),
            manifest_digest: manifest_digest.to_string(),
            manifest_media_type,
            repo_digests: Vec::new(),
            layers,
            size,
            added: now(),
        }
    }
}

/// `images.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Images {
    /// Image id -> record.
    pub images: BTreeMap<String, ImageRecord>,
    /// Full reference (`docker.io/library/busybox:latest`) -> image id.
    pub tags: BTreeMap<String, String>,
}

impl Images {
    /// Tags of an image, fully qualified, sorted.
    pub fn tags_of(&self, id: &str) -> Vec<Reference> {
        self.tags
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .filter_map(|(k, _)| Reference::parse(k).ok())
            .collect()
    }

    /// Find an image by reference, full id, or id prefix (as Docker does).
    pub fn resolve(&self, what: &str) -> Result<String> {
        // A tag wins over an id prefix that happens to spell the same.
        let parsed = Reference::parse(what);
        if let Ok(r) = &parsed
            && r.digest.is_none()
            && let Some(id) = r.tagged().and_then(|t| self.tags.get(&t))
        {
            return Ok(id.clone());
        }
        let hexish = what.strip_prefix("sha256:").unwrap_or(what);
        if !hexish.is_empty()
            && hexish.len() <= 64
            && hexish
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            let hits: Vec<&String> = self
                .images
                .keys()
                .filter(|id| hex_part(id).starts_with(hexish))
                .collect();
            match hits.len() {
                1 => return Ok(hits[0].clone()),
                n if n > 1 => bail!("image id prefix {what} is ambiguous: it matches {n} images"),
                _ => {}
            }
        }
        let r = parsed?;
        if let Some(d) = &r.digest {
            let want = format!("{}@{d}", r.name());
            if let Some(img) = self
                .images
                .values()
                .find(|i| i.repo_digests.contains(&want) || i.manifest_digest == *d)
            {
                return Ok(img.id.clone());
            }
        }
        bail!("No such image: {}", r.familiar())
    }
}

/// `layers/<chain>/layer.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerMeta {
    pub chain_id: String,
    pub diff_id: String,
    /// Bytes of regular-file content.
    pub size: u64,
    pub entries: u64,
}

/// The store of one state root.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

impl Store {
    /// The store of `root`, creating its directories (not under
    /// `--dry-run`: a plan only reads).
    pub fn open(root: &Root) -> Result<Store> {
        if crate::trace::dry_run() {
            return Ok(Store {
                dir: root.data.clone(),
            });
        }
        root.ensure()?;
        let s = Store {
            dir: root.data.clone(),
        };
        for d in [
            s.dir.join("blobs/sha256"),
            s.dir.join("layers"),
            s.dir.join("locks"),
        ] {
            fs::create_dir_all(&d).with_context(|| format!("mkdir {}", d.display()))?;
        }
        s.sweep_stale();
        Ok(s)
    }

    /// Remove temporaries (`.tmp-PID-N` blobs and layers, `tmp/WHAT-PID-N`)
    /// left by a glassbox process that died half way: nothing half-stored
    /// outlives a crash.
    fn sweep_stale(&self) {
        for sub in ["blobs/sha256", "layers", "tmp"] {
            let Ok(rd) = fs::read_dir(self.dir.join(sub)) else {
                continue;
            };
            for ent in rd.flatten() {
                let name = ent.file_name().to_string_lossy().into_owned();
                if sub != "tmp" && !name.starts_with(".tmp-") {
                    continue;
                }
                let mut parts = name.rsplit('-');
                let (_seq, pid) = (parts.next(), parts.next());
                let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
                    continue;
                };
                if pid == std::process::id() || crate::state::resources::pid_alive(pid) {
                    continue;
                }
                let path = ent.path();
                let _ = Step::new(
                    Mechanism::Image,
                    Action::Filesystem,
                    format!("remove {} left by dead process {pid}", path.display()),
                )
                .shell(format!("rm -rf {}", path.display()))
                .detail()
                .run(|| remove_path(&path));
            }
        }
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(hex_part(digest))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_file()
    }

    pub fn layer_dir(&self, chain_id: &str) -> PathBuf {
        self.dir.join("layers").join(hex_part(chain_id))
    }

    /// The unpacked files of a layer: an overlay lowerdir.
    pub fn layer_diff(&self, chain_id: &str) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    pub fn has_layer(&self, chain_id: &str) -> bool {
        self.layer_dir(chain_id).join("layer.json").is_file()
    }

    pub fn layer_meta(&self, chain_id: &str) -> Result<Option<LayerMeta>> {
        read_json(&self.layer_dir(chain_id).join("layer.json"))
    }

    /// A lock file under `locks/`; none under `--dry-run` (nothing is
    /// written then, and the store may not even exist).
    fn lock(&self, name: &str) -> Result<Option<StateLock>> {
        if crate::trace::dry_run() {
            return Ok(None);
        }
        StateLock::exclusive(&self.dir.join("locks").join(name)).map(Some)
    }

    pub fn lock_blob(&self, digest: &str) -> Result<Option<StateLock>> {
        self.lock(&format!("blob-{}", hex_part(digest)))
    }

    pub fn lock_layer(&self, chain_id: &str) -> Result<Option<StateLock>> {
        self.lock(&format!("layer-{}", hex_part(chain_id)))
    }

    /// Held while `images.json` is read, changed and written.
    pub fn lock_images(&self) -> Result<Option<StateLock>> {
        self.lock("images")
    }

    /// Held shared by pulls/loads, exclusively by garbage collection.
    pub fn gc_shared(&self) -> Result<Option<StateLock>> {
        if crate::trace::dry_run() {
            return Ok(None);
        }
        StateLock::shared(&self.dir.join("locks/gc")).map(Some)
    }

    pub fn gc_exclusive(&self) -> Result<Option<StateLock>> {
        self.lock("gc")
    }

    pub fn images(&self) -> Result<Images> {
        Ok(read_json(&self.dir.join("images.json"))?.unwrap_or_default())
    }

    pub fn save_images(&self, images: &Images) -> Result<()> {
        write_json(&self.dir.join("images.json"), images)
    }

    /// Read a blob and check its bytes still match its address.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path)
            .with_context(|| format!("read blob {} ({})", digest, path.display()))?;
        let got = sha256_of(&bytes);
        if got != digest {
            bail!(
                "blob {} is corrupt: its content hashes to {got}; remove it and pull again",
                path.display()
            );
        }
        Ok(bytes)
    }

    /// Store small bytes (a manifest, a config) under their digest.
    pub fn put_blob(&self, bytes: &[u8], expected: Option<&str>) -> Result<String> {
        let mut w = self.blob_writer()?;
        w.write_all(bytes)?;
        w.commit(expected, None)
    }

    /// A temporary file that becomes a blob when its digest checks out.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let tmp = self
            .dir
            .join("blobs/sha256")
            .join(format!(".{}", unique("tmp")));
        let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        Ok(BlobWriter {
            store: self.clone(),
            tmp: Some(tmp),
            w: HashWriter::new(io::BufWriter::with_capacity(256 * 1024, f)),
        })
    }

    /// Unpack a layer stream as chain `chain_id`, checking its diff id.
    /// The layer appears complete or not at all.
    pub fn unpack_layer(
        &self,
        chain_id: &str,
        expected_diff_id: &str,
        reader: impl Read,
    ) -> Result<Unpacked> {
        let final_dir = self.layer_dir(chain_id);
        let tmp = self.dir.join("layers").join(format!(".{}", unique("tmp")));
        let step = Step::new(
            Mechanism::Image,
            Action::Filesystem,
            format!("unpack layer {} into {}", super::digest::short(expected_diff_id), final_dir.display()),
        )
        .arg("diff_id", expected_diff_id)
        .arg("chain_id", chain_id)
        .arg("dir", final_dir.display())
        .shell(format!(
            "mkdir -p {0}/diff && tar -xpf - --xattrs --numeric-owner -C {0}/diff",
            final_dir.display()
        ))
        .why("each layer is unpacked once, under its chain id, and shared by every image that has it")
        .man("tar(5)");
        let result = step.run(|| {
            let diff = tmp.join("diff");
            fs::create_dir_all(&diff).with_context(|| format!("mkdir {}", diff.display()))?;
            let u = unpack_layer(reader, &diff)?;
            if u.diff_id != expected_diff_id {
                bail!(
                    "layer content hashes to {} but the image config says {expected_diff_id}: refusing a corrupt layer",
                    u.diff_id
                );
            }
            write_json(
                &tmp.join("layer.json"),
                &LayerMeta {
                    chain_id: chain_id.to_string(),
                    diff_id: u.diff_id.clone(),
                    size: u.content_size,
                    entries: u.entries,
                },
            )?;
            // A leftover from a crash at the same address is incomplete.
            if final_dir.exists() {
                fs::remove_dir_all(&final_dir)
                    .with_context(|| format!("remove stale {}", final_dir.display()))?;
            }
            fs::rename(&tmp, &final_dir).with_context(|| {
                format!("rename {} to {}", tmp.display(), final_dir.display())
            })?;
            Ok(u)
        });
        if result.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }

    /// Remove images' unreferenced blobs and layers. Call with the gc lock
    /// held exclusively and images.json locked. Returns what was deleted.
    pub fn collect_garbage(&self, images: &Images) -> Result<Vec<String>> {
        let mut keep_blobs = BTreeSet::new();
        let mut keep_layers = BTreeSet::new();
        for img in images.images.values() {
            keep_blobs.insert(hex_part(&img.id).to_string());
            keep_blobs.insert(hex_part(&img.manifest_digest).to_string());
            for l in &img.layers {
                keep_blobs.insert(hex_part(&l.digest).to_string());
                keep_layers.insert(hex_part(&l.chain_id).to_string());
            }
        }
        let mut deleted = Vec::new();
        for (sub, keep) in [("layers", &keep_layers), ("blobs/sha256", &keep_blobs)] {
            let dir = self.dir.join(sub);
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("list {}", dir.display())),
            };
            for ent in rd {
                let ent = ent.with_context(|| format!("list {}", dir.display()))?;
                let name = ent.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || validate_digest(&format!("sha256:{name}")).is_err() {
                    continue;
                }
                if keep.contains(&name) {
                    continue;
                }
                let path = ent.path();
                let what = if sub == "layers" { "layer" } else { "blob" };
                let _lock = if sub == "layers" {
                    self.lock_layer(&name)?
                } else {
                    self.lock_blob(&name)?
                };
                Step::new(
                    Mechanism::Image,
                    Action::Filesystem,
                    format!("delete unused {what} sha256:{}", &name[..12]),
                )
                .arg("path", path.display())
                .shell(format!("rm -rf {}", path.display()))
                .why("no remaining image refers to it: a shared layer lives until its last image is removed")
                .run(|| remove_path(&path))?;
                if sub == "layers" {
                    deleted.push(format!("Deleted: sha256:{name}"));
                }
            }
        }
        Ok(deleted)
    }
}

/// A blob being written: hashed as it goes, renamed into place on commit,
/// deleted if dropped uncommitted.
pub struct BlobWriter {
    store: Store,
    tmp: Option<PathBuf>,
    w: HashWriter<io::BufWriter<File>>,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl BlobWriter {
    pub fn written(&self) -> u64 {
        self.w.count
    }

    /// The temporary file (to read back, e.g. to unpack before commit).
    pub fn tmp_path(&self) -> Option<&Path> {
        self.tmp.as_deref()
    }

    /// Verify (digest and size if given) and rename to the blob's address.
    pub fn commit(self, expected: Option<&str>, size: Option<u64>) -> Result<String> {
        self.verify(expected, size)?.commit()
    }

    /// Verify (digest and size if given) without storing yet: the bytes
    /// can be read back (to unpack a layer) before [`VerifiedBlob::commit`].
    pub fn verify(mut self, expected: Option<&str>, size: Option<u64>) -> Result<VerifiedBlob> {
        self.w.flush().context("flush blob")?;
        let tmp = self.tmp.take().context("blob already committed")?;
        let placeholder = HashWriter::new(io::BufWriter::new(
            File::open("/dev/null").context("open /dev/null")?,
        ));
        let w = std::mem::replace(&mut self.w, placeholder);
        let (buf, digest, count) = w.finish();
        let pending = VerifiedBlob {
            store: self.store.clone(),
            tmp: Some(tmp),
            digest: digest.clone(),
            size: count,
        };
        let file = buf
            .into_inner()
            .map_err(|e| e.into_error())
            .context("flush blob")?;
        if let Some(n) = size
            && n != count
        {
            bail!("blob is {count} bytes but its descriptor says {n}: refusing it");
        }
        if let Some(e) = expected
            && e != digest
        {
            bail!("blob content hashes to {digest} but {e} was expected: refusing it");
        }
        file.sync_all().context("fsync blob")?;
        Ok(pending)
    }
}

/// A blob whose bytes matched their digest, not yet at its address;
/// deleted if dropped uncommitted.
pub struct VerifiedBlob {
    store: Store,
    tmp: Option<PathBuf>,
    pub digest: String,
    pub size: u64,
}

impl VerifiedBlob {
    pub fn path(&self) -> &Path {
        self.tmp.as_deref().unwrap_or(Path::new("/nonexistent"))
    }

    pub fn commit(mut self) -> Result<String> {
        let tmp = self.tmp.take().context("blob already committed")?;
        let dest = self.store.blob_path(&self.digest);
        fs::rename(&tmp, &dest)
            .with_context(|| format!("rename {} to {}", tmp.display(), dest.display()))?;
        Ok(self.digest.clone())
    }
}

impl Drop for VerifiedBlob {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Seconds since the epoch, now.
/// `rm -rf PATH` for a directory or a file of the store.
fn remove_path(path: &Path) -> Result<()> {
    if path.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
    .with_context(|| format!("remove {}", path.display()))
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(Some(d.path())).unwrap();
        let s = Store::open(&root).unwrap();
        (d, s)
    }

    #[test]
    fn blobs_are_verified_and_never_partial() {
        let (_d, s) = store();
        let good = sha256_of(b"hello");
        assert_eq!(s.put_blob(b"hello", Some(&good)).unwrap(), good);
        assert_eq!(s.read_blob(&good).unwrap(), b"hello");
        let wrong = sha256_of(b"other");
        let e = format!("{:#}", s.put_blob(b"hello!", Some(&wrong)).unwrap_err());
        assert!(e.contains("refusing"), "{e}");
        assert!(!s.has_blob(&wrong));
        assert!(!s.has_blob(&sha256_of(b"hello!")));
        let leftovers: Vec<_> = fs::read_dir(s.dir.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
        let mut w = s.blob_writer().unwrap();
        w.write_all(b"abc").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(s.dir.join("blobs/sha256")).unwrap().count(), 1);
        let e = format!(
            "{:#}",
            s.put_blob(b"hello", Some(&good))
                .map(|_| ())
                .and_then(|_| {
                    let mut w = s.blob_writer()?;
                    w.write_all(b"hello")?;
                    w.commit(Some(&good), Some(4)).map(|_| ())
                })
                .unwrap_err()
        );
        assert!(e.contains("descriptor says 4"), "{e}");
    }

    #[test]
    fn a_layer_with_the_wrong_diff_id_leaves_nothing() {
        let (_d, s) = store();
        let tar = crate::image::unpack::tests::TarBuilder::new()
            .file("f", b"x", 0o644)
            .build();
        let real = sha256_of(&tar);
        let e = format!(
            "{:#}",
            s.unpack_layer(&real, &sha256_of(b"nope"), &tar[..])
                .unwrap_err()
        );
        assert!(e.contains("refusing a corrupt layer"), "{e}");
        assert_eq!(fs::read_dir(s.dir.join("layers")).unwrap().count(), 0);
        let u = s.unpack_layer(&real, &real, &tar[..]).unwrap();
        assert_eq!(u.diff_id, real);
        assert!(s.has_layer(&real));
        assert_eq!(fs::read(s.layer_diff(&real).join("f")).unwrap(), b"x");
    }

    #[test]
    fn temporaries_of_dead_processes_are_swept() {
        let (d, s) = store();
        let dead = s.dir.join("layers/.tmp-999999999-0");
        fs::create_dir_all(dead.join("diff")).unwrap();
        let dead_blob = s.dir.join("blobs/sha256/.tmp-999999999-3");
        fs::write(&dead_blob, b"partial").unwrap();
        let mine = s.dir.join(format!("layers/.tmp-{}-7", std::process::id()));
        fs::create_dir_all(&mine).unwrap();
        let root = Root::new(Some(d.path())).unwrap();
        Store::open(&root).unwrap();
        assert!(!dead.exists() && !dead_blob.exists());
        assert!(mine.exists(), "a live process's work is left alone");
    }

    #[test]
    fn resolve_finds_tags_ids_and_prefixes() {
        let mut imgs = Images::default();
        let id = sha256_of(b"config");
        imgs.images.insert(
            id.clone(),
            ImageRecord {
                id: id.clone(),
                manifest_digest: sha256_of(b"m"),
                manifest_media_type: String::new(),
                repo_digests: vec![],
                layers: vec![],
                size: 0,
                added: 0,
            },
        );
        imgs.tags
            .insert("docker.io/library/busybox:latest".into(), id.clone());
        assert_eq!(imgs.resolve("busybox").unwrap(), id);
        assert_eq!(imgs.resolve(&id).unwrap(), id);
        assert_eq!(imgs.resolve(&hex_part(&id)[..6]).unwrap(), id);
        let e = format!("{:#}", imgs.resolve("alpine").unwrap_err());
        assert_eq!(e, "No such image: alpine:latest");
        assert_eq!(imgs.tags_of(&id).len(), 1);
        // A tag that looks like an id prefix is a tag first.
        let other = sha256_of(b"other config");
        imgs.tags
            .insert("docker.io/library/abc:latest".into(), other.clone());
        assert_eq!(imgs.resolve("abc").unwrap(), other);
        let full = format!("{:#}", imgs.resolve(&"f".repeat(64)).unwrap_err());
        assert!(full.contains("64-byte"), "{full}");
    }
}
