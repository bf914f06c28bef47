//! OCI images: references, a content-addressed store whose layers are
//! unpacked once and shared, the registry v2 client, and the archive
//! formats (`docker save`, OCI layout). Read the OCI image spec
//! (manifest.md, image-index.md, config.md, layer.md) and the OCI
//! distribution spec.

pub mod add;
pub mod archive;
pub mod auth;
pub mod blob;
pub mod commit;
pub mod digest;
pub mod gc;
pub mod human;
pub mod import;
pub mod instructions;
pub mod lease;
pub mod manage;
pub mod manifest;
pub mod member;
pub mod output;
pub mod progress;
pub mod pull;
pub mod recover;
pub mod reference;
pub mod registry;
pub mod save;
pub mod scan;
pub mod space;
pub mod store;
pub mod unpack;

use std::path::PathBuf;

use anyhow::Result;

use crate::state::Root;

/// What a container needs from its image.
#[derive(Debug)]
pub struct RunImage {
    /// The image id (config digest).
    pub id: String,
    /// The layer directories for overlay's `lowerdir=`, top layer first.
    pub lower_dirs: Vec<PathBuf>,
    /// The image config (`config.Cmd`, `Env`, `WorkingDir`, `User`, ...).
    pub config: manifest::ImageConfig,
    /// Keeps `image rm` and `image prune` off the image until the
    /// container's record names it: release it once that record is
    /// written ([`lease::Held::release`]); dropped unreleased, it goes too.
    pub lease: lease::Held,
}

/// The id of the image `what` (a reference or an id prefix) names.
pub fn resolve_id(root: &Root, what: &str) -> Result<String> {
    store::Store::open(root)?.images()?.resolve(what)
}

/// `docker inspect` of one image, as a JSON value (for the top-level
/// `inspect`, which tries containers first).
pub fn inspect_value(root: &Root, what: &str) -> Result<serde_json::Value> {
    let store = store::Store::open(root)?;
    let images = store.images()?;
    let id = images.resolve(what)?;
    let v = human::inspect_json(&store, &images, &images.images[&id])?;
    Ok(serde_json::to_value(v)?)
}

/// Find an image by reference or id for `run`/`create`; pull it (progress
/// on stderr, as `docker run` does) when it is missing and `pull_missing`.
/// The image comes with a lease held by this process ([`lease`]). All pull
/// threads are joined before this returns.
pub fn for_run(root: &Root, what: &str, pull_missing: bool) -> Result<RunImage> {
    let store = store::Store::open(root)?;
    let images = store.images()?;
    let id = match images.resolve(what) {
        Ok(id) => id,
        Err(e) if pull_missing && reference::Reference::parse(what).is_ok() => {
            let r = reference::Reference::parse(what)?;
            crate::trace::say(
                crate::trace::Mechanism::Image,
                format!("Unable to find image '{}' locally ({e:#})", r.familiar()),
            );
            let opts = pull::PullOptions {
                progress_to_stderr: true,
                ..Default::default()
            };
            pull::pull(root, &r, &opts)?.id
        }
        Err(e) => return Err(e),
    };
    // Under images.json's lock: a removal either ran before (and the image
    // is gone) or sees the lease.
    let _l = store.lock_images()?;
    let images = store.images()?;
    let rec = images.images.get(&id).ok_or_else(|| {
        anyhow::anyhow!("No such image: {what} (it was removed while it was handed over)")
    })?;
    let lease = lease::take_locked(
        &store,
        &id,
        lease::Holder::this_process()?,
        &format!("run {what}"),
    )?;
    Ok(RunImage {
        id: id.clone(),
        lower_dirs: manage::lower_dirs(&store, rec),
        config: manifest::ImageConfig::parse(&store.read_blob(&id)?)?,
        lease,
    })
}
