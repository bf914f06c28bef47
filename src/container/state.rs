//! The container record: everything glassbox knows about one container,
//! in `containers/<id>/config.json`, written atomically (temp file, fsync,
//! rename) under the container's lock. It holds what `inspect` shows (the
//! config the user asked for, the host config, the state) and what
//! teardown needs from another process (the init's pid with its start
//! time and the boot id, as runc keeps them; the overlay, the cgroup, the
//! network endpoints, the log path). Its `Image` field is the image id, so
//! `image rm` and `image prune` see the image is in use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::state::{Root, StateLock, read_json, write_json};

/// Docker's container states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
}

/// What the container is doing, as `inspect` shows it (`State`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: Status,
    /// The init's pid on the host (0 when not running).
    pub pid: u32,
    /// The init's start time in clock ticks since boot (`/proc/PID/stat`
    /// field 22): with the boot id it tells the init from a later process
    /// that got the same pid.
    #[serde(default)]
    pub pid_start: u64,
    /// `/proc/sys/kernel/random/boot_id` when the init started.
    #[serde(default)]
    pub boot_id: String,
    /// The shim's pid (its lock, not this pid, says whether it lives).
    #[serde(default)]
    pub shim_pid: u32,
    pub exit_code: i32,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Why the last start failed, as Docker's `State.Error`.
    #[serde(default)]
    pub error: String,
    /// RFC 3339 with nanoseconds; Docker's zero time when never.
    pub started_at: String,
    pub finished_at: String,
    /// Marked for removal when it exits (`--rm`), or being removed: a
    /// crash half way through is finished by the next command.
    #[serde(default)]
    pub remove_on_exit: bool,
}

/// Docker's zero time, for `StartedAt`/`FinishedAt` never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// What the user asked to run (`inspect`'s `Config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub hostname: String,
    #[serde(default)]
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(default)]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// The image reference as the user gave it (`busybox`).
    pub image: String,
    #[serde(default)]
    pub volumes: BTreeMap<String, serde_json::Value>,
    pub working_dir: String,
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub stop_signal: String,
}

/// One published port: `-p [IP:]HOSTPORT:PORT[/PROTO]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// One `-v HOST:CTR[:ro]` bind mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bind {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

/// What kind of mount a [`MountPoint`] is (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    /// A host path (`-v /host:/ctr`, `--mount type=bind`).
    #[default]
    Bind,
    /// A volume's `_data` directory (`-v NAME:/ctr`, the image's `VOLUME`).
    Volume,
    /// A fresh tmpfs (`--tmpfs`, `--mount type=tmpfs`).
    Tmpfs,
}

impl MountType {
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
        }
    }
}

/// One mount of the container (Docker's `Mounts` entry), for every `-v`,
/// `--mount`, `--tmpfs` and anonymous volume; what start mounts, in this
/// order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: MountType,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// The host path: a bind's source, a volume's `_data`; empty for tmpfs.
    #[serde(default)]
    pub source: PathBuf,
    pub destination: String,
    /// `local` for volumes.
    #[serde(default)]
    pub driver: String,
    /// The mode as given (`ro`, `z`, `nocopy`, ...).
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    /// `rprivate` for binds; empty otherwise (as Docker shows them).
    #[serde(default)]
    pub propagation: String,
    /// Fill an empty volume from the image's content at the destination
    /// (Docker's copy-up; off with `nocopy`).
    #[serde(default)]
    pub copy_data: bool,
    /// A volume made for this container alone (64 hex digits): `rm -v`
    /// and `--rm` remove it.
    #[serde(default)]
    pub anonymous: bool,
    /// A tmpfs's mount options (`size=65536k,mode=1777`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tmpfs_options: String,
    /// `-v`'s host directory is made when missing; `--mount type=bind`'s
    /// must exist.
    #[serde(default)]
    pub create_source: bool,
}

/// Log options (`--log-opt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(default)]
    pub max_size: Option<u64>,
    #[serde(default)]
    pub max_file: Option<u32>,
}

