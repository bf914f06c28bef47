//! `image inspect`'s objects, fields in Docker's order, and `image
//! history`.

use anyhow::Result;
use serde_json::json;

use super::{ago, config_of, open, size, table};
use crate::clock::rfc3339;
use crate::image::digest::short;
use crate::image::manage;
use crate::image::manifest::History;
use crate::image::reference::Reference;
use crate::image::store::{ImageRecord, Images, Store, now};
use crate::state::Root;
use crate::trace::Done;

/// What `image history` shows.
#[derive(Debug, Clone, Default)]
pub struct HistoryOptions {
    pub no_trunc: bool,
    /// Only the image id.
    pub quiet: bool,
}

/// `image inspect`'s object, fields in Docker's order.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: serde_json::Value,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    pub size: u64,
    pub graph_driver: serde_json::Value,
    #[serde(rename = "RootFS")]
    pub root_fs: serde_json::Value,
    pub metadata: serde_json::Value,
    pub descriptor: serde_json::Value,
}

/// Docker's `image inspect` object for one image.
pub fn inspect_json(store: &Store, images: &Images, rec: &ImageRecord) -> Result<Inspect> {
    let cfg = config_of(store, rec)?;
    let tags: Vec<String> = images
        .tags_of(&rec.id)
        .iter()
        .map(|t| t.familiar())
        .collect();
    let digests: Vec<String> = rec
        .repo_digests
        .iter()
        .filter_map(|d| Reference::parse(d).ok())
        .map(|r| r.familiar())
        .collect();
    let lowers = manage::lower_dirs(store, rec);
    let (upper, lower) = lowers
        .split_first()
        .map_or((None, vec![]), |(u, l)| (Some(u), l.to_vec()));
    let join = |v: &[std::path::PathBuf]| {
        v.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    };
    let mut graph = serde_json::Map::new();
    if !lower.is_empty() {
        graph.insert("LowerDir".into(), json!(join(&lower)));
    }
    if let Some(u) = upper {
        graph.insert("UpperDir".into(), json!(u.display().to_string()));
    }
    Ok(Inspect {
        id: rec.id.clone(),
        repo_tags: tags,
        repo_digests: digests,
        parent: String::new(),
        comment: cfg
            .history
            .last()
            .and_then(|h| h.comment.clone())
            .unwrap_or_default(),
        created: cfg.created.clone().unwrap_or_default(),
        docker_version: String::new(),
        author: cfg.author.clone().unwrap_or_default(),
        config: cfg.config,
        architecture: cfg.architecture,
        variant: cfg.variant,
        os: cfg.os,
        size: rec.size,
        graph_driver: json!({ "Data": graph, "Name": "overlay2" }),
        root_fs: json!({ "Type": "layers", "Layers": cfg.rootfs.diff_ids }),
        metadata: json!({ "LastTagTime": rfc3339(rec.added as i64) }),
        descriptor: json!({
            "mediaType": rec.manifest_media_type,
            "digest": rec.manifest_digest,
            "size": store.blob_path(&rec.manifest_digest).metadata().map(|m| m.len()).unwrap_or(0),
        }),
    })
}

/// What `image inspect` found: the JSON array of the images it knows
/// (printed even when some names are unknown, as Docker does), and an
/// error line for each name it does not.
#[derive(Debug)]
pub struct Inspected {
    pub json: String,
    pub missing: Vec<String>,
}

/// `image inspect NAME...`.
pub fn inspect(root: &Root, names: &[String]) -> Result<Done<Inspected>> {
    let Done::Ran((store, images)) = open(root)? else {
        return Ok(Done::Planned);
    };
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for w in names {
        match images.resolve(w) {
            Ok(id) => out.push(inspect_json(&store, &images, &images.images[&id])?),
            Err(e) => missing.push(format!("{e:#}")),
        }
    }
    Ok(Done::Ran(Inspected {
        json: serde_json::to_string_pretty(&out)?,
        missing,
    }))
}

/// `image history NAME`: the text it prints.
pub fn history(root: &Root, name: &str, opts: &HistoryOptions) -> Result<Done<String>> {
    let Done::Ran((store, images)) = open(root)? else {
        return Ok(Done::Planned);
    };
    let id = images.resolve(name)?;
    history_text(&store, &images.images[&id], opts, now()).map(Done::Ran)
}

