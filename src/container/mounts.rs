//! A container's mounts: the [`MountPoint`]s its record keeps (from `-v`,
//! `--mount`, `--tmpfs` and the image's `VOLUME`s), the volumes they need
//! made at `create` (under the lock `volume rm` takes), the host paths
//! they show inside the container ([`host_mounts`], what `cp` and
//! `export` read for a stopped container), and what start mounts: each
//! bind and volume as a bind mount, each tmpfs fresh, after filling a new
//! volume from the image (see `volume::copyup`). Read `mount(2)`,
//! `tmpfs(5)`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::config::{ImageDefaults, Request};
use super::mount_spec::{self, MountRequest};
use super::state::{Container, MountPoint, MountType};
use crate::ns::spec::{BindMount, TmpfsMount};
use crate::state::Root;
use crate::trace::Mechanism;

/// A host path mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMount {
    /// On the host: a bind's source, a volume's `_data`.
    pub source: PathBuf,
    /// Inside the container.
    pub target: PathBuf,
    pub read_only: bool,
}

/// The container's mount points: its record's, or for a record older than
/// volumes, its `-v` binds.
pub fn points(c: &Container) -> Vec<MountPoint> {
    if !c.mounts.is_empty() {
        return c.mounts.clone();
    }
    c.host_config
        .binds
        .iter()
        .map(mount_spec::from_bind)
        .collect()
}

/// Every host path mounted into `c` (binds and volumes, not tmpfs), in
/// mount order: what a reader of a stopped container's files must look in
/// besides its root filesystem.
pub fn host_mounts(c: &Container) -> Vec<HostMount> {
    points(c)
        .into_iter()
        .filter(|m| m.kind != MountType::Tmpfs)
        .map(|m| HostMount {
            source: m.source,
            target: PathBuf::from(m.destination),
            read_only: !m.rw,
        })
        .collect()
}

/// Check the mounts before anything is made: a `--mount type=bind`'s
/// source must exist (Docker's message); make `-v`'s missing host
/// directories (Docker's `-v` does).
pub fn prepare_sources(req: &Request) -> Result<()> {
    for m in req
        .mounts
        .iter()
        .filter(|m| m.point.kind == MountType::Bind)
    {
        let src = &m.point.source;
        if !m.point.create_source && !src.exists() {
            bail!(
                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                src.display()
            );
        }
    }
    for m in req
        .mounts
        .iter()
        .filter(|m| m.point.kind == MountType::Bind)
    {
        if m.point.create_source && !m.point.source.exists() {
            crate::host::mkdir(Mechanism::Run, &m.point.source)?;
        }
    }
    Ok(())
}

/// The image's `VOLUME`s no mount of the user's covers: an anonymous
/// volume each, filled from the image.
fn image_volumes(img: &ImageDefaults, asked: &[MountRequest]) -> Vec<MountPoint> {
    img.volumes
        .iter()
        .map(|v| mount_spec::clean_path(v))
        .filter(|v| v != "/" && !asked.iter().any(|m| &m.point.destination == v))
        .map(|v| MountPoint {
            kind: MountType::Volume,
            destination: v,
            driver: "local".into(),
            rw: true,
            copy_data: true,
            anonymous: true,
            ..MountPoint::default()
        })
        .collect()
}

/// The container's mount points, the volumes they name made (anonymous
/// ones named now); the caller holds `volume::lock` and writes the record
/// before dropping it. The second list is the volumes this call made (to
/// remove if the container is not made after all).
pub fn resolve(
    root: &Root,
    req: &Request,
    img: &ImageDefaults,
) -> Result<(Vec<MountPoint>, Vec<String>)> {
    let mut points: Vec<(MountPoint, std::collections::BTreeMap<String, String>)> = req
        .mounts
        .iter()
        .map(|m| (m.point.clone(), m.labels.clone()))
        .collect();
    points.extend(
        image_volumes(img, &req.mounts)
            .into_iter()
            .map(|p| (p, Default::default())),
    );
    let mut made = Vec::new();
    let mut out = Vec::new();
    for (mut p, labels) in points {
        if p.kind == MountType::Volume {
            if p.name.is_empty() {
                p.name = crate::volume::random_name()?;
            }
            let existed = crate::volume::dir(root)
                .join(&p.name)
                .join("volume.json")
                .exists();
            let made_now = crate::volume::ensure_locked(root, &p.name, &labels, p.anonymous);
            let v = match made_now {
                Ok(v) => v,
                Err(e) => {
                    undo(root, &made);
                    return Err(e);
                }
            };
            if !existed {
                made.push(p.name.clone());
            }
            p.source = v.mountpoint;
        }
        out.push(p);
    }
    Ok((out, made))
}

/// Remove the volumes a failed create made (the caller holds the lock).
pub fn undo(root: &Root, made: &[String]) {
    for name in made {
        let _ = crate::volume::remove_locked(root, name);
    }
}

/// What start mounts for `c`'s mount points: the binds (volumes too) and
/// the tmpfs mounts, the shallower destination first (Docker's order),
/// each new volume filled from the image at `rootfs` first.
pub fn for_start(c: &Container, rootfs: &Path) -> Result<(Vec<BindMount>, Vec<TmpfsMount>)> {
    let mut points = points(c);
    points.sort_by_key(|m| Path::new(&m.destination).components().count());
    let mut binds = Vec::new();
    let mut tmpfs = Vec::new();
    for m in points {
        match m.kind {
            MountType::Tmpfs => {
                let o = mount_spec::tmpfs_options(&m.tmpfs_options)?;
                tmpfs.push(TmpfsMount {
                    target: PathBuf::from(&m.destination),
                    readonly: o.read_only,
                    noexec: o.noexec,
                    nosuid: o.nosuid,
                    nodev: o.nodev,
                    data: o.data.join(","),
                });
            }
            kind => {
                if kind == MountType::Volume && m.copy_data {
                    crate::volume::copyup::fill(rootfs, &m.destination, &m.name, &m.source)?;
                }
                binds.push(BindMount {
                    source: m.source,
                    target: PathBuf::from(m.destination),
                    readonly: !m.rw,
                });
            }
        }
    }
    Ok((binds, tmpfs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_mounts_are_binds_and_volumes_and_old_records_still_read() {
        let mut c = Container::default();
        c.host_config.binds = vec![super::super::state::Bind {
            source: "/srv".into(),
            destination: "/data".into(),
            read_only: true,
        }];
        assert_eq!(
            host_mounts(&c),
            [HostMount {
                source: "/srv".into(),
                target: "/data".into(),
                read_only: true
            }]
        );
        c.mounts = vec![
            mount_spec::parse_tmpfs_flag("/run").unwrap().point,
            MountPoint {
                kind: MountType::Volume,
                name: "v1".into(),
                source: "/var/lib/glassbox/volumes/v1/_data".into(),
                destination: "/v".into(),
                rw: true,
                ..MountPoint::default()
            },
        ];
        let h = host_mounts(&c);
        assert_eq!(h.len(), 1);
        assert_eq!(
            h[0].source,
            PathBuf::from("/var/lib/glassbox/volumes/v1/_data")
        );
    }

    #[test]
    fn image_volumes_not_covered_become_anonymous_ones() {
        let img = ImageDefaults {
            volumes: vec!["/data".into(), "/logs/".into()],
            ..ImageDefaults::default()
        };
        let asked = vec![mount_spec::parse_volume_flag("named:/data").unwrap()];
        let v = image_volumes(&img, &asked);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].destination, "/logs");
        assert!(v[0].anonymous && v[0].copy_data && v[0].mode.is_empty());
    }
}
