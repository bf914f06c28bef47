//! Tags, removal and pruning: images.json edits under its lock, then a
//! garbage collection that deletes the layers and blobs no image uses any
//! more (a shared layer stays until its last image goes). An image that a
//! container's record names, or that a lease keeps for a container being
//! made ([`super::lease`]), is not removed.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use super::digest::short;
use super::lease::{self, Lease};
use super::reference::Reference;
use super::store::{ImageRecord, Images, Store};
use crate::state::Root;
use crate::trace::Done;

/// Containers (by id) that use each image id: read from
/// `containers/<id>/config.json`, whose `Image` field is the image id.
pub fn containers_using(root: &Root) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(root.data.join("containers")) else {
        return out;
    };
    for ent in rd.flatten() {
        let cfg = ent.path().join("config.json");
        let Ok(Some(v)) = crate::state::read_json::<serde_json::Value>(&cfg) else {
            continue;
        };
        if let Some(img) = v
            .get("Image")
            .or_else(|| v.get("image"))
            .and_then(|i| i.as_str())
        {
            out.entry(img.to_string())
                .or_default()
                .push(ent.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

/// `image tag SOURCE TARGET`. `Done::Planned`: a plan that may not read
/// `images.json` stops there (see [`Store::read_images`]).
pub fn tag(root: &Root, source: &str, target: &str) -> Result<Done<()>> {
    let store = Store::open(root)?;
    let target = Reference::parse(target)?;
    let Some(t) = target.tagged().filter(|_| target.digest.is_none()) else {
        bail!("refusing to create a tag with a digest reference");
    };
    let _l = store.lock_images()?;
    let Done::Ran(mut images) = store.read_images()? else {
        return Ok(Done::Planned);
    };
    let id = images.resolve(source)?;
    images.tags.insert(t, id);
    store.save_images(&images)?;
    Ok(Done::Ran(()))
}

/// What keeps images from removal: the containers whose records name
/// them, and the leases of images being handed to a container
/// ([`super::lease`]), by image id.
struct InUse {
    containers: BTreeMap<String, Vec<String>>,
    leases: BTreeMap<String, Vec<Lease>>,
}

impl InUse {
    fn read(root: &Root, store: &Store) -> Result<InUse> {
        Ok(InUse {
            containers: containers_using(root),
            leases: lease::live(store)?,
        })
    }

    fn contains(&self, id: &str) -> bool {
        self.containers.contains_key(id) || self.leases.contains_key(id)
    }
}

/// `image rm`: the lines Docker prints (`Untagged: ...`, `Deleted: ...`).
/// An image a container's record names is removed only with `force`; a
/// leased one never (`force` by a reference only untags it, as Docker
/// does for a running container's image). `Done::Planned`: a plan that
/// may not read `images.json` stops there.
pub fn remove(root: &Root, what: &[String], force: bool) -> Result<Done<Vec<String>>> {
    let store = Store::open(root)?;
    let _gc = store.gc_exclusive()?;
    let _l = store.lock_images()?;
    let Done::Ran(mut images) = store.read_images()? else {
        return Ok(Done::Planned);
    };
    let used = InUse::read(root, &store)?;
    let mut lines = Vec::new();
    for w in what {
        let id = images.resolve(w)?;
        let tags = images.tags_of(&id);
        // Is `w` one of the image's tags (untag only) or the image itself?
        let by_tag = Reference::parse(w)
            .ok()
            .and_then(|r| r.tagged())
            .filter(|t| images.tags.get(t) == Some(&id));
        let leased = used.leases.get(&id).and_then(|l| l.first());
        if let Some(l) = leased {
            if by_tag.is_none() {
                bail!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by a container being created (lease {} of pid {}, {})",
                    short(&id),
                    l.id,
                    l.pid,
                    l.holder
                );
            }
            if !force && tags.len() == 1 {
                bail!(
                    "conflict: unable to remove repository reference {w:?} (must force) - a container being created (lease {} of pid {}, {}) is using its referenced image {}",
                    l.id,
                    l.pid,
                    l.holder,
                    short(&id)
                );
            }
        }
        if let Some(users) = used.containers.get(&id)
            && !force
        {
            match &by_tag {
                None => bail!(
                    "conflict: unable to delete {} (must be forced) - image is being used by container {}",
                    short(&id),
                    short(&users[0])
                ),
                Some(_) if tags.len() == 1 => bail!(
                    "conflict: unable to remove repository reference {w:?} (must force) - container {} is using its referenced image {}",
                    short(&users[0]),
                    short(&id)
                ),
                Some(_) => {}
            }
        }
        match by_tag {
            Some(t) if tags.len() > 1 || leased.is_some() => {
                images.tags.remove(&t);
                lines.push(format!("Untagged: {}", Reference::parse(&t)?.familiar()));
                continue;
            }
            Some(_) => {}
            None if tags.len() > 1 && !force => bail!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                short(&id)
            ),
            None => {}
        }
        for t in &tags {
            if let Some(full) = t.tagged() {
                images.tags.remove(&full);
            }
            lines.push(format!("Untagged: {}", t.familiar()));
        }
        if let Some(rec) = images.images.remove(&id) {
            for d in &rec.repo_digests {
                if let Ok(r) = Reference::parse(d) {
                    lines.push(format!("Untagged: {}", r.familiar()));
                }
            }
        }
        lines.push(format!("Deleted: {id}"));
    }
    store.save_images(&images)?;
    lines.extend(store.collect_garbage(&images)?.lines);
    Ok(Done::Ran(lines))
}

/// `image prune [-a]`: dangling (untagged) images, or all unused with -a,
/// then every layer and blob no image uses and what crashed commands left
/// (half-written temporaries, leases of dead holders). An image that a
/// container's record names or a live lease keeps stays. Returns the
/// deleted lines and the bytes freed on disk (what `du` would see go);
/// `Done::Planned`: a plan that may not read `images.json` stops there.
pub fn prune(root: &Root, all: bool) -> Result<Done<(Vec<String>, u64)>> {
    let store = Store::open_unswept(root)?;
    let _gc = store.gc_exclusive()?;
    let mut freed = store.sweep_stale();
    let _l = store.lock_images()?;
    let Done::Ran(mut images) = store.read_images()? else {
        return Ok(Done::Planned);
    };
    for (path, _) in lease::stale(&store)? {
        lease::remove_stale(&path)?;
    }
    let used = InUse::read(root, &store)?;
    let victims: Vec<String> = images
        .images
        .keys()
        .filter(|id| !used.contains(id))
        .filter(|id| all || images.tags_of(id).is_empty())
        .cloned()
        .collect();
    let mut lines = Vec::new();
    for id in victims {
        for t in images.tags_of(&id) {
            if let Some(full) = t.tagged() {
                images.tags.remove(&full);
            }
            lines.push(format!("untagged: {}", t.familiar()));
        }
        images.images.remove(&id);
        lines.push(format!("deleted: {id}"));
    }
    store.save_images(&images)?;
    freed += store.collect_garbage(&images)?.bytes;
    Ok(Done::Ran((lines, freed)))
}

/// One stored layer and the images that use it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerUse {
    pub chain_id: String,
    pub diff_id: String,
    pub size: u64,
    pub dir: String,
    /// Familiar names (or short ids) of the images with this layer.
    pub images: Vec<String>,
}

