//! Volumes: directories glassbox keeps for containers' data, bind-mounted
//! into a container's mount namespace at start (`mount(2)` with
//! `MS_BIND`, as `-v /host:/ctr` is), so the data outlives the container
//! and the next one sees it. The layout is Docker's local driver's:
//! `<root>/volumes/<name>/_data` holds the data, and
//! `<root>/volumes/<name>/volume.json` the volume's `CreatedAt`, `Labels`,
//! `Options` and whether it is anonymous (made for one container: the
//! image's `VOLUME`, `-v /path`; `rm -v` and `run --rm` remove those,
//! never a named one). Volumes are made and removed under the lock the
//! containers' names are given out under, and a container's record names
//! its volumes before that lock is dropped, so `volume rm` never removes a
//! volume a container being made is about to use. A new volume is filled
//! from the image at its first start ([`copyup`]). Read `mount(2)`,
//! `mount_namespaces(7)`, `tmpfs(5)` (for `--tmpfs`).

pub mod copyup;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::container::mount_spec;
use crate::container::state::{self as cstate, MountType};
use crate::state::{Root, StateLock};
use crate::trace::{Action, Mechanism, Step};

/// The label Docker puts on a volume made without a name.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// One volume, as `volume ls` and `volume inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    /// The `_data` directory: what is mounted.
    pub mountpoint: PathBuf,
    /// RFC 3339 (Docker's `CreatedAt`).
    pub created: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
}

/// `volume.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    created_at: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    anonymous: bool,
}

/// `volumes/` under the data root.
pub fn dir(root: &Root) -> PathBuf {
    root.data.join("volumes")
}

/// The data of volume `name` (`volumes/<name>/_data`).
pub fn data_path(root: &Root, name: &str) -> PathBuf {
    dir(root).join(name).join("_data")
}

/// The lock volumes are made and removed under: the one container names
/// are given out under (a container's record is written while `create`
/// holds it). None under `--dry-run`, which changes nothing (not even a
/// lock file).
pub fn lock(root: &Root) -> Result<Option<StateLock>> {
    if crate::trace::dry_run() {
        return Ok(None);
    }
    cstate::names_lock(root).map(Some)
}

fn load(root: &Root, name: &str) -> Result<Option<Volume>> {
    let Some(r) = crate::state::read_json::<Record>(&dir(root).join(name).join("volume.json"))?
    else {
        return Ok(None);
    };
    Ok(Some(Volume {
        name: name.to_string(),
        mountpoint: data_path(root, name),
        created: r.created_at,
        labels: r.labels,
        options: r.options,
        anonymous: r.anonymous,
    }))
}

/// Volume `name`, or Docker's "no such volume".
pub fn get(root: &Root, name: &str) -> Result<Volume> {
    if !mount_spec::valid_volume_name(name) {
        bail!("get {name}: no such volume");
    }
    load(root, name)?.with_context(|| format!("get {name}: no such volume"))
}

