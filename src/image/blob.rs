//! Blobs: manifests, configs and compressed layers under
//! `blobs/sha256/<hex>`, each named by the sha256 of its bytes. A blob is
//! written to a temporary file (`.tmp-PID-N`) while its digest is
//! computed, its size checked against its descriptor, fsynced, and renamed
//! to its address only when everything matches: no partial or wrong blob
//! is ever visible, and one a crash left half written is a temporary of a
//! dead process. Writing stops below the free-space reserve
//! ([`super::space`]). Read `sha256sum(1)` and `rename(2)`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::digest::{HashWriter, sha256_of, short};
use super::gc::Added;
use super::space::{Meter, MeteredWriter, Reserve};
use super::store::{Store, unique};
use crate::trace::{Action, Done, Mechanism, Step};

impl Store {
    /// Store small bytes (a manifest, a config) under their digest, unless
    /// the store has them already; a new blob is noted in `added`.
    pub fn put_blob(&self, bytes: &[u8], expected: Option<&str>, added: &Added) -> Result<String> {
        let digest = sha256_of(bytes);
        if let Some(e) = expected
            && e != digest
        {
            bail!("blob content hashes to {digest} but {e} was expected: refusing it");
        }
        self.put_blob_as(bytes, &digest, added)?;
        Ok(digest)
    }

    /// Store `bytes` as blob `digest` (which the caller computed, or
    /// [`super::digest::UNKNOWN`] in a plan of content it did not make),
    /// unless the store has it already; a new blob is noted in `added`.
    pub fn put_blob_as(&self, bytes: &[u8], digest: &str, added: &Added) -> Result<Done<()>> {
        let _lock = self.lock_blob(digest)?;
        if self.has_blob(digest) {
            return Ok(Done::Ran(()));
        }
        let done = self.store_step(digest, bytes.len() as u64).apply(|| {
            let mut w = self.blob_writer()?;
            w.write_all(bytes)?;
            w.commit(Some(digest), None).map(|_| ())
        })?;
        self.stored(digest, &done, added);
        Ok(done)
    }

    /// Store the file at `path` as blob `digest` of `size` bytes (checked
    /// while it is copied), unless the store has it already; a new blob is
    /// noted in `added`. The file is opened only when the step runs.
    pub fn put_file_blob(
        &self,
        path: &Path,
        digest: &str,
        size: u64,
        added: &Added,
    ) -> Result<Done<()>> {
        let _lock = self.lock_blob(digest)?;
        if self.has_blob(digest) {
            return Ok(Done::Ran(()));
        }
        let done = self.store_step(digest, size).apply(|| {
            let mut w = self.blob_writer()?;
            let mut f = File::open(path).with_context(|| format!("open {}", path.display()))?;
            io::copy(&mut f, &mut w).context("copy the layer into the store")?;
            w.commit(Some(digest), Some(size)).map(|_| ())
        })?;
        self.stored(digest, &done, added);
        Ok(done)
    }

    /// Rename a downloaded blob, verified already, to its address; `blob`
    /// is `None` in a plan, which downloaded nothing. The caller holds the
    /// blob's lock.
    pub fn commit_blob(
        &self,
        digest: &str,
        size: u64,
        blob: Option<VerifiedBlob>,
        added: &Added,
    ) -> Result<Done<()>> {
        let done = self.store_step(digest, size).apply(|| {
            blob.context("no verified blob to store")?.commit()?;
            Ok(())
        })?;
        self.stored(digest, &done, added);
        Ok(done)
    }

    /// Note a blob a step stored (to take back if the command fails) or
    /// planned (so the plan finds it later, as the run would).
    fn stored(&self, digest: &str, done: &Done<()>, added: &Added) {
        match done {
            Done::Ran(()) => added.blob(digest),
            Done::Planned => self.plan(&self.blob_path(digest)),
        }
    }

    /// The step that puts blob `digest` at its address.
    fn store_step(&self, digest: &str, size: u64) -> Step {
        let dest = self.blob_path(digest);
        let tmp = self.dir.join("blobs/sha256/.tmp-PID-N");
        Step::new(
            Mechanism::Image,
            Action::Filesystem,
            format!("store blob {}", short(digest)),
        )
        .arg("digest", digest)
        .arg("size", size)
        .shell(format!(
            "sha256sum {0} && mv {0} {1}",
            tmp.display(),
            dest.display()
        ))
        .why("a blob appears at its address only once its sha256 matched")
        .man("rename(2)")
        .detail()
    }