/// Every layer in the store, bottom-most first per image, with its users.
pub fn layer_usage(store: &Store, images: &Images) -> Result<Vec<LayerUse>> {
    let mut by_chain: BTreeMap<String, LayerUse> = BTreeMap::new();
    let mut order = Vec::new();
    let mut recs: Vec<&ImageRecord> = images.images.values().collect();
    recs.sort_by_key(|r| (r.layers.len(), r.id.clone()));
    for rec in recs {
        let name = images
            .tags_of(&rec.id)
            .first()
            .map(|t| t.familiar())
            .unwrap_or_else(|| short(&rec.id).to_string());
        for l in &rec.layers {
            let entry = by_chain.entry(l.chain_id.clone()).or_insert_with(|| {
                order.push(l.chain_id.clone());
                LayerUse {
                    chain_id: l.chain_id.clone(),
                    diff_id: l.diff_id.clone(),
                    size: store
                        .layer_meta(&l.chain_id)
                        .ok()
                        .flatten()
                        .map(|m| m.size)
                        .unwrap_or(0),
                    dir: store.layer_diff(&l.chain_id).display().to_string(),
                    images: Vec::new(),
                }
            });
            if !entry.images.contains(&name) {
                entry.images.push(name.clone());
            }
        }
    }
    Ok(order
        .into_iter()
        .filter_map(|c| by_chain.remove(&c))
        .collect())
}

/// The overlay lower dirs of an image, top layer first (`lowerdir=`).
pub fn lower_dirs(store: &Store, rec: &ImageRecord) -> Vec<std::path::PathBuf> {
    rec.layers
        .iter()
        .rev()
        .map(|l| store.layer_diff(&l.chain_id))
        .collect()
}
