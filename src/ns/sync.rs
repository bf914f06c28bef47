//! The parent/child handshake over a `socketpair(2)`.
//!
//! The child is born blocked on a read. The parent writes its uid/gid maps,
//! places it in its cgroups, gives it its network, then says `Go`; the child
//! sets up (cgroup namespace, hostname, mounts, pivot_root) and answers
//! `Ready` or an `Error`; the parent says `Exec`; the child execs. The
//! socket is close-on-exec, so a successful exec shows up in the parent as
//! end-of-file, and a failed one as an `Error` message. Read `unix(7)`.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use anyhow::{Context, Result, bail};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use serde::{Deserialize, Serialize};

/// One message of the handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Parent -> child: your ids, cgroups and links are in place.
    Go,
    /// Child -> parent: namespaces and root are set up.
    Ready,
    /// Parent -> child: exec CMD now.
    Exec,
    /// Child -> parent: setup or exec failed; the child exits with `code`.
    Error { message: String, code: u8 },
    /// Child -> parent, with a descriptor (`SCM_RIGHTS`): the master of
    /// the terminal it opened in its own devpts.
    Console,
}

/// One end of the handshake socket.
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: (parent's end, child's end). Message boundaries are
/// kept (`SOCK_SEQPACKET`), and both ends close on exec.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair(2) for the parent/child handshake")?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let data = serde_json::to_vec(msg).context("encode handshake message")?;
        loop {
            match nix::unistd::write(&self.fd, &data) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("write to the handshake socket"),
            }
        }
    }

    /// The next message, or `None` at end-of-file (the other side exec'd
    /// or exited).
    pub fn recv(&self) -> Result<Option<Msg>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match nix::unistd::read(&self.fd, &mut buf) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("read from the handshake socket"),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).context("decode handshake message")?;
        Ok(Some(msg))
    }

    /// Wait for one expected message.
    pub fn expect(&self, want: &Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if &m == want => Ok(()),
            Some(m) => bail!("handshake: expected {want:?}, got {m:?}"),
            None => bail!("handshake: the other side closed before {want:?}"),
        }
    }

    /// Send `msg` with a descriptor attached (`SCM_RIGHTS`): the receiver
    /// gets its own copy of the open file.
    pub fn send_fd(&self, msg: &Msg, fd: BorrowedFd<'_>) -> Result<()> {
        use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
        let data = serde_json::to_vec(msg).context("encode handshake message")?;
        let fds = [fd.as_raw_fd()];
        let iov = [std::io::IoSlice::new(&data)];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        loop {
            match sendmsg::<()>(self.fd.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("sendmsg(2) SCM_RIGHTS on the handshake socket"),
            }
        }
    }

    /// The next message and the descriptor sent with it, if any.
    pub fn recv_with_fd(&self) -> Result<Option<(Msg, Option<OwnedFd>)>> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::FromRawFd;
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg_space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (n, fd) = loop {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg_space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut fd = None;
                    for c in m.cmsgs().context("read the control messages")? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for raw in fds {
                                // SAFETY: the kernel installed this descriptor for us.
                                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                                fd.get_or_insert(owned);
                            }
                        }
                    }
                    break (m.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("recvmsg(2) on the handshake socket"),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n]).context("decode handshake message")?;
        Ok(Some((msg, fd)))
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_boundaries() {
        let (a, b) = pair().unwrap();
        a.send(&Msg::Go).unwrap();
        a.send(&Msg::Error {
            message: "exec: \"x\": executable file not found in $PATH".into(),
            code: 127,
        })
        .unwrap();
        assert_eq!(b.recv().unwrap(), Some(Msg::Go));
        assert!(matches!(
            b.recv().unwrap(),
            Some(Msg::Error { code: 127, .. })
        ));
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn a_descriptor_travels_with_its_message() {
        use std::io::{Read, Write};
        let (a, b) = pair().unwrap();
        let (mut r, w) = std::io::pipe().unwrap();
        a.send_fd(&Msg::Console, std::os::fd::AsFd::as_fd(&w))
            .unwrap();
        drop(w);
        let (msg, fd) = b.recv_with_fd().unwrap().unwrap();
        assert_eq!(msg, Msg::Console);
        let mut got = std::fs::File::from(fd.unwrap());
        got.write_all(b"through").unwrap();
        drop(got);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "through");
    }
}