    /// A temporary file that becomes a blob when its digest checks out;
    /// writing stops below the free-space reserve. Call it only inside a
    /// step that stores the blob: it creates the temporary file.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let tmp = self
            .dir
            .join("blobs/sha256")
            .join(format!(".{}", unique("tmp")));
        let meter = Meter::new(Reserve::for_dir(&self.dir)?);
        let f = File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
        Ok(BlobWriter {
            store: self.clone(),
            tmp: Some(tmp),
            w: HashWriter::new(MeteredWriter {
                inner: io::BufWriter::with_capacity(256 * 1024, f),
                meter,
            }),
        })
    }
}

/// A blob being written: hashed as it goes, renamed into place on commit,
/// deleted if dropped uncommitted.
pub struct BlobWriter {
    store: Store,
    tmp: Option<PathBuf>,
    w: HashWriter<MeteredWriter<io::BufWriter<File>>>,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl BlobWriter {
    pub fn written(&self) -> u64 {
        self.w.count
    }

    /// The temporary file (to read back, e.g. to unpack before commit).
    pub fn tmp_path(&self) -> Option<&Path> {
        self.tmp.as_deref()
    }

    /// Verify (digest and size if given) and rename to the blob's address
    /// (inside the step that stores it).
    pub fn commit(self, expected: Option<&str>, size: Option<u64>) -> Result<String> {
        self.verify(expected, size)?.commit()
    }

    /// Verify (digest and size if given) without storing yet: the bytes
    /// can be read back (to unpack a layer) before [`VerifiedBlob::commit`].
    pub fn verify(mut self, expected: Option<&str>, size: Option<u64>) -> Result<VerifiedBlob> {
        self.w.flush().context("flush blob")?;
        let tmp = self.tmp.take().context("blob already committed")?;
        let placeholder = HashWriter::new(self.placeholder()?);
        let w = std::mem::replace(&mut self.w, placeholder);
        let (buf, digest, count) = w.finish();
        let pending = VerifiedBlob {
            store: self.store.clone(),
            tmp: Some(tmp),
            digest: digest.clone(),
            size: count,
        };
        let file = buf
            .inner
            .into_inner()
            .map_err(|e| e.into_error())
            .context("flush blob")?;
        if let Some(n) = size
            && n != count
        {
            bail!("blob is {count} bytes but its descriptor says {n}: refusing it");
        }
        if let Some(e) = expected
            && e != digest
        {
            bail!("blob content hashes to {digest} but {e} was expected: refusing it");
        }
        file.sync_all().context("fsync blob")?;
        Ok(pending)
    }

    /// A writer to nowhere, left in place of the real one.
    fn placeholder(&self) -> Result<MeteredWriter<io::BufWriter<File>>> {
        Ok(MeteredWriter {
            inner: io::BufWriter::new(File::open("/dev/null").context("open /dev/null")?),
            meter: Meter::new(Reserve {
                dir: self.store.dir.clone(),
                bytes: 0,
            }),
        })
    }
}

/// A blob whose bytes matched their digest, not yet at its address;
/// deleted if dropped uncommitted.
pub struct VerifiedBlob {
    store: Store,
    tmp: Option<PathBuf>,
    pub digest: String,
    pub size: u64,
}

impl VerifiedBlob {
    pub fn path(&self) -> &Path {
        self.tmp.as_deref().unwrap_or(Path::new("/nonexistent"))
    }

    /// Rename the blob to its address (inside the step that stores it;
    /// the caller holds the blob's lock). On failure the temporary file is
    /// removed.
    pub fn commit(mut self) -> Result<String> {
        let tmp = self.tmp.take().context("blob already committed")?;
        let dest = self.store.blob_path(&self.digest);
        fs::rename(&tmp, &dest)
            .with_context(|| format!("rename {} to {}", tmp.display(), dest.display()))
            .inspect_err(|_| {
                let _ = fs::remove_file(&tmp);
            })?;
        Ok(self.digest.clone())
    }
}

impl Drop for VerifiedBlob {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = fs::remove_file(tmp);
        }
    }
}
