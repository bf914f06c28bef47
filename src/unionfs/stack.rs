//! Mount and unmount an overlay stack, record it, find it again.
//!
//! An overlay mount names its lower layers (read-only, leftmost on top),
//! an optional upper layer (where every write lands) and a work directory
//! on the upper's filesystem (where overlay prepares a copy-up or a
//! whiteout before renaming it into upper, so a crash never leaves half a
//! file in upper). Two ways to pass that to the kernel:
//! - classic `mount(2)` with one option string of at most one page; for
//!   tall stacks the layers are named by short relative paths (see
//!   [`super::options`]), which works on every kernel;
//! - the new mount API with `lowerdir+` (Linux 6.8+), one layer per
//!   `fsconfig(2)` call (see [`super::newapi`]).
//!
//! Every mount is written to the resource ledger before it is made, and a
//! small record of its layers is kept so `unionfs diff` can find the lowers
//! even when the kernel only shows relative names. Read `mount(2)` and
//! the kernel's `Documentation/filesystems/overlayfs.rst`.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use nix::mount::{MntFlags, MsFlags};
use serde::{Deserialize, Serialize};

use crate::host::{MOUNT_KIND, mountinfo, shell_quote};
use crate::state::resources::{self, Owner, ResourceKind};
use crate::state::{Root, paths::root_tag, read_json, write_json};
use crate::trace::{self, Action, Done, Mechanism, Step};

use super::check::{self, Checked, Request};
use super::newapi::{self, FsContext};
use super::options::{self, PathPlan};
use super::records;

/// Why the mount step exists; printed by `--explain`.
pub const WHY_MOUNT: &str = "overlay shows the lower layers merged, the leftmost lowerdir on top (its files hide the same names below), and sends every write to upperdir; workdir must be an empty directory on the upper's filesystem because overlay prepares each copy-up or whiteout there and rename(2)s it into upper, which cannot cross filesystems";

/// How to hand the layers to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The new mount API when the kernel has `lowerdir+`, else classic
    #[default]
    Auto,
    /// fsopen/fsconfig(lowerdir+)/fsmount/move_mount (Linux 6.8+)
    NewApi,
    /// mount(2) with one page of options; short relative paths for tall stacks
    Classic,
}

/// Options of one mount beside the layers.
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub method: Method,
    /// With the classic method, use relative paths even when absolute ones fit.
    pub force_short: bool,
    /// Skip glassbox's own checks and let the kernel answer.
    pub no_preflight: bool,
    pub owner: Owner,
    /// Part of a `--dry-run` plan whose earlier steps make the layers (the
    /// demo): the check of the layers is listed, not run.
    pub layers_planned: bool,
}

/// What [`mount`] did: the stack, and whether it was mounted (`false`:
/// only listed in a `--dry-run` plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mounted {
    pub stack: Stack,
    pub ran: bool,
}

/// A mounted stack, as recorded under the run directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    pub target: PathBuf,
    /// Top layer first.
    pub lowers: Vec<PathBuf>,
    pub upper: Option<PathBuf>,
    pub work: Option<PathBuf>,
    /// `new-api` or `classic`.
    pub method: Method,
    /// How the classic method named the layers.
    pub paths: String,
}

/// `<run dir>/unionfs/<id>.json`: the record of the stack on `target`.
pub fn record_path(root: &Root, target: &Path) -> PathBuf {
    root.run
        .join("unionfs")
        .join(format!("{}.json", root_tag(target)))
}

/// The recorded stack mounted at `target`, if glassbox mounted it.
pub fn recorded(root: &Root, target: &Path) -> Result<Option<Stack>> {
    read_json(&record_path(root, target))
}

/// Make every path absolute without checking (for `--no-preflight`).
fn absolute(req: &Request) -> Result<Checked> {
    let abs = |p: &Path| -> Result<PathBuf> {
        Ok(std::fs::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        }))
    };
    Ok(Checked {
        lowers: req.lowers.iter().map(|l| abs(l)).collect::<Result<_>>()?,
        upper: req.upper.as_deref().map(abs).transpose()?,
        work: req.work.as_deref().map(abs).transpose()?,
        target: abs(&req.target)?,
    })
}

