//! From what the user asked (`run`/`create`'s options) and what the image
//! says (its `Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`,
//! `ExposedPorts`, `StopSignal`) to the container's config, as Docker
//! merges them: `--entrypoint` replaces the image's entrypoint and drops
//! its cmd; a command after the image replaces the image's cmd; `-e` and
//! `--env-file` override the image's variables of the same name. Pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::net::ports::PortSpec;

use super::state::{Bind, Config, HostConfig, LogConfig, PortBinding};

/// What `run`/`create` were asked, once parsed (no clap types).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub image: String,
    /// The command after the image, if any.
    pub cmd: Vec<String>,
    /// `--entrypoint`: `Some("")` clears the image's.
    pub entrypoint: Option<String>,
    pub name: Option<String>,
    /// `-e` and `--env-file`, already `KEY=VALUE`.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub auto_remove: bool,
    pub binds: Vec<Bind>,
    pub readonly_rootfs: bool,
    pub memory: i64,
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub nano_cpus: i64,
    pub cpuset_cpus: String,
    pub pids_limit: Option<i64>,
    /// `bridge` (default), `host`, `none`, `container:NAME`, or a network.
    pub network: String,
    pub publish: Vec<PortSpec>,
    /// `--network-alias`: more names on a user-defined network.
    pub network_aliases: Vec<String>,
    pub add_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub log: LogConfig,
    /// `--init`: a small init as the container's PID 1.
    pub init: bool,
}

/// The parts of an image config `run` uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageDefaults {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub exposed_ports: Vec<String>,
    pub stop_signal: String,
}

impl ImageDefaults {
    /// Read them from an OCI image config's `config` object.
    pub fn from_config(config: &serde_json::Value) -> ImageDefaults {
        let strings = |key: &str| -> Vec<String> {
            config[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let text = |key: &str| config[key].as_str().unwrap_or_default().to_string();
        let mut exposed: Vec<String> = config["ExposedPorts"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        exposed.sort();
        ImageDefaults {
            entrypoint: strings("Entrypoint"),
            cmd: strings("Cmd"),
            env: strings("Env"),
            working_dir: text("WorkingDir"),
            user: text("User"),
            exposed_ports: exposed,
            stop_signal: text("StopSignal"),
        }
    }
}

/// The program and its arguments, Docker's way: entrypoint + cmd, where
/// `--entrypoint` drops the image's cmd and a given cmd replaces it.
pub fn command(req: &Request, img: &ImageDefaults) -> Result<(Vec<String>, Vec<String>)> {
    let entrypoint: Vec<String> = match &req.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => img.entrypoint.clone(),
    };
    let cmd = if !req.cmd.is_empty() {
        req.cmd.clone()
    } else if req.entrypoint.is_some() {
        Vec::new()
    } else {
        img.cmd.clone()
    };
    if entrypoint.is_empty() && cmd.is_empty() {
        bail!(
            "no command specified: the image has no Cmd or Entrypoint, so give one after the image name"
        );
    }
    Ok((entrypoint, cmd))
}

/// The container's `Config` and `HostConfig`.
pub fn build(
    req: &Request,
    img: &ImageDefaults,
    hostname: &str,
    env: Vec<String>,
) -> Result<(Config, HostConfig)> {
    let (entrypoint, cmd) = command(req, img)?;
    let mut exposed: BTreeMap<String, serde_json::Value> = img
        .exposed_ports
        .iter()
        .map(|p| (p.clone(), serde_json::json!({})))
        .collect();
    let mut port_bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for p in &req.publish {
        let key = format!("{}/{}", p.port, p.proto);
        exposed.insert(key.clone(), serde_json::json!({}));
        let host_port = match p.host_port {
            crate::net::ports::HostPort::Fixed(n) => n.to_string(),
            crate::net::ports::HostPort::Any => String::new(),
            crate::net::ports::HostPort::Within(a, b) => format!("{a}-{b}"),
        };
        port_bindings.entry(key).or_default().push(PortBinding {
            host_ip: p.host_ip.map(|i| i.to_string()).unwrap_or_default(),
            host_port,
        });
    }
    let config = Config {
        hostname: hostname.to_string(),
        domainname: String::new(),
        user: req.user.clone().unwrap_or_else(|| img.user.clone()),
        attach_stdin: req.interactive && !req.detach,
        attach_stdout: !req.detach,
        attach_stderr: !req.detach,
        exposed_ports: exposed,
        tty: req.tty,
        open_stdin: req.interactive,
        stdin_once: req.interactive && !req.detach,
        env,
        cmd,
        image: req.image.clone(),
        volumes: BTreeMap::new(),
        working_dir: req
            .workdir
            .clone()
            .unwrap_or_else(|| img.working_dir.clone()),
        entrypoint,
        labels: req.labels.clone(),
        stop_signal: img.stop_signal.clone(),
    };
    let host = HostConfig {
        memory: req.memory,
        memory_swap: req.memory_swap,
        cpu_shares: req.cpu_shares,
        nano_cpus: req.nano_cpus,
        cpuset_cpus: req.cpuset_cpus.clone(),
        pids_limit: req.pids_limit,
        memory_reservation: 0,
        network_mode: if req.network.is_empty() {
            "bridge".into()
        } else {
            req.network.clone()
        },
        port_bindings,
        binds: req.binds.clone(),
        auto_remove: req.auto_remove,
        readonly_rootfs: req.readonly_rootfs,
        dns: req.dns.clone(),
        extra_hosts: req.add_hosts.clone(),
        log_config: req.log.clone(),
        init: req.init.then_some(true),
    };
    Ok((config, host))
}

/// `-v HOST:CTR[:ro|rw]`: a bind mount of a host path (made when missing,
/// as Docker's `-v` does). Named volumes come with the storage issue.
pub fn parse_volume(spec: &str) -> Result<Bind> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [s, d] => (*s, *d, ""),
        [s, d, m] => (*s, *d, *m),
        _ => bail!("invalid volume specification: '{spec}': give HOST-PATH:CONTAINER-PATH[:ro]"),
    };
    if !src.starts_with('/') {
        bail!(
            "invalid volume specification: '{spec}': named volumes are not supported yet; give an absolute host path (HOST-PATH:CONTAINER-PATH)"
        );
    }
    if !dst.starts_with('/') {
        bail!("invalid volume specification: '{spec}': mount path must be absolute");
    }
    if dst == "/" {
        bail!(
            "invalid volume specification: '{spec}': invalid mount config: destination can't be '/'"
        );
    }
    let read_only = match mode {
        "" | "rw" => false,
        "ro" => true,
        other => bail!("invalid mode: {other}: use ro or rw"),
    };
    Ok(Bind {
        source: PathBuf::from(src),
        destination: dst.to_string(),
        read_only,
    })
}

