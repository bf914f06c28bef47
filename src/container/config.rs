//! From what the user asked (`run`/`create`'s options) and what the image
//! says (its `Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`,
//! `ExposedPorts`, `StopSignal`, `Labels`) to the container's config, as
//! Docker merges them: `--entrypoint` replaces the image's entrypoint and
//! drops its cmd; a command after the image replaces the image's cmd; `-e`
//! and `--env-file` override the image's variables of the same name;
//! `--label` the image's labels of the same key; `--expose` and `-p` add
//! to the image's exposed ports, which `-P` publishes. Pure.

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
    /// `-v` specs with a source (bind paths and volume names), as
    /// Docker's `HostConfig.Binds` keeps them.
    pub binds: Vec<Bind>,
    /// Every `-v`, `--mount` and `--tmpfs`, in the order given.
    pub mounts: Vec<super::mount_spec::MountRequest>,
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
    /// `-P`: every exposed port published to a free host port.
    pub publish_all: bool,
    /// `--expose`: more exposed ports (`80/tcp`).
    pub expose: Vec<String>,
    /// `--ip`: the container's address on its user-defined network.
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--network-alias`: more names on a user-defined network.
    pub network_aliases: Vec<String>,
    pub add_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub log: LogConfig,
    /// `--init`: a small init as the container's PID 1.
    pub init: bool,
    /// The walls asked for (`--cap-add`, `--privileged`, ...), checked.
    pub security: super::state::Security,
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
    pub labels: BTreeMap<String, String>,
    /// `VOLUME`s: the paths that get an anonymous volume each.
    pub volumes: Vec<String>,
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
        let labels = config["Labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        ImageDefaults {
            entrypoint: strings("Entrypoint"),
            cmd: strings("Cmd"),
            env: strings("Env"),
            working_dir: text("WorkingDir"),
            user: text("User"),
            exposed_ports: exposed,
            stop_signal: text("StopSignal"),
            labels,
            volumes: config["Volumes"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default(),
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
        .chain(&req.expose)
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
        // The image's `VOLUME`s and `-v /path`'s anonymous volumes.
        volumes: img
            .volumes
            .iter()
            .cloned()
            .chain(
                req.mounts
                    .iter()
                    .filter(|m| m.point.anonymous && m.origin == super::mount_spec::Origin::Volume)
                    .map(|m| m.point.destination.clone()),
            )
            .map(|v| (v, serde_json::json!({})))
            .collect(),
        working_dir: req
            .workdir
            .clone()
            .unwrap_or_else(|| img.working_dir.clone()),
        entrypoint,
        // The image's labels, the container's own winning (Docker's merge).
        labels: img
            .labels
            .iter()
            .chain(&req.labels)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
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
        publish_all_ports: req.publish_all,
        binds: req.binds.clone(),
        mounts: req
            .mounts
            .iter()
            .filter_map(|m| match &m.origin {
                super::mount_spec::Origin::Mount(v) => Some(v.clone()),
                _ => None,
            })
            .collect(),
        tmpfs: req
            .mounts
            .iter()
            .filter_map(|m| match &m.origin {
                super::mount_spec::Origin::Tmpfs(o) => {
                    Some((m.point.destination.clone(), o.clone()))
                }
                _ => None,
            })
            .collect(),
        auto_remove: req.auto_remove,
        readonly_rootfs: req.readonly_rootfs,
        dns: req.dns.clone(),
        extra_hosts: req.add_hosts.clone(),
        log_config: req.log.clone(),
        init: req.init.then_some(true),
        security: req.security.clone(),
    };
    Ok((config, host))
}

/// `-v SRC:DST[:MODE]` as Docker's `HostConfig.Binds` entry: a host path
/// or a volume's name, see [`super::mount_spec::parse_volume_flag`]; `None`
/// for `-v /DST` (an anonymous volume, in `Config.Volumes`).
pub fn parse_volume(spec: &str) -> Result<Option<Bind>> {
    let m = super::mount_spec::parse_volume_flag(spec)?.point;
    if m.anonymous {
        return Ok(None);
    }
    let source = if m.kind == super::state::MountType::Volume {
        PathBuf::from(&m.name)
    } else {
        m.source
    };
    Ok(Some(Bind {
        source,
        destination: m.destination,
        read_only: !m.rw,
    }))
}

/// `--label KEY[=VALUE]` as the Docker CLI checks it (`ValidateLabel`):
/// a name, without white space.
pub fn check_label(spec: &str) -> Result<()> {
    let key = spec.split_once('=').map_or(spec, |(k, _)| k).trim();
    if key.is_empty() {
        bail!(
            "invalid argument \"{spec}\" for \"-l, --label\" flag: invalid label '{spec}': empty name"
        );
    }
    if key.contains(char::is_whitespace) {
        bail!(
            "invalid argument \"{spec}\" for \"-l, --label\" flag: label '{key}' contains whitespaces"
        );
    }
    Ok(())
}

/// The lines of a `--label-file` as Docker reads them: blank lines and
/// `#` comments skipped, each other line a `KEY[=VALUE]` whose key has no
/// white space.
pub fn label_file(text: &str, file: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split_once('=').map_or(line, |(k, _)| k);
        if key.contains(char::is_whitespace) {
            bail!("variable '{key}' contains whitespaces (in {file})");
        }
        out.push(line.to_string());
    }
    Ok(out)
}