/// Decide the method: `Auto` asks the kernel whether it takes `lowerdir+`.
/// Without the right to ask (a `--dry-run` plan made without root) the
/// kernel's version decides: `lowerdir+` came with Linux 6.8.
pub fn resolve_method(method: Method) -> Method {
    match method {
        Method::Auto => {
            let has = Step::new(
                Mechanism::Unionfs,
                Action::Syscall,
                "probe: does overlay take lowerdir+ through fsconfig(2)?",
            )
            .why("Linux 6.8 added lowerdir+ to the new mount API; older kernels only take one page of options through mount(2)")
            .man("fsconfig(2)")
            .detail()
            .observe_or_plan(newapi::probe_lowerdir_plus)
            .map(|done| done.value().unwrap_or_else(newapi::kernel_has_lowerdir_plus))
            .unwrap_or(false);
            if has { Method::NewApi } else { Method::Classic }
        }
        m => m,
    }
}

/// The step that checks the layers before mounting.
fn check_step(req: &Request) -> Step {
    Step::new(
        Mechanism::Unionfs,
        Action::FileRead,
        format!("check the layers of {}", req.target.display()),
    )
    .why("catch what the kernel would reject with a bare EINVAL (its reason goes to dmesg) and say it plainly")
    .man("statx(2)")
    .detail()
}

/// Mount an overlay stack. On any failure nothing is left: no mount, no
/// link directory, no ledger record, the working directory restored.
///
/// A transaction: the ledger's record (pending) comes first, then the
/// mount, the stack's record, and last the ledger's record marked live. A
/// crash leaves a half-made mount that the next mount on the same target
/// (or `system prune`) rolls back; records of a stack unmounted behind
/// glassbox's back are cleared the same way. Under `--dry-run` every one
/// of these steps is listed and none is taken.
pub fn mount(root: &Root, req: &Request, opts: &MountOptions) -> Result<Mounted> {
    if let Ok(target) = std::fs::canonicalize(&req.target) {
        records::recover_target(root, &target)?;
    }
    let c = if opts.no_preflight {
        let c = absolute(req)?;
        // The kernel takes these, so --no-preflight does not skip them.
        if let Some(why) =
            check::target_clash(&c.target, &c.lowers, c.upper.as_deref(), c.work.as_deref())
        {
            bail!(why);
        }
        c
    } else if opts.layers_planned {
        check_step(req).run(|| Ok(()))?;
        absolute(req)?
    } else {
        check_step(req).observe(|| check::check(req))?
    };
    let method = resolve_method(opts.method);
    root.ensure()?;
    let id = c.target.display().to_string();
    let pending = resources::record(root, MOUNT_KIND.name(), &id, opts.owner.clone())?;
    let (paths, done) = match method {
        Method::NewApi => (
            "lowerdir+ one layer per fsconfig(2) call".to_string(),
            mount_new_api(&c)?,
        ),
        _ => mount_classic(root, &c, opts.force_short)?,
    };
    let stack = Stack {
        target: c.target.clone(),
        lowers: c.lowers.clone(),
        upper: c.upper.clone(),
        work: c.work.clone(),
        method: if method == Method::NewApi {
            Method::NewApi
        } else {
            Method::Classic
        },
        paths,
    };
    if let Err(e) = write_json(&record_path(root, &c.target), &stack) {
        trace::warn(format!(
            "{e:#}: `unionfs diff` will need --lower for this stack"
        ));
    }
    if let Err(e) = pending.commit() {
        // Unrecorded, nothing could find it again: undo the mount.
        let _ = crate::host::mount::umount(
            Mechanism::Unionfs,
            &c.target,
            MntFlags::MNT_DETACH,
            "undo a mount the ledger could not record",
        );
        let _ = records::clear(root, &c.target);
        return Err(e);
    }
    Ok(Mounted {
        stack,
        ran: done.ran(),
    })
}

