//! What the user asked to mount, in Docker's three syntaxes, checked as
//! Docker checks them and turned into the container's [`MountPoint`]s:
//! `-v SRC:DST[:MODE]` (an absolute SRC is a bind made when missing, a
//! name is a volume, `-v /DST` alone an anonymous volume), `--mount
//! type=bind|volume|tmpfs,...` (a bind's source must exist), and `--tmpfs
//! DST[:OPTIONS]` (Docker's defaults `rw,noexec,nosuid,nodev`). Read
//! `mount(2)`, `tmpfs(5)`. Pure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};

use super::state::{Bind, MountPoint, MountType};
use super::tmpfs_spec::tmpfs_point;
pub use super::tmpfs_spec::{TmpfsOptions, parse_tmpfs_flag, size_text, tmpfs_options};

/// One mount asked for, with where it came from (for `HostConfig`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MountRequest {
    pub point: MountPoint,
    /// `volume-label=K=V` of `--mount type=volume`: the labels a volume it
    /// makes gets.
    pub labels: BTreeMap<String, String>,
    pub origin: Origin,
}

/// The flag a mount came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Origin {
    /// `-v`: Docker's `HostConfig.Binds` entry.
    #[default]
    Volume,
    /// `--mount`: Docker's `HostConfig.Mounts` entry.
    Mount(serde_json::Value),
    /// `--tmpfs PATH[:OPTS]`: Docker's `HostConfig.Tmpfs` entry.
    Tmpfs(String),
}

fn invalid_spec(spec: &str) -> String {
    format!("invalid volume specification: '{spec}'")
}

/// A destination: absolute, not `/` (Docker's checks).
pub(super) fn check_target(spec: &str, target: &str) -> Result<String> {
    if target.is_empty() {
        bail!("{spec}: field Target must not be empty");
    }
    if !target.starts_with('/') {
        bail!("invalid mount path: '{target}' mount path must be absolute");
    }
    let clean = clean_path(target);
    if clean == "/" {
        bail!("invalid specification: destination can't be '/'");
    }
    Ok(clean)
}

/// `path.Clean` of an absolute path: no `//`, `.`, trailing `/`; `..`
/// stays inside `/`.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Docker's rule for a local volume's name.
pub fn valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    first_ok
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Docker's message for a volume name it refuses.
pub fn invalid_name_message(name: &str) -> String {
    format!(
        "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
    )
}

fn volume_point(name: &str, target: String, rw: bool, copy: bool, mode: &str) -> MountPoint {
    MountPoint {
        kind: MountType::Volume,
        name: name.to_string(),
        destination: target,
        driver: "local".into(),
        mode: mode.to_string(),
        rw,
        copy_data: copy,
        anonymous: name.is_empty(),
        ..MountPoint::default()
    }
}

/// `-v SRC:DST[:MODE]` or `-v DST`: a bind (SRC absolute, made when
/// missing) or a volume (SRC a name; none: anonymous).
pub fn parse_volume_flag(spec: &str) -> Result<MountRequest> {
    let parts: Vec<&str> = spec.splitn(4, ':').collect();
    let bad = || anyhow::anyhow!("{}", invalid_spec(spec));
    let (src, dst, mode) = match parts.as_slice() {
        [""] | [] => return Err(bad()),
        [d] => ("", *d, ""),
        [s, d] if !s.is_empty() => (*s, *d, ""),
        [s, d, m] if !s.is_empty() => (*s, *d, *m),
        _ => return Err(bad()),
    };
    let mut read_only = false;
    let mut nocopy = false;
    for o in mode.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "nocopy" => nocopy = true,
            "copy" => nocopy = false,
            "z" | "Z" | "rprivate" | "private" => {}
            "shared" | "rshared" | "slave" | "rslave" => bail!(
                "{}: propagation {o} is not supported: glassbox makes every mount rprivate (leave the mode out)",
                invalid_spec(spec)
            ),
            _ => bail!("invalid mode: {mode}"),
        }
    }
    let target =
        check_target(spec, dst).map_err(|e| anyhow::anyhow!("{}: {e}", invalid_spec(spec)))?;
    let point = if src.starts_with('/') {
        if nocopy {
            bail!(
                "{}: invalid mount config for type \"bind\": field VolumeOptions must not be specified (nocopy is for volumes)",
                invalid_spec(spec)
            );
        }
        MountPoint {
            kind: MountType::Bind,
            source: PathBuf::from(clean_path(src)),
            destination: target,
            mode: mode.to_string(),
            rw: !read_only,
            propagation: "rprivate".into(),
            create_source: true,
            ..MountPoint::default()
        }
    } else {
        if !src.is_empty() && !valid_volume_name(src) {
            bail!("{}", invalid_name_message(src));
        }
        if src.is_empty() && read_only {
            bail!(
                "{}: must not set ReadOnly mode when using anonymous volumes",
                invalid_spec(spec)
            );
        }
        let shown = if src.is_empty() || !mode.is_empty() {
            mode
        } else {
            "z"
        };
        volume_point(src, target, !read_only, !nocopy, shown)
    };
    Ok(MountRequest {
        point,
        labels: BTreeMap::new(),
        origin: Origin::Volume,
    })
}

