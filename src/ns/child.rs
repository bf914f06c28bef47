//! What the child does between `clone3` and `execve`: wait for the parent,
//! join or create the remaining namespaces, set the hostname, build its
//! mounts and root, switch user, then exec CMD. Any failure is sent back
//! to the parent as a message (with Docker's exit code) before `_exit`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

use super::kind::NsType;
use super::rootfs::{self, DevOptions};
use super::spec::{Spec, Stdio};
use super::sync::{Channel, Msg};
use super::walls;
use crate::trace::{Action, Mechanism, Step};

const M: Mechanism = Mechanism::Ns;

/// A namespace to join: its kind, the file it was opened from, the fd
/// (`None` in a `--dry-run` plan made without the right to open it).
pub struct Join {
    pub ns: NsType,
    pub path: PathBuf,
    pub fd: Option<OwnedFd>,
}

pub use super::process::{EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND, EXIT_SETUP};

/// An error with the exit code the child leaves with.
struct Fail(anyhow::Error, u8);

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Fail {
        Fail(e, EXIT_SETUP)
    }
}

/// The child's whole life; never returns.
pub fn main(spec: Spec, chan: Channel, joins: Vec<Join>) -> ! {
    let code = match run(spec, &chan, joins) {
        Ok(never) => match never {},
        Err(Fail(e, code)) => {
            let _ = chan.send(&Msg::Error {
                message: format!("{e:#}"),
                code,
            });
            code
        }
    };
    // SAFETY: _exit ends this forked child without running the parent's
    // atexit handlers or flushing buffers copied from the parent.
    unsafe { libc::_exit(code as i32) }
}

enum Never {}

fn run(spec: Spec, chan: &Channel, joins: Vec<Join>) -> Result<Never, Fail> {
    // If glassbox dies, so does the child: nothing is left holding the
    // namespaces.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    match chan.recv()? {
        Some(Msg::Go) => {}
        // The parent gave up (its own setup failed): leave quietly.
        _ => {
            // SAFETY: as in main.
            unsafe { libc::_exit(EXIT_SETUP as i32) }
        }
    }
    if spec.container.is_some() {
        close_inherited(&spec, chan, &joins)?;
    }
    setup(&spec, &joins)?;
    drop(joins);
    let mut spec = spec;
    if spec.container.as_ref().is_some_and(|c| c.console)
        && let Some(slave) = super::console::setup(Some(chan), spec.rootfs.is_some())?
    {
        spec.stdio = Stdio::Pty(slave);
    }
    become_user(&spec)?;
    let argv: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("an argument of CMD contains a NUL byte"))?;
    let env: Vec<CString> = match &spec.env {
        Some(env) => env
            .iter()
            .filter_map(|(k, v)| CString::new(format!("{k}={v}")).ok())
            .collect(),
        None => std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut s = k.as_bytes().to_vec();
                s.push(b'=');
                s.extend_from_slice(v.as_bytes());
                CString::new(s).ok()
            })
            .collect(),
    };
    let exe = resolve(&spec.argv[0], &spec.path_var())?;
    chan.send(&Msg::Ready)?;
    match chan.recv()? {
        Some(Msg::Exec) => {}
        _ => {
            // SAFETY: as in main.
            unsafe { libc::_exit(EXIT_SETUP as i32) }
        }
    }
    setup_stdio(spec.stdio)?;
    restore_signals()?;
    let exe_c = CString::new(exe.as_os_str().as_bytes()).map_err(|_| anyhow!("NUL in path"))?;
    let err = nix::unistd::execve(&exe_c, &argv, &env).unwrap_err();
    let code = match err {
        nix::errno::Errno::ENOENT => EXIT_NOT_FOUND,
        _ => EXIT_CANNOT_INVOKE,
    };
    Err(Fail(
        anyhow!("exec: {:?}: {}", spec.argv[0], err.desc().to_lowercase()),
        code,
    ))
}