/// Mount an overlay stack that no ledger needs to know about: one made
/// in a private mount namespace of a short-lived process (`cp` and
/// `export` of a container), which the kernel unmounts when the
/// namespace's last process ends, whatever way it ends. The same checks
/// and the same two ways to hand the layers to the kernel as [`mount`].
pub fn mount_unrecorded(root: &Root, req: &Request) -> Result<()> {
    let c = check_step(req).observe(|| check::check(req))?;
    match resolve_method(Method::Auto) {
        Method::NewApi => mount_new_api(&c).map(drop),
        _ => mount_classic(root, &c, false).map(drop),
    }
}

fn overlay_shell(data: &str, target: &Path) -> String {
    format!(
        "mount -t overlay overlay -o {} {}",
        shell_quote(data),
        shell_quote(&target.display().to_string())
    )
}

fn mount_classic(root: &Root, c: &Checked, force_short: bool) -> Result<(String, Done<()>)> {
    let link_dir = root
        .run
        .join("unionfs")
        .join(format!("links-{}", std::process::id()));
    let plan = options::plan(
        &c.lowers,
        c.upper.as_deref(),
        c.work.as_deref(),
        &link_dir,
        force_short,
    )
    .map_err(anyhow::Error::msg)?;
    let made_links = if let PathPlan::Symlinks { dir, links, .. } = &plan {
        make_links(dir, links)
    } else {
        Ok(())
    };
    let result = made_links.and_then(|()| mount_in_dir(&plan, c));
    if let PathPlan::Symlinks { dir, .. } = &plan {
        let removed = Step::new(
            Mechanism::Unionfs,
            Action::Filesystem,
            format!("remove link directory {}", dir.display()),
        )
        .shell(format!("rm -r {}", shell_quote(&dir.display().to_string())))
        .why("the kernel resolved the links at mount time and holds the layers themselves; the links are no longer needed")
        .detail()
        .run(|| match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("remove {}", dir.display()))
            }
            _ => Ok(()),
        });
        if let Err(e) = removed {
            trace::warn(format!("{e:#}"));
        }
    }
    let done = result?;
    Ok((plan.describe().to_string(), done))
}

fn make_links(dir: &Path, links: &[(String, PathBuf)]) -> Result<()> {
    crate::host::mkdir(Mechanism::Unionfs, dir)?;
    for (name, to) in links {
        let at = dir.join(name);
        Step::new(
            Mechanism::Unionfs,
            Action::Filesystem,
            format!("link {} -> {}", at.display(), to.display()),
        )
        .shell(format!(
            "ln -s {} {}",
            shell_quote(&to.display().to_string()),
            shell_quote(&at.display().to_string())
        ))
        .man("symlink(2)")
        .detail()
        .run(|| {
            std::os::unix::fs::symlink(to, &at)
                .with_context(|| format!("symlink(2) {}", at.display()))
        })?;
    }
    Ok(())
}

