//! Image archives in: `image load` of a `docker save` tarball or of an
//! OCI image layout.
//!
//! Docker's format has a `manifest.json` (`[{Config, RepoTags, Layers}]`,
//! paths inside the archive); since Docker 25 the same tarball is also an
//! OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`), and
//! the layer files are the uncompressed tars whose sha256 are the config's
//! diff ids. [`load`] reads that form (what [`super::save`] writes), the
//! older one with `<id>/layer.tar` files, and plain OCI layout archives.
//! The archive is unpacked with the same safe unpacker as layers (so it
//! stops before the disk fills, see [`super::space`]) into a temporary
//! directory, removed afterwards. Only its regular files are read
//! ([`super::member`]), and every member the archive names is checked
//! before the first image enters the store: a refused archive adds
//! nothing. Read the OCI image spec's `image-layout.md`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::add::{LayerFile, LayerSource, NewImage, add_image};
use super::digest::{hex_part, sha256_of};
use super::manifest::{Document, OCI_INDEX, Platform};
use super::member;
use super::reference::Reference;
use super::scan::Scan;
use super::space::{Meter, MeteredWriter, Reserve};
use super::store::Store;
use super::unpack::unpack_layer;
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};

/// One entry of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DockerManifestEntry {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// A temporary directory in the store (`tmp/WHAT-PID-N`), removed when
/// dropped. One left by a process that died is swept by the next command
/// that opens the store, and named by `doctor` until then.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(store: &Store, what: &str) -> Result<TempDir> {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let p = store.dir.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        Step::new(
            Mechanism::Image,
            Action::Filesystem,
            format!("create work directory {}", p.display()),
        )
        .arg("path", p.display())
        .shell(format!("mkdir -p {}", p.display()))
        .why("work in progress stays in tmp/ under the store, named by its process, until it is complete")
        .detail()
        .run(|| {
            let base = store.dir.join("tmp");
            std::fs::create_dir_all(&base)
                .with_context(|| format!("mkdir {}", base.display()))?;
            std::fs::create_dir(&p).with_context(|| format!("mkdir {}", p.display()))
        })?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = crate::host::remove_dir_all(
            Mechanism::Image,
            &self.0,
            "the work directory is no longer needed",
        );
    }
}

/// One image of an archive, checked, ready to enter the store.
struct Planned {
    new: NewImage,
    tags: Vec<Reference>,
}

/// An archive's members: unpacked in the work directory, or (in a plan,
/// which unpacks nothing) read through once ([`Scan`]).
enum Members {
    Unpacked(PathBuf),
    Scanned(Scan),
}

impl Members {
    fn exists(&self, name: &str) -> bool {
        match self {
            Members::Unpacked(dir) => member::exists(dir, name),
            Members::Scanned(s) => s.exists(name),
        }
    }

    fn read(&self, name: &str) -> Result<Vec<u8>> {
        match self {
            Members::Unpacked(dir) => member::read(dir, name),
            Members::Scanned(s) => s.read(name),
        }
    }

    fn layer(&self, name: &str) -> Result<LayerSource> {
        match self {
            Members::Unpacked(dir) => Ok(LayerSource::File(member::member(dir, name)?)),
            Members::Scanned(s) => s.layer(name),
        }
    }
}

