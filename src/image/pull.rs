//! `image pull`: manifest (or index, then the host's manifest), config,
//! then the layers, downloaded in parallel (three at a time, as Docker),
//! each checked against its digest while it streams in, unpacked under its
//! chain id and checked against the config's diff id. Layers already in the
//! store are not downloaded again. All download threads are joined before
//! [`pull`] returns, so the process is single-threaded again afterwards
//! (a later `setns(2)` into a mount namespace needs that).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

use super::digest::{chain_ids, sha256_of, short};
use super::manifest::{
    ACCEPT, Descriptor, Document, ImageConfig, Platform, check_layer_media_type,
};
use super::progress::{LayerBar, Progress};
use super::reference::Reference;
use super::registry::Registry;
use super::store::{Added, ImageRecord, LayerRecord, Store};
use crate::state::Root;
use crate::trace::{Action, Done, Mechanism, Step};

/// Docker's default `max-concurrent-downloads`.
pub const MAX_CONCURRENT_DOWNLOADS: usize = 3;
/// Manifests and configs larger than this are refused.
const MAX_DOC: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub platform: Option<Platform>,
    pub quiet: bool,
    /// Show progress on stderr (when pulling for `run`), not stdout.
    pub progress_to_stderr: bool,
}

/// What a pull did.
#[derive(Debug, Clone, Default)]
pub struct Pulled {
    pub id: String,
    /// The digest that was asked for: the index's for a multi-platform image.
    pub digest: String,
    pub downloaded_layers: usize,
    pub existing_layers: usize,
    pub downloaded_bytes: u64,
    pub up_to_date: bool,
}

/// Pull `r` into the store of `root`. If the pull fails, what it had
/// stored is taken back ([`Store::undo`]).
pub fn pull(root: &Root, r: &Reference, opts: &PullOptions) -> Result<Pulled> {
    let store = Store::open(root)?;
    let gc = store.gc_shared()?;
    let added = Added::default();
    match pull_into(root, &store, &added, r, opts) {
        Ok(p) => Ok(p),
        Err(e) => {
            drop(gc);
            Err(store.undo(&added, e))
        }
    }
}

fn pull_into(
    root: &Root,
    store: &Store,
    added: &Added,
    r: &Reference,
    opts: &PullOptions,
) -> Result<Pulled> {
    let reg = Registry::new(root, r)?;
    let progress = Progress::new(opts.quiet, opts.progress_to_stderr);
    let pulling = r.tag.as_deref().or(r.digest.as_deref()).unwrap_or("latest");
    progress.line(&format!(
        "{pulling}: Pulling from {}",
        r.familiar_name()
            .strip_prefix(&format!("{}/", r.domain))
            .unwrap_or(&r.path)
    ));

    // The manifest, or an index and then the host's manifest.
    let (top_bytes, top_doc) = fetch_manifest(&reg, r.manifest_ref(), r.digest.as_deref())?;
    let top_digest = sha256_of(&top_bytes);
    let want = opts.platform.clone().unwrap_or_else(Platform::host);
    // The index of a multi-platform image is not stored: the image is
    // the manifest chosen from it (its digest is kept in repo_digests).
    let top_mt = top_doc.media_type().to_string();
    let (manifest, manifest_bytes, manifest_mt) = match top_doc {
        Document::Manifest(m) => (m, top_bytes, top_mt),
        Document::Index(idx) => {
            let d = idx.choose(&want)?;
            trace_say(&format!(
                "{} chosen from the index for {want}",
                short(&d.digest)
            ));
            let (bytes, doc) = fetch_manifest(&reg, &d.digest, Some(&d.digest))?;
            let mt = doc.media_type().to_string();
            match doc {
                Document::Manifest(m) => (m, bytes, mt),
                Document::Index(_) => bail!("the index entry {} is itself an index", d.digest),
            }
        }
    };
    let manifest_digest = sha256_of(&manifest_bytes);
    for l in &manifest.layers {
        check_layer_media_type(&l.media_type)?;
    }

    // The config: the image id and the layers' diff ids.
    let config_bytes = fetch_small_blob(&reg, &manifest.config)?;
    let config = ImageConfig::parse(&config_bytes)?;
    let id = manifest.config.digest.clone();
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        bail!(
            "the manifest has {} layers but the config lists {} diff ids",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        );
    }
    if opts.platform.is_some()
        && !want.matches(&Platform {
            os: config.os.clone(),
            architecture: config.architecture.clone(),
            variant: config.variant.clone(),
        })
    {
        bail!(
            "image {} is for {}/{}, not the requested platform {want}",
            r.familiar(),
            config.os,
            config.architecture
        );
    }
    let chains = chain_ids(&config.rootfs.diff_ids);

    // The layers, in parallel.
    let result = download_layers(
        store,
        added,
        &reg,
        &progress,
        &manifest.layers,
        &config.rootfs.diff_ids,
        &chains,
    );
    let (downloaded, existing, bytes) = result?;

    // Record the image: blobs first (unless the store has the image
    // whole already), then images.json.
    let whole = store.read_images()?.value().is_some_and(|images| {
        images
            .images
            .get(&id)
            .is_some_and(|rec| rec.layers.iter().all(|l| store.has_layer(&l.chain_id)))
    });
    if !whole {
        store.put_blob(&config_bytes, Some(&id), added)?;
        store.put_blob(&manifest_bytes, Some(&manifest_digest), added)?;
    }
    let mut size = 0;
    let mut layers = Vec::new();
    for (i, l) in manifest.layers.iter().enumerate() {
        size += store.layer_size(&chains[i])?;
        layers.push(LayerRecord {
            digest: l.digest.clone(),
            media_type: l.media_type.clone(),
            size: l.size,
            diff_id: config.rootfs.diff_ids[i].clone(),
            chain_id: chains[i].clone(),
        });
    }
    let repo_digest = format!("{}@{top_digest}", r.name());
    let (saved, up_to_date) = {
        let _lock = store.lock_images()?;
        let mut images = store.read_images()?.value().unwrap_or_default();
        let before = r.tagged().and_then(|t| images.tags.get(&t).cloned());
        if !whole {
            let mut rec = ImageRecord::new(&id, &manifest_digest, manifest_mt, layers, size);
            if let Some(old) = images.images.remove(&id) {
                rec.repo_digests = old.repo_digests;
            }
            images.images.insert(id.clone(), rec);
        }
        let rec = images
            .images
            .get_mut(&id)
            .context("the image's record vanished while it was being pulled")?;
        if !rec.repo_digests.contains(&repo_digest) {
            rec.repo_digests.push(repo_digest);
        }
        if let Some(t) = r.tagged() {
            images.tags.insert(t, id.clone());
        }
        let saved = store.save_images(&images)?;
        (
            saved,
            before.as_deref() == Some(id.as_str()) && downloaded == 0,
        )
    };
    if !saved.ran() {
        trace_say("dry run: nothing was downloaded or stored");
        return Ok(Pulled {
            id,
            digest: top_digest,
            ..Pulled::default()
        });
    }
    progress.line(&format!("Digest: {top_digest}"));
    progress.line(&format!(
        "Status: {} for {}",
        if up_to_date {
            "Image is up to date"
        } else {
            "Downloaded newer image"
        },
        r.familiar()
    ));
    Ok(Pulled {
        id,
        digest: top_digest,
        downloaded_layers: downloaded,
        existing_layers: existing,
        downloaded_bytes: bytes,
        up_to_date,
    })
}