fn parse_bool(key: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Ok(true),
        "0" | "f" | "false" => Ok(false),
        _ => bail!("invalid value for {key}: {v}"),
    }
}

/// `--mount type=bind|volume|tmpfs,source=...,target=...,...` as the
/// Docker CLI reads it (then as its daemon checks it).
pub fn parse_mount_flag(spec: &str) -> Result<MountRequest> {
    let flag = |e: String| anyhow::anyhow!("invalid argument \"{spec}\" for \"--mount\" flag: {e}");
    let mut kind = "volume".to_string();
    let (mut source, mut target) = (String::new(), String::new());
    let (mut read_only, mut nocopy) = (false, false);
    let (mut size, mut mode): (Option<u64>, Option<u32>) = (None, None);
    let mut labels = BTreeMap::new();
    let (mut vol_opt, mut bind_opt, mut tmpfs_opt) = (false, false, false);
    for field in spec.split(',') {
        let Some((key, val)) = field.split_once('=') else {
            match field {
                "readonly" | "ro" => read_only = true,
                "volume-nocopy" => (nocopy, vol_opt) = (true, true),
                _ => {
                    return Err(flag(format!(
                        "invalid field '{field}' must be a key=value pair"
                    )));
                }
            }
            continue;
        };
        match key {
            "type" => kind = val.to_ascii_lowercase(),
            "source" | "src" => source = val.to_string(),
            "target" | "dst" | "destination" => target = val.to_string(),
            "readonly" | "ro" => {
                read_only = parse_bool(key, val).map_err(|e| flag(e.to_string()))?
            }
            "volume-nocopy" => {
                nocopy = parse_bool(key, val).map_err(|e| flag(e.to_string()))?;
                vol_opt = true;
            }
            "volume-label" => {
                let (k, v) = val.split_once('=').unwrap_or((val, ""));
                labels.insert(k.to_string(), v.to_string());
                vol_opt = true;
            }
            "bind-propagation" => {
                bind_opt = true;
                if val != "rprivate" {
                    return Err(flag(format!(
                        "bind-propagation={val} is not supported: glassbox makes every mount rprivate (leave the option out)"
                    )));
                }
            }
            "tmpfs-size" => {
                size = Some(
                    crate::cgroup::spec::parse_size(val)
                        .map_err(|_| flag(format!("invalid value for {key}: {val}")))?,
                );
                tmpfs_opt = true;
            }
            "tmpfs-mode" => {
                mode = Some(
                    u32::from_str_radix(val, 8)
                        .map_err(|_| flag(format!("invalid value for {key}: {val}")))?,
                );
                tmpfs_opt = true;
            }
            "consistency" => {}
            "volume-driver" | "volume-opt" | "volume-subpath" | "bind-nonrecursive"
            | "bind-recursive" => {
                return Err(flag(format!(
                    "{key} is not supported: glassbox has the local volume driver and recursive binds only"
                )));
            }
            _ => return Err(flag(format!("unexpected key '{key}' in '{field}'"))),
        }
    }
    let mixed = |what: &str| {
        flag(format!(
            "cannot mix '{what}-*' options with mount type '{kind}'"
        ))
    };
    if vol_opt && kind != "volume" {
        return Err(mixed("volume"));
    }
    if bind_opt && kind != "bind" {
        return Err(mixed("bind"));
    }
    if tmpfs_opt && kind != "tmpfs" {
        return Err(mixed("tmpfs"));
    }
    if target.is_empty() {
        return Err(flag("target is required".into()));
    }
    let config = |e: String| anyhow::anyhow!("invalid mount config for type \"{kind}\": {e}");
    let dest = check_target(spec, &target).map_err(|e| config(e.to_string()))?;
    let mut api = serde_json::json!({"Type": kind, "Target": target});
    if !source.is_empty() {
        api["Source"] = source.clone().into();
    }
    if read_only {
        api["ReadOnly"] = true.into();
    }
    let point = match kind.as_str() {
        "bind" => {
            if source.is_empty() {
                return Err(config("field Source must not be empty".into()));
            }
            if !source.starts_with('/') {
                return Err(config(format!(
                    "invalid mount path: '{source}' mount path must be absolute"
                )));
            }
            MountPoint {
                kind: MountType::Bind,
                source: PathBuf::from(clean_path(&source)),
                destination: dest,
                rw: !read_only,
                propagation: "rprivate".into(),
                ..MountPoint::default()
            }
        }
        "volume" => {
            if !source.is_empty() && !valid_volume_name(&source) {
                bail!("{}", invalid_name_message(&source));
            }
            if source.is_empty() && read_only {
                return Err(config(
                    "must not set ReadOnly mode when using anonymous volumes".into(),
                ));
            }
            if nocopy {
                api["VolumeOptions"] = serde_json::json!({"NoCopy": true});
            }
            if !labels.is_empty() {
                api["VolumeOptions"]["Labels"] = serde_json::json!(labels);
            }
            volume_point(&source, dest, !read_only, !nocopy, "")
        }
        "tmpfs" => {
            if !source.is_empty() {
                return Err(config("field Source must not be specified".into()));
            }
            let mut opts = Vec::new();
            if let Some(m) = mode {
                opts.push(format!("mode={m:o}"));
                api["TmpfsOptions"]["Mode"] = m.into();
            }
            if let Some(s) = size {
                opts.push(format!("size={}", size_text(s)));
                api["TmpfsOptions"]["SizeBytes"] = s.into();
            }
            let data = if read_only {
                std::iter::once("ro".to_string())
                    .chain(opts)
                    .collect::<Vec<_>>()
            } else {
                opts
            };
            tmpfs_point(&dest, &data.join(","))?
        }
        other => {
            return Err(config(format!(
                "mount type unknown: {other} (give bind, volume or tmpfs)"
            )));
        }
    };
    Ok(MountRequest {
        point,
        labels,
        origin: Origin::Mount(api),
    })
}