/// `image history` of one image at time `now` (Unix seconds): its
/// history, newest first, each entry that made a layer with its size.
pub fn history_text(
    store: &Store,
    rec: &ImageRecord,
    opts: &HistoryOptions,
    now: u64,
) -> Result<String> {
    let id = &rec.id;
    let shown_id = if opts.no_trunc {
        id.clone()
    } else {
        short(id).to_string()
    };
    if opts.quiet {
        return Ok(format!("{shown_id}\n"));
    }
    let cfg = config_of(store, rec)?;
    // Pair each non-empty history entry with its layer, bottom first.
    let mut layer_sizes = rec.layers.iter().map(|l| {
        store
            .layer_meta(&l.chain_id)
            .ok()
            .flatten()
            .map(|m| m.size)
            .unwrap_or(0)
    });
    // A config without history: one row per layer, as Docker shows it.
    let blank: Vec<History> = if cfg.history.is_empty() {
        vec![Default::default(); rec.layers.len()]
    } else {
        Vec::new()
    };
    let mut rows = Vec::new();
    for h in cfg.history.iter().chain(blank.iter()) {
        let bytes = if h.empty_layer {
            0
        } else {
            layer_sizes.next().unwrap_or(0)
        };
        rows.push((h, bytes));
    }
    rows.reverse();
    let mut t = vec![vec![
        "IMAGE".to_string(),
        "CREATED".into(),
        "CREATED BY".into(),
        "SIZE".into(),
        "COMMENT".into(),
    ]];
    for (i, (h, bytes)) in rows.into_iter().enumerate() {
        let image = if i == 0 {
            shown_id.clone()
        } else {
            "<missing>".to_string()
        };
        let mut by = h.created_by.clone().unwrap_or_default().replace('\t', " ");
        if !opts.no_trunc && by.chars().count() > 45 {
            by = by.chars().take(44).collect::<String>() + "…";
        }
        t.push(vec![
            image,
            ago(h.created.as_deref(), now),
            by,
            size(bytes),
            h.comment.clone().unwrap_or_default(),
        ]);
    }
    Ok(table(&t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::human::fixture::one_image;

    const NOW: u64 = 1_727_645_502;

    #[test]
    fn inspect_is_dockers_object() {
        let f = one_image();
        let rec = &f.images.images[&f.id];
        let i = inspect_json(&f.store, &f.images, rec).unwrap();
        // Fields in Docker's order (serde_json's Value would sort them).
        let text = serde_json::to_string(&i).unwrap();
        let order = [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "DockerVersion",
            "Author",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "GraphDriver",
            "RootFS",
            "Metadata",
            "Descriptor",
        ]
        .map(|k| {
            text.find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k}: {text}"))
        });
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        let v = serde_json::to_value(i).unwrap();
        assert_eq!(
            v["RepoTags"],
            serde_json::json!(["127.0.0.1:5000/bb:v1", "busybox:latest"])
        );
        assert_eq!(v["Comment"], "last");
        assert_eq!(v["Author"], "someone");
        assert_eq!(v["Config"]["Cmd"][0], "sh");
        assert_eq!(v["Metadata"]["LastTagTime"], "2024-09-26T21:31:42Z");
        let upper = f.store.layer_diff(&f.chain).display().to_string();
        assert_eq!(
            v["GraphDriver"]["Data"],
            serde_json::json!({"UpperDir": upper})
        );
        assert_eq!(v["RootFS"]["Layers"][0], f.chain);
        assert_eq!(v["Descriptor"]["size"], 2);
    }

    #[test]
    fn history_pairs_layers_with_the_entries_that_made_them() {
        let f = one_image();
        let rec = &f.images.images[&f.id];
        let opts = HistoryOptions::default();
        let text = history_text(&f.store, rec, &opts, NOW).unwrap();
        let id = short(&f.id);
        assert_eq!(
            text,
            format!(
                "IMAGE          CREATED      CREATED BY                                      SIZE    COMMENT\n\
                 {id}   3 days ago   CMD [\"sh\"]                                      0B      last\n\
                 <missing>      3 days ago   ADD file:0123456789abcdef0123456789abcdef012…   100kB\n"
            )
        );
        let quiet = HistoryOptions {
            quiet: true,
            no_trunc: true,
        };
        assert_eq!(
            history_text(&f.store, rec, &quiet, NOW).unwrap(),
            format!("{}\n", f.id)
        );
    }
}
