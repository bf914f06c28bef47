//! The image store under the state root.
//!
//! ```text
//! blobs/sha256/<hex>        manifests, configs, compressed layers (verified)
//! layers/<chain-hex>/diff/  one layer unpacked, shared by every image with it
//! layers/<chain-hex>/layer.json
//! images.json               image records and the tags pointing at them
//! leases/                   images handed to containers being made
//! locks/                    one lock file per blob and per layer
//! tmp/                      work directories (WHAT-PID-N)
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
//!
//! Adding an image is a transaction: what a failed pull or load stored
//! ([`Added`]) is taken back ([`Store::undo`]); what a crashed one left
//! (temporaries of a dead process, layers and blobs no image refers to) is
//! swept by the next command that opens the store, or repaired by
//! `glassbox system prune` ([`super::recover`]). A layer is deleted by
//! renaming it to a temporary name first, so a crash half way through a
//! deletion never leaves a half layer at its address. Writers stop before
//! the filesystem fills ([`super::space`]).
//!
//! Under `--dry-run` every one of these changes is a step that is only
//! planned; the store remembers what its plan made, so the rest of the
//! plan finds it as the real run would, and the plan lists the steps the
//! run takes. A read the plan may not make (the store is root's alone) is
//! listed as needing root ([`crate::trace::Step::observe_or_plan`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::digest::{UNKNOWN, hex_part, sha256_of, short};
use super::reference::Reference;
use super::space::disk_usage;
use super::unpack::{Unpacked, unpack_layer};
use crate::state::atomic::apply_json;
use crate::state::{Root, StateLock, read_json};
use crate::trace::{Action, Done, Mechanism, Step};

pub use super::blob::{BlobWriter, VerifiedBlob};
pub use super::gc::{Added, Collected, Item, referenced};

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
    /// What this command's `--dry-run` plan has made so far (blobs,
    /// layers, lock files): a later look finds them, as in the real run.
    planned: Arc<Mutex<BTreeSet<PathBuf>>>,
}

static SEQ: AtomicU64 = AtomicU64::new(0);

pub(super) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

