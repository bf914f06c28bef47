//! `system df`: the disk that this root's images, containers and volumes
//! take, in Docker's columns, and what the sharing of image layers saves.
//!
//! An image is read-only layers, each unpacked once under
//! `layers/<chain-id>/` and shared by every image that has it; a container
//! adds one writable layer (its overlay `upperdir`, see
//! `Documentation/filesystems/overlayfs.rst`); a volume is a directory of
//! its own that outlives containers. Sizes are counted as Docker counts
//! them ([`super::size::dir_size`]: `lstat(2)` of every entry, a hard link
//! once). Reads only.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::{Value, json};

use super::human::human_size;
use super::state::{Container, Status};
use crate::state::Root;

/// One image: its layers (chain id, bytes), bottom first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageLayers {
    pub id: String,
    pub layers: Vec<(String, u64)>,
}

/// One image as `system df -v` counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageUse {
    pub id: String,
    /// All its layers (Docker's SIZE).
    pub size: u64,
    /// Its layers that another image has too (SHARED SIZE).
    pub shared: u64,
    /// Containers made from it.
    pub containers: usize,
}

impl ImageUse {
    /// The bytes only this image has (UNIQUE SIZE).
    pub fn unique(&self) -> u64 {
        self.size - self.shared
    }
}

/// One volume: its name, the containers that mount it, its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeUse {
    pub name: String,
    pub links: usize,
    pub size: u64,
}

/// One container: whether it runs, its writable layer's bytes, the
/// volumes it mounts, and its `ps` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUse {
    pub running: bool,
    pub size_rw: u64,
    pub volumes: usize,
    pub row: Value,
}

/// Everything `system df` shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub images: Vec<ImageUse>,
    /// The layers on disk, each once (Docker's `LayersSize`).
    pub layers_size: u64,
    pub containers: Vec<ContainerUse>,
    pub volumes: Vec<VolumeUse>,
}

impl Usage {
    /// What the images' layers would take if no layer were shared: each
    /// image counted with all its layers.
    pub fn unshared_size(&self) -> u64 {
        self.images.iter().map(|i| i.size).sum()
    }

    /// The bytes that sharing layers between images saves.
    pub fn saved(&self) -> u64 {
        self.unshared_size().saturating_sub(self.layers_size)
    }
}

/// The images' sizes, shared and unique, and the layers' total, from the
/// layers of each image; `containers` counts the containers per image id.
pub fn image_uses(
    images: &[ImageLayers],
    containers: &BTreeMap<String, usize>,
) -> (Vec<ImageUse>, u64) {
    let mut users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut sizes: BTreeMap<&str, u64> = BTreeMap::new();
    for img in images {
        for (chain, size) in &img.layers {
            users.entry(chain).or_default().insert(&img.id);
            sizes.insert(chain, *size);
        }
    }
    let uses = images
        .iter()
        .map(|img| {
            let mut seen = BTreeSet::new();
            let (mut size, mut shared) = (0, 0);
            for (chain, bytes) in &img.layers {
                if !seen.insert(chain.as_str()) {
                    continue;
                }
                size += bytes;
                if users[chain.as_str()].len() > 1 {
                    shared += bytes;
                }
            }
            ImageUse {
                id: img.id.clone(),
                size,
                shared,
                containers: containers.get(&img.id).copied().unwrap_or(0),
            }
        })
        .collect();
    (uses, sizes.values().sum())
}

/// `12.29kB (40%)`: the bytes, and their share of `total` when there is
/// one (Docker leaves the share out of an empty total).
fn reclaimable(bytes: u64, total: u64) -> String {
    match (bytes * 100).checked_div(total) {
        Some(pct) => format!("{} ({pct}%)", human_size(bytes, 4)),
        None => human_size(bytes, 4),
    }
}

