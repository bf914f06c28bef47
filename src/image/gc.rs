//! Garbage collection and undo: the layers and blobs no image in
//! `images.json` uses, removed under the store's `gc` lock held
//! exclusively (no pull or load is then half way), and what a failed pull
//! or load had stored ([`Added`]), taken back by [`Store::undo`]. A layer
//! leaves its address in one `rename(2)` before it is deleted. Read
//! `flock(2)`.

use std::collections::BTreeSet;
use std::fs;
use std::io;

use anyhow::{Context, Result};

use super::digest::hex_part;
use super::reference::validate_digest;
use super::space::disk_usage;
use super::store::{Images, Store};
use crate::state::StateLock;
use crate::trace::Mechanism;

impl Store {
    /// Remove one unused layer (by its directory's name) or blob (by its
    /// file's name) under its lock; the bytes freed. The caller holds the
    /// gc lock exclusively and has checked that no image uses it.
    pub fn remove_unused(&self, item: &Item) -> Result<u64> {
        match item {
            Item::Layer(hex) => {
                let _lock = self.lock_layer(hex)?;
                let dir = self.dir.join("layers").join(hex);
                if fs::symlink_metadata(&dir).is_err() {
                    return Ok(0);
                }
                self.remove_layer_dir(&dir)
            }
            Item::Blob(hex) => {
                let _lock = self.lock_blob(hex)?;
                let path = self.dir.join("blobs/sha256").join(hex);
                let bytes = disk_usage(&path);
                crate::host::remove_file(
                    Mechanism::Image,
                    &path,
                    "no image refers to this blob any more",
                )?;
                Ok(bytes)
            }
        }
    }

    /// Layers and blobs in the store that no image in `images` uses.
    pub fn unused(&self, images: &Images) -> Result<Vec<Item>> {
        let (keep_blobs, keep_layers) = referenced(images);
        let mut out = Vec::new();
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
                if name.starts_with('.')
                    || validate_digest(&format!("sha256:{name}")).is_err()
                    || keep.contains(&name)
                {
                    continue;
                }
                out.push(if sub == "layers" {
                    Item::Layer(name)
                } else {
                    Item::Blob(name)
                });
            }
        }
        Ok(out)
    }

    /// Remove images' unreferenced blobs and layers. Call with the gc lock
    /// held exclusively and images.json locked.
    pub fn collect_garbage(&self, images: &Images) -> Result<Collected> {
        let mut out = Collected::default();
        for item in self.unused(images)? {
            out.bytes += self.remove_unused(&item)?;
            if let Item::Layer(hex) = &item {
                out.lines.push(format!("Deleted: sha256:{hex}"));
            }
        }
        Ok(out)
    }

    /// The gc lock, exclusively, if no pull or load holds it now.
    pub fn try_gc_exclusive(&self) -> Result<Option<StateLock>> {
        StateLock::try_exclusive(&self.dir.join("locks/gc"))
    }

    /// Take back what a failed command had added to the store (the layers
    /// and blobs in `added` that no image uses: a concurrent pull may have
    /// taken them up), and say so in its error; a lack of space is
    /// explained with what to do. Call after releasing the gc lock.
    pub fn undo(&self, added: &Added, err: anyhow::Error) -> anyhow::Error {
        let err = self.explain_no_room(err);
        // A plan stores nothing, so it has nothing to take back.
        let items = added.take();
        if items.is_empty() {
            return err;
        }
        let (layers, blobs) = count(&items);
        let gc = match self.try_gc_exclusive() {
            Ok(Some(gc)) => gc,
            Ok(None) => {
                return err.context(format!(
                    "left the {layers} layer(s) and {blobs} blob(s) it had stored for `glassbox image prune` (another pull or load is running)"
                ));
            }
            Err(e) => return err.context(format!("could not undo what it had stored: {e:#}")),
        };
        let undone = (|| -> Result<u64> {
            let _images = self.lock_images()?;
            let (keep_blobs, keep_layers) = referenced(&self.images()?);
            let mut bytes = 0;
            for item in &items {
                let used = match item {
                    Item::Layer(h) => keep_layers.contains(h),
                    Item::Blob(h) => keep_blobs.contains(h),
                };
                if !used {
                    bytes += self.remove_unused(item)?;
                }
            }
            Ok(bytes)
        })();
        drop(gc);
        match undone {
            Ok(bytes) => err.context(format!(
                "undone: removed the {layers} layer(s) and {blobs} blob(s) it had stored ({})",
                super::space::bytes(bytes)
            )),
            Err(e) => err.context(format!(
                "could not undo what it had stored ({e:#}): `glassbox system prune` removes it"
            )),
        }
    }

    /// Add what to do to an error that is a lack of space.
    pub fn explain_no_room(&self, err: anyhow::Error) -> anyhow::Error {
        match super::space::no_room(&err) {
            Some(why) => {
                let text = super::space::advice(&why, &self.dir);
                err.context(text)
            }
            None => err,
        }
    }
}

/// What [`Store::collect_garbage`] removed.
#[derive(Debug, Default)]
pub struct Collected {
    /// `Deleted: sha256:...` for each layer, as Docker prints.
    pub lines: Vec<String>,
    /// Bytes freed on disk.
    pub bytes: u64,
}

/// A layer (its chain id's hex) or a blob (its digest's hex) of the store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    Layer(String),
    Blob(String),
}

fn count(items: &[Item]) -> (usize, usize) {
    let layers = items.iter().filter(|i| matches!(i, Item::Layer(_))).count();
    (layers, items.len() - layers)
}

/// What one command added to the store, to take back if it fails.
#[derive(Debug, Default)]
pub struct Added(std::sync::Mutex<Vec<Item>>);

impl Added {
    pub fn layer(&self, chain_id: &str) {
        self.push(Item::Layer(hex_part(chain_id).to_string()));
    }
    pub fn blob(&self, digest: &str) {
        self.push(Item::Blob(hex_part(digest).to_string()));
    }
    fn push(&self, item: Item) {
        if let Ok(mut v) = self.0.lock() {
            v.push(item);
        }
    }
    fn take(&self) -> Vec<Item> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// The hex of every blob and layer an image in `images` uses.
pub fn referenced(images: &Images) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut blobs = BTreeSet::new();
    let mut layers = BTreeSet::new();
    for img in images.images.values() {
        blobs.insert(hex_part(&img.id).to_string());
        blobs.insert(hex_part(&img.manifest_digest).to_string());
        for l in &img.layers {
            blobs.insert(hex_part(&l.digest).to_string());
            layers.insert(hex_part(&l.chain_id).to_string());
        }
    }
    (blobs, layers)
}
