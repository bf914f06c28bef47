//! `inspect` of a container: Docker's JSON, field for field and in
//! Docker's order where glassbox has the field (`Id`, `State`, `Config`,
//! `HostConfig`, `NetworkSettings` with the network namespace's pin as
//! `SandboxKey`, `GraphDriver` with the overlay's directories, ...),
//! printed as the Docker CLI prints it (four spaces of indentation, `<`,
//! `>` and `&` escaped as Go's encoder escapes them). Built from the
//! record alone. Pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use super::state::{Container, Status};

/// A JSON object whose keys keep the order they were given in (Docker's
/// struct order), unlike `serde_json::Map`.
#[derive(Debug, Clone, Default)]
pub struct Ordered(Vec<(&'static str, Node)>);

/// A value of an [`Ordered`] object.
#[derive(Debug, Clone)]
pub enum Node {
    Value(Value),
    Object(Ordered),
}

impl From<Value> for Node {
    fn from(v: Value) -> Node {
        Node::Value(v)
    }
}

impl From<Ordered> for Node {
    fn from(o: Ordered) -> Node {
        Node::Object(o)
    }
}

impl Ordered {
    fn with(mut self, key: &'static str, v: impl Into<Node>) -> Ordered {
        self.0.push((key, v.into()));
        self
    }

    /// The same object with `key`'s value replaced.
    fn set(mut self, key: &'static str, v: impl Into<Node>) -> Ordered {
        if let Some(e) = self.0.iter_mut().find(|(k, _)| *k == key) {
            e.1 = v.into();
        }
        self
    }

    /// The same object as a plain JSON value (for templates).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Value(v) => v.serialize(s),
            Node::Object(o) => o.serialize(s),
        }
    }
}

fn obj() -> Ordered {
    Ordered::default()
}

/// What `inspect` shows beyond the record: the ids of the networks the
/// container is on (by name) and, while it runs in a network namespace of
/// its own, the path that pins it.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub network_ids: BTreeMap<String, String>,
    pub sandbox_key: Option<PathBuf>,
}

/// Docker's times: RFC 3339 with the nanoseconds' trailing zeros dropped
/// (Go's `RFC3339Nano`).
fn go_time(t: &str) -> String {
    match t.split_once('.') {
        Some((head, frac)) if frac.ends_with('Z') => {
            let f = frac.trim_end_matches('Z').trim_end_matches('0');
            if f.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{f}Z")
            }
        }
        _ => t.to_string(),
    }
}

/// One entry of Docker's `Mounts`: `Name` and `Driver` for volumes only.
fn mount_point(m: &super::state::MountPoint) -> Value {
    use super::state::MountType;
    let mut o = obj().with("Type", json!(m.kind.as_str()));
    if m.kind == MountType::Volume {
        o = o.with("Name", json!(m.name));
    }
    o = o
        .with("Source", json!(m.source))
        .with("Destination", json!(m.destination));
    if m.kind == MountType::Volume {
        o = o.with("Driver", json!("local"));
    }
    o.with("Mode", json!(m.mode))
        .with("RW", json!(m.rw))
        .with("Propagation", json!(m.propagation))
        .to_value()
}

fn binds(c: &Container) -> Value {
    if c.host_config.binds.is_empty() {
        return Value::Null;
    }
    c.host_config
        .binds
        .iter()
        .map(|b| {
            let mut s = format!("{}:{}", b.source.display(), b.destination);
            if b.read_only {
                s.push_str(":ro");
            }
            Value::String(s)
        })
        .collect()
}

/// `NetworkSettings.Ports`: while it runs, its exposed ports and the host
/// ports really published (random ones included); nothing otherwise.
fn ports(c: &Container) -> Value {
    let mut out = serde_json::Map::new();
    if !matches!(c.state.status, Status::Running | Status::Paused) {
        return Value::Object(out);
    }
    for key in c.config.exposed_ports.keys() {
        out.insert(key.clone(), Value::Null);
    }
    for (key, bindings) in &super::network::published(c) {
        let list: Vec<Value> = bindings
            .iter()
            .map(|b| {
                json!({
                    "HostIp": if b.host_ip.is_empty() { "0.0.0.0" } else { &b.host_ip },
                    "HostPort": b.host_port,
                })
            })
            .collect();
        out.insert(key.clone(), Value::Array(list));
    }
    Value::Object(out)
}

fn port_bindings(c: &Container) -> Value {
    let out: serde_json::Map<String, Value> = c
        .host_config
        .port_bindings
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.iter()
                    .map(|b| json!({"HostIp": b.host_ip, "HostPort": b.host_port}))
                    .collect(),
            )
        })
        .collect();
    Value::Object(out)
}