fn trace_say(text: &str) {
    crate::trace::say(Mechanism::Image, text);
}

/// GET a manifest; verify it against `expect` when pinned by digest.
fn fetch_manifest(
    reg: &Registry,
    reference: &str,
    expect: Option<&str>,
) -> Result<(Vec<u8>, Document)> {
    Step::new(
        Mechanism::Image,
        Action::Http,
        format!("GET manifest {}:{reference}", reg.repo),
    )
    .arg(
        "url",
        format!("{}/v2/{}/manifests/{reference}", reg.base, reg.repo),
    )
    .shell(format!(
        "{} -H 'Accept: {}'",
        reg.curl(&format!("manifests/{reference}")),
        super::manifest::OCI_INDEX
    ))
    .why("the manifest lists the image's config and layers by digest")
    .observe(|| {
        let f = reg.get(&format!("manifests/{reference}"), Some(ACCEPT))?;
        let ct = f.content_type.clone();
        let header = f.digest_header.clone();
        let bytes = read_limited(f.body, MAX_DOC).context("read the manifest")?;
        let got = sha256_of(&bytes);
        if let Some(e) = expect
            && got != e
        {
            bail!("manifest content hashes to {got} but {e} was asked for: refusing it");
        }
        if let Some(h) = header
            && expect.is_none()
            && h.starts_with("sha256:")
            && h != got
        {
            bail!("manifest content hashes to {got} but the registry says {h}: refusing it");
        }
        let doc = Document::parse(&bytes, ct.as_deref())?;
        Ok((bytes, doc))
    })
}

fn read_limited(r: impl Read, max: u64) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    r.take(max + 1).read_to_end(&mut v)?;
    if v.len() as u64 > max {
        bail!("document is larger than {max} bytes");
    }
    Ok(v)
}

/// A config blob: small, read to memory, digest checked.
fn fetch_small_blob(reg: &Registry, d: &Descriptor) -> Result<Vec<u8>> {
    Step::new(
        Mechanism::Image,
        Action::Http,
        format!("GET config {}", short(&d.digest)),
    )
    .arg("digest", &d.digest)
    .shell(reg.curl(&format!("blobs/{}", d.digest)))
    .observe(|| {
        let f = reg.get(&format!("blobs/{}", d.digest), None)?;
        let bytes = read_limited(f.body, MAX_DOC).context("read the config")?;
        let got = sha256_of(&bytes);
        if got != d.digest {
            bail!(
                "config blob hashes to {got} but the manifest says {}: refusing it",
                d.digest
            );
        }
        Ok(bytes)
    })
}