/// The child's setup between `Go` and `Ready`, every action a traced step:
/// join namespaces, become root of a new user namespace, unshare the cgroup
/// namespace, set the hostname, make mounts private, build the root and
/// pivot into it, change directory and user. Under `--dry-run` the parent
/// calls it to list the plan.
pub fn setup(spec: &Spec, joins: &[Join]) -> Result<()> {
    let ns = &spec.namespaces;
    for j in joins {
        setns(j)?;
        if j.ns == NsType::User {
            become_root()?;
        }
    }
    if ns.is_new(NsType::User) {
        become_root()?;
    }
    if ns.is_new(NsType::Cgroup) {
        Step::new(M, Action::Syscall, "unshare the cgroup namespace")
            .arg("flags", "CLONE_NEWCGROUP")
            .shell("unshare --cgroup")
            .why("Unshared after the parent placed the child in its cgroups, the child's current cgroup becomes the root / of its view.")
            .man("cgroup_namespaces(7)")
            .run(|| nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare(2) CLONE_NEWCGROUP"))?;
    }
    if let Some(h) = &spec.hostname {
        Step::new(M, Action::Syscall, format!("set hostname to {h}"))
            .arg("hostname", h)
            .shell(format!("hostname {}", crate::host::shell_quote(h)))
            .why("The hostname belongs to the UTS namespace, so changing it here leaves the host's untouched.")
            .man("sethostname(2)")
            .run(|| nix::unistd::sethostname(h).context("sethostname(2)"))?;
    }
    if ns.is_new(NsType::Mnt) {
        rootfs::make_private()?;
        match &spec.rootfs {
            Some(root) => {
                let opts = DevOptions {
                    bind_devices: ns.is_new(NsType::User),
                    mqueue: !ns.is_new(NsType::User) || ns.is_new(NsType::Ipc),
                    fresh_sysfs: !ns.is_new(NsType::User) || ns.is_new(NsType::Net),
                };
                let view = spec
                    .container
                    .as_ref()
                    .map(|c| c.cgroup_view.clone())
                    .unwrap_or_default();
                rootfs::prepare(root, opts, &spec.mounts, &spec.tmpfs, &view)?;
                rootfs::pivot(root)?;
            }
            None if ns.is_new(NsType::Pid) => rootfs::mount_proc(Path::new("/proc"))?,
            None => {}
        }
    }
    let cwd = spec
        .cwd
        .clone()
        .or_else(|| spec.rootfs.as_ref().map(|_| PathBuf::from("/")));
    if let Some(dir) = &cwd {
        Step::new(
            M,
            Action::Syscall,
            format!("change directory to {}", dir.display()),
        )
        .arg("path", dir.display())
        .shell(format!("cd {}", dir.display()))
        .detail()
        .run(|| {
            nix::unistd::chdir(dir.as_path())
                .with_context(|| format!("chdir to the working directory {}", dir.display()))?;
            check_cwd_reachable(dir)
        })?;
    }
    if let Some(c) = &spec.container
        && spec.rootfs.is_some()
    {
        for p in &c.masked_paths {
            walls::mask(p)?;
        }
        for p in &c.readonly_paths {
            walls::readonly(p)?;
        }
        if c.readonly_rootfs {
            walls::readonly_root()?;
        }
    }
    Ok(())
}

/// The last of the setup, in the child as in a plan: a container drops the
/// capabilities Docker drops, then the process takes its user and groups.
pub fn become_user(spec: &Spec) -> Result<()> {
    let groups = spec
        .container
        .as_ref()
        .map(|c| c.groups.clone())
        .unwrap_or_default();
    if let (Some(_), Some((uid, _))) = (&spec.container, spec.user)
        && uid != 0
    {
        give_stdio(spec, uid)?;
    }
    if let Some(keep) = spec.container.as_ref().and_then(|c| c.keep_caps.as_ref()) {
        walls::drop_capabilities(keep)?;
    }
    if let Some((uid, gid)) = spec.user {
        let shown_groups = if groups.is_empty() {
            "--clear-groups".to_string()
        } else {
            format!(
                "--groups={}",
                groups
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        Step::new(M, Action::Syscall, format!("become uid {uid} gid {gid}"))
            .arg("uid", uid)
            .arg("gid", gid)
            .arg("groups", format!("{groups:?}"))
            .shell(format!(
                "setpriv --reuid={uid} --regid={gid} {shown_groups}"
            ))
            .man("setresuid(2)")
            .run(|| {
                let gids: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
                nix::unistd::setgroups(&gids).context("setgroups(2)")?;
                nix::unistd::setresgid(Gid::from_raw(gid), Gid::from_raw(gid), Gid::from_raw(gid))
                    .context("setresgid(2)")?;
                nix::unistd::setresuid(Uid::from_raw(uid), Uid::from_raw(uid), Uid::from_raw(uid))
                    .context("setresuid(2)")
            })?;
    }
    Ok(())
}

/// Give the process's own pipes and terminal (made by root) to the user
/// it becomes, as runc does (`fixStdioPermissions`): a process running as
/// `nobody` can then open them again by name (`/dev/stdout`, `$(tty)`).
/// `/dev/null` and what glassbox itself was given stay as they are.
fn give_stdio(spec: &Spec, uid: u32) -> Result<()> {
    Step::new(M, Action::Syscall, format!("give the process's stdio to uid {uid}"))
        .arg("uid", uid)
        .shell(format!("chown {uid} /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2"))
        .why("Its pipes and terminal were made by root: owned by the user it becomes, it may open them by name (/dev/stdout, its tty) as in Docker.")
        .man("fchown(2)")
        .detail()
        .run(|| {
            let fds: Vec<i32> = match &spec.stdio {
                Stdio::Inherit => Vec::new(),
                Stdio::Fds {
                    stdin,
                    stdout,
                    stderr,
                } => vec![stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()],
                Stdio::Pty(slave) => vec![slave.as_raw_fd()],
            };
            for fd in fds {
                // SAFETY: a zeroed stat is a valid out-buffer for fstat.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: fstat of an open descriptor into our buffer.
                if unsafe { libc::fstat(fd, &mut st) } == -1 {
                    return Err(std::io::Error::last_os_error()).context("fstat(2) stdio");
                }
                let dev_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR
                    && st.st_rdev == libc::makedev(1, 3);
                if dev_null || st.st_uid == uid {
                    continue;
                }
                // SAFETY: fchown of an open descriptor; -1 keeps its group.
                if unsafe { libc::fchown(fd, uid, u32::MAX) } == -1 {
                    return Err(std::io::Error::last_os_error())
                        .with_context(|| format!("fchown(2) stdio to uid {uid}"));
                }
            }
            Ok(())
        })
}

/// For a `--dry-run` plan: would the child find CMD? Without a rootfs it
/// looks where the child will (glassbox's own view of the files); a rootfs
/// was checked from outside before anything started. `Err`: the message
/// and exit code the child would fail with.
pub fn would_resolve(spec: &Spec) -> Result<(), (String, u8)> {
    // In a joined mount namespace (`exec`, `ns enter --mnt`) CMD is looked
    // up in files this plan does not see: the child finds out.
    let joins_mnt = matches!(
        spec.namespaces.get(NsType::Mnt),
        super::kind::NsMode::Join(_)
    );
    if spec.rootfs.is_some() || joins_mnt {
        return Ok(());
    }
    resolve(&spec.argv[0], &spec.path_var())
        .map(|_| ())
        .map_err(|Fail(e, code)| (format!("{e:#}"), code))
}

/// Docker's message for a command that is nowhere in `$PATH`.
pub fn not_found_message(cmd: &str) -> String {
    if cmd.contains('/') {
        format!("exec: {cmd:?}: stat {cmd}: no such file or directory")
    } else {
        format!("exec: {cmd:?}: executable file not found in $PATH")
    }
}

/// Is CMD present in the rootfs (seen from outside, before pivot_root)?
/// A link counts: it may point to a path that only resolves inside.
pub fn findable_in(rootfs: &Path, cmd: &str, path: &str) -> bool {
    let inside = |p: &Path| rootfs.join(p.strip_prefix("/").unwrap_or(p));
    if cmd.contains('/') {
        return std::fs::symlink_metadata(inside(Path::new(cmd))).is_ok();
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .any(|d| std::fs::symlink_metadata(inside(&Path::new(d).join(cmd))).is_ok())
}

/// The working directory just entered must be inside the process's root:
/// `getcwd(3)` names it from there, and fails (`ENOENT`, the kernel's
/// `(unreachable)`) for a directory outside, such as one reached through a
/// descriptor of the host's (runc's CVE-2024-21626: `-w /proc/self/fd/N`).
fn check_cwd_reachable(dir: &Path) -> Result<()> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => anyhow::bail!(
            "the working directory {} is outside the container's root: give a directory inside it",
            dir.display()
        ),
    }
}

/// Close every descriptor above 2 that a container process does not need
/// between here and its exec: the handshake socket, the namespaces still
/// to join, its stdio, the `--trace-json` file. Whatever else it inherited
/// from the command that started it (a directory of the host given to
/// glassbox, a state file) would otherwise stay reachable inside the
/// container as `/proc/self/fd/N` until exec: as a working directory
/// (`-w /proc/self/fd/N`), or as a path to a program of the host's
/// (runc's CVE-2024-21626). Read `close_range(2)`.
fn close_inherited(spec: &Spec, chan: &Channel, joins: &[Join]) -> Result<()> {
    let mut keep: Vec<i32> = vec![chan.raw_fd()];
    keep.extend(
        joins
            .iter()
            .filter_map(|j| j.fd.as_ref().map(|f| f.as_raw_fd())),
    );
    match &spec.stdio {
        Stdio::Inherit => {}
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => keep.extend([stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()]),
        Stdio::Pty(slave) => keep.push(slave.as_raw_fd()),
    }
    keep.extend(crate::trace::json_fd());
    close_all_but(&keep)
}

/// Close every descriptor from 3 up, except `keep`.
pub(crate) fn close_all_but(keep: &[i32]) -> Result<()> {
    let mut keep: Vec<u32> = keep.iter().filter(|f| **f > 2).map(|f| *f as u32).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut gaps = Vec::new();
    let mut lo = 3u32;
    for k in keep {
        if k > lo {
            gaps.push((lo, k - 1));
        }
        lo = k + 1;
    }
    gaps.push((lo, u32::MAX));
    for (first, last) in gaps {
        // SAFETY: close_range closes descriptors only; none of those in
        // the range is used by this process again.
        let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
        if r == -1 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ENOSYS) {
                return Err(e).context("close_range(2) the inherited descriptors");
            }
            // Before Linux 5.9: one close per open descriptor.
            let open: Vec<u32> = std::fs::read_dir("/proc/self/fd")
                .context("list /proc/self/fd")?
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .filter(|fd| *fd >= first && *fd <= last)
                .collect();
            for fd in open {
                // SAFETY: close of a descriptor number in the range; the
                // listing's own (already closed) fails harmlessly.
                unsafe { libc::close(fd as i32) };
            }
        }
    }
    Ok(())
}