/// `cd DIR && mount ...`, restoring the working directory afterwards.
fn mount_in_dir(plan: &PathPlan, c: &Checked) -> Result<Done<()>> {
    let data = plan.data();
    let mut shell = overlay_shell(data, &c.target);
    let mut step = Step::new(
        Mechanism::Unionfs,
        Action::Syscall,
        format!(
            "mount overlay on {} ({} lower, {})",
            c.target.display(),
            c.lowers.len(),
            plan.describe()
        ),
    )
    .arg("lowerdir", data.split(',').next().unwrap_or(""))
    .arg("upperdir", opt_display(&c.upper))
    .arg("workdir", opt_display(&c.work))
    .arg("data_bytes", data.len());
    if let Some(dir) = plan.chdir() {
        shell = format!("cd {} && {shell}", shell_quote(&dir.display().to_string()));
        step = step.arg("cwd", dir.display());
    }
    let flags = if c.upper.is_none() {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    step.shell(shell).why(WHY_MOUNT).man("mount(2)").apply(|| {
        let back = match plan.chdir() {
            Some(dir) => {
                let here = File::open(".").context("open the current directory")?;
                nix::unistd::chdir(dir).with_context(|| format!("chdir(2) {}", dir.display()))?;
                Some(here)
            }
            None => None,
        };
        let log = KernelLog::mark();
        let r = nix::mount::mount(
            Some("overlay"),
            &c.target,
            Some("overlay"),
            flags,
            Some(data),
        );
        if let Some(here) = back {
            // SAFETY: `here` is an open directory fd for the duration of the call.
            if unsafe { libc::fchdir(here.as_raw_fd()) } != 0 {
                trace::warn("could not return to the previous working directory");
            }
        }
        r.map_err(|e| {
            let err = anyhow::Error::new(e)
                .context(format!("mount(2) overlay on {}", c.target.display()));
            explain_refusal(err, log)
        })
    })
}

/// A position in the kernel log (`/dev/kmsg`, what `dmesg` shows), taken
/// before a mount so the `overlayfs:` lines logged after it can be read
/// back: the reason behind a bare `EINVAL`.
struct KernelLog(Option<std::fs::File>);

impl KernelLog {
    fn mark() -> KernelLog {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok()
            .and_then(|mut f| f.seek(SeekFrom::End(0)).ok().map(|_| f));
        KernelLog(f)
    }

    /// The overlayfs lines logged since the mark.
    fn overlay_lines(self) -> Option<String> {
        use std::io::Read;
        let mut f = self.0?;
        let mut buf = vec![0u8; 8192];
        let mut found = Vec::new();
        for _ in 0..10_000 {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    let msg = rec.split_once(';').map(|(_, m)| m).unwrap_or("");
                    let msg = msg.lines().next().unwrap_or("").trim();
                    // overlay logs as "overlayfs:" and, through its mount
                    // context, as "overlay:".
                    if msg.starts_with("overlayfs:") || msg.starts_with("overlay:") {
                        found.push(msg.to_string());
                    }
                }
                // EPIPE: records overwritten while reading; keep going.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        (!found.is_empty()).then(|| found.join("; "))
    }
}

/// Attach the kernel's own words to a refused mount.
fn explain_refusal(err: anyhow::Error, log: KernelLog) -> anyhow::Error {
    match log.overlay_lines() {
        Some(reason) => err.context(format!("the kernel logged: {reason}")),
        None => err.context("the kernel may have logged the reason: see `dmesg | grep overlayfs`"),
    }
}

fn opt_display(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The new mount API, one traced step per call: `fsopen`, `fsconfig` for
/// the source and each layer, `FSCONFIG_CMD_CREATE`, then the mount step
/// itself (`fsmount` + `move_mount`), which is what `-v` shows.
fn mount_new_api(c: &Checked) -> Result<Done<()>> {
    let mut shown: Vec<String> = c
        .lowers
        .iter()
        .map(|l| format!("lowerdir+={}", options::escape(&l.display().to_string())))
        .collect();
    if let (Some(u), Some(w)) = (&c.upper, &c.work) {
        shown.push(format!(
            "upperdir={}",
            options::escape(&u.display().to_string())
        ));
        shown.push(format!(
            "workdir={}",
            options::escape(&w.display().to_string())
        ));
    }
    let detail = |summary: String, man: &str| {
        Step::new(Mechanism::Unionfs, Action::Syscall, summary)
            .man(man)
            .detail()
    };
    let summary = format!(
        "mount overlay on {} ({} lower, new mount API)",
        c.target.display(),
        c.lowers.len()
    );
    let shell = overlay_shell(&shown.join(","), &c.target);
    // Errors of the calls before the mount name the mount, as its own do.
    let what = format!("{summary} (as `{shell}`)");
    let configured = (|| -> Result<Option<FsContext>> {
        // Opening a context changes nothing yet; fsmount/move_mount do.
        let ctx = detail("fsopen(\"overlay\")".into(), "fsopen(2)")
            .observe_or_plan(|| FsContext::open("overlay"))?
            .value();
        let ctx_ref = || ctx.as_ref().context("fsopen(2) gave no context");
        detail("fsconfig source=overlay".into(), "fsconfig(2)")
            .run(|| ctx_ref()?.set_string("source", b"overlay"))?;
        for l in &c.lowers {
            detail(format!("fsconfig lowerdir+={}", l.display()), "fsconfig(2)")
                .run(|| ctx_ref()?.set_path("lowerdir+", l))?;
        }
        if let (Some(u), Some(w)) = (&c.upper, &c.work) {
            detail(format!("fsconfig upperdir={}", u.display()), "fsconfig(2)")
                .run(|| ctx_ref()?.set_path("upperdir", u))?;
            detail(format!("fsconfig workdir={}", w.display()), "fsconfig(2)")
                .run(|| ctx_ref()?.set_path("workdir", w))?;
        }
        let log = KernelLog::mark();
        detail("fsconfig FSCONFIG_CMD_CREATE".into(), "fsconfig(2)")
            .run(|| ctx_ref()?.create().map_err(|e| explain_refusal(e, log)))?;
        Ok(ctx)
    })()
    .with_context(|| what.clone())?;
    Step::new(Mechanism::Unionfs, Action::Syscall, summary)
        .arg(
            "lowerdir",
            c.lowers
                .first()
                .map(|l| l.display().to_string())
                .unwrap_or_default(),
        )
        .arg("upperdir", opt_display(&c.upper))
        .arg("workdir", opt_display(&c.work))
        .shell(shell)
        .why(WHY_MOUNT)
        .man("fsconfig(2)")
        .apply(|| {
            configured
                .as_ref()
                .context("fsopen(2) gave no context")?
                .attach(&c.target)
                .context("fsmount(2) + move_mount(2)")
        })
}

/// What `unionfs umount` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmounted {
    /// The overlay was unmounted and its records dropped.
    Unmounted,
    /// It was no longer mounted (unmounted behind glassbox's back): only
    /// this root's records of it were dropped.
    AlreadyGone,
}

impl Unmounted {
    /// The sentence `unionfs umount` says.
    pub fn describe(self, target: &Path) -> String {
        match self {
            Unmounted::Unmounted => format!("unmounted {}", target.display()),
            Unmounted::AlreadyGone => format!(
                "{} was already unmounted (behind glassbox's back?): cleared this root's records of it",
                target.display()
            ),
        }
    }
}

/// `target` made absolute: resolved if it exists, else joined to the
/// working directory (the records of a removed directory still name it).
fn absolute_target(target: &Path) -> Result<PathBuf> {
    match std::fs::canonicalize(target) {
        Ok(t) => Ok(t),
        Err(_) if target.is_absolute() => Ok(target.to_path_buf()),
        Err(_) => Ok(std::env::current_dir()
            .context("read the current directory")?
            .join(target)),
    }
}

/// Unmount the overlay at `target` and drop its records. Only an overlay
/// this root mounted (its ledger or its stack records name it); of any
/// other, the error says whose it seems to be and how to unmount it.
pub fn umount(root: &Root, target: &Path) -> Result<Unmounted> {
    let target = absolute_target(target)?;
    let known =
        records_step(root, &target).observe_or_plan(|| records::known_strict(root, &target))?;
    let Some(known) = known.value() else {
        // A plan made without the right to read this root's records: list
        // the unmount as it would go if they name the overlay.
        return unmount_known(root, &target);
    };
    let mounts = mountinfo::read(None)?;
    let Some(m) = mounts.iter().rev().find(|m| m.mount_point == target) else {
        if let Some(r) = known.ledger.as_ref().filter(|_| known.in_progress()) {
            bail!(
                "{} is being mounted right now by glassbox pid {}: wait for that command, then unmount",
                target.display(),
                r.creator
            );
        }
        if known.any() {
            records::clear(root, &target)?;
            return Ok(Unmounted::AlreadyGone);
        }
        if !target.exists() {
            bail!("{} does not exist: nothing to unmount", target.display());
        }
        bail!(
            "{} is not a mount point: nothing to unmount",
            target.display()
        );
    };
    if m.fs_type != "overlay" {
        bail!(
            "{} is a {} mount, not an overlay: unionfs umount only removes overlay stacks (use umount(8) for others)",
            target.display(),
            m.fs_type
        );
    }
    if !known.any() {
        bail!(
            "{} is an overlay that this root ({}) did not mount, so `unionfs umount` leaves it alone: {}",
            target.display(),
            root.data.display(),
            records::whose(root, &target)
        );
    }
    unmount_known(root, &target)
}

/// The step that reads what this root recorded of the overlay on `target`.
fn records_step(root: &Root, target: &Path) -> Step {
    Step::new(
        Mechanism::Unionfs,
        Action::FileRead,
        format!("read this root's records of {}", target.display()),
    )
    .arg("path", crate::state::resources::ledger_path(root).display())
    .why("unionfs umount removes only an overlay this root mounted: its ledger or its stack records name it")
    .detail()
}

/// The plan of [`umount`] for a stack that the same `--dry-run` plan
/// mounted (the demo's): the same steps, none of them taken.
pub fn umount_planned(root: &Root, target: &Path) -> Result<Unmounted> {
    let target = absolute_target(target)?;
    records_step(root, &target).run(|| Ok(()))?;
    unmount_known(root, &target)?;
    // The records a real mount made, which the plan did not.
    records::clear_recorded(root, &target)?;
    Ok(Unmounted::Unmounted)
}

/// Unmount this root's overlay at `target` (absolute) and drop its
/// records; under `--dry-run`, the plan of that (the demo plans an unmount
/// of the stack it planned to mount).
pub fn unmount_known(root: &Root, target: &Path) -> Result<Unmounted> {
    let done = Step::new(
        Mechanism::Unionfs,
        Action::Syscall,
        format!("unmount overlay {}", target.display()),
    )
    .arg("target", target.display())
    .shell(format!("umount {}", shell_quote(&target.display().to_string())))
    .why("the layers stay as they are: upper keeps every change, lowers were never written")
    .man("umount(2)")
    .apply(|| match nix::mount::umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EBUSY) => bail!(
            "{} is busy: a process has its working directory or an open file in it; find it with `fuser -vm {}`, let it go, and retry",
            target.display(),
            target.display()
        ),
        Err(e) => Err(e).with_context(|| format!("umount2(2) {}", target.display())),
    })?;
    if !done.ran() || !mountinfo::is_mount_point(target)? {
        records::clear(root, target)?;
    }
    Ok(Unmounted::Unmounted)
}

