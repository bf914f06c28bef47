//! Containers on a network lab: a [`Lab`] with the busybox image whose
//! containers are removed when it goes, and what the container network
//! tests ask of it (inspect, an HTTP GET from a namespace, busybox httpd,
//! a network's members, the veths). Shared by tests/container_net.rs and
//! tests/container_run_more.rs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::{Lab, in_ns};
use crate::common;

/// The busybox image every container test runs.
pub const IMAGE: &str = "bb:1";

/// A lab with a busybox image whose containers' resolv.conf names no real
/// server (a documentation address nothing routes to). Running
/// containers are removed when it goes, before the lab prunes.
pub struct Net {
    pub lab: Lab,
}

impl Drop for Net {
    fn drop(&mut self) {
        let ids = self.lab.run(&["ps", "-aq"]);
        let ids = common::stdout(&ids);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = self.lab.run(&args);
        }
    }
}

impl std::ops::Deref for Net {
    type Target = Lab;
    fn deref(&self) -> &Lab {
        &self.lab
    }
}

impl std::ops::DerefMut for Net {
    fn deref_mut(&mut self) -> &mut Lab {
        &mut self.lab
    }
}

pub fn net() -> Net {
    let lab = Lab::new();
    std::fs::write(
        lab.root.path().join("resolv.conf"),
        "nameserver 192.0.2.53\noptions timeout:1 attempts:1\n",
    )
    .expect("write the test resolv.conf");
    lab.ok(&["image", "from-host", "/bin/busybox", "--tag", IMAGE]);
    Net { lab }
}

/// `inspect -f FORMAT NAME`, trimmed.
pub fn inspect(lab: &Lab, name: &str, format: &str) -> String {
    lab.ok(&["inspect", "-f", format, name]).trim().to_string()
}

pub fn inspect_json(lab: &Lab, name: &str) -> serde_json::Value {
    let out = lab.ok(&["inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
    v[0].clone()
}

/// An HTTP GET of `/` from namespace `ns`: the body, or the error.
pub fn http_get(ns: &str, addr: &str) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().expect("a socket address");
    in_ns(ns, move || {
        let mut c =
            TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
        c.set_read_timeout(Some(Duration::from_secs(3))).ok();
        c.write_all(b"GET / HTTP/1.0\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let mut s = String::new();
        c.read_to_string(&mut s).map_err(|e| e.to_string())?;
        Ok(s.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_string())
    })
}

/// [`http_get`], retried for a few seconds while nothing answers yet (a
/// server starting).
pub fn http_wait(ns: &str, addr: &str) -> Result<String, String> {
    let mut last = Err(String::new());
    for _ in 0..100 {
        last = http_get(ns, addr);
        if last.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    last
}

/// busybox httpd on `port` serving a page that says `text`.
pub fn httpd(port: u16, text: &str) -> String {
    format!(
        "mkdir -p /www{port} && echo '{text}' > /www{port}/index.html && httpd -p {port} -h /www{port}"
    )
}

/// The leases of network `net`, by member name.
pub fn members(lab: &Lab, net: &str) -> Vec<String> {
    let path = lab
        .root
        .path()
        .join("networks")
        .join(format!("{net}.leases.json"));
    let Ok(text) = std::fs::read_to_string(path) else {
        return vec![];
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("leases are JSON");
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| l["endpoint"].as_str().unwrap().to_string())
        .collect()
}

/// The veth host ends this root made (its bridges left out).
pub fn veths(lab: &Lab) -> Vec<String> {
    let prefix = format!("{}v", lab.names().link_prefix);
    lab.our_links()
        .into_iter()
        .filter(|l| l.starts_with(&prefix))
        .collect()
}
