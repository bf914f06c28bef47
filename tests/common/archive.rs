//! Image archives written member by member, as an attacker (or an older
//! Docker) writes them: regular files, symlinks, hard links and FIFOs with
//! whatever names and targets the test wants.

use std::path::Path;

use tar::{Builder, EntryType, Header};

/// A tar archive being built.
pub struct Archive(Builder<Vec<u8>>);

impl Default for Archive {
    fn default() -> Self {
        Self::new()
    }
}

impl Archive {
    pub fn new() -> Archive {
        Archive(Builder::new(Vec::new()))
    }

    fn header(kind: EntryType, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h
    }

    pub fn dir(mut self, name: &str) -> Archive {
        let mut h = Self::header(EntryType::Directory, 0);
        self.0.append_data(&mut h, name, std::io::empty()).unwrap();
        self
    }

    pub fn file(mut self, name: &str, bytes: &[u8]) -> Archive {
        let mut h = Self::header(EntryType::Regular, bytes.len() as u64);
        self.0.append_data(&mut h, name, bytes).unwrap();
        self
    }

    pub fn symlink(mut self, name: &str, target: &str) -> Archive {
        let mut h = Self::header(EntryType::Symlink, 0);
        self.0.append_link(&mut h, name, target).unwrap();
        self
    }

    pub fn hardlink(mut self, name: &str, target: &str) -> Archive {
        let mut h = Self::header(EntryType::Link, 0);
        self.0.append_link(&mut h, name, target).unwrap();
        self
    }

    pub fn fifo(mut self, name: &str) -> Archive {
        let mut h = Self::header(EntryType::Fifo, 0);
        self.0.append_data(&mut h, name, std::io::empty()).unwrap();
        self
    }

    pub fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }

    pub fn write(self, path: &Path) {
        std::fs::write(path, self.bytes()).unwrap();
    }
}

/// A tar layer with one file, and its diff id.
pub fn layer(name: &str, body: &[u8]) -> (Vec<u8>, String) {
    let tar = Archive::new().file(name, body).bytes();
    let id = super::fixtures::sha256_digest(&tar);
    (tar, id)
}

/// An image config for layers with these diff ids.
pub fn config(diff_ids: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// `manifest.json` of a docker save archive: one entry per image as
/// `(config member, tag, layer members)`.
pub fn docker_manifest(images: &[(&str, &str, &[&str])]) -> Vec<u8> {
    let v: Vec<serde_json::Value> = images
        .iter()
        .map(|(config, tag, layers)| {
            serde_json::json!({"Config": config, "RepoTags": [tag], "Layers": layers})
        })
        .collect();
    serde_json::to_vec(&v).unwrap()
}

/// A `docker save` archive (`saved`, its bytes) again as image `tag`, with
/// one more layer on top (`extra_layer`, a tar) if given and its config
/// changed by `edit`: the bytes of the archive to `image load`.
pub fn rewrite_saved(
    saved: &[u8],
    tag: &str,
    extra_layer: Option<&[u8]>,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Vec<u8> {
    use std::io::Read;
    let mut members = std::collections::BTreeMap::new();
    let mut ar = tar::Archive::new(saved);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        members.insert(name, bytes);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let mut config: serde_json::Value = serde_json::from_slice(&members[&config_name]).unwrap();
    let mut layers: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let mut out = Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut h = Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.append_data(&mut h, name, bytes).unwrap();
    };
    for l in &layers {
        add(l, &members[l]);
    }
    if let Some(layer) = extra_layer {
        let diff = super::fixtures::sha256_digest(layer);
        config["rootfs"]["diff_ids"]
            .as_array_mut()
            .unwrap()
            .push(diff.clone().into());
        let name = format!("blobs/sha256/{}", diff.trim_start_matches("sha256:"));
        add(&name, layer);
        layers.push(name);
    }
    edit(&mut config);
    let config = serde_json::to_vec(&config).unwrap();
    let digest = super::fixtures::sha256_digest(&config);
    let cname = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    add(&cname, &config);
    let m = serde_json::json!([{"Config": cname, "RepoTags": [tag], "Layers": layers}]);
    add("manifest.json", &serde_json::to_vec(&m).unwrap());
    out.into_inner().unwrap()
}