/// Download and unpack every missing layer; (downloaded, existing, bytes).
fn download_layers(
    store: &Store,
    added: &Added,
    reg: &Registry,
    progress: &Progress,
    layers: &[Descriptor],
    diff_ids: &[String],
    chains: &[String],
) -> Result<(usize, usize, u64)> {
    let bars: Vec<LayerBar> = layers
        .iter()
        .map(|l| progress.layer(short(&l.digest)))
        .collect();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let errors: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    let downloaded = AtomicUsize::new(0);
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let workers = MAX_CONCURRENT_DOWNLOADS.min(layers.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= layers.len() || failed.load(Ordering::SeqCst) {
                        break;
                    }
                    let layer = (&layers[i], diff_ids[i].as_str(), chains[i].as_str());
                    match fetch_layer(store, added, reg, &bars[i], layer) {
                        Ok(Some(n)) => {
                            downloaded.fetch_add(1, Ordering::SeqCst);
                            bytes.fetch_add(n, Ordering::SeqCst);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            failed.store(true, Ordering::SeqCst);
                            bars[i].done("Failed");
                            if let Ok(mut v) = errors.lock() {
                                v.push(e.context(format!("layer {}", layers[i].digest)));
                            }
                        }
                    }
                }
            });
        }
    });
    // Every worker thread has been joined by the end of the scope.
    if let Some(e) = errors.into_inner().ok().and_then(|mut v| v.pop()) {
        return Err(e);
    }
    let d = downloaded.load(Ordering::SeqCst);
    Ok((d, layers.len() - d, bytes.load(Ordering::SeqCst)))
}

/// One layer: `Ok(None)` if it was already there, else bytes downloaded
/// (none in a plan).
fn fetch_layer(
    store: &Store,
    added: &Added,
    reg: &Registry,
    bar: &LayerBar,
    (layer, diff_id, chain): (&Descriptor, &str, &str),
) -> Result<Option<u64>> {
    let _layer_lock = store.lock_layer(chain)?;
    if store.has_layer(chain) {
        bar.done("Already exists");
        return Ok(None);
    }
    let _blob_lock = store.lock_blob(&layer.digest)?;
    if store.has_blob(&layer.digest) {
        // Downloaded before (e.g. by `load`), not unpacked yet.
        let blob = store.blob_path(&layer.digest);
        let unpacked = extract(store, bar, chain, diff_id, layer.size, || {
            File::open(&blob).with_context(|| format!("open blob {}", layer.digest))
        })?;
        if unpacked.ran() {
            added.layer(chain);
            bar.done("Pull complete");
        }
        return Ok(Some(0));
    }
    let verified = Step::new(
        Mechanism::Image,
        Action::Http,
        format!(
            "download layer {} ({} bytes)",
            short(&layer.digest),
            layer.size
        ),
    )
    .arg("digest", &layer.digest)
    .arg("size", layer.size)
    .shell(format!(
        "{} -o blob && sha256sum blob",
        reg.curl(&format!("blobs/{}", layer.digest))
    ))
    .why("the layer's sha256 is checked while it downloads; a wrong byte and it is refused")
    .apply(|| {
        let mut f = reg.get(&format!("blobs/{}", layer.digest), None)?;
        bar.bytes("Downloading", layer.size);
        let mut w = store.blob_writer()?;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = f
                .body
                .read(&mut buf)
                .context("download: the connection broke")?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n]).context("write the blob")?;
            bar.inc(n as u64);
        }
        bar.status("Verifying Checksum");
        let v = w.verify(Some(&layer.digest), Some(layer.size))?;
        bar.status("Download complete");
        Ok(v)
    })?
    .value();
    let path = verified.as_ref().map(|v| v.path().to_path_buf());
    let unpacked = extract(store, bar, chain, diff_id, layer.size, || {
        let p = path.context("the layer was not downloaded")?;
        File::open(p).context("reopen the downloaded layer")
    })?;
    if unpacked.ran() {
        added.layer(chain);
    }
    let n = verified.as_ref().map(|v| v.size).unwrap_or(0);
    store.commit_blob(&layer.digest, layer.size, verified, added)?;
    if unpacked.ran() {
        bar.done("Pull complete");
    }
    Ok(Some(n))
}

/// Unpack a downloaded layer (`size` compressed bytes, opened by `open`)
/// as chain `chain`, the bar counting what is read.
fn extract(
    store: &Store,
    bar: &LayerBar,
    chain: &str,
    diff_id: &str,
    size: u64,
    open: impl FnOnce() -> Result<File>,
) -> Result<Done<super::unpack::Unpacked>> {
    store.unpack_layer(chain, diff_id, || {
        bar.bytes("Extracting", size);
        Ok(Counting {
            inner: BufReader::new(open()?),
            bar,
        })
    })
}

/// Advances the bar as compressed bytes are read.
struct Counting<'a, R> {
    inner: R,
    bar: &'a LayerBar,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