impl Store {
    /// The store in `dir`, as it is: nothing made or swept (doctor only
    /// looks).
    pub fn at(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
            planned: Arc::default(),
        }
    }

    /// Note that a plan made `path` (a step that makes it was planned).
    /// What an unknown digest addresses is not one thing: each of them is
    /// made anew.
    pub(super) fn plan(&self, path: &Path) {
        if path.to_string_lossy().contains(hex_part(UNKNOWN)) {
            return;
        }
        if let Ok(mut p) = self.planned.lock() {
            p.insert(path.to_path_buf());
        }
    }

    /// Did this command's plan make `path`?
    fn planned(&self, path: &Path) -> bool {
        self.planned.lock().is_ok_and(|p| p.contains(path))
    }

    /// The store of `root`, creating its directories, and sweeping what
    /// dead processes left half written (both only planned under
    /// `--dry-run`).
    pub fn open(root: &Root) -> Result<Store> {
        let s = Store::open_unswept(root)?;
        s.sweep_stale();
        Ok(s)
    }

    /// [`Store::open`] without the sweep (for a caller that counts it).
    pub fn open_unswept(root: &Root) -> Result<Store> {
        let s = Store::at(&root.data);
        root.ensure()?;
        let dirs = [
            s.dir.join("blobs/sha256"),
            s.dir.join("layers"),
            s.dir.join("locks"),
        ];
        let missing = Step::new(
            Mechanism::Image,
            Action::FileRead,
            format!("look at the image store in {}", s.dir.display()),
        )
        .arg("dir", s.dir.display())
        .detail()
        .observe_or_plan(|| {
            let mut missing = Vec::new();
            for d in &dirs {
                match fs::symlink_metadata(d) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(d.clone()),
                    Err(e) => return Err(e).with_context(|| format!("lstat {}", d.display())),
                }
            }
            Ok(missing)
        })?;
        let missing = missing.value().unwrap_or_default();
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().map(|d| d.display().to_string()).collect();
            Step::new(
                Mechanism::Image,
                Action::Filesystem,
                format!("create the image store in {}", s.dir.display()),
            )
            .arg("dirs", shown.join(" "))
            .shell(format!("mkdir -p {}", shown.join(" ")))
            .why("blobs/ holds content by its sha256, layers/ each layer unpacked once, locks/ one flock(2) file per blob, layer and images.json")
            .detail()
            .apply(|| {
                for d in &missing {
                    fs::create_dir_all(d).with_context(|| format!("mkdir {}", d.display()))?;
                }
                Ok(())
            })?;
        }
        Ok(s)
    }

    /// Remove temporaries (`.tmp-PID-N` blobs and layers, `tmp/WHAT-PID-N`)
    /// left by a glassbox process that died half way: nothing half-stored
    /// outlives a crash. Returns the bytes freed.
    pub fn sweep_stale(&self) -> u64 {
        let mut freed = 0;
        for t in self.stale_temporaries() {
            let bytes = disk_usage(&t.path);
            let removed = Step::new(
                Mechanism::Image,
                Action::Filesystem,
                format!("remove {} left by dead process {}", t.path.display(), t.pid),
            )
            .arg("path", t.path.display())
            .shell(format!("rm -rf {}", t.path.display()))
            .why("a process that died half way through storing something leaves it incomplete: it is rolled back")
            .detail()
            .run(|| remove_path(&t.path));
            if removed.is_ok() {
                freed += bytes;
            }
        }
        freed
    }

    /// Temporaries whose process is gone (see [`temp_pid`]).
    pub fn stale_temporaries(&self) -> Vec<Temporary> {
        let mut out = Vec::new();
        for sub in TEMP_DIRS {
            let Ok(rd) = fs::read_dir(self.dir.join(sub)) else {
                continue;
            };
            for ent in rd.flatten() {
                let name = ent.file_name().to_string_lossy().into_owned();
                let Some(pid) = temp_pid(sub, &name) else {
                    continue;
                };
                if pid == std::process::id() || crate::state::resources::pid_alive(pid) {
                    continue;
                }
                out.push(Temporary {
                    path: ent.path(),
                    pid,
                    what: match sub {
                        "tmp" => "work directory",
                        "layers" => "half-unpacked or half-deleted layer",
                        _ => "half-written blob",
                    },
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir.join("blobs/sha256").join(hex_part(digest))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        let p = self.blob_path(digest);
        p.is_file() || self.planned(&p)
    }

    pub fn layer_dir(&self, chain_id: &str) -> PathBuf {
        self.dir.join("layers").join(hex_part(chain_id))
    }

    /// The unpacked files of a layer: an overlay lowerdir.
    pub fn layer_diff(&self, chain_id: &str) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    pub fn has_layer(&self, chain_id: &str) -> bool {
        let d = self.layer_dir(chain_id);
        d.join("layer.json").is_file() || self.planned(&d)
    }

    pub fn layer_meta(&self, chain_id: &str) -> Result<Option<LayerMeta>> {
        read_json(&self.layer_dir(chain_id).join("layer.json"))
    }

    /// A lock file under `locks/`, taken exclusively. Making the file is a
    /// step: under `--dry-run` a missing one is only planned, and no lock
    /// is held (a plan changes nothing another command could trip on).
    fn lock(&self, name: &str) -> Result<Option<StateLock>> {
        self.lock_file(name, StateLock::exclusive)
    }

    fn lock_file(
        &self,
        name: &str,
        take: fn(&Path) -> Result<StateLock>,
    ) -> Result<Option<StateLock>> {
        let path = self.dir.join("locks").join(name);
        if self.planned(&path) {
            return Ok(None);
        }
        if fs::symlink_metadata(&path).is_ok() {
            return take(&path).map(Some);
        }
        let made = Step::new(
            Mechanism::Image,
            Action::State,
            format!("create lock file {}", path.display()),
        )
        .arg("path", path.display())
        .shell(format!("flock {} true", path.display()))
        .why("commands that touch the same blob, layer or images.json take turns on its lock file")
        .man("flock(2)")
        .detail()
        .apply(|| take(&path))?;
        if !made.ran() {
            self.plan(&path);
        }
        Ok(made.value())
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
        self.lock_file("gc", StateLock::shared)
    }

    pub fn gc_exclusive(&self) -> Result<Option<StateLock>> {
        self.lock("gc")
    }

    pub fn images(&self) -> Result<Images> {
        Ok(read_json(&self.dir.join("images.json"))?.unwrap_or_default())
    }

    /// `images.json`, or `Done::Planned` when a `--dry-run` by a user who
    /// may not read it (the store is root's alone) goes on without it.
    pub fn read_images(&self) -> Result<Done<Images>> {
        let path = self.dir.join("images.json");
        Step::new(
            Mechanism::Image,
            Action::FileRead,
            format!("read {}", path.display()),
        )
        .arg("path", path.display())
        .shell(format!("cat {}", path.display()))
        .detail()
        .observe_or_plan(|| self.images())
    }

    /// Write `images.json`; whether it ran or was only planned.
    pub fn save_images(&self, images: &Images) -> Result<Done<()>> {
        apply_json(&self.dir.join("images.json"), images)
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

    /// Unpack a layer stream (opened by `open`) as chain `chain_id`,
    /// checking its diff id. The layer appears complete or not at all; the
    /// caller holds the layer's lock. Something at the address that is not
    /// a whole layer (left by an older glassbox) is moved away first.
    pub fn unpack_layer<R: Read>(
        &self,
        chain_id: &str,
        expected_diff_id: &str,
        open: impl FnOnce() -> Result<R>,
    ) -> Result<Done<Unpacked>> {
        let final_dir = self.layer_dir(chain_id);
        if fs::symlink_metadata(&final_dir).is_ok() {
            self.remove_layer_dir(&final_dir)?;
        }
        let tmp = self.dir.join("layers").join(format!(".{}", unique("tmp")));
        let step = Step::new(
            Mechanism::Image,
            Action::Filesystem,
            format!("unpack layer {} into {}", short(expected_diff_id), final_dir.display()),
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
        let result = step.apply(|| {
            let diff = tmp.join("diff");
            fs::create_dir_all(&diff).with_context(|| format!("mkdir {}", diff.display()))?;
            let u = unpack_layer(open()?, &diff)?;
            if u.diff_id != expected_diff_id {
                bail!(
                    "layer content hashes to {} but the image config says {expected_diff_id}: refusing a corrupt layer",
                    u.diff_id
                );
            }
            // Part of the layer being made under its temporary name: the
            // whole directory is renamed into place below.
            write_meta(
                &tmp.join("layer.json"),
                &LayerMeta {
                    chain_id: chain_id.to_string(),
                    diff_id: u.diff_id.clone(),
                    size: u.content_size,
                    entries: u.entries,
                },
            )?;
            fs::rename(&tmp, &final_dir).with_context(|| {
                format!("rename {} to {}", tmp.display(), final_dir.display())
            })?;
            Ok(u)
        });
        if let Ok(Done::Planned) = &result {
            self.plan(&final_dir);
        }
        result.map_err(|e| {
            if fs::symlink_metadata(&tmp).is_ok() {
                let _ = fs::remove_dir_all(&tmp);
                e.context(format!("removed the partial layer {}", tmp.display()))
            } else {
                e
            }
        })
    }

    /// The unpacked size of a stored layer (Docker's SIZE adds these); 0
    /// for a layer the store lacks (one a plan did not unpack).
    pub fn layer_size(&self, chain_id: &str) -> Result<u64> {
        if !self.layer_dir(chain_id).join("layer.json").is_file() {
            return Ok(0);
        }
        Ok(self.layer_meta(chain_id)?.map(|m| m.size).unwrap_or(0))
    }

    /// Delete a layer directory: renamed to a temporary name first (one
    /// atomic step), then removed, so a crash in between never leaves a
    /// half layer at its address. Returns the bytes freed.
    pub(super) fn remove_layer_dir(&self, dir: &Path) -> Result<u64> {
        let doomed = self.dir.join("layers").join(format!(".{}", unique("tmp")));
        let bytes = disk_usage(dir);
        Step::new(
            Mechanism::Image,
            Action::Filesystem,
            format!("move {} out of the way", dir.display()),
        )
        .arg("path", dir.display())
        .shell(format!("mv {} {}", dir.display(), doomed.display()))
        .why("a layer leaves its address in one rename(2): a crash while deleting it can never leave half a layer where a pull would take it for whole")
        .man("rename(2)")
        .detail()
        .run(|| {
            fs::rename(dir, &doomed)
                .with_context(|| format!("rename {} to {}", dir.display(), doomed.display()))
        })?;
        crate::host::remove_dir_all(
            Mechanism::Image,
            &doomed,
            "the layer is no longer used by any image",
        )?;
        Ok(bytes)
    }
}

/// The directories under the store where temporaries live.
pub const TEMP_DIRS: [&str; 3] = ["tmp", "layers", "blobs/sha256"];

/// The pid of the process that made temporary `name` in `sub` (one of
/// [`TEMP_DIRS`]): `tmp/WHAT-PID-N`, `layers/.tmp-PID-N`,
/// `blobs/sha256/.tmp-PID-N`; `None` for anything else.
pub fn temp_pid(sub: &str, name: &str) -> Option<u32> {
    let rest = if sub == "tmp" {
        name
    } else {
        name.strip_prefix(".tmp-")?
    };
    let mut parts = rest.rsplit('-');
    parts.next()?.parse::<u64>().ok()?;
    let pid = parts.next()?.parse::<u32>().ok()?;
    if sub == "tmp" && parts.next().is_none_or(|w| w.is_empty()) {
        return None;
    }
    Some(pid)
}

/// A temporary of a process that is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Temporary {
    pub path: PathBuf,
    pub pid: u32,
    /// `work directory`, `half-unpacked or half-deleted layer`, `half-written blob`.
    pub what: &'static str,
}

/// `layer.json` of a layer being unpacked (in its temporary directory):
/// written and fsynced before the directory is renamed into place.
fn write_meta(path: &Path, meta: &LayerMeta) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(meta).context("serialize layer.json")?;
    bytes.push(b'\n');
    let mut f = fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    io::Write::write_all(&mut f, &bytes).with_context(|| format!("write {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("fsync {}", path.display()))
}

/// `rm -rf PATH` for a directory or a file of the store.
fn remove_path(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
    .with_context(|| format!("remove {}", path.display()))
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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
        assert_eq!(
            s.put_blob(b"hello", Some(&good), &Added::default())
                .unwrap(),
            good
        );
        assert_eq!(s.read_blob(&good).unwrap(), b"hello");
        let wrong = sha256_of(b"other");
        let e = format!(
            "{:#}",
            s.put_blob(b"hello!", Some(&wrong), &Added::default())
                .unwrap_err()
        );
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
            s.put_blob(b"hello", Some(&good), &Added::default())
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
            s.unpack_layer(&real, &sha256_of(b"nope"), || Ok(&tar[..]))
                .unwrap_err()
        );
        assert!(e.contains("refusing a corrupt layer"), "{e}");
        assert_eq!(fs::read_dir(s.dir.join("layers")).unwrap().count(), 0);
        let u = s
            .unpack_layer(&real, &real, || Ok(&tar[..]))
            .unwrap()
            .value()
            .unwrap();
        assert_eq!(u.diff_id, real);
        assert!(s.has_layer(&real));
        assert_eq!(fs::read(s.layer_diff(&real).join("f")).unwrap(), b"x");
    }

    #[test]
    fn temporary_names_carry_their_process() {
        assert_eq!(temp_pid("tmp", "load-42-0"), Some(42));
        assert_eq!(temp_pid("tmp", "from-host-42-3"), Some(42));
        assert_eq!(temp_pid("tmp", "42-0"), None);
        assert_eq!(temp_pid("layers", ".tmp-42-1"), Some(42));
        assert_eq!(temp_pid("blobs/sha256", ".tmp-42-x"), None);
        assert_eq!(temp_pid("layers", &"a".repeat(64)), None);
    }

    #[test]
    fn a_failed_command_takes_back_what_it_stored_and_no_more() {
        let (_d, s) = store();
        let tar = crate::image::unpack::tests::TarBuilder::new()
            .file("f", b"x", 0o644)
            .build();
        let chain = sha256_of(&tar);
        let added = Added::default();
        s.unpack_layer(&chain, &chain, || Ok(&tar[..])).unwrap();
        added.layer(&chain);
        let mine = s.put_blob(b"config", None, &added).unwrap();
        // A blob that was there before is not the failed command's.
        let before = s.put_blob(b"older", None, &Added::default()).unwrap();
        assert_eq!(s.put_blob(b"older", None, &added).unwrap(), before);
        let e = s.undo(&added, anyhow::anyhow!("download broke"));
        let e = format!("{e:#}");
        assert!(
            e.contains("removed the 1 layer(s) and 1 blob(s)") && e.contains("download broke"),
            "{e}"
        );
        assert!(!s.has_layer(&chain) && !s.has_blob(&mine) && s.has_blob(&before));
        assert_eq!(fs::read_dir(s.dir.join("layers")).unwrap().count(), 0);
    }

    #[test]
    fn garbage_collection_frees_what_it_reports() {
        let (_d, s) = store();
        let tar = crate::image::unpack::tests::TarBuilder::new()
            .file("f", &[7u8; 100_000], 0o644)
            .build();
        let chain = sha256_of(&tar);
        s.unpack_layer(&chain, &chain, || Ok(&tar[..])).unwrap();
        let used = disk_usage(&s.layer_dir(&chain));
        let got = s.collect_garbage(&Images::default()).unwrap();
        assert_eq!(got.bytes, used);
        assert!(got.bytes >= 100_000);
        assert_eq!(got.lines, [format!("Deleted: {chain}")]);
        assert_eq!(fs::read_dir(s.dir.join("layers")).unwrap().count(), 0);
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