/// How the host runs it (`inspect`'s `HostConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// Bytes; 0: no limit.
    pub memory: i64,
    /// Bytes of memory plus swap; 0: Docker's default (twice memory); -1:
    /// unlimited.
    pub memory_swap: i64,
    pub cpu_shares: i64,
    pub nano_cpus: i64,
    #[serde(default)]
    pub cpuset_cpus: String,
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// Bytes of `--memory-reservation` (a soft limit); 0: none.
    #[serde(default)]
    pub memory_reservation: i64,
    /// `bridge`, `host`, `none`, `container:ID`, or a network's name.
    pub network_mode: String,
    /// `80/tcp` -> bindings.
    #[serde(default)]
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    /// `-P`: each exposed port without a binding published to a free host
    /// port at start.
    #[serde(default)]
    pub publish_all_ports: bool,
    #[serde(default)]
    pub binds: Vec<Bind>,
    /// `--mount` specs as Docker keeps them (`HostConfig.Mounts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<serde_json::Value>,
    /// `--tmpfs PATH[:OPTIONS]`, by path (`HostConfig.Tmpfs`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    pub auto_remove: bool,
    pub readonly_rootfs: bool,
    #[serde(default)]
    pub dns: Vec<String>,
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    #[serde(default)]
    pub log_config: LogConfig,
    /// `--init`: `Some(true)`; Docker's `null` when not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// The container's walls, as asked (`--cap-add`, `--privileged`, ...).
    #[serde(default)]
    pub security: Security,
}

/// What `run` was asked about the container's walls, stored as Docker
/// shows it in `HostConfig` (`CapAdd`, `CapDrop`, `Privileged`,
/// `SecurityOpt`, `Devices`, `UsernsMode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Security {
    /// `--cap-add`, each `CAP_`-prefixed and upper case, or `ALL`.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop`, as `cap_add`.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--privileged`: every wall lifted.
    #[serde(default)]
    pub privileged: bool,
    /// `--security-opt` entries (`no-new-privileges`, `seccomp=unconfined`,
    /// `seccomp=` and the profile's JSON, as Docker keeps a file's).
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// `--device` mappings.
    #[serde(default)]
    pub devices: Vec<DeviceMapping>,
    /// `--userns`: `""` (the host's) or `remap`.
    #[serde(default)]
    pub userns_mode: String,
}

/// One `--device HOST[:CONTAINER[:PERMISSIONS]]` (Docker's
/// `HostConfig.Devices` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    /// `rwm` or a part of it.
    pub cgroup_permissions: String,
}

/// The container's place on one network (Docker's
/// `NetworkSettings.Networks`): the network and the aliases stay while it
/// is stopped; the address, gateway, MAC and host ports are set only while
/// it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    pub network: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    pub ip_prefix_len: u8,
    pub gateway: String,
    pub mac_address: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The address asked for (`--ip`, `network connect --ip`), kept while
    /// it is stopped (Docker's `IPAMConfig.IPv4Address`).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        rename = "IPv4Address"
    )]
    pub ipv4_address: String,
    /// The host ports published to this address, by container port
    /// (`80/tcp`), the ones chosen for `-p 80` included
    /// (`NetworkSettings.Ports`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, Vec<PortBinding>>,
}

/// The container's filesystem: its writable layer on the image's layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Rootfs {
    /// Image layers, top first.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
}

/// One container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    /// 64 hex digits.
    pub id: String,
    /// Without Docker's leading `/`.
    pub name: String,
    pub created: String,
    /// The program and its arguments (entrypoint + cmd).
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    /// The image id (`sha256:...`): what `image rm` checks.
    pub image: String,
    pub config: Config,
    pub host_config: HostConfig,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    pub rootfs: Rootfs,
    /// Every mount of the container, in the order start makes them
    /// (Docker's `MountPoints`); empty in records older than volumes,
    /// whose `-v` binds are in `HostConfig.Binds`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountPoint>,
    /// The cgroup's name under this root's parent.
    pub cgroup: String,
    pub log_path: PathBuf,
    pub hostname_path: PathBuf,
    pub hosts_path: PathBuf,
    pub resolv_conf_path: PathBuf,
    /// How many times it was started (Docker's `RestartCount` is for
    /// restarts by policy; glassbox counts `start`s for `inspect`).
    #[serde(default)]
    pub start_count: u32,
}

/// `containers/` under the data root.
pub fn dir(root: &Root) -> PathBuf {
    root.data.join("containers")
}

/// `containers/<id>/`.
pub fn container_dir(root: &Root, id: &str) -> PathBuf {
    dir(root).join(id)
}

/// The record of container `id`.
pub fn record_path(root: &Root, id: &str) -> PathBuf {
    container_dir(root, id).join("config.json")
}

/// The per-container runtime directory (the shim's socket and lock).
pub fn run_dir(root: &Root, id: &str) -> PathBuf {
    root.run.join("containers").join(id)
}