/// Where `image load` reads.
pub enum Input<'a> {
    /// `-i FILE`.
    Path(&'a Path),
    /// Standard input (or any stream): copied into the store's work
    /// directory first, as `docker load` reads it whole.
    Stream(&'a mut dyn Read),
}

/// `image load`: the lines Docker prints (`Loaded image: busybox:latest`).
/// Under `--dry-run` the archive is read, not unpacked, and nothing is
/// stored: the lines say what a load would do.
pub fn load(root: &Root, input: Input) -> Result<Vec<String>> {
    let (given, mut stream) = match input {
        Input::Path(p) => (Some(p), None),
        Input::Stream(r) => (None, Some(Stream::new(r)?)),
    };
    let store = Store::open(root)?;
    let tmp = TempDir::new(&store, "load")?;
    let path = match given {
        Some(p) => p.to_path_buf(),
        None => tmp.0.join("input"),
    };
    let copied = match stream.as_mut() {
        Some(r) => copy_stream(&store, r, &path)?,
        None => Done::Ran(()),
    };
    let unpacked = Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("unpack archive {}", path.display()),
    )
    .arg("archive", path.display())
    .shell(format!("tar -xf {} -C {}", path.display(), tmp.0.display()))
    .apply(|| {
        let f = File::open(&path).with_context(|| format!("open {}", path.display()))?;
        unpack_layer(BufReader::new(f), &tmp.0)
            .with_context(|| format!("read archive {}", path.display()))
            .map(|_| ())
    })
    .map_err(|e| store.explain_no_room(e))?;
    let members = match (unpacked, copied, stream) {
        (Done::Ran(()), ..) => Members::Unpacked(tmp.0.clone()),
        (Done::Planned, Done::Planned, Some(r)) => Members::Scanned(
            Scan::of(BufReader::new(r))
                .with_context(|| format!("read archive {}", path.display()))?,
        ),
        (Done::Planned, ..) => {
            let f = File::open(&path).with_context(|| format!("open {}", path.display()))?;
            Members::Scanned(
                Scan::of(BufReader::new(f))
                    .with_context(|| format!("read archive {}", path.display()))?,
            )
        }
    };
    let planned = if members.exists("manifest.json") {
        plan_docker(&members)?
    } else if members.exists("index.json") {
        plan_oci_layout(&members)?
    } else {
        bail!(
            "{} is neither a docker save archive nor an OCI layout (no manifest.json or index.json)",
            path.display()
        );
    };
    let mut lines = Vec::new();
    for p in planned {
        let id = p.new.id();
        add_image(&store, p.new)?;
        loaded_lines(&mut lines, &id, &p.tags);
    }
    Ok(lines)
}

/// Standard input (or any stream) that is not empty: its first bytes are
/// read before anything is made, so an empty one is refused at once.
pub struct Stream<'a> {
    head: std::io::Cursor<Vec<u8>>,
    rest: &'a mut dyn Read,
}

impl<'a> Stream<'a> {
    pub fn new(rest: &'a mut dyn Read) -> Result<Stream<'a>> {
        let mut head = vec![0u8; 64 * 1024];
        let n = loop {
            match rest.read(&mut head) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.context("read standard input")?,
            }
        };
        if n == 0 {
            bail!("requested load from stdin, but stdin is empty: use -i FILE or redirect input");
        }
        head.truncate(n);
        Ok(Stream {
            head: std::io::Cursor::new(head),
            rest,
        })
    }
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.head.read(buf)? {
            0 => self.rest.read(buf),
            n => Ok(n),
        }
    }
}

/// Copy a stream into `path` in the store's work directory, stopping
/// below the free-space reserve.
pub fn copy_stream(store: &Store, r: &mut Stream, path: &Path) -> Result<Done<()>> {
    Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("copy standard input to {}", path.display()),
    )
    .arg("path", path.display())
    .shell(format!("cat > {}", path.display()))
    .why("an archive or a layer is read whole before anything enters the store")
    .detail()
    .apply(|| {
        let f = File::create(path).with_context(|| format!("create {}", path.display()))?;
        let mut w = MeteredWriter {
            inner: f,
            meter: Meter::new(Reserve::for_dir(&store.dir)?),
        };
        std::io::copy(r, &mut w)
            .with_context(|| format!("copy standard input to {}", path.display()))
            .map_err(|e| store.explain_no_room(e))?;
        Ok(())
    })
}

