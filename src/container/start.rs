//! Starting a container's init, in its shim: the per-run resources (its
//! cgroup with the limits, the overlay of its writable layer on the
//! image's layers, its network), then one `ns::spawn` of the init with
//! every namespace, the mounts Docker makes, Docker's walls and the user
//! from the container's own `/etc/passwd`. The same code as `ns run`,
//! `cgroup`, `unionfs mount` and `network connect`, through the same trace
//! layer: `run -v` shows each step. Everything made is recorded for the
//! shim (`Owner::Process`), so a shim that dies leaves nothing that
//! `system prune` cannot find.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use nix::unistd::Pid;

use super::network::{self, NetPlan};
use super::state::{self, Container, Status};
use super::{cgroup as ccgroup, user};
use crate::net::mode::Mode;
use crate::ns::inroot::{self, Make};
use crate::ns::kind::{Namespaces, NsMode, NsType};
use crate::ns::process::Child;
use crate::ns::spawn::{ChildError, Hooks};
use crate::ns::spec::{BindMount, Container as Walls, Spec};
use crate::ns::walls::{DOCKER_CAPS, MASKED_PATHS, READONLY_PATHS};
use crate::state::Root;
use crate::state::resources::{self, Owner};
use crate::trace::{Action, Mechanism, Step};

/// A started init and the shim's ends of its streams.
pub struct Started {
    pub child: Child,
    /// `-t`: the terminal's master (all output, and input).
    pub console: Option<OwnedFd>,
    /// `-i` without `-t`: the write end of its stdin.
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// Docker's exit code and message for a start that failed.
pub fn failure(e: &anyhow::Error) -> (i32, String) {
    match e.downcast_ref::<ChildError>() {
        Some(ce) => (ce.code as i32, ce.message.clone()),
        None => (125, format!("{e:#}")),
    }
}

/// The pinned network namespace of a running container: what
/// `container:NAME` joins and its network endpoints name.
pub fn netns_pin(root: &Root, id: &str) -> PathBuf {
    state::run_dir(root, id).join("netns")
}

/// Read a file of the container's root (its passwd and group), resolved
/// inside the root; empty when it has none.
pub(crate) fn read_in_root(root: &Path, path: &str) -> String {
    let Ok(fd) = inroot::open(root, Path::new(path), Make::Nothing) else {
        return String::new();
    };
    std::fs::read_to_string(inroot::fd_path(&fd)).unwrap_or_default()
}

/// The hooks of the init's start: the cgroup and the network, once the
/// init exists; the terminal's size; the record, once it runs.
struct StartHooks<'a> {
    root: &'a Root,
    rec: &'a mut Container,
    group: &'a crate::cgroup::Group,
    net: &'a NetPlan,
    owner: Owner,
    size: (u16, u16),
    pinned: bool,
}

impl StartHooks<'_> {
    /// The name on disk (a `rename` may have come since this shim read
    /// the record); the caller holds the container's lock.
    fn reload_name(&mut self) -> Result<()> {
        if let Some(now) = state::load(self.root, &self.rec.id)? {
            self.rec.name = now.name;
        }
        Ok(())
    }

    fn pin_netns(&mut self, pid: Pid) -> Result<PathBuf> {
        let pin = netns_pin(self.root, &self.rec.id);
        let pending = resources::record(
            self.root,
            crate::state::resources::ResourceKind::name(&crate::host::MOUNT_KIND),
            &pin.display().to_string(),
            self.owner.clone(),
        )?;
        Step::new(
            Mechanism::Run,
            Action::Filesystem,
            format!("create {}", pin.display()),
        )
        .arg("path", pin.display())
        .shell(format!("touch {}", pin.display()))
        .detail()
        .run(|| std::fs::write(&pin, b"").with_context(|| format!("create {}", pin.display())))?;
        crate::host::mount::mount(
            Mechanism::Run,
            &format!("/proc/{pid}/ns/net"),
            &pin,
            None,
            nix::mount::MsFlags::MS_BIND,
            None,
            "The container's network namespace is pinned by a bind mount (what `ip netns add` does): its endpoints and `--network container:NAME` name it by this path.",
        )?;
        pending.commit()?;
        self.pinned = true;
        Ok(pin)
    }

    fn network(&mut self, pid: Pid) -> Result<()> {
        match self.net.mode.clone() {
            Mode::Host | Mode::Container(_) => Ok(()),
            Mode::None => {
                let pin = self.pin_netns(pid)?;
                let mut nl = crate::net::netlink::Netlink::in_netns(
                    &pin,
                    &format!("nsenter --net={} ip", pin.display()),
                )?;
                nl.set_up("lo", true)
            }
            Mode::Network(_) => {
                let pin = self.pin_netns(pid)?;
                // Under the container's lock, its name read again: the
                // members are named after it, and a `rename` waits until
                // they are recorded.
                let _lock = state::lock(self.root, &self.rec.id)?;
                self.reload_name()?;
                network::connect_at_start(self.root, self.rec, &pin)?;
                // Recorded at once: a teardown finds the endpoints even if
                // this shim dies before the init runs.
                state::save(self.root, self.rec)
            }
        }
    }
}