/// The lock of one container (`containers/<id>/lock`): held to change its
/// record, and through the whole of its creation, its settling and its
/// removal. It lives in the container's directory and never makes it: a
/// container removed meanwhile is "No such container".
pub fn lock(root: &Root, id: &str) -> Result<StateLock> {
    lock_if_exists(root, id)?.ok_or_else(|| anyhow::anyhow!("No such container: {id}"))
}

/// [`lock`], or `None` when the container's directory is gone.
pub fn lock_if_exists(root: &Root, id: &str) -> Result<Option<StateLock>> {
    StateLock::exclusive_in_existing_dir(&container_dir(root, id).join("lock"))
}

/// [`lock`] if nobody holds it (`None`: a command is at work on the
/// container, or it is gone).
pub fn try_lock(root: &Root, id: &str) -> Result<Option<StateLock>> {
    StateLock::try_exclusive_in_existing_dir(&container_dir(root, id).join("lock"))
}

/// The lock taken to give out names (so one of ten racing `--name same`
/// wins) and to list containers consistently.
pub fn names_lock(root: &Root) -> Result<StateLock> {
    StateLock::exclusive(&dir(root).join(".names.lock"))
}

pub fn load(root: &Root, id: &str) -> Result<Option<Container>> {
    read_json(&record_path(root, id))
}

/// Write the record (atomically; the caller holds its lock).
pub fn save(root: &Root, c: &Container) -> Result<()> {
    write_json(&record_path(root, &c.id), c)
}

/// Every container, oldest first (as `ps` sorts them newest first, the
/// caller reverses). A directory without a record (a create cut short) is
/// not a container.
pub fn all(root: &Root) -> Result<Vec<Container>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !e.path().is_dir() {
            continue;
        }
        if let Some(c) = load(root, &name)? {
            out.push(c);
        }
    }
    out.sort_by(|a, b| a.created.cmp(&b.created));
    Ok(out)
}

/// Find a container by name, id or unique id prefix (Docker's message when
/// there is none).
pub fn find(root: &Root, key: &str) -> Result<Container> {
    let all = all(root)?;
    let known: Vec<(String, String)> = all.iter().map(|c| (c.id.clone(), c.name.clone())).collect();
    let (id, _) = super::id::resolve(key, &known)?;
    all.into_iter()
        .find(|c| &c.id == id)
        .with_context(|| format!("No such container: {key}"))
}

/// Refuse a name another container has (Docker's message).
pub fn check_name_free(root: &Root, name: &str) -> Result<()> {
    if let Some(c) = all(root)?.iter().find(|c| c.name == name) {
        bail!(
            "Conflict. The container name \"/{name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
            c.id
        );
    }
    Ok(())
}

/// `/proc/PID/stat` field 22: the process's start time in clock ticks
/// after boot. The command name (field 2) may hold spaces and `)`, so the
/// fields are counted after its last `)`.
pub fn pid_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // Field 3 is the first after the name; field 22 is the 20th from there.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// Read the start time of `pid` from `/proc`.
pub fn read_pid_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    pid_start_time(&stat)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Is the recorded init still that process: same pid, same start time,
/// same boot?
pub fn init_alive(s: &State) -> bool {
    s.pid != 0 && s.boot_id == boot_id() && read_pid_start(s.pid) == Some(s.pid_start)
}

/// The record's path, for messages.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_odd_command_names() {
        let stat = "4242 (we ird) name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50";
        assert_eq!(pid_start_time(stat), Some(987654));
        let me = read_pid_start(std::process::id()).unwrap();
        assert!(me > 0);
        assert_eq!(pid_start_time("1 (x"), None);
    }

    #[test]
    fn the_running_test_is_alive_and_a_reused_pid_is_not() {
        let mut s = State {
            pid: std::process::id(),
            pid_start: read_pid_start(std::process::id()).unwrap(),
            boot_id: boot_id(),
            ..State::default()
        };
        assert!(init_alive(&s));
        s.pid_start += 1;
        assert!(!init_alive(&s));
        s.pid_start -= 1;
        s.boot_id = "another-boot".into();
        assert!(!init_alive(&s));
    }

    #[test]
    fn the_record_has_the_image_id_where_image_rm_looks() {
        let c = Container {
            id: "a".repeat(64),
            name: "web".into(),
            path: "sh".into(),
            image: "sha256:abc".into(),
            ..Container::default()
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["Image"], "sha256:abc");
        assert_eq!(v["State"]["Status"], "created");
        assert_eq!(v["State"]["OOMKilled"], false);
        let back: Container = serde_json::from_value(v).unwrap();
        assert_eq!(back, c);
    }
}
