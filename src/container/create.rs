//! `create`: a container made, not started. The image is found (pulled
//! when missing) and held by a lease until the record names it; the name
//! is taken under the names lock (one of ten racing `--name same` wins);
//! the container's directory gets its writable layer (`upper/`, `work/`,
//! `merged/`) and the files Docker writes (`hostname`, `hosts`,
//! `resolv.conf`); the record goes last, so a crash before it leaves only a
//! directory `system prune` removes, never half a container.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::config::{self, ImageDefaults, Request};
use super::state::{self, Container, Rootfs, State, ZERO_TIME};
use super::{cgroup as ccgroup, env, etc, id, names, start};
use crate::state::Root;
use crate::trace::Mechanism;

/// Make the container `req` asks for; its record.
pub fn create(root: &Root, req: &Request) -> Result<Container> {
    root.ensure()?;
    let mode = check(req)?;
    make_bind_sources(req)?;
    let image = crate::image::for_run(root, &req.image, true)?;
    let img = ImageDefaults::from_config(&image.config.config);
    // Check the command now: `create` fails without one, as Docker's does.
    config::command(req, &img)?;
    let _names = state::names_lock(root)?;
    let name = choose_name(root, req)?;
    let layers = (image.id.as_str(), image.lower_dirs.as_slice());
    let c = record(root, req, &mode, &img, layers, name, id::new_id()?)?;
    write_files(&c, req)?;
    {
        let _lock = state::lock(root, &c.id)?;
        state::save(root, &c).context("write the container's record")?;
    }
    // The record holds the image now.
    image.lease.release()?;
    Ok(c)
}

/// The network mode and ports, checked before anything is made.
pub fn check(req: &Request) -> Result<crate::net::mode::Mode> {
    let mode = crate::net::mode::parse_mode(if req.network.is_empty() {
        "bridge"
    } else {
        &req.network
    })?;
    if let Some(w) = crate::net::mode::check_ports(&mode, &req.publish)? {
        crate::trace::warn(w);
    }
    Ok(mode)
}

/// Docker's `-v` makes a missing host directory.
pub fn make_bind_sources(req: &Request) -> Result<()> {
    for b in &req.binds {
        if !b.source.exists() {
            crate::host::mkdir(Mechanism::Run, &b.source)?;
        }
    }
    Ok(())
}

/// The name asked for (checked, free), or a random free one; the caller
/// holds the names lock.
pub fn choose_name(root: &Root, req: &Request) -> Result<String> {
    match &req.name {
        Some(n) => {
            let n = id::validate_name(n)?.to_string();
            state::check_name_free(root, &n)?;
            Ok(n)
        }
        None => free_random_name(root),
    }
}

/// The record of a new container `id` named `name` on `image` (its id and
/// its layers' directories, top first); nothing written.
pub fn record(
    root: &Root,
    req: &Request,
    mode: &crate::net::mode::Mode,
    img: &ImageDefaults,
    image: (&str, &[PathBuf]),
    name: String,
    id: String,
) -> Result<Container> {
    let hostname = match (&req.hostname, mode) {
        (Some(h), _) => h.clone(),
        (None, crate::net::mode::Mode::Host) => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| id::short(&id).to_string()),
        (None, _) => id::short(&id).to_string(),
    };
    let env = env::compose(&img.env, &req.env, &hostname, req.tty);
    let (config, host_config) = config::build(req, img, &hostname, env)?;
    let (entrypoint, cmd) = config::command(req, img)?;
    let mut argv = entrypoint;
    argv.extend(cmd);
    let dir = state::container_dir(root, &id);
    let rootfs = Rootfs {
        lower: image.1.to_vec(),
        upper: dir.join("upper"),
        work: dir.join("work"),
        merged: dir.join("merged"),
    };
    let file = |n: &str| -> PathBuf { dir.join(n) };
    Ok(Container {
        id: id.clone(),
        name,
        created: crate::clock::now_rfc3339_nanos(),
        path: argv[0].clone(),
        args: argv[1..].to_vec(),
        state: State {
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            ..State::default()
        },
        image: image.0.to_string(),
        config,
        host_config,
        endpoints: Vec::new(),
        rootfs,
        cgroup: ccgroup::name(&id),
        log_path: dir.join(format!("{id}-json.log")),
        hostname_path: file("hostname"),
        hosts_path: file("hosts"),
        resolv_conf_path: file("resolv.conf"),
        start_count: 0,
    })
}

/// The container's directories (its writable layer) and the files Docker
/// writes for it.
pub fn write_files(c: &Container, req: &Request) -> Result<()> {
    let dir = c.hostname_path.parent().unwrap_or(&c.rootfs.upper);
    for d in [dir, &c.rootfs.upper, &c.rootfs.work, &c.rootfs.merged] {
        crate::host::mkdir(Mechanism::Run, d)?;
    }
    start::write_file(&c.hostname_path, &format!("{}\n", c.config.hostname))?;
    start::write_file(&c.hosts_path, &etc::hosts(None, &req.add_hosts))?;
    let resolv = start::resolv_text(&req.dns);
    start::write_file(&c.resolv_conf_path, &resolv)?;
    start::write_file(&dir.join("resolv.conf.src"), &resolv)
}

/// A Docker-style name no container of this root has.
fn free_random_name(root: &Root) -> Result<String> {
    for retry in 0..20 {
        let n = names::random(retry)?;
        if state::check_name_free(root, &n).is_ok() {
            return Ok(n);
        }
    }
    anyhow::bail!("could not find a free container name: give one with --name")
}