/// The `-p` specs of a record's port bindings.
pub fn published_specs(rec: &Container) -> Result<Vec<crate::net::ports::PortSpec>> {
    let mut out = Vec::new();
    for (key, bindings) in &rec.host_config.port_bindings {
        for b in bindings {
            let spec = match (b.host_ip.is_empty(), b.host_port.is_empty()) {
                (true, true) => key.clone(),
                (true, false) => format!("{}:{key}", b.host_port),
                (false, p) => format!("{}:{}:{key}", b.host_ip, if p { "" } else { &b.host_port }),
            };
            out.extend(crate::net::ports::parse_port_spec(&spec)?);
        }
    }
    Ok(out)
}

impl Hooks for StartHooks<'_> {
    fn created(&mut self, pid: Option<Pid>) -> Result<()> {
        let Some(pid) = pid else { return Ok(()) };
        self.group.add(pid.as_raw() as u32)?;
        self.network(pid)
    }

    fn console(&mut self, master: &OwnedFd) -> Result<()> {
        let (rows, cols) = self.size;
        if rows > 0 && cols > 0 {
            crate::ns::console::set_size(master, rows, cols)?;
        }
        Ok(())
    }

    fn started(&mut self, pid: Option<Pid>) -> Result<()> {
        let Some(pid) = pid else { return Ok(()) };
        let pid = pid.as_raw() as u32;
        let _lock = state::lock(self.root, &self.rec.id)?;
        self.reload_name()?;
        let s = &mut self.rec.state;
        s.status = Status::Running;
        s.pid = pid;
        s.pid_start = state::read_pid_start(pid).unwrap_or(0);
        s.boot_id = state::boot_id();
        s.shim_pid = std::process::id();
        s.exit_code = 0;
        s.oom_killed = false;
        s.error.clear();
        s.started_at = crate::clock::now_rfc3339_nanos();
        s.finished_at = state::ZERO_TIME.into();
        self.rec.start_count += 1;
        state::save(self.root, self.rec)
    }
}

/// Start the init of container `id` in this shim (`shim_pid`), its
/// terminal `rows`x`cols` with `-t`.
pub fn start(root: &Root, id: &str, shim_pid: u32, rows: u16, cols: u16) -> Result<Started> {
    let rec = state::load(root, id)?.with_context(|| format!("No such container: {id}"))?;
    if super::shim::runs(rec.state.status) && state::init_alive(&rec.state) {
        bail!("container {id} is already running");
    }
    start_record(root, rec, shim_pid, (rows, cols), false)?
        .context("the container's init was only planned (--dry-run)")
}

/// `--dry-run`: the steps the shim would take to start `c`, planned in
/// this process (no shim, nothing done).
pub fn plan(root: &Root, c: &Container) -> Result<()> {
    start_record(root, c.clone(), 0, (0, 0), true).map(drop)
}