/// The overlay mount that uses `upper` as its upper directory, with its
/// lowers (top first) as absolute paths.
pub fn find_by_upper(root: &Root, upper: &Path) -> Result<(PathBuf, Vec<PathBuf>)> {
    let upper = std::fs::canonicalize(upper)
        .with_context(|| format!("upper directory {} does not exist", upper.display()))?;
    let want = upper.display().to_string();
    let mounts = mountinfo::read(None)?;
    let Some(m) = mounts
        .iter()
        .filter(|m| m.fs_type == "overlay")
        .find(|m| options::parse_shown(&m.super_options).upper.as_deref() == Some(want.as_str()))
    else {
        bail!(
            "no overlay mount uses {} as its upper directory: give the lower layers with --lower DIR[:DIR...]",
            upper.display()
        );
    };
    let shown = options::parse_shown(&m.super_options);
    if !shown.lowers.is_empty() && shown.lowers.iter().all(|l| l.starts_with('/')) {
        return Ok((
            m.mount_point.clone(),
            shown.lowers.iter().map(PathBuf::from).collect(),
        ));
    }
    if let Some(stack) = recorded(root, &m.mount_point)?
        && stack.upper.as_deref() == Some(upper.as_path())
    {
        return Ok((m.mount_point.clone(), stack.lowers));
    }
    bail!(
        "the overlay at {} names its lower layers by relative paths ({}) and was not mounted with this --root: give them with --lower DIR[:DIR...]",
        m.mount_point.display(),
        shown.lowers.join(":")
    )
}
