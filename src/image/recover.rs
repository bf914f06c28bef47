//! What a crashed `image pull`, `load` or `import` (or `rm`) leaves in the
//! image store, for `glassbox doctor` and `glassbox system prune`
//! ([`crate::state::recover`]).
//!
//! Two kinds of leftovers. Temporaries of a process that is gone: a work
//! directory `tmp/WHAT-PID-N` (an unpacked archive: tens of MB), a layer
//! being unpacked or deleted `layers/.tmp-PID-N`, a blob being written
//! `blobs/sha256/.tmp-PID-N`; a live process's are its work in progress
//! and never touched. And layers and blobs that no image in `images.json`
//! uses: stored by a pull or load that died before it recorded its image,
//! or left by a removal that died half way. A pull or load in progress
//! holds the store's `gc` lock shared while its layers are not yet
//! recorded, so these are looked for only when the lock can be taken
//! exclusively at once, and removed only under it, after checking again.
//! The next pull or load of the same image also reuses them; the next
//! command that opens the store sweeps dead temporaries. And leases
//! ([`super::lease`]) whose holder died before dropping them: they keep
//! nothing, and are removed (so is each by `image prune`). Read `flock(2)`.

use anyhow::Result;

use super::store::{Item, Store};
use crate::state::Root;
use crate::state::recover::Recover;
use crate::state::resources::{Leftover, pid_alive};

/// The image store's leftovers.
pub struct ImageStore;
pub static IMAGE_STORE: ImageStore = ImageStore;

const TEMP: &str = "image-temp";
const LAYER: &str = "image-layer";
const BLOB: &str = "image-blob";
const LEASE: &str = "image-lease";

/// The store of `root` without creating or sweeping anything (doctor
/// only looks).
fn store(root: &Root) -> Store {
    Store::at(&root.data)
}

impl Recover for ImageStore {
    fn area(&self) -> &'static str {
        "image"
    }

    fn find(&self, root: &Root) -> Result<Vec<Leftover>> {
        let store = store(root);
        let mut out: Vec<Leftover> = store
            .stale_temporaries()
            .into_iter()
            .map(|t| Leftover {
                kind: TEMP.into(),
                id: t.path.display().to_string(),
                reason: format!("{} of pid {}, which died before finishing", t.what, t.pid),
            })
            .collect();
        match super::lease::stale(&store) {
            Ok(stale) => out.extend(stale.into_iter().map(|(path, l)| Leftover {
                kind: LEASE.into(),
                id: path.display().to_string(),
                reason: format!(
                    "a lease on image {} for {}, whose holder (pid {}) died before the container's record held the image",
                    super::digest::short(&l.image),
                    l.holder,
                    l.pid
                ),
            })),
            Err(e) if crate::doctor::is_permission_error(&e) => {}
            Err(e) => return Err(e),
        }
        if !store.dir.join("locks").is_dir() {
            return Ok(out);
        }
        // A pull or load holding the gc lock has layers not recorded yet.
        // A user who may not open the lock (not root) cannot look either.
        let _gc = match store.try_gc_exclusive() {
            Ok(Some(gc)) => gc,
            Ok(None) => return Ok(out),
            Err(e) if crate::doctor::is_permission_error(&e) => return Ok(out),
            Err(e) => return Err(e),
        };
        let images = store.images()?;
        for item in store.unused(&images)? {
            let (kind, path, what) = match &item {
                Item::Layer(h) => (LAYER, store.dir.join("layers").join(h), "layer"),
                Item::Blob(h) => (BLOB, store.dir.join("blobs/sha256").join(h), "blob"),
            };
            out.push(Leftover {
                kind: kind.into(),
                id: path.display().to_string(),
                reason: format!(
                    "a {what} no image uses, {}: a pull, load or removal stopped half way",
                    super::space::bytes(super::space::disk_usage(&path))
                ),
            });
        }
        Ok(out)
    }

    fn repair(&self, root: &Root, l: &Leftover) -> Result<()> {
        let store = store(root);
        let path = std::path::Path::new(&l.id);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match l.kind.as_str() {
            TEMP => {
                // Only what find() named: a temporary of a dead process.
                let Some(t) = store
                    .stale_temporaries()
                    .into_iter()
                    .find(|t| t.path == path)
                else {
                    return Ok(());
                };
                if pid_alive(t.pid) {
                    return Ok(());
                }
                if path.is_dir() {
                    crate::host::remove_dir_all(
                        crate::trace::Mechanism::Image,
                        path,
                        "a dead process's half-made work: nothing refers to it",
                    )
                } else {
                    crate::host::remove_file(
                        crate::trace::Mechanism::Image,
                        path,
                        "a dead process's half-written blob: nothing refers to it",
                    )
                }
            }
            LEASE => super::lease::remove_stale(path),
            LAYER | BLOB => {
                let item = if l.kind == LAYER {
                    Item::Layer(name)
                } else {
                    Item::Blob(name)
                };
                // Waits for a pull or load in progress, then checks again:
                // it may have recorded an image that uses this.
                let _gc = store.gc_exclusive()?;
                let _images = store.lock_images()?;
                if store.unused(&store.images()?)?.contains(&item) {
                    store.remove_unused(&item)?;
                }
                Ok(())
            }
            other => anyhow::bail!("unknown image leftover kind {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::{Added, Images};

    #[test]
    fn dead_temporaries_and_unused_content_are_found_and_repaired() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(Some(d.path())).unwrap();
        let s = Store::open(&root).unwrap();
        let dead = u32::MAX - 1;
        let me = std::process::id();
        let paths = [
            s.dir.join(format!("tmp/load-{dead}-0")),
            s.dir.join(format!("layers/.tmp-{dead}-1")),
        ];
        for p in &paths {
            std::fs::create_dir_all(p.join("diff")).unwrap();
        }
        std::fs::write(s.dir.join(format!("blobs/sha256/.tmp-{dead}-2")), b"part").unwrap();
        let live = s.dir.join(format!("tmp/load-{me}-0"));
        std::fs::create_dir_all(&live).unwrap();
        let digest = s.put_blob(b"orphan", None, &Added::default()).unwrap();
        s.save_images(&Images::default()).unwrap();

        let found = IMAGE_STORE.find(&root).unwrap();
        let kinds: Vec<&str> = found.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(kinds, [TEMP, TEMP, TEMP, BLOB], "{found:#?}");
        assert!(
            found[3]
                .id
                .ends_with(crate::image::digest::hex_part(&digest))
        );
        // While a pull holds the gc lock, unused content is not named.
        {
            let _pull = s.gc_shared().unwrap();
            assert_eq!(IMAGE_STORE.find(&root).unwrap().len(), 3);
        }
        for l in &found {
            IMAGE_STORE.repair(&root, l).unwrap();
        }
        assert!(IMAGE_STORE.find(&root).unwrap().is_empty());
        assert!(live.exists(), "a live process's work is left alone");
        assert!(!s.has_blob(&digest));
    }
}
