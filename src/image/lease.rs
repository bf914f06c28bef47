//! Leases: an image handed to a container that is being made.
//!
//! `run` resolves (or pulls) an image, then writes the container's record
//! (`containers/<id>/config.json`, whose `Image` is the image id). Between
//! the two nothing names the image as used, and an `image prune -a` or a
//! `rmi` at that moment would delete the layers the container is about to
//! mount. A lease closes the gap: a record `leases/lease-PID-N.json` that
//! names the image and the process holding it (its pid and start time),
//! written under `images.json`'s lock, so a removal either ran before it
//! (and the image is gone: taking the lease fails) or sees it. `image rm`
//! refuses to delete a leased image and `image prune` skips it, as they do
//! for an image a container's record names. The holder drops the lease once
//! the container's record holds the image, or when it gives up.
//!
//! A lease whose holder died is void: removals ignore it, `glassbox doctor`
//! names it, and `glassbox system prune` or `image prune` remove it
//! ([`super::recover`]). The start time guards against a pid the kernel
//! gave to another process since. Read `proc(5)` (`/proc/PID/stat`, field
//! 22, `starttime`) and `flock(2)`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::store::{Store, now, unique};
use crate::state::Root;
use crate::state::atomic::apply_json;
use crate::trace::Mechanism;

/// One lease, as `leases/<id>.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// `lease-PID-N`, the record's file name without `.json`.
    pub id: String,
    /// The image id (config digest) it keeps.
    pub image: String,
    /// The holder's pid.
    pub pid: u32,
    /// The holder's start time (`/proc/PID/stat` field 22, clock ticks
    /// since boot): another process that got the same pid later does not
    /// hold the lease.
    pub start: u64,
    /// Unix seconds when it was taken.
    pub created: u64,
    /// What holds it, for people: `run busybox`.
    pub holder: String,
}

impl Lease {
    /// Is the process that took the lease still running?
    pub fn alive(&self) -> bool {
        Holder {
            pid: self.pid,
            start: self.start,
        }
        .alive()
    }
}

/// A process that can hold a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub start: u64,
}

impl Holder {
    /// This glassbox process.
    pub fn this_process() -> Result<Holder> {
        Holder::of(std::process::id())
    }

    /// Process `pid` (e.g. a container's shim), which must be running.
    pub fn of(pid: u32) -> Result<Holder> {
        let start = start_time(pid).with_context(|| {
            format!("process {pid} cannot hold an image lease: it is not running")
        })?;
        Ok(Holder { pid, start })
    }

    /// Is this process (this pid, started at this time) still running?
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start)
    }
}

/// The start time of process `pid` (`/proc/PID/stat`, field 22), if it runs.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/PID/stat` line. The command (field 2) is in
/// parentheses and may itself hold spaces and parentheses: count from the
/// last `)`, after which field 3 comes.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// A lease this process took: dropped with [`Held::release`], or when the
/// value is dropped (the holder gave up, e.g. `run` failed before it wrote
/// the container's record).
#[derive(Debug)]
pub struct Held {
    lease: Lease,
    path: PathBuf,
    released: bool,
}

impl Held {
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The image id the lease keeps.
    pub fn image(&self) -> &str {
        &self.lease.image
    }

    /// The lease's record.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drop the lease: the container's record holds the image now (or the
    /// holder gave up). Already gone counts as success.
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        remove(
            &self.path,
            "the container's record holds the image now: the lease is done",
        )
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.released {
            let _ = remove(
                &self.path,
                "its holder gave the image up: the lease is done",
            );
        }
    }
}

fn remove(path: &Path, why: &str) -> Result<()> {
    crate::host::remove_file(Mechanism::Image, path, why)
}

/// Where the leases of a store live.
pub fn dir(store: &Store) -> PathBuf {
    store.dir.join("leases")
}

/// Take a lease on image `what` (a reference or an id) for `holder`,
/// saying what it is for (`run busybox`). Fails if there is no such image.
/// Under `--dry-run` the record is only planned.
pub fn take(root: &Root, what: &str, holder: Holder, purpose: &str) -> Result<Held> {
    let store = Store::open(root)?;
    let _l = store.lock_images()?;
    let image = store.images()?.resolve(what)?;
    take_locked(&store, &image, holder, purpose)
}

/// Take a lease on image id `image` while holding `images.json`'s lock.
pub(super) fn take_locked(
    store: &Store,
    image: &str,
    holder: Holder,
    purpose: &str,
) -> Result<Held> {
    if !holder.alive() {
        bail!(
            "process {} cannot hold an image lease: it is not running",
            holder.pid
        );
    }
    let id = unique("lease");
    let lease = Lease {
        id: id.clone(),
        image: image.to_string(),
        pid: holder.pid,
        start: holder.start,
        created: now(),
        holder: purpose.to_string(),
    };
    let path = dir(store).join(format!("{id}.json"));
    apply_json(&path, &lease)?;
    Ok(Held {
        lease,
        path,
        released: false,
    })
}

