//! An image made from a container's changes (`commit`): the parent
//! image's layers, shared as they are (the same chain ids, so the same
//! `layers/<chain id>` directories and the same blobs), plus at most one
//! new layer on top, and a config of Docker's shape (the parent's, with the
//! container's `config`, a `history` entry saying who made it from which
//! container and why, `created` now). Everything is stored by
//! [`super::add::add_image`], under the store's rules: verified blobs, a
//! layer unpacked once, taken back if anything fails. Read the OCI image
//! spec's config.md (`rootfs.diff_ids`, `history`) and manifest.md.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::add::{LayerFile, LayerSource, NewImage, add_image};
use super::reference::Reference;
use super::store::Store;
use crate::trace::Done;

/// The new layer of a commit, as a file to store.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// The (compressed) layer tar, or what a `--dry-run` knows of it.
    pub source: LayerSource,
    /// sha256 of the uncompressed tar.
    pub diff_id: String,
}

/// What a commit adds to its parent image.
#[derive(Debug, Clone, Default)]
pub struct Child {
    /// The parent image's id.
    pub parent: String,
    /// `None`: the container changed nothing (Docker's empty layer).
    pub layer: Option<NewLayer>,
    /// The new image's `config` object (Cmd, Env, ...).
    pub config: Value,
    /// `-a`.
    pub author: String,
    /// `-m`.
    pub comment: String,
    /// The history's `created_by`: the container's command.
    pub created_by: String,
    /// The container's full id.
    pub container: String,
    pub tags: Vec<Reference>,
}

/// Store the child image; its id (`sha256:...`), or `Done::Planned`.
pub fn commit_image(store: &Store, child: Child) -> Result<Done<String>> {
    let images = store.images()?;
    let parent = images
        .images
        .get(&child.parent)
        .with_context(|| format!("No such image: {} (the container's image)", child.parent))?;
    let parent_config: Value = serde_json::from_slice(&store.read_blob(&child.parent)?)
        .context("parse the parent image's config")?;
    let mut layers: Vec<LayerFile> = parent
        .layers
        .iter()
        .map(|l| LayerFile {
            source: LayerSource::Stored {
                digest: l.digest.clone(),
                len: l.size,
            },
            media_type: Some(l.media_type.clone()),
        })
        .collect();
    if let Some(l) = &child.layer {
        layers.push(LayerFile {
            source: l.source.clone(),
            media_type: None,
        });
    }
    let created = crate::clock::now_rfc3339_nanos();
    let config = child_config(&parent_config, &child, &created);
    add_image(
        store,
        NewImage {
            config: serde_json::to_vec(&config).context("serialize the image config")?,
            layers,
            manifest: None,
            tags: child.tags,
            repo_digests: vec![],
        },
    )
}

/// The child's image config: the parent's, with the container's `config`,
/// the new diff id, one more history entry (`empty_layer` when there is no
/// new layer), `created` and `author` now. Pure.
pub fn child_config(parent: &Value, child: &Child, created: &str) -> Value {
    let mut v = match parent {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    v.insert("created".into(), json!(created));
    if child.author.is_empty() {
        v.remove("author");
    } else {
        v.insert("author".into(), json!(child.author));
    }
    v.insert("config".into(), child.config.clone());
    v.insert("container".into(), json!(child.container));
    // The parent's build container says nothing about this one.
    v.remove("container_config");
    let mut diff_ids: Vec<Value> = parent["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(l) = &child.layer {
        diff_ids.push(json!(l.diff_id));
    }
    v.insert(
        "rootfs".into(),
        json!({"type": "layers", "diff_ids": diff_ids}),
    );
    let mut entry = serde_json::Map::new();
    entry.insert("created".into(), json!(created));
    if !child.author.is_empty() {
        entry.insert("author".into(), json!(child.author));
    }
    entry.insert("created_by".into(), json!(child.created_by));
    if !child.comment.is_empty() {
        entry.insert("comment".into(), json!(child.comment));
    }
    if child.layer.is_none() {
        entry.insert("empty_layer".into(), json!(true));
    }
    let mut history = parent["history"].as_array().cloned().unwrap_or_default();
    history.push(Value::Object(entry));
    v.insert("history".into(), Value::Array(history));
    Value::Object(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Value {
        json!({
            "architecture": "amd64", "os": "linux",
            "created": "2020-01-01T00:00:00Z",
            "author": "someone",
            "config": {"Cmd": ["sh"]},
            "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:aa"]},
            "history": [{"created": "2020-01-01T00:00:00Z", "created_by": "from-host"}],
        })
    }

    #[test]
    fn the_child_keeps_the_parent_layers_and_adds_one() {
        let child = Child {
            parent: "sha256:p".into(),
            layer: Some(NewLayer {
                source: LayerSource::Unmade,
                diff_id: "sha256:bb".into(),
            }),
            config: json!({"Cmd": ["cat", "/hi"]}),
            author: "Ann <ann@example.com>".into(),
            comment: "add hi".into(),
            created_by: "sh".into(),
            container: "c".repeat(64),
            tags: vec![],
        };
        let v = child_config(&parent(), &child, "2026-01-01T00:00:00Z");
        assert_eq!(v["rootfs"]["diff_ids"], json!(["sha256:aa", "sha256:bb"]));
        assert_eq!(v["config"]["Cmd"], json!(["cat", "/hi"]));
        assert_eq!(v["author"], "Ann <ann@example.com>");
        assert_eq!(v["container"], "c".repeat(64));
        assert_eq!(v["created"], "2026-01-01T00:00:00Z");
        assert_eq!(v["architecture"], "amd64");
        assert!(v.get("container_config").is_none());
        assert_eq!(
            v["history"][1],
            json!({"created": "2026-01-01T00:00:00Z", "author": "Ann <ann@example.com>",
                   "created_by": "sh", "comment": "add hi"})
        );
    }

    #[test]
    fn nothing_changed_is_an_empty_layer_in_the_history() {
        let child = Child {
            config: json!({}),
            created_by: "sh".into(),
            ..Child::default()
        };
        let v = child_config(&parent(), &child, "2026-01-01T00:00:00Z");
        assert_eq!(v["rootfs"]["diff_ids"], json!(["sha256:aa"]));
        assert_eq!(v["history"][1]["empty_layer"], true);
        assert!(v.get("author").is_none());
        assert!(v["history"][1].get("comment").is_none());
    }
}