/// Labels from `KEY[=VALUE]` specs, a later one of a key winning; a key
/// alone has an empty value.
pub fn labels(specs: &[String]) -> BTreeMap<String, String> {
    specs
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// `--label-file`s (read in order) and then `--label`s, each checked: the
/// labels they set, a later one of a key winning.
pub fn read_labels(files: &[PathBuf], flags: &[String]) -> Result<BTreeMap<String, String>> {
    let mut specs = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| anyhow::anyhow!("open {}: {e}", f.display()))?;
        specs.extend(label_file(&text, &f.display().to_string())?);
    }
    for l in flags {
        check_label(l)?;
        specs.push(l.clone());
    }
    Ok(labels(&specs))
}

/// Every port the `--expose` specs add.
pub fn exposes(specs: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in specs {
        out.extend(parse_expose(e)?);
    }
    Ok(out)
}

/// `--expose PORT[/PROTO]` or a range `START-END[/PROTO]`: the exposed
/// ports it adds (`80/tcp`), as Docker reads it.
pub fn parse_expose(spec: &str) -> Result<Vec<String>> {
    if spec.contains(':') {
        bail!("invalid port format for --expose: {spec}");
    }
    let (ports, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        bail!("invalid proto: {proto}");
    }
    if proto == "sctp" {
        bail!("invalid proto: sctp (glassbox exposes tcp and udp)");
    }
    let one = |p: &str| p.parse::<u16>().ok().filter(|p| *p > 0);
    let (a, b) = match ports.split_once('-') {
        None => (one(ports), one(ports)),
        Some((a, b)) => (one(a), one(b)),
    };
    match (a, b) {
        (Some(a), Some(b)) if a <= b => Ok((a..=b).map(|p| format!("{p}/{proto}")).collect()),
        _ => bail!(
            "invalid range format for --expose: {spec}, error: give a port (1-65535) or a range START-END"
        ),
    }
}

/// `--ip ADDRESS`: an IPv4 address.
pub fn parse_ip(s: &str) -> Result<std::net::Ipv4Addr> {
    match s.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => Ok(ip),
        Ok(std::net::IpAddr::V6(_)) => bail!(
            "invalid argument \"{s}\" for \"--ip\" flag: {s} is not an IPv4 address (glassbox networks are IPv4; --ip6 is not supported)"
        ),
        Err(_) => bail!("invalid argument \"{s}\" for \"--ip\" flag: {s} is not an ip address"),
    }
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
            labels: [("maintainer", "img"), ("tier", "base")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            volumes: vec![],
        }
    }

    #[test]
    fn labels_merge_over_the_images_and_are_checked_as_dockers() {
        let r = Request {
            labels: labels(&["tier=web".into(), "solo".into(), "a=1=2".into()]),
            expose: parse_expose("8000-8001/udp").unwrap(),
            publish_all: true,
            ..Request::default()
        };
        let (c, h) = build(&r, &img(), "abc", vec![]).unwrap();
        let got: Vec<(&str, &str)> = c
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "1=2"),
                ("maintainer", "img"),
                ("solo", ""),
                ("tier", "web")
            ]
        );
        let exposed: Vec<&String> = c.exposed_ports.keys().collect();
        assert_eq!(exposed, ["80/tcp", "8000/udp", "8001/udp"]);
        assert!(h.publish_all_ports);
        check_label("a=b").unwrap();
        check_label("a").unwrap();
        assert_eq!(
            check_label("=x").unwrap_err().to_string(),
            "invalid argument \"=x\" for \"-l, --label\" flag: invalid label '=x': empty name"
        );
        assert!(
            check_label("a b=c")
                .unwrap_err()
                .to_string()
                .ends_with("label 'a b' contains whitespaces")
        );
        let f = label_file("# comment\n\n  team=db\nflag\n", "f").unwrap();
        assert_eq!(f, ["team=db", "flag"]);
        assert!(label_file("a b=1\n", "f").is_err());
        assert_eq!(parse_expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(parse_expose("53/UDP").unwrap(), ["53/udp"]);
        assert!(parse_expose("0").is_err());
        assert!(parse_expose("9-8").is_err());
        assert!(parse_expose("80/icmp").is_err());
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
        let b = parse_volume("/srv/data:/data:ro").unwrap().unwrap();
        assert!(b.read_only && b.destination == "/data");
        let v = parse_volume("data:/data").unwrap().unwrap();
        assert_eq!(v.source, PathBuf::from("data"));
        assert_eq!(parse_volume("/anon").unwrap(), None);
        assert!(parse_volume("/a:rel").is_err());
        assert!(parse_volume("/a:/").is_err());
        assert!(parse_volume("/a:/b:xx").is_err());
        check_add_host("db:10.0.0.5").unwrap();
        assert!(check_add_host("db").is_err());
    }
}