/// The four rows of `system df`, as Docker's formatter fills them.
pub fn summary_rows(u: &Usage) -> Vec<Value> {
    // Docker: what the images in use need is their unique bytes; the rest
    // of the layers could go.
    let used: u64 = u
        .images
        .iter()
        .filter(|i| i.containers > 0)
        .map(ImageUse::unique)
        .sum();
    let c_total: u64 = u.containers.iter().map(|c| c.size_rw).sum();
    let c_idle: u64 = u
        .containers
        .iter()
        .filter(|c| !c.running)
        .map(|c| c.size_rw)
        .sum();
    let v_total: u64 = u.volumes.iter().map(|v| v.size).sum();
    let v_idle: u64 = u
        .volumes
        .iter()
        .filter(|v| v.links == 0)
        .map(|v| v.size)
        .sum();
    let row = |t: &str, total: usize, active: usize, size: u64, recl: String| {
        json!({
            "Type": t,
            "TotalCount": total.to_string(),
            "Active": active.to_string(),
            "Size": human_size(size, 4),
            "Reclaimable": recl,
        })
    };
    vec![
        row(
            "Images",
            u.images.len(),
            u.images.iter().filter(|i| i.containers > 0).count(),
            u.layers_size,
            reclaimable(u.layers_size.saturating_sub(used), u.layers_size),
        ),
        row(
            "Containers",
            u.containers.len(),
            u.containers.iter().filter(|c| c.running).count(),
            c_total,
            reclaimable(c_idle, c_total),
        ),
        row(
            "Local Volumes",
            u.volumes.len(),
            u.volumes.iter().filter(|v| v.links > 0).count(),
            v_total,
            reclaimable(v_idle, v_total),
        ),
        row("Build Cache", 0, 0, 0, human_size(0, 4)),
    ]
}

/// The line glassbox adds under the table: what the shared layers save.
pub fn sharing_line(u: &Usage) -> String {
    format!(
        "Shared layers save {}: the images' layers take {} on disk, and would take {} if each image had its own copy.\n",
        human_size(u.saved(), 4),
        human_size(u.layers_size, 4),
        human_size(u.unshared_size(), 4),
    )
}

/// Column titles of the tables (Docker's).
pub fn headers() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
        ("Containers", "CONTAINERS"),
        ("Name", "VOLUME NAME"),
        ("Links", "LINKS"),
    ])
}

pub const SUMMARY_FORMAT: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
pub const IMAGES_FORMAT: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}";
pub const CONTAINERS_FORMAT: &str = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}";
pub const VOLUMES_FORMAT: &str = "table {{.Name}}\t{{.Links}}\t{{.Size}}";

/// `system df`: the summary table and the sharing line.
pub fn summary_text(u: &Usage) -> Result<String> {
    let mut out = crate::template::listing(SUMMARY_FORMAT, &summary_rows(u), &headers())?;
    out.push('\n');
    out.push_str(&sharing_line(u));
    Ok(out)
}

/// `system df -v`: one table per kind, as Docker prints them; `images`
/// holds each image's rows (repository, tag, created since), in order.
pub fn verbose_text(u: &Usage, image_rows: &[(String, String, String, String)]) -> Result<String> {
    let by_id: BTreeMap<&str, &ImageUse> = u.images.iter().map(|i| (i.id.as_str(), i)).collect();
    let images: Vec<Value> = image_rows
        .iter()
        .filter_map(|(id, repo, tag, since)| {
            let i = by_id.get(id.as_str())?;
            Some(json!({
                "Repository": repo,
                "Tag": tag,
                "ID": crate::image::digest::short(id),
                "CreatedSince": since,
                "Size": human_size(i.size, 4),
                "SharedSize": human_size(i.shared, 4),
                "UniqueSize": human_size(i.unique(), 4),
                "Containers": i.containers.to_string(),
            }))
        })
        .collect();
    let containers: Vec<Value> = u
        .containers
        .iter()
        .map(|c| {
            let mut row = c.row.clone();
            row["Size"] = human_size(c.size_rw, 4).into();
            row["LocalVolumes"] = c.volumes.to_string().into();
            row
        })
        .collect();
    let volumes: Vec<Value> = u
        .volumes
        .iter()
        .map(|v| json!({"Name": v.name, "Links": v.links.to_string(), "Size": human_size(v.size, 4)}))
        .collect();
    let mut ctr_headers = super::list::headers();
    ctr_headers.insert("LocalVolumes", "LOCAL VOLUMES");
    let mut out = String::from("Images space usage:\n\n");
    out.push_str(&crate::template::listing(
        IMAGES_FORMAT,
        &images,
        &headers(),
    )?);
    out.push_str("\nContainers space usage:\n\n");
    out.push_str(&crate::template::listing(
        CONTAINERS_FORMAT,
        &containers,
        &ctr_headers,
    )?);
    out.push_str("\nLocal Volumes space usage:\n\n");
    out.push_str(&crate::template::listing(
        VOLUMES_FORMAT,
        &volumes,
        &headers(),
    )?);
    out.push_str("\nBuild cache usage: 0B\n\n");
    out.push_str(&sharing_line(u));
    Ok(out)
}

