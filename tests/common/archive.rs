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