/// Two mounts on one destination: Docker's refusal.
pub fn check_duplicates(reqs: &[MountRequest]) -> Result<()> {
    for (i, r) in reqs.iter().enumerate() {
        if reqs[..i]
            .iter()
            .any(|o| o.point.destination == r.point.destination)
        {
            bail!("Duplicate mount point: {}", r.point.destination);
        }
    }
    Ok(())
}

/// The `-v` bind of an old-style record (`HostConfig.Binds`) as a mount
/// point.
pub fn from_bind(b: &Bind) -> MountPoint {
    MountPoint {
        kind: MountType::Bind,
        source: b.source.clone(),
        destination: b.destination.clone(),
        mode: if b.read_only {
            "ro".into()
        } else {
            String::new()
        },
        rw: !b.read_only,
        propagation: "rprivate".into(),
        create_source: true,
        ..MountPoint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v_flag_forms_are_read_as_dockers() {
        let b = parse_volume_flag("/srv/data/:/data:ro").unwrap().point;
        assert_eq!(b.kind, MountType::Bind);
        assert_eq!(b.source, PathBuf::from("/srv/data"));
        assert!(!b.rw && b.create_source && b.propagation == "rprivate");
        let v = parse_volume_flag("data:/var/lib/x").unwrap().point;
        assert_eq!(
            (v.kind, v.name.as_str(), v.mode.as_str()),
            (MountType::Volume, "data", "z")
        );
        assert!(v.copy_data && !v.anonymous && v.rw);
        let n = parse_volume_flag("data:/x:nocopy").unwrap().point;
        assert!(!n.copy_data);
        let a = parse_volume_flag("/cache").unwrap().point;
        assert!(a.anonymous && a.name.is_empty() && a.destination == "/cache");
        let e = parse_volume_flag("bad/name:/x").unwrap_err().to_string();
        assert_eq!(e, invalid_name_message("bad/name"));
        assert!(e.contains("only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed"));
        assert_eq!(
            parse_volume_flag("/a:/").unwrap_err().to_string(),
            "invalid volume specification: '/a:/': invalid specification: destination can't be '/'"
        );
        assert!(
            parse_volume_flag("/a:rel")
                .unwrap_err()
                .to_string()
                .contains("must be absolute")
        );
        assert_eq!(
            parse_volume_flag("/a:/b:xx").unwrap_err().to_string(),
            "invalid mode: xx"
        );
        assert!(parse_volume_flag("/a:/b:c:d").is_err());
        assert!(parse_volume_flag(":/b").is_err());
        assert!(
            parse_volume_flag("/x:ro").is_err(),
            "a destination is needed"
        );
        assert!(
            parse_volume_flag("/a:/b:shared")
                .unwrap_err()
                .to_string()
                .contains("rprivate")
        );
        assert!(
            parse_volume_flag("/x:/y:nocopy")
                .unwrap_err()
                .to_string()
                .starts_with("invalid volume specification: '/x:/y:nocopy': invalid mount config for type \"bind\": field VolumeOptions must not be specified")
        );
        assert!(valid_volume_name("ab") && valid_volume_name("a.b-c_d"));
        assert!(!valid_volume_name("a") && !valid_volume_name("_ab") && !valid_volume_name("a b"));
    }

    #[test]
    fn mount_flag_is_read_as_docker_cli_and_daemon_check_it() {
        let m = parse_mount_flag("type=bind,source=/srv,target=/data,readonly").unwrap();
        assert_eq!(m.point.kind, MountType::Bind);
        assert!(!m.point.rw && !m.point.create_source);
        assert_eq!(
            m.origin,
            Origin::Mount(
                serde_json::json!({"Type":"bind","Source":"/srv","Target":"/data","ReadOnly":true})
            )
        );
        let v = parse_mount_flag("src=data,dst=/d,volume-nocopy,volume-label=team=db").unwrap();
        assert_eq!(v.point.kind, MountType::Volume);
        assert!(!v.point.copy_data && v.point.mode.is_empty());
        assert_eq!(v.labels["team"], "db");
        let t =
            parse_mount_flag("type=tmpfs,destination=/run,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            t.point.tmpfs_options,
            "rw,noexec,nosuid,nodev,mode=1770,size=64m"
        );
        let err = |s: &str| parse_mount_flag(s).unwrap_err().to_string();
        assert_eq!(
            err("type=bind,target=/x"),
            "invalid mount config for type \"bind\": field Source must not be empty"
        );
        assert_eq!(
            err("type=bind,src=/a,dst=/x,bogus=1"),
            "invalid argument \"type=bind,src=/a,dst=/x,bogus=1\" for \"--mount\" flag: unexpected key 'bogus' in 'bogus=1'"
        );
        assert!(err("type=bind,src=/a").ends_with("target is required"));
        assert!(
            err("type=bind,src=/a,dst=/x,volume-nocopy")
                .ends_with("cannot mix 'volume-*' options with mount type 'bind'")
        );
        assert!(
            err("type=volume,dst=/x,tmpfs-size=1m")
                .ends_with("cannot mix 'tmpfs-*' options with mount type 'volume'")
        );
        assert!(err("type=bind,src=/a,dst=/x,bind-propagation=shared").contains("rprivate"));
        assert!(err("type=tmpfs,src=x,dst=/x").ends_with("field Source must not be specified"));
        assert!(err("type=nfs,dst=/x").contains("mount type unknown"));
        assert!(err("type=volume,src=a/b,dst=/x").contains("invalid characters"));
        assert!(
            err("type=bind,src=/a,dst=/x,oops")
                .ends_with("invalid field 'oops' must be a key=value pair")
        );
        assert!(err("type=volume,dst=/x,ro").contains("anonymous volumes"));
    }
}
