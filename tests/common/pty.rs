//! A terminal for a test: a pty pair, a command on its slave as a shell
//! would start it (a session of its own, the slave its controlling
//! terminal, in the foreground), what the master shows read on a thread,
//! the window size set on it. Read `pty(7)`, `tty_ioctl(4)`.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A pty pair of `rows` x `cols`: (master, slave).
pub fn openpty(rows: u16, cols: u16) -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors; no name or termios, a size.
    let r = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: openpty just gave us these descriptors.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Make `cmd` run on the terminal `slave` as a shell runs a command typed
/// at it: stdio the slave, a session of its own with the slave as its
/// controlling terminal (so it is the foreground process group: a resize
/// sends it SIGWINCH).
pub fn on_terminal(cmd: &mut Command, slave: &OwnedFd) {
    let slave_fd = slave.as_raw_fd();
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave.try_clone().unwrap()));
    // SAFETY: between fork and exec only async-signal-safe calls.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 || libc::ioctl(slave_fd, libc::TIOCSCTTY, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Everything read from a stream (a terminal's master, a pipe), on a
/// thread of its own.
pub struct Screen {
    seen: Arc<Mutex<Vec<u8>>>,
    /// Where the next `expect` starts looking.
    from: usize,
}

impl Screen {
    pub fn watch(master: &OwnedFd) -> Screen {
        Screen::read(std::fs::File::from(master.try_clone().unwrap()))
    }

    pub fn read(mut r: impl Read + Send + 'static) -> Screen {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Screen { seen, from: 0 }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Wait (up to 20 s) until `want` shows after what was already matched.
    pub fn expect(&mut self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text();
            if let Some(at) = text.get(self.from..).and_then(|t| t.find(want)) {
                self.from += at + want.len();
                return;
            }
            if Instant::now() > deadline {
                panic!("never showed {want:?}; it shows:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until `f` holds of everything shown (up to `limit`), else
    /// fail with `what`.
    pub fn until(&self, limit: Duration, what: &str, mut f: impl FnMut(&str) -> bool) {
        let deadline = Instant::now() + limit;
        while !f(&self.text()) {
            assert!(Instant::now() < deadline, "{what}: {:?}", self.text());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Has `want` shown since the last match (without waiting)?
    pub fn shows(&self, want: &str) -> bool {
        self.text()
            .get(self.from..)
            .is_some_and(|t| t.contains(want))
    }
}

/// Set a terminal's window size (`TIOCSWINSZ`): the kernel sends SIGWINCH
/// to its foreground process group.
pub fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a winsize we own.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    assert_eq!(r, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
}