/// `setns(2)` into an already opened namespace.
fn setns(j: &Join) -> Result<()> {
    let t = j.ns;
    Step::new(M, Action::Syscall, format!("join the {t} namespace"))
        .arg("type", t)
        .arg("path", j.path.display())
        .arg("flags", t.clone_flag_name())
        .shell(format!("nsenter {}={}", t.nsenter_long(), j.path.display()))
        .why("setns(2) moves this process into an existing namespace given by a file descriptor of /proc/PID/ns/TYPE or a pinned copy of it.")
        .man("setns(2)")
        .run(|| {
            let fd = j.fd.as_ref().with_context(|| {
                format!("{} was not opened: cannot join it", j.path.display())
            })?;
            // SAFETY: setns with a valid fd and one CLONE_NEW* flag.
            let r = unsafe { libc::setns(fd.as_raw_fd(), t.clone_flag() as libc::c_int) };
            if r == -1 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("setns(2) {}", t.clone_flag_name()));
            }
            Ok(())
        })
}

/// Become uid/gid 0 of the user namespace (mapped to the caller outside).
fn become_root() -> Result<()> {
    Step::new(M, Action::Syscall, "become root of the user namespace")
        .arg("uid", 0)
        .arg("gid", 0)
        .shell("setpriv --reuid=0 --regid=0")
        .why("Until it takes a uid that the uid_map maps, the process shows as the overflow uid 65534 inside.")
        .man("user_namespaces(7)")
        .detail()
        .run(|| {
            nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
                .context("setresgid(2) 0")?;
            let _ = nix::unistd::setgroups(&[]);
            nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
                .context("setresuid(2) 0")
        })
}

