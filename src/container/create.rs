//! `create`: a container made, not started. The image is found (pulled
//! when missing) and held by a lease until the record names it; the name
//! is taken under the names lock (one of ten racing `--name same` wins);
//! the container's directory gets its writable layer (`upper/`, `work/`,
//! `merged/`), the init layer of mount points, and the files Docker
//! writes (`hostname`, `hosts`, `resolv.conf`); the record goes last, under
//! the container's lock, so a crash before it leaves only a directory
//! `system prune` removes, never half a container, and a failure removes
//! what was made.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::config::{self, ImageDefaults, Request};
use super::state::{self, Container, Rootfs, State, ZERO_TIME};
use super::{cgroup as ccgroup, env, etc, id, names, start};
use crate::state::Root;
use crate::trace::Mechanism;

/// Make the container `req` asks for; its record.
pub fn create(root: &Root, req: &Request) -> Result<Container> {
    root.ensure()?;
    let mode = check(root, req)?;
    if req.init {
        super::init::binary()?;
    }
    make_bind_sources(req)?;
    let image = crate::image::for_run(root, &req.image, true)?;
    let img = ImageDefaults::from_config(&image.config.config);
    // Check the command now: `create` fails without one, as Docker's does.
    config::command(req, &img)?;
    let _names = state::names_lock(root)?;
    let name = choose_name(root, req)?;
    let layers = (image.id.as_str(), image.lower_dirs.as_slice());
    let mut c = record(root, req, &mode, &img, layers, name, id::new_id()?)?;
    // The volumes, made under the names lock (the one `volume rm` takes)
    // and named by the record before it is dropped.
    let (points, new_volumes) = super::mounts::resolve(root, req, &img)?;
    c.mounts = points;
    let dir = state::container_dir(root, &c.id);
    if let Err(e) = crate::host::mkdir(Mechanism::Run, &dir) {
        super::mounts::undo(root, &new_volumes);
        return Err(e);
    }
    // Held until the record is written: a directory without a record whose
    // lock is free is what a crash left (`system prune` removes it), never
    // a creation under way.
    let lock = state::lock(root, &c.id)?;
    let made = write_files(&c, req)
        .and_then(|()| state::save(root, &c).context("write the container's record"));
    if let Err(e) = made {
        // Nothing half-made stays: the directory goes with what is in it.
        let _ = crate::host::remove_dir_all(
            Mechanism::Run,
            &dir,
            "The container could not be made: what was made of it goes.",
        );
        super::mounts::undo(root, &new_volumes);
        return Err(e);
    }
    drop(lock);
    crate::events::container(root, &c, "create");
    // The record holds the image now.
    image.lease.release()?;
    Ok(c)
}

/// The network mode, ports and networks, checked before anything is made.
pub fn check(root: &Root, req: &Request) -> Result<crate::net::mode::Mode> {
    let mode = crate::net::mode::parse_mode(if req.network.is_empty() {
        "bridge"
    } else {
        &req.network
    })?;
    // `-P` is port publishing too (any port stands for the exposed ones).
    let any = crate::net::ports::parse_port_spec("1")?;
    let ports = if req.publish.is_empty() && req.publish_all {
        &any
    } else {
        &req.publish
    };
    if let Some(w) = crate::net::mode::check_ports(&mode, ports)? {
        crate::trace::warn(w);
    }
    super::network::check_request(root, req)?;
    Ok(mode)
}

/// Docker's `-v` makes a missing host directory; `--mount type=bind`
/// refuses one.
pub fn make_bind_sources(req: &Request) -> Result<()> {
    super::mounts::prepare_sources(req)
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
    let (config, mut host_config) = config::build(req, img, &hostname, env)?;
    if host_config.memory > 0 && host_config.memory_swap == 0 {
        // Docker's default, as its daemon records it: memory + swap is
        // twice the memory.
        host_config.memory_swap = host_config.memory.saturating_mul(2);
    }
    let (entrypoint, cmd) = config::command(req, img)?;
    let mut argv = entrypoint;
    argv.extend(cmd);
    let dir = state::container_dir(root, &id);
    // Docker's "init" layer, between the image and the container's own:
    // the mount points glassbox binds over, so `diff` and `commit` never
    // see them as the container's changes.
    let mut lower = vec![dir.join("init")];
    lower.extend(image.1.iter().cloned());
    let rootfs = Rootfs {
        lower,
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
        endpoints: super::network::initial_endpoints(req),
        rootfs,
        cgroup: ccgroup::name(&id),
        log_path: dir.join(format!("{id}-json.log")),
        hostname_path: file("hostname"),
        hosts_path: file("hosts"),
        resolv_conf_path: file("resolv.conf"),
        start_count: 0,
        mounts: Vec::new(),
    })
}

/// The container's directories (its writable layer) and the files Docker
/// writes for it.
pub fn write_files(c: &Container, req: &Request) -> Result<()> {
    let dir = c.hostname_path.parent().unwrap_or(&c.rootfs.upper);
    for d in [dir, &c.rootfs.upper, &c.rootfs.work, &c.rootfs.merged] {
        crate::host::mkdir(Mechanism::Run, d)?;
    }
    make_init_layer(&dir.join("init"))?;
    start::write_file(&c.hostname_path, &format!("{}\n", c.config.hostname))?;
    start::write_file(&c.hosts_path, &etc::hosts(None, &req.add_hosts))?;
    let resolv = start::resolv_text(&req.dns);
    start::write_file(&c.resolv_conf_path, &resolv)?;
    start::write_file(&dir.join("resolv.conf.src"), &resolv)
}

/// The mount points of the init layer: the directories the process core
/// mounts on and the files Docker binds over the image's.
pub const INIT_DIRS: [&str; 7] = [
    "proc",
    "sys",
    "dev",
    "dev/pts",
    "dev/shm",
    "dev/mqueue",
    "etc",
];
pub const INIT_FILES: [&str; 4] = [
    "etc/hostname",
    "etc/hosts",
    "etc/resolv.conf",
    "dev/console",
];

fn make_init_layer(init: &Path) -> Result<()> {
    crate::trace::Step::new(
        Mechanism::Run,
        crate::trace::Action::Filesystem,
        format!("make the init layer {}", init.display()),
    )
    .arg("path", init.display())
    .shell(format!(
        "mkdir -p {0}/{{proc,sys,dev/pts,dev/shm,dev/mqueue,etc}} && touch {0}/etc/{{hostname,hosts,resolv.conf}} {0}/dev/console",
        init.display()
    ))
    .why("Docker's init layer holds the mount points a container needs (/proc, /dev, /etc/hosts, ...) just above the image, so the container's own layer records only what the container changed.")
    .run(|| {
        for d in INIT_DIRS {
            std::fs::create_dir_all(init.join(d))
                .with_context(|| format!("mkdir {}", init.join(d).display()))?;
        }
        for f in INIT_FILES {
            std::fs::write(init.join(f), b"")
                .with_context(|| format!("create {}", init.join(f).display()))?;
        }
        Ok(())
    })
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