fn or_null<T: serde::Serialize>(v: &[T]) -> Value {
    if v.is_empty() { Value::Null } else { json!(v) }
}

fn state(c: &Container) -> Ordered {
    let s = &c.state;
    let running = matches!(s.status, Status::Running | Status::Paused);
    obj()
        .with("Status", json!(s.status.as_str()))
        .with("Running", json!(running))
        .with("Paused", json!(s.status == Status::Paused))
        .with("Restarting", json!(s.status == Status::Restarting))
        .with("OOMKilled", json!(s.oom_killed))
        .with("Dead", json!(s.status == Status::Dead))
        .with("Pid", json!(if running { s.pid } else { 0 }))
        .with("ExitCode", json!(s.exit_code))
        .with("Error", json!(s.error))
        .with("StartedAt", json!(go_time(&s.started_at)))
        .with("FinishedAt", json!(go_time(&s.finished_at)))
}

fn host_config(c: &Container) -> Ordered {
    let h = &c.host_config;
    let mut log = obj();
    if let Some(n) = h.log_config.max_file {
        log = log.with("max-file", json!(n.to_string()));
    }
    if let Some(n) = h.log_config.max_size {
        log = log.with("max-size", json!(n.to_string()));
    }
    let paths = |p: &[&str]| Value::from(p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let o = obj()
        .with("Binds", binds(c))
        .with("ContainerIDFile", json!(""))
        .with(
            "LogConfig",
            obj().with("Type", json!("json-file")).with("Config", log),
        )
        .with("NetworkMode", json!(h.network_mode))
        .with("PortBindings", port_bindings(c))
        .with(
            "RestartPolicy",
            obj()
                .with("Name", json!("no"))
                .with("MaximumRetryCount", json!(0)),
        )
        .with("AutoRemove", json!(h.auto_remove))
        .with("CgroupnsMode", json!("private"))
        .with("Dns", json!(h.dns))
        .with("ExtraHosts", or_null(&h.extra_hosts))
        .with("IpcMode", json!("private"))
        .with("CapAdd", or_null(&h.security.cap_add))
        .with("CapDrop", or_null(&h.security.cap_drop))
        .with("Privileged", json!(h.security.privileged))
        .with("PublishAllPorts", json!(h.publish_all_ports))
        .with("ReadonlyRootfs", json!(h.readonly_rootfs))
        .with("SecurityOpt", or_null(&h.security.security_opt))
        .with("UsernsMode", json!(h.security.userns_mode));
    // Docker leaves out `Tmpfs` and `Mounts` when there are none.
    let o = if h.tmpfs.is_empty() {
        o
    } else {
        o.with("Tmpfs", json!(h.tmpfs))
    };
    let o = o
        .with("ShmSize", json!(64u64 << 20))
        .with("CpuShares", json!(h.cpu_shares))
        .with("Memory", json!(h.memory))
        .with("NanoCpus", json!(h.nano_cpus))
        .with("CpusetCpus", json!(h.cpuset_cpus))
        .with("Devices", json!(h.security.devices))
        .with("MemoryReservation", json!(h.memory_reservation))
        // Docker's default swap, shown as the daemon fills it in: twice
        // the memory.
        .with(
            "MemorySwap",
            json!(if h.memory > 0 && h.memory_swap == 0 {
                2 * h.memory
            } else {
                h.memory_swap
            }),
        )
        .with("PidsLimit", json!(h.pids_limit));
    let o = if h.mounts.is_empty() {
        o
    } else {
        o.with("Mounts", json!(h.mounts))
    };
    let o = o
        .with("MaskedPaths", paths(&crate::ns::walls::MASKED_PATHS))
        .with("ReadonlyPaths", paths(&crate::ns::walls::READONLY_PATHS));
    // Docker's `Init` is left out unless `--init` was given.
    match h.init {
        Some(init) => o.with("Init", json!(init)),
        None => o,
    }
}

fn config(c: &Container) -> Ordered {
    let k = &c.config;
    let mut o = obj()
        .with("Hostname", json!(k.hostname))
        .with("Domainname", json!(k.domainname))
        .with("User", json!(k.user))
        .with("AttachStdin", json!(k.attach_stdin))
        .with("AttachStdout", json!(k.attach_stdout))
        .with("AttachStderr", json!(k.attach_stderr));
    if !k.exposed_ports.is_empty() {
        o = o.with("ExposedPorts", json!(k.exposed_ports));
    }
    o = o
        .with("Tty", json!(k.tty))
        .with("OpenStdin", json!(k.open_stdin))
        .with("StdinOnce", json!(k.stdin_once))
        .with("Env", or_null(&k.env))
        .with("Cmd", or_null(&k.cmd))
        .with("Image", json!(k.image))
        .with(
            "Volumes",
            if k.volumes.is_empty() {
                Value::Null
            } else {
                json!(k.volumes)
            },
        )
        .with("WorkingDir", json!(k.working_dir))
        .with("Entrypoint", or_null(&k.entrypoint))
        .with("OnBuild", Value::Null)
        .with("Labels", json!(k.labels));
    if !k.stop_signal.is_empty() {
        o = o.with("StopSignal", json!(k.stop_signal));
    }
    o
}

fn endpoint(
    network_id: &str,
    aliases: Value,
    gateway: &str,
    ip: &str,
    prefix: u8,
    mac: &str,
    dns_names: Value,
) -> Ordered {
    obj()
        .with("IPAMConfig", Value::Null)
        .with("Links", Value::Null)
        .with("Aliases", aliases)
        .with("NetworkID", json!(network_id))
        .with("EndpointID", json!(""))
        .with("Gateway", json!(gateway))
        .with("IPAddress", json!(ip))
        .with("IPPrefixLen", json!(prefix))
        .with("IPv6Gateway", json!(""))
        .with("GlobalIPv6Address", json!(""))
        .with("GlobalIPv6PrefixLen", json!(0))
        .with("MacAddress", json!(mac))
        .with("DriverOpts", Value::Null)
        .with("DNSNames", dns_names)
}

fn network_settings(c: &Container, ctx: &Context) -> Ordered {
    // Network names are the user's, not `&'static str` keys: a sorted map
    // of their own (Go sorts a map's keys too).
    let mut by_name: BTreeMap<String, Ordered> = BTreeMap::new();
    for e in &c.endpoints {
        by_name.insert(
            e.network.clone(),
            endpoint(
                ctx.network_ids
                    .get(&e.network)
                    .map(String::as_str)
                    .unwrap_or(""),
                or_null(&e.aliases),
                &e.gateway,
                &e.ip_address,
                e.ip_prefix_len,
                &e.mac_address,
                json!(super::network::dns_names(c, e)),
            )
            .set(
                "IPAMConfig",
                if e.ipv4_address.is_empty() {
                    Value::Null
                } else {
                    json!({ "IPv4Address": e.ipv4_address })
                },
            ),
        );
    }
    // Docker lists `none` and `host` as networks too.
    let mode = c.host_config.network_mode.as_str();
    if c.endpoints.is_empty() && matches!(mode, "none" | "host") {
        by_name.insert(
            mode.to_string(),
            endpoint("", Value::Null, "", "", 0, "", Value::Null),
        );
    }
    let nets: serde_json::Map<String, Value> = by_name
        .into_iter()
        .map(|(k, v)| (k, v.to_value()))
        .collect();
    // Docker repeats the default bridge's address at the top level.
    let top = c.endpoints.iter().find(|e| e.network == "bridge");
    let sandbox = ctx
        .sandbox_key
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    obj()
        .with("Bridge", json!(""))
        .with("SandboxID", json!(""))
        .with("HairpinMode", json!(false))
        .with("Ports", ports(c))
        .with("SandboxKey", json!(sandbox))
        .with("EndpointID", json!(""))
        .with(
            "Gateway",
            json!(top.map(|e| e.gateway.clone()).unwrap_or_default()),
        )
        .with(
            "IPAddress",
            json!(top.map(|e| e.ip_address.clone()).unwrap_or_default()),
        )
        .with(
            "IPPrefixLen",
            json!(top.map(|e| e.ip_prefix_len).unwrap_or(0)),
        )
        .with(
            "MacAddress",
            json!(top.map(|e| e.mac_address.clone()).unwrap_or_default()),
        )
        .with("Networks", Value::Object(nets))
}

/// The `docker inspect` object of `c`.
pub fn inspect(c: &Container, ctx: &Context) -> Ordered {
    let lower = c
        .rootfs
        .lower
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mounts: Vec<Value> = super::mounts::points(c).iter().map(mount_point).collect();
    obj()
        .with("Id", json!(c.id))
        .with("Created", json!(go_time(&c.created)))
        .with("Path", json!(c.path))
        .with("Args", json!(c.args))
        .with("State", state(c))
        .with("Image", json!(c.image))
        .with("ResolvConfPath", json!(c.resolv_conf_path))
        .with("HostnamePath", json!(c.hostname_path))
        .with("HostsPath", json!(c.hosts_path))
        .with("LogPath", json!(c.log_path))
        .with("Name", json!(format!("/{}", c.name)))
        .with("RestartCount", json!(0))
        .with("Driver", json!("overlay2"))
        .with("Platform", json!("linux"))
        .with("MountLabel", json!(""))
        .with("ProcessLabel", json!(""))
        .with("AppArmorProfile", json!(""))
        .with("ExecIDs", Value::Null)
        .with("HostConfig", host_config(c))
        .with(
            "GraphDriver",
            obj()
                .with(
                    "Data",
                    obj()
                        .with("LowerDir", json!(lower))
                        .with("MergedDir", json!(c.rootfs.merged))
                        .with("UpperDir", json!(c.rootfs.upper))
                        .with("WorkDir", json!(c.rootfs.work)),
                )
                .with("Name", json!("overlay2")),
        )
        .with("Mounts", Value::Array(mounts))
        .with("Config", config(c))
        .with("NetworkSettings", network_settings(c, ctx))
}

/// The list `inspect` prints, as the Docker CLI prints it: indented by four
/// spaces, with Go's HTML escapes (`<`, `>` and `&` only ever appear
/// inside JSON strings, so replacing them in the text is exact).
pub fn to_text(items: &[Node]) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if items.serialize(&mut ser).is_err() {
        return "[]".into();
    }
    String::from_utf8_lossy(&buf)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::{Config, Endpoint, HostConfig, Rootfs, State};
    use std::path::PathBuf;

    fn sample() -> Container {
        Container {
            id: "ab".repeat(32),
            name: "web".into(),
            created: "2024-01-01T00:00:00.500000000Z".into(),
            path: "sleep".into(),
            args: vec!["100".into()],
            state: State {
                status: Status::Exited,
                exit_code: 137,
                oom_killed: true,
                ..State::default()
            },
            image: "sha256:1".into(),
            config: Config {
                image: "busybox".into(),
                ..Config::default()
            },
            host_config: HostConfig {
                memory: 209715200,
                memory_swap: 419430400,
                network_mode: "bridge".into(),
                ..HostConfig::default()
            },
            endpoints: vec![Endpoint {
                network: "bridge".into(),
                ip_address: "172.18.0.2".into(),
                ip_prefix_len: 16,
                gateway: "172.18.0.1".into(),
                mac_address: "02:42:ac:12:00:02".into(),
                aliases: vec![],
                ..Endpoint::default()
            }],
            rootfs: Rootfs {
                lower: vec!["/l1".into(), "/l2".into()],
                upper: "/u".into(),
                work: "/w".into(),
                merged: "/m".into(),
            },
            log_path: PathBuf::from("/x-json.log"),
            start_count: 1,
            ..Container::default()
        }
    }

    #[test]
    fn the_fields_docker_users_read_are_where_they_look() {
        let ctx = Context {
            network_ids: [("bridge".to_string(), "n1".to_string())].into(),
            sandbox_key: None,
        };
        let v = inspect(&sample(), &ctx).to_value();
        assert_eq!(v["Name"], "/web");
        assert_eq!(v["Created"], "2024-01-01T00:00:00.5Z");
        assert_eq!(v["State"]["OOMKilled"], true);
        assert_eq!(v["State"]["ExitCode"], 137);
        assert_eq!(v["State"]["Running"], false);
        assert_eq!(v["HostConfig"]["Memory"], 209715200);
        assert_eq!(v["NetworkSettings"]["IPAddress"], "172.18.0.2");
        assert_eq!(
            v["NetworkSettings"]["Networks"]["bridge"]["NetworkID"],
            "n1"
        );
        assert_eq!(v["GraphDriver"]["Data"]["LowerDir"], "/l1:/l2");
        assert_eq!(v["LogPath"], "/x-json.log");
    }

    #[test]
    fn printed_in_dockers_order_and_indentation() {
        let mut c = sample();
        c.config.env = vec!["A=<b>&".into()];
        let text = to_text(&[inspect(&c, &Context::default()).into()]);
        assert!(
            text.starts_with("[\n    {\n        \"Id\": \"abab"),
            "{text}"
        );
        let order: Vec<usize> = [
            "\"Id\"",
            "\"Created\"",
            "\"State\"",
            "\"HostConfig\"",
            "\"Config\"",
            "\"NetworkSettings\"",
        ]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"A=\\u003cb\\u003e\\u0026\""), "{text}");
        // Docker lists the none network of a --network none container.
        c.endpoints.clear();
        c.host_config.network_mode = "none".into();
        let v = inspect(&c, &Context::default()).to_value();
        assert_eq!(v["NetworkSettings"]["Networks"]["none"]["IPAddress"], "");
    }
}