/// Find CMD like a shell does: a name with a `/` is a path, anything else
/// is searched in `$PATH`. Fails with Docker's message and exit code 127
/// when it is nowhere; a symlink loop on the way (`ELOOP`) stops the search
/// as `execvp(3)` does, and is named as such (exit code 126).
fn resolve(cmd: &str, path: &str) -> Result<PathBuf, Fail> {
    let not_found = || Fail(anyhow!(not_found_message(cmd)), EXIT_NOT_FOUND);
    let looped = |p: &Path| Fail(anyhow!(loop_message(cmd, p)), EXIT_CANNOT_INVOKE);
    let is_loop = |e: &std::io::Error| e.raw_os_error() == Some(libc::ELOOP);
    if cmd.contains('/') {
        let p = PathBuf::from(cmd);
        return match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => Err(Fail(
                anyhow!("exec: {cmd:?}: is a directory"),
                EXIT_CANNOT_INVOKE,
            )),
            Ok(_) => Ok(p),
            Err(e) if is_loop(&e) => Err(looped(&p)),
            Err(_) => Err(not_found()),
        };
    }
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let p = Path::new(dir).join(cmd);
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => return Ok(p),
            Err(e) if is_loop(&e) => return Err(looped(&p)),
            _ => {}
        }
    }
    Err(not_found())
}