/// Start `rec`'s init (its terminal `size` with `-t`); `None` when it was
/// only planned. `planned` says the container's directories are only
/// planned too (`run --dry-run`): their checks are listed, not made.
fn start_record(
    root: &Root,
    mut rec: Container,
    shim_pid: u32,
    size: (u16, u16),
    planned: bool,
) -> Result<Option<Started>> {
    let id = rec.id.clone();
    let id = id.as_str();
    let owner = Owner::Process { pid: shim_pid };
    let net = network::plan(root, &rec)?;
    // The cgroup, with the limits.
    let group = ccgroup::create(root, &rec, owner.clone())?;
    // The root: the container's layer on the image's.
    let req = crate::unionfs::check::Request {
        lowers: rec.rootfs.lower.clone(),
        upper: Some(rec.rootfs.upper.clone()),
        work: Some(rec.rootfs.work.clone()),
        target: rec.rootfs.merged.clone(),
    };
    if !crate::host::mountinfo::is_mount_point(&rec.rootfs.merged).unwrap_or(false) {
        crate::unionfs::stack::mount(
            root,
            &req,
            &crate::unionfs::stack::MountOptions {
                method: crate::unionfs::stack::Method::Auto,
                force_short: false,
                no_preflight: false,
                owner: owner.clone(),
                layers_planned: planned,
            },
        )?;
    }
    let merged = rec.rootfs.merged.clone();
    // Who runs, from the container's own files.
    let passwd = read_in_root(&merged, "/etc/passwd");
    let groups = read_in_root(&merged, "/etc/group");
    let who = user::resolve(&rec.config.user, &passwd, &groups).map_err(|e| {
        anyhow!(ChildError {
            message: format!("{e:#}"),
            code: 125
        })
    })?;
    let mut env = super::env::with_home(rec.config.env.clone(), &who.home);
    if net.hostname != rec.config.hostname {
        // `container:NAME` has NAME's hostname.
        for e in env.iter_mut().filter(|e| e.starts_with("HOSTNAME=")) {
            *e = format!("HOSTNAME={}", net.hostname);
        }
    }
    // The working directory, made if the image lacks it (as Docker does).
    let cwd = if rec.config.working_dir.is_empty() {
        PathBuf::from("/")
    } else {
        let wd = PathBuf::from(&rec.config.working_dir);
        Step::new(
            Mechanism::Run,
            Action::Filesystem,
            format!("make the working directory {}", wd.display()),
        )
        .arg("path", wd.display())
        .shell(format!("mkdir -p {}{}", merged.display(), wd.display()))
        .detail()
        .run(|| inroot::open(&merged, &wd, Make::Dir).map(drop))?;
        wd
    };
    // Files Docker writes for the container, bound over the image's.
    let dir = state::container_dir(root, id);
    network::write_etc(root, &rec, &net)?;
    let mut mounts = vec![
        BindMount {
            source: net.hostname_path.clone(),
            target: "/etc/hostname".into(),
            readonly: false,
        },
        BindMount {
            source: net.hosts_path.clone(),
            target: "/etc/hosts".into(),
            readonly: false,
        },
        BindMount {
            source: net.resolv_conf_path.clone(),
            target: "/etc/resolv.conf".into(),
            readonly: false,
        },
    ];
    // `-v`, `--mount`, `--tmpfs` and the image's volumes (a new volume
    // filled from the image first).
    let (binds, tmpfs) = super::mounts::for_start(&rec, &merged)?;
    mounts.extend(binds);
    let mut ns = Namespaces::default();
    for t in [
        NsType::Mnt,
        NsType::Uts,
        NsType::Ipc,
        NsType::Pid,
        NsType::Cgroup,
    ] {
        ns.set(t, NsMode::New);
    }
    match (&net.mode, &net.join) {
        (Mode::Host, _) => {}
        (_, Some(path)) => {
            ns.set(NsType::Net, NsMode::Join(path.clone()));
        }
        _ => {
            ns.set(NsType::Net, NsMode::New);
        }
    }
    let tty = rec.config.tty;
    let (stdio, ours) = super::stdio::make(tty, rec.config.open_stdin)?;
    let (stdin_w, stdout_r, stderr_r) = match ours {
        Some(p) => (p.stdin, Some(p.stdout), Some(p.stderr)),
        None => (None, None, None),
    };
    let mut argv: Vec<String> = std::iter::once(rec.path.clone())
        .chain(rec.args.iter().cloned())
        .collect();
    if rec.host_config.init == Some(true) {
        // `--init`: the static init bound read-only at /sbin/docker-init,
        // the command behind it.
        let source = match super::init::binary() {
            Ok(p) => p,
            Err(_) if planned || crate::trace::dry_run() => super::init::CANDIDATES[0].into(),
            Err(e) => return Err(e),
        };
        mounts.push(BindMount {
            source,
            target: super::init::TARGET.into(),
            readonly: true,
        });
        argv = super::init::argv(&argv);
    }
    let spec = Spec {
        namespaces: ns,
        rootfs: Some(merged.clone()),
        rootfs_planned: planned,
        mounts,
        tmpfs,
        hostname: Some(net.hostname.clone()),
        env: Some(crate::container::env::pairs(&env)),
        cwd: Some(cwd),
        user: Some((who.uid, who.gid)),
        argv,
        stdio,
        id_map: None,
        time_offsets: Default::default(),
        container: Some(Walls {
            cgroup_view: ccgroup::view(&group),
            masked_paths: MASKED_PATHS.iter().map(PathBuf::from).collect(),
            readonly_paths: READONLY_PATHS.iter().map(PathBuf::from).collect(),
            keep_caps: Some(DOCKER_CAPS.to_vec()),
            groups: who.groups.clone(),
            console: tty,
            readonly_rootfs: rec.host_config.readonly_rootfs,
        }),
    };
    let _ = dir;
    let mut hooks = StartHooks {
        root,
        rec: &mut rec,
        group: &group,
        net: &net,
        owner,
        size,
        pinned: false,
    };
    let spawned = crate::ns::spawn::spawn(spec, &mut hooks);
    let pinned = hooks.pinned;
    let mut child = match spawned {
        Ok(done) => match done.value() {
            Some(child) => child,
            None => return Ok(None),
        },
        Err(e) => {
            let _ = pinned;
            return Err(e);
        }
    };
    let console = child.take_console();
    Ok(Some(Started {
        child,
        console,
        stdin: stdin_w,
        stdout: stdout_r,
        stderr: stderr_r,
    }))
}

/// The container's resolv.conf from this host's (see [`etc::resolv_text`]).
pub use super::etc::resolv_text;

/// Write a file of the container's in place (a bind mount of it sees the
/// change).
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    crate::net::hosts::write_in_place(path, text)
}