/// Every lease record of the store with its file, sorted by file name; a
/// record that is not a lease is named, never skipped.
pub fn all(store: &Store) -> Result<Vec<(PathBuf, Lease)>> {
    let d = dir(store);
    let rd = match std::fs::read_dir(&d) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("list {}", d.display())),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.with_context(|| format!("list {}", d.display()))?;
        let name = ent.file_name().to_string_lossy().into_owned();
        // Temporaries of a state write are the state area's business.
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let path = ent.path();
        if let Some(l) = crate::state::read_json::<Lease>(&path)? {
            out.push((path, l));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The leases whose holder still runs, by image id.
pub fn live(store: &Store) -> Result<BTreeMap<String, Vec<Lease>>> {
    let mut out: BTreeMap<String, Vec<Lease>> = BTreeMap::new();
    for (_, l) in all(store)? {
        if l.alive() {
            out.entry(l.image.clone()).or_default().push(l);
        }
    }
    Ok(out)
}

/// The leases whose holder died before dropping them, with their files.
pub fn stale(store: &Store) -> Result<Vec<(PathBuf, Lease)>> {
    Ok(all(store)?
        .into_iter()
        .filter(|(_, l)| !l.alive())
        .collect())
}

/// Remove the lease at `path` if its holder is (still) dead: a lease of
/// a live holder is never touched.
pub fn remove_stale(path: &Path) -> Result<()> {
    let lease = match crate::state::read_json::<Lease>(path)? {
        Some(l) => l,
        None => return Ok(()),
    };
    if lease.alive() {
        return Ok(());
    }
    remove(
        path,
        "its holder died before the container's record held the image: the lease keeps nothing",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::{ImageRecord, Images};

    fn store_with_image() -> (tempfile::TempDir, Root, Store, String) {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(Some(d.path())).unwrap();
        let s = Store::open(&root).unwrap();
        let id = crate::image::digest::sha256_of(b"config");
        let mut images = Images::default();
        images.images.insert(
            id.clone(),
            ImageRecord::new(&id, &id, String::new(), vec![], 0),
        );
        images
            .tags
            .insert("docker.io/library/busybox:latest".into(), id.clone());
        s.save_images(&images).unwrap();
        (d, root, s, id)
    }

    #[test]
    fn the_start_time_is_field_22_even_with_parentheses_in_the_name() {
        let line =
            "4242 (a) b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(parse_start_time(line), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
        let me = Holder::this_process().unwrap();
        assert!(me.alive());
        assert!(
            !Holder {
                start: me.start + 1,
                ..me
            }
            .alive(),
            "another process with the same pid holds nothing"
        );
        assert!(Holder::of(u32::MAX - 1).is_err());
    }

    #[test]
    fn a_lease_is_recorded_until_released_and_names_its_image() {
        let (_d, root, s, id) = store_with_image();
        let held = take(
            &root,
            "busybox",
            Holder::this_process().unwrap(),
            "run busybox",
        )
        .unwrap();
        assert_eq!(held.image(), id);
        assert!(held.path().is_file());
        let live = live(&s).unwrap();
        assert_eq!(live[&id][0].holder, "run busybox");
        assert!(stale(&s).unwrap().is_empty());
        held.release().unwrap();
        assert!(all(&s).unwrap().is_empty());
        // Dropped without a release: the holder gave up, the lease goes.
        let held = take(&root, &id, Holder::this_process().unwrap(), "run").unwrap();
        let path = held.path().to_path_buf();
        drop(held);
        assert!(!path.exists());
        let e = format!(
            "{:#}",
            take(&root, "alpine", Holder::this_process().unwrap(), "run").unwrap_err()
        );
        assert_eq!(e, "No such image: alpine:latest");
    }

    #[test]
    fn a_lease_of_a_dead_holder_is_stale_and_removed_only_then() {
        let (_d, root, s, id) = store_with_image();
        let me = Holder::this_process().unwrap();
        let held = take(&root, &id, me, "run").unwrap();
        // The same record, as a holder that died would have left it.
        let dead = Lease {
            id: "lease-1-0".into(),
            start: me.start + 1,
            ..held.lease().clone()
        };
        let dead_path = dir(&s).join("lease-1-0.json");
        crate::state::write_json(&dead_path, &dead).unwrap();
        assert_eq!(live(&s).unwrap()[&id].len(), 1);
        let stale_now = stale(&s).unwrap();
        assert_eq!(stale_now, vec![(dead_path.clone(), dead)]);
        remove_stale(held.path()).unwrap();
        assert!(
            held.path().exists(),
            "a live holder's lease is never removed"
        );
        remove_stale(&dead_path).unwrap();
        assert!(!dead_path.exists());
        remove_stale(&dead_path).unwrap();
        held.release().unwrap();
    }
}