/// The message for a command whose path runs into a symlink loop: where
/// the loop is, and from which path it was reached.
pub fn loop_message(cmd: &str, path: &Path) -> String {
    let at = loop_point(path);
    let from = if at == path {
        String::new()
    } else {
        format!(" (reached from {})", path.display())
    };
    format!(
        "exec: {cmd:?}: symlink loop at {}{from}: too many levels of symbolic links (ELOOP); make the link point to a real file",
        at.display()
    )
}

/// The first link that following the links from `start` comes back to (a
/// link to itself is its own loop); `start` itself when the loop is in a
/// directory on the way.
pub fn loop_point(start: &Path) -> PathBuf {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut cur = start.to_path_buf();
    for _ in 0..64 {
        if seen.contains(&cur) {
            return cur;
        }
        let Ok(target) = std::fs::read_link(&cur) else {
            break;
        };
        let next = match cur.parent() {
            Some(dir) if target.is_relative() => dir.join(&target),
            _ => target,
        };
        seen.push(cur);
        cur = next;
    }
    start.to_path_buf()
}

/// Put the given stdio on 0, 1 and 2. With given descriptors (pipes, a
/// pty), every other descriptor is marked close-on-exec, so CMD holds no
/// copy of its own pipes' other ends (it would never see end-of-file on
/// stdin) nor any other file of its parent (a shim's log, its socket).
/// With glassbox's own stdio, CMD inherits what glassbox was given, as a
/// shell's command does.
fn setup_stdio(stdio: Stdio) -> Result<()> {
    let given = !matches!(stdio, Stdio::Inherit);
    let dup_to = |fd: &OwnedFd, target: i32| -> Result<()> {
        // SAFETY: dup2 on fds we own onto the standard numbers.
        if unsafe { libc::dup2(fd.as_raw_fd(), target) } == -1 {
            return Err(std::io::Error::last_os_error()).context("dup2(2) stdio");
        }
        Ok(())
    };
    match stdio {
        Stdio::Inherit => {}
        Stdio::Fds {
            stdin,
            stdout,
            stderr,
        } => {
            dup_to(&stdin, 0)?;
            dup_to(&stdout, 1)?;
            dup_to(&stderr, 2)?;
        }
        Stdio::Pty(slave) => {
            nix::unistd::setsid().context("setsid(2)")?;
            // SAFETY: TIOCSCTTY on a terminal fd we own, argument 0.
            if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } == -1 {
                return Err(std::io::Error::last_os_error()).context("ioctl(2) TIOCSCTTY");
            }
            for n in 0..3 {
                dup_to(&slave, n)?;
            }
        }
    }
    if given {
        close_others_on_exec()?;
    }
    Ok(())
}

