//! `inspect` of a container: Docker's JSON, field for field where glassbox
//! has the field (`Id`, `State`, `Config`, `HostConfig`,
//! `NetworkSettings`, `GraphDriver` with the overlay's directories, ...),
//! built from the record alone. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::state::{Container, Status};

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

/// The `docker inspect` object of `c`. `network_ids` maps the network
/// names it is on to their ids; `running` is whether its init lives.
pub fn inspect(c: &Container, network_ids: &BTreeMap<String, String>) -> Value {
    let s = &c.state;
    let running = matches!(s.status, Status::Running | Status::Paused);
    let lower = c
        .rootfs
        .lower
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mut networks = serde_json::Map::new();
    for e in &c.endpoints {
        networks.insert(
            e.network.clone(),
            json!({
                "IPAMConfig": null,
                "Links": null,
                "Aliases": or_null(&e.aliases),
                "MacAddress": e.mac_address,
                "NetworkID": network_ids.get(&e.network).cloned().unwrap_or_default(),
                "EndpointID": "",
                "Gateway": e.gateway,
                "IPAddress": e.ip_address,
                "IPPrefixLen": e.ip_prefix_len,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DriverOpts": null,
                "DNSNames": super::network::dns_names(c, e),
            }),
        );
    }
    // Docker repeats the default bridge's address at the top level.
    let top = c.endpoints.iter().find(|e| e.network == "bridge");
    let log_config: BTreeMap<&str, String> = [
        c.host_config
            .log_config
            .max_size
            .map(|n| ("max-size", n.to_string())),
        c.host_config
            .log_config
            .max_file
            .map(|n| ("max-file", n.to_string())),
    ]
    .into_iter()
    .flatten()
    .collect();
    let host_config = json!({
        "Binds": binds(c),
        "LogConfig": {"Type": "json-file", "Config": log_config},
        "NetworkMode": c.host_config.network_mode,
        "PortBindings": port_bindings(c),
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": c.host_config.auto_remove,
        "Dns": c.host_config.dns,
        "ExtraHosts": or_null(&c.host_config.extra_hosts),
        "ReadonlyRootfs": c.host_config.readonly_rootfs,
        "CpuShares": c.host_config.cpu_shares,
        "Memory": c.host_config.memory,
        "NanoCpus": c.host_config.nano_cpus,
        "CpusetCpus": c.host_config.cpuset_cpus,
        "MemorySwap": c.host_config.memory_swap,
        "PidsLimit": c.host_config.pids_limit,
        "Privileged": false,
    });
    let config = json!({
        "Hostname": c.config.hostname,
        "Domainname": c.config.domainname,
        "User": c.config.user,
        "AttachStdin": c.config.attach_stdin,
        "AttachStdout": c.config.attach_stdout,
        "AttachStderr": c.config.attach_stderr,
        "ExposedPorts": if c.config.exposed_ports.is_empty() { Value::Null } else { json!(c.config.exposed_ports) },
        "Tty": c.config.tty,
        "OpenStdin": c.config.open_stdin,
        "StdinOnce": c.config.stdin_once,
        "Env": c.config.env,
        "Cmd": or_null(&c.config.cmd),
        "Image": c.config.image,
        "Volumes": if c.config.volumes.is_empty() { Value::Null } else { json!(c.config.volumes) },
        "WorkingDir": c.config.working_dir,
        "Entrypoint": or_null(&c.config.entrypoint),
        "OnBuild": null,
        "Labels": c.config.labels,
        "StopSignal": if c.config.stop_signal.is_empty() { Value::Null } else { json!(c.config.stop_signal) },
    });
    let network_settings = json!({
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": "",
        "Ports": ports(c),
        "Gateway": top.map(|e| e.gateway.clone()).unwrap_or_default(),
        "IPAddress": top.map(|e| e.ip_address.clone()).unwrap_or_default(),
        "IPPrefixLen": top.map(|e| e.ip_prefix_len).unwrap_or(0),
        "MacAddress": top.map(|e| e.mac_address.clone()).unwrap_or_default(),
        "Networks": networks,
    });
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": s.status.as_str(),
            "Running": running,
            "Paused": s.status == Status::Paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": if running { s.pid } else { 0 },
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at,
            "FinishedAt": s.finished_at,
        },
        "Image": c.image,
        "ResolvConfPath": c.resolv_conf_path,
        "HostnamePath": c.hostname_path,
        "HostsPath": c.hosts_path,
        "LogPath": c.log_path,
        "Name": format!("/{}", c.name),
        "RestartCount": 0,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": host_config,
        "GraphDriver": {
            "Data": {
                "LowerDir": lower,
                "MergedDir": c.rootfs.merged,
                "UpperDir": c.rootfs.upper,
                "WorkDir": c.rootfs.work,
            },
            "Name": "overlay2",
        },
        "Mounts": c.host_config.binds.iter().map(|b| json!({
            "Type": "bind",
            "Source": b.source,
            "Destination": b.destination,
            "Mode": if b.read_only { "ro" } else { "" },
            "RW": !b.read_only,
            "Propagation": "rprivate",
        })).collect::<Vec<_>>(),
        "Config": config,
        "NetworkSettings": network_settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::{Config, Endpoint, HostConfig, Rootfs, State};
    use std::path::PathBuf;

    #[test]
    fn the_fields_docker_users_read_are_where_they_look() {
        let c = Container {
            id: "ab".repeat(32),
            name: "web".into(),
            created: "2024-01-01T00:00:00.5Z".into(),
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
                ports: Default::default(),
            }],
            rootfs: Rootfs {
                lower: vec!["/l1".into(), "/l2".into()],
                upper: "/u".into(),
                work: "/w".into(),
                merged: "/m".into(),
            },
            cgroup: String::new(),
            log_path: PathBuf::from("/x-json.log"),
            hostname_path: PathBuf::new(),
            hosts_path: PathBuf::new(),
            resolv_conf_path: PathBuf::new(),
            start_count: 1,
        };
        let ids = [("bridge".to_string(), "n1".to_string())].into();
        let v = inspect(&c, &ids);
        assert_eq!(v["Name"], "/web");
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
}