/// An image row of `system df -v`: id, repository, tag, created since.
pub type ImageRow = (String, String, String, String);

/// Read this root's images, containers and volumes; the image rows of
/// `-v` come with them.
pub fn gather(root: &Root) -> Result<(Usage, Vec<ImageRow>)> {
    let now = crate::image::store::now();
    let all = super::state::all(root)?;
    let mut per_image: BTreeMap<String, usize> = BTreeMap::new();
    for c in &all {
        *per_image.entry(c.image.clone()).or_default() += 1;
    }
    let store = crate::image::store::Store::open(root)?;
    let images = store.images()?;
    let layers: Vec<ImageLayers> = images
        .images
        .values()
        .map(|rec| ImageLayers {
            id: rec.id.clone(),
            layers: rec
                .layers
                .iter()
                .map(|l| {
                    let size = store
                        .layer_meta(&l.chain_id)
                        .ok()
                        .flatten()
                        .map_or(0, |m| m.size);
                    (l.chain_id.clone(), size)
                })
                .collect(),
        })
        .collect();
    let (image_uses, layers_size) = image_uses(&layers, &per_image);
    let rows = crate::image::human::rows(&store, &images, None)
        .into_iter()
        .map(|r| {
            (
                r.rec.id.clone(),
                r.repo,
                r.tag,
                crate::image::human::ago(r.created.as_deref(), now),
            )
        })
        .collect();
    let containers = all
        .iter()
        .map(|c| container_use(c, now))
        .collect::<Vec<_>>();
    let volumes = volume_uses(root, &all)?;
    Ok((
        Usage {
            images: image_uses,
            layers_size,
            containers,
            volumes,
        },
        rows,
    ))
}

fn container_use(c: &Container, now: u64) -> ContainerUse {
    ContainerUse {
        running: matches!(c.state.status, Status::Running | Status::Paused),
        size_rw: super::size::dir_size(&c.rootfs.upper),
        volumes: volume_names(c).count(),
        row: super::list::row(c, now, false),
    }
}

/// The names of the volumes `c` mounts (a volume mounted twice counts
/// twice, as Docker's reference count does).
fn volume_names(c: &Container) -> impl Iterator<Item = &str> {
    c.mounts
        .iter()
        .filter(|m| m.kind == super::state::MountType::Volume)
        .map(|m| m.name.as_str())
}

