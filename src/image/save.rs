//! `image save`: images as one tar archive that is both a `docker save`
//! archive (`manifest.json`, read by `docker load`) and an OCI image
//! layout (`oci-layout`, `index.json`, `blobs/sha256/...`, read by
//! `skopeo` and other OCI tools), as Docker 25 to 28 write it. The layers
//! are stored uncompressed, so their sha256 are the config's diff ids.
//! Where the archive goes is [`super::output`]'s business. Read the OCI
//! image spec's `image-layout.md`.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::archive::{DockerManifestEntry, TempDir};
use super::digest::{HashWriter, hex_part, sha256_of};
use super::manifest::{OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST};
use super::output::Output;
use super::reference::Reference;
use super::store::Store;
use super::unpack::decompressed;
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};

/// Where `image save` writes.
#[derive(Debug, Clone, Copy)]
pub enum Dest<'a> {
    /// `-o PATH`.
    Path(&'a Path),
    /// Standard output (not a terminal).
    Stdout,
}

/// `image save`: write the images (and the tags given) to `out`.
/// `Done::Planned`: a plan that may not read `images.json` stops there.
pub fn save(root: &Root, refs: &[String], dest: Dest) -> Result<Done<()>> {
    let store = Store::open(root)?;
    let Done::Ran(images) = store.read_images()? else {
        return Ok(Done::Planned);
    };
    // Image id -> the tags asked for.
    let mut wanted: BTreeMap<String, Vec<Reference>> = BTreeMap::new();
    for r in refs {
        let id = images.resolve(r)?;
        let tags = wanted.entry(id.clone()).or_default();
        if let Ok(parsed) = Reference::parse(r)
            && parsed.digest.is_none()
            && parsed
                .tagged()
                .is_some_and(|t| images.tags.get(&t) == Some(&id))
        {
            tags.push(parsed);
        }
    }
    let shown = match dest {
        Dest::Path(p) => p.display().to_string(),
        Dest::Stdout => "standard output".to_string(),
    };
    let step = Step::new(
        Mechanism::Image,
        Action::Filesystem,
        format!("write archive {shown}"),
    )
    .arg("images", refs.join(" "))
    .arg("output", &shown)
    .why("a docker save archive is also an OCI image layout: manifest.json for docker load, index.json and blobs/ for OCI tools; a regular file is replaced atomically, a device or FIFO is written in place")
    .man("rename(2)");
    let work = TempDir::new(&store, "save")?;
    step.apply(|| {
        let (out, f) = match dest {
            Dest::Path(p) => Output::open(p)?,
            Dest::Stdout => Output::stdout()?,
        };
        let mut tar = tar::Builder::new(BufWriter::new(f));
        tar.mode(tar::HeaderMode::Deterministic);
        let mut written = std::collections::BTreeSet::new();
        let mut docker_manifest = Vec::new();
        let mut index_entries = Vec::new();
        for dir in ["blobs/", "blobs/sha256/"] {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            tar.append_data(&mut h, dir, io::empty())?;
        }
        let mut add_blob = |tar: &mut tar::Builder<BufWriter<File>>,
                            digest: &str,
                            path: &Path|
         -> Result<String> {
            let name = format!("blobs/sha256/{}", hex_part(digest));
            if written.insert(name.clone()) {
                let mut f = File::open(path).with_context(|| format!("open {}", path.display()))?;
                tar.append_file(&name, &mut f)
                    .with_context(|| format!("add {name} to the archive"))?;
            }
            Ok(name)
        };
        for (id, tags) in &wanted {
            let rec = &images.images[id];
            let config_path = store.blob_path(id);
            let config_name = add_blob(&mut tar, id, &config_path)?;
            let mut layer_names = Vec::new();
            let mut layer_descs = Vec::new();
            for l in &rec.layers {
                // The uncompressed tar: its digest is the diff id.
                let plain = work.0.join(hex_part(&l.diff_id));
                let size = if plain.exists() {
                    fs::metadata(&plain)?.len()
                } else {
                    let blob = File::open(store.blob_path(&l.digest)).with_context(|| {
                        format!(
                            "the store has no blob {} for layer {}",
                            l.digest, l.chain_id
                        )
                    })?;
                    let (mut r, _) = decompressed(BufReader::new(blob))?;
                    let mut w = HashWriter::new(BufWriter::new(File::create(&plain)?));
                    io::copy(&mut r, &mut w).context("decompress the layer")?;
                    let (mut bw, digest, n) = w.finish();
                    bw.flush()?;
                    if digest != l.diff_id {
                        bail!(
                            "stored layer {} decompresses to {digest}, not its diff id {}",
                            l.digest,
                            l.diff_id
                        );
                    }
                    n
                };
                layer_names.push(add_blob(&mut tar, &l.diff_id, &plain)?);
                layer_descs.push(serde_json::json!({
                    "mediaType": OCI_LAYER, "digest": l.diff_id, "size": size,
                }));
            }
            let config_size = fs::metadata(&config_path)?.len();
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": id, "size": config_size},
                "layers": layer_descs,
            });
            let mbytes = serde_json::to_vec(&manifest)?;
            let mdigest = sha256_of(&mbytes);
            let mpath = work.0.join(format!("manifest-{}", hex_part(&mdigest)));
            fs::write(&mpath, &mbytes)?;
            add_blob(&mut tar, &mdigest, &mpath)?;
            let repo_tags: Vec<String> = tags.iter().map(|t| t.familiar()).collect();
            if tags.is_empty() {
                index_entries.push(serde_json::json!({
                    "mediaType": OCI_MANIFEST, "digest": mdigest, "size": mbytes.len(),
                }));
            }
            for t in tags {
                index_entries.push(serde_json::json!({
                    "mediaType": OCI_MANIFEST, "digest": mdigest, "size": mbytes.len(),
                    "annotations": {
                        "io.containerd.image.name": t.to_string(),
                        "org.opencontainers.image.ref.name": t.tag.clone().unwrap_or_default(),
                    },
                }));
            }
            docker_manifest.push(DockerManifestEntry {
                config: config_name,
                repo_tags: (!repo_tags.is_empty()).then_some(repo_tags),
                layers: layer_names,
            });
        }
        let small =
            |tar: &mut tar::Builder<BufWriter<File>>, name: &str, bytes: &[u8]| -> Result<()> {
                let mut h = tar::Header::new_ustar();
                h.set_mode(0o644);
                h.set_size(bytes.len() as u64);
                h.set_uid(0);
                h.set_gid(0);
                h.set_mtime(0);
                tar.append_data(&mut h, name, bytes)
                    .with_context(|| format!("add {name} to the archive"))
            };
        small(
            &mut tar,
            "index.json",
            &serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index_entries,
            }))?,
        )?;
        small(
            &mut tar,
            "manifest.json",
            &serde_json::to_vec(&docker_manifest)?,
        )?;
        small(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let w = tar.into_inner().context("finish the archive")?;
        let f = w
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("write {shown}"))?;
        out.finish(f)
    })?;
    Ok(Done::Ran(()))
}