/// The images of a `docker save` archive, every member checked.
fn plan_docker(dir: &Members) -> Result<Vec<Planned>> {
    let entries: Vec<DockerManifestEntry> = serde_json::from_slice(&dir.read("manifest.json")?)
        .context("manifest.json is not a docker save manifest")?;
    let originals = if dir.exists("index.json") {
        oci_manifests(dir)?
    } else {
        BTreeMap::new()
    };
    let mut out = Vec::new();
    for e in entries {
        let config = dir.read(&e.config).context("read the image config")?;
        let id = sha256_of(&config);
        let layers = e
            .layers
            .iter()
            .map(|l| {
                Ok(LayerFile {
                    source: dir.layer(l)?,
                    media_type: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tags = e
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<Vec<_>>>()?;
        let manifest = originals.get(&id).cloned();
        out.push(Planned {
            new: NewImage {
                config,
                layers,
                manifest,
                tags: tags.clone(),
                repo_digests: vec![],
            },
            tags,
        });
    }
    Ok(out)
}

fn loaded_lines(lines: &mut Vec<String>, id: &str, tags: &[Reference]) {
    if tags.is_empty() {
        lines.push(format!("Loaded image ID: {id}"));
    }
    for t in tags {
        lines.push(format!("Loaded image: {}", t.familiar()));
    }
}

/// The OCI manifests of a layout, by config digest (to keep the
/// originals). Blobs it lacks are skipped; blobs that are not regular
/// files refuse the archive.
fn oci_manifests(dir: &Members) -> Result<BTreeMap<String, (Vec<u8>, String)>> {
    let mut out = BTreeMap::new();
    let idx = dir.read("index.json")?;
    let Ok(Document::Index(index)) = Document::parse(&idx, Some(OCI_INDEX)) else {
        return Ok(out);
    };
    for d in index.manifests {
        let name = blob_name(&d.digest)?;
        if !dir.exists(&name) {
            continue;
        }
        let bytes = dir.read(&name)?;
        if sha256_of(&bytes) != d.digest {
            continue;
        }
        if let Ok(Document::Manifest(m)) = Document::parse(&bytes, Some(&d.media_type)) {
            out.insert(m.config.digest.clone(), (bytes, d.media_type.clone()));
        }
    }
    Ok(out)
}

/// `blobs/sha256/<hex>` of a valid digest.
fn blob_name(digest: &str) -> Result<String> {
    super::reference::validate_digest(digest).map_err(|e| anyhow::anyhow!(e))?;
    Ok(format!("blobs/sha256/{}", hex_part(digest)))
}

/// Read a verified blob of an OCI layout.
fn layout_blob(dir: &Members, digest: &str) -> Result<Vec<u8>> {
    let name = blob_name(digest)?;
    let bytes = dir
        .read(&name)
        .with_context(|| format!("the layout's blob {digest}"))?;
    if sha256_of(&bytes) != digest {
        bail!("blob {digest} of the layout is corrupt: refusing it");
    }
    Ok(bytes)
}

/// Every image an OCI layout's index.json names, every member checked.
fn plan_oci_layout(dir: &Members) -> Result<Vec<Planned>> {
    let idx = dir.read("index.json")?;
    let Document::Index(index) = Document::parse(&idx, Some(OCI_INDEX))? else {
        bail!("index.json is not an image index");
    };
    let mut out = Vec::new();
    for d in &index.manifests {
        let annotations = d.annotations.clone().unwrap_or_default();
        let name = annotations
            .get("io.containerd.image.name")
            .or_else(|| annotations.get("org.opencontainers.image.ref.name"))
            .and_then(|n| Reference::parse(n).ok())
            .filter(|_r| {
                annotations.contains_key("io.containerd.image.name")
                    || annotations
                        .get("org.opencontainers.image.ref.name")
                        .is_some_and(|n| n.contains('/') || n.contains(':'))
            });
        let bytes = layout_blob(dir, &d.digest)?;
        let (mbytes, mt, m) = match Document::parse(&bytes, Some(&d.media_type))? {
            Document::Manifest(m) => (bytes, d.media_type.clone(), m),
            Document::Index(inner) => {
                let c = inner.choose(&Platform::host())?;
                let b = layout_blob(dir, &c.digest)?;
                match Document::parse(&b, Some(&c.media_type))? {
                    Document::Manifest(m) => (b, c.media_type.clone(), m),
                    Document::Index(_) => bail!("nested index {} is not supported", c.digest),
                }
            }
        };
        let config = layout_blob(dir, &m.config.digest)?;
        let layers = m
            .layers
            .iter()
            .map(|l| {
                super::manifest::check_layer_media_type(&l.media_type)?;
                Ok(LayerFile {
                    source: dir.layer(&blob_name(&l.digest)?)?,
                    media_type: Some(l.media_type.clone()),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let tags: Vec<Reference> = name.into_iter().collect();
        out.push(Planned {
            new: NewImage {
                config,
                layers,
                manifest: Some((mbytes, mt)),
                tags: tags.clone(),
                repo_digests: vec![],
            },
            tags,
        });
    }
    Ok(out)
}