fn volume_uses(root: &Root, all: &[Container]) -> Result<Vec<VolumeUse>> {
    let mut links: BTreeMap<String, usize> = BTreeMap::new();
    for c in all {
        for name in volume_names(c) {
            *links.entry(name.to_string()).or_default() += 1;
        }
    }
    Ok(crate::volume::list(root)?
        .into_iter()
        .map(|v| VolumeUse {
            links: links.get(&v.name).copied().unwrap_or(0),
            size: super::size::dir_size(&v.mountpoint),
            name: v.name,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(id: &str, layers: &[(&str, u64)]) -> ImageLayers {
        ImageLayers {
            id: id.into(),
            layers: layers.iter().map(|(c, s)| (c.to_string(), *s)).collect(),
        }
    }

    fn two_images_one_shared_layer() -> Usage {
        let images = [
            img("sha256:aa", &[("base", 4_000_000)]),
            img("sha256:bb", &[("base", 4_000_000), ("top", 1_000)]),
        ];
        let used = BTreeMap::from([("sha256:bb".to_string(), 1)]);
        let (images, layers_size) = image_uses(&images, &used);
        Usage {
            images,
            layers_size,
            containers: vec![
                ContainerUse {
                    running: true,
                    size_rw: 100,
                    volumes: 1,
                    row: crate::container::list::row(
                        &crate::container::list::tests_sample("web"),
                        0,
                        false,
                    ),
                },
                ContainerUse {
                    running: false,
                    size_rw: 300,
                    volumes: 0,
                    row: crate::container::list::row(
                        &crate::container::list::tests_sample("old"),
                        0,
                        false,
                    ),
                },
            ],
            volumes: vec![
                VolumeUse {
                    name: "data".into(),
                    links: 1,
                    size: 2_000,
                },
                VolumeUse {
                    name: "old".into(),
                    links: 0,
                    size: 6_000,
                },
            ],
        }
    }

    #[test]
    fn a_shared_layer_counts_once_on_disk_and_in_each_image() {
        let u = two_images_one_shared_layer();
        assert_eq!(u.layers_size, 4_001_000);
        assert_eq!(u.images[0].shared, 4_000_000);
        assert_eq!(u.images[0].unique(), 0);
        assert_eq!(u.images[1].size, 4_001_000);
        assert_eq!(u.images[1].unique(), 1_000);
        assert_eq!(u.unshared_size(), 8_001_000);
        assert_eq!(u.saved(), 4_000_000);
    }

    #[test]
    fn a_layer_twice_in_one_image_is_not_shared() {
        let (uses, total) = image_uses(
            &[img("sha256:aa", &[("x", 10), ("x", 10)])],
            &BTreeMap::new(),
        );
        assert_eq!((uses[0].size, uses[0].shared, total), (10, 0, 10));
    }

    #[test]
    fn the_summary_is_dockers_table() {
        let text = summary_text(&two_images_one_shared_layer()).unwrap();
        assert_eq!(
            text,
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          2         1         4.001MB   4MB (99%)\n\
             Containers      2         1         400B      300B (75%)\n\
             Local Volumes   2         1         8kB       6kB (75%)\n\
             Build Cache     0         0         0B        0B\n\
             \n\
             Shared layers save 4MB: the images' layers take 4.001MB on disk, and would take 8.001MB if each image had its own copy.\n"
        );
    }

    #[test]
    fn nothing_at_all_has_no_percentages() {
        let rows = summary_rows(&Usage::default());
        assert_eq!(rows[0]["Reclaimable"], "0B");
        assert_eq!(rows[1]["Size"], "0B");
    }

    #[test]
    fn verbose_has_one_table_per_kind() {
        let u = two_images_one_shared_layer();
        let rows = vec![(
            "sha256:bb".to_string(),
            "app".to_string(),
            "1".to_string(),
            "2 hours ago".to_string(),
        )];
        let text = verbose_text(&u, &rows).unwrap();
        for want in [
            "Images space usage:\n\nREPOSITORY   TAG       IMAGE ID   CREATED       SIZE      SHARED SIZE   UNIQUE SIZE   CONTAINERS\n",
            "app          1         bb         2 hours ago   4.001MB   4MB           1kB           1\n",
            "Containers space usage:\n\nCONTAINER ID   IMAGE     COMMAND   LOCAL VOLUMES   SIZE      CREATED",
            "web000000000   busybox   \"sh\"      1               100B",
            "Local Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\ndata          1         2kB\nold           0         6kB\n",
            "Build cache usage: 0B\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
    }
}