/// Every volume, by name.
pub fn list(root: &Root) -> Result<Vec<Volume>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir(root)) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !mount_spec::valid_volume_name(&name) {
            continue;
        }
        if let Some(v) = load(root, &name)? {
            out.push(v);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The ids of the containers (running or not) whose record mounts
/// volume `name`.
pub fn users(root: &Root, name: &str) -> Result<Vec<String>> {
    Ok(cstate::all(root)?
        .into_iter()
        .filter(|c| {
            c.mounts
                .iter()
                .any(|m| m.kind == MountType::Volume && m.name == name)
        })
        .map(|c| c.id)
        .collect())
}

/// A new anonymous volume's name: 64 random hex digits, as Docker's.
pub fn random_name() -> Result<String> {
    crate::container::id::new_id()
}

/// Make volume `name` unless it exists (then it is returned as it is, as
/// Docker's `volume create` of an existing name does); the caller holds
/// [`lock`]. Nothing is left of a volume whose making failed.
pub fn ensure_locked(
    root: &Root,
    name: &str,
    labels: &BTreeMap<String, String>,
    anonymous: bool,
) -> Result<Volume> {
    if !mount_spec::valid_volume_name(name) {
        bail!("{}", mount_spec::invalid_name_message(name));
    }
    if let Some(v) = load(root, name)? {
        return Ok(v);
    }
    let top = dir(root).join(name);
    let data = top.join("_data");
    let mut labels = labels.clone();
    if anonymous {
        labels.insert(ANONYMOUS_LABEL.into(), String::new());
    }
    let rec = Record {
        created_at: crate::clock::rfc3339(now_secs()),
        labels: labels.clone(),
        options: BTreeMap::new(),
        anonymous,
    };
    let made = Step::new(
        Mechanism::Run,
        Action::Filesystem,
        format!("create volume {name}"),
    )
    .arg("path", data.display())
    .shell(format!("mkdir -p {}", data.display()))
    .why("A volume is a directory of the host's: its _data is what gets bind-mounted into containers, so what they write there outlives them.")
        .run(|| {
            std::fs::create_dir_all(&data).with_context(|| format!("mkdir {}", data.display()))
        })
        .and_then(|()| crate::state::write_json(&top.join("volume.json"), &rec));
    if let Err(e) = made {
        let _ = crate::host::remove_dir_all(
            Mechanism::Run,
            &top,
            "The volume could not be made: what was made of it goes.",
        );
        return Err(e);
    }
    Ok(Volume {
        name: name.to_string(),
        mountpoint: data,
        created: rec.created_at,
        labels,
        options: rec.options,
        anonymous,
    })
}

/// `volume create [NAME]`: made (under the lock) or found; no name makes
/// an anonymous one.
pub fn create(
    root: &Root,
    name: Option<&str>,
    labels: &BTreeMap<String, String>,
) -> Result<Volume> {
    root.ensure()?;
    if let Some(n) = name
        && !mount_spec::valid_volume_name(n)
    {
        bail!("{}", mount_spec::invalid_name_message(n));
    }
    let _lock = lock(root)?;
    match name {
        Some(n) => ensure_locked(root, n, labels, false),
        None => ensure_locked(root, &random_name()?, labels, true),
    }
}

/// Remove volume `name`, the caller holding [`lock`]: refused while a
/// container's record mounts it (Docker's message), even with `force`.
pub fn remove_locked(root: &Root, name: &str) -> Result<()> {
    get(root, name).map_err(|_| anyhow::anyhow!("get {name}: no such volume"))?;
    let used = users(root, name)?;
    if !used.is_empty() {
        bail!("remove {name}: volume is in use - [{}]", used.join(", "));
    }
    crate::host::remove_dir_all(
        Mechanism::Run,
        &dir(root).join(name),
        "A volume is removed with its data: nothing mounts it any more.",
    )
}

/// `volume rm [-f] NAME`: `force` makes a missing volume no error.
pub fn remove(root: &Root, name: &str, force: bool) -> Result<()> {
    let _lock = lock(root)?;
    if force && load(root, name).ok().flatten().is_none() {
        return Ok(());
    }
    remove_locked(root, name)
}

/// The anonymous volumes of a removed container (`rm -v`, `--rm`), each
/// removed unless another container uses it too; named ones stay.
pub fn remove_anonymous(root: &Root, mounts: &[cstate::MountPoint]) -> Result<()> {
    let _lock = lock(root)?;
    for m in mounts
        .iter()
        .filter(|m| m.kind == MountType::Volume && m.anonymous)
    {
        if load(root, &m.name)?.is_some() && users(root, &m.name)?.is_empty() {
            remove_locked(root, &m.name)?;
        }
    }
    Ok(())
}

/// What `volume prune` removed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub removed: Vec<String>,
    pub reclaimed: u64,
}

/// `volume prune`: the volumes no container uses; only the anonymous
/// ones unless `all` (Docker 23 and later).
pub fn prune(root: &Root, all: bool) -> Result<Pruned> {
    let _lock = lock(root)?;
    let mut out = Pruned::default();
    for v in list(root)? {
        if (all || v.anonymous) && users(root, &v.name)?.is_empty() {
            let size = crate::container::size::dir_size(&v.mountpoint);
            remove_locked(root, &v.name)?;
            out.removed.push(v.name);
            out.reclaimed += size;
        }
    }
    Ok(out)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `volume inspect`'s object (Docker's fields, in its order).
pub fn inspect_value(v: &Volume) -> serde_json::Value {
    serde_json::json!({
        "CreatedAt": v.created,
        "Driver": "local",
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": "local",
    })
}
