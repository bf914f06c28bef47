//! A container's terminal, from its own devpts instance (as runc's console
//! socket gives it): the child, already inside its root, opens `/dev/ptmx`
//! (which leads to its own `/dev/pts/ptmx`), so the slave is
//! `/dev/pts/0` *inside*; binds the slave over `/dev/console`; and sends
//! the master to its parent over the handshake socket (`SCM_RIGHTS`). The
//! parent (the shim) keeps the master, sets the window size, and relays.
//! The slave becomes the process's stdio and controlling terminal. Read
//! `pty(7)`, `pts(4)`, `unix(7)`.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use anyhow::{Context, Result};
use nix::mount::MsFlags;

use crate::host::mount::mount;
use crate::trace::{Action, Mechanism, Step};

use super::sync::{Channel, Msg};

const M: Mechanism = Mechanism::Ns;

/// The whole of it in the child: open the pair, bind the slave over
/// `/dev/console` (`console`: a container's init; a process that joins a
/// running container, `exec -t`, leaves its console alone), send the
/// master to the parent; the slave is returned for the process's stdio.
/// In a `--dry-run` plan (no channel, nothing opened) the steps are listed
/// and `None` is returned.
pub fn setup(chan: Option<&Channel>, console: bool) -> Result<Option<OwnedFd>> {
    let Some((master, slave)) = open_pair()?.value() else {
        if console {
            bind_console(None)?;
        }
        send_master(None, None)?;
        return Ok(None);
    };
    if console {
        bind_console(Some(&slave))?;
    }
    send_master(chan, Some(&master))?;
    drop(master);
    Ok(Some(slave))
}

/// Open a pty pair in the container's devpts: (master, slave).
fn open_pair() -> Result<crate::trace::Done<(OwnedFd, OwnedFd)>> {
    Step::new(M, Action::Syscall, "open a terminal in the container's devpts")
        .arg("path", "/dev/ptmx")
        .shell("exec 3<>/dev/ptmx  # the master; the slave appears as /dev/pts/N")
        .why("Opening /dev/ptmx of the container's own devpts instance makes the slave /dev/pts/0 inside, where `tty` finds it, and never a terminal of the host's.")
        .man("pty(7)")
        .apply(|| {
            use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
            use nix::fcntl::OFlag;
            let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
                .context("posix_openpt(3) /dev/ptmx")?;
            grantpt(&master).context("grantpt(3)")?;
            unlockpt(&master).context("unlockpt(3)")?;
            let name = ptsname_r(&master).context("ptsname(3)")?;
            let slave = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
                .open(&name)
                .with_context(|| format!("open the terminal's slave {name}"))?;
            // SAFETY: we own the master's descriptor; moved into an OwnedFd.
            let master = unsafe { OwnedFd::from_raw_fd(master_into_raw(master)) };
            Ok((master, OwnedFd::from(slave)))
        })
}

fn master_into_raw(m: nix::pty::PtyMaster) -> i32 {
    use std::os::fd::IntoRawFd;
    m.into_raw_fd()
}

/// Bind the slave over `/dev/console`, as Docker gives a `-t` container.
fn bind_console(slave: Option<&OwnedFd>) -> Result<()> {
    let console = Path::new("/dev/console");
    Step::new(M, Action::Filesystem, "create /dev/console")
        .arg("path", "/dev/console")
        .shell("touch /dev/console")
        .detail()
        .run(|| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(console)
                .context("create /dev/console")
                .map(drop)
        })?;
    let src = match slave {
        Some(s) => format!("/proc/self/fd/{}", s.as_raw_fd()),
        None => "/dev/pts/0".to_string(),
    };
    mount(
        M,
        &src,
        console,
        None,
        MsFlags::MS_BIND,
        None,
        "The container's terminal is also its /dev/console, as Docker sets it up.",
    )
}

/// Send the master to the parent.
fn send_master(chan: Option<&Channel>, master: Option<&OwnedFd>) -> Result<()> {
    Step::new(M, Action::Syscall, "hand the terminal's master to the parent")
        .arg("via", "SCM_RIGHTS")
        .why("The parent (the shim) keeps the master to relay the terminal; a descriptor passed over a unix socket is the same open file on the other side.")
        .man("unix(7)")
        .detail()
        .run(|| match (chan, master) {
            (Some(c), Some(m)) => c.send_fd(&Msg::Console, m.as_fd()),
            _ => anyhow::bail!("no handshake socket to send the terminal over"),
        })
}

use std::os::unix::fs::OpenOptionsExt;

/// Set a terminal's window size (`TIOCSWINSZ`).
pub fn set_size(tty: &OwnedFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a pointer to a winsize we own.
    if unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, &ws) } == -1 {
        return Err(std::io::Error::last_os_error()).context("ioctl(2) TIOCSWINSZ");
    }
    Ok(())
}

/// A terminal's window size (`TIOCGWINSZ`), if `fd` is one.
pub fn get_size(fd: i32) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data; TIOCGWINSZ fills it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ with a pointer to our winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == -1 {
        return None;
    }
    Some((ws.ws_row, ws.ws_col))
}
