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
    // The network mode and ports are checked before anything is made.
    let mode = crate::net::mode::parse_mode(if req.network.is_empty() {
        "bridge"
    } else {
        &req.network
    })?;
    if let Some(w) = crate::net::mode::check_ports(&mode, &req.publish)? {
        crate::trace::warn(w);
    }
    super::network::check_request(root, req)?;
    for b in &req.binds {
        // Docker's `-v` makes a missing host directory.
        if !b.source.exists() {
            crate::host::mkdir(Mechanism::Run, &b.source)?;
        }
    }
    let image = crate::image::for_run(root, &req.image, true)?;
    let img = ImageDefaults::from_config(&image.config.config);
    // Check the command now: `create` fails without one, as Docker's does.
    config::command(req, &img)?;
    let _names = state::names_lock(root)?;
    let name = match &req.name {
        Some(n) => {
            let n = id::validate_name(n)?.to_string();
            state::check_name_free(root, &n)?;
            n
        }
        None => free_random_name(root)?,
    };
    let id = id::new_id()?;
    let hostname = match (&req.hostname, &mode) {
        (Some(h), _) => h.clone(),
        (None, crate::net::mode::Mode::Host) => nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| id::short(&id).to_string()),
        (None, _) => id::short(&id).to_string(),
    };
    let env = env::compose(&img.env, &req.env, &hostname, req.tty);
    let (config, mut host_config) = config::build(req, &img, &hostname, env)?;
    if host_config.memory > 0 && host_config.memory_swap == 0 {
        // Docker's default, as its daemon records it: memory + swap is
        // twice the memory.
        host_config.memory_swap = host_config.memory.saturating_mul(2);
    }
    let (entrypoint, cmd) = config::command(req, &img)?;
    let mut argv = entrypoint;
    argv.extend(cmd);
    let dir = state::container_dir(root, &id);
    // Docker's "init" layer, between the image and the container's own:
    // the mount points glassbox binds over, so `diff` and `commit` never
    // see them as the container's changes.
    let init = dir.join("init");
    let mut lower = vec![init.clone()];
    lower.extend(image.lower_dirs.iter().cloned());
    let rootfs = Rootfs {
        lower,
        upper: dir.join("upper"),
        work: dir.join("work"),
        merged: dir.join("merged"),
    };
    crate::host::mkdir(Mechanism::Run, &dir)?;
    // Held until the record is written: a directory without a record whose
    // lock is free is what a crash left (`system prune` removes it), never
    // a creation under way. (A plan makes no directory to lock.)
    let lock = match crate::trace::dry_run() {
        true => None,
        false => Some(state::lock(root, &id)?),
    };
    let made = (|| -> Result<Container> {
        for d in [&rootfs.upper, &rootfs.work, &rootfs.merged] {
            crate::host::mkdir(Mechanism::Run, d)?;
        }
        make_init_layer(&init)?;
        let file = |n: &str| -> PathBuf { dir.join(n) };
        start::write_file(&file("hostname"), &format!("{hostname}\n"))?;
        start::write_file(&file("hosts"), &etc::hosts(None, &req.add_hosts))?;
        let resolv = start::resolv_text(&req.dns);
        start::write_file(&file("resolv.conf"), &resolv)?;
        start::write_file(&file("resolv.conf.src"), &resolv)?;
        let c = Container {
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
            image: image.id.clone(),
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
        };
        state::save(root, &c).context("write the container's record")?;
        Ok(c)
    })();
    let c = match made {
        Ok(c) => c,
        Err(e) => {
            // Nothing half-made stays: the directory goes with what is in it.
            let _ = crate::host::remove_dir_all(
                Mechanism::Run,
                &dir,
                "The container could not be made: what was made of it goes.",
            );
            return Err(e);
        }
    };
    drop(lock);
    // The record holds the image now.
    image.lease.release()?;
    Ok(c)
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

fn make_init_layer(init: &std::path::Path) -> Result<()> {
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
