//! A network lab for one test: a private network namespace playing "the
//! host" (its own links, firewall and sysctls), namespaces playing
//! containers and an outside machine, and small TCP/UDP servers and
//! clients that run inside them (a thread that `setns`es). Traffic stays
//! inside namespaces the test made. Everything is removed on drop.
#![allow(dead_code)]

pub mod crash;
pub mod ctr;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::common::{self, TestRoot};

pub struct Lab {
    pub root: TestRoot,
    pub tag: String,
    /// The `ip netns` name of the namespace playing the host.
    pub host: String,
    made: Vec<String>,
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn a command")
}

/// Run a shell line; panic with its output unless it succeeds.
pub fn sh(line: &str) -> String {
    let out = run(Command::new("sh").arg("-c").arg(line));
    assert!(
        out.status.success(),
        "`{line}` failed\n{}{}",
        common::stdout(&out),
        common::stderr(&out)
    );
    common::stdout(&out)
}

/// Run a shell line; its success.
pub fn sh_ok(line: &str) -> bool {
    run(Command::new("sh").arg("-c").arg(line)).status.success()
}

impl Lab {
    pub fn new() -> Lab {
        common::require_root();
        let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").expect("read a uuid");
        let tag: String = uuid
            .chars()
            .filter(|c| c.is_ascii_hexdigit())
            .take(6)
            .collect();
        let host = format!("gbt{tag}host");
        sh(&format!(
            "ip netns add {host} && ip -n {host} link set lo up"
        ));
        let root = TestRoot::new();
        // Members' resolv.conf names no real server: a lookup of an unknown
        // name asks the member's own loopback and fails at once.
        std::fs::write(
            root.path().join("resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )
        .expect("write the test resolv.conf");
        Lab {
            root,
            tag,
            host: host.clone(),
            made: vec![host],
        }
    }

    /// The glassbox names of this lab's state root.
    pub fn names(&self) -> glassbox::state::Names {
        glassbox::state::Root::new(Some(self.root.path()))
            .expect("root")
            .names()
    }

    /// A new namespace (`ip netns add`), named after the lab.
    pub fn ns(&mut self, short: &str) -> String {
        let name = format!("gbt{}{short}", self.tag);
        sh(&format!("ip netns add {name}"));
        self.made.push(name.clone());
        name
    }

    /// An "outside machine": a namespace joined to the host by its own veth
    /// pair, 198.18.T.1 on the host side and 198.18.T.2 outside.
    pub fn outside(&mut self) -> (String, String, String) {
        let out = self.ns("out");
        let t = u8::from_str_radix(&self.tag[..2], 16).unwrap_or(1);
        let (h, o) = (format!("198.18.{t}.1"), format!("198.18.{t}.2"));
        sh(&format!(
            "ip -n {host} link add uplink type veth peer name eth0 netns {out} && \
             ip -n {host} addr add {h}/24 dev uplink && ip -n {host} link set uplink up && \
             ip -n {out} addr add {o}/24 dev eth0 && ip -n {out} link set eth0 up && \
             ip -n {out} link set lo up",
            host = self.host
        ));
        (out, h, o)
    }

    /// `glassbox --root R --no-color ARGS` inside the host namespace.
    pub fn glassbox(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{}", self.host))
            .arg(common::glassbox_bin())
            .arg("--root")
            .arg(self.root.path())
            .arg("--no-color");
        cmd.env_remove("NO_COLOR");
        cmd.env("GLASSBOX_RESOLV_CONF", self.root.path().join("resolv.conf"));
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.glassbox().args(args))
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        common::assert_succeeded(args, &out);
        common::stdout(&out)
    }

    /// Expect success; returns stderr (the commentary and the trace).
    pub fn ok_stderr(&self, args: &[&str]) -> String {
        let out = self.run(args);
        common::assert_succeeded(args, &out);
        common::stderr(&out)
    }

    /// Expect failure with a clear error; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "glassbox {args:?} should have failed\n--- stdout\n{}\n--- stderr\n{}",
            common::stdout(&out),
            common::stderr(&out)
        );
        common::stderr(&out)
    }

    /// A shell line inside the host namespace.
    pub fn host_sh(&self, line: &str) -> String {
        sh(&format!("ip netns exec {} sh -c '{line}'", self.host))
    }

    /// Links in the host namespace that carry this root's names.
    pub fn our_links(&self) -> Vec<String> {
        let prefix = self.names().link_prefix;
        let out = sh(&format!("ip -n {} -o link show", self.host));
        out.lines()
            .filter_map(|l| l.split(':').nth(1))
            .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
            .filter(|n| n.starts_with(&prefix))
            .collect()
    }

    /// glassbox's tagged iptables rules in the host namespace.
    pub fn our_iptables_rules(&self) -> Vec<String> {
        let tag = format!("glassbox:{}", self.names().firewall_table);
        let out = sh(&format!("ip netns exec {} iptables -w -S", self.host));
        out.lines()
            .filter(|l| l.contains(&tag))
            .map(|s| s.to_string())
            .collect()
    }

    pub fn nft_table_exists(&self) -> bool {
        sh_ok(&format!(
            "ip netns exec {} nft list table ip {} >/dev/null 2>&1",
            self.host,
            self.names().firewall_table
        ))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = run(self.glassbox().args(["system", "prune", "--all", "-f"]));
        for ns in self.made.iter().rev() {
            let _ = run(Command::new("ip").args(["netns", "del", ns]));
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{ns}"));
        }
    }
}