/// `--add-host NAME:IP` as Docker checks it.
pub fn check_add_host(spec: &str) -> Result<()> {
    match spec.split_once(':') {
        Some((name, ip)) if !name.is_empty() && ip.parse::<std::net::IpAddr>().is_ok() => Ok(()),
        _ => bail!(
            "invalid argument \"{spec}\" for \"--add-host\" flag: bad format for add-host: \"{spec}\" (give NAME:IP)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img() -> ImageDefaults {
        ImageDefaults {
            entrypoint: vec![],
            cmd: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            working_dir: "/srv".into(),
            user: "".into(),
            exposed_ports: vec!["80/tcp".into()],
            stop_signal: "SIGQUIT".into(),
        }
    }

    #[test]
    fn commands_merge_as_dockers() {
        let mut r = Request::default();
        assert_eq!(
            command(&r, &img()).unwrap(),
            (vec![], vec!["sh".to_string()])
        );
        r.cmd = vec!["echo".into(), "hi".into()];
        assert_eq!(command(&r, &img()).unwrap().1, ["echo", "hi"]);
        r.cmd.clear();
        r.entrypoint = Some("top".into());
        assert_eq!(
            command(&r, &img()).unwrap(),
            (vec!["top".to_string()], vec![])
        );
        let mut i = img();
        i.cmd.clear();
        let e = command(&Request::default(), &i).unwrap_err().to_string();
        assert!(e.contains("no command specified"), "{e}");
        let mut ep = img();
        ep.entrypoint = vec!["/init".into()];
        assert_eq!(
            command(&Request::default(), &ep).unwrap(),
            (vec!["/init".to_string()], vec!["sh".to_string()])
        );
    }

    #[test]
    fn the_image_fills_what_the_user_left_out() {
        let r = Request {
            image: "busybox".into(),
            tty: true,
            interactive: true,
            publish: crate::net::ports::parse_port_spec("1314:80").unwrap(),
            ..Request::default()
        };
        let (c, h) = build(&r, &img(), "abc", vec!["A=1".into()]).unwrap();
        assert_eq!(c.working_dir, "/srv");
        assert_eq!(c.stop_signal, "SIGQUIT");
        assert!(c.exposed_ports.contains_key("80/tcp"));
        assert_eq!(h.port_bindings["80/tcp"][0].host_port, "1314");
        assert_eq!(h.network_mode, "bridge");
        assert!(c.attach_stdin && c.open_stdin && c.tty);
    }

    #[test]
    fn volumes_and_hosts_are_checked() {
        let b = parse_volume("/srv/data:/data:ro").unwrap();
        assert!(b.read_only && b.destination == "/data");
        assert!(
            parse_volume("data:/data")
                .unwrap_err()
                .to_string()
                .contains("named volumes")
        );
        assert!(parse_volume("/a:rel").is_err());
        assert!(parse_volume("/a:/").is_err());
        assert!(parse_volume("/a:/b:xx").is_err());
        check_add_host("db:10.0.0.5").unwrap();
        assert!(check_add_host("db").is_err());
    }
}