/// Mark every descriptor above 2 close-on-exec (`close_range(2)`).
fn close_others_on_exec() -> Result<()> {
    // SAFETY: close_range with a flag that only sets FD_CLOEXEC; no
    // descriptor is closed, so nothing this process uses goes away.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Before Linux 5.11: one fcntl per open descriptor.
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .context("list /proc/self/fd")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on a descriptor number; one that was the
        // directory listing's own is already closed and fails harmlessly.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Give CMD the signal state of a freshly started program, whatever
/// glassbox (or whoever started glassbox) had: no signal blocked, and every
/// disposition back to its default. A blocked mask and ignored signals
/// survive `execve(2)` (a handled one is reset by it anyway), so without
/// this a `nohup`ed or backgrounded glassbox would hand CMD an ignored
/// SIGINT or SIGHUP, and the signals glassbox blocks to forward them would
/// stay blocked in CMD. Read `signal(7)` ("Signal mask and pending
/// signals", "execve(2)").
fn restore_signals() -> Result<()> {
    nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    )
    .context("sigprocmask(2) SIG_SETMASK to the empty set")?;
    // The kernel's own call: the C library refuses the real-time signals
    // it reserves (32, 33), and those can be inherited ignored too.
    let default = [0u64; 4]; // a struct sigaction with SIG_DFL, no flags, no mask
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: rt_sigaction with a zeroed (SIG_DFL) action of the
        // kernel's size, no old action, and the kernel's sigset size.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                default.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            )
        };
        if r == -1 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("rt_sigaction(2) signal {sig} to SIG_DFL"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_finds_sh_and_reports_docker_message() {
        assert!(resolve("sh", "/nonexistent:/bin:/usr/bin").is_ok());
        let Err(Fail(e, code)) = resolve("nosuchcmd", "/bin:/usr/bin") else {
            panic!("found nosuchcmd");
        };
        assert_eq!(code, 127);
        assert_eq!(
            e.to_string(),
            "exec: \"nosuchcmd\": executable file not found in $PATH"
        );
    }

    #[test]
    fn a_symlink_loop_is_named_where_it_is() {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // What `ln -sf busybox bin/busybox` does to a busybox rootfs.
        std::os::unix::fs::symlink("busybox", bin.join("busybox")).unwrap();
        std::os::unix::fs::symlink("busybox", bin.join("sh")).unwrap();
        let path = format!("/nonexistent:{}", bin.display());
        let Err(Fail(e, code)) = resolve("sh", &path) else {
            panic!("resolved sh through a loop");
        };
        assert_eq!(code, EXIT_CANNOT_INVOKE);
        let text = e.to_string();
        assert!(
            text.contains(&format!(
                "symlink loop at {} (reached from {})",
                bin.join("busybox").display(),
                bin.join("sh").display()
            )),
            "{text}"
        );
        assert!(!text.contains("not found"), "{text}");
        let Err(Fail(e, _)) = resolve(&bin.join("busybox").display().to_string(), "") else {
            panic!("resolved a self link");
        };
        let at = bin.join("busybox").display().to_string();
        assert!(
            e.to_string()
                .contains(&format!("symlink loop at {at}: too many levels")),
            "{e}"
        );
    }
}