/// Run `f` on a thread inside the network namespace `ns` (`ip netns` name).
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        enter(&path);
        f()
    })
    .join()
    .expect("thread inside the namespace")
}

fn enter(path: &str) {
    let f = std::fs::File::open(path).expect("open the namespace");
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns into the namespace");
}

/// A server running in a namespace until dropped.
pub struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TCP server in `ns` on `port` that answers each connection with
/// `"{greeting} peer={address of the client as seen here}\n"`.
pub fn tcp_server(ns: &str, port: u16, greeting: &str) -> Server {
    let path = format!("/run/netns/{ns}");
    let stop = Arc::new(AtomicBool::new(false));
    let (s, greeting) = (stop.clone(), greeting.to_string());
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        enter(&path);
        let l = TcpListener::bind(("0.0.0.0", port)).expect("bind the test server");
        l.set_nonblocking(true).unwrap();
        tx.send(()).unwrap();
        while !s.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((mut c, peer)) => {
                    let _ = c.set_nonblocking(false);
                    let _ = writeln!(c, "{greeting} peer={}", peer.ip());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    rx.recv().expect("server started");
    Server {
        stop,
        thread: Some(thread),
    }
}

/// A UDP echo server in `ns` on `port`: answers `echo:` + the datagram.
pub fn udp_echo(ns: &str, port: u16) -> Server {
    let path = format!("/run/netns/{ns}");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        enter(&path);
        let sock = UdpSocket::bind(("0.0.0.0", port)).expect("bind the udp server");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 1500];
        while !s.load(Ordering::SeqCst) {
            if let Ok((n, peer)) = sock.recv_from(&mut buf) {
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                let _ = sock.send_to(&reply, peer);
            }
        }
    });
    rx.recv().expect("server started");
    Server {
        stop,
        thread: Some(thread),
    }
}

/// Connect from `ns` to `addr` and read the answer (or the error).
pub fn tcp_get(ns: &str, addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().expect("a socket address");
    in_ns(ns, move || {
        let mut c =
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
        c.set_read_timeout(Some(Duration::from_secs(2))).ok();
        let mut s = String::new();
        c.read_to_string(&mut s).map_err(|e| e.to_string())?;
        Ok(s.trim().to_string())
    })
}

/// Send a datagram from `ns` to `addr`; the answer.
pub fn udp_ask(ns: &str, addr: &str, msg: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().expect("a socket address");
    let msg = msg.to_string();
    in_ns(ns, move || {
        let s = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok();
        s.send_to(msg.as_bytes(), addr).map_err(|e| e.to_string())?;
        let mut buf = [0u8; 1500];
        let (n, _) = s.recv_from(&mut buf).map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
}

/// `ping -c1` from `ns` (busybox).
pub fn ping(ns: &str, ip: &str) -> bool {
    sh_ok(&format!(
        "ip netns exec {ns} busybox ping -c1 -W2 {ip} >/dev/null 2>&1"
    ))
}

/// The inode of a file.
pub fn inode(path: &str) -> u64 {
    std::fs::metadata(path).expect("stat").ino()
}

/// The first IPv4 address of `dev` inside `ns`.
pub fn addr_in(ns: &str, dev: &str) -> String {
    let out = sh(&format!("ip -n {ns} -4 -o addr show dev {dev}"));
    out.split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .expect("an address")
        .to_string()
}
